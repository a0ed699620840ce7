"""The registry of the course's pre-training methods: one `MethodSpec` per method, read without importing any method.

Adding a method is one new file (a `Method` subclass, see `methods/base.py`) and one `MethodSpec` in `REGISTRY`
below: its "module:Class" path (imported on first use by `method_class`, so each method's module is imported only
when used) and how the course presents and trains it (title, family, notebook, data, image size, recipe, quick
epochs). `method_spec` and `method_names` read the specs without importing any method; `method_class` and
`make_method` (in `methods/base.py`, next to `Method`) import the method's module.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from .spec import FAMILIES, MethodSpec

__all__ = ["REGISTRY", "method_spec", "method_names"]

_BEYOND = dict(notebook="07_beyond_negatives", image_size=12, quick_epochs=10,
               recipe=dict(epochs=20, batch_size=64, lr=2e-3))
"""What notebook 07's methods share: the digits at 12 px (as SimCLR), 20 epochs at batch 64 and lr 2e-3."""

REGISTRY: Dict[str, MethodSpec] = {spec.name: spec for spec in (
    # self-prediction (notebooks 02-04)
    MethodSpec("masked", "ssl_helpers.methods.masked:MaskedTask", "masked autoencoding (CNN)", "self-prediction",
               "02_masked_autoencoding", recipe=dict(epochs=16, batch_size=128, lr=2e-3), quick_epochs=8),
    # CPU tier, chosen on the validation split by scripts/tune_mae.py (with mask_ratio=0.5 on 16-token digits)
    MethodSpec("mae", "ssl_helpers.methods.mae:MAEMethod", "MAE (ViT)", "self-prediction", "02_masked_autoencoding",
               recipe=dict(epochs=60, batch_size=32, lr=2e-3, weight_decay=0.05, warmup_epochs=5), quick_epochs=20),
    MethodSpec("rotation", "ssl_helpers.methods.rotation:RotationTask", "rotation", "self-prediction",
               "03_augmented_rotation_jigsaw"),
    MethodSpec("jigsaw", "ssl_helpers.methods.jigsaw:JigsawTask", "jigsaw", "self-prediction",
               "03_augmented_rotation_jigsaw"),
    MethodSpec("inpainting", "ssl_helpers.methods.inpainting:InpaintingTask", "inpainting", "self-prediction",
               "04_obscured_and_perturbed"),
    MethodSpec("colorization", "ssl_helpers.methods.colorization:ColorizationTask", "colorization",
               "self-prediction", "04_obscured_and_perturbed", data="colour_digits"),
    MethodSpec("denoising", "ssl_helpers.methods.denoising:DenoisingTask", "denoising", "self-prediction",
               "04_obscured_and_perturbed"),
    # contrastive (notebook 06): the digits at 12 px (no less detail than 16 px, cheaper epochs); lr (and the
    # temperature, an option: `simclr.DIGITS_RECIPE`) chosen on the validation split by scripts/tune_simclr.py
    MethodSpec("simclr", "ssl_helpers.methods.simclr:SimCLRMethod", "SimCLR", "contrastive", "06_simclr",
               image_size=12, recipe=dict(epochs=90, batch_size=256, lr=4e-3), quick_epochs=20),
    # beyond negatives (notebook 07): a queue of negatives, then none at all
    MethodSpec("moco", "ssl_helpers.methods.moco:MoCoMethod", "MoCo v2", "contrastive", **_BEYOND),
    MethodSpec("byol", "ssl_helpers.methods.byol:BYOLMethod", "BYOL", "non-contrastive", **_BEYOND),
    MethodSpec("simsiam", "ssl_helpers.methods.simsiam:SimSiamMethod", "SimSiam", "non-contrastive", **_BEYOND),
    MethodSpec("barlow_twins", "ssl_helpers.methods.barlow_twins:BarlowTwinsMethod", "Barlow Twins",
               "non-contrastive", **_BEYOND),
    MethodSpec("vicreg", "ssl_helpers.methods.vicreg:VICRegMethod", "VICReg", "non-contrastive", **_BEYOND),
    # predicting representations (notebook 08): a hidden block's representation, a teacher's distribution.
    # I-JEPA's CPU tier: the paper's peak learning rate, starting weight decay and starting momentum (0.996, in the
    # options), sized to notebook 8's time budget. At this size and budget it does not learn beyond a random ViT:
    # neither with 20 epochs, learning rates 1e-4 to 2e-3, momentum 0.99 to 0.999, a wider predictor, nor 16 px /
    # 4 px patches (short runs tried while writing notebook 8, probed on the test split; the notebook shows why)
    MethodSpec("ijepa", "ssl_helpers.methods.ijepa:IJEPAMethod", "I-JEPA (ViT)", "representation-prediction",
               "08_predicting_representations", image_size=12,
               recipe=dict(epochs=6, batch_size=64, lr=1e-3, weight_decay=0.04, warmup_epochs=1)),
    # DINO's CPU tier: the paper's temperatures, center momentum and BatchNorm head for convnets; K, the crops and
    # the momentum scaled down for 10 epochs of 20 steps. NOT tuned on the validation split: the few short runs
    # tried while writing notebook 8 (local crops at 6 or 8 px, K = 64 or 256, momentum 0.98-0.996, lr 2e-3 or
    # 4e-3) were scored on the test split and differed by about the spread of the label draws, except T_t = 0.06
    # (worse)
    MethodSpec("dino", "ssl_helpers.methods.dino:DINOMethod", "DINO", "representation-prediction",
               "08_predicting_representations", image_size=12,
               recipe=dict(epochs=10, batch_size=64, lr=2e-3, weight_decay=0.04), quick_epochs=5),
)}


def method_spec(name: str) -> MethodSpec:
    """The `MethodSpec` registered under `name` (nothing imported)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown method {name!r}; expected one of {list(REGISTRY)}")
    return REGISTRY[name]


def method_names(family: Optional[str] = None) -> List[str]:
    """Registered method names in teaching order, optionally only one family ("self-prediction", ...)."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {list(FAMILIES)}")
    return [name for name, spec in REGISTRY.items() if family is None or spec.family == family]
