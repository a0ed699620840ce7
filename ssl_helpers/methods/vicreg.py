"""VICReg (Bardes et al. 2022): invariance, variance and covariance terms on the two views' embeddings.

    z = g(f(v)), z' = g(f(v')),  L = lambda s(z, z') + mu [v(z) + v(z')] + nu [c(z) + c(z')]   (`vicreg_loss`)

Options: the weights (variance_weight=0: the ablation without the variance term), hidden_dim, out_dim, augment.
"""
from __future__ import annotations

import dataclasses

from ..losses import vicreg_loss
from .options import option
from .two_view import TwoViewMethod, TwoViewOptions

__all__ = ["VICRegMethod", "VICRegOptions"]


@dataclasses.dataclass
class VICRegOptions(TwoViewOptions):
    invariance_weight: float = option(25.0, help="lambda, the weight of the invariance (mean squared distance) term")
    variance_weight: float = option(25.0, help="mu, the weight of the variance term (0: the ablation without it)")
    covariance_weight: float = option(1.0, help="nu, the weight of the covariance term")


class VICRegMethod(TwoViewMethod):
    """VICReg. Head: projector g."""

    name = "vicreg"
    Options = VICRegOptions

    def make_modules(self, image_shape):
        return {"projector": self.projector()}

    def training_step(self, batch, batch_idx):
        (images,), n, o = batch, len(batch[0]), self.options
        z = self.head["projector"](self.encoder(self.views(images))).float()
        return vicreg_loss(z[:n], z[n:], o.invariance_weight, o.variance_weight, o.covariance_weight)
