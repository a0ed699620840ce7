"""Exercises of notebook 03 (rotation and jigsaw): the jigsaw tile shuffle, the labelled rotation batch, and the
rotation pretext step (the notebook's idea, its last exercise).

    all_rotations:  images (N, C, H, W) -> (rotated (4N, C, H, W), labels (4N,) long); block k (rows kN .. kN+N-1)
                    is every image turned counter-clockwise by 90k degrees, labelled k.
                    Course: `ssl_helpers.pretext.all_rotations`.
    shuffle_tiles:  images (N, C, H, W), permutations (N, T), T = g*g tiles numbered row by row ->
                    (N, C, H, W) where output tile t is input tile perm[t].
                    Course: `ssl_helpers.pretext.shuffle_tiles`.
    rotation_step:  encoder, head, images (N, C, H, W) -> the mean cross-entropy of head(encoder(.)) on the 4N
                    copies of `all_rotations` against their angle labels (a scalar tensor with a gradient).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssl_helpers.models import SmallCNN
from ssl_helpers.pretext import all_rotations as _course_rotations
from ssl_helpers.pretext import shuffle_tiles as _course_shuffle

from .base import Exercise, Mistake, seeded_module, train_steps

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
    hints=(
        "Four blocks of N rows, one per angle: block k holds every image turned counter-clockwise by 90k degrees, "
        "and each row's label is its block number k (a class index, an integer). Rows go angle by angle, not "
        "image by image.",
        "torch.rot90 turns the last two axes by k quarter turns (counter-clockwise for positive k); concatenate "
        "the four turned batches; the labels repeat each k N times in a row.",
        "rotated = torch.cat([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)]); "
        "labels = torch.arange(4).repeat_interleave(N)",
    ),
    solution_fn=solution_rotations,
    diagnose=_rotation_diagnose,
    probes=[_labels_are_long],
    grad_args=(0,),
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
    hints=(
        "Tiles are g x g squares numbered row by row; the output's tile t is the input's tile perm[t] of the same "
        "image (a gather, not a scatter), and the pixels inside a tile keep their places.",
        "Cut every image into a (T, C, H/g, W/g) stack of tiles with a reshape and a permute, pick each image's "
        "tiles in its permutation's order with advanced indexing, and paste them back with the inverse permute and "
        "reshape.",
        "tiles = images.reshape(N, C, g, H // g, g, W // g).permute(0, 2, 4, 1, 3, 5).reshape(N, T, C, H // g, "
        "W // g); tiles = tiles[torch.arange(N)[:, None], permutations]; then reshape to (N, g, g, C, H // g, "
        "W // g), permute(0, 3, 1, 4, 2, 5), reshape(N, C, H, W)",
    ),
    solution_fn=solution_shuffle_tiles,
    diagnose=_jigsaw_diagnose,
    grad_args=(0,),
)

# ----------------------------------------------------------------------------------------------------
# the rotation pretext step: (encoder, head, images) -> loss on all four angles
# ----------------------------------------------------------------------------------------------------


def course_rotation_step(encoder, head, images):
    """The course's training step of rotation prediction on every image at all four angles (Gidaris et al.):
    `all_rotations`, the encoder and the linear head on the 4N copies, cross-entropy with the angles' labels."""
    rotated, labels = _course_rotations(images)
    return F.cross_entropy(head(encoder(rotated)), labels)


def solution_rotation_step(encoder, head, images):
    # BEGIN SOLUTION
    import torch.nn.functional as F
    from ssl_helpers.pretext import all_rotations
    rotated, labels = all_rotations(images)            # (4N, C, H, W) and their angles 0..3, free labels
    logits = head(encoder(rotated))                    # (4N, 4): one pass, all 4N copies
    return F.cross_entropy(logits, labels)             # mean over the 4N copies
    # END SOLUTION


def _step(encoder, head, images, inputs="rotated", labels="grouped", use_head=True, softmax=False, nll=False,
          reduction="mean", frozen=False):
    rotated, grouped = _course_rotations(images)
    x = {"rotated": rotated, "original": images.repeat(4, 1, 1, 1)}[inputs]
    y = {"grouped": grouped, "cycled": torch.arange(4).repeat(len(images)), "zeros": torch.zeros_like(grouped)}[labels]
    features = encoder(x)
    if frozen:
        features = features.detach()
    logits = head(features) if use_head else features
    if softmax:
        logits = logits.softmax(dim=1)
    if nll:
        return F.nll_loss(logits, y, reduction=reduction)
    return F.cross_entropy(logits, y, reduction=reduction)


def _small_encoder(channels: int, size: int, dim: int = 6) -> nn.Module:
    """A tiny CNN without BatchNorm (so one batch of 4N or four batches of N give the same features)."""
    return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * size * size, dim), nn.ReLU())


def _rotation_step_cases():
    def case(n, channels, size, seed):
        def make():
            encoder = seeded_module(lambda: _small_encoder(channels, size), seed)
            head = seeded_module(lambda: nn.Linear(6, 4), seed + 1)
            images = torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))
            return encoder, head, images
        return make

    return [case(3, 1, 6, 0), case(2, 3, 4, 10), case(4, 1, 5, 20)]


def _rotation_step_diagnose(args, got, want):
    value = torch.as_tensor(got) if not isinstance(got, torch.Tensor) else got
    if value.numel() != 1:
        return (f"Return one number, the mean loss over the 4N copies (a 0-d tensor); yours has shape "
                f"{tuple(value.shape)}.")
    return None


def _rotation_demo(fn, images, steps: int = 30) -> str:
    """A fresh small CNN and linear head trained for `steps` Adam steps with `fn` on 32 of `images` (CPU)."""
    images = images[:32].float().cpu()
    encoder = seeded_module(lambda: SmallCNN(images.shape[1], width=8), 0)
    head = seeded_module(lambda: nn.Linear(encoder.out_dim, 4), 1)
    losses = train_steps(lambda i: fn(encoder, head, images), [*encoder.parameters(), *head.parameters()], steps, 3e-3)
    return (f"The rotation step in use, on a fresh small CNN: {steps} Adam steps on {len(images)} images "
            f"({4 * len(images)} rotated copies), cross-entropy {losses[0]:.3f} -> {losses[-1]:.3f} "
            f"(guessing: log 4 = 1.386)")


rotation_step_exercise = Exercise(
    name="rotation step",
    reference=course_rotation_step,
    cases=_rotation_step_cases(),
    mistakes=[
        Mistake("no head", "Your loss is on the encoder's features, read as if they were 4 logits; the head "
                "(a linear layer) maps each feature vector to the 4 angle logits: head(encoder(rotated)).",
                lambda e, h, x: _step(e, h, x, use_head=False)),
        Mistake("not rotated", "The network saw the images as they are, four times over: it must see the rotated "
                "copies, all_rotations(images)[0], or the angle cannot be read from them.",
                lambda e, h, x: _step(e, h, x, inputs="original")),
        Mistake("labels cycle", "The labels cycle 0, 1, 2, 3, 0, ... while the copies come angle by angle: take the "
                "labels all_rotations returns with the images (block k is labelled k).",
                lambda e, h, x: _step(e, h, x, labels="cycled")),
        Mistake("all zero", "Every label is 0 (the images' own labels, or zeros): the free labels of this task are "
                "the angles, 0..3, one per block of N copies.", lambda e, h, x: _step(e, h, x, labels="zeros")),
        Mistake("softmax first", "You applied softmax before F.cross_entropy, which takes raw logits (it applies "
                "log-softmax itself): the loss flattens and the gradient shrinks.",
                lambda e, h, x: _step(e, h, x, softmax=True)),
        Mistake("nll on logits", "F.nll_loss expects log-probabilities; on raw logits it is not the cross-entropy. "
                "Use F.cross_entropy(logits, labels) (or log_softmax first).",
                lambda e, h, x: _step(e, h, x, nll=True)),
        Mistake("summed", "The loss is summed over the 4N copies; take the mean (F.cross_entropy's default), so "
                "its size does not grow with the batch.", lambda e, h, x: _step(e, h, x, reduction="sum")),
        Mistake("encoder frozen", "Right value, but no gradient reaches the encoder: its features are detached (or "
                "computed under torch.no_grad()), so only the head learns, and the encoder, the part the pretext "
                "task is for, stays random.", lambda e, h, x: _step(e, h, x, frozen=True), by_gradient=True),
    ],
    hints=(
        "The labels cost nothing: turning an image by a known angle makes the angle its label. One training step "
        "shows the network every image at every angle, asks it which angle each copy was turned by, and scores "
        "the guesses; the encoder must get the gradient, since it is what the task trains.",
        "all_rotations gives the 4N turned copies and their angle labels; encoder then head turn the copies into "
        "(4N, 4) logits; cross-entropy against the labels, averaged over the copies.",
        "rotated, labels = all_rotations(images); return F.cross_entropy(head(encoder(rotated)), labels)",
    ),
    solution_fn=solution_rotation_step,
    diagnose=_rotation_step_diagnose,
    demo=_rotation_demo,
    gradient=True,
    grad_args=(),
    loss=True,
    idea=True,
)

EXERCISES = {"03_augmented_rotation_jigsaw": [jigsaw_exercise, rotations_exercise, rotation_step_exercise]}
SOLUTIONS = {"all_rotations": solution_rotations, "jigsaw_tiles": solution_shuffle_tiles,
             "rotation_step": solution_rotation_step}
