"""Every pre-training method of the course: one `lightning.LightningModule` each (`Method`), one registry by name.

    from ssl_helpers.methods import make_method, pretrain, save_method, load_or_pretrain, method_names
    method = make_method("masked", mask_ratio=0.75)
    encoder, history = pretrain(method, train.images)        # the course's lightning.Trainer, a progress bar
    save_method(method)                                       # -> checkpoints/masked.pt
    method, encoder, info = load_or_pretrain("simclr")        # later: yours, else the shipped one, else a quick one

Adding a method is one new file (a `Method` subclass, see `methods/base.py`) and one `MethodSpec` in `REGISTRY`
(`methods/registry.py`): its "module:Class" path (imported on first use, so each method's module is imported only
when used) and how the course presents and trains it (title, family, notebook, data, image size, recipe, quick
epochs). `method_spec` and `method_names` read the specs without importing any method.
"""
from __future__ import annotations

from .base import Method, make_method, method_class
from .options import MethodOptions, option
from .registry import REGISTRY, method_names, method_spec
from .spec import FAMILIES, MethodSpec  # noqa: F401 (FAMILIES: importable from here too)
from .training import load_method, load_or_pretrain, pretrain, save_method

__all__ = ["Method", "MethodSpec", "MethodOptions", "option", "REGISTRY", "method_spec", "method_class",
           "method_names", "make_method", "pretrain", "save_method", "load_method", "load_or_pretrain"]
