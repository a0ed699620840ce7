"""Notebook 07's exercises (momentum update, cross-correlation, SimSiam's loss): published implementations get the
verdict the statements imply; each typical mistake, written here again as its own wrong implementation, is named."""

import pytest
import torch
from torch import nn

from ssl_helpers.exercises.beyond import collapse_run, cross_correlation_exercise, momentum_exercise, simsiam_exercise
from ssl_helpers.losses import cross_correlation
from ssl_helpers.methods.two_view import frozen_copy, momentum_update

# ---------------------------------------------------------------------------- momentum update


def student_momentum(target, online, m):
    """Right, written differently: a state_dict pass, lerp for floating parameters."""
    online_state = online.state_dict()
    names = {name for name, _ in target.named_parameters()}
    with torch.no_grad():
        for name, value in target.state_dict().items():
            if name in names:
                value.lerp_(online_state[name], 1 - m)     # t + (1 - m)(o - t) = m t + (1 - m) o
            else:
                value.copy_(online_state[name])


def _pairs(target, online):
    return zip(target.parameters(), online.parameters())


def _copy_buffers(target, online):
    for t, o in zip(target.buffers(), online.buffers()):
        t.copy_(o)


@torch.no_grad()
def wrong_swapped(target, online, m):
    for t, o in _pairs(target, online):
        t.copy_(m * o + (1 - m) * t)
    _copy_buffers(target, online)


@torch.no_grad()
def wrong_copied(target, online, m):
    target.load_state_dict(online.state_dict())


@torch.no_grad()
def wrong_online_updated(target, online, m):
    for t, o in _pairs(target, online):
        o.copy_(m * o + (1 - m) * t)


@torch.no_grad()
def wrong_not_scaled(target, online, m):
    for t, o in _pairs(target, online):
        t.add_((1 - m) * o)


def wrong_not_in_place(target, online, m):
    for t, o in _pairs(target, online):
        t = m * t + (1 - m) * o  # noqa: F841  the mistake: a new tensor bound to the loop name


def wrong_in_graph(target, online, m):
    """Right values, but without no_grad: the frozen target's parameters join the autograd graph."""
    for t, o in _pairs(target, online):
        t.mul_(m).add_((1 - m) * o)
    with torch.no_grad():
        _copy_buffers(target, online)


@torch.no_grad()
def wrong_state_dict_averaged(target, online, m):
    """Averages every entry of the state dict: the integer counter num_batches_tracked cannot take m * t."""
    online_state = online.state_dict()
    for name, value in target.state_dict().items():
        value.mul_(m).add_(online_state[name], alpha=1 - m)


MOMENTUM_WRONG = {
    "are swapped": wrong_swapped,
    "copy of the online network": wrong_copied,
    "changed the online network": wrong_online_updated,
    "without scaling the target by m": wrong_not_scaled,
    "did not change": wrong_not_in_place,
    "require gradients": wrong_in_graph,
    "averaged an integer buffer": wrong_state_dict_averaged,
}


@torch.no_grad()
def moco_momentum_update(target, online, m):
    """facebookresearch/moco, builder.py, MoCo._momentum_update_key_encoder: parameters only, buffers left alone."""
    for param_q, param_k in zip(online.parameters(), target.parameters()):
        param_k.data = param_k.data * m + param_q.data * (1.0 - m)


@torch.no_grad()
def timm_style_ema(target, online, m):
    """timm's ModelEmaV2 style: every state_dict entry averaged, the integer counter copied."""
    online_state = online.state_dict()
    for name, value in target.state_dict().items():
        if value.is_floating_point():
            value.copy_(m * value + (1 - m) * online_state[name])
        else:
            value.copy_(online_state[name])


def test_published_momentum_updates_pass_whatever_they_do_with_the_buffers():
    """MoCo leaves the target's BatchNorm buffers, the course (BYOL-style) copies them, timm averages them; a target
    in train mode uses batch statistics, so the statement leaves the buffers free and the check compares the
    parameters."""
    for update in (moco_momentum_update, timm_style_ema, momentum_update):
        assert momentum_exercise.check(update) == "Momentum update: correct.", update.__name__


def test_momentum_correct_student_passes_and_is_used():
    assert momentum_exercise.check(student_momentum).endswith("correct.")
    assert momentum_exercise.use(student_momentum) is student_momentum


def test_momentum_reference_known_answer():
    """m = 0.9 on one weight: 0.9 * 1 + 0.1 * 11 = 2; the buffers are copied."""
    online = nn.BatchNorm1d(1)
    target = frozen_copy(online)
    with torch.no_grad():
        online.weight.fill_(11.0)
        online.running_mean.fill_(5.0)
    momentum_update(target, online, 0.9)
    assert target.weight.item() == pytest.approx(2.0) and target.running_mean.item() == 5.0


@pytest.mark.parametrize("phrase", sorted(MOMENTUM_WRONG))
def test_each_momentum_mistake_is_named(phrase):
    line = momentum_exercise.check(MOMENTUM_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert momentum_exercise.use(MOMENTUM_WRONG[phrase]) is momentum_exercise.reference


# ---------------------------------------------------------------------------- cross-correlation


def student_cc(z_a, z_b, eps):
    """Right, written differently: an explicit (N, D, D) outer product averaged over the batch."""
    def standardise(z):
        centred = z - z.mean(dim=0, keepdim=True)
        return centred / torch.sqrt((centred ** 2).mean(dim=0, keepdim=True) + eps)
    a, b = standardise(z_a), standardise(z_b)
    return (a[:, :, None] * b[:, None, :]).mean(dim=0)


def _std(z, eps, correction=0, centre=True, dim=0):
    m = z.mean(dim=dim, keepdim=True)
    v = ((z - m) ** 2).sum(dim=dim, keepdim=True) / (z.shape[dim] - correction)
    return ((z - m) if centre else z) / (v + eps) ** 0.5


CC_WRONG = {
    "unbiased variance": lambda a, b, e: torch.einsum("ni,nj->ij", _std(a, e, 1), _std(b, e, 1)) / len(a),
    "not centred": lambda a, b, e: torch.einsum("ni,nj->ij", _std(a, e, centre=False), _std(b, e, centre=False))
    / len(a),
    "across its D features": lambda a, b, e: _std(a, e, dim=1).T @ _std(b, e, dim=1) / len(a),
    "transposed": lambda a, b, e: (_std(a, e).T @ _std(b, e) / len(a)).T,
    "gives NaN": lambda a, b, e: _std(a, 0.0).T @ _std(b, 0.0) / len(a),
    "summed over the batch": lambda a, b, e: torch.einsum("ni,nj->ij", _std(a, e), _std(b, e)),
    "covariance matrix": lambda a, b, e: torch.cov(torch.cat([a, b], 1).T, correction=0)[:a.shape[1], a.shape[1]:],
}


def test_cc_correct_student_passes_and_is_used():
    assert cross_correlation_exercise.check(student_cc).endswith("correct.")
    assert cross_correlation_exercise.use(student_cc) is student_cc


def test_cc_identical_views_give_unit_diagonal():
    z = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(torch.diagonal(cross_correlation(z, z)), torch.ones(5), atol=1e-4, rtol=0)


@pytest.mark.parametrize("phrase", sorted(CC_WRONG))
def test_each_cc_mistake_is_named(phrase):
    line = cross_correlation_exercise.check(CC_WRONG[phrase])
    assert "not yet" in line and phrase in line, line


# ---------------------------------------------------------------------------- both


def test_student_error_is_one_line():
    line = cross_correlation_exercise.check(lambda a, b, e: a @ b)          # (N, D) @ (N, D): shape error
    assert "raised RuntimeError" in line and "\n" not in line
    line = momentum_exercise.check(lambda t, o, m: t.weight)                # modules are not subscriptable
    assert "raised" in line and "\n" not in line


# ---------------------------------------------------------------------------- SimSiam's loss


def official_simsiam_loss(p1, p2, z1, z2):
    """facebookresearch/simsiam: the model returns z1.detach(), z2.detach(); main_simsiam.py's criterion is
    nn.CosineSimilarity(dim=1) and loss = -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5."""
    criterion = nn.CosineSimilarity(dim=1)
    z1, z2 = z1.detach(), z2.detach()
    return -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5


def byol_loss_fn(x, y):
    """lucidrains/byol-pytorch's loss_fn: 2 - 2 cos per row."""
    x = torch.nn.functional.normalize(x, dim=-1, p=2)
    y = torch.nn.functional.normalize(y, dim=-1, p=2)
    return 2 - 2 * (x * y).sum(dim=-1)


def _cos(p, z):
    return torch.nn.functional.cosine_similarity(p, z, dim=1)


SIMSIAM_WRONG = {
    "the stop-gradient is missing": lambda pa, pb, za, zb: -0.5 * (_cos(pa, zb).mean() + _cos(pb, za).mean()),
    "the other way round": lambda pa, pb, za, zb: -0.5 * (_cos(pa.detach(), zb).mean() + _cos(pb.detach(), za).mean()),
    "NEGATIVE cosine": lambda pa, pb, za, zb: 0.5 * (_cos(pa, zb.detach()).mean() + _cos(pb, za.detach()).mean()),
    "its OWN view": lambda pa, pb, za, zb: -0.5 * (_cos(pa, za.detach()).mean() + _cos(pb, zb.detach()).mean()),
    "symmetric": lambda pa, pb, za, zb: -_cos(pa, zb.detach()).mean(),
    "averages them": lambda pa, pb, za, zb: -(_cos(pa, zb.detach()).mean() + _cos(pb, za.detach()).mean()),
    "dot products": lambda pa, pb, za, zb: -0.5 * ((pa * zb.detach()).sum(1).mean() + (pb * za.detach()).sum(1).mean()),
    "summed over the batch": lambda pa, pb, za, zb: -0.5 * (_cos(pa, zb.detach()).sum() + _cos(pb, za.detach()).sum()),
    "BYOL's form": lambda pa, pb, za, zb: 0.5 * (byol_loss_fn(pa, zb.detach()) + byol_loss_fn(pb, za.detach())).mean(),
}


def test_official_simsiam_loss_passes_and_is_used():
    assert simsiam_exercise.check(official_simsiam_loss) == "SimSiam loss: correct."
    assert simsiam_exercise.use(official_simsiam_loss) is official_simsiam_loss


@pytest.mark.parametrize("phrase", sorted(SIMSIAM_WRONG))
def test_each_simsiam_mistake_is_named(phrase):
    line = simsiam_exercise.check(SIMSIAM_WRONG[phrase])
    assert "not yet" in line and phrase in line, line


def test_missing_stop_gradient_is_shown_to_collapse_a_tiny_model():
    """The check trains a tiny SimSiam with the student's loss: without the stop-gradient the per-channel std of
    its l2-normalised outputs falls towards 0; with it (the course's loss) it stays near 1/sqrt(d)."""
    line = simsiam_exercise.check(SIMSIAM_WRONG["the stop-gradient is missing"])
    assert "collapsed" in line and "per-channel std" in line, line
    collapsed = collapse_run(SIMSIAM_WRONG["the stop-gradient is missing"])
    healthy = collapse_run(official_simsiam_loss)
    print(f"\nper-channel std of the l2-normalised outputs after 60 steps: without stop-gradient "
          f"{collapsed['after']:.3f}, with it {healthy['after']:.3f} (1/sqrt(d) = {healthy['spread']:.3f})")
    assert collapsed["after"] < 0.05 < 0.1 < healthy["after"] and collapsed["after"] < healthy["after"] / 5


def test_simsiam_loss_without_gradient_is_rejected():
    line = simsiam_exercise.check(lambda *v: official_simsiam_loss(*v).item())
    assert "no gradient: the network could not learn from it" in line
