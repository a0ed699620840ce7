"""SimCLR (Chen et al. 2020): two random views of each image, pulled together by NT-Xent.

    x -> two views t(x), t'(x) -> encoder f -> h (the representation we keep) -> head g -> z -> NT-Xent(z, z')

Both views go through the network in one batch, so BatchNorm sees all 2N views. When a `lightning.Trainer` trains
it in several processes (DDP), `nt_xent` gathers the views of every process (`gather=self.distributed()`), so each
view has the negatives of the whole global batch.
"""
from __future__ import annotations

import dataclasses

from torch import nn

from ..losses import nt_xent
from .registry import method_spec
from .options import option, positive_number
from .two_view import TwoViewMethod, TwoViewOptions

__all__ = ["SimCLRMethod", "SimCLROptions", "DIGITS_IMAGE_SIZE", "DIGITS_RECIPE"]

DIGITS_IMAGE_SIZE = method_spec("simclr").image_size
"""The CPU tier's SimCLR trains on the digits at 12 px (no less detail than 16 px, cheaper epochs)."""
DIGITS_RECIPE = {**method_spec("simclr").recipe, "temperature": 0.5}
"""SimCLR's settings for the digits (with `augment.preset("digits", 12)`): lr and temperature chosen on the
validation split by `scripts/tune_simclr.py` (`ssl_helpers/tuning/simclr_validation.csv`, shown in notebook 06);
the registry's recipe plus the temperature, an option."""


@dataclasses.dataclass
class SimCLROptions(TwoViewOptions):
    """temperature T of NT-Xent; projection=False puts the loss on h = f(x) itself (no head g: an ablation)."""

    temperature: float = option(DIGITS_RECIPE["temperature"], check=positive_number,
                                help="temperature T of NT-Xent (lower: sharper, harder negatives)")
    projection: bool = option(True, help="train through the projection head g (False: the loss on h = f(x))")


class SimCLRMethod(TwoViewMethod):
    """SimCLR: two augmented views, encoder f, head g, NT-Xent.

        x (N, C, H, W) -> views v = t(x), v' = t'(x) -> z = g(f(v)), z' = g(f(v')) (N, out_dim) -> NT-Xent(z, z', T)

    Options (`SimCLROptions`): temperature T; augment, a preset name of `ssl_helpers.augment` (views at the image
    size) or an `Augment`; hidden_dim, out_dim of the `ProjectionHead`; projection. The views are drawn on the
    training device (`generator_on_device`), so a GPU is not starved by the CPU. The head is the projection head
    itself (not a dict of modules), as the shipped checkpoints store it.
    """

    name = "simclr"
    Options = SimCLROptions

    def make_modules(self, image_shape) -> nn.Module:
        return self.projector() if self.options.projection else nn.Identity()

    def training_step(self, batch, batch_idx):
        (images,), n = batch, len(batch[0])
        z = self.head(self.encoder(self.views(images))).float()
        return nt_xent(z[:n], z[n:], self.options.temperature, gather=self.distributed())
