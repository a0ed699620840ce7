"""The contrastive losses: each against a reference written from its equation, a known answer, edge cases."""
import itertools
import math

import pytest
import torch

from ssl_helpers.losses import (
    cosine_similarity_matrix,
    info_nce,
    nt_xent,
    nt_xent_logits,
    pair_contrastive_loss,
    triplet_loss,
)
from ssl_helpers.losses.reference import nt_xent_loop, nt_xent_naive


def views(n, d, seed=0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=dtype), torch.randn(n, d, generator=generator, dtype=dtype)


# ----------------------------------------------------------------------------------------------------
# NT-Xent
# ----------------------------------------------------------------------------------------------------

GRID = list(itertools.product([2, 3, 16, 64], [2, 17, 256], [0.05, 0.5, 10.0]))


@pytest.mark.parametrize("n, d, temperature", GRID)
def test_nt_xent_equals_the_loop_reference_from_the_paper(n, d, temperature):
    z_a, z_b = views(n, d, seed=n * 1000 + d)
    expected = nt_xent_loop(z_a, z_b, temperature).item()
    assert nt_xent(z_a, z_b, temperature).item() == pytest.approx(expected, abs=1e-5)
    assert nt_xent(z_a.double(), z_b.double(), temperature).item() == pytest.approx(expected, abs=1e-10)


def test_nt_xent_naive_broadcast_version_agrees():
    z_a, z_b = views(32, 64)
    assert nt_xent_naive(z_a, z_b, 0.2).item() == pytest.approx(nt_xent(z_a, z_b, 0.2).item(), abs=1e-5)


@pytest.mark.parametrize("n", [2, 5, 64])
def test_identical_embeddings_give_log_of_the_number_of_candidates(n):
    z = torch.full((n, 7), 0.3)
    assert nt_xent(z, z.clone(), temperature=0.07).item() == pytest.approx(math.log(2 * n - 1), abs=1e-5)


def test_nt_xent_is_symmetric_in_the_two_views():
    z_a, z_b = views(10, 5)
    assert nt_xent(z_a, z_b, 0.3).item() == pytest.approx(nt_xent(z_b, z_a, 0.3).item(), abs=1e-6)


def test_nt_xent_ignores_the_scale_of_each_embedding():
    z_a, z_b = views(6, 4)
    scale = torch.rand(6, 1) * 10 + 0.1
    assert nt_xent(z_a * scale, z_b, 0.5).item() == pytest.approx(nt_xent(z_a, z_b, 0.5).item(), abs=1e-5)


def test_nt_xent_accepts_the_stacked_two_view_batch():
    z_a, z_b = views(4, 3)
    assert nt_xent(torch.cat([z_a, z_b]), temperature=0.2).item() == pytest.approx(nt_xent(z_a, z_b, 0.2).item())


def test_nt_xent_keeps_the_first_api_positional_temperature_and_defaults():
    z_a, z_b = views(4, 3)
    assert nt_xent(z_a, z_b, 0.5).item() == nt_xent(z_a, z_b).item() == nt_xent(z_a, z_b, temperature=0.5).item()


def test_perfectly_aligned_views_at_low_temperature_give_a_loss_near_zero():
    z = torch.eye(4)                              # 4 orthogonal inputs, both views identical
    assert nt_xent(z, z.clone(), temperature=0.01).item() < 1e-3


@pytest.mark.parametrize("temperature", [0.1, 2.0])
def test_nt_xent_gradients_match_finite_differences(temperature):
    z_a, z_b = views(5, 4, dtype=torch.float64)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, temperature), (z_a, z_b))


def test_nt_xent_gradients_equal_the_loop_reference_gradients():
    z_a, z_b = views(6, 3, dtype=torch.float64)
    grads = []
    for loss in (nt_xent, nt_xent_loop):
        a, b = z_a.clone().requires_grad_(True), z_b.clone().requires_grad_(True)
        loss(a, b, 0.3).backward()
        grads.append(torch.cat([a.grad, b.grad]))
    torch.testing.assert_close(grads[0], grads[1])


def test_nt_xent_logits_mask_the_diagonal_and_point_to_the_other_view():
    z_a, z_b = views(3, 2)
    logits, targets = nt_xent_logits(z_a, z_b, 0.5)
    assert logits.shape == (6, 6)
    assert torch.isinf(logits.diagonal()).all()
    assert targets.tolist() == [3, 4, 5, 0, 1, 2]


def test_nt_xent_is_info_nce_over_all_other_views():
    z_a, z_b = views(5, 4)
    z = torch.cat([z_a, z_b])
    _, targets = nt_xent_logits(z_a, z_b, 0.2)
    value = info_nce(z, z, targets, temperature=0.2, exclude=torch.eye(10, dtype=torch.bool))
    assert value.item() == pytest.approx(nt_xent(z_a, z_b, 0.2).item(), abs=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: nt_xent(torch.randn(4, 3), torch.randn(4, 2)), "same shape"),
    (lambda: nt_xent(torch.randn(4, 3), torch.randn(5, 3)), "same shape"),
    (lambda: nt_xent(torch.randn(4), torch.randn(4)), "matrix"),
    (lambda: nt_xent(torch.randn(7, 3), temperature=0.5), "even number of rows"),
    (lambda: nt_xent(torch.randn(1, 3), torch.randn(1, 3)), "at least 2 pairs"),
    (lambda: nt_xent(torch.randn(2, 3), temperature=0.5), "at least 2 pairs"),
    (lambda: nt_xent(torch.randn(4, 3), torch.randn(4, 3), 0.0), "temperature"),
    (lambda: nt_xent(torch.randn(4, 3), torch.randn(4, 3), -1.0), "temperature"),
    (lambda: nt_xent(torch.randn(4, 3), torch.randn(4, 3), float("nan")), "temperature"),
    (lambda: nt_xent(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), torch.ones(2, 2)), "z_a contains non-finite"),
    (lambda: nt_xent(torch.ones(2, 2), torch.tensor([[1.0, float("inf")], [0.0, 1.0]])), "z_b contains non-finite"),
    (lambda: nt_xent(torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2, dtype=torch.long)), "floating-point"),
    (lambda: nt_xent(torch.randn(4, 3), torch.randn(4, 3), gather=True), "process group"),
])
def test_nt_xent_rejects_invalid_input_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------------------------------
# InfoNCE with a set of keys
# ----------------------------------------------------------------------------------------------------


def test_info_nce_known_answer_with_two_orthogonal_keys():
    # cos = 1 with the positive, 0 with the negative: L = -log(e^(1/T) / (e^(1/T) + e^0))
    query, keys = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    expected = -math.log(math.exp(1 / 0.5) / (math.exp(1 / 0.5) + 1))
    assert info_nce(query, keys, torch.tensor([0]), temperature=0.5).item() == pytest.approx(expected, abs=1e-6)


def test_info_nce_rejects_bad_positive_index_and_dimension():
    with pytest.raises(ValueError, match="positive indices"):
        info_nce(torch.randn(2, 3), torch.randn(4, 3), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="same dimension"):
        info_nce(torch.randn(2, 3), torch.randn(4, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="own positive"):
        info_nce(torch.randn(1, 3), torch.randn(2, 3), torch.tensor([0]), exclude=torch.tensor([[True, False]]))


def test_cosine_similarity_matrix_matches_torch():
    x, y = views(5, 3)
    expected = torch.nn.functional.cosine_similarity(x[:, None], y[None], dim=-1)
    torch.testing.assert_close(cosine_similarity_matrix(x, y), expected)


# ----------------------------------------------------------------------------------------------------
# Margin losses: known answers
# ----------------------------------------------------------------------------------------------------


def test_pair_contrastive_loss_known_answer():
    z_a = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    z_b = torch.tensor([[3.0, 4.0], [0.6, 0.8], [3.0, 4.0]])       # distances 5, 1, 5
    similar = torch.tensor([True, False, False])
    # similar at d=5: 25/2; dissimilar at d=1 inside margin 2: (2-1)^2/2; dissimilar at d=5 beyond it: 0
    expected = (12.5 + 0.5 + 0.0) / 3
    assert pair_contrastive_loss(z_a, z_b, similar, margin=2.0).item() == pytest.approx(expected)
    assert pair_contrastive_loss(z_a, z_b, similar.int(), margin=2.0).item() == pytest.approx(expected)


def test_pair_contrastive_loss_is_zero_when_pairs_are_where_they_belong():
    z_a = torch.zeros(2, 2)
    z_b = torch.tensor([[0.0, 0.0], [5.0, 0.0]])
    assert pair_contrastive_loss(z_a, z_b, torch.tensor([1, 0]), margin=1.0).item() == 0.0


def test_pair_contrastive_loss_gradient_is_finite_at_zero_distance():
    z_a = torch.zeros(2, 3, requires_grad=True)
    pair_contrastive_loss(z_a, torch.zeros(2, 3), torch.tensor([0, 1])).backward()
    assert torch.isfinite(z_a.grad).all()


def test_triplet_loss_known_answer():
    anchor = torch.zeros(2, 2)
    positive = torch.tensor([[1.0, 0.0], [0.0, 3.0]])               # d(a, p) = 1, 3
    negative = torch.tensor([[0.0, 4.0], [0.0, 3.5]])               # d(a, n) = 4, 3.5
    # max(0, 1 - 4 + 1) = 0; max(0, 3 - 3.5 + 1) = 0.5
    assert triplet_loss(anchor, positive, negative, margin=1.0).item() == pytest.approx(0.25)


def test_triplet_loss_agrees_with_torch():
    a, p = views(8, 5)
    n, _ = views(8, 5, seed=1)
    expected = torch.nn.TripletMarginLoss(margin=0.7, eps=0.0)(a, p, n)
    assert triplet_loss(a, p, n, margin=0.7).item() == pytest.approx(expected.item(), abs=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda: pair_contrastive_loss(torch.randn(3, 2), torch.randn(3, 4), torch.ones(3)), "same shape"),
    (lambda: pair_contrastive_loss(torch.randn(3, 2), torch.randn(3, 2), torch.ones(2)), "one flag per pair"),
    (lambda: pair_contrastive_loss(torch.randn(3, 2), torch.randn(3, 2), torch.full((3,), 2)), "0/1"),
    (lambda: pair_contrastive_loss(torch.randn(3, 2), torch.randn(3, 2), torch.ones(3), margin=0), "margin"),
    (lambda: triplet_loss(torch.randn(3, 2), torch.randn(3, 2), torch.randn(4, 2)), "same shape"),
    (lambda: triplet_loss(torch.randn(3, 2), torch.randn(3, 2), torch.randn(3, 2), margin=-1), "margin"),
    (lambda: triplet_loss(torch.full((1, 2), float("nan")), torch.ones(1, 2), torch.ones(1, 2)), "anchor contains"),
])
def test_margin_losses_reject_invalid_input_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()
