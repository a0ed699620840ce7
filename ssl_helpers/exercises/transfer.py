"""Exercises of notebook 09 (transfer learning): the cosine kNN probe, and drawing exactly k labels per class.

    kNN:    s_ij = cos(t_i, x_j);  vote_c(t_i) = sum over the k most similar j with y_j = c of exp(s_ij / T);
            prediction_i = argmax_c vote_c(t_i) (a tie goes to the smallest label).
            The course's implementation: `ssl_helpers.evaluate.knn_predict`.
    draw:   for each class c in increasing order, members_c = the indices with label c (increasing),
            chosen_c = members_c[randperm(|members_c|, generator)[:k]];  returns sort(cat_c chosen_c).
            The course's implementation: `ssl_helpers.data.draw_per_class` (behind `labeled_subset`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_helpers.data import draw_per_class as _course_draw
from ssl_helpers.evaluate import knn_predict as _course_knn
from .base import Exercise, Mistake

# ----------------------------------------------------------------------------------------------------
# The cosine kNN probe: fn(train_x, train_y, test_x, k, temperature) -> (M,) predicted labels
# ----------------------------------------------------------------------------------------------------


def solution_knn_predict(train_x, train_y, test_x, k, temperature):
    # BEGIN SOLUTION
    import torch
    import torch.nn.functional as F
    sim = F.normalize(test_x.float(), dim=1) @ F.normalize(train_x.float(), dim=1).T   # (M, N) cosines
    top_sim, top_idx = sim.topk(min(k, len(train_x)), dim=1)                           # (M, k) most similar
    votes = torch.zeros(len(test_x), int(train_y.max()) + 1)                           # (M, classes)
    votes.scatter_add_(1, train_y[top_idx], (top_sim / temperature).exp())             # weighted votes
    return votes.argmax(dim=1)                                                         # ties: smallest label
    # END SOLUTION


def _vote(weights, labels, num_classes):
    votes = torch.zeros(len(weights), num_classes, dtype=torch.float64)
    return votes.scatter_add_(1, labels, weights.double()).argmax(dim=1)


def _cos(train_x, test_x, dim=1):
    return F.normalize(test_x.float(), dim=dim) @ F.normalize(train_x.float(), dim=dim).T


def _euclidean(train_x, train_y, test_x, k, t):
    dist = torch.cdist(test_x.float(), train_x.float())                   # nearest by distance, raw features
    d, idx = dist.topk(k, dim=1, largest=False)
    return _vote((-d / t).exp(), train_y[idx], int(train_y.max()) + 1)


def _not_normalised(train_x, train_y, test_x, k, t):
    s, idx = (test_x.float() @ train_x.float().T).topk(k, dim=1)
    return _vote((s / t).exp(), train_y[idx], int(train_y.max()) + 1)


def _farthest(train_x, train_y, test_x, k, t):
    s, idx = _cos(train_x, test_x).topk(k, dim=1, largest=False)
    return _vote((s / t).exp(), train_y[idx], int(train_y.max()) + 1)


def _unweighted(train_x, train_y, test_x, k, t):
    s, idx = _cos(train_x, test_x).topk(k, dim=1)
    return _vote(torch.ones_like(s), train_y[idx], int(train_y.max()) + 1)


def _temperature_multiplies(train_x, train_y, test_x, k, t):
    s, idx = _cos(train_x, test_x).topk(k, dim=1)
    return _vote((s * t).exp(), train_y[idx], int(train_y.max()) + 1)


def _index_not_label(train_x, train_y, test_x, k, t):
    return _cos(train_x, test_x).argmax(dim=1)


def _normalised_over_batch(train_x, train_y, test_x, k, t):
    s, idx = _cos(train_x, test_x, dim=0).topk(k, dim=1)
    return _vote((s / t).exp(), train_y[idx], int(train_y.max()) + 1)


def _knn_cases():
    def random(n, m, d, classes, k, t, dtype=torch.float32, seed=0):
        def make():
            g = torch.Generator().manual_seed(seed)
            scale = torch.rand(n, 1, generator=g, dtype=dtype) * 3 + 0.2              # norms from 0.2 to 3.2
            train_x = torch.randn(n, d, generator=g, dtype=dtype) * scale
            train_y = torch.randint(classes, (n,), generator=g)
            test_x = torch.randn(m, d, generator=g, dtype=dtype) * 2
            return train_x, train_y, test_x, k, t
        return make

    def weights_matter(t):
        """k = 3: one very similar neighbour of class 2 (cos 0.99) against two of class 0 (cos 0.5, 0.45)."""
        def make():
            angle = torch.tensor([0.1415, 1.0472, 1.1040, 2.5])                 # cos 0.99, 0.5, 0.45, -0.8
            train_x = torch.stack([angle.cos(), angle.sin()], dim=1) * torch.tensor([[3.0], [0.5], [1.0], [2.0]])
            return train_x, torch.tensor([2, 0, 0, 1]), torch.tensor([[1.0, 0.0]]), 3, t
        return make

    def tie():
        """Two neighbours at the same cosine with labels 1 and 0: equal votes, the smaller label (0) wins; a batch
        of identical test rows gets identical predictions."""
        train_x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
        return train_x, torch.tensor([1, 0, 3]), torch.tensor([[1.0, 1.0]]).repeat(3, 1), 2, 0.1

    def two():                                                                     # N = 2, k = 1
        train_x, test_x = torch.tensor([[1.0, 0.2], [-0.5, 1.0]]), torch.tensor([[0.9, 0.1], [0.1, 2.0]])
        return train_x, torch.tensor([0, 1]), test_x, 1, 0.1

    return [random(40, 12, 5, 4, 5, 0.1), random(30, 10, 3, 3, 7, 0.5, torch.float64, seed=1),
            random(25, 16, 8, 10, 1, 0.1, seed=2), weights_matter(0.1), weights_matter(10.0), tie, two]


knn_exercise = Exercise(
    name="kNN probe",
    reference=_course_knn,
    cases=_knn_cases(),
    mistakes=[
        Mistake("euclidean", "Your neighbours are the nearest by Euclidean distance on the raw features: the probe "
                "uses cosine similarity, F.normalize both feature sets (dim=1) and take test @ train.T.", _euclidean),
        Mistake("not normalised", "You used dot products of unnormalised features: a long feature vector wins "
                "whatever its direction. L2-normalise the rows (F.normalize(x, dim=1)) first.", _not_normalised),
        Mistake("farthest", "You took the k LEAST similar training images (smallest cosine / argmin): use "
                "topk(k, largest=True), the most similar.", _farthest),
        Mistake("unweighted", "Each neighbour casts one vote: in the course's kNN a neighbour votes exp(s / T), so "
                "a very similar neighbour outweighs several lukewarm ones.", _unweighted),
        Mistake("temperature multiplies", "The temperature multiplies the similarity: the weight is exp(s / T), "
                "divided (a small T makes the nearest neighbours count much more).", _temperature_multiplies),
        Mistake("index", "You returned the index of the nearest training image, not a label: look its label up "
                "(train_y[index]) and vote over the k nearest.", _index_not_label),
        Mistake("normalised over batch", "You normalised each feature over the batch (dim=0); a cosine needs each "
                "row (one image's features) to have norm 1: F.normalize(x, dim=1).", _normalised_over_batch),
    ],
    hints=(
        "Each test image looks at its k most similar labeled images by cosine (the direction of the features, not "
        "their length); each of those votes for its own class with weight exp(similarity / T), and the class with "
        "the largest total wins (the smaller label on a tie). The features may be float32 or float64.",
        "Normalise both feature sets row by row, one matrix product gives the (m, n) cosines, topk picks the k "
        "largest per row with their indices, the neighbours' labels come from train_y at those indices, and "
        "scatter_add_ sums the weights into an (m, classes) table of votes, in the weights' dtype; argmax per row.",
        "sim = F.normalize(test_x, dim=1) @ F.normalize(train_x, dim=1).T; top_sim, top_idx = sim.topk(k, dim=1); "
        "votes = torch.zeros(len(test_x), int(train_y.max()) + 1, dtype=sim.dtype); "
        "votes.scatter_add_(1, train_y[top_idx], (top_sim / temperature).exp()); return votes.argmax(dim=1)",
    ),
    solution_fn=solution_knn_predict,
    idea=True,
)


# ----------------------------------------------------------------------------------------------------
# Exactly k labels per class: fn(labels, k, generator) -> sorted indices (k * classes,)
# ----------------------------------------------------------------------------------------------------


def solution_draw_per_class(labels, k, generator):
    # BEGIN SOLUTION
    import torch
    chosen = []
    for c in torch.unique(labels):                                        # classes in increasing order
        members = torch.nonzero(labels == c).flatten()                     # indices of class c, increasing
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.cat(chosen).sort().values                                # (k * classes,), sorted
    # END SOLUTION


class SeededExercise(Exercise):
    """An exercise whose function draws with a `torch.Generator` passed in: a wrong answer that gives different
    results for two identically seeded generators is told that it does not use the generator (global randomness)."""

    def verdict(self, fn) -> str:
        line = super().verdict(fn)
        if fn is None or "not yet" not in line:
            return line
        try:
            first, second = fn(*self.cases[0]()), fn(*self.cases[0]())
        except Exception:
            return line
        if not self._same(first, second):
            return (f"{self.name}: not yet. Two calls with identically seeded generators drew different indices: "
                    f"pass generator=generator to torch.randperm, so every draw is reproducible.")
        return line


def _members(labels):
    return [torch.nonzero(labels == c).flatten() for c in torch.unique(labels)]


def _k_in_all(labels, k, g):
    return torch.randperm(len(labels), generator=g)[:k * len(torch.unique(labels))].sort().values


def _with_replacement(labels, k, g):
    return torch.cat([m[torch.randint(len(m), (k,), generator=g)] for m in _members(labels)]).sort().values


def _first_k(labels, k, g):
    return torch.cat([m[:k] for m in _members(labels)]).sort().values


def _positions(labels, k, g):
    return torch.cat([torch.randperm(len(m), generator=g)[:k] for m in _members(labels)]).sort().values


def _unsorted(labels, k, g):
    return torch.cat([m[torch.randperm(len(m), generator=g)[:k]] for m in _members(labels)])


def _one_permutation(labels, k, g):
    order = torch.randperm(len(labels), generator=g)
    return torch.cat([order[labels[order] == c][:k] for c in torch.unique(labels)]).sort().values


def _draw_diagnose(args, got, want):
    """Property messages: distinct indices, exactly k of every class, sorted."""
    labels, k, _ = args
    got = torch.as_tensor(got)
    if got.dim() != 1 or got.dtype not in (torch.int64, torch.int32):
        return (f"Return a 1-D tensor of integer indices into labels; got shape {tuple(got.shape)}, "
                f"{got.dtype}.")
    if len(got) and (got.min() < 0 or got.max() >= len(labels)):
        return (f"Indices must lie in [0, {len(labels) - 1}] (positions in labels); got "
                f"{int(got.min())}..{int(got.max())}.")
    if len(torch.unique(got)) < len(got):
        return "An index was drawn twice: draw without replacement (torch.randperm, not torch.randint)."
    counts = {int(c): int((labels[got] == c).sum()) for c in torch.unique(labels)}
    if any(v != k for v in counts.values()):
        return f"Every class must get exactly k = {k} labels; your draw has {counts} (class: count)."
    if not torch.equal(got, got.sort().values):
        return "A valid draw, but return the indices sorted (torch.sort), as the course does."
    return ("A valid draw (k distinct indices of each class), but not the course's: for each class in increasing "
            "order, members[torch.randperm(len(members), generator=generator)[:k]], then sort them all.")


def _draw_cases():
    def shuffled(sizes, k, seed, values=None):
        def make():
            g = torch.Generator().manual_seed(100 + seed)
            classes = values or list(range(len(sizes)))
            labels = torch.cat([torch.full((n,), c) for c, n in zip(classes, sizes)])
            labels = labels[torch.randperm(len(labels), generator=g)]
            return labels, k, torch.Generator().manual_seed(seed)
        return make

    def two():                                                           # N = 2: one image per class, k = 1
        return torch.tensor([1, 0]), 1, torch.Generator().manual_seed(0)

    return [shuffled([10, 12, 8], 2, 0), shuffled([3, 5, 4], 3, 1), shuffled([6, 9, 7], 2, 2, values=[0, 4, 9]),
            shuffled([20] * 10, 5, 3), two]


draw_exercise = SeededExercise(
    name="k labels per class",
    reference=_course_draw,
    cases=_draw_cases(),
    mistakes=[
        Mistake("k in all", "You drew k x classes indices from the whole pool at random: some classes get more "
                "than k labels, some fewer. Draw k from EACH class.", _k_in_all),
        Mistake("with replacement", "You drew with replacement (torch.randint): the same image can be labeled "
                "twice. Use torch.randperm(len(members), generator=generator)[:k].", _with_replacement),
        Mistake("first k", "You took the first k images of each class: that is not a random draw (and the same "
                "for every seed). Permute the members with the generator first.", _first_k),
        Mistake("positions", "You returned positions inside each class (0..n_c - 1), not indices into labels: "
                "index the class's members with them, members[perm[:k]].", _positions),
        Mistake("unsorted", "The right indices, but not sorted: return torch.sort(...).values, as the course "
                "does (the probes then see the images in dataset order).", _unsorted),
        Mistake("one permutation", "One permutation of the whole pool, then the first k of each class: a valid "
                "draw, but not the course's (so not the leaderboard's labels). Per class, in increasing class "
                "order: members[torch.randperm(len(members), generator=generator)[:k]].", _one_permutation),
    ],
    hints=(
        "Every class gets exactly k labeled images, drawn without replacement and only from the generator given, so "
        "that the same seed gives every method the same labels; the result lists positions in `labels`, sorted.",
        "Go through the classes in increasing order; for each, find the positions that hold that class, shuffle "
        "them with a random permutation drawn from the generator, keep the first k; concatenate and sort.",
        "for c in torch.unique(labels): members = torch.nonzero(labels == c).flatten(); "
        "chosen.append(members[torch.randperm(len(members), generator=generator)[:k]]); "
        "return torch.cat(chosen).sort().values",
    ),
    solution_fn=solution_draw_per_class,
    diagnose=_draw_diagnose,
)

EXERCISES = {"09_transfer_learning": [draw_exercise, knn_exercise]}
SOLUTIONS = {"draw_per_class": solution_draw_per_class, "knn_predict": solution_knn_predict}
