"""Exercises of notebook 07 (beyond negatives): the momentum (EMA) update of a target network, Barlow Twins'
cross-correlation matrix, and SimSiam's loss with its stop-gradient (the notebook's idea, its last exercise).

    momentum update:    theta_t <- m theta_t + (1 - m) theta_o  for every parameter, in place, no gradient. The
                        buffers (BatchNorm's running statistics) are free: the course copies them from the online
                        network, MoCo's code leaves them, timm's EMA averages them (a target in train mode uses
                        batch statistics, not its buffers), so the check compares the parameters only.
                        The course's implementation: `ssl_helpers.methods.two_view.momentum_update`.
    cross-correlation:  zhat = (z - mean_b z) / sqrt(var_b z + eps)  (per dimension, over the batch, 1/N),
                        C = zhat_a^T zhat_b / N: (D, D).  The course's: `ssl_helpers.losses.cross_correlation`.
    SimSiam loss:       L = 1/2 D(p_a, sg(z_b)) + 1/2 D(p_b, sg(z_a)),  D(p, z) = -mean_i cos(p_i, z_i); the check
                        compares the gradient too, and trains a tiny model to show the collapse a missing
                        stop-gradient causes.  The course's D: `ssl_helpers.losses.negative_cosine`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssl_helpers.losses import cross_correlation as _course_cross_correlation
from ssl_helpers.losses import negative_cosine as _course_negative_cosine

from .base import Exercise, Mistake, seeded_module

try:
    from ssl_helpers.methods.two_view import momentum_update as _course_momentum_update
except ImportError:  # pragma: no cover - the methods package mid-rewrite: the same update, written here
    def _course_momentum_update(target, online, momentum):
        """theta_t <- m theta_t + (1 - m) theta_o for every parameter, in place; buffers copied."""
        with torch.no_grad():
            for t, o in zip(target.parameters(), online.parameters()):
                t.mul_(momentum).add_(o.detach(), alpha=1.0 - momentum)
            for t, o in zip(target.buffers(), online.buffers()):
                t.copy_(o)


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
    {"target parameters", "target buffers", "online parameters"}: lists of tensors; the parameters are compared, the
    buffers are free (see the module docstring)."""

    def _call(self, fn, args):
        target, online, m = args
        fn(target, online, m)
        return {"target parameters": [p.detach().clone() for p in target.parameters()],
                "target buffers": [b.detach().clone() for b in target.buffers()],
                "online parameters": [p.detach().clone() for p in online.parameters()]}

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


def _not_scaled(target, online, m):
    with torch.no_grad():
        for t, o in zip(_params(target), _params(online)):
            t.add_(o, alpha=1 - m)


def _not_in_place(target, online, m):
    for t, o in zip(_params(target), _params(online)):
        t = m * t + (1 - m) * o                              # rebinds the loop variable: target unchanged


def _parameters_accept(args, got, want) -> bool:
    """The parameters of both networks as the course leaves them; the buffers may be copied, left or averaged."""
    return all(len(got[key]) == len(want[key]) and all(
        g.shape == w.shape and torch.allclose(g.double(), w.double(), atol=1e-6, rtol=1e-5)
        for g, w in zip(got[key], want[key])) for key in ("target parameters", "online parameters"))


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
        Mistake("target not scaled", "You added (1 - m) of the online network without scaling the target by m first: "
                "theta_t <- m theta_t + (1 - m) theta_o (t.mul_(m).add_(o, alpha=1 - m)), so the target stays an "
                "average and does not grow.", _not_scaled),
        Mistake("not in place", "The target did not change: `t = m * t + ...` only rebinds a name. Update each "
                "parameter in place: t.mul_(m).add_(o, alpha=1 - m) (or t.copy_(...)).", _not_in_place),
    ],
    hints=(
        "The target trails the online network: after each step every target parameter keeps m of itself and takes "
        "1 - m of the matching online parameter. It changes in place (the target object is the one training keeps) "
        "and never by gradients, so the update must stay outside the autograd graph. The online network does not "
        "change.",
        "Under torch.no_grad(), walk the two networks' parameters side by side (they have the same architecture) "
        "and update each target tensor in place with a multiply and an add. What to do with the buffers (BatchNorm's "
        "running statistics) is free; the course copies them.",
        "with torch.no_grad(): for t, o in zip(target.parameters(), online.parameters()): "
        "t.mul_(m).add_(o, alpha=1 - m)",
    ),
    solution_fn=solution_momentum_update,
    probes=[_graph_probe],
    accept=_parameters_accept,
    gradient=False,
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
    hints=(
        "C compares dimension i of one view with dimension j of the other across the batch: each dimension is first "
        "standardised over the N embeddings (mean 0, variance 1, the variance with 1/N as BatchNorm, eps inside the "
        "square root), and C_ij is then their correlation, a number in [-1, 1].",
        "Centre each column of z_a and z_b by its mean over the batch, divide by the square root of its (biased) "
        "variance plus eps, then one matrix product of the transposed first with the second, divided by N.",
        "za = (z_a - z_a.mean(0)) / (z_a.var(0, unbiased=False) + eps).sqrt(); zb = likewise; "
        "return za.T @ zb / N",
    ),
    solution_fn=solution_cross_correlation,
)

# ----------------------------------------------------------------------------------------------------
# SimSiam's loss with its stop-gradient: fn(p_a, p_b, z_a, z_b) -> loss; the check trains a tiny model with it
# ----------------------------------------------------------------------------------------------------


def course_simsiam_loss(p_a, p_b, z_a, z_b):
    """SimSiam's symmetric loss with the course's D (`negative_cosine`, which detaches its target z)."""
    return 0.5 * _course_negative_cosine(p_a, z_b) + 0.5 * _course_negative_cosine(p_b, z_a)


def solution_simsiam_loss(p_a, p_b, z_a, z_b):
    # BEGIN SOLUTION
    import torch.nn.functional as F

    def d(p, z):                                                  # D(p, z): the negative mean cosine
        return -F.cosine_similarity(p, z.detach(), dim=1).mean()  # z.detach(): the stop-gradient
    return 0.5 * d(p_a, z_b) + 0.5 * d(p_b, z_a)                  # each view predicts the other one
    # END SOLUTION


def _d(p, z, stop="z", normalise=True, reduce="mean", sign=-1.0):
    if stop in ("z", "both"):
        z = z.detach()
    if stop in ("p", "both"):
        p = p.detach()
    if normalise:
        p, z = F.normalize(p, dim=1), F.normalize(z, dim=1)
    rows = (p * z).sum(dim=1)
    return sign * (rows.mean() if reduce == "mean" else rows.sum())


def _simsiam(p_a, p_b, z_a, z_b, pairing="cross", halves=True, one_direction=False, **options):
    if pairing == "same":
        z_a, z_b = z_b, z_a
    first = _d(p_a, z_b, **options)
    if one_direction:
        return first
    total = first + _d(p_b, z_a, **options)
    return 0.5 * total if halves else total


def _byol_form(p_a, p_b, z_a, z_b):
    return 0.5 * ((2 + 2 * _d(p_a, z_b)) + (2 + 2 * _d(p_b, z_a)))


def collapse_run(loss_fn, steps: int = 60, lr: float = 1.0, seed: int = 0) -> dict:
    """Train a tiny SimSiam for `steps` SGD steps with `loss_fn(p_a, p_b, z_a, z_b)`; returns the per-channel std
    of the l2-normalised outputs z over the data before and after (SimSiam's collapse measure: about 1/sqrt(d) for
    well-spread outputs, 0 when every input maps to one direction), and its bound 1/sqrt(d).

    Data: 64 points around 8 centres in 8-D; views: the points plus Gaussian noise; projector: 8 -> 32 -> 8 MLP;
    predictor: a linear layer. Runs in a few tens of milliseconds; the caller's random state is left alone."""
    g = torch.Generator().manual_seed(seed)
    centres = 2 * torch.randn(8, 8, generator=g)
    x = centres[torch.arange(64) % 8] + 0.5 * torch.randn(64, 8, generator=g)
    projector = seeded_module(lambda: nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 8)), seed)
    predictor = seeded_module(lambda: nn.Linear(8, 8), seed + 1)
    optimizer = torch.optim.SGD([*projector.parameters(), *predictor.parameters()], lr=lr, momentum=0.9)

    def spread():
        with torch.no_grad():
            return float(F.normalize(projector(x), dim=1).std(dim=0).mean())
    before = spread()
    for _ in range(steps):
        x_a = x + 0.3 * torch.randn(x.shape, generator=g)
        x_b = x + 0.3 * torch.randn(x.shape, generator=g)
        z_a, z_b = projector(torch.cat([x_a, x_b])).chunk(2)
        loss = loss_fn(predictor(z_a), predictor(z_b), z_a, z_b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"before": before, "after": spread(), "spread": 8 ** -0.5}


class SimSiamExercise(Exercise):
    """The SimSiam loss: a missing (or misplaced) stop-gradient has the right value and the wrong gradient; the check
    names it and shows what it does, by training a tiny model with the student's loss and with the course's."""

    def verdict(self, fn) -> str:
        self._student = fn
        return super().verdict(fn)

    def _gradient_mistake(self, got, want) -> str:
        message = super()._gradient_mistake(got, want)
        names = self._argument_names()
        targets = [i for i, name in enumerate(names) if name.startswith("z")]
        start, flows = 0, False
        for position, count in self._groups(self.cases[0]):     # does a gradient reach z_a or z_b?
            if position in targets and got[0].grads is not None:
                flows |= any(bool(g.ne(0).any()) for g in got[0].grads[start:start + count])
            start += count
        if not flows:
            return message
        try:
            yours, course = collapse_run(self._student), collapse_run(self.reference)
        except Exception:
            return message
        return (f"{message} Trained for 60 steps with your loss, a tiny SimSiam "
                f"{'collapsed' if yours['after'] < 0.3 * yours['spread'] else 'was trained'}: the per-channel std of "
                f"its l2-normalised outputs went from {yours['before']:.2f} to {yours['after']:.3f} (with the "
                f"stop-gradient: {course['after']:.2f}; well spread is about 1/sqrt(d) = {yours['spread']:.2f}, "
                f"collapsed is 0).")


def _simsiam_cases():
    def random(n, d, dtype=torch.float32, seed=0):
        def make():
            g = torch.Generator().manual_seed(seed)
            z_a, z_b = torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)
            return (z_a + 0.5 * torch.randn(n, d, generator=g, dtype=dtype),
                    z_b + 0.5 * torch.randn(n, d, generator=g, dtype=dtype), z_a, z_b)
        return make

    def identical():                   # a collapsed batch: every p and z the same vector; the loss is -1
        z = torch.tensor([[1.0, 2.0, 2.0]]).repeat(3, 1)
        return z.clone(), z.clone(), z.clone(), z.clone()

    return [random(4, 3), random(8, 5, torch.float64, seed=1), random(2, 2, seed=2), identical]


def _simsiam_demo(fn) -> str:
    """The collapse measure of a tiny SimSiam trained with `fn` (the loss in use)."""
    run = collapse_run(fn)
    verdict = "collapsed" if run["after"] < 0.3 * run["spread"] else "no collapse"
    return (f"The SimSiam loss in use, on a tiny SimSiam trained for 60 steps: per-channel std of its l2-normalised "
            f"outputs {run['before']:.2f} -> {run['after']:.2f} ({verdict}; well spread is about 1/sqrt(d) = "
            f"{run['spread']:.2f}, collapsed is 0)")


simsiam_exercise = SimSiamExercise(
    name="SimSiam loss",
    reference=course_simsiam_loss,
    cases=_simsiam_cases(),
    mistakes=[
        Mistake("no stop-gradient", "Right value, but the gradient also flows into the targets z_a and z_b: the "
                "stop-gradient is missing (z.detach() inside D).", lambda *v: _simsiam(*v, stop="none"),
                by_gradient=True),
        Mistake("stop-gradient on p", "Right value, but you stopped the gradient of the predictions p and let it "
                "flow into the targets z: the other way round. The target z is detached; p, the predictor's "
                "output, is what learns.", lambda *v: _simsiam(*v, stop="p"), by_gradient=True),
        Mistake("no minus sign", "Your loss is +cosine: minimising it pushes each prediction AWAY from its target. "
                "D(p, z) is the NEGATIVE cosine.", lambda *v: _simsiam(*v, sign=1.0)),
        Mistake("same view", "Each prediction is compared with the projection of its OWN view: p_a must predict "
                "z_b (the other view) and p_b predict z_a.", lambda *v: _simsiam(*v, pairing="same")),
        Mistake("one direction", "Only D(p_a, z_b) is there: SimSiam's loss is symmetric, "
                "1/2 D(p_a, z_b) + 1/2 D(p_b, z_a).", lambda *v: _simsiam(*v, one_direction=True)),
        Mistake("not halved", "The two directions are added: SimSiam averages them, 1/2 D(p_a, z_b) + "
                "1/2 D(p_b, z_a), so the loss lies in [-1, 1].", lambda *v: _simsiam(*v, halves=False)),
        Mistake("dot product", "You used dot products of unnormalised vectors: D is the cosine, so normalise p and "
                "z (F.normalize(., dim=1), or F.cosine_similarity).", lambda *v: _simsiam(*v, normalise=False)),
        Mistake("summed", "D is summed over the batch; it is the mean over the N rows.",
                lambda *v: _simsiam(*v, reduce="sum")),
        Mistake("BYOL form", "That is BYOL's form, |p/|p| - z/|z||^2 = 2 - 2 cos: the same minimiser, but the "
                "statement asks for SimSiam's D = -cos (its values lie in [-1, 1]).", _byol_form),
    ],
    hints=(
        "Each view's prediction p should point the same way as the OTHER view's projection z, so the loss is a "
        "negative cosine, averaged over the batch and over both directions. The projection z is a fixed target "
        "in each step: no gradient may flow into it, otherwise the easiest way to agree is for every output to "
        "become the same vector (collapse).",
        "D(p, z) = minus the mean over rows of the cosine between p and z, where z is first cut from the graph "
        "(.detach()); the loss is half of D(p_a, z_b) plus half of D(p_b, z_a).",
        "d = lambda p, z: -F.cosine_similarity(p, z.detach(), dim=1).mean(); "
        "return 0.5 * d(p_a, z_b) + 0.5 * d(p_b, z_a)",
    ),
    solution_fn=solution_simsiam_loss,
    demo=_simsiam_demo,
    loss=True,
    idea=True,
)

EXERCISES = {"07_beyond_negatives": [momentum_exercise, cross_correlation_exercise, simsiam_exercise]}
SOLUTIONS = {"momentum_update": solution_momentum_update, "cross_correlation": solution_cross_correlation,
             "simsiam_loss": solution_simsiam_loss}
