"""Barlow Twins (Zbontar et al. 2021): make the cross-correlation matrix of the two views' embeddings the identity.

    z = g(f(v)), z' = g(f(v')),  L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2   (`barlow_twins_loss`)

Options: offdiag_weight lambda (0: the ablation without redundancy reduction), hidden_dim, out_dim, augment.
"""
from __future__ import annotations

import dataclasses

import torch

from ..losses import barlow_twins_loss
from .options import option
from .two_view import TwoViewMethod, TwoViewOptions

__all__ = ["BarlowTwinsMethod", "BarlowTwinsOptions"]


@dataclasses.dataclass
class BarlowTwinsOptions(TwoViewOptions):
    offdiag_weight: float = option(0.05, help="lambda, the off-diagonal terms' weight (0: no redundancy reduction)")


class BarlowTwinsMethod(TwoViewMethod):
    """Barlow Twins. Head: projector g."""

    name = "barlow_twins"
    Options = BarlowTwinsOptions

    def make_modules(self, image_shape):
        return {"projector": self.projector()}

    def embed_views(self, images: torch.Tensor):
        """(z, z'): the projections of two views of `images`, (N, out_dim) each."""
        z = self.head["projector"](self.encoder(self.views(images))).float()
        return z[:images.shape[0]], z[images.shape[0]:]

    def training_step(self, batch, batch_idx):
        return barlow_twins_loss(*self.embed_views(batch[0]), self.options.offdiag_weight)
