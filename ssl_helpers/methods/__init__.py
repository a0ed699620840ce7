"""Every pre-training method of the course: one `lightning.LightningModule` each (`Method`), one registry by name.

    from ssl_helpers.methods import make_method, pretrain, save_method, load_or_pretrain, method_names
    method = make_method("masked", mask_ratio=0.75)
    encoder, history = pretrain(method, train.images)        # the course's lightning.Trainer, a progress bar
    save_method(method)                                       # -> checkpoints/masked.pt
    method, encoder, info = load_or_pretrain("simclr")        # later: yours, else the shipped one, else a quick one

Adding a method is one new file (a `Method` subclass, see `methods/base.py`) and one line in `REGISTRY`.
Entries are "module:Class" strings, imported on first use, so each method's module is imported only when used.
"""
from __future__ import annotations

import importlib
from typing import Dict, List, Optional, Union

from .base import Method

REGISTRY: Dict[str, str] = {
    # self-prediction (notebooks 02-04)
    "masked": "ssl_helpers.methods.masked:MaskedTask",
    "mae": "ssl_helpers.methods.mae:MAEMethod",
    "rotation": "ssl_helpers.methods.rotation:RotationTask",
    "jigsaw": "ssl_helpers.methods.jigsaw:JigsawTask",
    "inpainting": "ssl_helpers.methods.inpainting:InpaintingTask",
    "colorization": "ssl_helpers.methods.colorization:ColorizationTask",
    "denoising": "ssl_helpers.methods.denoising:DenoisingTask",
    # contrastive (notebook 06)
    "simclr": "ssl_helpers.methods.simclr:SimCLRMethod",
    # beyond negatives (notebook 07): a queue of negatives, then none at all
    "moco": "ssl_helpers.methods.moco:MoCoMethod",
    "byol": "ssl_helpers.methods.byol:BYOLMethod",
    "simsiam": "ssl_helpers.methods.simsiam:SimSiamMethod",
    "barlow_twins": "ssl_helpers.methods.barlow_twins:BarlowTwinsMethod",
    "vicreg": "ssl_helpers.methods.vicreg:VICRegMethod",
    # predicting representations (notebook 08): a hidden block's representation, a teacher's distribution
    "ijepa": "ssl_helpers.methods.ijepa:IJEPAMethod",
    "dino": "ssl_helpers.methods.dino:DINOMethod",
}


def method_class(name: str) -> type:
    """The `Method` subclass registered under `name`."""
    if name not in REGISTRY:
        raise ValueError(f"unknown method {name!r}; expected one of {list(REGISTRY)}")
    module, _, attribute = REGISTRY[name].partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    if not (isinstance(cls, type) and issubclass(cls, Method)) or cls.name != name:
        raise TypeError(f"REGISTRY[{name!r}] = {REGISTRY[name]!r} is not a Method subclass named {name!r}")
    return cls


def method_names(family: Optional[str] = None) -> List[str]:
    """Registered method names in teaching order, optionally only one family ("self-prediction", ...)."""
    return [name for name in REGISTRY if family is None or method_class(name).family == family]


def make_method(name: Union[str, Method], **options) -> Method:
    """A method by name with its options (e.g. `make_method("masked", mask_ratio=0.75)`); a method passes through."""
    if isinstance(name, Method):
        if options:
            raise ValueError("options can only be given with a method name, not with a method object")
        return name
    return method_class(name)(**options)


from .training import load_method, load_or_pretrain, pretrain, save_method  # noqa: E402

__all__ = ["Method", "REGISTRY", "method_class", "method_names", "make_method", "pretrain", "save_method",
           "load_method", "load_or_pretrain"]
