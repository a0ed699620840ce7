"""Masked image modelling (masked autoencoding, MAE-style): hide random patches, reconstruct them.

The image is cut into a grid of `patch_size` x `patch_size` patches; a fraction `mask_ratio` of them is
hidden (filled with a constant grey), and the network predicts the whole image, but is scored only on the
hidden patches (`masked_mse`): copying the visible pixels earns nothing.
"""
from __future__ import annotations

from typing import Optional

import torch

from .base import check_generator, check_images

__all__ = ["check_mask_options", "patch_mask", "mask_patches", "PATCH_SIZES"]

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
