"""What the methods of notebook 07 (MoCo, BYOL, SimSiam, Barlow Twins, VICReg) share.

- `TwoViewMethod`: a `Method` that draws two augmented views of each batch (`ssl_helpers.augment.preset`, on the
  training device) and keeps its trainable modules in an `nn.ModuleDict` head (projector, predictor, momentum
  target, queue: whatever it has), so `save_method` stores all of them. `TwoViewOptions`: the options they share.
- `momentum_update`: the exponential moving average of a target network, theta_t <- m theta_t + (1 - m) theta_o.
- `frozen_copy`: a target network that starts as a copy of the online one and is never trained by gradients.
- `KeyQueue`: MoCo's first-in first-out queue of the last K keys, a buffer saved with the head.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Optional

import torch
from torch import nn

from .base import Method

__all__ = ["TwoViewMethod", "TwoViewOptions", "augment_for", "restore_augment", "two_views", "momentum_update", "frozen_copy", "KeyQueue",
           "BEYOND_IMAGE_SIZE"]

BEYOND_IMAGE_SIZE = 12
"""Notebook 07's methods train on the digits at 12 px, like SimCLR (notebook 06)."""


def augment_for(augment, image_size: int):
    """The `Augment` a two-view method uses: `augment` itself, or the preset of that name at `image_size` px."""
    from ..augment import preset

    return preset(augment, int(image_size)) if isinstance(augment, str) else augment


def restore_augment(augment):
    """An `augment` option as saved in a checkpoint (a preset name, or an `Augment`'s fields) -> the option."""
    if isinstance(augment, dict):
        from ..augment import Augment

        return Augment(**{k: tuple(v) if isinstance(v, list) else v for k, v in augment.items()})
    return augment


def two_views(augment, images: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Two independently augmented views of a batch, stacked: images (N, C, H, W) -> (2N, C, size, size), rows
    [t(x_1..x_N); t'(x_1..x_N)] (both drawn from `generator`, first view first)."""
    return torch.cat([augment(images, generator), augment(images, generator)])


@torch.no_grad()
def momentum_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """theta_target <- m theta_target + (1 - m) theta_online for every parameter, in place (BYOL eq. 1, MoCo eq. 2).

    Buffers (BatchNorm's running statistics) are copied from the online network. target and online must have the
    same architecture. momentum m in [0, 1]: 1 keeps the target fixed, 0 copies the online network.
    """
    if not 0.0 <= float(momentum) <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    target_params, online_params = list(target.parameters()), list(online.parameters())
    if [p.shape for p in target_params] != [p.shape for p in online_params]:
        raise ValueError("target and online must have the same architecture (the same parameter shapes)")
    for t, o in zip(target_params, online_params):
        t.mul_(momentum).add_(o.detach(), alpha=1.0 - momentum)
    for t, o in zip(target.buffers(), online.buffers()):
        t.copy_(o)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of `module` whose parameters do not require gradients (a momentum target)."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


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
class TwoViewOptions:
    """Options every two-view method takes: `augment` (a preset name of `ssl_helpers.augment`, views at the image
    size, or an `Augment`), `hidden_dim` and `out_dim` of the projector."""

    augment: Any = "digits"
    hidden_dim: int = 128
    out_dim: int = 64

    def __post_init__(self):
        self.augment = restore_augment(self.augment)
        for name in ("hidden_dim", "out_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


class TwoViewMethod(Method):
    """Base of the two-view methods: two views per image, a head that is an `nn.ModuleDict`.

    Subclasses implement `make_modules(image_shape) -> dict of modules` and `training_step`.
    """

    family = "non-contrastive"
    notebook = "07_beyond_negatives"
    image_size = BEYOND_IMAGE_SIZE
    quick_epochs = 10
    generator_on_device = True
    Options = TwoViewOptions

    def make_modules(self, image_shape) -> dict:
        raise NotImplementedError

    def make_head(self, image_shape) -> nn.Module:
        self.augment = augment_for(self.options.augment, image_shape[-1])
        return nn.ModuleDict(self.make_modules(image_shape))

    def projector(self) -> nn.Module:
        """g: the projection head, h (N, encoder.out_dim) -> z (N, out_dim)."""
        from ..models import ProjectionHead

        return ProjectionHead(self.encoder.out_dim, self.options.hidden_dim, self.options.out_dim)

    def views(self, images: torch.Tensor) -> torch.Tensor:
        """Two augmented views (N, C, H, W) each of `images`, drawn from `self.generator`, stacked: (2N, C, H, W)."""
        return two_views(self.augment, images, self.generator)
