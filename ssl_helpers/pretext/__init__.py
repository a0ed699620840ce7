"""Self-prediction pretext tasks: hide or change part of an input and predict it back.

| family | task | corrupt: input -> target | head | loss |
|---|---|---|---|---|
| masked | `MaskedTask` | random patches hidden -> the image | `ConvDecoder` | MSE on hidden patches only |
| augmented | `RotationTask` | rotated by 0/90/180/270 -> which (4 classes) | linear | cross-entropy |
| augmented | `JigsawTask` | tiles shuffled by one of P permutations -> which | linear | cross-entropy |
| obscured | `InpaintingTask` | a square hidden -> the image | `ConvDecoder` | MSE in the square only |
| obscured | `ColorizationTask` | grey -> the colour image | `ConvDecoder` | MSE |
| perturbed | `DenoisingTask` | Gaussian noise added -> the clean image | `ConvDecoder` | MSE |

Every corruption is a pure function of the images and a `torch.Generator` (same seed, same corruption).
Every task is a `ssl_helpers.methods.Method`, registered by name: `ssl_helpers.methods.pretrain(task, images)`
trains any of them with `ssl_helpers.train.fit`, `save_method` / `load_or_pretrain` store and restore them.
"""
from .augmented import (JigsawTask, RotationTask, all_rotations, jigsaw_permutations, random_jigsaw, random_rotation,
                        rotate, shuffle_tiles, unshuffle_tiles)
from .base import ClassificationTask, ConvDecoder, Corrupted, PretextTask, ReconstructionTask, masked_mse
from .figures import predictions, show_predictions
from .masked import MaskedTask, check_mask_options, mask_patches, patch_mask
from .obscured import ColorizationTask, InpaintingTask, box_mask, hide_box
from .perturbed import DenoisingTask, noisy_images
from .scoring import compare_to_baselines, score_against_baselines

__all__ = [
    "PretextTask", "ReconstructionTask", "ClassificationTask", "Corrupted", "ConvDecoder", "masked_mse",
    "MaskedTask", "check_mask_options", "patch_mask", "mask_patches",
    "RotationTask", "JigsawTask", "rotate", "random_rotation", "all_rotations", "jigsaw_permutations", "shuffle_tiles",
    "unshuffle_tiles", "random_jigsaw",
    "InpaintingTask", "ColorizationTask", "box_mask", "hide_box",
    "DenoisingTask", "noisy_images",
    "score_against_baselines", "compare_to_baselines", "predictions", "show_predictions",
]
