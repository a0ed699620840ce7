"""Remove what was added: the denoising autoencoder (Vincent et al. 2008).

    x_noisy = clip(x + sigma * eps, 0, 1),  eps ~ N(0, I);   loss = || decoder(encoder(x_noisy)) - x ||^2
"""
from __future__ import annotations

import dataclasses


import torch

from ..augment import add_noise
from .base import Corrupted, ReconstructionTask, check_generator, check_images

__all__ = ["DenoisingTask", "noisy_images"]


def _check_noise_level(noise_level):
    if isinstance(noise_level, bool) or not isinstance(noise_level, (int, float)) or noise_level < 0:
        raise ValueError(f"noise_level must be a number >= 0 (the noise's standard deviation), got {noise_level!r}")


def noisy_images(images: torch.Tensor, noise_level: float, generator: torch.Generator) -> torch.Tensor:
    """x_noisy = clip(x + sigma * eps, 0, 1), eps ~ N(0, I) drawn as torch.randn(images.shape, generator=generator)
    (float32 on the CPU, then moved to the images' device and dtype). images: (N, C, H, W) -> (N, C, H, W)."""
    _check_noise_level(noise_level)
    images = check_images(images)
    noise = torch.randn(images.shape, generator=check_generator(generator)).to(images.device, images.dtype)
    return add_noise(images, noise_level, noise=noise)


@dataclasses.dataclass
class DenoisingOptions:
    """noise_level: the standard deviation of the Gaussian noise added, in [0, 1]."""

    noise_level: float = 0.3

    def __post_init__(self):
        _check_noise_level(self.noise_level)


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
