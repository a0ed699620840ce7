"""DINO's and I-JEPA's losses: the teacher's outputs are the targets.

- `dino_loss` equals DINO's pseudo-code (Algorithm 1, `dino_loop`) for any number of global and local views, and
  reduces to known cross-entropies and entropies; no gradient reaches the teacher or the center.
- `update_center` is an exponential moving average of the teacher's mean logit, across processes too.
- `teacher_entropy` and `largest_prototype_share` tell the two collapses apart (uniform teacher, one prototype).
- `ijepa_loss` equals its token-by-token loop, ignores the target's scale (layer norm) and never sends a gradient
  into the target.
- Bad input raises a ValueError (TypeError for a non-list) that names the argument.
"""
import math
import os
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from gloo import spawn_gloo

from ssl_helpers.losses import dino_loss, ijepa_loss, largest_prototype_share, teacher_entropy, update_center
from ssl_helpers.losses.reference import dino_loop, ijepa_loop

N, K = 5, 8


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def views(count, seed, n=N, k=K, scale=3.0):
    return [scale * randn(n, k, seed=seed + v) for v in range(count)]


def cross_entropy(p_logits, q_logits, temperature):
    """H(p, q) = -(1/N) sum_n sum_k p log q, p = softmax(p_logits / T), q = softmax(q_logits / T)."""
    p = torch.softmax(p_logits.double() / temperature, dim=1)
    return -(p * torch.log_softmax(q_logits.double() / temperature, dim=1)).sum(dim=1).mean().item()


# ----------------------------------------------------------------------------------------------------
# dino_loss: the paper's pseudo-code, known answers, where the gradient goes
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("global_views, local_views", [(2, 4), (2, 0), (1, 1), (1, 3)])
@pytest.mark.parametrize("student_temperature, teacher_temperature", [(0.1, 0.04), (0.5, 0.2), (1.0, 1.0)])
def test_dino_loss_equals_the_papers_pseudo_code(global_views, local_views, student_temperature,
                                                 teacher_temperature):
    teacher = views(global_views, seed=10)
    student = views(global_views + local_views, seed=20)
    center = randn(1, K, seed=30)
    expected = dino_loop(student, teacher, center, student_temperature, teacher_temperature).item()
    value = dino_loss(student, teacher, center, student_temperature, teacher_temperature).item()
    assert value == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_two_views_give_the_mean_of_the_two_cross_entropies():
    """Equal temperatures, zero center, student view j = teacher view j: pair (0, 1) scores H(p_0, p_1), pair
    (1, 0) scores H(p_1, p_0), and the loss is their mean."""
    a, b = views(2, seed=1)
    t = 0.3
    expected = (cross_entropy(a, b, t) + cross_entropy(b, a, t)) / 2
    value = dino_loss([a, b], [a, b], torch.zeros(K), student_temperature=t, teacher_temperature=t)
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_identical_views_give_the_entropy_of_the_teacher():
    """Every view the same and equal temperatures: each pair is H(p, p), the entropy of the teacher."""
    (a,) = views(1, seed=2)
    t = 0.5
    value = dino_loss([a] * 6, [a] * 2, torch.zeros(1, K), student_temperature=t, teacher_temperature=t)
    assert value.item() == pytest.approx(cross_entropy(a, a, t), rel=1e-5)
    assert value.item() == pytest.approx(teacher_entropy(a, torch.zeros(K), t).item(), rel=1e-5)


def test_uniform_teacher_and_student_give_log_k():
    constant = [torch.full((N, K), 2.0) for _ in range(4)]
    assert dino_loss(constant, constant[:2], torch.zeros(K)).item() == pytest.approx(math.log(K), rel=1e-6)


def test_a_center_that_shifts_every_prototype_alike_changes_nothing():
    student, teacher = views(4, seed=3), views(2, seed=7)
    zero = dino_loss(student, teacher, torch.zeros(K))
    assert dino_loss(student, teacher, torch.full((K,), 5.0)).item() == pytest.approx(zero.item(), rel=1e-5)
    assert dino_loss(student, teacher, randn(K, seed=4)).item() != pytest.approx(zero.item(), rel=1e-3)


def test_gradient_reaches_the_student_only_and_equals_the_pseudo_codes():
    student = [v.double().requires_grad_(True) for v in views(5, seed=40)]
    teacher = [v.double().requires_grad_(True) for v in views(2, seed=50)]
    center = randn(K, seed=60, dtype=torch.float64).requires_grad_(True)
    dino_loss(student, teacher, center, 0.2, 0.05).backward()
    assert all(t.grad is None for t in teacher) and center.grad is None
    grads = [s.grad.clone() for s in student]
    assert all(g.abs().sum() > 0 for g in grads)

    copies = [s.detach().clone().requires_grad_(True) for s in student]
    dino_loop(copies, teacher, center, 0.2, 0.05).backward()
    for g, copy in zip(grads, copies):
        torch.testing.assert_close(g, copy.grad)


def test_half_precision_logits_give_a_float32_loss_close_to_float64():
    student, teacher, center = views(3, seed=70), views(2, seed=80), randn(K, seed=90)
    expected = dino_loop(student, teacher, center, 0.1, 0.04).item()
    value = dino_loss([s.bfloat16() for s in student], [t.bfloat16() for t in teacher], center)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected, rel=0.05)


# ----------------------------------------------------------------------------------------------------
# update_center: a moving average of the teacher's mean logit
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("center_shape", [(K,), (1, K)])
def test_update_center_is_the_moving_average_of_the_teachers_mean(center_shape):
    center = randn(*center_shape, seed=1)
    teacher = views(2, seed=2)
    new = update_center(center, teacher, momentum=0.9)
    batch_mean = torch.cat(teacher).mean(dim=0)
    torch.testing.assert_close(new, (0.9 * center.reshape(-1) + 0.1 * batch_mean).reshape(center_shape))
    assert new.shape == center.shape and new.dtype == center.dtype
    torch.testing.assert_close(update_center(center, torch.cat(teacher), 0.9), new)     # one (R, K) tensor


def test_update_center_known_answer():
    teacher = [torch.ones(3, K), 3 * torch.ones(3, K)]                                     # mean 2 everywhere
    assert torch.equal(update_center(torch.zeros(K), teacher, momentum=0.75), torch.full((K,), 0.5))


def test_momentum_one_keeps_the_center_and_zero_replaces_it():
    center, teacher = randn(1, K, seed=3), views(2, seed=4)
    assert torch.equal(update_center(center, teacher, momentum=1.0), center)
    torch.testing.assert_close(update_center(center, teacher, momentum=0.0), torch.cat(teacher).mean(0, keepdim=True))


def test_update_center_returns_a_new_tensor_without_gradient():
    center = torch.zeros(K)
    teacher = [v.requires_grad_(True) for v in views(2, seed=5)]
    new = update_center(center, teacher)
    assert not new.requires_grad and new.grad_fn is None
    assert torch.equal(center, torch.zeros(K))                                            # not updated in place


WORLD, TIMEOUT_S = 2, 90


def rows_of(rank):
    """Process 0 holds 2 rows per view, process 1 holds 3: the mean must weight every row, not every process."""
    return [randn(2 + rank, K, seed=100 * rank + v) for v in range(2)]


def _center_worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=timedelta(seconds=TIMEOUT_S))
    try:
        center = update_center(torch.ones(K), rows_of(rank), momentum=0.5)
        torch.save({"center": center}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_update_center_averages_the_rows_of_every_process(tmp_path):
    results = spawn_gloo(_center_worker, tmp_path, WORLD, TIMEOUT_S)
    every_row = torch.cat([torch.cat(rows_of(rank)) for rank in range(WORLD)])
    expected = 0.5 * torch.ones(K) + 0.5 * every_row.mean(dim=0)
    for result in results:
        torch.testing.assert_close(result["center"], expected)


# ----------------------------------------------------------------------------------------------------
# Collapse diagnostics
# ----------------------------------------------------------------------------------------------------


def test_teacher_entropy_is_log_k_for_a_uniform_teacher_and_near_zero_for_a_sharp_one():
    assert teacher_entropy(torch.zeros(N, K), torch.zeros(K), 0.04).item() == pytest.approx(math.log(K))
    sharp = 10 * torch.eye(K)[:N]
    assert teacher_entropy(sharp, torch.zeros(K), 0.04).item() < 1e-6


def test_teacher_entropy_centres_and_sharpens():
    logits, center, t = views(2, seed=6), randn(K, seed=7), 0.3
    p = torch.softmax((torch.cat(logits) - center) / t, dim=1)
    expected = -(p * p.log()).sum(dim=1).mean().item()
    assert teacher_entropy(logits, center, t).item() == pytest.approx(expected, rel=1e-5)


def test_largest_prototype_share():
    spread = torch.eye(K)                                           # row r picks prototype r
    assert largest_prototype_share(spread, torch.zeros(K), 0.04).item() == pytest.approx(1 / K)
    collapsed = torch.eye(K)[[2] * 6 + [0, 1]]                      # 6 rows of 8 pick prototype 2
    assert largest_prototype_share(collapsed, torch.zeros(K), 0.04).item() == pytest.approx(6 / 8)
    logits = 2 * torch.eye(K)[[2] * K] + torch.eye(K)               # every row's largest logit: prototype 2
    assert largest_prototype_share([logits], torch.zeros(K), 0.04).item() == 1.0
    center = torch.zeros(K)
    center[2] = 2.5                                                 # centring takes prototype 2 down: rows spread
    assert largest_prototype_share([logits], center, 0.04).item() == pytest.approx(1 / K)


# ----------------------------------------------------------------------------------------------------
# ijepa_loss
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, m, d", [(1, 1, 2), (3, 4, 5), (2, 6, 16)])
def test_ijepa_loss_equals_the_token_by_token_loop(n, m, d):
    predicted, target = randn(n, m, d, seed=1), 4 * randn(n, m, d, seed=2) + 1
    expected = ijepa_loop(predicted, target).item()
    assert ijepa_loss(predicted, target).item() == pytest.approx(expected, rel=1e-5)


def test_ijepa_loss_is_zero_for_the_layer_normalised_target():
    target = randn(2, 3, 8, seed=3)
    assert ijepa_loss(F.layer_norm(target, (8,)), target).item() == pytest.approx(0.0, abs=1e-10)


def test_ijepa_loss_ignores_the_scale_and_offset_of_each_target_token():
    predicted, target = randn(2, 5, 8, seed=4), randn(2, 5, 8, seed=5)
    scale = 1 + 9 * torch.rand(2, 5, 1, generator=torch.Generator().manual_seed(6))
    assert ijepa_loss(predicted, scale * target - 3).item() == pytest.approx(ijepa_loss(predicted, target).item(),
                                                                              rel=1e-4)


def test_no_gradient_flows_into_the_target():
    predicted = randn(2, 3, 4, seed=7).requires_grad_(True)
    target = randn(2, 3, 4, seed=8).requires_grad_(True)
    ijepa_loss(predicted, target).backward()
    assert target.grad is None
    expected = 2 * (predicted.detach() - F.layer_norm(target.detach(), (4,))) / predicted.numel()
    torch.testing.assert_close(predicted.grad, expected)


# ----------------------------------------------------------------------------------------------------
# Bad input: an error that names the argument
# ----------------------------------------------------------------------------------------------------

A, B = torch.zeros(N, K), torch.ones(N, K)
BAD_INPUT = [
    (lambda: dino_loss([A], [A, B], torch.zeros(K)), ValueError, "student_logits must hold every view"),
    (lambda: dino_loss([A], [A], torch.zeros(K)), ValueError, "student_logits must hold at least 2 views"),
    (lambda: dino_loss([A, B], [], torch.zeros(K)), ValueError, "teacher_logits must hold at least 1 view"),
    (lambda: dino_loss([A, B], [A, torch.zeros(N + 1, K)], torch.zeros(K)), ValueError,
     "every view in teacher_logits must have the same shape"),
    (lambda: dino_loss([A, torch.zeros(N, K + 1)], [A], torch.zeros(K)), ValueError,
     "every view in student_logits must have the same shape"),
    (lambda: dino_loss([torch.zeros(N, K + 1)] * 2, [A], torch.zeros(K)), ValueError,
     "student_logits and teacher_logits must have the same shape"),
    (lambda: dino_loss([A, B], [A], torch.zeros(K + 1)), ValueError, r"center must be a tensor of shape \(K,\)"),
    (lambda: dino_loss([A, B], [A], torch.zeros(2, K)), ValueError, "center must be"),
    (lambda: dino_loss([A, B], [A], torch.zeros(K), student_temperature=0), ValueError,
     "student_temperature must be a positive"),
    (lambda: dino_loss([A, B], [A], torch.zeros(K), teacher_temperature=-0.04), ValueError,
     "teacher_temperature must be a positive"),
    (lambda: dino_loss([A, torch.full((N, K), float("nan"))], [A], torch.zeros(K)), ValueError,
     r"student_logits\[1\] contains non-finite"),
    (lambda: dino_loss([A, B], A, torch.zeros(K)), TypeError, "teacher_logits must be a list"),
    (lambda: dino_loss([A, torch.zeros(N)], [A], torch.zeros(K)), ValueError, r"student_logits\[1\] must be a matrix"),
    (lambda: update_center(torch.zeros(K), [A], momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
    (lambda: update_center(torch.zeros(K), [A], momentum=-0.1), ValueError, r"momentum must be in \[0, 1\]"),
    (lambda: update_center(torch.zeros(K + 1), [A]), ValueError, "center must be"),
    (lambda: update_center(torch.zeros(K), [A, torch.zeros(N, K + 1)]), ValueError, "teacher_logits"),
    (lambda: teacher_entropy(A, torch.zeros(K), 0.0), ValueError, "teacher_temperature must be a positive"),
    (lambda: largest_prototype_share(A, torch.zeros(3), 0.04), ValueError, "center must be"),
    (lambda: ijepa_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 5)), ValueError,
     r"predicted , target must have the same shape \(N, M, D\)"),
    (lambda: ijepa_loss(torch.zeros(2, 4), torch.zeros(2, 4)), ValueError, r"predicted must have shape \(N, M, D\)"),
    (lambda: ijepa_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4, dtype=torch.long)), ValueError,
     "target must be a floating-point"),
]


@pytest.mark.parametrize("call, error, message", BAD_INPUT)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
