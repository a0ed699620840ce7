"""Masked image modelling with a CNN (registry name "masked"): hide random patches (grey), reconstruct them; the loss
counts the hidden patches only (`masked_mse`). The masking itself is `ssl_helpers.pretext.mask_patches`."""
from __future__ import annotations

import dataclasses
from typing import Optional

import torch

from ..pretext.base import Corrupted
from ..pretext.masked import PATCH_SIZES, check_mask_options, mask_patches
from .options import MethodOptions, option
from .pretext_task import ReconstructionTask

__all__ = ["MaskedTask", "MaskedOptions"]


def _mask_ratio(name: str, value) -> None:
    check_mask_options(value, 1)


def _patch_size(name: str, value) -> None:
    check_mask_options(0.5, value)


def _patch_sizes(name: str, value) -> None:
    if value is not None:
        if not value:
            raise ValueError("patch_sizes must hold at least one patch size, got an empty sequence")
        for size in value:
            _patch_size(name, size)


@dataclasses.dataclass
class MaskedOptions(MethodOptions):
    """mask_ratio in (0, 1); patch_size (px) used when nothing else is asked; fill, the grey of hidden pixels;
    patch_sizes, the sizes drawn per batch during training (None: always `patch_size`)."""

    mask_ratio: float = option(0.5, check=_mask_ratio, help="fraction of the patches hidden, in (0, 1)")
    patch_size: int = option(4, check=_patch_size, help="side of the hidden patches (px) when nothing else is asked")
    fill: float = option(0.5, help="the grey the hidden pixels are filled with")
    patch_sizes: Optional[tuple] = option(PATCH_SIZES, check=_patch_sizes,
                                          convert=lambda sizes: None if sizes is None else tuple(sizes),
                                          help="patch sizes drawn per batch in training (None: always patch_size)")


class MaskedTask(ReconstructionTask):
    """Reconstruct hidden patches. corrupt: images -> (masked images, images, mask); loss: `masked_mse`.

    patch_sizes: the patch sizes the task trains on; each batch draws its patch size uniformly from them (with
    the step's generator), so one model knows every size. Default `PATCH_SIZES` = (1, 2, 4, 8), the sizes the
    mask explorer's slider offers on 16 px digits (each divides 16 and 32); None: always `patch_size`.
    `patch_size` stays the size used when nothing else is asked (figures, `corrupt` without a draw).
    Recipe (its `MethodSpec`): 16 epochs (each size gets a quarter of the batches; 8 were enough for one size).
    """

    name = "masked"
    saved_before = {"patch_sizes": None}  # checkpoints from before patch_sizes existed: one fixed patch size

    Options = MaskedOptions

    mask_ratio = property(lambda self: self.options.mask_ratio)
    patch_size = property(lambda self: self.options.patch_size)
    fill = property(lambda self: self.options.fill)
    patch_sizes = property(lambda self: self.options.patch_sizes)

    def trained_patch_sizes(self) -> tuple:
        """The patch sizes this task trains on: `patch_sizes`, or `(patch_size,)`."""
        return self.patch_sizes or (self.patch_size,)

    def corrupt(self, images, generator=None, mask_ratio=None, patch_size=None) -> Corrupted:
        """The task's masking; `mask_ratio` and `patch_size` override the task's own (e.g. in a widget).
        Without an override and with `patch_sizes`, the patch size is drawn per batch from `patch_sizes`."""
        if patch_size is None and self.patch_sizes:
            draw = torch.randint(len(self.patch_sizes), (1,), generator=generator,
                                 device=generator.device if generator is not None else "cpu")
            patch_size = self.patch_sizes[int(draw)]
        masked, mask = mask_patches(images, self.mask_ratio if mask_ratio is None else mask_ratio,
                                    self.patch_size if patch_size is None else patch_size, generator, self.fill)
        return Corrupted(masked, images, mask)
