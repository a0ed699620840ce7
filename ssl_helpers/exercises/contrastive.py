"""Exercises of notebook 05: the triplet loss, a prediction of what the temperature does, and NT-Xent (the
notebook's idea, its last exercise).

    triplet:      L = (1 / B) sum_b max(0, |a_b - p_b|_2 - |a_b - n_b|_2 + m).
                  Course: `ssl_helpers.losses.triplet_loss`.
    temperature:  n -> predictions for NT-Xent over N = n pairs (2N - 1 candidates per anchor): the loss and the
                  effective number of candidates exp(H) at a very high and a very low T, and which of two
                  temperatures gives the larger gradient; the check measures them with the course's `nt_xent`.
    NT-Xent:      z = [z_a; z_b]: (2N, D),  s_ij = cos(z_i, z_j),  l_i = -log softmax_{k != i}(s_ik / T)[pos(i)],
                  L = mean over the 2N rows.  The course's implementation: `ssl_helpers.losses.nt_xent`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ssl_helpers.losses import nt_xent as _course_nt_xent
from ssl_helpers.losses import nt_xent_logits
from .base import Exercise, Mistake, largest_intermediate


def _reference(z_a, z_b, temperature):
    return _course_nt_xent(z_a, z_b, temperature, gather=False)


def _targets(n, device):
    return torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(device)


def solution_nt_xent(z_a, z_b, temperature):
    # BEGIN SOLUTION
    import torch
    import torch.nn.functional as F
    n = len(z_a)
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)                       # (2N, D), unit rows
    sim = z @ z.T / temperature                                         # (2N, 2N) cosine / T
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)   # pos(i)
    return F.cross_entropy(sim, targets)                                # mean over 2N rows
    # END SOLUTION


def _diagonal_left(z_a, z_b, t):
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    return F.cross_entropy(z @ z.T / t, _targets(len(z_a), z.device))


def _no_normalise(z_a, z_b, t):
    z = torch.cat([z_a, z_b])
    sim = (z @ z.T / t).masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    return F.cross_entropy(sim, _targets(len(z_a), z.device))


def _temperature_twice(z_a, z_b, t):
    return solution_nt_xent(z_a, z_b, t * t)


def _temperature_on_loss(z_a, z_b, t):
    return solution_nt_xent(z_a, z_b, 1.0) / t


def _positive_same_view(z_a, z_b, t):
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    return F.cross_entropy(z @ z.T / t, torch.arange(len(z)))


def _mean_over_n(z_a, z_b, t):
    return solution_nt_xent(z_a, z_b, t) * 2


def _one_direction(z_a, z_b, t):
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    sim = (z @ z.T / t).masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    n = len(z_a)
    return F.cross_entropy(sim[:n], _targets(n, z.device)[:n])


def _cases():
    def random(n, d, t, dtype=torch.float32, seed=0):
        def make():
            g = torch.Generator().manual_seed(seed)
            return (torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype), t)
        return make

    def identical():                      # a batch of identical images: every softmax is uniform
        z = torch.ones(3, 4)
        return z, z.clone(), 0.5

    return [random(2, 3, 0.5), random(8, 16, 0.1, seed=1), random(5, 4, 2.0, torch.float64, seed=2), identical]


def _memory_probe(fn, n: int = 32, d: int = 16, full_n: int = 4096, full_d: int = 128):
    """Names the (2N, 2N, D) route: at N = 4096, D = 128 a pairwise tensor of 8192 x 8192 x 128 floats is 34 GB,
    where the (2N, 2N) similarity matrix is 0.27 GB. Seen at N = 32, D = 16, where the largest tensor of the
    pairwise route is D times the (2N, 2N) matrix."""
    g = torch.Generator().manual_seed(0)
    numel = largest_intermediate(fn, torch.randn(n, d, generator=g), torch.randn(n, d, generator=g), 0.5)
    if numel is not None and numel >= d * (2 * n) ** 2:
        gigabytes = 4 * full_d * (2 * full_n) ** 2 / 1e9
        return (f"Right at small N, but it builds a (2N, 2N, D) pairwise tensor: {gigabytes:.0f} GB at "
                f"N = {full_n}, D = {full_d}. Normalise the rows, then one matrix product z @ z.T gives the "
                f"(2N, 2N) cosine similarities.")
    return None


nt_xent_exercise = Exercise(
    name="NT-Xent",
    reference=_reference,
    cases=_cases(),
    mistakes=[
        Mistake("diagonal", "The diagonal s_ii is still in the softmax: mask it with -inf (a view is never its own "
                "candidate).", _diagonal_left),
        Mistake("normalise", "The embeddings are not L2-normalised: s_ij must be a cosine similarity "
                "(F.normalize(z, dim=1)).", _no_normalise),
        Mistake("temperature twice", "The temperature is applied twice: divide the similarities by T once.",
                _temperature_twice),
        Mistake("temperature on loss", "The temperature divides the loss, not the similarities inside the softmax.",
                _temperature_on_loss),
        Mistake("positive same view", "The positive of row i is row i itself (the same view): it must be the "
                "other view, i + N for i < N and i - N otherwise.", _positive_same_view),
        Mistake("mean over N", "The loss is averaged over N rows (or the two directions' means are added, as "
                "Google's SimCLR code does): twice the statement's loss. NT-Xent here is the mean over all 2N rows.",
                _mean_over_n),
        Mistake("one direction", "Only the N rows of z_a are scored: the z_b rows are anchors too (2N rows).",
                _one_direction),
    ],
    hints=(
        "Every one of the 2N views is an anchor once. Its candidates are the 2N - 1 OTHER views (never itself); a "
        "softmax over their cosine similarities, divided by T, should put its weight on its partner, the other "
        "view of the same image. The loss is the mean over the 2N anchors of -log of the partner's weight.",
        "Stack the two views, normalise the rows, one matrix product gives every cosine at once; divide by T; "
        "take the diagonal out with -inf; then cross-entropy against each row's partner index (row i + N for "
        "the first N rows, i - N for the others).",
        "z = F.normalize(torch.cat([z_a, z_b]), dim=1); sim = z @ z.T / T; sim = sim.masked_fill(torch.eye(2 * N, "
        "dtype=torch.bool), float('-inf')); targets = torch.cat([torch.arange(N, 2 * N), torch.arange(N)]); "
        "return F.cross_entropy(sim, targets)",
    ),
    solution_fn=solution_nt_xent,
    probes=[_memory_probe],
    loss=True,
    idea=True,
)


# ----------------------------------------------------------------------------------------------------
# Triplet loss:  L = (1 / B) sum_b max(0, |a_b - p_b| - |a_b - n_b| + m);  a, p, n: (B, D)
# ----------------------------------------------------------------------------------------------------
from ssl_helpers.losses import triplet_loss as _course_triplet  # noqa: E402


def solution_triplet(anchor, positive, negative, margin):
    # BEGIN SOLUTION
    import torch
    d_pos = (anchor - positive).pow(2).sum(dim=1).clamp_min(1e-12).sqrt()    # (B,) Euclidean distances
    d_neg = (anchor - negative).pow(2).sum(dim=1).clamp_min(1e-12).sqrt()
    return torch.relu(d_pos - d_neg + margin).mean()
    # END SOLUTION


def _dist(x, y):
    return (x - y).pow(2).sum(dim=1).clamp_min(1e-12).sqrt()


def _triplet_cases():
    def random(b, d, m, dtype=torch.float32, seed=0):
        def make():
            g = torch.Generator().manual_seed(seed)
            return tuple(torch.randn(b, d, generator=g, dtype=dtype) for _ in range(3)) + (m,)
        return make

    def ties():                           # positive and negative at the same distance: loss = margin
        a = torch.zeros(2, 2)
        return a, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[0.0, 1.0], [-1.0, 0.0]]), 0.5

    return [random(2, 3, 1.0), random(16, 4, 0.5, seed=1), random(6, 5, 2.0, torch.float64, seed=2), ties]


triplet_exercise = Exercise(
    name="Triplet loss",
    reference=lambda a, p, n, m: _course_triplet(a, p, n, margin=m),
    cases=_triplet_cases(),
    mistakes=[
        Mistake("squared", "You used squared distances (FaceNet's form); the statement, like the course's "
                "triplet_loss, uses Euclidean distances |a - p|_2: take the square root of the summed squares.",
                lambda a, p, n, m: torch.relu((a - p).pow(2).sum(1) - (a - n).pow(2).sum(1) + m).mean()),
        Mistake("no hinge", "The hinge max(0, .) is missing: triplets already satisfied must contribute 0, not a "
                "negative loss.", lambda a, p, n, m: (_dist(a, p) - _dist(a, n) + m).mean()),
        Mistake("swapped", "Positive and negative are swapped: the loss must grow with |a - p| and shrink with "
                "|a - n|.", lambda a, p, n, m: torch.relu(_dist(a, n) - _dist(a, p) + m).mean()),
        Mistake("sum", "The loss is summed over the batch; take the mean over the B triplets.",
                lambda a, p, n, m: torch.relu(_dist(a, p) - _dist(a, n) + m).sum()),
        Mistake("margin sign", "The margin is subtracted; it must be added: |a - p| - |a - n| + m.",
                lambda a, p, n, m: torch.relu(_dist(a, p) - _dist(a, n) - m).mean()),
    ],
    hints=(
        "Each triplet asks for an ordering only: the positive closer to the anchor than the negative, by at least "
        "the margin. A triplet that is already ordered contributes nothing (never a negative loss); the distances "
        "are plain Euclidean lengths, and the loss is the average over the B triplets.",
        "Row-wise Euclidean distances anchor-positive and anchor-negative (each (B,)), then a hinge at 0 of "
        "their difference plus the margin, then the mean.",
        "d_ap = (anchor - positive).pow(2).sum(1).sqrt(); d_an = (anchor - negative).pow(2).sum(1).sqrt(); "
        "return torch.relu(d_ap - d_an + margin).mean()",
    ),
    solution_fn=solution_triplet,
    loss=True,
)

# ----------------------------------------------------------------------------------------------------
# The temperature, predicted: fn(n) -> {key: prediction}; the check measures each with the course's NT-Xent
# ----------------------------------------------------------------------------------------------------
LOSS_HIGH = "loss at T = 100"
SPREAD_HIGH = "effective candidates at T = 100"
SPREAD_LOW = "effective candidates at T = 0.01"
STEEPER = "larger gradient: T = 0.05 or T = 10"
PREDICTION_KEYS = (LOSS_HIGH, SPREAD_HIGH, SPREAD_LOW, STEEPER)


def _views(n: int, seed: int = 0):
    """Two views of n embeddings in 16-D, the second a noisy copy of the first (float32)."""
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, 16, generator=g)
    return z_a, z_a + 0.8 * torch.randn(n, 16, generator=g)


def _effective_candidates(z_a, z_b, temperature: float) -> float:
    """exp(H) of each anchor's softmax over its 2N - 1 candidates, averaged over the 2N anchors."""
    p = torch.softmax(nt_xent_logits(z_a, z_b, temperature)[0].double(), dim=1)
    entropy = -(p * p.clamp_min(1e-300).log()).sum(dim=1)
    return float(entropy.exp().mean())


def _gradient_norm(z_a, z_b, temperature: float) -> float:
    a, b = z_a.clone().requires_grad_(True), z_b.clone().requires_grad_(True)
    _course_nt_xent(a, b, temperature, gather=False).backward()
    return float(torch.cat([a.grad, b.grad]).norm())


def measured_temperature_effects(n: int) -> dict:
    """What the predictions are checked against: NT-Xent on two views of n embeddings, measured."""
    z_a, z_b = _views(n)
    steeper = 0.05 if _gradient_norm(z_a, z_b, 0.05) > _gradient_norm(z_a, z_b, 10.0) else 10
    return {LOSS_HIGH: float(_course_nt_xent(z_a, z_b, 100.0, gather=False)),
            SPREAD_HIGH: _effective_candidates(z_a, z_b, 100.0),
            SPREAD_LOW: _effective_candidates(z_a, z_b, 0.01),
            STEEPER: steeper}


def solution_temperature_prediction(n):
    # BEGIN SOLUTION
    import math
    return {
        "loss at T = 100": math.log(2 * n - 1),            # s / T is about 0: uniform over 2N - 1 candidates
        "effective candidates at T = 100": 2 * n - 1,      # every candidate weighs about 1 / (2N - 1)
        "effective candidates at T = 0.01": 1,             # the most similar candidate takes nearly all the weight
        "larger gradient: T = 0.05 or T = 10": 0.05,       # the loss sees s / T: its gradient grows like 1 / T
    }
    # END SOLUTION


def _close(key: str, got, want) -> bool:
    """Within the tolerance a prediction deserves: the loss to 2% (or 0.05), the candidates at high T to 5%,
    at low T to 0.5 of a candidate, the steeper temperature exactly."""
    try:
        got, want = float(got), float(want)
    except (TypeError, ValueError):
        return False
    if key == LOSS_HIGH:
        return abs(got - want) <= max(0.05, 0.02 * abs(want))
    if key == SPREAD_HIGH:
        return abs(got - want) <= 0.05 * want
    if key == SPREAD_LOW:
        return abs(got - want) <= 0.5
    return abs(got - want) < 1e-9


def _prediction_accept(args, got, want) -> bool:
    return isinstance(got, dict) and all(key in got and _close(key, got[key], want[key]) for key in PREDICTION_KEYS)


def _with(n: int, **changes) -> dict:
    """The right predictions with some replaced (the typical wrong ones)."""
    right = solution_temperature_prediction(n)
    keys = {"loss": LOSS_HIGH, "high": SPREAD_HIGH, "low": SPREAD_LOW, "steeper": STEEPER}
    right.update({keys[name]: value for name, value in changes.items()})
    return right


_TEMPERATURE_MISTAKES = [
    Mistake("swapped limits", "You swapped the two limits: dividing by a LARGE T makes every s / T nearly 0, so the "
            "softmax is flat over all 2N - 1 candidates (exp(H) = 2N - 1); a TINY T magnifies the differences, and "
            "the most similar candidate takes nearly all the weight (exp(H) close to 1).",
            lambda n: _with(n, high=1, low=2 * n - 1)),
    Mistake("loss vanishes", "At T = 100 the loss does not vanish: a flat softmax gives the positive only "
            "1 / (2N - 1) of the weight, and the loss is -log of that, log(2N - 1).", lambda n: _with(n, loss=0.0)),
    Mistake("log 2N", "Close: the anchor is not its own candidate, so a flat softmax spreads over 2N - 1 views, "
            "and the loss at a high T is log(2N - 1), not log(2N).", lambda n: _with(n, loss=math.log(2 * n))),
    Mistake("negatives only", "The positive is a candidate too: each anchor's softmax runs over all 2N - 1 other "
            "views (2N - 2 negatives and its partner), so a flat one has 2N - 1 effective candidates.",
            lambda n: _with(n, high=2 * n - 2)),
    Mistake("flat gradient", "The loss sees the similarities through s / T: at T = 10 every logit moves ten times "
            "less than the similarity, so the gradient shrinks like 1 / T. The larger gradient is at the lower "
            "temperature, T = 0.05.", lambda n: _with(n, steeper=10)),
]


def _prediction_diagnose(args, got, want):
    (n,) = args
    if not isinstance(got, dict):
        return (f"Return a dict with the keys {', '.join(repr(k) for k in PREDICTION_KEYS)}; yours is "
                f"{type(got).__name__}.")
    missing = [key for key in PREDICTION_KEYS if key not in got]
    if missing:
        return f"Your dict lacks {', '.join(repr(k) for k in missing)} (the keys are those of the statement)."
    for key in PREDICTION_KEYS:
        if _close(key, got[key], want[key]):
            continue
        for mistake in _TEMPERATURE_MISTAKES:
            if _close(key, got[key], mistake.fn(n)[key]) and not _close(key, want[key], mistake.fn(n)[key]):
                return mistake.message
        return {LOSS_HIGH: "At T = 100 every s / T lies within 0.01 of 0: what weight does the softmax give the "
                           "positive among the 2N - 1 candidates, and what is -log of that weight?",
                SPREAD_HIGH: "exp(H) of a softmax that is flat over M candidates is M. How flat is it at T = 100, "
                             "and over how many candidates does each anchor's softmax run?",
                SPREAD_LOW: "At T = 0.01 a difference of 0.05 in cosine becomes a factor e^5 = 150 in weight: how "
                            "many candidates share the softmax then?",
                STEEPER: "Answer 0.05 or 10: which temperature gives the larger gradient?"}[key] + \
            f" (for N = {n}, your {key!r}: {got[key]!r})"
    return None


temperature_exercise = Exercise(
    name="temperature",
    reference=measured_temperature_effects,
    cases=[lambda: (32,), lambda: (4,)],
    mistakes=_TEMPERATURE_MISTAKES,
    hints=(
        "The temperature divides every similarity before the softmax. Cosine similarities lie in [-1, 1]: ask what "
        "s / T looks like when T is huge (all nearly equal) and when T is tiny (differences blown up), and how "
        "many candidates share each anchor's softmax (the anchor itself is not one of them).",
        "A flat softmax over M candidates gives each 1 / M, so -log(weight of the positive) and exp(entropy) follow "
        "from M; a softmax at a tiny T is nearly one-hot; and the gradient of a function of s / T carries a "
        "factor 1 / T.",
        "return {'loss at T = 100': math.log(2 * n - 1), 'effective candidates at T = 100': 2 * n - 1, "
        "'effective candidates at T = 0.01': 1, 'larger gradient: T = 0.05 or T = 10': 0.05}",
    ),
    solution_fn=solution_temperature_prediction,
    diagnose=_prediction_diagnose,
    accept=_prediction_accept,
    gradient=False,
)

EXERCISES = {"05_contrastive_losses": [triplet_exercise, temperature_exercise, nt_xent_exercise]}
SOLUTIONS = {"nt_xent": solution_nt_xent, "triplet": solution_triplet,
             "temperature_prediction": solution_temperature_prediction}
