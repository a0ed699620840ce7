"""Exercises of notebooks 05 and 06: NT-Xent from a cosine-similarity matrix.

    z = [z_a; z_b]: (2N, D),  s_ij = cos(z_i, z_j),  l_i = -log softmax_{k != i}(s_ik / T)[pos(i)],
    L = mean over the 2N rows.  The course's implementation: `ssl_helpers.losses.nt_xent`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_helpers.losses import nt_xent as _course_nt_xent
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
        Mistake("mean over N", "The loss is averaged over N rows; NT-Xent averages over all 2N rows.",
                _mean_over_n),
        Mistake("one direction", "Only the N rows of z_a are scored: the z_b rows are anchors too (2N rows).",
                _one_direction),
    ],
    hint_text=("Stack z = [z_a; z_b] (2N, D), L2-normalise the rows, sim = z @ z.T / T (2N, 2N), set the diagonal "
               "to -inf, and use F.cross_entropy with targets [N..2N-1, 0..N-1]."),
    solution_fn=solution_nt_xent,
    probes=[_memory_probe],
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
        Mistake("squared", "You used squared distances; the course's triplet loss uses Euclidean distances "
                "|a - p|_2 (take the square root).", lambda a, p, n, m: torch.relu(
                    (a - p).pow(2).sum(1) - (a - n).pow(2).sum(1) + m).mean()),
        Mistake("no hinge", "The hinge max(0, .) is missing: triplets already satisfied must contribute 0, not a "
                "negative loss.", lambda a, p, n, m: (_dist(a, p) - _dist(a, n) + m).mean()),
        Mistake("swapped", "Positive and negative are swapped: the loss must grow with |a - p| and shrink with "
                "|a - n|.", lambda a, p, n, m: torch.relu(_dist(a, n) - _dist(a, p) + m).mean()),
        Mistake("sum", "The loss is summed over the batch; take the mean over the B triplets.",
                lambda a, p, n, m: torch.relu(_dist(a, p) - _dist(a, n) + m).sum()),
        Mistake("margin sign", "The margin is subtracted; it must be added: |a - p| - |a - n| + m.",
                lambda a, p, n, m: torch.relu(_dist(a, p) - _dist(a, n) - m).mean()),
    ],
    hint_text="Row-wise Euclidean distances d(a, p) and d(a, n), each (B,); then relu(d_ap - d_an + margin).mean().",
    solution_fn=solution_triplet,
)

EXERCISES = {"05_contrastive_losses": [triplet_exercise, nt_xent_exercise]}
SOLUTIONS = {"nt_xent": solution_nt_xent, "triplet": solution_triplet}
