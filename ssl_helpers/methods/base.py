"""The one interface every pre-training method of the course implements.

A method turns a batch of unlabeled images into a loss, through an encoder (kept afterwards) and a head
(everything else it trains: a decoder, a classifier, a projection head, a predictor, ...):

    method = make_method("simclr")                       # by name, from the registry
    head = method.build_head(encoder, image_shape)       # builds `method.head` next to the encoder
    loss = method.step(encoder, images, generator)       # one training step's loss on clean images (N, C, H, W)
    method.after_step(encoder)                           # after each optimiser step (momentum targets, queues)

`ssl_helpers.methods.pretrain(method, images)` trains any of them with the course's one loop
(`ssl_helpers.train.fit`); `save_method` / `load_method` / `load_or_pretrain` store and restore the encoder
with the method's options and head. Adding a method: one file with a `Method` subclass, one line in
`ssl_helpers/methods/__init__.py`'s `REGISTRY`.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

__all__ = ["Method"]


class Method:
    """A self-supervised pre-training method: `build_head`, `step`, `after_step` (see the module docstring).

    Class attributes describe it for the registry, the notebooks and the leaderboard:
        name          registry key and checkpoint file name (`<checkpoint dir>/<name>.pt`)
        title         how tables print it
        family        "self-prediction", "contrastive" or "non-contrastive"
        notebook      the notebook that teaches it (e.g. "06_simclr")
        data          the embedded dataset its CPU tier trains on ("digits" or "colour_digits")
        image_size    the image size its CPU tier trains at (px)
        recipe        `pretrain` defaults for the CPU tier (epochs, batch_size, lr, ...)
        quick_epochs  epochs of the quick stand-in a later notebook trains when the checkpoint is missing
        generator_on_device  draw the method's random numbers on the training device (batched GPU
                      augmentation) rather than on a CPU generator (corruptions that must repeat anywhere)
        saved_before  {option: value} for options added after checkpoints were first saved: a checkpoint
                      without the option was trained with that value (not with today's default)
    `options` are the constructor's arguments, saved in checkpoints so the method can be rebuilt.
    """

    name = "method"
    title = ""
    family = ""
    notebook = ""
    data = "digits"
    image_size = 16
    recipe: dict = dict(epochs=8, batch_size=128, lr=2e-3)
    quick_epochs = 4
    generator_on_device = False
    saved_before: dict = {}

    def __init__(self, **options):
        self.options = dict(options)
        self.head: Optional[nn.Module] = None

    def make_encoder(self, image_shape, width: int = 32) -> nn.Module:
        """The encoder this method trains by default on images of `image_shape` (C, H, W): the course's
        `SmallCNN`. Methods with their own architecture (e.g. a ViT) override it."""
        from ..models import SmallCNN

        return SmallCNN(in_channels=image_shape[0], width=width)

    def build_head(self, encoder: nn.Module, image_shape) -> nn.Module:
        """Build (and keep in `self.head`) every trainable module besides the encoder; returns it."""
        raise NotImplementedError

    def step(self, encoder: nn.Module, images: torch.Tensor,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """One training step's scalar loss on a batch of clean images (N, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def after_step(self, encoder: nn.Module) -> None:
        """Called after every optimiser step (e.g. a momentum update of a target network). Default: nothing."""

    def _require_head(self) -> nn.Module:
        if self.head is None:
            raise RuntimeError(f"the {self.name} method has no head yet: call method.build_head(encoder, "
                               f"image_shape) or train it with ssl_helpers.methods.pretrain")
        return self.head

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({options})"
