"""SimCLR (Chen et al. 2020): two random views of each image, pulled together by NT-Xent.

    x -> two views t(x), t'(x) -> encoder f -> h (the representation we keep) -> head g -> z -> NT-Xent(z, z')

Both views go through the network in one batch, so BatchNorm sees all 2N views. Inside a `torch.distributed`
process group (a DDP run of `lightning.Trainer`), `nt_xent` gathers the views of every process, so each view has
the negatives of the whole global batch.
"""
from __future__ import annotations

import dataclasses

from torch import nn

from ..losses import nt_xent
from ..models import ProjectionHead
from .base import Method
from .two_view import TwoViewOptions, augment_for, two_views

__all__ = ["SimCLRMethod", "SimCLROptions", "DIGITS_IMAGE_SIZE", "DIGITS_RECIPE"]

DIGITS_IMAGE_SIZE = 12
"""The CPU tier's SimCLR trains on the digits at 12 px (no less detail than 16 px, cheaper epochs)."""
DIGITS_RECIPE = dict(epochs=90, batch_size=256, lr=4e-3, temperature=0.5)
"""SimCLR's settings for the digits (with `augment.preset("digits", 12)`): lr and temperature chosen on the
validation split by `scripts/tune_simclr.py` (`ssl_helpers/tuning/simclr_validation.csv`, shown in notebook 06)."""


@dataclasses.dataclass
class SimCLROptions(TwoViewOptions):
    """temperature T of NT-Xent; projection=False puts the loss on h = f(x) itself (no head g: an ablation)."""

    temperature: float = DIGITS_RECIPE["temperature"]
    projection: bool = True

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or not self.temperature > 0:
            raise ValueError(f"temperature must be a positive number, got {self.temperature!r}")


class SimCLRMethod(Method):
    """SimCLR: two augmented views, encoder f, head g, NT-Xent.

        x (N, C, H, W) -> views v = t(x), v' = t'(x) -> z = g(f(v)), z' = g(f(v')) (N, out_dim) -> NT-Xent(z, z', T)

    Options (`SimCLROptions`): temperature T; augment, a preset name of `ssl_helpers.augment` (views at the image
    size) or an `Augment`; hidden_dim, out_dim of the `ProjectionHead`; projection. The views are drawn on the
    training device (`generator_on_device`), so a GPU is not starved by the CPU.
    """

    name = "simclr"
    title = "SimCLR"
    family = "contrastive"
    notebook = "06_simclr"
    image_size = DIGITS_IMAGE_SIZE
    recipe = {k: v for k, v in DIGITS_RECIPE.items() if k != "temperature"}
    quick_epochs = 20
    generator_on_device = True
    Options = SimCLROptions

    def make_head(self, image_shape) -> nn.Module:
        self.augment = augment_for(self.options.augment, image_shape[-1])
        o = self.options
        return ProjectionHead(self.encoder.out_dim, o.hidden_dim, o.out_dim) if o.projection else nn.Identity()

    def training_step(self, batch, batch_idx):
        (images,), n = batch, len(batch[0])
        z = self.head(self.encoder(two_views(self.augment, images, self.generator))).float()
        return nt_xent(z[:n], z[n:], self.options.temperature)
