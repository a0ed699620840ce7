"""Notebook 08's exercises (k labels per class, the kNN probe): published and hinted implementations pass; each
typical mistake, written here again as its own wrong implementation, is named."""

import pytest
import torch
import torch.nn.functional as F

from ssl_helpers.data import draw_per_class, labeled_subset
from ssl_helpers.evaluate import knn_accuracy, knn_predict
from ssl_helpers.exercises.transfer import draw_exercise, knn_exercise

# ---------------------------------------------------------------------------- kNN probe


def student_knn(train_x, train_y, test_x, k, temperature):
    """Right, written differently: cosine_similarity broadcast, a loop over classes for the votes."""
    sim = F.cosine_similarity(test_x.float()[:, None], train_x.float()[None], dim=-1, eps=1e-12)    # (M, N)
    top, idx = torch.sort(sim, dim=1, descending=True)
    top, idx = top[:, :k], idx[:, :k]
    weights = torch.exp(top / temperature)
    labels = train_y[idx]
    votes = torch.stack([(weights * (labels == c)).sum(1) for c in range(int(train_y.max()) + 1)], dim=1)
    return votes.argmax(1)


def _weighted_vote(weights, labels, classes):
    return torch.zeros(len(labels), classes, dtype=weights.dtype).scatter_add(1, labels, weights).argmax(1)


def _cosine(test_x, train_x):
    return F.normalize(test_x.float(), dim=1) @ F.normalize(train_x.float(), dim=1).T


def wrong_euclidean(train_x, train_y, test_x, k, t):
    d = torch.linalg.vector_norm(test_x.float()[:, None] - train_x.float()[None], dim=-1)
    d, idx = torch.sort(d, dim=1)
    return _weighted_vote(torch.exp(-d[:, :k] / t), train_y[idx[:, :k]], int(train_y.max()) + 1)


def wrong_dot(train_x, train_y, test_x, k, t):
    s, idx = torch.topk(test_x.float() @ train_x.float().T, k)
    return _weighted_vote(torch.exp(s / t), train_y[idx], int(train_y.max()) + 1)


def wrong_farthest(train_x, train_y, test_x, k, t):
    s, idx = torch.sort(_cosine(test_x, train_x), dim=1)            # ascending: the least similar first
    return _weighted_vote(torch.exp(s[:, :k] / t), train_y[idx[:, :k]], int(train_y.max()) + 1)


def wrong_majority(train_x, train_y, test_x, k, t):
    idx = _cosine(test_x, train_x).topk(k, dim=1).indices
    return torch.stack([torch.bincount(row, minlength=int(train_y.max()) + 1).argmax() for row in train_y[idx]])


def wrong_temperature(train_x, train_y, test_x, k, t):
    s, idx = _cosine(test_x, train_x).topk(k, dim=1)
    return _weighted_vote(torch.exp(s * t), train_y[idx], int(train_y.max()) + 1)


def wrong_index(train_x, train_y, test_x, k, t):
    return _cosine(test_x, train_x).topk(1, dim=1).indices.flatten()


def wrong_batch_normalised(train_x, train_y, test_x, k, t):
    a, b = test_x.float(), train_x.float()
    s, idx = ((a / a.norm(dim=0).clamp_min(1e-12)) @ (b / b.norm(dim=0).clamp_min(1e-12)).T).topk(k, dim=1)
    return _weighted_vote(torch.exp(s / t), train_y[idx], int(train_y.max()) + 1)


KNN_WRONG = {
    "Euclidean distance": wrong_euclidean,
    "dot products of unnormalised": wrong_dot,
    "LEAST similar": wrong_farthest,
    "casts one vote": wrong_majority,
    "temperature multiplies": wrong_temperature,
    "index of the nearest training image": wrong_index,
    "over the batch (dim=0)": wrong_batch_normalised,
}


def test_knn_correct_student_passes_and_is_used():
    assert knn_exercise.check(student_knn).endswith("correct.")
    assert knn_exercise.use(student_knn) is student_knn


def test_knn_predict_known_answer_and_tie_rule():
    """One very similar neighbour of class 2 outweighs two lukewarm ones of class 0 at T = 0.1; on a tie the
    smaller label wins; knn_accuracy is the accuracy of knn_predict."""
    train_x = torch.tensor([[1.0, 0.05], [0.5, 0.85], [0.45, 0.9], [-1.0, 0.0]])
    train_y = torch.tensor([2, 0, 0, 1])
    assert knn_predict(train_x, train_y, torch.tensor([[1.0, 0.0]]), k=3, temperature=0.1).tolist() == [2]
    tie_x, tie_y = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([1, 0])
    assert knn_predict(tie_x, tie_y, torch.tensor([[1.0, 1.0]]), k=2, temperature=0.1).tolist() == [0]
    assert knn_accuracy(train_x, train_y, torch.tensor([[1.0, 0.0]]), torch.tensor([2]), k=3) == 1.0


@pytest.mark.parametrize("phrase", sorted(KNN_WRONG))
def test_each_knn_mistake_is_named(phrase):
    line = knn_exercise.check(KNN_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert knn_exercise.use(KNN_WRONG[phrase]) is knn_exercise.reference


# ---------------------------------------------------------------------------- k labels per class


def student_draw(labels, k, generator):
    """Right, written differently: a boolean mask per class and a Python list of indices."""
    picked = []
    for c in sorted(set(labels.tolist())):
        members = torch.arange(len(labels))[labels == c]
        order = torch.randperm(members.numel(), generator=generator)
        picked += members[order[:k]].tolist()
    return torch.tensor(sorted(picked))


def _classes(labels):
    return torch.unique(labels).tolist()


def wrong_k_in_all(labels, k, g):
    return torch.sort(torch.randperm(len(labels), generator=g)[:k * len(_classes(labels))]).values


def wrong_k_total(labels, k, g):
    return torch.sort(torch.randperm(len(labels), generator=g)[:k]).values


def wrong_replacement(labels, k, g):
    out = []
    for c in _classes(labels):
        members = torch.where(labels == c)[0]
        out.append(members[torch.randint(0, len(members), (k,), generator=g)])
    return torch.sort(torch.cat(out)).values


def wrong_first_k(labels, k, g):
    return torch.sort(torch.cat([torch.where(labels == c)[0][:k] for c in _classes(labels)])).values


def wrong_positions(labels, k, g):
    return torch.sort(torch.cat([torch.randperm(int((labels == c).sum()), generator=g)[:k]
                                 for c in _classes(labels)])).values


def wrong_unsorted(labels, k, g):
    out = []
    for c in _classes(labels):
        members = torch.where(labels == c)[0]
        out.append(members[torch.randperm(len(members), generator=g)[:k]])
    return torch.cat(out)


def wrong_one_permutation(labels, k, g):
    perm = torch.randperm(len(labels), generator=g)
    out = []
    for c in _classes(labels):
        out += [int(i) for i in perm if labels[i] == c][:k]
    return torch.tensor(sorted(out))


def wrong_unseeded(labels, k, g):
    out = []
    for c in _classes(labels):
        members = torch.where(labels == c)[0]
        out.append(members[torch.randperm(len(members))[:k]])        # the global generator
    return torch.sort(torch.cat(out)).values


def wrong_other_class_order(labels, k, g):
    """A valid draw, but the classes visited from the largest label down: not the course's draws."""
    out = []
    for c in reversed(_classes(labels)):
        members = torch.where(labels == c)[0]
        out.append(members[torch.randperm(len(members), generator=g)[:k]])
    return torch.sort(torch.cat(out)).values


DRAW_WRONG = {
    "from EACH class": wrong_k_in_all,
    "Every class must get exactly k": wrong_k_total,                 # not a listed mistake: a property message
    "with replacement": wrong_replacement,
    "first k images of each class": wrong_first_k,
    "positions inside each class": wrong_positions,
    "not sorted": wrong_unsorted,
    "One permutation of the whole pool": wrong_one_permutation,
    "identically seeded generators drew different indices": wrong_unseeded,
    "A valid draw (k distinct indices of each class), but not the course's": wrong_other_class_order,
}


def test_draw_correct_student_passes_and_is_used():
    assert draw_exercise.check(student_draw).endswith("correct.")
    assert draw_exercise.use(student_draw) is student_draw


def test_draw_is_the_protocols_labeled_subset():
    labels = torch.arange(50) % 5
    for seed in range(3):
        assert torch.equal(draw_per_class(labels, 2, torch.Generator().manual_seed(seed)),
                           labeled_subset(labels, 2, seed))


def test_draw_rejects_a_class_too_small_naming_it():
    with pytest.raises(ValueError, match="class 1, which has only 1"):
        draw_per_class(torch.tensor([0, 0, 1]), 2, torch.Generator())


@pytest.mark.parametrize("phrase", sorted(DRAW_WRONG))
def test_each_draw_mistake_is_named(phrase):
    line = draw_exercise.check(DRAW_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert draw_exercise.use(DRAW_WRONG[phrase]) is draw_exercise.reference


# ---------------------------------------------------------------------------- both


def test_student_error_is_one_line():
    line = knn_exercise.check(lambda train_x, train_y, test_x, k, t: train_x @ test_x)
    assert "raised RuntimeError" in line and "\n" not in line
    line = draw_exercise.check(lambda labels, k, g: labels[k * 1000])
    assert "raised IndexError" in line and "\n" not in line


def _function_from_code_hint(exercise, signature):
    """The exercise's last hint step, typed in as written: its statements, split at '; ', as a function body."""
    body = "\n".join("    " + line for line in exercise.hints[-1].split("; "))
    namespace = {"torch": torch, "F": F}
    exec(f"def typed{signature}:\n{body}\n", namespace)  # noqa: S102 - the course's own hint text
    return namespace["typed"]


def test_knn_code_hint_typed_in_as_written_passes_on_every_case_float64_included():
    typed = _function_from_code_hint(knn_exercise, "(train_x, train_y, test_x, k, temperature)")
    assert knn_exercise.check(typed) == "kNN probe: correct."


def dino_knn_classifier(train_x, train_y, test_x, k, temperature):
    """facebookresearch/dino, eval_knn.py, knn_classifier, ported: features l2-normalised first (as DINO's
    extraction does), one chunk, the top prediction of the vote table sorted in descending order."""
    num_classes = int(train_y.max()) + 1
    train_features = F.normalize(train_x, dim=1).t()
    features = F.normalize(test_x, dim=1)
    batch_size = features.shape[0]
    similarity = torch.mm(features, train_features)
    distances, indices = similarity.topk(k, largest=True, sorted=True)
    candidates = train_y.view(1, -1).expand(batch_size, -1)
    retrieved_neighbors = torch.gather(candidates, 1, indices)
    retrieval_one_hot = torch.zeros(batch_size * k, num_classes)
    retrieval_one_hot.scatter_(1, retrieved_neighbors.view(-1, 1), 1)
    distances_transform = distances.clone().div_(temperature).exp_()
    probs = torch.sum(torch.mul(retrieval_one_hot.view(batch_size, -1, num_classes),
                                distances_transform.view(batch_size, -1, 1)), 1)
    _, predictions = probs.sort(dim=1, descending=True, stable=True)  # stable: a tie goes to the smaller label
    return predictions[:, 0]


def test_dino_knn_classifier_passes():
    assert knn_exercise.check(dino_knn_classifier) == "kNN probe: correct."
