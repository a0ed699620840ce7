"""Self-prediction: the corruptions, as pure functions of the images and a `torch.Generator` (same seed, same
corruption). The methods that learn from them are LightningModules in `ssl_helpers.methods` (one file each):

| family | corruption (here) | method (ssl_helpers.methods) | target, head, loss |
|---|---|---|---|
| masked | `mask_patches`: random patches hidden | `masked.MaskedTask` | the image; `ConvDecoder`; MSE on hidden patches only |
| augmented | `random_rotation`: 0/90/180/270 degrees | `rotation.RotationTask` | which (4 classes); linear; cross-entropy |
| augmented | `random_jigsaw`: tiles shuffled by one of P permutations | `jigsaw.JigsawTask` | which; linear; cross-entropy |
| obscured | `hide_box`: a square hidden | `inpainting.InpaintingTask` | the image; `ConvDecoder`; MSE in the square only |
| obscured | grey (`augment.rgb_to_grayscale`) | `colorization.ColorizationTask` | the colour image; `ConvDecoder`; MSE |
| perturbed | `noisy_images`: Gaussian noise added | `denoising.DenoisingTask` | the clean image; `ConvDecoder`; MSE |

For convenience the task classes, the figures (`predictions`, `show_predictions`: matplotlib) and the scoring helpers
are also reachable from here, imported on first use only, so importing the corruptions imports neither the
methods nor matplotlib.
"""
import importlib

from .augmented import (all_rotations, jigsaw_permutations, random_jigsaw, random_rotation, rotate, shuffle_tiles,
                        unshuffle_tiles)
from .base import Corrupted, check_generator, check_images, masked_mse
from .masked import check_mask_options, mask_patches, patch_mask
from .obscured import box_mask, hide_box
from .perturbed import noisy_images

_LAZY = {
    "PretextTask": "ssl_helpers.methods.pretext_task", "ReconstructionTask": "ssl_helpers.methods.pretext_task",
    "ClassificationTask": "ssl_helpers.methods.pretext_task", "ConvDecoder": "ssl_helpers.models",
    "MaskedTask": "ssl_helpers.methods.masked", "RotationTask": "ssl_helpers.methods.rotation",
    "JigsawTask": "ssl_helpers.methods.jigsaw", "InpaintingTask": "ssl_helpers.methods.inpainting",
    "ColorizationTask": "ssl_helpers.methods.colorization", "DenoisingTask": "ssl_helpers.methods.denoising",
    "predictions": "ssl_helpers.pretext.figures", "show_predictions": "ssl_helpers.pretext.figures",
    "score_against_baselines": "ssl_helpers.pretext.scoring", "compare_to_baselines": "ssl_helpers.pretext.scoring",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ssl_helpers.pretext' has no attribute {name!r}")


__all__ = [
    "Corrupted", "check_images", "check_generator", "masked_mse",
    "check_mask_options", "patch_mask", "mask_patches",
    "rotate", "random_rotation", "all_rotations", "jigsaw_permutations", "shuffle_tiles", "unshuffle_tiles",
    "random_jigsaw", "box_mask", "hide_box", "noisy_images", *_LAZY,
]
