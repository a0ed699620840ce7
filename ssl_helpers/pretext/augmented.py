"""Predict which transformation was applied: rotation (0/90/180/270 degrees) and jigsaw (tile order).

Neither needs a decoder: the head is one linear layer on the pooled features. To tell an upright digit
from a rotated one, or a shuffled one from a whole one, the encoder has to know what digits look like.
"""
from __future__ import annotations

import itertools
from typing import Optional

import numpy as np
import torch

from .base import check_generator, check_images

__all__ = ["rotate", "random_rotation", "all_rotations", "jigsaw_permutations", "shuffle_tiles", "unshuffle_tiles",
           "random_jigsaw"]


def rotate(images: torch.Tensor, quarter_turns) -> torch.Tensor:
    """Rotate each image counter-clockwise by 90 * k degrees.

    images: (N, C, H, W) with H == W; quarter_turns: an int or (N,) ints (any integer; taken modulo 4).
    `rotate(rotate(x, k), -k) == x`.
    """
    images = check_images(images)
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"rotation needs square images, got {images.shape[-2]}x{images.shape[-1]}")
    k = torch.as_tensor(quarter_turns, dtype=torch.long).cpu()
    if k.ndim == 0:
        return torch.rot90(images, int(k) % 4, dims=(-2, -1))
    if k.shape != (images.shape[0],):
        raise ValueError(f"quarter_turns must be an int or have shape ({images.shape[0]},), got {tuple(k.shape)}")
    out = images.clone()
    for turn in range(1, 4):
        chosen = torch.nonzero(k % 4 == turn).flatten().to(images.device)
        if len(chosen):
            out[chosen] = torch.rot90(images[chosen], turn, dims=(-2, -1))
    return out


def random_rotation(images: torch.Tensor, generator: Optional[torch.Generator] = None):
    """Rotate each image by a random multiple of 90 degrees: -> (rotated (N, C, H, W), labels k (N,) in 0..3)."""
    labels = torch.randint(0, 4, (check_images(images).shape[0],), generator=check_generator(generator))
    return rotate(images, labels), labels.to(images.device)


def all_rotations(images: torch.Tensor):
    """Every image at all four angles, labelled (Gidaris et al. 2018 train on all four copies of each image).

    images: (N, C, H, W) with H == W -> (rotated (4N, C, H, W), labels (4N,) long): block k, rows k*N .. k*N + N - 1,
    holds the N images turned counter-clockwise by 90 * k degrees (`rotate(images, k)`), each labelled k.
    """
    images = check_images(images)
    rotated = torch.cat([rotate(images, k) for k in range(4)])
    labels = torch.arange(4, device=images.device).repeat_interleave(images.shape[0])
    return rotated, labels


def jigsaw_permutations(grid: int = 2, count: Optional[int] = None, seed: int = 0) -> torch.Tensor:
    """A fixed set of tile permutations: (count, grid * grid) long, row i is permutation i.

    With `count` None (or all grid^2! of them) every permutation, identity first. Otherwise the set of
    Noroozi & Favaro (2016): start from the identity and greedily add the permutation farthest (in Hamming
    distance) from those chosen so far, so that the classes are easy to tell apart. Deterministic for a seed.
    """
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
        raise ValueError(f"grid must be an integer >= 2, got {grid!r}")
    tiles = grid * grid
    every = np.array(list(itertools.permutations(range(tiles))), dtype=np.int64)
    if count is None or count >= len(every):
        return torch.from_numpy(every)
    if count < 2:
        raise ValueError(f"count must be at least 2 (or None for all permutations), got {count}")
    rng = np.random.default_rng(seed)
    chosen = [0]
    distance = (every != every[0]).sum(1)
    for _ in range(count - 1):
        farthest = np.flatnonzero(distance == distance.max())
        pick = int(rng.choice(farthest))
        chosen.append(pick)
        distance = np.minimum(distance, (every != every[pick]).sum(1))
    return torch.from_numpy(every[chosen])


def _tiles(images: torch.Tensor, grid: int) -> torch.Tensor:
    n, c, h, w = images.shape
    if h % grid or w % grid:
        raise ValueError(f"grid={grid} does not divide the image size {h}x{w}")
    th, tw = h // grid, w // grid
    return images.reshape(n, c, grid, th, grid, tw).permute(0, 2, 4, 1, 3, 5).reshape(n, grid * grid, c, th, tw)


def _untile(tiles: torch.Tensor, grid: int) -> torch.Tensor:
    n, _, c, th, tw = tiles.shape
    return tiles.reshape(n, grid, grid, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(n, c, grid * th, grid * tw)


def shuffle_tiles(images: torch.Tensor, permutations: torch.Tensor) -> torch.Tensor:
    """Cut each image into a grid of tiles and rearrange them: output tile t is input tile perm[t].

    images: (N, C, H, W); permutations: (N, T) with T = grid^2 tiles in row-major order.
    """
    images = check_images(images)
    permutations = torch.as_tensor(permutations, dtype=torch.long)
    grid = int(round(permutations.shape[-1] ** 0.5))
    if permutations.shape != (images.shape[0], grid * grid):
        raise ValueError(f"permutations must have shape (N, grid^2) = ({images.shape[0]}, T), "
                         f"got {tuple(permutations.shape)}")
    tiles = _tiles(images, grid)
    index = permutations.to(images.device)[:, :, None, None, None].expand_as(tiles)
    return _untile(tiles.gather(1, index), grid)


def unshuffle_tiles(shuffled: torch.Tensor, permutations: torch.Tensor) -> torch.Tensor:
    """Undo `shuffle_tiles`: apply the inverse permutations (argsort), so the original image comes back."""
    return shuffle_tiles(shuffled, torch.as_tensor(permutations, dtype=torch.long).argsort(dim=1))


def random_jigsaw(images: torch.Tensor, permutations: torch.Tensor, generator: Optional[torch.Generator] = None):
    """Shuffle each image's tiles by one permutation drawn from the fixed set `permutations` (P, T):
    -> (shuffled (N, C, H, W), labels (N,) in 0..P-1, the row of `permutations` that was applied)."""
    labels = torch.randint(0, len(permutations), (check_images(images).shape[0],),
                           generator=check_generator(generator))
    return shuffle_tiles(images, permutations[labels]), labels.to(images.device)
