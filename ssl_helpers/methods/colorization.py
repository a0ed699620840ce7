"""Colourisation (after Zhang et al. 2016, simplified: RGB regression from grey instead of classification over
quantised ab colours; registry name "colorization")."""
from __future__ import annotations

from ..augment import rgb_to_grayscale
from ..pretext.base import Corrupted, check_images
from .pretext_task import ReconstructionTask

__all__ = ["ColorizationTask"]


class ColorizationTask(ReconstructionTask):
    """Predict colour from grey. corrupt: images -> (grey images, images, None); loss: MSE on all pixels.

    Trained on `colour_digits`, where every digit has a random foreground and background colour: the grey
    image tells where the stroke is but not which colour it has, so the best guess is an average colour
    per region, and what the encoder has to learn is mostly where the stroke and the background are.
    """

    name = "colorization"

    def corrupt(self, images, generator=None) -> Corrupted:
        return Corrupted(rgb_to_grayscale(check_images(images), channels=3), images, None)
