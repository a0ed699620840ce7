"""Denoising (after Vincent et al. 2008, with Gaussian instead of masking noise; registry name "denoising"): add
noise, remove it. The noise is `ssl_helpers.pretext.noisy_images`."""
from __future__ import annotations

import dataclasses

from ..pretext.base import Corrupted, check_images
from ..pretext.perturbed import check_noise_level, noisy_images
from .pretext_task import ReconstructionTask

__all__ = ["DenoisingTask", "DenoisingOptions"]


@dataclasses.dataclass
class DenoisingOptions:
    """noise_level: the standard deviation of the Gaussian noise added, in [0, 1]."""

    noise_level: float = 0.3

    def __post_init__(self):
        check_noise_level(self.noise_level)


class DenoisingTask(ReconstructionTask):
    """Remove Gaussian noise. corrupt: images -> (noisy images, images, None); loss: MSE on all pixels."""

    name = "denoising"
    title = "denoising"
    notebook = "04_obscured_and_perturbed"

    Options = DenoisingOptions
    noise_level = property(lambda self: self.options.noise_level)

    def corrupt(self, images, generator=None, noise_level=None) -> Corrupted:
        level = self.noise_level if noise_level is None else noise_level
        images = check_images(images)
        return Corrupted(noisy_images(images, level, generator), images, None)
