"""SimSiam (Chen & He 2021): BYOL without the momentum target; the stop-gradient alone prevents collapse.

    z = g(f(v)), p = q(z);  L = [D(p, stopgrad(z')) + D(p', stopgrad(z))] / 2,   D = `negative_cosine`

Options: hidden_dim, out_dim, augment; the ablations stop_gradient=False (the loss then also pulls z towards p:
a constant output is the easy minimum, and the embeddings collapse) and predictor=False.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..losses import negative_cosine
from ..models import ProjectionHead
from .two_view import TwoViewMethod

__all__ = ["SimSiamMethod"]


class SimSiamMethod(TwoViewMethod):
    """SimSiam. Head: projector g and predictor q (or none)."""

    name = "simsiam"
    title = "SimSiam"
    recipe = dict(epochs=20, batch_size=64, lr=2e-3)

    def __init__(self, hidden_dim: int = 128, out_dim: int = 64, stop_gradient: bool = True, predictor: bool = True,
                 augment="digits"):
        super().__init__(augment=augment, hidden_dim=hidden_dim, out_dim=out_dim, stop_gradient=stop_gradient,
                         predictor=predictor)

    def build_modules(self, encoder, image_shape):
        o = self.options
        return {"projector": ProjectionHead(encoder.out_dim, o["hidden_dim"], o["out_dim"]),
                "predictor": (ProjectionHead(o["out_dim"], o["hidden_dim"], o["out_dim"]) if o["predictor"]
                              else nn.Identity())}

    def step(self, encoder: nn.Module, images: torch.Tensor, generator: Optional[torch.Generator] = None):
        head = self._require_head()
        n = images.shape[0]
        z = head["projector"](encoder(self.views(images, generator))).float()
        p = head["predictor"](z)
        stop = self.options["stop_gradient"]
        return (negative_cosine(p[:n], z[n:], stop) + negative_cosine(p[n:], z[:n], stop)) / 2
