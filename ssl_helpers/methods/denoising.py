"""Denoising (after Vincent et al. 2008, simplified: Gaussian instead of their masking noise; registry name
"denoising"): add noise, remove it. The noise is `ssl_helpers.pretext.noisy_images`."""
from __future__ import annotations

import dataclasses

from ..pretext.base import Corrupted, check_images
from ..pretext.perturbed import check_noise_level, noisy_images
from .options import MethodOptions, option
from .pretext_task import ReconstructionTask

__all__ = ["DenoisingTask", "DenoisingOptions"]


@dataclasses.dataclass
class DenoisingOptions(MethodOptions):
    """noise_level: the standard deviation of the Gaussian noise added, in [0, 1]; shared_channels: one noise value
    per pixel, added to every channel (a grey image stays grey: no free "make it grey" cue), instead of one per
    channel."""

    noise_level: float = option(0.3, check=lambda name, value: check_noise_level(value),
                                help="standard deviation of the Gaussian noise added, in [0, 1]")
    shared_channels: bool = option(False, help="one noise value per pixel for every channel (grey stays grey)")


class DenoisingTask(ReconstructionTask):
    """Remove Gaussian noise. corrupt: images -> (noisy images, images, None); loss: MSE on all pixels.

    Simplified from Vincent et al. (2008), whose denoising autoencoders used masking noise (a random fraction of the
    inputs set to 0), the ancestor of masked autoencoding; `shared_channels` adds the same noise to R, G and B."""

    name = "denoising"

    Options = DenoisingOptions
    noise_level = property(lambda self: self.options.noise_level)

    def corrupt(self, images, generator=None, noise_level=None) -> Corrupted:
        level = self.noise_level if noise_level is None else noise_level
        images = check_images(images)
        return Corrupted(noisy_images(images, level, generator, self.options.shared_channels), images, None)
