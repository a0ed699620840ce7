"""One training loop for every method in the course, plus seeding, device and precision choice, and checkpoints.

A method supplies `loss_fn(batch) -> scalar loss`, where `batch` is a tuple of tensors already on the
device (for example `(images, labels)`); `fit` does the rest: shuffled minibatches, the optimiser and
learning-rate schedule, mixed precision chosen for the GPU (`pick_precision`), a progress bar, per-epoch history,
an optional callback for metrics, and, for long runs, a per-epoch checkpoint to resume from (`checkpoint=path`)
and a timed warm-up that estimates the run's time (`estimate=True`, `estimate_step_seconds`).
"""
from __future__ import annotations

import contextlib
import math
import os
import random
import time
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
from torch import nn

from .models import build_encoder

__all__ = [
    "seed_everything",
    "pick_device",
    "pick_precision",
    "Precision",
    "set_cpu_threads",
    "minibatches",
    "fit",
    "estimate_step_seconds",
    "describe_estimate",
    "device_name",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "default_checkpoint_dir",
]

CHECKPOINT_FORMAT = 1
RESUME_FORMAT = "ssl_helpers.fit/1"


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA); return a CPU `torch.Generator` seeded the same."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def set_cpu_threads(threads: Optional[int] = 1) -> int:
    """Set PyTorch's intra-op CPU threads (None: leave the default); returns the number in use.

    The course's CPU-tier models are tiny, so one thread is nearly as fast as two on an idle 2-core machine,
    and much faster on a busy one: with two threads every small op waits for its partner thread whenever the
    operating system deschedules it (seen here: the same notebook 3-5x slower under load).
    """
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be a positive integer or None, got {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def pick_device(preference: Optional[str] = "auto") -> torch.device:
    """The device to train on: with "auto", CUDA if available, then Apple's MPS, then the CPU."""
    if preference not in (None, "auto"):
        device = torch.device(preference)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={preference!r} was asked for but CUDA is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Precision(NamedTuple):
    """How `fit` runs the forward pass: `dtype` for `torch.autocast` (None: plain float32) and the gradient
    scaler that float16 needs (None otherwise). Unpacks as `dtype, scaler = pick_precision(device)`."""

    dtype: Optional[torch.dtype]
    scaler: Optional[object]

    @property
    def name(self) -> str:
        return "float32" if self.dtype is None else str(self.dtype).replace("torch.", "")

    def autocast(self, device_type: str):
        """The `torch.autocast` context for this precision (a no-op context for float32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device_type, dtype=self.dtype)


def _grad_scaler(device_type: str):
    """A `GradScaler` for `device_type`; a CUDA one is created disabled (a pass-through) where CUDA is absent."""
    enabled = device_type != "cuda" or torch.cuda.is_available()
    scaler_class = getattr(torch.amp, "GradScaler", None)
    if scaler_class is not None:  # torch >= 2.3
        return scaler_class(device_type, enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled and device_type == "cuda")  # pragma: no cover (torch 2.2)


PRECISIONS = ("auto", "float32", "bfloat16", "float16")


def pick_precision(device, mode: str = "auto") -> Precision:
    """The mixed precision to train with on `device`: `Precision(dtype, scaler)`.

    mode "auto" picks by hardware:
      - CUDA with compute capability >= 8.0 (A100, H100, RTX 30xx and later): bfloat16 autocast, no scaler
        (bf16 has float32's exponent range, so gradients do not underflow);
      - older CUDA GPUs (Colab's T4 is 7.5, V100 7.0): float16 autocast with a `GradScaler`, which multiplies
        the loss before `backward` so that small float16 gradients do not flush to zero, and unscales them
        before the optimiser step (skipping a step whose gradients overflowed);
      - the CPU and Apple's MPS: float32 (None, None): no autocast.
    mode "float32", "bfloat16" or "float16" forces that choice (float16 always comes with a scaler).
    """
    if mode not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {mode!r}")
    device = device if isinstance(device, torch.device) else torch.device(device)
    if mode == "auto":
        if device.type != "cuda":
            mode = "float32"
        else:
            major, _ = torch.cuda.get_device_capability(device)
            mode = "bfloat16" if major >= 8 else "float16"
    if mode == "float32":
        return Precision(None, None)
    if mode == "bfloat16":
        return Precision(torch.bfloat16, None)
    return Precision(torch.float16, _grad_scaler(device.type))


def minibatches(n: int, batch_size: int, generator: Optional[torch.Generator] = None,
                drop_last: bool = True) -> list:
    """Shuffled index batches covering range(n): a list of (batch_size,) index tensors.

    With `drop_last`, a final short batch is dropped (contrastive losses want full batches) unless it would
    leave no batch at all.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(batch_size))
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches = batches[:-1]
    return batches


def _progress(iterable, enabled: bool, **options):
    """tqdm.auto's bar (a one-line widget in Jupyter), unless disabled here or by `SSL_PROGRESS=0` in the
    environment (set by scripts/execute_notebooks.py, so the committed outputs hold no half-drawn bars)."""
    if not enabled or os.environ.get("SSL_PROGRESS", "1") == "0":
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **options)


def fit(
    loss_fn: Callable[[tuple], torch.Tensor],
    modules: Union[nn.Module, Sequence[nn.Module]],
    tensors: Sequence[torch.Tensor],
    *,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    optimizer: str = "adamw",
    schedule: str = "cosine",
    warmup_epochs: int = 0,
    seed: int = 0,
    device=None,
    on_epoch_end: Optional[Callable[[int], dict]] = None,
    progress: bool = True,
    desc: str = "training",
    drop_last: bool = True,
    param_groups: Optional[list] = None,
    after_step: Optional[Callable[[], None]] = None,
    generator: Optional[torch.Generator] = None,
    precision: str = "auto",
    checkpoint=None,
    generators: Sequence[torch.Generator] = (),
    estimate: bool = False,
) -> pd.DataFrame:
    """Train `modules` by minimising `loss_fn` over shuffled minibatches of `tensors`.

    tensors: a sequence of tensors with the same first dimension N (e.g. `(images,)` or `(images, labels)`);
        each step passes `tuple(t[idx].to(device) for t in tensors)` to `loss_fn`.
    modules: the networks being trained (put in train mode; their parameters are optimised unless
        `param_groups` is given, e.g. to give an encoder a lower learning rate than a head).
    optimizer: "adamw", "adam" or "sgd" (momentum 0.9); schedule: "cosine" (per step, with linear warm-up
        over `warmup_epochs`) or "constant".
    on_epoch_end(epoch) -> dict of metrics recorded in the history (e.g. an online kNN accuracy).
    after_step() is called after every optimiser step (e.g. a momentum update of a target network).
    generator: the CPU `torch.Generator` that shuffles the minibatches (default: one seeded with `seed`); the
        global random state is left alone.
    precision: "auto" (see `pick_precision`: bf16 on CUDA >= 8.0, float16 + `GradScaler` on older CUDA GPUs such
        as Colab's T4, float32 on the CPU and MPS), or "float32", "bfloat16", "float16". `loss_fn` runs under
        `torch.autocast`; losses should be computed in float32 (e.g. `z.float()` before a softmax).
    checkpoint: a file path. After every epoch the models, optimiser, gradient scaler, the states of `generator`,
        `generators` and the global RNGs, the step counter and the history are written there (atomically); when
        the file exists, training resumes after its last epoch, and the result is the same as an uninterrupted
        run. A file written with other settings (epochs, batch size, lr, ...) is an error, never silently reused.
    generators: other generators the loss draws from (e.g. the augmentation's), saved and restored with the
        checkpoint.
    estimate: before training, time a few steps (`estimate_step_seconds`, then restored as they were) and print
        the estimated time of the run on this device.

    The loss is summed on the device and read once per epoch (no host-device synchronisation per step); a
    loss that is not finite stops training at the end of that epoch with `FloatingPointError`.
    Returns the history: one row per epoch with `epoch`, `loss` (mean over the epoch), `lr`, `seconds` and
    whatever `on_epoch_end` returned. Runs are reproducible for a given `seed` on a given device.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")
    if not tensors:
        raise ValueError("tensors must hold at least one tensor")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(f"all tensors must have the same first dimension, got {[t.shape[0] for t in tensors]}")
    modules = [modules] if isinstance(modules, nn.Module) else list(modules)
    device = pick_device(device) if not isinstance(device, torch.device) else device
    for module in modules:
        module.to(device)
    if generator is None:
        generator = torch.Generator().manual_seed(seed)
    amp = pick_precision(device, precision)

    groups = param_groups or [{"params": [p for m in modules for p in m.parameters() if p.requires_grad]}]
    if optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=weight_decay, nesterov=True)
    else:
        raise ValueError(f"optimizer must be 'adamw', 'adam' or 'sgd', got {optimizer!r}")
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    base_lrs = [group["lr"] for group in opt.param_groups]

    steps_per_epoch = len(minibatches(n, batch_size, torch.Generator().manual_seed(0), drop_last))
    total_steps, warmup_steps = epochs * steps_per_epoch, warmup_epochs * steps_per_epoch

    def lr_factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress_fraction = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * progress_fraction))

    rngs = [generator, *generators]
    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                "optimizer": optimizer, "schedule": schedule, "warmup_epochs": warmup_epochs, "seed": seed,
                "n": n, "drop_last": drop_last, "precision": amp.name,
                "parameters": [sum(p.numel() for p in m.parameters()) for m in modules]}
    history, step, start = [], 0, 0
    if checkpoint is not None and Path(checkpoint).is_file():
        history, step, start = _resume(Path(checkpoint), settings, modules, opt, amp.scaler, rngs, device)
        if progress or estimate:
            print(f"resuming from {checkpoint}: {start} of {epochs} epochs done")
    if estimate and start < epochs:
        seconds = estimate_step_seconds(loss_fn, modules, tensors, batch_size=batch_size, device=device,
                                        precision=precision, generators=rngs)
        print(describe_estimate(seconds, steps_per_epoch, epochs - start, device, amp))

    bar = _progress(range(start, epochs), progress, desc=desc, unit="epoch", initial=start, total=epochs)
    for epoch in bar:
        for module in modules:
            module.train()
        started, total, count = time.perf_counter(), torch.zeros((), device=device), 0
        for idx in minibatches(n, batch_size, generator, drop_last):
            for group, base in zip(opt.param_groups, base_lrs):
                group["lr"] = base * lr_factor(step)
            batch = tuple(t[idx.to(t.device)].to(device, non_blocking=True) for t in tensors)
            with amp.autocast(device.type):
                loss = loss_fn(batch)
            opt.zero_grad(set_to_none=True)
            if amp.scaler is not None:
                amp.scaler.scale(loss).backward()
                amp.scaler.step(opt)
                amp.scaler.update()
            else:
                loss.backward()
                opt.step()
            if after_step is not None:
                after_step()
            total += loss.detach().float() * len(idx)
            count += len(idx)
            step += 1
        mean_loss = total.item() / max(count, 1)  # the one host-device synchronisation of the epoch
        if not math.isfinite(mean_loss):
            raise FloatingPointError(f"the loss became {mean_loss} during epoch {epoch + 1}; "
                                     f"try a lower lr (now {lr})")
        row = {"epoch": epoch + 1, "loss": mean_loss, "lr": opt.param_groups[0]["lr"],
               "seconds": time.perf_counter() - started}
        if on_epoch_end is not None:
            for module in modules:
                module.eval()
            row.update(on_epoch_end(epoch + 1) or {})
        history.append({k: _plain_number(v) for k, v in row.items()})
        if checkpoint is not None:
            _save_resume(Path(checkpoint), settings, modules, opt, amp.scaler, rngs, history, step, epoch + 1)
        if progress and hasattr(bar, "set_postfix"):
            bar.set_postfix({k: round(v, 4) for k, v in row.items() if k not in ("epoch", "lr", "seconds")})
    for module in modules:
        module.eval()
    return pd.DataFrame(history)


def _plain_number(value):
    """NumPy and 0-d tensor scalars as Python numbers (so the history loads with `weights_only=True`)."""
    if isinstance(value, (np.generic, torch.Tensor)) and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def _rng_states(rngs: Sequence[torch.Generator]) -> dict:
    state = {"generators": [g.get_state() for g in rngs], "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_states(rngs: Sequence[torch.Generator], state: dict) -> None:
    for g, saved in zip(rngs, state["generators"]):
        g.set_state(saved)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_resume(path: Path, settings, modules, opt, scaler, rngs, history, step, epoch) -> None:
    """Write the full training state after `epoch` to `path` (a temporary file, then renamed: a session that
    dies while writing leaves the previous checkpoint intact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": RESUME_FORMAT, "settings": settings, "epoch": epoch, "step": step, "history": history,
               "modules": [m.state_dict() for m in modules], "optimizer": opt.state_dict(),
               "scaler": scaler.state_dict() if scaler is not None else None, "rng": _rng_states(rngs)}
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def _resume(path: Path, settings, modules, opt, scaler, rngs, device):
    """Load what `_save_resume` wrote into the models, optimiser, scaler and generators: (history, step, epoch)."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        raise CheckpointError(f"could not read the resume checkpoint {path}: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != RESUME_FORMAT:
        raise CheckpointError(f"{path} is not a resume checkpoint written by ssl_helpers.train.fit")
    saved = payload["settings"]
    if saved != settings:
        changed = {k: (saved.get(k), settings.get(k)) for k in settings if saved.get(k) != settings.get(k)}
        raise CheckpointError(f"{path} was written by a run with other settings (saved, now): {changed}. "
                              f"Delete it to start afresh, or pass another checkpoint path.")
    for module, state in zip(modules, payload["modules"]):
        module.load_state_dict(state)
    opt.load_state_dict(payload["optimizer"])
    if scaler is not None and payload["scaler"] is not None:
        scaler.load_state_dict(payload["scaler"])
    rng = payload["rng"]
    rng["generators"] = [s.cpu() for s in rng["generators"]]
    rng["torch"] = rng["torch"].cpu()
    if "cuda" in rng:
        rng["cuda"] = [s.cpu() for s in rng["cuda"]]
    _set_rng_states(rngs, rng)
    return list(payload["history"]), int(payload["step"]), int(payload["epoch"])


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def estimate_step_seconds(loss_fn: Callable[[tuple], torch.Tensor], modules, tensors: Sequence[torch.Tensor], *,
                          batch_size: int, device=None, precision: str = "auto",
                          generators: Sequence[torch.Generator] = (), steps: int = 5, warmup: int = 2) -> float:
    """Seconds per training step of `loss_fn` on `device`, timed over `steps` steps after `warmup` untimed ones
    (which pay for cuDNN's algorithm search and memory allocation).

    Each step is a full one (forward under the precision's autocast, backward, an optimiser step), on the first
    `batch_size` rows of `tensors`. Afterwards the modules' weights and buffers, the `generators` and the global
    RNG are put back as they were, so the training that follows is the same as without the estimate.
    """
    modules = [modules] if isinstance(modules, nn.Module) else list(modules)
    device = pick_device(device) if not isinstance(device, torch.device) else device
    amp = pick_precision(device, precision)
    saved_modules = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]
    saved_rng, was_training = _rng_states(generators), [m.training for m in modules]
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.0)  # lr 0: a real optimiser step that changes nothing
    batch = tuple(t[:batch_size].to(device) for t in tensors)
    try:
        for module in modules:
            module.train()
        for i in range(warmup + steps):
            if i == warmup:
                _synchronize(device)
                started = time.perf_counter()
            with amp.autocast(device.type):
                loss = loss_fn(batch)
            opt.zero_grad(set_to_none=True)
            (amp.scaler.scale(loss) if amp.scaler is not None else loss).backward()
            opt.step()
        _synchronize(device)
        seconds = (time.perf_counter() - started) / steps
    finally:
        for module, state, training in zip(modules, saved_modules, was_training):
            module.load_state_dict(state)
            module.zero_grad(set_to_none=True)
            module.train(training)
        _set_rng_states(generators, saved_rng)
    return seconds


def device_name(device: torch.device) -> str:
    """A readable name for a device: the GPU's model for CUDA (e.g. "Tesla T4"), else its type."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def describe_estimate(step_seconds: float, steps_per_epoch: int, epochs: int, device: torch.device,
                      precision: Optional[Precision] = None) -> str:
    """One line: the measured seconds per step and the estimated time of `epochs` epochs on `device`."""
    epoch_seconds = step_seconds * steps_per_epoch
    total = epoch_seconds * epochs
    what = f"{device_name(device)}, {precision.name}" if precision is not None else device_name(device)
    return (f"time estimate on {what}: {1000 * step_seconds:.0f} ms/step x {steps_per_epoch} steps = "
            f"{epoch_seconds:.1f} s/epoch; {epochs} epochs ~ {total / 60:.1f} min "
            f"(timed warm-up steps; per-epoch evaluation not included)")


# ----------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or was written for a different model."""


def default_checkpoint_dir() -> Path:
    """Where notebooks save and find encoders: `$SSL_CHECKPOINTS` if set, else `./checkpoints`."""
    return Path(os.environ.get("SSL_CHECKPOINTS", "checkpoints"))


def save_checkpoint(path, encoder: nn.Module, *, method: str = "", metrics: Optional[dict] = None,
                    extra: Optional[dict] = None) -> Path:
    """Save an encoder's weights with what is needed to rebuild and judge it.

    Stored: `format`, `config` (the encoder's `config`, for `build_encoder`), `method` (what taught it),
    `metrics`, `extra` (anything else, e.g. training settings), `state_dict`.
    """
    config = getattr(encoder, "config", None)
    if not isinstance(config, dict):
        raise ValueError("encoder must carry a `config` dict (as every ssl_helpers encoder does)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    torch.save({"format": CHECKPOINT_FORMAT, "config": dict(config), "method": method,
                "metrics": dict(metrics or {}), "extra": dict(extra or {}), "state_dict": state}, path)
    return path


def load_checkpoint(path, expected_config: Optional[dict] = None, device="cpu"):
    """Rebuild an encoder from a checkpoint: returns `(encoder, info)`, encoder in eval mode.

    `info` holds `config`, `method`, `metrics` and `extra`. With `expected_config`, a checkpoint written
    for another config raises `CheckpointError` naming both; so does one whose weights do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train the model first (or check the path)")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        raise CheckpointError(f"could not read the checkpoint {path}: {error}") from error
    if not isinstance(payload, dict) or "config" not in payload or "state_dict" not in payload:
        raise CheckpointError(f"{path} is not an ssl_helpers checkpoint (no 'config' and 'state_dict')")
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {payload.get('format')!r}; this version of "
                              f"ssl_helpers reads format {CHECKPOINT_FORMAT}. Re-train to write a new one.")
    config = payload["config"]
    if expected_config is not None and dict(expected_config) != dict(config):
        raise CheckpointError(f"{path} holds an encoder with config {config}, but {dict(expected_config)} "
                              f"was expected")
    try:
        encoder = build_encoder(config)
        encoder.load_state_dict(payload["state_dict"])
    except (RuntimeError, ValueError, TypeError) as error:
        raise CheckpointError(f"the weights in {path} do not fit the model built from its config {config}: "
                              f"{str(error).splitlines()[0]}") from error
    info = {key: payload.get(key) for key in ("config", "method", "metrics", "extra")}
    return encoder.to(device).eval(), info
