"""What the two-view methods (SimCLR, and notebook 07's MoCo, BYOL, SimSiam, Barlow Twins, VICReg) share.

- `TwoViewMethod`: a `Method` that draws two augmented views of each batch (`ssl_helpers.augment.preset`, on the
  training device) and keeps its trainable modules in an `nn.ModuleDict` head (projector, predictor, momentum
  target, queue: whatever it has), so `save_method` stores all of them. `TwoViewOptions`: the options they share.
- `momentum_update`, `frozen_copy` (from `methods/momentum.py`, with `MomentumTargets`): the exponential moving
  average of a target network, theta_t <- m theta_t + (1 - m) theta_o, and a target never trained by gradients.
- `KeyQueue`: MoCo's first-in first-out queue of the last K keys, a buffer saved with the head.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import torch
from torch import nn

from ..augment import Augment, preset
from ..models import ProjectionHead
from .base import Method
from .momentum import frozen_copy, momentum_update  # importable from here too (in __all__)
from .options import MethodOptions, option, positive_int

__all__ = ["TwoViewMethod", "TwoViewOptions", "augment_for", "restore_augment", "two_views", "momentum_update", "frozen_copy", "KeyQueue",
           "BEYOND_IMAGE_SIZE"]

BEYOND_IMAGE_SIZE = 12
"""Notebook 07's methods train on the digits at 12 px, like SimCLR (notebook 06)."""


def augment_for(augment, image_size: int):
    """The `Augment` a two-view method uses: `augment` itself, or the preset of that name at `image_size` px."""
    return preset(augment, int(image_size)) if isinstance(augment, str) else augment


def restore_augment(augment):
    """An `augment` option as saved in a checkpoint (a preset name, or an `Augment`'s fields) -> the option."""
    if isinstance(augment, dict):
        return Augment(**{k: tuple(v) if isinstance(v, list) else v for k, v in augment.items()})
    return augment


def two_views(augment, images: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Two independently augmented views of a batch, stacked: images (N, C, H, W) -> (2N, C, size, size), rows
    [t(x_1..x_N); t'(x_1..x_N)] (both drawn from `generator`, first view first)."""
    return torch.cat([augment(images, generator), augment(images, generator)])


class KeyQueue(nn.Module):
    """MoCo's queue: the K most recent keys (K, D), oldest overwritten first.

    Starts as K random unit vectors (as MoCo does). `enqueue(keys)` writes a batch (B, D) at the pointer and moves
    it on, wrapping around; a batch larger than K keeps its last K keys. `keys` and `pointer` are buffers, so the
    queue is saved and restored with the head.
    """

    def __init__(self, size: int, dim: int, generator: Optional[torch.Generator] = None):
        super().__init__()
        if int(size) < 1 or int(dim) < 1:
            raise ValueError(f"queue size and dim must be >= 1, got size={size}, dim={dim}")
        keys = torch.randn(int(size), int(dim), generator=generator)
        self.register_buffer("keys", keys / keys.norm(dim=1, keepdim=True))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return self.keys.shape[0]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        if keys.ndim != 2 or keys.shape[1] != self.keys.shape[1]:
            raise ValueError(f"keys must have shape (B, {self.keys.shape[1]}), got {tuple(keys.shape)}")
        keys = keys.detach().to(self.keys.dtype)[-self.size:]
        index = (self.pointer + torch.arange(len(keys), device=self.keys.device)) % self.size
        self.keys[index] = keys
        self.pointer.copy_((self.pointer + len(keys)) % self.size)


@dataclasses.dataclass
class TwoViewOptions(MethodOptions):
    """Options every two-view method takes: `augment` (a preset name of `ssl_helpers.augment`, views at the image
    size, or an `Augment`), `hidden_dim` and `out_dim` of the projector."""

    augment: Any = option("digits", convert=restore_augment,
                          help="the views' augmentation: a preset name of ssl_helpers.augment (or an Augment)")
    hidden_dim: int = option(128, check=positive_int, help="hidden width of the projection head")
    out_dim: int = option(64, check=positive_int, help="output dimension of the projection head (the embedding)")


class TwoViewMethod(Method):
    """Base of the two-view methods: two views per image, drawn on the training device.

    Subclasses implement `make_modules(image_shape)` and `training_step`. `make_modules` returns a dict of modules
    (the head is then an `nn.ModuleDict` of them) or one module (the head itself, e.g. SimCLR's projection head).
    """

    generator_on_device = True
    Options = TwoViewOptions

    def make_modules(self, image_shape):
        raise NotImplementedError

    def make_head(self, image_shape) -> nn.Module:
        self.augment = augment_for(self.options.augment, image_shape[-1])
        modules = self.make_modules(image_shape)
        return modules if isinstance(modules, nn.Module) else nn.ModuleDict(modules)

    def projector(self) -> nn.Module:
        """g: the projection head, h (N, encoder.out_dim) -> z (N, out_dim)."""
        return ProjectionHead(self.encoder.out_dim, self.options.hidden_dim, self.options.out_dim)

    def views(self, images: torch.Tensor) -> torch.Tensor:
        """Two augmented views (N, C, H, W) each of `images`, drawn from `self.generator`, stacked: (2N, C, H, W)."""
        return two_views(self.augment, images, self.generator)
