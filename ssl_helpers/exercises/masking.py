"""Exercises of notebook 02 (masked autoencoders): cutting images into patch tokens, and MAE's random masking.

    patchify:  images (N, C, H, W) -> tokens (N, L, p*p*C), L = (H/p)(W/p), token l = r*(W/p) + c (row by row),
               each token lists its pixels in (y, x, channel) order.  Course: `ssl_helpers.mae.patchify`.
    masking:   noise (N, L) -> ids_keep (N, K), mask (N, L), ids_restore (N, L) by argsort of the noise,
               K = round((1 - mask_ratio) L).  Course: `ssl_helpers.mae.masking_from_noise`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_helpers.mae import masking_from_noise as _course_masking
from ssl_helpers.mae import patchify as _course_patchify

from .base import Exercise, Mistake

# ----------------------------------------------------------------------------------------------------
# patchify: (N, C, H, W) -> (N, L, p*p*C)
# ----------------------------------------------------------------------------------------------------


def solution_patchify(images, patch):
    # BEGIN SOLUTION
    n, c, h, w = images.shape
    rows, cols = h // patch, w // patch
    x = images.reshape(n, c, rows, patch, cols, patch)       # (N, C, r, y, c', x)
    x = x.permute(0, 2, 4, 3, 5, 1)                          # (N, r, c', y, x, C): tokens row by row
    return x.reshape(n, rows * cols, patch * patch * c)      # (N, L, p*p*C), pixels in (y, x, channel) order
    # END SOLUTION


def _channel_first(images, p):
    """F.unfold's order inside a token: (channel, y, x)."""
    return F.unfold(images, kernel_size=p, stride=p).transpose(1, 2)


def _unfold_not_transposed(images, p):
    return F.unfold(images, kernel_size=p, stride=p)


def _column_major(images, p):
    n, c, h, w = images.shape
    x = images.reshape(n, c, h // p, p, w // p, p).permute(0, 4, 2, 3, 5, 1)   # columns outside, rows inside
    return x.reshape(n, (h // p) * (w // p), p * p * c)


def _no_permute(images, p):
    n, c, h, w = images.shape
    return images.reshape(n, (h // p) * (w // p), p * p * c)


def _x_before_y(images, p):
    n, c, h, w = images.shape
    x = images.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 5, 3, 1)   # (x, y, channel) inside a token
    return x.reshape(n, (h // p) * (w // p), p * p * c)


def _patchify_cases():
    def random(n, c, h, w, p, dtype=torch.float32, seed=0):
        def make():
            g = torch.Generator().manual_seed(seed)
            return torch.randn(n, c, h, w, generator=g, dtype=dtype), p
        return make

    def identical():                       # a batch of identical images: every image gives the same tokens
        g = torch.Generator().manual_seed(3)
        return torch.rand(1, 3, 4, 4, generator=g).expand(3, -1, -1, -1).contiguous(), 2

    return [random(2, 3, 8, 8, 4), random(2, 1, 8, 12, 4, seed=1),        # N = 2; H != W: rows vs columns
            random(3, 3, 6, 6, 3, torch.float64, seed=2), random(2, 3, 4, 4, 1, seed=4),   # float64; p = 1
            identical]


def _patchify_diagnose(args, got, want):
    images, p = args
    h, w = images.shape[-2:]
    if not isinstance(got, torch.Tensor):
        return f"Return a tensor of shape (N, L, p*p*C), not {type(got).__name__}."
    if got.shape != want.shape:
        return (f"For images {tuple(images.shape)} and patch {p} the tokens have shape (N, L, p*p*C) = "
                f"{tuple(want.shape)} (L = (H/p)(W/p) = {(h // p) * (w // p)}); yours is {tuple(got.shape)}.")
    if torch.equal(got.flatten(1).sort(dim=1).values, want.flatten(1).sort(dim=1).values):
        return ("The right pixel values, in the wrong places: tokens go row by row (l = r * W/p + c) and each lists "
                "its pixels in (y, x, channel) order.")
    return None


patchify_exercise = Exercise(
    name="patchify",
    reference=_course_patchify,
    cases=_patchify_cases(),
    mistakes=[
        Mistake("channel first", "Inside a token the pixels are in (channel, y, x) order (F.unfold's); the course "
                "lists them in (y, x, channel) order: permute the channel axis last.", _channel_first),
        Mistake("unfold not transposed", "Your tokens are (N, p*p*C, L): F.unfold puts the patch vector first; "
                "transpose to (N, L, p*p*C), and mind the order inside a token: (y, x, channel).",
                _unfold_not_transposed),
        Mistake("column major", "Your tokens go down the columns first; the course numbers them row by row: "
                "token l = r * (W/p) + c.", _column_major),
        Mistake("no permute", "A plain reshape cuts each image into strips of memory, not p x p squares: reshape to "
                "(N, C, H/p, p, W/p, p), permute, then reshape.", _no_permute),
        Mistake("x before y", "Inside a token your pixels run column by column (x before y): each patch comes out "
                "transposed. The order is (y, x, channel).", _x_before_y),
    ],
    hint_text=("images.reshape(N, C, H/p, p, W/p, p) names the axes (C, row, y, column, x); permute them to "
               "(N, row, column, y, x, C) and reshape to (N, L, p*p*C)."),
    solution_fn=solution_patchify,
    diagnose=_patchify_diagnose,
)


# ----------------------------------------------------------------------------------------------------
# random masking from given noise: (N, L) -> ids_keep (N, K), mask (N, L), ids_restore (N, L)
# ----------------------------------------------------------------------------------------------------


def solution_masking(noise, mask_ratio):
    # BEGIN SOLUTION
    import torch
    n, length = noise.shape
    keep = round((1 - mask_ratio) * length)                  # K visible tokens per image
    ids_shuffle = torch.argsort(noise, dim=1, stable=True)   # smallest noise first: a random order per image
    ids_restore = torch.argsort(ids_shuffle, dim=1)          # the inverse permutation
    mask = torch.ones(n, length, device=noise.device)
    mask[:, :keep] = 0                                       # 0 = kept, in shuffled order ...
    mask = torch.gather(mask, 1, ids_restore)                # ... put back in image order
    return ids_shuffle[:, :keep], mask, ids_restore
    # END SOLUTION


def _masking(noise, mask_ratio, keep=None, descending=False, restore=True, sort_keep=False):
    n, length = noise.shape
    keep = round((1 - mask_ratio) * length) if keep is None else keep
    ids_shuffle = torch.argsort(noise, dim=1, descending=descending, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones(n, length)
    mask[:, :keep] = 0
    if restore:
        mask = mask.gather(1, ids_restore)
    ids_keep = ids_shuffle[:, :keep]
    return (ids_keep.sort(dim=1).values if sort_keep else ids_keep), mask, ids_restore


def _restore_is_shuffle(noise, r):
    ids_keep, mask, _ = _masking(noise, r)
    return ids_keep, mask, torch.argsort(noise, dim=1, stable=True)


def _mask_inverted(noise, r):
    ids_keep, mask, ids_restore = _masking(noise, r)
    return ids_keep, 1 - mask, ids_restore


def _bool_mask(noise, r):
    ids_keep, mask, ids_restore = _masking(noise, r)
    return ids_keep, mask.bool(), ids_restore


def _masking_cases():
    def random(n, length, r, dtype=torch.float32, seed=0):
        def make():
            return torch.rand(n, length, generator=torch.Generator().manual_seed(seed), dtype=dtype), r
        return make

    def ties():                             # equal noise: a stable sort keeps the token order
        return torch.tensor([[0.5, 0.5, 0.1, 0.5, 0.1, 0.9], [0.2, 0.2, 0.2, 0.2, 0.2, 0.2]]), 0.5

    def identical():                        # every image gets the same noise, hence the same mask
        return torch.rand(1, 8, generator=torch.Generator().manual_seed(5)).expand(3, -1).contiguous(), 0.75

    return [random(2, 16, 0.75), random(3, 7, 0.5, torch.float64, seed=1),      # K = round(3.5) = 4, not 3
            random(2, 10, 0.0, seed=2), random(4, 9, 0.6, seed=3), ties, identical]


def _masking_diagnose(args, got, want):
    noise, r = args
    n, length = noise.shape
    keep = want[0].shape[1]
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return "Return three tensors: (ids_keep (N, K), mask (N, L), ids_restore (N, L))."
    ids_keep, mask, ids_restore = (torch.as_tensor(t) for t in got)
    if ids_keep.shape != (n, keep):
        return (f"ids_keep should be (N, K) with K = round((1 - mask_ratio) * L) = round({1 - r:g} * {length}) = "
                f"{keep} kept tokens per image; yours is {tuple(ids_keep.shape)}.")
    if mask.shape != (n, length) or ids_restore.shape != (n, length):
        return f"mask and ids_restore must both be (N, L) = {(n, length)}."
    if mask.dtype == torch.bool:
        return "mask must be a float tensor of 0s and 1s (the loss multiplies by it), not bool."
    if not torch.equal(ids_restore.sort(dim=1).values, torch.arange(length).expand(n, -1)):
        return "ids_restore is not a permutation of 0..L-1 in each row."
    ids_shuffle = torch.argsort(noise, dim=1, stable=True)
    if not torch.equal(ids_shuffle.gather(1, ids_restore.long()), torch.arange(length).expand(n, -1)):
        return ("ids_restore does not undo the shuffle: ids_shuffle.gather(1, ids_restore) must give 0..L-1 "
                "(ids_restore = argsort(ids_shuffle)).")
    if not torch.equal(mask.gather(1, ids_keep.long()), torch.zeros(n, keep, dtype=mask.dtype)):
        return "mask must be 0 at every kept token (ids_keep) and 1 elsewhere, in image order."
    return None


masking_exercise = Exercise(
    name="random masking",
    reference=_course_masking,
    cases=_masking_cases(),
    mistakes=[
        Mistake("descending", "You keep the tokens with the LARGEST noise; MAE keeps the smallest: argsort ascending, "
                "then the first K.", lambda z, r: _masking(z, r, descending=True)),
        Mistake("shuffled mask", "Your mask is in shuffled order: after setting mask[:, :K] = 0, put it back in "
                "image order with mask.gather(1, ids_restore).", lambda z, r: _masking(z, r, restore=False)),
        Mistake("restore is shuffle", "ids_restore is the shuffle itself; it must be its inverse, "
                "argsort(ids_shuffle), so that shuffled.gather(1, ids_restore) undoes the shuffle.",
                _restore_is_shuffle),
        Mistake("floor", "You truncated the kept count: K = round((1 - mask_ratio) * L), e.g. round(3.5) = 4 "
                "tokens of 7 at ratio 0.5, not int(3.5) = 3.",
                lambda z, r: _masking(z, r, keep=int((1 - r) * z.shape[1]))),
        Mistake("kept the hidden count", "You kept round(mask_ratio * L) tokens, the number to HIDE; keep "
                "K = round((1 - mask_ratio) * L).", lambda z, r: _masking(z, r, keep=round(r * z.shape[1]))),
        Mistake("mask inverted", "Your mask is 1 on the visible tokens; the course's mask is 1 = hidden (the loss "
                "is summed where mask = 1).", _mask_inverted),
        Mistake("ids_keep sorted", "ids_keep is sorted into image order; keep it in shuffled order, "
                "ids_shuffle[:, :K]: the decoder appends the mask tokens after it and unshuffles with ids_restore.",
                lambda z, r: _masking(z, r, sort_keep=True)),
        Mistake("bool mask", "mask must be a float tensor of 0s and 1s (the loss multiplies by it), not bool.",
                _bool_mask),
    ],
    hint_text=("ids_shuffle = torch.argsort(noise, dim=1, stable=True); ids_restore = torch.argsort(ids_shuffle, "
               "dim=1); K = round((1 - mask_ratio) * L); ids_keep = ids_shuffle[:, :K]; a mask of ones with "
               "mask[:, :K] = 0, then mask.gather(1, ids_restore)."),
    solution_fn=solution_masking,
    diagnose=_masking_diagnose,
)

EXERCISES = {"02_masked_autoencoding": [patchify_exercise, masking_exercise]}
SOLUTIONS = {"patchify": solution_patchify, "random_masking": solution_masking}
