"""Notebook 02's exercises: patchify, MAE's random masking and the MAE forward pass. A correct student written
differently passes (official MAE's masking among them); each typical mistake, written here again as its own wrong
implementation, is named by the check."""

import pytest
import torch
import torch.nn.functional as F

from ssl_helpers.exercises.masking import mae_forward_exercise, masking_exercise, patchify_exercise
from ssl_helpers.mae import masking_from_noise, normalize_patches, patchify, random_masking

# ---------------------------------------------------------------------------- patchify


def student_patchify(images, patch):
    """Right, written differently: loop over the grid, row by row, each patch flattened as (y, x, channel)."""
    n, c, h, w = images.shape
    tokens = [images[:, :, r:r + patch, q:q + patch].permute(0, 2, 3, 1).reshape(n, -1)
              for r in range(0, h, patch) for q in range(0, w, patch)]
    return torch.stack(tokens, dim=1)


def wrong_unfold(images, patch):
    return F.unfold(images, patch, stride=patch).transpose(1, 2)          # (channel, y, x) inside a token


def wrong_unfold_shape(images, patch):
    return F.unfold(images, patch, stride=patch)                          # (N, p*p*C, L)


def wrong_columns(images, patch):
    n, c, h, w = images.shape
    tokens = [images[:, :, r:r + patch, q:q + patch].permute(0, 2, 3, 1).reshape(n, -1)
              for q in range(0, w, patch) for r in range(0, h, patch)]   # down the columns first
    return torch.stack(tokens, dim=1)


def wrong_plain_reshape(images, patch):
    n, c, h, w = images.shape
    return images.reshape(n, h * w // patch ** 2, -1)


def wrong_transposed_patches(images, patch):
    n, c, h, w = images.shape
    tokens = [images[:, :, r:r + patch, q:q + patch].permute(0, 3, 2, 1).reshape(n, -1)   # x before y
              for r in range(0, h, patch) for q in range(0, w, patch)]
    return torch.stack(tokens, dim=1)


PATCHIFY_WRONG = {
    "(channel, y, x) order": wrong_unfold,
    "(N, p*p*C, L)": wrong_unfold_shape,
    "row by row": wrong_columns,
    "strips of memory": wrong_plain_reshape,
    "transposed": wrong_transposed_patches,
}


def test_patchify_correct_student_passes_and_is_used():
    assert patchify_exercise.check(student_patchify) == "patchify: correct."
    assert patchify_exercise.use(student_patchify) is student_patchify


@pytest.mark.parametrize("phrase", sorted(PATCHIFY_WRONG))
def test_each_patchify_mistake_is_named(phrase):
    line = patchify_exercise.check(PATCHIFY_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert patchify_exercise.use(PATCHIFY_WRONG[phrase]) is patchify_exercise.reference


def test_patchify_known_answer():
    """A 1-channel 4x4 image in 2 px patches: token 1 is the top-right square, pixels row by row."""
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert patchify_exercise.reference(image, 2)[0, 1].tolist() == [2.0, 3.0, 6.0, 7.0]


def test_patchify_property_messages():
    """A wrong shape and a right set of values in a new order get their own messages."""
    shape = patchify_exercise.check(lambda images, p: images.flatten(2))
    assert "(N, L, p*p*C)" in shape and "yours is" in shape
    order = patchify_exercise.check(lambda images, p: student_patchify(images, p).flip(1))
    assert "wrong places" in order


# ---------------------------------------------------------------------------- random masking


def student_masking(noise, mask_ratio):
    """Right, written differently: sort, then scatter the mask into image order."""
    n, length = noise.shape
    keep = int((1 - mask_ratio) * length + 0.5)
    order = noise.sort(dim=1, stable=True).indices
    restore = torch.empty_like(order).scatter_(1, order, torch.arange(length).expand(n, -1))
    mask = torch.ones(n, length).scatter_(1, order[:, :keep], 0.0)
    return order[:, :keep], mask, restore


def _right(noise, r, keep=None):
    n, length = noise.shape
    keep = round((1 - r) * length) if keep is None else keep
    order = noise.argsort(dim=1, stable=True)
    mask = torch.ones(n, length)
    mask[:, :keep] = 0
    return order, mask, keep


def wrong_descending(noise, r):
    n, length = noise.shape
    keep = round((1 - r) * length)
    order = noise.argsort(dim=1, descending=True, stable=True)
    restore = order.argsort(dim=1)
    mask = torch.ones(n, length)
    mask[:, :keep] = 0
    return order[:, :keep], mask.gather(1, restore), restore


def wrong_shuffled_mask(noise, r):
    order, mask, keep = _right(noise, r)
    return order[:, :keep], mask, order.argsort(dim=1)


def wrong_restore(noise, r):
    order, mask, keep = _right(noise, r)
    return order[:, :keep], mask.gather(1, order.argsort(dim=1)), order


def wrong_floor(noise, r):
    order, mask, keep = _right(noise, r, keep=int((1 - r) * noise.shape[1]))
    return order[:, :keep], mask.gather(1, order.argsort(dim=1)), order.argsort(dim=1)


def wrong_hidden_count(noise, r):
    order, mask, keep = _right(noise, r, keep=round(r * noise.shape[1]))
    return order[:, :keep], mask.gather(1, order.argsort(dim=1)), order.argsort(dim=1)


def wrong_visible_is_one(noise, r):
    order, mask, keep = _right(noise, r)
    return order[:, :keep], 1 - mask.gather(1, order.argsort(dim=1)), order.argsort(dim=1)


def wrong_sorted_keep(noise, r):
    order, mask, keep = _right(noise, r)
    return order[:, :keep].sort(dim=1).values, mask.gather(1, order.argsort(dim=1)), order.argsort(dim=1)


def wrong_bool(noise, r):
    order, mask, keep = _right(noise, r)
    return order[:, :keep], mask.gather(1, order.argsort(dim=1)).bool(), order.argsort(dim=1)


MASKING_WRONG = {
    "LARGEST noise": wrong_descending,
    "shuffled order": wrong_shuffled_mask,
    "shuffle itself": wrong_restore,
    "number to HIDE": wrong_hidden_count,
    "1 on the visible": wrong_visible_is_one,
    "sorted into image order": wrong_sorted_keep,
    "not bool": wrong_bool,
}


def test_masking_correct_student_passes_and_is_used():
    assert masking_exercise.check(student_masking) == "random masking: correct."
    assert masking_exercise.use(student_masking) is student_masking


@pytest.mark.parametrize("phrase", sorted(MASKING_WRONG))
def test_each_masking_mistake_is_named(phrase):
    line = masking_exercise.check(MASKING_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert masking_exercise.use(MASKING_WRONG[phrase]) is masking_exercise.reference


def test_masking_known_answer_and_random_masking_uses_it():
    """noise [0.3, 0.1, 0.4, 0.2] at ratio 0.5 keeps tokens 1 and 3 (smallest noise first); random_masking is
    masking_from_noise on the noise its generator draws."""
    ids_keep, mask, ids_restore = masking_from_noise(torch.tensor([[0.3, 0.1, 0.4, 0.2]]), 0.5)
    assert ids_keep.tolist() == [[1, 3]] and mask.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    assert ids_restore.tolist() == [[2, 0, 3, 1]]
    noise = torch.rand(3, 9, generator=torch.Generator().manual_seed(4))
    for got, want in zip(random_masking(3, 9, 0.6, torch.Generator().manual_seed(4)), masking_from_noise(noise, 0.6)):
        assert torch.equal(got, want)


def test_masking_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="mask_ratio"):
        masking_from_noise(torch.rand(2, 4), 1.0)
    with pytest.raises(ValueError, match="noise"):
        masking_from_noise(torch.rand(2, 4, 1), 0.5)


def test_masking_property_message_when_no_mistake_matches():
    """ids_restore that is no permutation at all is described, not just 'differs'."""
    def broken_restore(noise, r):
        ids_keep, mask, _ = student_masking(noise, r)
        return ids_keep, mask, torch.zeros_like(noise, dtype=torch.long)
    assert "not a permutation" in masking_exercise.check(broken_restore)

    def too_many(noise, r):
        order = noise.argsort(dim=1)
        return order, torch.zeros_like(noise), order.argsort(dim=1)
    assert "(1 - mask_ratio) * L" in masking_exercise.check(too_many)


def official_mae_masking(noise, mask_ratio):
    """facebookresearch/mae, models_mae.py, MaskedAutoencoderViT.random_masking, on given noise: int() rounding of
    the kept count and an unstable argsort (ids_keep returned instead of the kept tokens themselves)."""
    N, L = noise.shape  # noqa: N806 - the original's names
    len_keep = int(L * (1 - mask_ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    mask = torch.ones([N, L], device=noise.device)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, dim=1, index=ids_restore)
    return ids_keep, mask, ids_restore


def test_official_mae_masking_and_a_floor_rounding_are_accepted():
    """The kept count rounded down (MAE's int()) or to nearest (the course) is bookkeeping: both pass, as does any
    order among tied noise values; the statement says so."""
    assert masking_exercise.check(official_mae_masking) == "random masking: correct."
    assert masking_exercise.check(wrong_floor) == "random masking: correct."


def test_floor_rounding_with_a_real_mistake_is_still_named():
    """The messages hold whichever rounding the student chose."""
    def floor_and_sorted(noise, r):
        ids_keep, mask, restore = wrong_floor(noise, r)
        return ids_keep.sort(dim=1).values, mask, restore

    def floor_and_descending(noise, r):
        return official_mae_masking(-noise, r)
    assert "image order" in masking_exercise.check(floor_and_sorted)
    assert "LARGEST noise" in masking_exercise.check(floor_and_descending)


# ---------------------------------------------------------------------------- the MAE forward pass


def _mask(encoder, images, r, generator):
    noise = torch.rand(images.shape[0], encoder.num_tokens, generator=generator)   # what random_masking draws
    return masking_from_noise(noise, r)


def student_mae(encoder, decoder, images, r, generator):
    """Right, written differently: noise drawn by hand, index_select-free gathers via torch.take_along_dim, the
    decoder's own forward for the decoder part, F.mse_loss on the hidden patches picked by a boolean index."""
    ids_keep, mask, ids_restore = _mask(encoder, images, r, generator)
    tokens = encoder.tokens(images)
    latent = encoder.transform(torch.take_along_dim(tokens, ids_keep[..., None], dim=1))
    prediction = decoder(latent, ids_restore)
    target = normalize_patches(patchify(images, encoder.patch_size))
    hidden = mask.bool()
    return F.mse_loss(prediction[hidden], target[hidden]), prediction, mask


def _wrong_mae(encoder, decoder, images, r, generator, change):
    ids_keep, mask, ids_restore = _mask(encoder, images, r, generator)
    n, length = mask.shape
    tokens = encoder.tokens(images)
    index = ids_keep[..., None].expand(-1, -1, tokens.shape[-1])
    if change == "all":
        latent = encoder.transform(tokens).gather(1, index)
    else:
        latent = encoder.transform(tokens.gather(1, index))
    if change == "frozen":
        latent = latent.detach()
    y = decoder.embed(latent)
    token = torch.zeros_like(decoder.mask_token) if change == "zeros" else decoder.mask_token
    y = torch.cat([y, token.expand(n, length - y.shape[1], -1)], dim=1)
    if change == "positions first":
        y = y + decoder.positions
    if change != "no unshuffle":
        y = torch.take_along_dim(y, ids_restore[..., None], dim=1)
    if change not in ("positions first", "no positions"):
        y = y + decoder.positions
    for block in decoder.blocks:
        y = block(y)
    prediction = decoder.predict(y if change == "no norm" else decoder.norm(y))
    patches = patchify(images, encoder.patch_size)
    target = patches if change == "raw" else normalize_patches(patches)
    error = (prediction - target) ** 2
    per_patch = error.sum(-1) if change == "sum" else error.mean(-1)
    if change == "all patches":
        return per_patch.mean(), prediction, mask
    weight = 1 - mask if change == "visible" else mask
    return (per_patch * weight).sum() / weight.sum(), prediction, mask


MAE_WRONG = {
    "hidden ones included": "all",
    "mask tokens stay at the end": "no unshuffle",
    "before unshuffling": "positions first",
    "decoder got no positions": "no positions",
    "learned mask token": "zeros",
    "averages over every patch": "all patches",
    "VISIBLE patches": "visible",
    "raw pixels": "raw",
    "summed over its p*p*C values": "sum",
    "final LayerNorm": "no norm",
    "no gradient reaches the encoder": "frozen",
}


def test_mae_forward_correct_student_passes_and_is_used():
    assert mae_forward_exercise.check(student_mae) == "MAE forward: correct."
    assert mae_forward_exercise.use(student_mae) is student_mae


@pytest.mark.parametrize("phrase", sorted(MAE_WRONG))
def test_each_mae_forward_mistake_is_named(phrase):
    change = MAE_WRONG[phrase]
    line = mae_forward_exercise.check(lambda e, d, x, r, g: _wrong_mae(e, d, x, r, g, change))
    assert "not yet" in line and phrase in line, line


def test_mae_forward_without_gradient_is_rejected():
    def as_number(*args):
        loss, prediction, mask = student_mae(*args)
        return loss.item(), prediction, mask

    def under_no_grad(*args):
        with torch.no_grad():
            return student_mae(*args)
    for fn in (as_number, under_no_grad):
        assert "no gradient: the network could not learn from it" in mae_forward_exercise.check(fn)


def test_mae_forward_encoder_seeing_every_token_is_seen_by_a_hook():
    """A pass that runs the hidden tokens through the encoder in some other way is still told so."""
    def masked_in_place(encoder, decoder, images, r, generator):
        ids_keep, mask, ids_restore = _mask(encoder, images, r, generator)
        tokens = encoder.transform(encoder.tokens(images) * (1 - mask[..., None]))   # zeros, but L tokens
        latent = tokens.gather(1, ids_keep[..., None].expand(-1, -1, tokens.shape[-1]))
        prediction = decoder(latent, ids_restore)
        target = normalize_patches(patchify(images, encoder.patch_size))
        return (((prediction - target) ** 2).mean(-1) * mask).sum() / mask.sum(), prediction, mask
    line = mae_forward_exercise.check(masked_in_place)
    assert "not yet" in line and "tokens per image, hidden ones included" in line, line


def test_mae_forward_mask_not_from_the_generator_is_named():
    def own_mask(encoder, decoder, images, r, generator):
        return student_mae(encoder, decoder, images, r, torch.Generator().manual_seed(99))
    assert "from the generator given" in mae_forward_exercise.check(own_mask)
