"""VICReg (Bardes et al. 2022): invariance, variance and covariance terms on the two views' embeddings.

    z = g(f(v)), z' = g(f(v')),  L = lambda s(z, z') + mu [v(z) + v(z')] + nu [c(z) + c(z')]   (`vicreg_loss`)

Options: the weights (variance_weight=0: the ablation without the variance term), hidden_dim, out_dim, augment.
"""
from __future__ import annotations

import dataclasses

from ..losses import vicreg_loss
from .two_view import TwoViewMethod, TwoViewOptions

__all__ = ["VICRegMethod", "VICRegOptions"]


@dataclasses.dataclass
class VICRegOptions(TwoViewOptions):
    invariance_weight: float = 25.0
    variance_weight: float = 25.0
    covariance_weight: float = 1.0


class VICRegMethod(TwoViewMethod):
    """VICReg. Head: projector g."""

    name = "vicreg"
    title = "VICReg"
    recipe = dict(epochs=20, batch_size=64, lr=2e-3)
    Options = VICRegOptions

    def make_modules(self, image_shape):
        return {"projector": self.projector()}

    def training_step(self, batch, batch_idx):
        (images,), n, o = batch, len(batch[0]), self.options
        z = self.head["projector"](self.encoder(self.views(images))).float()
        return vicreg_loss(z[:n], z[n:], o.invariance_weight, o.variance_weight, o.covariance_weight)
