"""SimSiam (Chen & He 2021): BYOL without the momentum target; the stop-gradient alone prevents collapse.

    z = g(f(v)), p = q(z);  L = [D(p, stopgrad(z')) + D(p', stopgrad(z))] / 2,   D = `negative_cosine`

Options: hidden_dim, out_dim, augment; the ablations stop_gradient=False (the loss then also pulls z towards p:
a constant output is the easy minimum, and the embeddings collapse) and predictor=False.
"""
from __future__ import annotations

import dataclasses

from torch import nn

from ..losses import negative_cosine
from ..models import ProjectionHead
from .options import option
from .two_view import TwoViewMethod, TwoViewOptions

__all__ = ["SimSiamMethod", "SimSiamOptions"]


@dataclasses.dataclass
class SimSiamOptions(TwoViewOptions):
    stop_gradient: bool = option(True, help="no gradient through the target z (False: the ablation, it collapses)")
    predictor: bool = option(True, help="train the predictor q (False: the ablation)")


class SimSiamMethod(TwoViewMethod):
    """SimSiam. Head: projector g and predictor q (or none)."""

    name = "simsiam"
    Options = SimSiamOptions

    def make_modules(self, image_shape):
        o = self.options
        return {"projector": self.projector(),
                "predictor": ProjectionHead(o.out_dim, o.hidden_dim, o.out_dim) if o.predictor else nn.Identity()}

    def training_step(self, batch, batch_idx):
        (images,), n, stop = batch, len(batch[0]), self.options.stop_gradient
        z = self.head["projector"](self.encoder(self.views(images))).float()
        p = self.head["predictor"](z)
        return (negative_cosine(p[:n], z[n:], stop) + negative_cosine(p[n:], z[:n], stop)) / 2
