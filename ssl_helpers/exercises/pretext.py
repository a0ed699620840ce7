"""Exercises of notebook 03 (rotation and jigsaw): the labelled rotation batch and the jigsaw tile shuffle.

    all_rotations:  images (N, C, H, W) -> (rotated (4N, C, H, W), labels (4N,) long); block k (rows kN .. kN+N-1)
                    is every image turned counter-clockwise by 90k degrees, labelled k.
                    Course: `ssl_helpers.pretext.all_rotations`.
    shuffle_tiles:  images (N, C, H, W), permutations (N, T), T = g*g tiles numbered row by row ->
                    (N, C, H, W) where output tile t is input tile perm[t].
                    Course: `ssl_helpers.pretext.shuffle_tiles`.
"""
from __future__ import annotations

import torch

from ssl_helpers.pretext import all_rotations as _course_rotations
from ssl_helpers.pretext import shuffle_tiles as _course_shuffle

from .base import Exercise, Mistake

# ----------------------------------------------------------------------------------------------------
# all four rotations, labelled: (N, C, H, W) -> (4N, C, H, W), (4N,)
# ----------------------------------------------------------------------------------------------------


def solution_rotations(images):
    # BEGIN SOLUTION
    import torch
    n = images.shape[0]
    rotated = torch.cat([torch.rot90(images, k, dims=(2, 3)) for k in range(4)])   # (4N, C, H, W), angle by angle
    labels = torch.arange(4).repeat_interleave(n)                                 # [0]*N + [1]*N + [2]*N + [3]*N
    return rotated, labels
    # END SOLUTION


def _rot(images, k):
    return torch.rot90(images, k, dims=(-2, -1))


def _grouped_labels(n):
    return torch.arange(4).repeat_interleave(n)


def _clockwise(images):
    return torch.cat([_rot(images, -k) for k in range(4)]), _grouped_labels(len(images))


def _labels_repeat(images):
    return torch.cat([_rot(images, k) for k in range(4)]), torch.arange(4).repeat(len(images))


def _image_by_image(images):
    stacked = torch.stack([_rot(images, k) for k in range(4)], dim=1)          # (N, 4, C, H, W)
    return stacked.flatten(0, 1), torch.arange(4).repeat(len(images))


def _degrees(images):
    return torch.cat([_rot(images, k) for k in range(4)]), 90 * _grouped_labels(len(images))


def _off_by_one(images):
    return torch.cat([_rot(images, k) for k in range(1, 5)]), _grouped_labels(len(images))


def _rotation_cases():
    def random(n, c, size, dtype=torch.float32, seed=0):
        def make():
            return (torch.randn(n, c, size, size, generator=torch.Generator().manual_seed(seed), dtype=dtype),)
        return make

    def identical():                       # a batch of identical images: only the angle tells the rows apart
        return (torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(3)).expand(3, -1, -1, -1).clone(),)

    return [random(2, 1, 4), random(3, 3, 6, seed=1), random(2, 2, 5, torch.float64, seed=2), identical]


def _rotation_diagnose(args, got, want):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "Return two tensors: (rotated (4N, C, H, W), labels (4N,))."
    rotated, labels = (torch.as_tensor(t) for t in got)
    if rotated.shape != want[0].shape:
        return (f"rotated should be (4N, C, H, W) = {tuple(want[0].shape)}; yours is {tuple(rotated.shape)} "
                f"(torch.rot90 turns dims=(0, 1) unless told dims=(-2, -1)).")
    if labels.shape != want[1].shape:
        return f"labels should be (4N,) = {tuple(want[1].shape)}; yours is {tuple(labels.shape)}."
    if torch.allclose(rotated.double(), want[0].double()):
        return "The images are right; the labels are not: row k*N + i holds a turn by 90k degrees, labelled k."
    return None


def _labels_are_long(fn):
    _, labels = fn(torch.zeros(2, 1, 2, 2))
    if torch.as_tensor(labels).dtype != torch.long:
        return (f"Right values, but labels are {torch.as_tensor(labels).dtype}: cross-entropy needs class indices "
                f"as torch.long (torch.arange gives them).")
    return None


rotations_exercise = Exercise(
    name="all rotations",
    reference=_course_rotations,
    cases=_rotation_cases(),
    mistakes=[
        Mistake("clockwise", "Your images turn clockwise; label k means 90k degrees counter-clockwise, which is "
                "torch.rot90(images, k, dims=(-2, -1)) (a negative k, or dims=(-1, -2), turns the other way).",
                _clockwise),
        Mistake("labels repeat", "The images are grouped by angle, but the labels cycle 0, 1, 2, 3, 0, ...: "
                "they must follow the images, torch.arange(4).repeat_interleave(N).", _labels_repeat),
        Mistake("image by image", "Your rows go image by image (each image's four turns together); the statement "
                "asks angle by angle: all N images at 0 degrees, then all N at 90, ... (torch.cat over k).",
                _image_by_image),
        Mistake("degrees", "Your labels are angles in degrees (0, 90, 180, 270); they are class indices 0..3 for "
                "cross-entropy.", _degrees),
        Mistake("off by one", "Your first block is turned by 90 degrees: k runs over 0, 1, 2, 3 (label 0 is the "
                "image as it is).", _off_by_one),
    ],
    hint_text=("torch.cat([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)]) stacks the blocks angle by "
               "angle; the labels are torch.arange(4).repeat_interleave(N)."),
    solution_fn=solution_rotations,
    diagnose=_rotation_diagnose,
    probes=[_labels_are_long],
)


# ----------------------------------------------------------------------------------------------------
# jigsaw: output tile t is input tile perm[t]
# ----------------------------------------------------------------------------------------------------


def solution_shuffle_tiles(images, permutations):
    # BEGIN SOLUTION
    import math

    import torch
    n, c, h, w = images.shape
    g = math.isqrt(permutations.shape[1])                       # g x g tiles
    th, tw = h // g, w // g
    tiles = images.reshape(n, c, g, th, g, tw).permute(0, 2, 4, 1, 3, 5).reshape(n, g * g, c, th, tw)
    tiles = tiles[torch.arange(n)[:, None], permutations]      # output tile t = input tile perm[t]
    return tiles.reshape(n, g, g, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(n, c, h, w)
    # END SOLUTION


def _cut(images, g):
    n, c, h, w = images.shape
    return images.reshape(n, c, g, h // g, g, w // g).permute(0, 2, 4, 1, 3, 5)          # (N, g, g, C, th, tw)


def _paste(tiles):
    n, g, _, c, th, tw = tiles.shape
    return tiles.permute(0, 3, 1, 4, 2, 5).reshape(n, c, g * th, g * tw)


def _apply(images, permutations, g=None):
    g = g or round(permutations.shape[1] ** 0.5)
    tiles = _cut(images, g).flatten(1, 2)                                                  # (N, T, C, th, tw)
    picked = tiles[torch.arange(len(images))[:, None], permutations]
    return _paste(picked.unflatten(1, (g, g)))


def _scatter(images, permutations):
    return _apply(images, permutations.argsort(dim=1))


def _columns(images, permutations):
    g = round(permutations.shape[1] ** 0.5)
    tiles = _cut(images, g).transpose(1, 2).flatten(1, 2)                                  # numbered down columns
    picked = tiles[torch.arange(len(images))[:, None], permutations].unflatten(1, (g, g)).transpose(1, 2)
    return _paste(picked)


def _strips(images, permutations):
    n, t = permutations.shape
    chunks = images.reshape(n, t, -1)                                                      # contiguous strips
    return chunks[torch.arange(n)[:, None], permutations].reshape(images.shape)


def _first_permutation(images, permutations):
    return _apply(images, permutations[:1].expand_as(permutations))


def _tiles_transposed(images, permutations):
    g = round(permutations.shape[1] ** 0.5)
    tiles = _cut(images, g).flatten(1, 2)
    picked = tiles[torch.arange(len(images))[:, None], permutations].transpose(-2, -1)
    return _paste(picked.unflatten(1, (g, g)))


def _jigsaw_cases():
    def random(n, c, size, g, dtype=torch.float32, seed=0):
        def make():
            gen = torch.Generator().manual_seed(seed)
            images = torch.randn(n, c, size, size, generator=gen, dtype=dtype)
            perms = torch.stack([torch.randperm(g * g, generator=gen) for _ in range(n)])
            return images, perms
        return make

    def cycles():                          # N = 2, 3-cycles: a permutation differs from its inverse
        images = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
        return images, torch.tensor([[1, 2, 0, 3], [3, 0, 1, 2]])

    def identical():                       # identical images, identity and non-identity permutations
        image = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(7))
        return image.expand(3, -1, -1, -1).clone(), torch.tensor([[0, 1, 2, 3], [2, 0, 3, 1], [3, 2, 1, 0]])

    return [cycles, random(4, 3, 8, 2), random(2, 1, 9, 3, torch.float64, seed=1), identical]


def _jigsaw_diagnose(args, got, want):
    images, _ = args
    if not isinstance(got, torch.Tensor) or got.shape != images.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return f"The shuffled images keep the input's shape {tuple(images.shape)}; yours is {shape}."
    return None


jigsaw_exercise = Exercise(
    name="jigsaw tiles",
    reference=_course_shuffle,
    cases=_jigsaw_cases(),
    mistakes=[
        Mistake("scatter", "You sent input tile t to position perm[t] (the inverse permutation); the course "
                "gathers: output tile t is input tile perm[t].", _scatter),
        Mistake("columns", "Your tiles are numbered down the columns; they are numbered row by row: tile "
                "t = row * g + column.", _columns),
        Mistake("strips", "A plain reshape to (N, T, -1) cuts strips of memory, not g x g squares: reshape to "
                "(N, C, g, H/g, g, W/g) and permute the two grid axes to the front.", _strips),
        Mistake("first permutation", "Every image got the first image's permutation; image i is shuffled by "
                "permutations[i].", _first_permutation),
        Mistake("tiles transposed", "Each tile comes out transposed (its rows and columns swapped): check the "
                "permute that pastes the tiles back, (N, C, g, H/g, g, W/g).", _tiles_transposed),
    ],
    hint_text=("Cut: images.reshape(N, C, g, H/g, g, W/g).permute(0, 2, 4, 1, 3, 5).reshape(N, T, C, H/g, W/g); "
               "pick tiles[torch.arange(N)[:, None], permutations]; paste back with the inverse reshape/permute."),
    solution_fn=solution_shuffle_tiles,
    diagnose=_jigsaw_diagnose,
)

EXERCISES = {"03_augmented_rotation_jigsaw": [jigsaw_exercise, rotations_exercise]}
SOLUTIONS = {"all_rotations": solution_rotations, "jigsaw_tiles": solution_shuffle_tiles}
