"""DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers"): self-distillation with
no labels. A student learns to output the same distribution over K prototypes as a momentum teacher.

    views = multi_crop(x): 2 global crops (12 px) + V local crops (6 px)        (`augment.multi_crop`)
    student:  s_v = g(f(view_v)) for every view            (K logits: cosines to K prototypes, `PrototypeHead`)
    teacher:  t_i = g_t(f_t(global view i))  (no gradient; an EMA of the student, same architecture)
    L = dino_loss(s, t, center, T_s, T_t): the cross-entropy from softmax((t_i - c) / T_t) to softmax(s_v / T_s)
        over every pair of DIFFERENT views (`losses/non_contrastive.py`)
    then c <- 0.9 c + 0.1 mean(t)   (`update_center`),   (f_t, g_t) <- m (f_t, g_t) + (1 - m) (f, g)

Two things keep the teacher from collapsing, and each alone collapses differently (notebook 08 shows it):
centering (subtract the running mean c: no prototype can win for every image, but alone it pushes towards the
uniform distribution) and sharpening (a low teacher temperature T_t < T_s: confident targets, but alone one
prototype takes over). Options `centering=False` and `teacher_temperature=student_temperature` switch them off.

Simplified from the paper, for CPU-sized runs: the course's SmallCNN on 12 px digits (the paper: ViTs at 224 px),
K = 256 prototypes (65,536), 4 local crops at 6 px (6-10 at 96 px), a constant teacher momentum by default (the
paper ramps it from 0.996 to 1: `momentum_schedule="cosine"`) and a constant teacher temperature (the paper warms
T_t up from 0.04 to 0.07), no gradient clipping and no freezing of the last layer in the first epoch.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import multi_crop, preset
from ..losses import dino_loss, largest_prototype_share, teacher_entropy, update_center
from .base import Method
from .momentum import MomentumTargets, frozen_copy, momentum_option, momentum_schedule_option
from .options import MethodOptions, non_negative_int, option, positive_int, positive_number, unit_interval
from .two_view import restore_augment

__all__ = ["DINOMethod", "DINOOptions", "PrototypeHead", "RunningCenter"]


class PrototypeHead(nn.Module):
    """DINO's projection head: an MLP to a bottleneck, l2-normalised, then cosine similarity to K prototypes.

        z = MLP(h) (N, bottleneck),   logits_k = <z / |z|, w_k / |w_k|>   in [-1, 1]   (N, K)
    The last layer is DINO's weight-normalised linear layer with its norm fixed to 1 (`norm_last_layer=True`):
    each prototype w_k is a direction, and a logit is a cosine, so the temperature alone sets how peaked the
    softmax can be. The MLP: Linear, GELU, Linear, GELU, Linear, with BatchNorm after the first two linear layers
    when `batch_norm` (the paper's `use_bn_in_head`, its choice for convolutional encoders)."""

    def __init__(self, in_dim: int, hidden_dim: int = 128, bottleneck_dim: int = 64, prototypes: int = 256,
                 batch_norm: bool = True):
        super().__init__()
        norm = (lambda: nn.BatchNorm1d(hidden_dim)) if batch_norm else nn.Identity
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), norm(), nn.GELU(), nn.Linear(hidden_dim, hidden_dim),
                                 norm(), nn.GELU(), nn.Linear(hidden_dim, bottleneck_dim))
        self.prototypes = nn.Parameter(torch.empty(prototypes, bottleneck_dim))
        nn.init.trunc_normal_(self.prototypes, std=0.02)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = F.normalize(self.mlp(h), dim=-1)
        return z @ F.normalize(self.prototypes, dim=-1).T


class RunningCenter(nn.Module):
    """DINO's center c (1, K), a buffer saved with the head: `update(teacher_logits)` applies `update_center`."""

    def __init__(self, prototypes: int, momentum: float = 0.9):
        super().__init__()
        self.momentum = float(momentum)
        self.register_buffer("value", torch.zeros(1, prototypes))

    @torch.no_grad()
    def update(self, teacher_logits) -> None:
        self.value.copy_(update_center(self.value, teacher_logits, self.momentum))


@dataclasses.dataclass
class DINOOptions(MethodOptions):
    """prototypes K, hidden_dim and bottleneck_dim of the head (head_batch_norm: BatchNorm in its MLP); the temperatures T_s and T_t; centering and
    center_momentum; momentum m of the teacher; multi-crop: global_crops at the image size with global_scale (area
    fraction), local_crops at local_size px with local_scale; augment: the preset (or `Augment`) both start from."""

    prototypes: int = option(256, check=positive_int, help="K, the number of prototypes (the head's outputs)")
    hidden_dim: int = option(128, check=positive_int, help="hidden width of the head's MLP")
    bottleneck_dim: int = option(64, check=positive_int,
                                 help="width of the l2-normalised bottleneck before the prototypes")
    head_batch_norm: bool = option(True, help="BatchNorm in the head's MLP (the paper's choice for convnets)")
    student_temperature: float = option(0.1, check=positive_number, help="T_s, the student's softmax temperature")
    teacher_temperature: float = option(0.04, check=positive_number,
                                        help="T_t, the teacher's softmax temperature (below T_s: sharpening)")
    centering: bool = option(True, help="subtract the running center c from the teacher's logits")
    center_momentum: float = option(0.9, check=unit_interval, help="momentum of the center's moving average")
    momentum: float = momentum_option(0.99, "teacher")
    momentum_schedule: str = momentum_schedule_option()
    global_crops: int = option(2, check=positive_int, help="global crops per image, at the image size")
    local_crops: int = option(4, check=non_negative_int, help="local crops per image, at local_size px")
    local_size: int = option(6, check=positive_int, help="side of the local crops (px)")
    global_scale: Tuple[float, float] = option((0.4, 1.0), convert=tuple,
                                               help="area fraction (min, max) of the global crops")
    local_scale: Tuple[float, float] = option((0.2, 0.5), convert=tuple,
                                              help="area fraction (min, max) of the local crops")
    augment: Any = option("digits", convert=restore_augment,
                          help="the crops' augmentation: a preset name of ssl_helpers.augment (or an Augment)")

    def check_together(self):
        if self.global_crops + self.local_crops < 2:
            raise ValueError("DINO needs at least 2 views (a view is never compared with itself)")


class DINOMethod(MomentumTargets, Method):
    """DINO. Head: `projector` g (a `PrototypeHead`), the teacher `target_encoder` f_t and `target_projector` g_t
    (frozen copies moved by `momentum_update`), and `center` (a `RunningCenter`)."""

    name = "dino"
    generator_on_device = True
    Options = DINOOptions

    def make_head(self, image_shape) -> nn.Module:
        o = self.options
        size = image_shape[-1]
        if isinstance(o.augment, str):
            self.global_augment = preset(o.augment, size, crop_scale=o.global_scale)
            self.local_augment = preset(o.augment, o.local_size, crop_scale=o.local_scale)
        else:
            self.global_augment = o.augment.with_(size=size, crop_scale=o.global_scale)
            self.local_augment = o.augment.with_(size=o.local_size, crop_scale=o.local_scale)
        projector = PrototypeHead(self.encoder.out_dim, o.hidden_dim, o.bottleneck_dim, o.prototypes,
                                  o.head_batch_norm)
        return nn.ModuleDict({"projector": projector, "target_encoder": frozen_copy(self.encoder),
                              "target_projector": frozen_copy(projector),
                              "center": RunningCenter(o.prototypes, o.center_momentum)})

    def momentum_pairs(self):
        return [(self.head["target_encoder"], self.encoder), (self.head["target_projector"], self.head["projector"])]

    def views(self, images: torch.Tensor) -> list:
        """The multi-crop views of `images`: global_crops (N, C, S, S), then local_crops (N, C, s, s)."""
        o = self.options
        return multi_crop(images, self.global_augment, self.local_augment, o.global_crops, o.local_crops,
                          self.generator)

    def student(self, views: list) -> list:
        """The student's logits for every view (one forward pass per resolution)."""
        g = self.options.global_crops
        logits = []
        for group in (views[:g], views[g:]):
            if group:
                out = self.head["projector"](self.encoder(torch.cat(group))).float()
                logits.extend(out.chunk(len(group)))
        return logits

    @torch.no_grad()
    def teacher(self, global_views: list) -> list:
        """The teacher's logits for the global views (no gradient)."""
        head = self.head
        out = head["target_projector"](head["target_encoder"](torch.cat(global_views))).float()
        return list(out.chunk(len(global_views)))

    def training_step(self, batch, batch_idx):
        (images,), o = batch, self.options
        views = self.views(images)
        student, teacher = self.student(views), self.teacher(views[:o.global_crops])
        loss = dino_loss(student, teacher, self.head["center"].value, o.student_temperature, o.teacher_temperature)
        if o.centering:
            self.head["center"].update(teacher)   # after the loss, as DINO's code: c follows the teacher's mean
        return loss

    @torch.no_grad()
    def teacher_diagnostics(self, images: torch.Tensor, generator=None) -> dict:
        """The teacher's collapse diagnostics on global views of `images` (drawn from `generator`), with the current
        center and T_t: `teacher_entropy` (log K: uniform; 0: one-hot) and `largest_prototype_share` (1: one
        prototype for every image), and log K for scale."""
        o = self.options
        views = [self.global_augment(images, generator) for _ in range(o.global_crops)]
        teacher, center = self.teacher(views), self.head["center"].value
        return {"teacher entropy": float(teacher_entropy(teacher, center, o.teacher_temperature)),
                "largest prototype share": float(largest_prototype_share(teacher, center, o.teacher_temperature)),
                "log K": math.log(o.prototypes)}
