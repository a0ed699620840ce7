"""Barlow Twins (Zbontar et al. 2021): make the cross-correlation matrix of the two views' embeddings the identity.

    z = g(f(v)), z' = g(f(v')),  L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2   (`barlow_twins_loss`)

Options: offdiag_weight lambda (0: the ablation without redundancy reduction), hidden_dim, out_dim, augment.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..losses import barlow_twins_loss
from ..models import ProjectionHead
from .two_view import TwoViewMethod

__all__ = ["BarlowTwinsMethod"]


class BarlowTwinsMethod(TwoViewMethod):
    """Barlow Twins. Head: projector g."""

    name = "barlow_twins"
    title = "Barlow Twins"
    recipe = dict(epochs=20, batch_size=64, lr=2e-3)

    def __init__(self, offdiag_weight: float = 0.05, hidden_dim: int = 128, out_dim: int = 64, augment="digits"):
        super().__init__(augment=augment, offdiag_weight=offdiag_weight, hidden_dim=hidden_dim, out_dim=out_dim)

    def build_modules(self, encoder, image_shape):
        return {"projector": ProjectionHead(encoder.out_dim, self.options["hidden_dim"], self.options["out_dim"])}

    def embed_views(self, encoder: nn.Module, images: torch.Tensor, generator: Optional[torch.Generator] = None):
        """(z, z'): the projections of two views of `images`, (N, out_dim) each."""
        z = self._require_head()["projector"](encoder(self.views(images, generator))).float()
        return z[:images.shape[0]], z[images.shape[0]:]

    def step(self, encoder: nn.Module, images: torch.Tensor, generator: Optional[torch.Generator] = None):
        return barlow_twins_loss(*self.embed_views(encoder, images, generator), self.options["offdiag_weight"])
