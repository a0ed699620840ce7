"""Exercises of notebook 07 (beyond negatives): the momentum (EMA) update of a target network, and Barlow Twins'
cross-correlation matrix.

    momentum update:    theta_t <- m theta_t + (1 - m) theta_o  for every parameter, in place, no gradient;
                        buffers (BatchNorm's running statistics) copied from the online network.
                        The course's implementation: `ssl_helpers.methods.two_view.momentum_update`.
    cross-correlation:  zhat = (z - mean_b z) / sqrt(var_b z + eps)  (per dimension, over the batch, 1/N),
                        C = zhat_a^T zhat_b / N: (D, D).  The course's: `ssl_helpers.losses.cross_correlation`.
"""
from __future__ import annotations

import torch
from torch import nn

from ssl_helpers.losses import cross_correlation as _course_cross_correlation
from ssl_helpers.methods.two_view import momentum_update as _course_momentum_update
from .base import Exercise, Mistake


# ----------------------------------------------------------------------------------------------------
# The momentum (EMA) update: fn(target, online, m) changes `target` in place and returns nothing
# ----------------------------------------------------------------------------------------------------


def solution_momentum_update(target, online, m):
    # BEGIN SOLUTION
    import torch
    with torch.no_grad():                                    # the target is never part of the autograd graph
        for t, o in zip(target.parameters(), online.parameters()):
            t.mul_(m).add_(o, alpha=1 - m)                   # theta_t <- m theta_t + (1 - m) theta_o, in place
        for t, o in zip(target.buffers(), online.buffers()):
            t.copy_(o)                                       # BatchNorm's running statistics: copied
    # END SOLUTION


class InPlaceExercise(Exercise):
    """An exercise whose function changes its first arguments in place and returns nothing (base.Exercise compares
    return values): the output compared is the state of both networks after the call, as
    {"target parameters", "target buffers", "online parameters"}: lists of tensors."""

    def _outputs(self, fn):
        outs = []
        for case in self.cases:
            target, online, m = case()
            fn(target, online, m)
            outs.append({"target parameters": [p.detach().clone() for p in target.parameters()],
                         "target buffers": [b.detach().clone() for b in target.buffers()],
                         "online parameters": [p.detach().clone() for p in online.parameters()]})
        return outs

    def verdict(self, fn) -> str:
        """As Exercise.verdict; an error from averaging an integer buffer (BatchNorm's num_batches_tracked, as a
        loop over state_dict() does) is named rather than only reported."""
        line = super().verdict(fn)
        if "raised" in line and "Long" in line:
            return (f"{self.name}: not yet. You averaged an integer buffer (BatchNorm's num_batches_tracked, e.g. "
                    f"looping over state_dict()): mix only target.parameters() and copy target.buffers().")
        return line


def _network(generator, dtype):
    """A small network with parameters and buffers: Linear(3, 4) -> BatchNorm1d(4) -> ReLU -> Linear(4, 2), every
    parameter and running statistic drawn from `generator` (seeded: the same every call)."""
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).to(dtype)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=dtype))
        net[1].running_mean.copy_(torch.randn(4, generator=generator, dtype=dtype))
        net[1].running_var.copy_(torch.rand(4, generator=generator, dtype=dtype) + 0.5)
        net[1].num_batches_tracked.fill_(int(torch.randint(1, 100, (), generator=generator)))
    return net


def _momentum_cases():
    def pair(m, dtype=torch.float32, seed=0):
        def make():
            g = torch.Generator().manual_seed(seed)
            online, target = _network(g, dtype), _network(g, dtype)
            for p in target.parameters():                    # a momentum target: no gradients (frozen_copy)
                p.requires_grad_(False)
            return target, online, m
        return make

    return [pair(0.99), pair(0.9, torch.float64, seed=1), pair(0.75, seed=2), pair(0.0, seed=3), pair(1.0, seed=4)]


def _params(module):
    return list(module.parameters())


def _swapped(target, online, m):
    with torch.no_grad():
        for t, o in zip(_params(target), _params(online)):
            t.copy_((1 - m) * t + m * o)
        for t, o in zip(target.buffers(), online.buffers()):
            t.copy_(o)


def _copied(target, online, m):
    with torch.no_grad():
        for t, o in zip(_params(target), _params(online)):
            t.copy_(o)
        for t, o in zip(target.buffers(), online.buffers()):
            t.copy_(o)


def _online_updated(target, online, m):
    with torch.no_grad():
        for t, o in zip(_params(target), _params(online)):
            o.mul_(m).add_(t, alpha=1 - m)


def _buffers_left(target, online, m):
    with torch.no_grad():
        for t, o in zip(_params(target), _params(online)):
            t.mul_(m).add_(o, alpha=1 - m)


def _buffers_averaged(target, online, m):
    with torch.no_grad():
        for t, o in zip(_params(target), _params(online)):
            t.mul_(m).add_(o, alpha=1 - m)
        for t, o in zip(target.buffers(), online.buffers()):
            if t.is_floating_point():
                t.mul_(m).add_(o, alpha=1 - m)
            else:
                t.copy_(o)


def _not_in_place(target, online, m):
    for t, o in zip(_params(target), _params(online)):
        t = m * t + (1 - m) * o                              # rebinds the loop variable: target unchanged


def _graph_probe(fn):
    """Right values, but is the target now in the autograd graph (the online parameters require gradients)?"""
    target, online, m = _momentum_cases()[0]()
    fn(target, online, m)
    if any(p.grad_fn is not None or p.requires_grad for p in target.parameters()):
        return ("Right values, but the target's parameters now require gradients (they joined the autograd graph "
                "through the online ones): do the update under torch.no_grad() so no gradient ever reaches the "
                "target.")
    return None


momentum_exercise = InPlaceExercise(
    name="Momentum update",
    reference=_course_momentum_update,
    cases=_momentum_cases(),
    mistakes=[
        Mistake("swapped", "m and 1 - m are swapped: the target keeps m of itself and takes 1 - m of the online "
                "network (m = 0.99: it moves 1% of the way per step).", _swapped),
        Mistake("copied", "The target is a copy of the online network: it must mix, "
                "theta_t <- m theta_t + (1 - m) theta_o (a copy is m = 0).", _copied),
        Mistake("online updated", "You changed the online network: only the target moves by the update (the online "
                "one is trained by gradients), and the target stayed where it was.", _online_updated),
        Mistake("buffers left", "The parameters are right, but the buffers (BatchNorm's running statistics, "
                "target.buffers()) were left behind: copy them from the online network.", _buffers_left),
        Mistake("buffers averaged", "The parameters are right, but the running statistics were averaged too: the "
                "course copies the buffers from the online network (they describe its current features).",
                _buffers_averaged),
        Mistake("not in place", "The target did not change: `t = m * t + ...` only rebinds a name. Update each "
                "parameter in place: t.mul_(m).add_(o, alpha=1 - m) (or t.copy_(...)).", _not_in_place),
    ],
    hint_text=("Inside `with torch.no_grad():`, loop over zip(target.parameters(), online.parameters()) and change "
               "each target tensor in place: t.mul_(m).add_(o, alpha=1 - m). Then copy the buffers: "
               "for t, o in zip(target.buffers(), online.buffers()): t.copy_(o)."),
    solution_fn=solution_momentum_update,
    probes=[_graph_probe],
)


# ----------------------------------------------------------------------------------------------------
# Barlow Twins' cross-correlation matrix: fn(z_a, z_b, eps) -> C: (D, D)
# ----------------------------------------------------------------------------------------------------


def solution_cross_correlation(z_a, z_b, eps):
    # BEGIN SOLUTION
    n = z_a.shape[0]
    za = (z_a - z_a.mean(dim=0)) / (z_a.var(dim=0, unbiased=False) + eps).sqrt()   # (N, D), per dimension
    zb = (z_b - z_b.mean(dim=0)) / (z_b.var(dim=0, unbiased=False) + eps).sqrt()
    return za.T @ zb / n                                                          # (D, D)
    # END SOLUTION


def _standardise(z, eps, unbiased=False, centre=True, dim=0):
    mean = z.mean(dim=dim, keepdim=True) if centre else 0
    return (z - mean) / (z.var(dim=dim, unbiased=unbiased, keepdim=True) + eps).sqrt()


def _cc_cases():
    def random(n, d, eps, dtype=torch.float32, seed=0, offset=0.0):
        def make():
            g = torch.Generator().manual_seed(seed)
            z_a = torch.randn(n, d, generator=g, dtype=dtype) + offset
            return z_a, z_a + 0.5 * torch.randn(n, d, generator=g, dtype=dtype), eps
        return make

    def identical():                      # a batch of identical embeddings: zero variance everywhere -> C = 0
        z = torch.tensor([[1.0, -2.0, 3.0]]).repeat(4, 1)
        return z, z.clone(), 1e-5

    return [random(2, 3, 1e-5), random(16, 5, 1e-5, seed=1, offset=2.0), random(8, 4, 1e-3, torch.float64, seed=2),
            random(32, 6, 1e-5, seed=3, offset=-1.0), identical]


cross_correlation_exercise = Exercise(
    name="Cross-correlation",
    reference=_course_cross_correlation,
    cases=_cc_cases(),
    mistakes=[
        Mistake("unbiased", "You standardised with the unbiased variance (1/(N - 1), torch's default for .var() and "
                ".std()): Barlow Twins divides by N, as BatchNorm does (unbiased=False).",
                lambda a, b, e: _standardise(a, e, unbiased=True).T @ _standardise(b, e, unbiased=True) / len(a)),
        Mistake("not centred", "The embeddings are not centred: subtract each dimension's mean over the batch "
                "before dividing by its standard deviation.",
                lambda a, b, e: _standardise(a, e, centre=False).T @ _standardise(b, e, centre=False) / len(a)),
        Mistake("per embedding", "You standardised each embedding across its D features (dim=1); standardise each "
                "dimension across the batch (dim=0, the N embeddings).",
                lambda a, b, e: _standardise(a, e, dim=1).T @ _standardise(b, e, dim=1) / len(a)),
        Mistake("transposed", "C is transposed: C_ij pairs dimension i of z_a with dimension j of z_b, "
                "so C = zhat_a.T @ zhat_b (not zhat_b.T @ zhat_a).",
                lambda a, b, e: _standardise(b, e).T @ _standardise(a, e) / len(a)),
        Mistake("no eps", "A dimension with zero variance (a batch of identical embeddings) gives NaN: add eps inside "
                "the square root, sqrt(var + eps).",
                lambda a, b, e: _standardise(a, 0.0).T @ _standardise(b, 0.0) / len(a)),
        Mistake("sum", "C is summed over the batch: divide by N so that C_ij is a correlation in [-1, 1].",
                lambda a, b, e: _standardise(a, e).T @ _standardise(b, e)),
        Mistake("covariance", "That is the covariance matrix: divide each centred dimension by its standard "
                "deviation sqrt(var + eps) first, so that C is a correlation.",
                lambda a, b, e: (a - a.mean(0)).T @ (b - b.mean(0)) / len(a)),
    ],
    hint_text=("Standardise each dimension over the batch: zhat = (z - z.mean(0)) / (z.var(0, unbiased=False) + "
               "eps).sqrt(), for z_a and z_b (each (N, D)); then C = zhat_a.T @ zhat_b / N."),
    solution_fn=solution_cross_correlation,
)

EXERCISES = {"07_beyond_negatives": [momentum_exercise, cross_correlation_exercise]}
SOLUTIONS = {"momentum_update": solution_momentum_update, "cross_correlation": solution_cross_correlation}
