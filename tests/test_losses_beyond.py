"""The losses of notebook 07 (MoCo, BYOL/SimSiam, Barlow Twins, VICReg): each against a slow loop written from its
paper's equation, known answers, and what bad input does (a clear error, or a documented epsilon)."""
import math

import pytest
import torch

from ssl_helpers.losses import (
    barlow_twins_loss,
    cross_correlation,
    moco_loss,
    negative_cosine,
    vicreg_loss,
    vicreg_terms,
)
from ssl_helpers.losses.reference import barlow_twins_loop, moco_loop, negative_cosine_loop, vicreg_loop


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def decorrelated(n, d, seed=0):
    """n > d embeddings whose d columns are centred, mutually orthogonal and have std 1 (with 1/n): the columns of
    an orthonormal basis that also contains the all-ones vector, scaled by sqrt(n)."""
    basis = torch.cat([torch.ones(n, 1, dtype=torch.float64), randn(n, d, seed=seed, dtype=torch.float64)], dim=1)
    q, _ = torch.linalg.qr(basis)
    return q[:, 1:] * math.sqrt(n)


# ----------------------------------------------------------------------------------------------------
# References from the papers
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("b, k, d, temperature", [(1, 1, 2, 0.2), (4, 7, 5, 0.07), (8, 32, 16, 1.0)])
def test_moco_loss_equals_the_loop_from_the_paper(b, k, d, temperature):
    q, key, queue = randn(b, d, seed=1), randn(b, d, seed=2), randn(k, d, seed=3)
    expected = moco_loop(q, key, queue, temperature).item()
    assert moco_loss(q, key, queue, temperature).item() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("n, d", [(1, 3), (6, 4), (32, 64)])
def test_negative_cosine_equals_the_loop_and_matches_byols_squared_distance(n, d):
    p, z = randn(n, d, seed=4), randn(n, d, seed=5)
    value = negative_cosine(p, z)
    assert value.item() == pytest.approx(negative_cosine_loop(p, z).item(), abs=1e-6)
    byol = (torch.nn.functional.normalize(p, dim=1) - torch.nn.functional.normalize(z, dim=1)).pow(2).sum(1).mean()
    assert byol.item() == pytest.approx(2 + 2 * value.item(), abs=1e-5)


@pytest.mark.parametrize("n, d, weight", [(2, 2, 0.5), (7, 3, 5e-3), (16, 8, 1.0)])
def test_barlow_twins_equals_the_loop_from_the_paper(n, d, weight):
    z_a, z_b = randn(n, d, seed=6), randn(n, d, seed=7)
    expected = barlow_twins_loop(z_a, z_b, weight).item()
    assert barlow_twins_loss(z_a.double(), z_b.double(), weight, eps=1e-12).item() == pytest.approx(expected, rel=1e-9)
    assert barlow_twins_loss(z_a, z_b, weight).item() == pytest.approx(expected, rel=1e-3)  # eps 1e-5 on a variance ~1


@pytest.mark.parametrize("n, d, weights", [(2, 2, (25.0, 25.0, 1.0)), (9, 4, (1.0, 2.0, 3.0)),
                                           (16, 8, (25.0, 0.0, 1.0))])
def test_vicreg_equals_the_loop_from_the_paper(n, d, weights):
    z_a, z_b = randn(n, d, seed=8) * 0.7, randn(n, d, seed=9) * 1.3
    expected = vicreg_loop(z_a, z_b, *weights)
    terms = vicreg_terms(z_a, z_b)
    for name in ("invariance", "variance", "covariance"):
        assert terms[name].item() == pytest.approx(expected[name], rel=1e-5, abs=1e-6), name
    assert vicreg_loss(z_a, z_b, *weights).item() == pytest.approx(expected["loss"], rel=1e-5)


# ----------------------------------------------------------------------------------------------------
# Known answers
# ----------------------------------------------------------------------------------------------------


def test_barlow_twins_of_identical_standardised_decorrelated_views_is_zero():
    z = decorrelated(64, 16)
    torch.testing.assert_close(cross_correlation(z, z, eps=1e-12), torch.eye(16, dtype=torch.float64))
    assert barlow_twins_loss(z, z, offdiag_weight=1.0, eps=1e-12).item() == pytest.approx(0.0, abs=1e-20)
    assert barlow_twins_loss(z.float(), z.float(), offdiag_weight=1.0).item() == pytest.approx(0.0, abs=1e-6)


def test_barlow_twins_of_a_collapsed_batch_is_the_number_of_dimensions():
    """Every embedding the same: C is 0 (eps keeps it finite), so the invariance term is sum_i (1 - 0)^2 = D."""
    z = torch.ones(8, 5)
    assert barlow_twins_loss(z, z).item() == pytest.approx(5.0)


def test_barlow_twins_penalises_redundant_dimensions_only_through_the_off_diagonal_term():
    z = decorrelated(64, 4)
    redundant = torch.cat([z[:, :1], z[:, :1], z[:, 2:]], dim=1)  # dimension 1 copies dimension 0
    assert barlow_twins_loss(redundant, redundant, offdiag_weight=0.0, eps=1e-12).item() == pytest.approx(0.0,
                                                                                                          abs=1e-20)
    assert barlow_twins_loss(redundant, redundant, offdiag_weight=0.5, eps=1e-12).item() == pytest.approx(1.0)


def test_vicreg_variance_term_is_zero_when_every_dimension_has_std_at_least_gamma():
    z = decorrelated(32, 6) * 1.5           # std (1/n) 1.5, so std (1/(n-1)) > 1.5 >= gamma = 1
    assert vicreg_terms(z, z)["variance"].item() == 0.0
    assert vicreg_terms(z, z, gamma=2.0)["variance"].item() > 0.0


def test_vicreg_of_a_collapsed_batch_is_two_gamma_per_branch_in_the_variance_term():
    z = torch.full((8, 4), 3.0)
    terms = vicreg_terms(z, z, gamma=1.0, eps=1e-4)
    assert terms["invariance"].item() == 0.0 and terms["covariance"].item() == 0.0
    assert terms["variance"].item() == pytest.approx(2 * (1.0 - math.sqrt(1e-4)))


def test_moco_with_a_perfect_key_and_orthogonal_queue_is_log_of_one_plus_k_over_e_to_the_1_over_t():
    q = torch.eye(4)[:1]                     # query = key = e_0; the queue holds e_1, e_2, e_3: cosine 0
    loss = moco_loss(q, q, torch.eye(4)[1:], temperature=0.5)
    assert loss.item() == pytest.approx(math.log(1 + 3 * math.exp(-2.0)), rel=1e-6)


def test_negative_cosine_is_minus_one_for_aligned_and_plus_one_for_opposite_vectors():
    p = randn(5, 3, seed=10)
    assert negative_cosine(p, 2 * p).item() == pytest.approx(-1.0)
    assert negative_cosine(p, -p).item() == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------------------
# Gradients: what the stop-gradient stops
# ----------------------------------------------------------------------------------------------------


def test_negative_cosine_stops_the_gradient_into_the_target_unless_told_not_to():
    p, z = randn(4, 3, seed=11).requires_grad_(), randn(4, 3, seed=12).requires_grad_()
    negative_cosine(p, z).backward()
    assert p.grad.abs().sum() > 0 and z.grad is None
    negative_cosine(p, z, stop_gradient=False).backward()
    assert z.grad.abs().sum() > 0


def test_moco_loss_sends_no_gradient_into_the_key_or_the_queue():
    q, key, queue = (randn(3, 4, seed=s).requires_grad_() for s in (13, 14, 15))
    moco_loss(q, key, queue).backward()
    assert q.grad.abs().sum() > 0 and key.grad is None and queue.grad is None


# ----------------------------------------------------------------------------------------------------
# Bad input: a clear error, or a documented epsilon
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [barlow_twins_loss, cross_correlation, vicreg_loss, vicreg_terms])
def test_a_batch_of_one_is_refused_by_the_batch_statistics_losses(loss):
    with pytest.raises(ValueError, match="z_a must hold at least 2 embeddings"):
        loss(torch.ones(1, 4), torch.ones(1, 4))


@pytest.mark.parametrize("loss", [barlow_twins_loss, vicreg_loss, negative_cosine])
def test_mismatched_shapes_are_refused_naming_both_arguments(loss):
    with pytest.raises(ValueError, match=r"must have the same shape.*\(4, 3\).*\(4, 5\)"):
        loss(torch.ones(4, 3), torch.ones(4, 5))


def test_moco_refuses_a_queue_of_another_dimension_and_a_bad_temperature():
    with pytest.raises(ValueError, match=r"queue must have the dimension D = 4"):
        moco_loss(torch.ones(2, 4), torch.ones(2, 4), torch.ones(5, 3))
    with pytest.raises(ValueError, match="temperature must be a positive"):
        moco_loss(torch.ones(2, 4), torch.ones(2, 4), torch.ones(5, 4), temperature=0.0)


@pytest.mark.parametrize("loss", [barlow_twins_loss, vicreg_loss])
def test_a_zero_variance_dimension_in_float32_gives_a_finite_loss_and_finite_gradients(loss):
    z_a = randn(16, 4, seed=16)
    z_a[:, 2] = 7.0                           # one dimension constant over the batch
    z_a.requires_grad_()
    z_b = randn(16, 4, seed=17)
    value = loss(z_a, z_b)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z_a.grad).all()


def test_negative_weights_are_refused():
    z = randn(4, 3, seed=18)
    with pytest.raises(ValueError, match="offdiag_weight must be >= 0"):
        barlow_twins_loss(z, z, offdiag_weight=-1.0)
    with pytest.raises(ValueError, match="variance_weight must be >= 0"):
        vicreg_loss(z, z, variance_weight=-1.0)
