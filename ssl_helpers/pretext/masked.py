"""Masked image modelling (masked autoencoding, MAE-style): hide random patches, reconstruct them.

The image is cut into a grid of `patch_size` x `patch_size` patches; a fraction `mask_ratio` of them is
hidden (filled with a constant grey), and the network predicts the whole image, but is scored only on the
hidden patches (`masked_mse`): copying the visible pixels earns nothing.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import torch

from .base import Corrupted, ReconstructionTask, check_generator, check_images

__all__ = ["check_mask_options", "patch_mask", "mask_patches", "MaskedTask", "MaskedOptions", "PATCH_SIZES"]

PATCH_SIZES = (1, 2, 4, 8)  # what MaskedTask trains over by default: the mask explorer's slider on 16 px digits


def check_mask_options(mask_ratio: float, patch_size: int, image_size=None):
    """Raise a clear error unless 0 < mask_ratio < 1 and patch_size divides both image sides (if given)."""
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)) or not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be a number strictly between 0 and 1, got {mask_ratio!r}")
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    if image_size is None:
        return
    height, width = image_size
    if height % patch_size or width % patch_size:
        divisors = [d for d in range(1, min(height, width) + 1) if height % d == 0 and width % d == 0]
        raise ValueError(f"patch_size={patch_size} does not divide the image size {height}x{width}; "
                         f"use one of {divisors}")


def patch_mask(n: int, image_size, mask_ratio: float, patch_size: int,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """A random patch mask per image: (n, 1, H, W) float, 1 on hidden pixels.

    Each image hides exactly `round(mask_ratio * L)` of its L = (H / p) * (W / p) patches (at least 1, at
    most L - 1), chosen uniformly: the first ones of a random permutation, as in MAE.
    """
    check_mask_options(mask_ratio, patch_size, image_size)
    generator = check_generator(generator)
    rows, cols = image_size[0] // patch_size, image_size[1] // patch_size
    patches = rows * cols
    if patches < 2:
        raise ValueError(f"patch_size={patch_size} leaves a single patch on a {image_size[0]}x{image_size[1]} "
                         f"image; nothing would stay visible. Use a smaller patch_size")
    hidden = min(patches - 1, max(1, round(mask_ratio * patches)))
    order = torch.rand(n, patches, generator=generator).argsort(dim=1)
    grid = torch.zeros(n, patches)
    grid.scatter_(1, order[:, :hidden], 1.0)
    grid = grid.view(n, 1, rows, cols)
    return grid.repeat_interleave(patch_size, dim=2).repeat_interleave(patch_size, dim=3)


def mask_patches(images: torch.Tensor, mask_ratio: float = 0.5, patch_size: int = 4,
                 generator: Optional[torch.Generator] = None, fill: float = 0.5):
    """Hide random patches: x_masked = (1 - m) * x + m * fill.

    images: (N, C, H, W) -> (masked images (N, C, H, W), mask (N, 1, H, W) with 1 on hidden pixels).
    """
    images = check_images(images)
    mask = patch_mask(images.shape[0], images.shape[-2:], mask_ratio, patch_size, generator)
    mask = mask.to(images.device, images.dtype)
    return images * (1 - mask) + fill * mask, mask


@dataclasses.dataclass
class MaskedOptions:
    """mask_ratio in (0, 1); patch_size (px) used when nothing else is asked; fill, the grey of hidden pixels;
    patch_sizes, the sizes drawn per batch during training (None: always `patch_size`)."""

    mask_ratio: float = 0.5
    patch_size: int = 4
    fill: float = 0.5
    patch_sizes: Optional[tuple] = PATCH_SIZES

    def __post_init__(self):
        check_mask_options(self.mask_ratio, self.patch_size)
        if self.patch_sizes is not None:
            self.patch_sizes = tuple(self.patch_sizes)
            if not self.patch_sizes:
                raise ValueError("patch_sizes must hold at least one patch size, got an empty sequence")
            for size in self.patch_sizes:
                check_mask_options(self.mask_ratio, size)


class MaskedTask(ReconstructionTask):
    """Reconstruct hidden patches. corrupt: images -> (masked images, images, mask); loss: `masked_mse`.

    patch_sizes: the patch sizes the task trains on; each batch draws its patch size uniformly from them (with
    the step's generator), so one model knows every size. Default `PATCH_SIZES` = (1, 2, 4, 8), the sizes the
    mask explorer's slider offers on 16 px digits (each divides 16 and 32); None: always `patch_size`.
    `patch_size` stays the size used when nothing else is asked (figures, `corrupt` without a draw).
    Recipe: 16 epochs (each size gets a quarter of the batches; 8 epochs were enough for one size).
    """

    name = "masked"
    title = "masked autoencoding (CNN)"
    notebook = "02_masked_autoencoding"
    recipe = dict(epochs=16, batch_size=128, lr=2e-3)
    quick_epochs = 8
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
