"""One training loop for every method in the course, plus seeding, device choice and checkpoints.

A method supplies `loss_fn(batch) -> scalar loss`, where `batch` is a tuple of tensors already on the
device (for example `(images, labels)`); `fit` does the rest: shuffled minibatches, the optimiser and
learning-rate schedule, a progress bar, per-epoch history, and an optional callback for metrics.
"""
from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
from torch import nn

from .models import build_encoder

__all__ = [
    "seed_everything",
    "pick_device",
    "set_cpu_threads",
    "minibatches",
    "fit",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "default_checkpoint_dir",
]

CHECKPOINT_FORMAT = 1


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
    if not enabled:
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

    history, step = [], 0
    bar = _progress(range(epochs), progress, desc=desc, unit="epoch")
    for epoch in bar:
        for module in modules:
            module.train()
        started, total, count = time.perf_counter(), torch.zeros((), device=device), 0
        for idx in minibatches(n, batch_size, generator, drop_last):
            for group, base in zip(opt.param_groups, base_lrs):
                group["lr"] = base * lr_factor(step)
            batch = tuple(t[idx.to(t.device)].to(device, non_blocking=True) for t in tensors)
            loss = loss_fn(batch)
            opt.zero_grad(set_to_none=True)
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
        history.append(row)
        if progress and hasattr(bar, "set_postfix"):
            bar.set_postfix({k: round(v, 4) for k, v in row.items() if k not in ("epoch", "lr", "seconds")})
    for module in modules:
        module.eval()
    return pd.DataFrame(history)


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
