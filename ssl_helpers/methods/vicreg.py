"""VICReg (Bardes et al. 2022): invariance, variance and covariance terms on the two views' embeddings.

    z = g(f(v)), z' = g(f(v')),  L = lambda s(z, z') + mu [v(z) + v(z')] + nu [c(z) + c(z')]   (`vicreg_loss`)

Options: the weights (variance_weight=0: the ablation without the variance term), hidden_dim, out_dim, augment.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..losses import vicreg_loss
from ..models import ProjectionHead
from .two_view import TwoViewMethod

__all__ = ["VICRegMethod"]


class VICRegMethod(TwoViewMethod):
    """VICReg. Head: projector g."""

    name = "vicreg"
    title = "VICReg"
    recipe = dict(epochs=20, batch_size=64, lr=2e-3)

    def __init__(self, invariance_weight: float = 25.0, variance_weight: float = 25.0, covariance_weight: float = 1.0,
                 hidden_dim: int = 128, out_dim: int = 64, augment="digits"):
        super().__init__(augment=augment, invariance_weight=invariance_weight, variance_weight=variance_weight,
                         covariance_weight=covariance_weight, hidden_dim=hidden_dim, out_dim=out_dim)

    def build_modules(self, encoder, image_shape):
        return {"projector": ProjectionHead(encoder.out_dim, self.options["hidden_dim"], self.options["out_dim"])}

    def step(self, encoder: nn.Module, images: torch.Tensor, generator: Optional[torch.Generator] = None):
        z = self._require_head()["projector"](encoder(self.views(images, generator))).float()
        n, o = images.shape[0], self.options
        return vicreg_loss(z[:n], z[n:], o["invariance_weight"], o["variance_weight"], o["covariance_weight"])
