"""Remove what was added: the denoising autoencoder (Vincent et al. 2008).

    x_noisy = clip(x + sigma * eps, 0, 1),  eps ~ N(0, I);   loss = || decoder(encoder(x_noisy)) - x ||^2
"""
from __future__ import annotations



import torch

from ..augment import add_noise
from .base import check_generator, check_images

__all__ = ["noisy_images", "check_noise_level"]


def check_noise_level(noise_level):
    if isinstance(noise_level, bool) or not isinstance(noise_level, (int, float)) or noise_level < 0:
        raise ValueError(f"noise_level must be a number >= 0 (the noise's standard deviation), got {noise_level!r}")


def noisy_images(images: torch.Tensor, noise_level: float, generator: torch.Generator,
                 shared_channels: bool = False) -> torch.Tensor:
    """x_noisy = clip(x + sigma * eps, 0, 1), eps ~ N(0, I) drawn as torch.randn(images.shape, generator=generator)
    (float32 on the CPU, then moved to the images' device and dtype). images: (N, C, H, W) -> (N, C, H, W).

    shared_channels: draw one eps per pixel, (N, 1, H, W), added to every channel. A grey image then stays grey;
    with independent noise per channel, averaging the channels of a noisy grey image removes much of the noise
    without looking at the image at all, a cue a denoiser of grey images gets for free."""
    check_noise_level(noise_level)
    images = check_images(images)
    shape = (images.shape[0], 1, *images.shape[2:]) if shared_channels else images.shape
    noise = torch.randn(shape, generator=check_generator(generator)).to(images.device, images.dtype)
    return add_noise(images, noise_level, noise=noise.expand_as(images))
