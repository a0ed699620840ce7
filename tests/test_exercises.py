"""Exercises: every typical mistake, written here as its own wrong implementation, is named by the check."""
import time

import pytest
import torch
import torch.nn.functional as F

from ssl_helpers.exercises import EXERCISES, nt_xent_exercise
from ssl_helpers.losses import nt_xent


def _targets(n):
    return torch.cat([torch.arange(n, 2 * n), torch.arange(n)])


def _sim(z_a, z_b, t, normalise=True, mask=True):
    z = torch.cat([z_a, z_b])
    if normalise:
        z = F.normalize(z, dim=1)
    s = z @ z.T / t
    return s.masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf")) if mask else s


def student_correct(z_a, z_b, t):
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    s = z @ z.T / t
    s = s - torch.diag(torch.full((len(z),), float("inf"), dtype=z.dtype, device=z.device))
    rows = torch.arange(len(z), device=z.device)
    return -torch.log_softmax(s, dim=1)[rows, _targets(len(z_a)).to(z.device)].mean()


def student_pairwise(z_a, z_b, t):
    """Right numbers through the (2N, 2N, D) pairwise tensor: 34 GB at N = 4096, D = 128."""
    z = torch.cat([z_a, z_b])
    s = F.cosine_similarity(z[:, None], z[None], dim=-1) / t
    s = s - torch.diag(torch.full((len(z),), float("inf"), dtype=z.dtype, device=z.device))
    rows = torch.arange(len(z), device=z.device)
    return -torch.log_softmax(s, dim=1)[rows, _targets(len(z_a)).to(z.device)].mean()


WRONG = {
    "diagonal": lambda a, b, t: F.cross_entropy(_sim(a, b, t, mask=False), _targets(len(a))),
    "L2-normalised": lambda a, b, t: F.cross_entropy(_sim(a, b, t, normalise=False), _targets(len(a))),
    "applied twice": lambda a, b, t: F.cross_entropy(_sim(a, b, t) / t, _targets(len(a))),
    "divides the loss": lambda a, b, t: F.cross_entropy(_sim(a, b, 1.0), _targets(len(a))) / t,
    "same view": lambda a, b, t: F.cross_entropy(_sim(a, b, t, mask=False), torch.arange(2 * len(a))),
    "over N rows": lambda a, b, t: F.cross_entropy(_sim(a, b, t), _targets(len(a)), reduction="sum") / len(a),
    "z_b rows are anchors": lambda a, b, t: F.cross_entropy(_sim(a, b, t)[:len(a)], _targets(len(a))[:len(a)]),
}


def test_unattempted_says_so_and_notebook_falls_back(capsys):
    def stub(z_a, z_b, temperature):
        raise NotImplementedError
    assert "not attempted yet" in nt_xent_exercise.check(stub)
    assert nt_xent_exercise.use(stub) is nt_xent_exercise.reference


def test_correct_student_passes_and_is_used():
    assert nt_xent_exercise.check(student_correct).endswith("correct.")
    assert nt_xent_exercise.use(student_correct) is student_correct
    z_a, z_b = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(student_correct(z_a, z_b, 0.5), nt_xent(z_a, z_b, 0.5))


def test_pairwise_tensor_that_will_not_fit_is_named_without_allocating_it():
    line = nt_xent_exercise.check(student_pairwise)
    assert "not yet" in line and "(2N, 2N, D)" in line and "34 GB" in line, line
    z_a, z_b = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(student_pairwise(z_a, z_b, 0.5), nt_xent(z_a, z_b, 0.5))  # right at small N


def test_largest_intermediate_sees_outputs_and_broadcasts():
    from ssl_helpers.exercises.base import largest_intermediate
    z = torch.ones(8, 3)
    assert largest_intermediate(lambda x: (x @ x.T).sum(), z) == 64                # the (8, 8) product
    assert largest_intermediate(lambda x: F.cosine_similarity(x[:, None], x[None], dim=-1), z) == 8 * 8 * 3
    assert largest_intermediate(lambda x: x @ torch.ones(2, 2), z) is None          # raises: no verdict


@pytest.mark.parametrize("phrase", sorted(WRONG))
def test_each_typical_mistake_is_named(phrase):
    line = nt_xent_exercise.check(WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert nt_xent_exercise.use(WRONG[phrase]) is nt_xent_exercise.reference


def test_student_error_is_one_line_not_a_traceback():
    line = nt_xent_exercise.check(lambda a, b, t: a @ b)          # shape error
    assert "raised RuntimeError" in line and "\n" not in line


def test_report_exercises_per_notebook_and_mistakes_and_timing():
    """Printed (not asserted) report: exercises per notebook, mistakes named per exercise, check time."""
    for notebook, exercises in EXERCISES.items():
        print(f"{notebook}: {len(exercises)} exercise(s)")
        for ex in exercises:
            start = time.perf_counter()
            ex.check(ex.reference)                                  # a full check: every case compared
            print(f"  {ex.name}: {len(ex.mistakes)} typical mistakes named; one check "
                  f"{time.perf_counter() - start:.3f} s")
    assert all(len(ex.mistakes) >= 4 for exs in EXERCISES.values() for ex in exs)


def _d(x, y):
    return torch.linalg.vector_norm(x - y, dim=1)


TRIPLET_WRONG = {
    "squared distances": lambda a, p, n, m: F.relu(_d(a, p) ** 2 - _d(a, n) ** 2 + m).mean(),
    "hinge": lambda a, p, n, m: (_d(a, p) - _d(a, n) + m).mean(),
    "swapped": lambda a, p, n, m: F.relu(_d(a, n) - _d(a, p) + m).mean(),
    "summed": lambda a, p, n, m: F.relu(_d(a, p) - _d(a, n) + m).sum(),
    "margin is subtracted": lambda a, p, n, m: F.relu(_d(a, p) - _d(a, n) - m).mean(),
}


def test_triplet_correct_student_passes():
    from ssl_helpers.exercises import triplet_exercise
    line = triplet_exercise.check(lambda a, p, n, m: F.triplet_margin_loss(a, p, n, margin=m, eps=0.0))
    assert line.endswith("correct."), line


@pytest.mark.parametrize("phrase", sorted(TRIPLET_WRONG))
def test_each_triplet_mistake_is_named(phrase):
    from ssl_helpers.exercises import triplet_exercise
    line = triplet_exercise.check(TRIPLET_WRONG[phrase])
    assert "not yet" in line and phrase in line, line


# ---------------------------------------------------------------------------- what every exercise does
ALL_EXERCISES = [exercise for exercises in EXERCISES.values() for exercise in exercises]


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda ex: ex.name)
def test_every_exercise_unattempted_says_so_and_the_notebook_falls_back(exercise, capsys):
    def stub(*args):
        raise NotImplementedError
    assert "not attempted yet" in exercise.check(stub)
    assert exercise.use(stub) is exercise.reference
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda ex: ex.name)
def test_every_exercise_reports_a_student_error_in_one_line(exercise):
    def typo(*args):
        raise IndexError("index 4 is out of bounds")
    line = exercise.check(typo)
    assert "\n" not in line and "raised IndexError: index 4 is out of bounds" in line


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda ex: ex.name)
def test_every_exercise_gives_a_hint_and_a_solution_that_passes(exercise, capsys):
    exercise.hint()
    exercise.solution()
    out = capsys.readouterr().out
    assert exercise.hint_text and exercise.hint_text in out and "BEGIN SOLUTION" in out
    assert exercise.check(exercise.solution_fn).endswith("correct.")


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda ex: ex.name)
def test_every_exercise_names_at_least_four_mistakes_and_reports_its_check_time(exercise, capsys):
    """Speed is reported, not asserted (a busy machine must not fail the suite): the budget is 1 s per check."""
    assert len(exercise.mistakes) >= 4
    start = time.perf_counter()
    exercise.check(exercise.mistakes[-1].fn)                      # the slowest path: every mistake tried
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n{exercise.name}: {len(exercise.mistakes)} mistakes; a check naming the last one took "
              f"{seconds:.3f} s (budget 1 s)")
