"""Notebook 02's exercises: patchify and MAE's random masking. A correct student written differently passes; each
typical mistake, written here again as its own wrong implementation, is named by the check."""

import pytest
import torch
import torch.nn.functional as F

from ssl_helpers.exercises import EXERCISES
from ssl_helpers.exercises.masking import masking_exercise, patchify_exercise
from ssl_helpers.mae import masking_from_noise, random_masking


def test_notebook_02_has_both_exercises_each_with_at_least_4_mistakes():
    assert EXERCISES["02_masked_autoencoding"] == [patchify_exercise, masking_exercise]
    assert all(len(ex.mistakes) >= 4 for ex in EXERCISES["02_masked_autoencoding"])


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
    "truncated": wrong_floor,
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
    assert "round((1 - mask_ratio) * L)" in masking_exercise.check(too_many)
