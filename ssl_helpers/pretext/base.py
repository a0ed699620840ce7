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
import torch.nn.functional as F
from torch import nn

from ..losses import masked_mse  # defined in ssl_helpers.losses.masked; importable from here too
from ..methods.base import Method

__all__ = ["Corrupted", "PretextTask", "ReconstructionTask", "ClassificationTask", "ConvDecoder",
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


class ConvDecoder(nn.Module):
    """A small decoder from an encoder's feature maps back to an image (cheap, in the spirit of MAE's).

        maps (N, C, h, w) -> 3x3 conv, ReLU -> 1x1 conv to out * f * f channels -> pixel shuffle -> sigmoid

    so each feature-map position paints its own f x f block of pixels, with f = `upsample`, the ratio of
    image size to map size. For SmallCNN(width=32) at 16 px: (N, 128, 4, 4) -> (N, 3, 16, 16), f = 4.
    """

    def __init__(self, in_channels: int, out_channels: int = 3, upsample: int = 4, hidden: int = 128):
        super().__init__()
        if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 1:
            raise ValueError(f"upsample must be a positive integer, got {upsample!r}")
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels * upsample * upsample, 1), nn.PixelShuffle(upsample), nn.Sigmoid())

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.net(maps)


class PretextTask(Method):
    """A self-prediction method: `corrupt`, `make_head`, `predict`, `loss` (see the module docstring);
    `training_step` chains them."""

    name = "pretext"
    family = "self-prediction"
    data = "digits"  # the embedded dataset the course trains this task on
    recipe = dict(epochs=8, batch_size=128, lr=2e-3)

    def corrupt(self, images: torch.Tensor, generator: Optional[torch.Generator] = None) -> Corrupted:
        raise NotImplementedError

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor, mask=None) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        """One training step's loss on a batch of clean images: corrupt, predict, compare."""
        inputs, targets, mask = self.corrupt(batch[0], self.generator)
        return self.loss(self.predict(inputs), targets, mask)


class ReconstructionTask(PretextTask):
    """Predict an image: encoder feature maps -> `ConvDecoder` -> (N, out_channels, H, W)."""

    out_channels = 3

    def make_head(self, image_shape) -> nn.Module:
        encoder = self.encoder
        if not hasattr(encoder, "feature_maps"):
            raise ValueError(f"the {self.name} task needs an encoder with a `feature_maps(x)` method "
                             f"(SmallCNN has one); got {type(encoder).__name__}")
        channels, height, width = image_shape
        device = next(encoder.parameters()).device
        was_training = encoder.training
        encoder.eval()
        with torch.no_grad():
            maps = encoder.feature_maps(torch.zeros(2, channels, height, width, device=device))
        encoder.train(was_training)
        if height % maps.shape[-2] or width % maps.shape[-1]:
            raise ValueError(f"image size {height}x{width} is not a multiple of the feature-map size "
                             f"{maps.shape[-2]}x{maps.shape[-1]}")
        return ConvDecoder(maps.shape[1], self.out_channels, height // maps.shape[-2])

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.feature_maps(inputs))

    def loss(self, prediction, targets, mask=None):
        if mask is None:
            return F.mse_loss(prediction, targets)
        return masked_mse(prediction, targets, mask)


class ClassificationTask(PretextTask):
    """Predict which of `num_classes` transformations was applied: pooled features -> linear layer -> logits."""

    num_classes = 2

    def make_head(self, image_shape) -> nn.Module:
        return nn.Linear(self.encoder.out_dim, self.num_classes)

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(inputs))

    def loss(self, prediction, targets, mask=None):
        return F.cross_entropy(prediction, targets)
