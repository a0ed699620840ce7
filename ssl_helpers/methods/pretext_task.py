"""What every self-prediction method (pretext task) shares: corrupt, predict, compare.

    inputs, targets, mask = task.corrupt(images, generator)     # hide or change part of the input (ssl_helpers.pretext)
    prediction = task.predict(inputs)                           # task.encoder + the task's small head
    loss = task.loss(prediction, targets, mask)                 # how far the prediction is from the target

Every task is a `Method` (a LightningModule): `training_step` chains the three with `task.generator`.
Only the encoder is kept afterwards; the head (a decoder or a linear classifier) is thrown away.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import masked_mse
from ..models import ConvDecoder
from ..pretext.base import Corrupted
from .base import Method

__all__ = ["PretextTask", "ReconstructionTask", "ClassificationTask"]


class PretextTask(Method):
    """A self-prediction method: `corrupt`, `make_head`, `predict`, `loss` (see the module docstring);
    `training_step` chains them."""

    name = "pretext"

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
