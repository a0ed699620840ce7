"""Notebook 03's exercises: the jigsaw tile shuffle, all four rotations with their labels, and the rotation pretext
step. A correct student written differently passes; each typical mistake, written here again as its own wrong
implementation, is named."""

import pytest
import torch

from ssl_helpers.exercises.pretext import jigsaw_exercise, rotation_step_exercise, rotations_exercise
from ssl_helpers.pretext import all_rotations, rotate, shuffle_tiles, unshuffle_tiles

# ---------------------------------------------------------------------------- all rotations


def student_rotations(images):
    """Right, written differently: transpose-and-flip for each quarter turn, labels from torch.full."""
    blocks, labels, current = [], [], images
    for k in range(4):
        blocks.append(current)
        labels.append(torch.full((len(images),), k, dtype=torch.long))
        current = current.transpose(-2, -1).flip(-2)          # one more quarter turn counter-clockwise
    return torch.cat(blocks), torch.cat(labels)


def wrong_clockwise(images):
    return (torch.cat([torch.rot90(images, k, dims=(-1, -2)) for k in range(4)]),
            torch.arange(4).repeat_interleave(len(images)))


def wrong_labels_cycle(images):
    return torch.cat([torch.rot90(images, k, dims=(2, 3)) for k in range(4)]), torch.arange(4).repeat(len(images))


def wrong_image_by_image(images):
    rows = [torch.rot90(image, k, dims=(1, 2)) for image in images for k in range(4)]
    return torch.stack(rows), torch.tensor([k for _ in images for k in range(4)])


def wrong_degrees(images):
    return (torch.cat([torch.rot90(images, k, dims=(2, 3)) for k in range(4)]),
            torch.tensor([90 * k for k in range(4) for _ in images]))


def wrong_off_by_one(images):
    return (torch.cat([torch.rot90(images, k, dims=(2, 3)) for k in (1, 2, 3, 4)]),
            torch.arange(4).repeat_interleave(len(images)))


ROTATIONS_WRONG = {
    "turn clockwise": wrong_clockwise,
    "labels cycle": wrong_labels_cycle,
    "image by image": wrong_image_by_image,
    "in degrees": wrong_degrees,
    "first block is turned": wrong_off_by_one,
}


def test_rotations_correct_student_passes_and_is_used():
    assert rotations_exercise.check(student_rotations) == "all rotations: correct."
    assert rotations_exercise.use(student_rotations) is student_rotations


@pytest.mark.parametrize("phrase", sorted(ROTATIONS_WRONG))
def test_each_rotations_mistake_is_named(phrase):
    line = rotations_exercise.check(ROTATIONS_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert rotations_exercise.use(ROTATIONS_WRONG[phrase]) is rotations_exercise.reference


def test_float_labels_are_named_by_the_probe():
    """Right values but float labels: cross-entropy needs torch.long."""
    def float_labels(images):
        rotated, labels = student_rotations(images)
        return rotated, labels.float()
    line = rotations_exercise.check(float_labels)
    assert "not yet" in line and "torch.long" in line


def test_rotations_shape_message_names_rot90_dims():
    """A wrong shape gets the expected one, and the reminder that torch.rot90 turns dims (0, 1) by default."""
    line = rotations_exercise.check(lambda images: (images, torch.zeros(len(images), dtype=torch.long)))
    assert "(4N, C, H, W)" in line and "dims=(-2, -1)" in line


def test_all_rotations_known_answer_and_inverse():
    """A 2x2 image [[0, 1], [2, 3]] turned 90 degrees counter-clockwise is [[1, 3], [0, 2]]; every block k turned
    back by -k is the original."""
    images = torch.arange(8.0).reshape(2, 1, 2, 2)
    rotated, labels = all_rotations(images)
    assert rotated[2, 0].tolist() == [[1.0, 3.0], [0.0, 2.0]] and labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert labels.dtype == torch.long
    for k in range(4):
        assert torch.equal(rotate(rotated[2 * k:2 * k + 2], -k), images)


def test_all_rotations_rejects_non_square_images():
    with pytest.raises(ValueError, match="square"):
        all_rotations(torch.zeros(2, 1, 4, 6))


# ---------------------------------------------------------------------------- jigsaw tiles


def student_shuffle(images, permutations):
    """Right, written differently: copy tile by tile with slices."""
    n, c, h, w = images.shape
    g = int(permutations.shape[1] ** 0.5)
    th, tw = h // g, w // g
    out = torch.empty_like(images)
    for i in range(n):
        for t in range(g * g):
            s = int(permutations[i, t])
            out[i, :, (t // g) * th:(t // g + 1) * th, (t % g) * tw:(t % g + 1) * tw] = \
                images[i, :, (s // g) * th:(s // g + 1) * th, (s % g) * tw:(s % g + 1) * tw]
    return out


def _copy(images, permutations, source_of, columns=False, transpose=False):
    """Tile by tile; `source_of(i, t)` the input tile placed at output tile t of image i."""
    n, c, h, w = images.shape
    g = int(permutations.shape[1] ** 0.5)
    th, tw = h // g, w // g

    def box(t):
        r, q = (t % g, t // g) if columns else (t // g, t % g)
        return slice(r * th, (r + 1) * th), slice(q * tw, (q + 1) * tw)
    out = torch.empty_like(images)
    for i in range(n):
        for t in range(g * g):
            tile = images[(i, slice(None), *box(source_of(i, t)))]
            out[(i, slice(None), *box(t))] = tile.transpose(-2, -1) if transpose else tile
    return out


def wrong_scatter(images, permutations):
    out = torch.empty_like(images)
    inverse = {(i, int(permutations[i, t])): t for i in range(len(images)) for t in range(permutations.shape[1])}
    out.copy_(_copy(images, permutations, lambda i, t: inverse[(i, t)]))
    return out


def wrong_columns(images, permutations):
    return _copy(images, permutations, lambda i, t: int(permutations[i, t]), columns=True)


def wrong_strips(images, permutations):
    n = len(images)
    flat = images.reshape(n, permutations.shape[1], -1)
    return torch.stack([flat[i, permutations[i]] for i in range(n)]).reshape(images.shape)


def wrong_first_permutation(images, permutations):
    return _copy(images, permutations, lambda i, t: int(permutations[0, t]))


def wrong_transposed(images, permutations):
    return _copy(images, permutations, lambda i, t: int(permutations[i, t]), transpose=True)


JIGSAW_WRONG = {
    "inverse permutation": wrong_scatter,
    "down the columns": wrong_columns,
    "strips of memory": wrong_strips,
    "first image's permutation": wrong_first_permutation,
    "transposed": wrong_transposed,
}


def test_jigsaw_correct_student_passes_and_is_used():
    assert jigsaw_exercise.check(student_shuffle) == "jigsaw tiles: correct."
    assert jigsaw_exercise.use(student_shuffle) is student_shuffle


@pytest.mark.parametrize("phrase", sorted(JIGSAW_WRONG))
def test_each_jigsaw_mistake_is_named(phrase):
    line = jigsaw_exercise.check(JIGSAW_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert jigsaw_exercise.use(JIGSAW_WRONG[phrase]) is jigsaw_exercise.reference


def test_shuffle_tiles_known_answer_and_inverse():
    """Tiles of a 2x2 grid [[0, 1], [2, 3]] under perm [1, 2, 0, 3] become [[1, 2], [0, 3]]; unshuffle undoes it."""
    images = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
    perm = torch.tensor([[1, 2, 0, 3]])
    shuffled = shuffle_tiles(images, perm)
    assert shuffled[0, 0].tolist() == [[1.0, 2.0], [0.0, 3.0]]
    assert torch.equal(unshuffle_tiles(shuffled, perm), images)


def test_jigsaw_shape_message():
    line = jigsaw_exercise.check(lambda images, permutations: images[:, :, :2])
    assert "keep the input's shape" in line


# ---------------------------------------------------------------------------- the rotation pretext step


def student_rotation_step(encoder, head, images):
    """Right, written differently: one angle at a time through the network (no BatchNorm in the check's encoder, so
    four batches of N give what one batch of 4N gives), log-softmax and the mean of the picked log-probabilities."""
    losses = []
    for k in range(4):
        logits = head(encoder(torch.rot90(images, k, dims=(2, 3))))
        losses.append(-torch.log_softmax(logits, dim=1)[:, k])
    return torch.cat(losses).mean()


def _wrong_step(encoder, head, images, change):
    rotated, labels = all_rotations(images)
    if change == "unrotated":
        rotated = images.repeat(4, 1, 1, 1)
    if change == "cycled":
        labels = torch.arange(4).repeat(len(images))
    if change == "zeros":
        labels = torch.zeros_like(labels)
    features = encoder(rotated)
    if change == "frozen":
        with torch.no_grad():
            features = encoder(rotated)
    logits = features if change == "no head" else head(features)
    if change == "softmax":
        return torch.nn.functional.cross_entropy(torch.softmax(logits, 1), labels)
    if change == "nll":
        return torch.nn.functional.nll_loss(logits, labels)
    if change == "sum":
        return torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
    return torch.nn.functional.cross_entropy(logits, labels)


STEP_WRONG = {
    "encoder's features": "no head",
    "images as they are": "unrotated",
    "labels cycle": "cycled",
    "Every label is 0": "zeros",
    "softmax before F.cross_entropy": "softmax",
    "log-probabilities": "nll",
    "summed over the 4N copies": "sum",
    "no gradient reaches the encoder": "frozen",
}


def test_rotation_step_correct_student_passes_and_is_used():
    assert rotation_step_exercise.check(student_rotation_step) == "rotation step: correct."
    assert rotation_step_exercise.use(student_rotation_step) is student_rotation_step


@pytest.mark.parametrize("phrase", sorted(STEP_WRONG))
def test_each_rotation_step_mistake_is_named(phrase):
    change = STEP_WRONG[phrase]
    line = rotation_step_exercise.check(lambda e, h, x: _wrong_step(e, h, x, change))
    assert "not yet" in line and phrase in line, line


def test_rotation_step_without_gradient_is_rejected():
    line = rotation_step_exercise.check(lambda e, h, x: student_rotation_step(e, h, x).item())
    assert "no gradient: the network could not learn from it" in line
