"""What the registry knows about a method without importing it: `MethodSpec`, one frozen record per method.

The `Method` class (a LightningModule) keeps what training needs; how the course presents and schedules the method
(its title in tables, its family and notebook, the data, image size and recipe of its CPU tier, the length of a
quick stand-in) is its `MethodSpec` in `ssl_helpers/methods/registry.py`'s `REGISTRY`.
"""
from __future__ import annotations

import dataclasses
import types
from typing import Mapping

__all__ = ["MethodSpec", "FAMILIES", "DEFAULT_RECIPE"]

FAMILIES = ("self-prediction", "contrastive", "non-contrastive", "representation-prediction")
"""The method families, in teaching order."""

DEFAULT_RECIPE = types.MappingProxyType(dict(epochs=8, batch_size=128, lr=2e-3))
"""The CPU tier's `pretrain` defaults of a method whose spec gives no recipe."""


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """A registered method, described without importing it.

        name          registry key and checkpoint file name (`<checkpoint dir>/<name>.pt`); the class's `name`
        path          "module:Class", imported on first use (`method_class`)
        title         how tables print it
        family        "self-prediction", "contrastive", "non-contrastive" or "representation-prediction"
        notebook      the notebook that teaches it (e.g. "06_simclr")
        data          the embedded dataset its CPU tier trains on ("digits" or "colour_digits")
        image_size    the image size its CPU tier trains at (px)
        recipe        `pretrain` defaults for the CPU tier (epochs, batch_size, lr, ...; read-only)
        quick_epochs  epochs of the quick stand-in a later notebook trains when the checkpoint is missing
    """

    name: str
    path: str
    title: str
    family: str
    notebook: str
    data: str = "digits"
    image_size: int = 16
    recipe: Mapping = dataclasses.field(default_factory=lambda: DEFAULT_RECIPE)
    quick_epochs: int = 4

    def __post_init__(self):
        module, colon, attribute = self.path.partition(":")
        if not (module and colon and attribute):
            raise ValueError(f"the {self.name} method's path must be 'module:Class', got {self.path!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"the {self.name} method's family must be one of {list(FAMILIES)}, got {self.family!r}")
        object.__setattr__(self, "recipe", types.MappingProxyType(dict(self.recipe)))
