"""Rotation prediction (Gidaris et al. 2018; registry name "rotation"): rotate by 0/90/180/270 degrees, predict
which. The rotations are `ssl_helpers.pretext.random_rotation`."""
from __future__ import annotations

from ..pretext.augmented import random_rotation
from ..pretext.base import Corrupted
from .pretext_task import ClassificationTask

__all__ = ["RotationTask"]


class RotationTask(ClassificationTask):
    """Gidaris et al. (2018): rotate by 0/90/180/270 degrees, predict which (4 classes, cross-entropy)."""

    name = "rotation"
    num_classes = 4

    def corrupt(self, images, generator=None) -> Corrupted:
        rotated, labels = random_rotation(images, generator)
        return Corrupted(rotated, labels, None)
