"""Pre-train any pretext task with the course's one training loop, save it, and load it back.

    task = MaskedTask(mask_ratio=0.5, patch_size=4)
    encoder, history = pretrain(task, train.images, epochs=8)   # task.head is trained alongside
    save_pretext(task, encoder)                                  # -> checkpoints/masked.pt
    task, encoder, info = load_or_pretrain("masked")             # later: load it, or train a quick one
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import pandas as pd
import torch
from torch import nn

from ..evaluate import embed_split, label_efficiency, mean_accuracy, pixel_features
from ..models import SmallCNN, build_encoder
from ..train import CheckpointError, default_checkpoint_dir, fit, load_checkpoint, pick_device, save_checkpoint
from ..train import seed_everything
from .base import PretextTask

__all__ = ["TASKS", "make_task", "pretrain", "save_pretext", "load_pretext", "load_or_pretrain", "QUICK_EPOCHS",
           "score_against_baselines", "compare_to_baselines"]

QUICK_EPOCHS = 4
"""Epochs of the quick pre-training a later notebook runs when a checkpoint is missing."""


def _registry():
    from .augmented import JigsawTask, RotationTask
    from .masked import MaskedTask
    from .obscured import ColorizationTask, InpaintingTask
    from .perturbed import DenoisingTask

    return {task.name: task for task in (MaskedTask, RotationTask, JigsawTask, InpaintingTask,
                                         ColorizationTask, DenoisingTask)}


TASKS = _registry()
"""Every pretext task by name: masked, rotation, jigsaw, inpainting, colorization, denoising."""


def make_task(name: Union[str, PretextTask], **options) -> PretextTask:
    """A task by name with its options, e.g. `make_task("masked", mask_ratio=0.75)`; a task passes through."""
    if isinstance(name, PretextTask):
        if options:
            raise ValueError("options can only be given with a task name, not with a task object")
        return name
    if name not in TASKS:
        raise ValueError(f"unknown pretext task {name!r}; expected one of {sorted(TASKS)}")
    return TASKS[name](**options)


def pretrain(task: Union[str, PretextTask], train_images, *, encoder: Optional[nn.Module] = None,
             epochs: int = 8, batch_size: int = 128, lr: float = 2e-3, seed: int = 0, device=None,
             progress: bool = True, on_epoch_end=None, width: int = 32):
    """Train `encoder` (default: a fresh `SmallCNN(width=width)`) and the task's head on `task` with `fit`.

    train_images: (N, C, H, W) tensor or an `ImageSet` (its labels are not used). Each step corrupts a
    minibatch with a generator seeded by `seed` (so runs repeat), then minimises `task.loss`.
    Returns `(encoder, history)`; the trained head stays in `task.head` (for showing predictions).
    """
    task = make_task(task)
    images = getattr(train_images, "images", train_images)
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError("train_images must be an ImageSet or a tensor of shape (N, C, H, W)")
    device = pick_device(device) if not isinstance(device, torch.device) else device
    seed_everything(seed)
    if encoder is None:
        encoder = SmallCNN(in_channels=images.shape[1], width=width)
    encoder.to(device)
    task.build_head(encoder, tuple(images.shape[1:]))
    generator = torch.Generator().manual_seed(seed)

    def loss_fn(batch):
        return task.step(encoder, batch[0], generator)

    history = fit(loss_fn, [encoder, task.head], (images,), epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=seed, device=device, progress=progress, on_epoch_end=on_epoch_end, desc=task.name)
    return encoder, history


def save_pretext(task: PretextTask, encoder: nn.Module, path=None, metrics: Optional[dict] = None,
                 extra: Optional[dict] = None, image_shape=(3, 16, 16)) -> Path:
    """Save the encoder as `<checkpoint dir>/<task name>.pt` (see `ssl_helpers.train.save_checkpoint`), with
    the task's options and head so that `load_pretext` rebuilds both (the transfer notebook needs only the
    encoder; the widgets need the head too)."""
    head = task._require_head()
    path = Path(path) if path is not None else default_checkpoint_dir() / f"{task.name}.pt"
    payload = {"task": task.name, "task_options": dict(task.options), "image_shape": list(image_shape),
               "head_state_dict": {k: v.detach().cpu() for k, v in head.state_dict().items()}}
    payload.update(extra or {})
    return save_checkpoint(path, encoder, method=task.name, metrics=metrics, extra=payload)


def load_pretext(name: str, path=None, device="cpu"):
    """Load what `save_pretext` wrote: returns `(task with its head, encoder, info)`, both in eval mode."""
    path = Path(path) if path is not None else default_checkpoint_dir() / f"{name}.pt"
    encoder, info = load_checkpoint(path, device=device)
    extra = info.get("extra") or {}
    if extra.get("task") != name or "head_state_dict" not in extra:
        raise CheckpointError(f"{path} does not hold a {name!r} pretext task with its head "
                              f"(it holds method {info.get('method')!r})")
    task = make_task(name, **extra.get("task_options", {}))
    task.build_head(encoder, tuple(extra.get("image_shape", (3, 16, 16))))
    task.head.load_state_dict(extra["head_state_dict"])
    task.head.eval()
    return task, encoder, info


def load_or_pretrain(name: str, path=None, epochs: int = QUICK_EPOCHS, seed: int = 0, device="cpu",
                     image_size: int = 16, verbose: bool = True):
    """The task's checkpoint if it exists; otherwise a quick pre-training on its embedded data (says so).

    Returns `(task, encoder, info)`; `info["quick"]` is True when the encoder was just trained here.
    """
    path = Path(path) if path is not None else default_checkpoint_dir() / f"{name}.pt"
    if path.is_file():
        return load_pretext(name, path, device)
    from ..data import load_dataset

    task = make_task(name)
    if verbose:
        print(f"No checkpoint at {path}: pre-training a quick {name} encoder ({epochs} epochs on "
              f"{task.data} at {image_size} px) instead. Run its notebook to get the full one.")
    train, _ = load_dataset(task.data, image_size=image_size)
    encoder, history = pretrain(task, train.images, epochs=epochs, seed=seed, device=device, progress=False)
    info = {"config": dict(encoder.config), "method": name, "metrics": {}, "quick": True,
            "extra": {"epochs": epochs, "final_loss": float(history["loss"].iloc[-1])}}
    return task, encoder.eval(), info


def score_against_baselines(encoders: dict, train, test, shots=(1, 5, 10), seeds=5, probes=("linear",)):
    """The course protocol for pre-trained encoders next to the two cheap baselines, in one tidy table.

    encoders: {name: frozen encoder}. Rows for "pixels" (logistic regression on raw pixels) and "random
    encoder" (the first encoder's architecture, random weights, seed 0) come first; then each encoder.
    Columns as in `ssl_helpers.evaluate.label_efficiency` (method, probe, labels_per_class, seed, accuracy).
    """
    if not encoders:
        raise ValueError("encoders must name at least one encoder, e.g. {'masked': encoder}")
    seed_everything(0)
    random_encoder = build_encoder(next(iter(encoders.values())).config)
    features = {"pixels": pixel_features(train, test)}
    for name, encoder in {"random encoder": random_encoder, **encoders}.items():
        features[name] = embed_split(encoder, train, test, device="cpu")
    return label_efficiency(features, train.labels, test.labels, shots, seeds, probes)


BASELINES = ("pixels", "random encoder")


def compare_to_baselines(table, probe: str = "linear"):
    """How many accuracy points each pre-trained encoder is above (+) or below (-) each baseline.

    table: the tidy table of `score_against_baselines`. Returns (differences, verdicts): a wide table with
    rows (method, "vs pixels" | "vs random encoder") and a column per labels-per-class count, and one
    sentence per method saying which baselines its mean beats at every count, at some, or at none.
    """
    means = 100 * mean_accuracy(table[table["probe"] == probe]).droplevel("probe")
    missing = [b for b in BASELINES if b not in means.index]
    if missing:
        raise ValueError(f"table must hold the baselines {list(BASELINES)} (see score_against_baselines); "
                         f"missing {missing}")
    rows, verdicts = {}, {}
    for method in [m for m in means.index if m not in BASELINES]:
        parts = []
        for baseline in BASELINES:
            gap = means.loc[method] - means.loc[baseline]
            rows[(method, f"vs {baseline}")] = gap.round(1)
            wins = [str(k) for k, g in gap.items() if g > 0]
            if len(wins) == len(gap):
                parts.append(f"beats {baseline} at every label count")
            elif wins:
                parts.append(f"beats {baseline} only at {', '.join(wins)} labels per class")
            else:
                parts.append(f"does not beat {baseline}")
        verdicts[method] = f"{method}: " + "; ".join(parts)
    differences = pd.DataFrame(rows).T
    differences.columns.name = "labels per class"
    return differences, verdicts
