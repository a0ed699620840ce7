"""Notebook 06's exercises: per-image random-resized-crop boxes, the partner accuracy of two views and the SimCLR
step. A correct student written differently passes; each typical mistake, written here again as its own wrong
implementation, is named."""
import math

import pytest
import torch
import torch.nn.functional as F

from ssl_helpers import augment as A
from ssl_helpers.evaluate import partner_accuracy
from ssl_helpers.exercises.simclr import crop_exercise, partner_exercise, simclr_step_exercise, solution_simclr_step
from ssl_helpers.losses import nt_xent


def test_sample_crop_boxes_is_crop_boxes_from_uniforms_of_the_generators_draws():
    """The refactor keeps augment's boxes bit-identical: draws u_area, u_ratio, u_position in this order."""
    for h, w, scale, ratio, attempts in ((16, 12, (0.08, 1.0), (0.5, 2.0), 10), (12, 12, (0.35, 1.0), (0.7, 1.4), 3)):
        gen = torch.Generator().manual_seed(1)
        u = [torch.rand(40, k, generator=gen) for k in (attempts, attempts, 2)]
        boxes = A.sample_crop_boxes(40, h, w, scale, ratio, torch.Generator().manual_seed(1), attempts=attempts)
        assert torch.equal(boxes, A.crop_boxes_from_uniforms(*u, h, w, scale, ratio))


# ---------------------------------------------------------------------------- crop boxes


def student_boxes(u_area, u_ratio, u_position, size, scale, ratio):
    """Right, written differently: a loop over images and attempts."""
    rows = []
    for i in range(len(u_area)):
        h = w = float(size)
        for a in range(u_area.shape[1]):
            area = size ** 2 * (scale[0] + (scale[1] - scale[0]) * float(u_area[i, a]))
            r = math.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * float(u_ratio[i, a]))
            if math.sqrt(area * r) <= size and math.sqrt(area / r) <= size:
                h, w = math.sqrt(area / r), math.sqrt(area * r)
                break
        rows.append([(size - h) * float(u_position[i, 0]), (size - w) * float(u_position[i, 1]), h, w])
    return torch.tensor(rows, dtype=u_area.dtype)


def _sizes(u_area, u_ratio, size, scale, ratio, log_ratio=True, area_scale=True):
    s = scale[0] + (scale[1] - scale[0]) * u_area
    area = size * size * s if area_scale else (size * s) ** 2
    if log_ratio:
        r = torch.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u_ratio)
    else:
        r = ratio[0] + (ratio[1] - ratio[0]) * u_ratio
    return torch.sqrt(area * r), torch.sqrt(area / r)


def _first_fit(w, h, size, fallback=True):
    out_w, out_h = [], []
    for wi, hi in zip(w, h):
        fit = [a for a in range(len(wi)) if wi[a] <= size and hi[a] <= size]
        if fit:
            out_w.append(wi[fit[0]]), out_h.append(hi[fit[0]])
        elif fallback:
            out_w.append(torch.tensor(float(size))), out_h.append(torch.tensor(float(size)))
        else:
            out_w.append(wi[0]), out_h.append(hi[0])
    return torch.stack(out_w), torch.stack(out_h)


def _box(w, h, u_position, size):
    return torch.stack([(size - h) * u_position[:, 0], (size - w) * u_position[:, 1], h, w], dim=1)


def wrong_one_box(u_area, u_ratio, u_position, size, scale, ratio):
    row = student_boxes(u_area[:1], u_ratio[:1], u_position[:1], size, scale, ratio)
    return row.repeat(len(u_area), 1)


def wrong_uniform_ratio(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _first_fit(*_sizes(u_area, u_ratio, size, scale, ratio, log_ratio=False), size)
    return _box(w, h, u_position, size)


def wrong_swapped(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _sizes(u_area, u_ratio, size, scale, ratio)
    h, w = _first_fit(w, h, size)          # w and h returned the wrong way round
    return _box(w, h, u_position, size)


def wrong_leaves_image(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _first_fit(*_sizes(u_area, u_ratio, size, scale, ratio), size)
    return torch.stack([size * u_position[:, 0], size * u_position[:, 1], h, w], dim=1)


def wrong_side_scale(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _first_fit(*_sizes(u_area, u_ratio, size, scale, ratio, area_scale=False), size)
    return _box(w, h, u_position, size)


def wrong_attempt_zero(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _sizes(u_area, u_ratio, size, scale, ratio)
    return _box(w[:, 0], h[:, 0], u_position, size)


def wrong_no_fallback(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _first_fit(*_sizes(u_area, u_ratio, size, scale, ratio), size, fallback=False)
    return _box(w, h, u_position, size)


def wrong_top_left(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _first_fit(*_sizes(u_area, u_ratio, size, scale, ratio), size)
    return torch.stack([(size - h) * u_position[:, 1], (size - w) * u_position[:, 0], h, w], dim=1)


CROP_WRONG = {
    "first image's box": wrong_one_box,
    "log-uniform": wrong_uniform_ratio,
    "h and w are swapped": wrong_swapped,
    "stick out of the image": wrong_leaves_image,
    "fraction of the AREA": wrong_side_scale,
    "always keep attempt 0": wrong_attempt_zero,
    "fallback is the whole image": wrong_no_fallback,
    "top and left use each other's draw": wrong_top_left,
}


def test_crop_correct_student_passes_and_is_used():
    assert crop_exercise.check(student_boxes) == "crop boxes: correct."
    assert crop_exercise.use(student_boxes) is student_boxes


@pytest.mark.parametrize("phrase", sorted(CROP_WRONG))
def test_each_crop_mistake_is_named(phrase):
    line = crop_exercise.check(CROP_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert crop_exercise.use(CROP_WRONG[phrase]) is crop_exercise.reference


def test_crop_property_messages():
    """Outside the list of mistakes: a box past the border is found and named; right sizes at wrong places too."""
    def centred_outside(u_area, u_ratio, u_position, size, scale, ratio):
        boxes = student_boxes(u_area, u_ratio, u_position, size, scale, ratio)
        boxes[:, 0] = size - boxes[:, 2] / 2          # half the box below the bottom edge
        return boxes

    def centred(u_area, u_ratio, u_position, size, scale, ratio):
        boxes = student_boxes(u_area, u_ratio, u_position, size, scale, ratio)
        boxes[:, 0], boxes[:, 1] = (size - boxes[:, 2]) / 2, (size - boxes[:, 3]) / 2
        return boxes

    assert "leaves the" in crop_exercise.check(centred_outside)
    assert "sizes are right, the positions are not" in crop_exercise.check(centred)


def test_crop_unattempted_and_raising_students():
    def stub(*args):
        raise NotImplementedError

    def broken(u_area, u_ratio, u_position, size, scale, ratio):
        return u_area @ u_position

    assert "not attempted yet" in crop_exercise.check(stub)
    assert crop_exercise.use(stub) is crop_exercise.reference
    line = crop_exercise.check(broken)
    assert line.startswith("crop boxes: your function raised RuntimeError") and "\n" not in line


# ---------------------------------------------------------------------------- partner accuracy


def student_partner(z_a, z_b):
    """Right, written differently: a loop over the 2N views with F.cosine_similarity."""
    z = torch.cat([z_a, z_b])
    n2, n = len(z), len(z_a)
    right = 0
    for i in range(n2):
        s = F.cosine_similarity(z[i:i + 1], z, dim=1)
        p = (i + n) % n2
        others = [float(s[k]) for k in range(n2) if k not in (i, p)]
        right += float(s[p]) > max(others)
    return right / n2


def _s(z_a, z_b, normalise=True):
    z = torch.cat([z_a, z_b])
    if normalise:
        z = z / z.norm(dim=1, keepdim=True)
    return z @ z.T


def _right(s, partner, skip_self=True, strict=True):
    s = s.clone()
    idx = torch.arange(len(s))
    pos = s[idx, partner].clone()
    if skip_self:
        s.fill_diagonal_(-1e9)
    s[idx, partner] = -1e9
    best = s.max(1).values
    return (pos > best) if strict else (pos >= best)


def wrong_self_included(z_a, z_b):
    n = len(z_a)
    return _right(_s(z_a, z_b), torch.cat([torch.arange(n, 2 * n), torch.arange(n)]), skip_self=False).float().mean()


def wrong_ties(z_a, z_b):
    n = len(z_a)
    return _right(_s(z_a, z_b), torch.cat([torch.arange(n, 2 * n), torch.arange(n)]), strict=False).float().mean()


def wrong_neighbours(z_a, z_b):
    partner = torch.tensor([i + 1 if i % 2 == 0 else i - 1 for i in range(2 * len(z_a))])
    return _right(_s(z_a, z_b), partner).float().mean()


def wrong_z_a_only(z_a, z_b):
    n = len(z_a)
    return _right(_s(z_a, z_b), torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))[:n].float().mean()


def wrong_dot(z_a, z_b):
    n = len(z_a)
    return _right(_s(z_a, z_b, normalise=False), torch.cat([torch.arange(n, 2 * n), torch.arange(n)])).float().mean()


def wrong_cross_only(z_a, z_b):
    s = F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T      # (N, N)
    a_right = s.argmax(1) == torch.arange(len(s))
    b_right = s.argmax(0) == torch.arange(len(s))
    ties = (s == s.max(1, keepdim=True).values).sum(1) > 1       # strict: a tie is wrong
    ties_b = (s == s.max(0, keepdim=True).values).sum(0) > 1
    return torch.cat([a_right & ~ties, b_right & ~ties_b]).float().mean()


def wrong_percent(z_a, z_b):
    return 100 * student_partner(z_a, z_b)


def wrong_count(z_a, z_b):
    return student_partner(z_a, z_b) * 2 * len(z_a)


PARTNER_WRONG = {
    "compared itself": wrong_self_included,
    "counted ties": wrong_ties,
    "neighbours": wrong_neighbours,
    "only the N views of z_a": wrong_z_a_only,
    "raw dot products": wrong_dot,
    "the other side only": wrong_cross_only,
    "in percent": wrong_percent,
    "divide by 2N": wrong_count,
}


def test_partner_correct_student_passes_and_is_used():
    assert partner_exercise.check(student_partner) == "partner accuracy: correct."
    assert partner_exercise.use(student_partner) is student_partner


@pytest.mark.parametrize("phrase", sorted(PARTNER_WRONG))
def test_each_partner_mistake_is_named(phrase):
    line = partner_exercise.check(PARTNER_WRONG[phrase])
    assert "not yet" in line and phrase in line, line


def test_partner_known_answers_and_bad_input():
    """By hand (the exercise's N = 2 case): 3 of 4 views find their partner; identical projections: none; N = 1
    has no negatives and is refused."""
    z_a, z_b = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[0.9, 0.1], [0.8, 0.6]])
    assert partner_accuracy(z_a, z_b) == 0.75
    same = torch.ones(3, 4)
    assert partner_accuracy(same, same) == 0.0
    with pytest.raises(ValueError, match="N >= 2"):
        partner_accuracy(torch.ones(1, 4), torch.ones(1, 4))


def test_partner_unattempted_and_raising_students():
    def stub(z_a, z_b):
        raise NotImplementedError

    def broken(z_a, z_b):
        return (z_a @ z_b).mean()

    assert "not attempted yet" in partner_exercise.check(stub)
    assert partner_exercise.use(stub) is partner_exercise.reference
    line = partner_exercise.check(broken)
    assert line.startswith("partner accuracy: your function raised RuntimeError") and "\n" not in line


def wrong_argmax(z_a, z_b):
    """argmax over the other views: right wherever the best is unique, but a tie goes to the first tied view."""
    n = len(z_a)
    s = _s(z_a, z_b)
    s.fill_diagonal_(-1e9)
    return (s.argmax(1) == torch.cat([torch.arange(n, 2 * n), torch.arange(n)])).float().mean()


def test_partner_argmax_on_a_tie_is_named_not_a_generic_difference():
    line = partner_exercise.check(wrong_argmax)
    assert "not yet" in line and "STRICTLY" in line and "tie" in line and "test case" not in line, line


def test_partner_any_tie_rule_is_explained():
    """Another tie rule (the last tied view, via a flipped argmax) still gets the tie message."""
    def last_of_ties(z_a, z_b):
        n = len(z_a)
        s = _s(z_a, z_b)
        s.fill_diagonal_(-1e9)
        best = 2 * n - 1 - s.flip(1).argmax(1)
        return float((best == torch.cat([torch.arange(n, 2 * n), torch.arange(n)])).float().mean())
    line = partner_exercise.check(last_of_ties)
    assert "not yet" in line and "STRICTLY" in line, line


# ---------------------------------------------------------------------------- the SimCLR step


def student_simclr_step(encoder, head, images, augment, generator, temperature):
    """Right, written differently: the 2N views drawn in one augment call on the stacked images, each view through
    encoder and head in its own pass (the check's encoder has no BatchNorm), NT-Xent written out."""
    n = len(images)
    views = augment(torch.cat([images, images]), generator)
    z_a, z_b = head(encoder(views[:n])), head(encoder(views[n:]))
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    logits = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))


def _wrong_simclr(encoder, head, images, augment, generator, temperature, change):
    n = len(images)
    view_a = images if change in ("clean", "none") else augment(images, generator)
    view_b = view_a if change == "same" else (images if change == "none" else augment(images, generator))
    h = encoder(torch.cat([view_a, view_b]))
    if change == "frozen":
        h = h.detach()
    z = h if change == "no head" else head(h)
    z_a, z_b = (z[0::2], z[1::2]) if change == "interleaved" else (z[:n], z[n:])
    return nt_xent(z_a, z_b, 0.5 if change == "default temperature" else temperature)


SIMCLR_WRONG = {
    "same draw": "same",
    "is the image itself": "clean",
    "No augmentation at all": "none",
    "encoder's features h": "no head",
    "rows 2k and 2k + 1": "interleaved",
    "temperature given was not used": "default temperature",
    "no gradient reaches the encoder": "frozen",
}


def test_simclr_step_correct_students_pass_and_are_used():
    for student in (student_simclr_step, solution_simclr_step):
        assert simclr_step_exercise.check(student) == "SimCLR step: correct."
        assert simclr_step_exercise.use(student) is student


@pytest.mark.parametrize("phrase", sorted(SIMCLR_WRONG))
def test_each_simclr_step_mistake_is_named(phrase):
    change = SIMCLR_WRONG[phrase]
    line = simclr_step_exercise.check(lambda e, h, x, a, g, t: _wrong_simclr(e, h, x, a, g, t, change))
    assert "not yet" in line and phrase in line, line


def test_simclr_step_without_gradient_is_rejected_and_extra_views_are_counted():
    line = simclr_step_exercise.check(lambda *args: student_simclr_step(*args).item())
    assert "no gradient: the network could not learn from it" in line

    def three_views(encoder, head, images, augment, generator, temperature):
        augment(images, generator)                    # a wasted draw: the views differ from the course's
        return student_simclr_step(encoder, head, images, augment, generator, temperature)
    line = simclr_step_exercise.check(three_views)
    assert "not yet" in line and "asked augment for 12 views of the N = 4 images" in line, line
