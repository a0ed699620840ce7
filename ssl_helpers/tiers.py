"""The two tiers of the self-prediction notebooks (03, 04) in one place: what they train on, for how long, on which
device and with which encoder (`pretext_tier`), the CPU tier or the full run (`ssl_helpers.config.full_run_settings`,
shrunk under `SSL_SMOKE=1`).

    DATA, OPTIONS, EPOCHS, DEVICE, make_encoder = pretext_tier(FULL_RUN, cpu_epochs=6, gpu_epochs=30, tasks=2)
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch

from .config import full_run_settings, t4_minutes
from .models import ResNet18Cifar, SmallCNN
from .train import pick_device

__all__ = ["Tier", "pretext_tier"]


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
    if not full_run:
        return Tier("digits", dict(image_size=16), cpu_epochs, torch.device("cpu"), lambda: SmallCNN(width=32))
    full = full_run_settings(epochs=gpu_epochs, width=64)
    print(f"course estimate on a T4 (not a measurement): "
          f"{t4_minutes(tasks * full['epochs'], relative_cost=0.5):.0f} min of training steps "
          f"({tasks} task(s) x {full['epochs']} epochs each)")
    return Tier("cifar10", dict(image_size=32, download=True), full["epochs"], pick_device(),
                lambda: ResNet18Cifar(width=full["width"]))
