"""Inpainting (Pathak et al. 2016, simplified: no adversarial loss; registry name "inpainting"): hide a square,
paint it back; the loss counts the square only. The hiding is `ssl_helpers.pretext.hide_box`."""
from __future__ import annotations

import dataclasses

from ..pretext.base import Corrupted
from ..pretext.obscured import hide_box
from .pretext_task import ReconstructionTask

__all__ = ["InpaintingTask", "InpaintingOptions"]


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
