"""Fill in what was hidden: inpainting (a hidden box) and colorization (the hidden colour).

Inpainting (Pathak et al. 2016, context encoders): a `box_size` x `box_size` square at a random place is
hidden; the network paints it back and is scored on the box only (`masked_mse`).
Colorization (Zhang et al. 2016): the network sees the grey (luminance) image and predicts the colours.
"""
from __future__ import annotations


from typing import Optional

import torch

from .base import check_generator, check_images

__all__ = ["box_mask", "hide_box"]



def _check_box_size(box_size, image_size):
    height, width = image_size
    if isinstance(box_size, bool) or not isinstance(box_size, int) or not 1 <= box_size <= min(height, width):
        raise ValueError(f"box_size must be an integer from 1 to {min(height, width)} (the image is "
                         f"{height}x{width}), got {box_size!r}")


def box_mask(n: int, image_size, box_size: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One square box per image at a uniformly random position inside it: (n, 1, H, W), 1 inside the box."""
    _check_box_size(box_size, image_size)
    generator = check_generator(generator)
    height, width = image_size
    top = torch.randint(0, height - box_size + 1, (n,), generator=generator)
    left = torch.randint(0, width - box_size + 1, (n,), generator=generator)
    rows = torch.arange(height)[None, :] - top[:, None]  # (n, H)
    cols = torch.arange(width)[None, :] - left[:, None]  # (n, W)
    inside_rows = (rows >= 0) & (rows < box_size)
    inside_cols = (cols >= 0) & (cols < box_size)
    return (inside_rows[:, :, None] & inside_cols[:, None, :]).float().unsqueeze(1)


def hide_box(images: torch.Tensor, box_size: int = 8, generator: Optional[torch.Generator] = None,
             fill: float = 0.5):
    """Hide a random square: x_hidden = (1 - m) * x + m * fill.

    images: (N, C, H, W) -> (hidden images (N, C, H, W), mask (N, 1, H, W) with 1 inside the box).
    """
    images = check_images(images)
    mask = box_mask(images.shape[0], images.shape[-2:], box_size, generator).to(images.device, images.dtype)
    return images * (1 - mask) + fill * mask, mask
