"""Exercises of notebook 02 (masked autoencoders): cutting images into patch tokens, MAE's random masking, and
the MAE forward pass with its loss (the notebook's idea, its last exercise).

    patchify:     images (N, C, H, W) -> tokens (N, L, p*p*C), L = (H/p)(W/p), token l = r*(W/p) + c (row by row),
                  each token lists its pixels in (y, x, channel) order.  Course: `ssl_helpers.mae.patchify`.
    masking:      noise (N, L) -> ids_keep (N, K), mask (N, L), ids_restore (N, L) by argsort of the noise,
                  K = (1 - mask_ratio) L rounded either way (the course rounds to nearest, MAE's code truncates).
                  Course: `ssl_helpers.mae.masking_from_noise`.
    mae_forward:  encoder, decoder, images (N, C, H, W), mask_ratio, generator -> (loss, prediction (N, L, p*p*C),
                  mask (N, L)): the visible tokens through the encoder, mask tokens appended and unshuffled through
                  the decoder, the loss on the hidden patches only. Course: `ssl_helpers.mae.mae_forward`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_helpers.mae import MAEDecoder, ViTEncoder
from ssl_helpers.mae import mae_forward as _course_mae_forward
from ssl_helpers.mae import masking_from_noise as _course_masking
from ssl_helpers.mae import normalize_patches, random_masking
from ssl_helpers.mae import patchify as _course_patchify

from .base import Exercise, Mistake, seeded_module, train_steps

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
    hints=(
        "A token is one p x p square of the image, all its channels. No pixel moves inside its square and no pixel "
        "is lost: only the order in memory changes, tokens row by row and, inside a token, y, then x, then channel.",
        "Give each of the two spatial axes its own pair of axes (which square, where inside it), move the axes into "
        "the order (image, square row, square column, y, x, channel), then merge the last three and the two square "
        "axes: one reshape, one permute, one reshape.",
        "x = images.reshape(N, C, H // p, p, W // p, p); x = x.permute(0, 2, 4, 3, 5, 1); "
        "return x.reshape(N, (H // p) * (W // p), p * p * C)",
    ),
    solution_fn=solution_patchify,
    diagnose=_patchify_diagnose,
    grad_args=(0,),
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

    def ties():                             # equal noise: any order among equal values is accepted
        return torch.tensor([[0.5, 0.5, 0.1, 0.5, 0.1, 0.9], [0.2, 0.2, 0.2, 0.2, 0.2, 0.2]]), 0.5

    def identical():                        # every image gets the same noise, hence the same mask
        return torch.rand(1, 8, generator=torch.Generator().manual_seed(5)).expand(3, -1).contiguous(), 0.75

    return [random(2, 16, 0.75), random(3, 7, 0.5, torch.float64, seed=1),      # K = 3.5: 3 or 4 both accepted
            random(2, 10, 0.0, seed=2), random(4, 9, 0.6, seed=3), ties, identical]


def _kept_count_ok(keep: int, mask_ratio: float, length: int) -> bool:
    """K within one token of (1 - mask_ratio) L: rounded to nearest (the course) or down (MAE's int()) or up."""
    return abs(keep - (1 - mask_ratio) * length) < 1


def _masking_accept(args, got, want):
    """The properties that matter, not one implementation's bookkeeping: K within one token of (1 - r) L; ids_keep
    the K smallest noise values in increasing order (any order among ties); ids_restore the inverse of a
    permutation that sorts the noise and starts with ids_keep; mask a float tensor, 0 exactly at ids_keep."""
    noise, r = args
    n, length = noise.shape
    ids_keep, mask, ids_restore = (torch.as_tensor(t) for t in got)
    keep = ids_keep.shape[-1]
    if ids_keep.shape != (n, keep) or not _kept_count_ok(keep, r, length):
        return False
    if mask.shape != (n, length) or ids_restore.shape != (n, length) or not mask.is_floating_point():
        return False
    if ids_keep.is_floating_point() or ids_restore.is_floating_point():
        return False
    ids_keep, ids_restore = ids_keep.long(), ids_restore.long()
    if not torch.equal(ids_restore.sort(dim=1).values, torch.arange(length).expand(n, -1)):
        return False
    ids_shuffle = ids_restore.argsort(dim=1)                  # the permutation ids_restore undoes
    if not torch.equal(ids_shuffle[:, :keep], ids_keep):
        return False
    if not bool((noise.gather(1, ids_shuffle).diff(dim=1) >= 0).all()):
        return False
    expected = torch.ones(n, length, dtype=mask.dtype).scatter(1, ids_keep, 0.0)
    return bool(torch.equal(mask.cpu(), expected))


def _masking_diagnose(args, got, want):
    """Messages by property, so that they hold whichever rounding of K the student chose."""
    noise, r = args
    n, length = noise.shape
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return "Return three tensors: (ids_keep (N, K), mask (N, L), ids_restore (N, L))."
    ids_keep, mask, ids_restore = (torch.as_tensor(t) for t in got)
    keep = ids_keep.shape[-1] if ids_keep.dim() == 2 else -1
    if ids_keep.dim() != 2 or ids_keep.shape[0] != n or not _kept_count_ok(keep, r, length):
        if keep >= 0 and abs(keep - r * length) < 1 and not _kept_count_ok(keep, r, length):
            return (f"You kept {keep} tokens, about mask_ratio * L, the number to HIDE; keep K = (1 - mask_ratio) * L "
                    f"= {(1 - r) * length:g} tokens (rounded either way).")
        return (f"ids_keep should be (N, K) with K = (1 - mask_ratio) * L = {1 - r:g} * {length} = "
                f"{(1 - r) * length:g} kept tokens per image (rounded either way); yours is {tuple(ids_keep.shape)}.")
    if mask.shape != (n, length) or ids_restore.shape != (n, length):
        return f"mask and ids_restore must both be (N, L) = {(n, length)}."
    if mask.dtype == torch.bool:
        return "mask must be a float tensor of 0s and 1s (the loss multiplies by it), not bool."
    if not torch.equal(ids_restore.long().sort(dim=1).values, torch.arange(length).expand(n, -1)):
        return "ids_restore is not a permutation of 0..L-1 in each row."
    kept = noise.gather(1, ids_keep.long())
    hidden = noise.masked_fill(torch.zeros(n, length, dtype=torch.bool).scatter(1, ids_keep.long(), True),
                               float("nan"))
    if keep < length and bool((kept.min(dim=1).values >= hidden.nan_to_num(float("-inf")).max(dim=1).values).all()) \
            and bool((kept.min(dim=1).values > noise.min(dim=1).values).any()):
        return ("You keep the tokens with the LARGEST noise; MAE keeps the smallest: argsort ascending, then the "
                "first K.")
    if not bool((kept.diff(dim=1) >= 0).all()):
        if torch.equal(ids_keep, ids_keep.sort(dim=1).values):
            return ("ids_keep is sorted into image order; keep it in shuffled order (increasing noise), the first K "
                    "of the sorting permutation: the decoder appends the mask tokens after it and unshuffles with "
                    "ids_restore.")
        return "ids_keep must list the kept tokens in increasing order of their noise."
    ids_shuffle = noise.argsort(dim=1, stable=True)
    if torch.equal(ids_restore.long(), ids_shuffle) and not torch.equal(ids_shuffle.argsort(dim=1), ids_shuffle):
        return ("ids_restore is the shuffle itself; it must be its inverse, argsort(ids_shuffle), so that "
                "shuffled.gather(1, ids_restore) undoes the shuffle.")
    inverse = ids_restore.long().argsort(dim=1)
    if not torch.equal(inverse[:, :keep], ids_keep.long()):
        return ("ids_restore does not undo the shuffle: ids_shuffle.gather(1, ids_restore) must give 0..L-1 "
                "(ids_restore = argsort(ids_shuffle)).")
    expected = torch.ones(n, length).scatter(1, ids_keep.long(), 0.0)
    if torch.equal(mask.float(), 1 - expected):
        return ("Your mask is 1 on the visible tokens; the course's mask is 1 = hidden (the loss is summed where "
                "mask = 1).")
    shuffled = torch.ones(n, length)
    shuffled[:, :keep] = 0
    if torch.equal(mask.float(), shuffled):
        return ("Your mask is in shuffled order: after setting mask[:, :K] = 0, put it back in image order with "
                "mask.gather(1, ids_restore).")
    return "mask must be 0 at every kept token (ids_keep) and 1 elsewhere, in image order."


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
        Mistake("kept the hidden count", "You kept round(mask_ratio * L) tokens, the number to HIDE; keep "
                "K = (1 - mask_ratio) * L tokens (rounded either way).",
                lambda z, r: _masking(z, r, keep=round(r * z.shape[1]))),
        Mistake("mask inverted", "Your mask is 1 on the visible tokens; the course's mask is 1 = hidden (the loss "
                "is summed where mask = 1).", _mask_inverted),
        Mistake("ids_keep sorted", "ids_keep is sorted into image order; keep it in shuffled order, "
                "ids_shuffle[:, :K]: the decoder appends the mask tokens after it and unshuffles with ids_restore.",
                lambda z, r: _masking(z, r, sort_keep=True)),
        Mistake("bool mask", "mask must be a float tensor of 0s and 1s (the loss multiplies by it), not bool.",
                _bool_mask),
    ],
    hints=(
        "Sorting the noise of one image gives a random order of its tokens; the first K of that order stay visible. "
        "Two permutations matter: the one that sorts the noise (the shuffle), and the one that undoes it (so that "
        "the decoder can put every token back at its own position).",
        "argsort the noise along the tokens; argsort that result again to get its inverse; the first K columns of "
        "the shuffle are ids_keep; build the mask in shuffled order (K zeros, then ones) and gather it back into "
        "image order with the inverse.",
        "ids_shuffle = torch.argsort(noise, dim=1); ids_restore = torch.argsort(ids_shuffle, dim=1); "
        "K = round((1 - mask_ratio) * L); ids_keep = ids_shuffle[:, :K]; mask = torch.ones(N, L); mask[:, :K] = 0; "
        "mask = mask.gather(1, ids_restore)",
    ),
    solution_fn=solution_masking,
    diagnose=_masking_diagnose,
    accept=_masking_accept,
)


# ----------------------------------------------------------------------------------------------------
# the MAE forward pass: (encoder, decoder, images, mask_ratio, generator) -> (loss, prediction, mask)
# ----------------------------------------------------------------------------------------------------


def course_mae_forward(encoder, decoder, images, mask_ratio, generator):
    """The course's MAE pass (`ssl_helpers.mae.mae_forward`, per-patch normalised targets)."""
    return _course_mae_forward(encoder, decoder, images, mask_ratio, generator)


def solution_mae_forward(encoder, decoder, images, mask_ratio, generator):
    # BEGIN SOLUTION
    import torch
    from ssl_helpers.mae import normalize_patches, patchify, random_masking
    n, length = images.shape[0], encoder.num_tokens
    ids_keep, mask, ids_restore = (t.to(images.device) for t in random_masking(n, length, mask_ratio, generator))
    tokens = encoder.tokens(images)                                              # (N, L, D): patches + positions
    visible = tokens.gather(1, ids_keep[..., None].expand(-1, -1, tokens.shape[-1]))   # (N, K, D): kept ones only
    latent = encoder.transform(visible)                                          # the encoder sees K tokens
    y = decoder.embed(latent)                                                    # (N, K, d)
    hidden = decoder.mask_token.expand(n, length - y.shape[1], -1)               # the learned token, L - K times
    y = torch.cat([y, hidden], dim=1)                                            # (N, L, d), in shuffled order
    y = y.gather(1, ids_restore[..., None].expand(-1, -1, y.shape[-1]))          # unshuffle: image order
    y = y + decoder.positions                                                    # which patch to paint
    for block in decoder.blocks:
        y = block(y)
    prediction = decoder.predict(decoder.norm(y))                                # (N, L, p*p*C)
    target = normalize_patches(patchify(images, encoder.patch_size))             # per-patch normalised pixels
    per_patch = ((prediction - target) ** 2).mean(dim=-1)                        # (N, L)
    loss = (per_patch * mask).sum() / mask.sum()                                 # hidden patches only
    return loss, prediction, mask
    # END SOLUTION


def _mae(encoder, decoder, images, r, generator, encoder_sees="visible", unshuffle=True, positions="after",
         token="learned", loss_on="hidden", target="normalised", reduce="mean", final_norm=True, frozen=False):
    """The MAE pass with one thing changed (the mistakes below)."""
    n, length = images.shape[0], encoder.num_tokens
    ids_keep, mask, ids_restore = random_masking(n, length, r, generator)
    tokens = encoder.tokens(images)
    index = ids_keep[..., None].expand(-1, -1, tokens.shape[-1])
    if encoder_sees == "all":                                     # every token through the encoder, then picked
        latent = encoder.transform(tokens).gather(1, index)
    else:
        latent = encoder.transform(tokens.gather(1, index))
    if frozen:
        latent = latent.detach()
    y = decoder.embed(latent)
    fill = decoder.mask_token if token == "learned" else torch.zeros_like(decoder.mask_token)
    y = torch.cat([y, fill.expand(n, length - y.shape[1], -1)], dim=1)
    if positions == "before":
        y = y + decoder.positions
    if unshuffle:
        y = y.gather(1, ids_restore[..., None].expand(-1, -1, y.shape[-1]))
    if positions == "after":
        y = y + decoder.positions
    for block in decoder.blocks:
        y = block(y)
    prediction = decoder.predict(decoder.norm(y) if final_norm else y)
    patches = _course_patchify(images, encoder.patch_size)
    goal = normalize_patches(patches) if target == "normalised" else patches
    squared = (prediction - goal) ** 2
    per_patch = squared.mean(dim=-1) if reduce == "mean" else squared.sum(dim=-1)
    weight = {"hidden": mask, "visible": 1 - mask, "all": torch.ones_like(mask)}[loss_on]
    return (per_patch * weight).sum() / weight.sum(), prediction, mask


def _mae_cases():
    def case(n, channels, size, patch, r, seed):
        def make():
            grid = (size // patch, size // patch)
            encoder = seeded_module(lambda: ViTEncoder(channels, size, patch, dim=16, depth=1, heads=2), seed)
            decoder = seeded_module(lambda: MAEDecoder(16, patch * patch * channels, grid, dim=8, depth=1, heads=2),
                                    seed + 1)
            images = torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))
            return encoder, decoder, images, r, torch.Generator().manual_seed(seed + 2)
        return make

    # (1 - r) L is a whole number in every case: K does not depend on how it is rounded
    return [case(2, 1, 8, 2, 0.75, 0), case(3, 3, 8, 4, 0.5, 10), case(2, 1, 8, 2, 0.5, 20)]


def _mae_diagnose(args, got, want):
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return "Return three things: (loss (a 0-d tensor), prediction (N, L, p*p*C), mask (N, L))."
    loss, prediction, mask = got
    if not isinstance(prediction, torch.Tensor) or prediction.shape != want[1].shape:
        shape = tuple(prediction.shape) if isinstance(prediction, torch.Tensor) else type(prediction).__name__
        return (f"prediction should be (N, L, p*p*C) = {tuple(want[1].shape)}, one predicted patch for every "
                f"token, hidden or not; yours is {shape}.")
    if not isinstance(mask, torch.Tensor) or not torch.equal(torch.as_tensor(mask).float(), want[2].float()):
        return ("mask should be the one random_masking(N, L, mask_ratio, generator) returns: draw it once, first, "
                "from the generator given (so that your mask is the course's), 1 on the hidden patches.")
    if torch.as_tensor(loss).numel() != 1:
        return f"Return the loss as one number (a 0-d tensor); yours has shape {tuple(torch.as_tensor(loss).shape)}."
    return None


def _encoder_token_count(fn):
    """What the encoder's first block saw: (N, L, D) instead of (N, K, D) means the hidden patches went through it."""
    encoder, decoder, images, r, generator = _mae_cases()[0]()
    seen = []
    handle = encoder.blocks[0].register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].shape[1]))
    try:
        fn(encoder, decoder, images, r, generator)
    except Exception:
        return None
    finally:
        handle.remove()
    keep = round((1 - r) * encoder.num_tokens)
    if seen and max(seen) > keep:
        return (f"Your encoder saw {max(seen)} tokens per image, hidden ones included; MAE's encoder sees only the "
                f"K = {keep} visible tokens (gather them from encoder.tokens(images) with ids_keep before "
                f"encoder.transform): at 75% masking that is a quarter of the work, and no mask token ever enters it.")
    return None


def _mae_demo(fn, images, steps: int = 30, mask_ratio: float = 0.5) -> str:
    """A fresh tiny ViT and decoder trained for `steps` Adam steps with `fn` on 64 of `images` (CPU)."""
    images = images[:64].float().cpu()
    channels, size = images.shape[1], images.shape[-1]
    patch = 4 if size % 4 == 0 else (2 if size % 2 == 0 else 1)
    encoder = seeded_module(lambda: ViTEncoder(channels, size, patch, dim=32, depth=2, heads=4), 0)
    decoder = seeded_module(lambda: MAEDecoder(32, patch * patch * channels, encoder.grid, dim=32, depth=1,
                                               heads=4), 1)
    generator = torch.Generator().manual_seed(0)
    losses = train_steps(lambda i: fn(encoder, decoder, images, mask_ratio, generator)[0],
                         [*encoder.parameters(), *decoder.parameters()], steps, 1e-3)
    return (f"The MAE pass in use, on a fresh tiny ViT ({encoder.num_tokens} tokens, mask ratio {mask_ratio}): "
            f"{steps} Adam steps on {len(images)} images, loss on the hidden patches {losses[0]:.3f} -> "
            f"{losses[-1]:.3f}")


mae_forward_exercise = Exercise(
    name="MAE forward",
    reference=course_mae_forward,
    cases=_mae_cases(),
    mistakes=[
        Mistake("encoder sees all", "Your encoder saw every patch, hidden ones included, and you picked the visible "
                "ones after it: gather the K visible tokens first (ids_keep), then encoder.transform. The encoder "
                "must never see a hidden patch (and at 75% masking it does a quarter of the work).",
                lambda e, d, x, r, g: _mae(e, d, x, r, g, encoder_sees="all")),
        Mistake("not unshuffled", "The mask tokens stay at the end of the sequence: after appending them, put every "
                "token back at its image position, y.gather(1, ids_restore[..., None].expand(-1, -1, d)), before the "
                "positions are added.", lambda e, d, x, r, g: _mae(e, d, x, r, g, unshuffle=False)),
        Mistake("positions before unshuffle", "You added the decoder's positions before unshuffling: position l "
                "then lands on whichever token was l-th in shuffled order. Unshuffle with ids_restore first, then "
                "add decoder.positions.", lambda e, d, x, r, g: _mae(e, d, x, r, g, positions="before")),
        Mistake("no positions", "The decoder got no positions: every mask token is the same vector, so nothing "
                "tells the decoder which patch to paint. Add decoder.positions after unshuffling.",
                lambda e, d, x, r, g: _mae(e, d, x, r, g, positions="none")),
        Mistake("zero mask token", "Your hidden positions hold zeros; MAE appends its learned mask token, "
                "decoder.mask_token (1, 1, d), expanded to (N, L - K, d): it is trained with the rest.",
                lambda e, d, x, r, g: _mae(e, d, x, r, g, token="zeros")),
        Mistake("loss on all patches", "Your loss averages over every patch, visible ones included: the decoder "
                "earns loss for copying what the encoder saw. Average the per-patch error over the hidden patches "
                "only, (per_patch * mask).sum() / mask.sum().",
                lambda e, d, x, r, g: _mae(e, d, x, r, g, loss_on="all")),
        Mistake("loss on visible patches", "Your loss counts the VISIBLE patches (1 - mask); MAE scores the hidden "
                "ones, where mask = 1.", lambda e, d, x, r, g: _mae(e, d, x, r, g, loss_on="visible")),
        Mistake("raw pixels", "Your target is the raw pixels; the course's MAE predicts per-patch normalised pixels, "
                "normalize_patches(patchify(images, p)) (each patch minus its mean, over its standard deviation).",
                lambda e, d, x, r, g: _mae(e, d, x, r, g, target="raw")),
        Mistake("summed over pixels", "Each patch's error is summed over its p*p*C values; average it "
                "(.mean(dim=-1)), then average over the hidden patches.",
                lambda e, d, x, r, g: _mae(e, d, x, r, g, reduce="sum")),
        Mistake("no final norm", "The decoder's final LayerNorm is missing: prediction = "
                "decoder.predict(decoder.norm(y)) after the blocks.",
                lambda e, d, x, r, g: _mae(e, d, x, r, g, final_norm=False)),
        Mistake("encoder frozen", "Right value, but no gradient reaches the encoder: the latent is detached (or "
                "computed under torch.no_grad()), so only the decoder learns and the encoder, the part MAE keeps, "
                "stays random.", lambda e, d, x, r, g: _mae(e, d, x, r, g, frozen=True), by_gradient=True),
    ],
    hints=(
        "Three things make MAE: the encoder only ever sees the visible patches; the decoder sees every position, "
        "the encoded visible tokens back at their own places and one shared learned token at every hidden place, "
        "with positions telling it where each is; and the loss scores the hidden patches only.",
        "Draw the mask once (random_masking); embed all patches (encoder.tokens), gather the visible ones with "
        "ids_keep, encoder.transform them; decoder.embed, concatenate the expanded decoder.mask_token, gather with "
        "ids_restore, add decoder.positions, run decoder.blocks, decoder.norm, decoder.predict; compare with "
        "normalize_patches(patchify(images, p)), mean over each patch's values, mean over the hidden patches.",
        "visible = tokens.gather(1, ids_keep[..., None].expand(-1, -1, D)); latent = encoder.transform(visible); "
        "y = torch.cat([decoder.embed(latent), decoder.mask_token.expand(N, L - K, -1)], dim=1); "
        "y = y.gather(1, ids_restore[..., None].expand(-1, -1, d)) + decoder.positions; ... "
        "loss = (((prediction - target) ** 2).mean(-1) * mask).sum() / mask.sum()",
    ),
    solution_fn=solution_mae_forward,
    diagnose=_mae_diagnose,
    inspections=[_encoder_token_count],
    demo=_mae_demo,
    gradient=True,
    grad_args=(),
    loss=True,
    idea=True,
)

EXERCISES = {"02_masked_autoencoding": [patchify_exercise, masking_exercise, mae_forward_exercise]}
SOLUTIONS = {"patchify": solution_patchify, "random_masking": solution_masking, "mae_forward": solution_mae_forward}
