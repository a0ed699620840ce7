"""Fill in what was hidden: inpainting (a hidden box) and colorization (the hidden colour).

Inpainting (Pathak et al. 2016, context encoders): a `box_size` x `box_size` square at a random place is
hidden; the network paints it back and is scored on the box only (`masked_mse`).
Colorization (Zhang et al. 2016): the network sees the grey (luminance) image and predicts the colours.
"""
from __future__ import annotations

import dataclasses

from typing import Optional

import torch

from ..augment import rgb_to_grayscale
from .base import Corrupted, ReconstructionTask, check_generator, check_images

__all__ = ["box_mask", "hide_box", "InpaintingTask", "ColorizationTask"]



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


@dataclasses.dataclass
class InpaintingOptions:
    """box_size: the side of the hidden square (px); fill: its grey."""

    box_size: int = 8
    fill: float = 0.5

    def __post_init__(self):
        if isinstance(self.box_size, bool) or not isinstance(self.box_size, int) or self.box_size < 1:
            raise ValueError(f"box_size must be a positive integer, got {self.box_size!r}")


class InpaintingTask(ReconstructionTask):
    """Paint a hidden box back. corrupt: images -> (images with a grey box, images, box mask)."""

    name = "inpainting"
    title = "inpainting"
    notebook = "04_obscured_and_perturbed"

    Options = InpaintingOptions
    box_size = property(lambda self: self.options.box_size)
    fill = property(lambda self: self.options.fill)

    def corrupt(self, images, generator=None, box_size=None) -> Corrupted:
        hidden, mask = hide_box(images, self.box_size if box_size is None else box_size, generator, self.fill)
        return Corrupted(hidden, images, mask)


class ColorizationTask(ReconstructionTask):
    """Predict colour from grey. corrupt: images -> (grey images, images, None); loss: MSE on all pixels.

    Trained on `colour_digits`, where every digit has a random foreground and background colour: the grey
    image tells where the stroke is but not which colour it has, so the best guess is an average colour
    per region, and what the encoder has to learn is mostly where the stroke and the background are.
    """

    name = "colorization"
    title = "colorization"
    notebook = "04_obscured_and_perturbed"
    data = "colour_digits"

    def corrupt(self, images, generator=None) -> Corrupted:
        return Corrupted(rgb_to_grayscale(check_images(images), channels=3), images, None)
