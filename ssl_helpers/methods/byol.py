"""BYOL (Grill et al. 2020): no negatives; a predictor and a slowly moving (momentum) target.

    p = q(g(f(v))),  z' = g_t(f_t(v'))  (momentum copies, no gradient),  L = [D(p, z') + D(p', z)] / 2
    D = `negative_cosine` (BYOL's 2 - 2 cos is 2 + 2 D);  after each step: (f_t, g_t) <- m (f_t, g_t) + (1 - m) (f, g)

Options: momentum m (and momentum_schedule: "cosine" raises it to 1 over the run, as the paper does), hidden_dim,
out_dim, augment, predictor=False (the ablation: without the predictor BYOL can collapse).
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..losses import negative_cosine
from ..models import ProjectionHead
from .momentum import MomentumTargets, frozen_copy, momentum_option, momentum_schedule_option
from .options import option
from .two_view import TwoViewMethod, TwoViewOptions

__all__ = ["BYOLMethod", "BYOLOptions"]


@dataclasses.dataclass
class BYOLOptions(TwoViewOptions):
    momentum: float = momentum_option(0.99)
    momentum_schedule: str = momentum_schedule_option()
    predictor: bool = option(True, help="train the predictor q (False: the ablation, BYOL can collapse)")


class BYOLMethod(MomentumTargets, TwoViewMethod):
    """BYOL. Head: projector g, predictor q (or none), target_encoder f_t and target_projector g_t."""

    name = "byol"
    Options = BYOLOptions

    def make_modules(self, image_shape):
        o = self.options
        projector = self.projector()
        predictor = ProjectionHead(o.out_dim, o.hidden_dim, o.out_dim) if o.predictor else nn.Identity()
        return {"projector": projector, "predictor": predictor, "target_encoder": frozen_copy(self.encoder),
                "target_projector": frozen_copy(projector)}

    def momentum_pairs(self):
        return [(self.head["target_encoder"], self.encoder), (self.head["target_projector"], self.head["projector"])]

    def training_step(self, batch, batch_idx):
        (images,), head, n = batch, self.head, len(batch[0])
        views = self.views(images)
        p = head["predictor"](head["projector"](self.encoder(views))).float()
        with torch.no_grad():
            z = head["target_projector"](head["target_encoder"](views)).float()
        return (negative_cosine(p[:n], z[n:]) + negative_cosine(p[n:], z[:n])) / 2
