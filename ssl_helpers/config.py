"""The FULL_RUN settings of the notebooks: their sizes, a smoke-test switch that shrinks them, resumable runs, and
the course's estimate of their time on Colab's T4.

    if FULL_RUN:
        FULL = full_run_settings(epochs=35, batch_size=512, width=64)   # as given, or shrunk when SSL_SMOKE=1
    pretrain(method, images, epochs=FULL["epochs"], **run_options("simclr", FULL_RUN))

- `SSL_SMOKE=1` (the environment variable `SMOKE_VARIABLE`) caps every size a FULL_RUN recipe names (epochs, steps,
  batch size, encoder width, warm-up epochs, seeds) at `SMOKE_LIMITS`, so that CI executes each notebook's FULL_RUN branch
  on the CPU in seconds. It changes sizes only, never which code runs.
- `run_options(name, enabled)`: the `fit` options of a FULL_RUN (a per-epoch checkpoint in
  `<checkpoint dir>/resume/<name>/`, so that running the cell again resumes; a timed warm-up that prints the
  estimated time on this GPU before training); `{}` when not enabled (the CPU tier is unchanged).
- `t4_minutes(...)`: the course's *estimate* (not a measurement) of a run's time on a T4, from the one GPU figure
  the course has: SimCLR, ResNet-18, 32 px, batch 512, bf16 on an H200, 29.2k images/s for the training step alone
  (the course design's reference figure, measured outside this repository), scaled by the ratio of the two GPUs' dense tensor throughput, about 65 TFLOPS (T4, float16) against
  about 990 TFLOPS (H200, bf16). Memory bandwidth gives a similar ratio (320 GB/s against 4.8 TB/s). The warm-up
  printed by `pretrain(..., estimate=True)` is the real figure on the user's GPU.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, NamedTuple

__all__ = ["Tier", "pretext_tier", "SMOKE_VARIABLE", "SMOKE_LIMITS", "smoke", "full_run_settings", "run_options", "resume_path",
           "H200_SIMCLR_IMAGES_PER_SECOND", "T4_OVER_H200", "t4_images_per_second", "t4_minutes"]

SMOKE_VARIABLE = "SSL_SMOKE"
SMOKE_LIMITS = {"epochs": 2, "steps": 2, "batch_size": 32, "width": 8, "warmup_epochs": 1, "seeds": 2}
"""The largest value each size takes under `SSL_SMOKE=1` (two epochs: notebooks show epoch 0, 1, 2 snapshots;
`seeds`: draws of each labeled subset)."""

H200_SIMCLR_IMAGES_PER_SECOND = 29_200
"""SimCLR training step alone, ResNet-18 at 32 px, batch 512, bf16, one H200 (the course design's reference figure,
measured outside this repository on 2026-11-27; an image is one pair of views)."""
T4_OVER_H200 = 65 / 990
"""T4 float16 tensor throughput (about 65 TFLOPS) over H200 bf16 dense (about 990 TFLOPS): a ratio of spec sheets."""


def smoke() -> bool:
    """True when `SSL_SMOKE` is set to anything but "", "0", "false" or "no"."""
    return os.environ.get(SMOKE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def full_run_settings(**settings) -> dict:
    """The FULL_RUN sizes as given, or, under `SSL_SMOKE=1`, each one named in `SMOKE_LIMITS` capped at its limit
    (other settings pass through unchanged). Returns a new dict; prints nothing."""
    for key, value in settings.items():
        if key in SMOKE_LIMITS and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
    if not smoke():
        return dict(settings)
    return {key: min(value, SMOKE_LIMITS[key]) if key in SMOKE_LIMITS else value for key, value in settings.items()}


def resume_path(name: str) -> Path:
    """Where the FULL_RUN of `name` keeps its per-epoch training state: the folder `<checkpoint dir>/resume/<name>`
    (Lightning's `last.ckpt` and the run's CSV history)."""
    from .train import default_checkpoint_dir

    if not name or "/" in name or "\\" in name:
        raise ValueError(f"name must be a plain file stem such as 'simclr', got {name!r}")
    return default_checkpoint_dir() / "resume" / name


def run_options(name: str, enabled: bool = True) -> dict:
    """`fit` options for a FULL_RUN: `checkpoint=resume_path(name)` (saved every epoch; run the cell again after a
    disconnect and training resumes after the last saved epoch) and `estimate=True` (a timed warm-up prints the
    estimated time on this device before training). `{}` when `enabled` is false."""
    if not enabled:
        return {}
    return {"checkpoint": resume_path(name), "estimate": True}


def t4_images_per_second(relative_cost: float = 1.0) -> float:
    """Estimated training images per second on a T4 for a step that costs `relative_cost` times a SimCLR step on a
    ResNet-18 at 32 px (two views through the network: a one-view pretext task is about 0.5)."""
    if relative_cost <= 0:
        raise ValueError(f"relative_cost must be positive, got {relative_cost}")
    return H200_SIMCLR_IMAGES_PER_SECOND * T4_OVER_H200 / relative_cost


def t4_minutes(epochs: int, images: int = 50_000, relative_cost: float = 1.0) -> float:
    """Estimated minutes of `epochs` epochs over `images` images on a T4 (see `t4_images_per_second`):
    minutes = epochs * images / (29,200 * 65 / 990 / relative_cost) / 60. The training step only: evaluation and
    data loading come on top."""
    return epochs * images / t4_images_per_second(relative_cost) / 60


class Tier(NamedTuple):
    """What a self-prediction notebook trains on: dataset name, `load_dataset` options, epochs per task, device, and
    a function that builds a fresh encoder."""

    data: str
    options: dict
    epochs: int
    device: object
    make_encoder: Callable


def pretext_tier(full_run: bool, *, cpu_epochs: int, gpu_epochs: int, tasks: int = 1) -> Tier:
    """The two tiers of the self-prediction notebooks (03, 04) in one place.

    CPU tier (`full_run` False): the embedded digits at 16 px, `SmallCNN(width=32)`, `cpu_epochs`, the CPU.
    Full run: CIFAR-10 at 32 px (downloaded), `ResNet18Cifar`, `gpu_epochs` (both capped under `SSL_SMOKE=1`), the
    device `pick_device()` finds; it prints the course's T4 estimate for `tasks` trainings of one view per image
    (about half a SimCLR step per image; an estimate, not a measurement).
    """
    import torch

    from .models import ResNet18Cifar, SmallCNN
    from .train import pick_device

    if not full_run:
        return Tier("digits", dict(image_size=16), cpu_epochs, torch.device("cpu"), lambda: SmallCNN(width=32))
    full = full_run_settings(epochs=gpu_epochs, width=64)
    print(f"course estimate on a T4 (not a measurement): "
          f"{t4_minutes(tasks * full['epochs'], relative_cost=0.5):.0f} min of training steps "
          f"({tasks} task(s) x {full['epochs']} epochs each)")
    return Tier("cifar10", dict(image_size=32, download=True), full["epochs"], pick_device(),
                lambda: ResNet18Cifar(width=full["width"]))
