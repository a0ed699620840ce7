"""Jigsaw (Noroozi & Favaro 2016, simplified; registry name "jigsaw"): shuffle the tiles by one of a fixed set of
permutations, predict which. The shuffling is `ssl_helpers.pretext.random_jigsaw`."""
from __future__ import annotations

import dataclasses
from typing import Optional

from ..pretext.augmented import jigsaw_permutations, random_jigsaw
from ..pretext.base import Corrupted
from .options import MethodOptions, option
from .pretext_task import ClassificationTask

__all__ = ["JigsawTask", "JigsawOptions"]


@dataclasses.dataclass
class JigsawOptions(MethodOptions):
    """grid x grid tiles; count permutations in the fixed set (None: all grid^2! of them), chosen with seed."""

    grid: int = option(2, help="tiles per side: grid x grid tiles")
    count: Optional[int] = option(None, help="permutations in the fixed set (None: all grid^2! of them)")
    seed: int = option(0, help="seed of the choice of the permutations")


class JigsawTask(ClassificationTask):
    """Noroozi & Favaro (2016), simplified: shuffle a grid x grid tiling of the whole image by one of a fixed
    set of permutations and predict which one (cross-entropy over the set)."""

    name = "jigsaw"

    Options = JigsawOptions

    def __init__(self, **options):
        super().__init__(**options)
        o = self.options
        self.permutations = jigsaw_permutations(o.grid, o.count, o.seed)
        self.num_classes = len(self.permutations)

    def corrupt(self, images, generator=None) -> Corrupted:
        shuffled, labels = random_jigsaw(images, self.permutations, generator)
        return Corrupted(shuffled, labels, None)
