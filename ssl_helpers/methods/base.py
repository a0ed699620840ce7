"""What every pre-training method of the course is: one `lightning.LightningModule`.

A method owns its encoder (the network kept afterwards), its head (everything else it trains: a decoder, a
classifier, a projection head, a predictor, a momentum target, ...) and its typed options (a dataclass, saved
with every checkpoint through `save_hyperparameters`). Its `training_step` is the method's idea in a few lines:

    method = make_method("simclr", temperature=0.5)      # by name, from the registry; options typed and checked
    method.build((3, 12, 12))                            # the encoder (or pass your own) and the head
    loss = method.step(images)                           # one training step's loss on clean images (N, C, H, W)
    encoder, history = pretrain(method, images)          # lightning.Trainer, like every other training

Momentum targets update in `on_train_batch_end` (Lightning's hook after each optimiser step; `MomentumTargets`).
Random draws (views, masks, corruptions) come from `method.generator`, seeded per run and restored on resume.
Adding a method: one file with a `Method` subclass (an `Options` dataclass, `make_head`, `training_step`), one
`MethodSpec` in `ssl_helpers/methods/registry.py`'s `REGISTRY` (its title, family, notebook, data, recipe, ...).
`method_class(name)` and `make_method(name, **options)`: a registered method's class and a new instance by name.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import ClassVar, Optional, Union

import lightning as L
import torch
from torch import nn

from ..models import SmallCNN
from ..train import Schedule, run_steps
from .options import NoOptions
from .registry import REGISTRY, method_spec

__all__ = ["Method", "NoOptions", "NOT_BUILT", "method_class", "make_method"]

NOT_BUILT = ("the {name} method has no encoder and head yet: call method.build(image_shape) or train it with "
             "ssl_helpers.methods.pretrain first")
"""What a method that is used before it is built says (`Method.check_built`)."""


class _Spec:
    """`Method.spec`: the class's registry `MethodSpec`, found by its `name` (on the class and on instances)."""

    def __get__(self, method, cls):
        if cls.name not in REGISTRY:  # an AttributeError, so that hasattr and inspect see no spec
            raise AttributeError(f"{cls.__name__} (name {cls.name!r}) has no spec: add a MethodSpec for it to "
                                 f"ssl_helpers/methods/registry.py's REGISTRY")
        return REGISTRY[cls.name]


class Method(L.LightningModule):
    """A self-supervised pre-training method (see the module docstring).

    What training needs is on the class:
        name          its registry key (checkpoint file name `<checkpoint dir>/<name>.pt`; links it to its spec)
        Options       the dataclass of the method's options (a `MethodOptions`); `method.options` is an instance
        generator_on_device  draw the method's random numbers on the training device (batched GPU
                      augmentation) rather than on a CPU generator (corruptions that must repeat anywhere)
        saved_before  {option: value} for options added after checkpoints were first saved: a checkpoint
                      without the option was trained with that value (not with today's default); `load_method`
                      reads it
    How the course presents and schedules it is its `MethodSpec` in the registry, `method.spec` (also on the
    class, or `method_spec(name)` without importing the method): title, family, notebook, data, image_size, recipe
    (the CPU tier's `pretrain` defaults), quick_epochs.
    """

    name = "method"
    generator_on_device = False
    saved_before: ClassVar[dict] = {}
    Options: ClassVar[type] = NoOptions

    spec = _Spec()

    def __init__(self, **options):
        super().__init__()
        self.options = self.Options(**options)
        self.save_hyperparameters(dataclasses.asdict(self.options))
        self.encoder: Optional[nn.Module] = None
        self.head: Optional[nn.Module] = None
        self.image_shape: Optional[tuple] = None
        self.schedule = Schedule(**{k: v for k, v in self.spec.recipe.items() if k in Schedule.__dataclass_fields__})
        self.generator = torch.Generator().manual_seed(0)

    # -- building -------------------------------------------------------------------------------------------

    def make_encoder(self, image_shape, width: int = 32) -> nn.Module:
        """The encoder this method trains by default on images of `image_shape` (C, H, W): the course's
        `SmallCNN`. Methods with their own architecture (e.g. a ViT) override it."""
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
            raise RuntimeError(NOT_BUILT.format(name=self.name))

    def setup(self, stage: str) -> None:
        """Lightning's first hook of a run: a method the Trainer is given unbuilt says what to do."""
        self.check_built()

    def distributed(self) -> bool:
        """Whether a Trainer is training this method in several processes (DDP): losses whose negatives come
        from the whole global batch (NT-Xent) gather the other processes' views then. Outside a Trainer: False."""
        trainer = self._trainer
        return trainer is not None and int(getattr(trainer, "world_size", 1)) > 1

    def step(self, images: torch.Tensor) -> torch.Tensor:
        """One training step's scalar loss on a batch of clean images (N, C, H, W) (outside a Trainer too)."""
        self.check_built()
        return self.training_step((images,), 0)

    def configure_optimizers(self):
        return self.schedule.configure([p for p in self.parameters() if p.requires_grad], *run_steps(self))

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(self.options).items())
        return f"{type(self).__name__}({options})"


def method_class(name: str) -> type:
    """The `Method` subclass registered under `name` (its module imported on first use)."""
    path = method_spec(name).path
    module, _, attribute = path.partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    if not (isinstance(cls, type) and issubclass(cls, Method)) or cls.name != name:
        raise TypeError(f"REGISTRY[{name!r}] = {path!r} is not a Method subclass named {name!r}")
    return cls


def make_method(name: Union[str, Method], **options) -> Method:
    """A method by name with its options (e.g. `make_method("masked", mask_ratio=0.75)`); a method passes through."""
    if isinstance(name, Method):
        if options:
            raise ValueError("options can only be given with a method name, not with a method object")
        return name
    return method_class(name)(**options)
