"""What every pretext task shares: the task interface, the reconstruction decoder, the masked loss.

A pretext task turns unlabeled images into a supervised problem:

    inputs, targets, mask = task.corrupt(images, generator)     # hide or change part of the input
    prediction = task.predict(inputs)                           # task.encoder + the task's small head
    loss = task.loss(prediction, targets, mask)                 # how far the prediction is from the target

Every task is a `Method` (a LightningModule): `training_step` chains the three with `task.generator`.
Only the encoder is kept afterwards; the head (a decoder or a linear classifier) is thrown away.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from ..losses import masked_mse  # defined in ssl_helpers.losses.masked; importable from here too
from ..models import ConvDecoder  # noqa: F401 (its home is ssl_helpers.models)

__all__ = ["Corrupted", "ConvDecoder",
           "masked_mse", "check_images", "check_generator"]


class Corrupted(NamedTuple):
    """What `corrupt` returns. inputs: (N, C, H, W); targets: images (N, C', H, W) or labels (N,);
    mask: (N, 1, H, W), 1 where the loss counts, or None (the loss counts everywhere)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: Optional[torch.Tensor] = None


def check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{name} must be a tensor of shape (N, C, H, W), got {shape}")
    return images


def check_generator(generator: Optional[torch.Generator]) -> torch.Generator:
    """The random draws of every corruption come from a CPU generator, so a seed fixes them on any device."""
    if generator is None:
        return torch.Generator().manual_seed(0)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), "
                         f"got {type(generator).__name__}")
    return generator
