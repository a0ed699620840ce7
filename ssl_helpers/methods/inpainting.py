"""Inpainting (Pathak et al. 2016, simplified: no adversarial loss; registry name "inpainting"): hide a square,
paint it back; the loss counts the square only. The hiding is `ssl_helpers.pretext.hide_box`."""
from __future__ import annotations

import dataclasses

from ..pretext.base import Corrupted
from ..pretext.obscured import hide_box
from .options import MethodOptions, option, positive_int
from .pretext_task import ReconstructionTask

__all__ = ["InpaintingTask", "InpaintingOptions"]


@dataclasses.dataclass
class InpaintingOptions(MethodOptions):
    """box_size: the side of the hidden square (px); fill: its grey."""

    box_size: int = option(8, check=positive_int, help="side of the hidden square (px)")
    fill: float = option(0.5, help="the grey the hidden square is filled with")


class InpaintingTask(ReconstructionTask):
    """Paint a hidden box back. corrupt: images -> (images with a grey box, images, box mask)."""

    name = "inpainting"

    Options = InpaintingOptions
    box_size = property(lambda self: self.options.box_size)
    fill = property(lambda self: self.options.fill)

    def corrupt(self, images, generator=None, box_size=None) -> Corrupted:
        hidden, mask = hide_box(images, self.box_size if box_size is None else box_size, generator, self.fill)
        return Corrupted(hidden, images, mask)
