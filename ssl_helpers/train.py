"""Every training in the course runs through one `lightning.Trainer` (`make_trainer`), set up here once.

- `train_module(module, tensors, ...)`: train any LightningModule (a registered method is one: see
  `ssl_helpers.methods`) on shuffled minibatches of in-memory tensors: precision by device (`pick_precision`),
  an epoch progress bar, a per-epoch history (and a `CSVLogger` file when there is a run folder), per-epoch
  checkpoints and resume (`checkpoint=folder`, Lightning's `ckpt_path="last"`), the time estimate, DDP.
- `fit(loss_fn, modules, tensors, ...)`: the same for a loss that is not a method (fine-tuning, baselines):
  a `LossModule` wraps it. `Schedule`: the optimiser and the per-step learning-rate schedule of both.
- seeding, device choice, CPU threads; encoder checkpoints (`save_checkpoint`, `load_checkpoint`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import time
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence, Union

import numpy as np
import pandas as pd
import lightning as L
import torch
from lightning.pytorch.callbacks import ProgressBar
from torch import nn

from . import config
from .models import build_encoder

__all__ = [
    "seed_everything",
    "pick_device",
    "pick_precision",
    "Precision",
    "set_cpu_threads",
    "minibatches",
    "batch_loader",
    "Schedule",
    "LossModule",
    "RunState",
    "make_trainer",
    "quiet_lightning",
    "process_rank",
    "train_module",
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


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA); return a CPU `torch.Generator` seeded the same."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def set_cpu_threads(threads: Optional[int] = None) -> int:
    """Set PyTorch's intra-op CPU threads; returns the number in use. The course's one thread policy:

    - Notebooks (interactive, usually on an idle machine) call `set_cpu_threads()`: PyTorch's default count (every
      core) is left as it is. On an idle 2-core machine two threads train the course's small models about 1.5x
      faster than one (measured: SimCLR at batch 256, 2 epochs in 0.6 s against 1.0 s; BYOL at batch 64, 1.0 s
      against 1.5 s). On a busy shared machine, set `SSL_THREADS=1` (see `config.settings`) or call
      `set_cpu_threads(1)`: there every small op waits for its partner thread whenever the operating system
      deschedules it (measured under load: 10 SimCLR epochs took 14 s with one thread and 115 s with two).
    - One exception: notebook 05 calls `set_cpu_threads(1)`, because its committed results were computed on one
      thread and a thread count changes float sums, and so its trained embeddings; it moves to the default count
      when it is next re-executed for new results.
    - Tests, benchmarks and timing scripts pin one thread explicitly (`set_cpu_threads(1)` or
      `torch.set_num_threads(1)`), so that they run alike on a busy machine and their timings compare.
      The exercises' checks and the explorers' redraws run their few tiny ops on one thread and put the count
      back afterwards.

    threads: a positive number to pin; None (the default): `SSL_THREADS` if it is set, else leave PyTorch's count.
    """
    if threads is None:
        threads = config.settings().threads
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

    @property
    def lightning(self) -> str:
        """The same choice in `lightning.Trainer(precision=...)`'s words."""
        return {None: "32-true", torch.bfloat16: "bf16-mixed", torch.float16: "16-mixed"}[self.dtype]

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


# ----------------------------------------------------------------------------------------------------
# Data: whole-batch indexing of in-memory tensors (no per-image collation)
# ----------------------------------------------------------------------------------------------------


class IndexBatches(torch.utils.data.Sampler):
    """A new shuffle per epoch from `generator`: yields the (batch_size,) index tensors of `minibatches`.

    The generator's state is the sampler's only state: `RunState` saves and restores it with a checkpoint.
    In a DDP run each process takes every `world`-th batch of the same shuffle (ranks see disjoint batches).
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, drop_last: bool = True,
                 rank: int = 0, world: int = 1):
        self.n, self.batch_size, self.generator, self.drop_last = n, batch_size, generator, drop_last
        self.rank, self.world = rank, world

    def _count(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        count = full + (1 if rest and (not self.drop_last or full == 0) else 0)
        return count // self.world if self.world > 1 else count

    def __len__(self) -> int:
        return self._count()

    def __iter__(self):
        batches = minibatches(self.n, self.batch_size, self.generator, self.drop_last)
        if self.world > 1:
            batches = batches[self.rank:len(batches) - len(batches) % self.world:self.world]
        return iter(batches)


class TensorBatches(torch.utils.data.Dataset):
    """`dataset[index_tensor]` -> the tuple of rows `t[index]` of every tensor (a whole batch in one indexing)."""

    def __init__(self, tensors: Sequence[torch.Tensor]):
        self.tensors = tuple(tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)


def batch_loader(tensors: Sequence[torch.Tensor], batch_size: int, generator: torch.Generator,
                 drop_last: bool = True, rank: int = 0, world: int = 1) -> torch.utils.data.DataLoader:
    """A `DataLoader` over in-memory tensors: shuffled batches drawn from `generator`, one indexing per batch.

    It never touches the global RNG (the loader's own seed comes from a private generator)."""
    if not tensors:
        raise ValueError("tensors must hold at least one tensor")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(f"all tensors must have the same first dimension, got {[t.shape[0] for t in tensors]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    sampler = IndexBatches(n, batch_size, generator, drop_last, rank, world)
    return torch.utils.data.DataLoader(TensorBatches(tensors), sampler=sampler, batch_size=None,
                                       generator=torch.Generator().manual_seed(0))


# ----------------------------------------------------------------------------------------------------
# Optimiser and schedule (shared by every LightningModule of the course)
# ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Schedule:
    """How a run optimises: `optimizer` ("adamw", "adam" or "sgd" with Nesterov momentum 0.9), base `lr`,
    `weight_decay`, and the per-step learning-rate factor: linear warm-up over `warmup_epochs` epochs plus
    `warmup_steps` steps (short runs on a few labels count in steps), then
    "cosine" (0.5 (1 + cos(pi t)), t the fraction of the remaining steps done) or "constant"."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    schedule: str = "cosine"
    warmup_epochs: int = 0
    warmup_steps: int = 0

    def __post_init__(self):
        if self.optimizer not in ("adamw", "adam", "sgd"):
            raise ValueError(f"optimizer must be 'adamw', 'adam' or 'sgd', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr}")

    def configure(self, groups, total_steps: int, steps_per_epoch: int) -> dict:
        """Lightning's `configure_optimizers` answer for parameter `groups` (a list of params or of dicts)."""
        options = dict(lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "adamw":
            opt = torch.optim.AdamW(groups, **options)
        elif self.optimizer == "adam":
            opt = torch.optim.Adam(groups, **options)
        else:
            opt = torch.optim.SGD(groups, momentum=0.9, nesterov=True, **options)
        warmup_steps = self.warmup_epochs * steps_per_epoch + self.warmup_steps
        constant = self.schedule == "constant"

        def factor(step: int) -> float:
            if step < warmup_steps:
                return (step + 1) / warmup_steps
            if constant:
                return 1.0
            done = (step - warmup_steps) / max(1, total_steps - warmup_steps)
            return 0.5 * (1.0 + math.cos(math.pi * done))

        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def run_steps(module) -> tuple:
    """(total optimiser steps, steps per epoch) of the run `module` is being trained in."""
    trainer = module.trainer
    total = int(trainer.estimated_stepping_batches)
    return total, max(1, total // max(1, trainer.max_epochs))


class LossModule(L.LightningModule):
    """The course's generic LightningModule: train `modules` by minimising `loss_fn(batch)` (see `fit`)."""

    def __init__(self, loss_fn: Callable[[tuple], torch.Tensor], modules: Sequence[nn.Module], schedule: Schedule,
                 param_groups: Optional[list] = None, after_step: Optional[Callable[[], None]] = None):
        super().__init__()
        self.loss_fn, self.schedule, self.groups, self.after_step = loss_fn, schedule, param_groups, after_step
        self.parts = nn.ModuleList(modules)

    def training_step(self, batch, batch_idx):
        return self.loss_fn(batch)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.after_step is not None:
            self.after_step()

    def configure_optimizers(self):
        groups = self.groups or [p for p in self.parameters() if p.requires_grad]
        return self.schedule.configure(groups, *run_steps(self))


# ----------------------------------------------------------------------------------------------------
# Callbacks: the run's state and history, an epoch progress bar, the time estimate
# ----------------------------------------------------------------------------------------------------


class RunState(L.Callback):
    """The run's history (one row per epoch: epoch, loss, lr, seconds, and `on_epoch_end`'s metrics) and its
    random generators, saved in every checkpoint and restored on resume, so that a resumed run is the same as an
    uninterrupted one. `settings` are checked on resume: a checkpoint of a run with other settings is an error.
    The loss is summed on the device and read once per epoch (no host-device synchronisation per step); a loss
    that is not finite stops training at the end of that epoch with `FloatingPointError`."""

    def __init__(self, generators: Sequence[torch.Generator], settings: dict,
                 on_epoch_end: Optional[Callable[[int], dict]] = None):
        self.generators, self.settings, self.on_epoch_end = list(generators), settings, on_epoch_end
        self.history: list = []
        self._total, self._count, self._started = None, 0, 0.0

    def on_train_start(self, trainer, pl_module):
        if trainer.logger is not None:  # a resumed run: the CSV file gets the restored epochs first
            for row in self.history:
                trainer.logger.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"])

    def on_train_epoch_start(self, trainer, pl_module):
        self._total, self._count, self._started = torch.zeros((), device=pl_module.device), 0, time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        rows = len(batch[0]) if isinstance(batch, (tuple, list)) else len(batch)
        self._total += loss.detach().float() * rows
        self._count += rows

    def on_train_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch + 1
        mean_loss = self._total.item() / max(self._count, 1)  # the one host-device synchronisation of the epoch
        if not math.isfinite(mean_loss):
            raise FloatingPointError(f"the loss became {mean_loss} during epoch {epoch}; try a lower lr "
                                     f"(now {self.settings.get('lr')})")
        row = {"epoch": epoch, "loss": mean_loss, "lr": trainer.optimizers[0].param_groups[0]["lr"],
               "seconds": time.perf_counter() - self._started}
        if self.on_epoch_end is not None:
            was_training = pl_module.training
            pl_module.eval()
            row.update(self.on_epoch_end(epoch) or {})
            pl_module.train(was_training)
        row = {k: _plain_number(v) for k, v in row.items()}
        self.history.append(row)
        if trainer.logger is not None:
            trainer.logger.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch)

    def state_dict(self) -> dict:
        return {"settings": self.settings, "history": list(self.history),
                "generators": [g.get_state() for g in self.generators], "rng": _rng_states([])}

    def load_state_dict(self, state: dict) -> None:
        saved = state["settings"]
        if saved != self.settings:
            changed = {k: (saved.get(k), self.settings.get(k)) for k in self.settings
                       if saved.get(k) != self.settings.get(k)}
            raise CheckpointError(f"the checkpoint was written by a run with other settings (saved, now): "
                                  f"{changed}. Delete its folder to start afresh, or pass another checkpoint.")
        self.history = list(state["history"])
        for generator, saved_state in zip(self.generators, state["generators"]):
            generator.set_state(saved_state.cpu())
        rng = state["rng"]
        _set_rng_states([], {"generators": [], "torch": rng["torch"].cpu(),
                             **({"cuda": [s.cpu() for s in rng["cuda"]]} if "cuda" in rng else {})})


class EpochBar(ProgressBar):
    """One tqdm bar over the epochs (a one-line widget in Jupyter), the last epoch's loss beside it."""

    def __init__(self, desc: str):
        super().__init__()
        self.desc, self.bar, self._enabled = desc, None, True

    def disable(self):
        self._enabled = False

    def enable(self):
        self._enabled = True

    def on_train_start(self, trainer, pl_module):
        if self._enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=trainer.max_epochs, initial=trainer.current_epoch, desc=self.desc, unit="epoch")

    def on_train_epoch_end(self, trainer, pl_module):
        if self.bar is not None:
            state = next((c for c in trainer.callbacks if isinstance(c, RunState)), None)
            if state is not None and state.history:
                self.bar.set_postfix({k: round(v, 4) for k, v in state.history[-1].items()
                                      if k not in ("epoch", "lr", "seconds") and isinstance(v, float)})
            self.bar.update(1)

    def on_train_end(self, trainer, pl_module):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TimeEstimate(L.Callback):
    """Times optimiser steps 3 to 7 of the run on this device and prints the estimated time of the whole run
    (per-epoch evaluation not included), before most of it has been spent."""

    def __init__(self, precision: Precision, warmup: int = 2, steps: int = 5):
        self.precision, self.warmup, self.steps, self._step, self._started = precision, warmup, steps, 0, None
        self._epochs = 0

    def on_train_start(self, trainer, pl_module):
        self._epochs = trainer.max_epochs - trainer.current_epoch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._step == self.warmup:
            _synchronize(pl_module.device)
            self._started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._step += 1
        if self._started is not None and self._step == self.warmup + self.steps:
            _synchronize(pl_module.device)
            seconds = (time.perf_counter() - self._started) / self.steps
            _, per_epoch = run_steps(pl_module)
            print(describe_estimate(seconds, per_epoch, self._epochs, pl_module.device, self.precision), flush=True)


LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")
"""The loggers `quiet_lightning` turns down to WARNING while a Trainer is built or runs."""
QUIET_WARNINGS = (
    ".*does not have many workers.*",
    ".*number of training batches.*is smaller than the logging.*",
    ".*LOCAL_RANK.*",
    ".*exists and is not empty.*",
    ".*GPU available but not used.*",
    ".*`isinstance\\(treespec, LeafSpec\\)` is deprecated.*",
)
"""The messages of the warnings `quiet_lightning` ignores (regular expressions, as `warnings.filterwarnings`)."""


@contextlib.contextmanager
def quiet_lightning():
    """Inside the block, Lightning's start-up lines (GPU/TPU available, the model summary) and its hints for large
    datasets (more DataLoader workers, a log interval) are not shown: they say nothing to a student training a tiny
    model in memory. The course enters it around building a Trainer (`make_trainer`) and running it
    (`train_module`). Afterwards the warning filters and the Lightning loggers' levels are as they were, so
    nothing else in the kernel loses a warning or a log line."""
    import logging
    import warnings

    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for message in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        try:
            for logger in loggers:
                logger.setLevel(logging.WARNING)
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def make_trainer(*, epochs: int, device: torch.device, precision: str = "auto", run_dir=None,
                 callbacks: Sequence = (), progress: bool = True, desc: str = "training", estimate: bool = False,
                 devices=None, strategy: str = "auto", num_nodes: int = 1,
                 batches_per_epoch: Optional[int] = None) -> L.Trainer:
    """The course's one `lightning.Trainer`, set up once for every training (pre-training, fine-tuning, baselines).

    precision: `pick_precision` decides ("auto": bf16 on CUDA >= 8.0, float16 with a gradient scaler below,
        float32 on the CPU and MPS) and Lightning applies it ("bf16-mixed", "16-mixed", "32-true").
    run_dir: a folder; then every epoch is saved there (`ModelCheckpoint`, `last.ckpt`) and its history written by
        a `CSVLogger` (`run_dir/csv/version_0/metrics.csv`); without it, nothing is written to disk.
    devices, strategy, num_nodes: several GPUs or nodes, e.g. `devices=4, strategy="ddp"` (launch with `torchrun`
        or SLURM as Lightning documents); default: the one `device`.
    progress: one bar over the epochs (also off with `SSL_PROGRESS=0` in the environment: `config.settings`);
    estimate: print the estimated time of the run from its first timed steps.
    batches_per_epoch: at most this many batches per epoch (Lightning's `limit_train_batches`); None: every batch.
    Lightning's start-up lines are not shown while the Trainer is built (`quiet_lightning`); run it inside
    `with quiet_lightning():` for the same during `fit`, as `train_module` does.
    """
    accelerator = {"cuda": "gpu", "mps": "mps"}.get(device.type, "cpu")
    if devices is None:
        devices = [device.index] if device.type == "cuda" and device.index is not None else 1
    callbacks = list(callbacks)
    show_bar = progress and config.settings().progress
    if show_bar:
        callbacks.append(EpochBar(desc))
    if estimate:
        callbacks.append(TimeEstimate(pick_precision(device, precision)))
    logger = False
    if run_dir is not None:
        from lightning.pytorch.callbacks import ModelCheckpoint
        from lightning.pytorch.loggers import CSVLogger

        callbacks.append(ModelCheckpoint(dirpath=Path(run_dir), filename="last", save_top_k=1, every_n_epochs=1,
                                         enable_version_counter=False))
        logger = CSVLogger(Path(run_dir), name="csv", version=0)
    with quiet_lightning():
        return L.Trainer(max_epochs=epochs, accelerator=accelerator, devices=devices, strategy=strategy,
                         num_nodes=num_nodes, precision=pick_precision(device, precision).lightning,
                         callbacks=callbacks, logger=logger, enable_checkpointing=run_dir is not None,
                         enable_progress_bar=show_bar, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_train_batches=batches_per_epoch, limit_val_batches=0, log_every_n_steps=1,
                         use_distributed_sampler=False,
                         deterministic=False)


def process_rank(devices_per_node: int = 1) -> int:
    """This process's global rank in a multi-process run: torchrun's / SLURM's `RANK`, else (processes launched by
    Lightning's own DDP launcher) NODE_RANK x devices per node + LOCAL_RANK; 0 in a single process."""
    if "RANK" in os.environ:
        return int(os.environ["RANK"])
    return int(os.environ.get("NODE_RANK", 0)) * devices_per_node + int(os.environ.get("LOCAL_RANK", 0))


def train_module(module: L.LightningModule, tensors: Sequence[torch.Tensor], *, epochs: int, batch_size: int,
                 seed: int = 0, device=None, precision: str = "auto", checkpoint=None,
                 generators: Sequence[torch.Generator] = (), settings: Optional[dict] = None,
                 on_epoch_end: Optional[Callable[[int], dict]] = None, progress: bool = True,
                 desc: str = "training", drop_last: bool = True, estimate: bool = False, devices=None,
                 strategy: str = "auto", num_nodes: int = 1,
                 batches_per_epoch: Optional[int] = None) -> pd.DataFrame:
    """Train a LightningModule on shuffled minibatches of in-memory `tensors` with `make_trainer`'s Trainer.

    tensors: tensors with the same first dimension N, e.g. `(images,)`; each step gets the batch as a tuple.
    seed: seeds the shuffling generator; the global RNG is forked for the run (whatever the run draws from it,
        e.g. dropout, comes from `seed` too) and left as it was afterwards.
    checkpoint: a run folder (see `make_trainer`): saved every epoch; when it already holds `last.ckpt` the run
        resumes after its last saved epoch (Lightning's `ckpt_path="last"`), with the history, the shuffling and
        every generator in `generators` restored, so the result equals an uninterrupted run. A checkpoint of a
        run with other `settings` is an error, never silently reused.
    Returns the history: one row per epoch with `epoch`, `loss` (mean over the epoch), `lr`, `seconds` and
    whatever `on_epoch_end(epoch)` returned (called with the module in eval mode).
    batches_per_epoch: at most this many batches per epoch (None: all; `pretrain` caps it under `SSL_SMOKE=1`).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")
    device = pick_device(device) if not isinstance(device, torch.device) else device
    shuffle = torch.Generator().manual_seed(seed)
    per_node = devices if isinstance(devices, int) else 1
    world = per_node * num_nodes
    rank = process_rank(per_node) if world > 1 else 0
    loader = batch_loader(tensors, batch_size, shuffle, drop_last, rank, world)
    settings = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "n": int(tensors[0].shape[0]),
                "drop_last": drop_last, "precision": pick_precision(device, precision).name, **(settings or {})}
    state = RunState([shuffle, *generators], settings, on_epoch_end)
    run_dir = Path(checkpoint) if checkpoint is not None else None
    if run_dir is not None and run_dir.suffix:
        raise ValueError(f"checkpoint must be a folder for the run's checkpoints, got the file name {run_dir}")
    resume = run_dir is not None and (run_dir / "last.ckpt").is_file()
    trainer = make_trainer(epochs=epochs, device=device, precision=precision, run_dir=run_dir, callbacks=[state],
                           progress=progress, desc=desc, estimate=estimate, devices=devices, strategy=strategy,
                           num_nodes=num_nodes, batches_per_epoch=batches_per_epoch)
    if resume and (progress or estimate):
        print(f"resuming from {run_dir / 'last.ckpt'}")
    devices_to_fork = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices_to_fork, device_type=device.type if devices_to_fork else "cuda"):
        torch.manual_seed(seed)
        module.train()  # Lightning keeps each module's mode: a loaded (eval-mode) encoder must train in train mode
        with quiet_lightning():
            trainer.fit(module, loader, ckpt_path="last" if resume else None)
    module.eval()
    return pd.DataFrame(state.history)


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
    warmup_steps: int = 0,
    seed: int = 0,
    device=None,
    on_epoch_end: Optional[Callable[[int], dict]] = None,
    progress: bool = True,
    desc: str = "training",
    drop_last: bool = True,
    param_groups: Optional[list] = None,
    after_step: Optional[Callable[[], None]] = None,
    precision: str = "auto",
    checkpoint=None,
    generators: Sequence[torch.Generator] = (),
    estimate: bool = False,
) -> pd.DataFrame:
    """Train `modules` by minimising `loss_fn(batch)` with the course's Trainer (`train_module` on a `LossModule`).

    For losses that are not a registered method (fine-tuning, baselines, notebook 05's toy encoders); a method is
    its own LightningModule and is trained with `ssl_helpers.methods.pretrain`.
    tensors: tensors with the same first dimension N; each step passes `tuple(t[idx] for t in tensors)` (on the
        training device) to `loss_fn`. modules: the networks trained (their parameters, or `param_groups`, e.g. a
        lower learning rate for an encoder than for a head). optimizer, lr, weight_decay, schedule, warmup_epochs,
        warmup_steps: see `Schedule`. after_step() runs after every optimiser step. generators: other generators the
        loss draws from, saved and restored with a checkpoint. precision, checkpoint, estimate, seed: see `train_module`.
    Returns the per-epoch history (a DataFrame).
    """
    modules = [modules] if isinstance(modules, nn.Module) else list(modules)
    schedule_ = Schedule(lr=lr, weight_decay=weight_decay, optimizer=optimizer, schedule=schedule,
                         warmup_epochs=warmup_epochs, warmup_steps=warmup_steps)
    module = LossModule(loss_fn, modules, schedule_, param_groups, after_step)
    settings = {**dataclasses.asdict(schedule_),
                "parameters": [sum(p.numel() for p in m.parameters()) for m in modules]}
    return train_module(module, tensors, epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                        precision=precision, checkpoint=checkpoint, generators=generators, settings=settings,
                        on_epoch_end=on_epoch_end, progress=progress, desc=desc, drop_last=drop_last,
                        estimate=estimate)


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
    name = precision if isinstance(precision, str) or precision is None else precision.name
    what = f"{device_name(device)}, {name}" if name is not None else device_name(device)
    return (f"time estimate on {what}: {1000 * step_seconds:.0f} ms/step x {steps_per_epoch} steps = "
            f"{epoch_seconds:.1f} s/epoch; {epochs} epochs ~ {total / 60:.1f} min "
            f"(timed on the run's first steps; per-epoch evaluation not included)")


# ----------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or was written for a different model."""


def default_checkpoint_dir() -> Path:
    """Where notebooks save and find encoders: `$SSL_CHECKPOINTS` if set, else `./checkpoints` (`config.settings`)."""
    return config.settings().checkpoint_dir


def _cast_floating(value, dtype: torch.dtype):
    """`value` with every floating-point tensor in it (in dicts, lists and tuples too) cast to `dtype`, detached and
    on the CPU; integer tensors (BatchNorm's `num_batches_tracked`, a queue's pointer) and anything else unchanged."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, dict):
        return {k: _cast_floating(v, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_floating(v, dtype) for v in value)
    return value


STORED_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def save_checkpoint(path, encoder: nn.Module, *, method: str = "", metrics: Optional[dict] = None,
                    extra: Optional[dict] = None, dtype: Optional[torch.dtype] = None) -> Path:
    """Save an encoder's weights with what is needed to rebuild and judge it.

    Stored: `format`, `config` (the encoder's `config`, for `build_encoder`), `method` (what taught it),
    `metrics`, `extra` (anything else, e.g. training settings), `state_dict`.

    dtype: None (the default) stores the tensors as they are. `torch.float16` (or `torch.bfloat16`) stores every
    floating-point tensor, the encoder's and any in `extra` (a method's `head_state_dict`), in that type, half the
    bytes on disk: the package's shipped checkpoints are written so. Integer tensors stay as they are, and the
    payload records `dtype`, so `load_checkpoint` casts them back to float32.
    The file is written beside `path` and renamed into place, so a reader never sees half of it.
    """
    config = getattr(encoder, "config", None)
    if not isinstance(config, dict):
        raise ValueError("encoder must carry a `config` dict (as every ssl_helpers encoder does)")
    if dtype is not None and dtype not in STORED_DTYPES.values():
        raise ValueError(f"dtype must be None or one of {sorted(STORED_DTYPES)} (as torch dtypes), got {dtype}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    extra = dict(extra or {})
    payload = {"format": CHECKPOINT_FORMAT, "config": dict(config), "method": method,
               "metrics": dict(metrics or {}), "extra": extra, "state_dict": state}
    if dtype is not None:
        payload.update(state_dict=_cast_floating(state, dtype), extra=_cast_floating(extra, dtype),
                       dtype=str(dtype).replace("torch.", ""))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:  # written whole, then renamed: a reader never sees half a file
        torch.save(payload, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def load_checkpoint(path, expected_config: Optional[dict] = None, device="cpu"):
    """Rebuild an encoder from a checkpoint: returns `(encoder, info)`, encoder in eval mode.

    `info` holds `config`, `method`, `metrics` and `extra`. With `expected_config`, a checkpoint written
    for another config raises `CheckpointError` naming both; so does one whose weights do not fit.
    A checkpoint saved with `dtype=torch.float16` comes back in float32: the encoder's floating tensors in its
    own dtype, those in `extra` (a head's state dict) in float32; integer buffers as stored.
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
    stored = payload.get("dtype")
    if stored is not None and stored not in STORED_DTYPES:
        raise CheckpointError(f"{path} stores its weights as {stored!r}; expected one of {sorted(STORED_DTYPES)}")
    try:
        encoder = build_encoder(config)
        own = encoder.state_dict()
        state = payload["state_dict"]
        if stored is not None:  # stored in a narrower type: each floating tensor back to the module's own dtype
            state = {k: v.to(own[k].dtype) if k in own and v.is_floating_point() and own[k].is_floating_point()
                     else v for k, v in state.items()}
            payload["extra"] = _cast_floating(payload.get("extra") or {}, torch.float32)
        encoder.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError) as error:
        raise CheckpointError(f"the weights in {path} do not fit the model built from its config {config}: "
                              f"{str(error).splitlines()[0]}") from error
    info = {key: payload.get(key) for key in ("config", "method", "metrics", "extra")}
    return encoder.to(device).eval(), info
