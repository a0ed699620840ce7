"""What every pre-training method of the course is: one `lightning.LightningModule`.

A method owns its encoder (the network kept afterwards), its head (everything else it trains: a decoder, a
classifier, a projection head, a predictor, a momentum target, ...) and its typed options (a dataclass, saved
with every checkpoint through `save_hyperparameters`). Its `training_step` is the method's idea in a few lines:

    method = make_method("simclr", temperature=0.5)      # by name, from the registry; options typed and checked
    method.build((3, 12, 12))                            # the encoder (or pass your own) and the head
    loss = method.step(images)                           # one training step's loss on clean images (N, C, H, W)
    encoder, history = pretrain(method, images)          # lightning.Trainer, like every other training

Momentum targets and queues update in `on_train_batch_end` (Lightning's hook after each optimiser step). Random
draws (views, masks, corruptions) come from `method.generator`, seeded per run and restored on resume.
Adding a method: one file with a `Method` subclass (an `Options` dataclass, `make_head`, `training_step`), one
line in `ssl_helpers/methods/__init__.py`'s `REGISTRY`.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar, Optional

import lightning as L
import torch
from torch import nn

from ..train import Schedule, run_steps

__all__ = ["Method", "NoOptions"]


@dataclasses.dataclass
class NoOptions:
    """A method without options."""


class Method(L.LightningModule):
    """A self-supervised pre-training method (see the module docstring).

    Class attributes describe it for the registry, the notebooks and the leaderboard:
        name          registry key and checkpoint file name (`<checkpoint dir>/<name>.pt`)
        title         how tables print it
        family        "self-prediction", "contrastive", "non-contrastive" or "representation-prediction"
        notebook      the notebook that teaches it (e.g. "06_simclr")
        data          the embedded dataset its CPU tier trains on ("digits" or "colour_digits")
        image_size    the image size its CPU tier trains at (px)
        recipe        `pretrain` defaults for the CPU tier (epochs, batch_size, lr, ...)
        quick_epochs  epochs of the quick stand-in a later notebook trains when the checkpoint is missing
        generator_on_device  draw the method's random numbers on the training device (batched GPU
                      augmentation) rather than on a CPU generator (corruptions that must repeat anywhere)
        saved_before  {option: value} for options added after checkpoints were first saved: a checkpoint
                      without the option was trained with that value (not with today's default)
        Options       the dataclass of the method's options; `method.options` is an instance of it
    """

    name = "method"
    title = ""
    family = ""
    notebook = ""
    data = "digits"
    image_size = 16
    recipe: ClassVar[dict] = dict(epochs=8, batch_size=128, lr=2e-3)
    quick_epochs = 4
    generator_on_device = False
    saved_before: ClassVar[dict] = {}
    Options: ClassVar[type] = NoOptions

    def __init_subclass__(cls, **kwargs):
        """Every `training_step` and `predict` a subclass defines first checks that the method is built
        (`check_built`), so that calling one too early says what to do rather than failing deep inside."""
        super().__init_subclass__(**kwargs)
        for hook in ("training_step", "predict"):
            function = cls.__dict__.get(hook)
            if callable(function) and not getattr(function, "checks_built", False):
                setattr(cls, hook, _after_check_built(function))

    def __init__(self, **options):
        super().__init__()
        self.options = self.Options(**options)
        self.save_hyperparameters(dataclasses.asdict(self.options))
        self.encoder: Optional[nn.Module] = None
        self.head: Optional[nn.Module] = None
        self.image_shape: Optional[tuple] = None
        self.schedule = Schedule(**{k: v for k, v in self.recipe.items() if k in Schedule.__dataclass_fields__})
        self.generator = torch.Generator().manual_seed(0)

    # -- building -------------------------------------------------------------------------------------------

    def make_encoder(self, image_shape, width: int = 32) -> nn.Module:
        """The encoder this method trains by default on images of `image_shape` (C, H, W): the course's
        `SmallCNN`. Methods with their own architecture (e.g. a ViT) override it."""
        from ..models import SmallCNN

        return SmallCNN(in_channels=image_shape[0], width=width)

    def make_head(self, image_shape) -> nn.Module:
        """Every trainable module besides `self.encoder` (an `nn.ModuleDict` when there are several)."""
        raise NotImplementedError

    def build(self, image_shape, encoder: Optional[nn.Module] = None, width: int = 32) -> "Method":
        """Give the method its encoder (`encoder`, or `make_encoder(image_shape, width)`) and a new head for
        images of `image_shape` (C, H, W), on the encoder's device. Returns the method."""
        self.image_shape = tuple(int(s) for s in image_shape)
        self.encoder = encoder if encoder is not None else self.make_encoder(self.image_shape, width)
        device = next(self.encoder.parameters()).device
        self.head = self.make_head(self.image_shape).to(device)
        return self

    # -- training -------------------------------------------------------------------------------------------

    def training_step(self, batch, batch_idx):
        """The method's loss on `batch = (images,)`, clean images (N, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def check_built(self) -> None:
        """Raise a RuntimeError that says what to do when the method has no encoder and head yet."""
        if self.encoder is None or self.head is None:
            raise RuntimeError(f"the {self.name} method has no encoder and head yet: call "
                               f"method.build(image_shape) or train it with ssl_helpers.methods.pretrain first")

    def step(self, images: torch.Tensor) -> torch.Tensor:
        """One training step's scalar loss on a batch of clean images (N, C, H, W) (outside a Trainer too)."""
        self.check_built()
        return self.training_step((images,), 0)

    def configure_optimizers(self):
        return self.schedule.configure([p for p in self.parameters() if p.requires_grad], *run_steps(self))

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(self.options).items())
        return f"{type(self).__name__}({options})"


def _after_check_built(function):
    """`function` (a method's `training_step` or `predict`), calling `self.check_built()` first."""

    @functools.wraps(function)
    def checked(self, *args, **kwargs):
        self.check_built()
        return function(self, *args, **kwargs)

    checked.checks_built = True
    return checked
