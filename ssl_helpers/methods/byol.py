"""BYOL (Grill et al. 2020): no negatives; a predictor and a slowly moving (momentum) target.

    p = q(g(f(v))),  z' = g_t(f_t(v'))  (momentum copies, no gradient),  L = [D(p, z') + D(p', z)] / 2
    D = `negative_cosine` (BYOL's 2 - 2 cos is 2 + 2 D);  after each step: (f_t, g_t) <- m (f_t, g_t) + (1 - m) (f, g)

Options: momentum m, hidden_dim, out_dim, augment, predictor=False (the ablation: without the predictor
BYOL can collapse).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..losses import negative_cosine
from ..models import ProjectionHead
from .two_view import TwoViewMethod, frozen_copy, momentum_update

__all__ = ["BYOLMethod"]


class BYOLMethod(TwoViewMethod):
    """BYOL. Head: projector g, predictor q (or none), target_encoder f_t and target_projector g_t."""

    name = "byol"
    title = "BYOL"
    recipe = dict(epochs=20, batch_size=64, lr=2e-3)

    def __init__(self, momentum: float = 0.99, hidden_dim: int = 128, out_dim: int = 64, predictor: bool = True,
                 augment="digits"):
        super().__init__(augment=augment, momentum=momentum, hidden_dim=hidden_dim, out_dim=out_dim,
                         predictor=predictor)

    def build_modules(self, encoder, image_shape):
        o = self.options
        projector = ProjectionHead(encoder.out_dim, o["hidden_dim"], o["out_dim"])
        predictor = ProjectionHead(o["out_dim"], o["hidden_dim"], o["out_dim"]) if o["predictor"] else nn.Identity()
        return {"projector": projector, "predictor": predictor, "target_encoder": frozen_copy(encoder),
                "target_projector": frozen_copy(projector)}

    def step(self, encoder: nn.Module, images: torch.Tensor, generator: Optional[torch.Generator] = None):
        head = self._require_head()
        n = images.shape[0]
        views = self.views(images, generator)
        p = head["predictor"](head["projector"](encoder(views))).float()
        with torch.no_grad():
            z = head["target_projector"](head["target_encoder"](views)).float()
        return (negative_cosine(p[:n], z[n:]) + negative_cosine(p[n:], z[:n])) / 2

    def after_step(self, encoder: nn.Module) -> None:
        head = self._require_head()
        momentum_update(head["target_encoder"], encoder, self.options["momentum"])
        momentum_update(head["target_projector"], head["projector"], self.options["momentum"])
