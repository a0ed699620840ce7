"""Exercises: every typical mistake, written here as its own wrong implementation, is named by the check; and what
every exercise does: three-step hints (the first without code), a result without gradient rejected where the
course's has one, each notebook's last exercise its idea, statements that say the cases' dtypes and hold no line of
the solution, published implementations judged as the statements imply."""
import copy
import inspect
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ssl_helpers.exercises import EXERCISES, SOLUTIONS, nt_xent_exercise
from ssl_helpers.losses import nt_xent

ROOT = Path(__file__).resolve().parents[1]


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


def test_every_exercise_names_at_least_four_typical_mistakes():
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


def _tag(exercise) -> str:
    return next(tag for tag, fn in SOLUTIONS.items() if fn is exercise.solution_fn)


def solution_code_lines(exercise) -> list:
    """The solution's code lines between the markers: stripped, comments, blanks and imports left out."""
    source = inspect.getsource(exercise.solution_fn).splitlines()
    start = next(i for i, line in enumerate(source) if "BEGIN SOLUTION" in line)
    end = next(i for i, line in enumerate(source) if "END SOLUTION" in line)
    lines = []
    for line in source[start + 1:end]:
        code = line.split("  #")[0].strip()
        if code and not code.startswith(("import ", "from ", "#")):
            lines.append(code)
    return lines


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda ex: ex.name)
def test_every_exercise_has_a_solution_that_passes(exercise, capsys):
    exercise.solution()
    assert "BEGIN SOLUTION" in capsys.readouterr().out
    assert exercise.check(exercise.solution_fn).endswith("correct.")


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda ex: ex.name)
def test_hints_come_in_three_steps_the_first_without_a_line_of_the_solution(exercise):
    """Concept (what must be true), approach (which operations), code; the first names no code at all."""
    assert len(exercise.hints) == 3 and all(len(h) > 40 for h in exercise.hints)
    concept = exercise.hints[0]
    for line in solution_code_lines(exercise):
        if len(line) >= 10:
            assert line not in concept, line
    assert "torch." not in concept and "F." not in concept and "()" not in concept and "[:" not in concept, concept


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=lambda ex: ex.name)
def test_hint_gives_one_step_per_call(exercise, capsys):
    fresh = copy.copy(exercise)
    fresh._hint_step = 0
    for step, label in enumerate(("concept", "approach", "code", "code")):
        fresh.hint()
        out = capsys.readouterr().out
        assert out.startswith(f"Hint {min(step, 2) + 1} of 3, {label}: ") and exercise.hints[min(step, 2)] in out
    assert exercise.hint_text == "\n".join(exercise.hints)


# ---------------------------------------------------------------------------- gradients
GRADIENT_FREE = {  # exercises whose result is not differentiated, and why
    "random masking": "integer indices and a 0/1 mask",
    "temperature": "predicted numbers",
    "crop boxes": "sampling parameters (boxes built from Python numbers are fine)",
    "partner accuracy": "a metric, returned as a Python float",
    "Momentum update": "an in-place update outside the autograd graph",
    "k labels per class": "integer indices",
    "kNN probe": "integer labels",
}


def _without_gradient(fn, how):
    """fn with its result (or its first item, the loss) cut from the graph: .detach() or .item()."""
    def cut(value):
        return value.detach() if how == "detach" else value.item()

    def wrapped(*args):
        out = fn(*args)
        return (cut(out[0]), *out[1:]) if isinstance(out, tuple) else cut(out)
    return wrapped


def test_exactly_the_listed_exercises_are_free_of_gradients():
    free = {exercise.name for exercise in ALL_EXERCISES if not exercise._needs_gradient()}
    assert free == set(GRADIENT_FREE)


@pytest.mark.parametrize("exercise", [ex for ex in ALL_EXERCISES if ex.name not in GRADIENT_FREE],
                         ids=lambda ex: ex.name)
def test_a_result_without_gradient_is_rejected_where_the_reference_has_one(exercise):
    """The solution, detached (and, for a loss, as a Python number), gets the same value and no gradient."""
    line = exercise.check(_without_gradient(exercise.solution_fn, "detach"))
    assert "not yet" in line and "no gradient" in line, line
    if exercise.loss:
        assert "Your loss has no gradient: the network could not learn from it" in line
        line = exercise.check(_without_gradient(exercise.solution_fn, "item"))
        assert "not yet" in line and "Your loss has no gradient: the network could not learn from it" in line


def test_an_input_changed_in_place_is_named_not_a_traceback():
    """The check's inputs require gradients; a student who normalises them in place gets a sentence, not autograd's
    error."""
    def in_place(z_a, z_b, t):
        z_a /= z_a.norm(dim=1, keepdim=True)
        return nt_xent(z_a, z_b, t)
    line = nt_xent_exercise.check(in_place)
    assert "not yet" in line and "in place" in line and "\n" not in line, line


def test_triplet_and_nt_xent_returned_with_item_are_not_called_correct():
    from ssl_helpers.exercises import triplet_exercise
    for exercise, right in ((nt_xent_exercise, student_correct),
                            (triplet_exercise, lambda a, p, n, m: F.triplet_margin_loss(a, p, n, margin=m, eps=0.0))):
        line = exercise.check(lambda *args, right=right: right(*args).item())
        assert "no gradient: the network could not learn from it" in line, line


# ---------------------------------------------------------------------------- each notebook's idea
def test_every_exercise_stub_in_a_notebook_is_registered_under_that_notebook():
    """A stub whose exercise is missing from EXERCISES (or filed under another notebook) would get no check."""
    stubs = {path.stem: set(re.findall(r"# EXERCISE (\w+):", path.read_text()))
             for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))}
    assert {notebook: {_tag(ex) for ex in exercises} for notebook, exercises in EXERCISES.items()} == {
        notebook: tags for notebook, tags in stubs.items() if tags}


def test_each_notebooks_last_exercise_is_its_idea_a_loss_or_step_from_02_to_08():
    for notebook, exercises in EXERCISES.items():
        assert [ex.idea for ex in exercises] == [False] * (len(exercises) - 1) + [True], notebook
        last = exercises[-1]
        if notebook != "09_transfer_learning":      # 09's idea is the kNN vote
            assert last.loss and last._needs_gradient(), notebook


# ---------------------------------------------------------------------------- the statements in the notebooks
def _cells(notebook: str) -> list:
    return re.split(r"^# %%", (ROOT / "notebooks" / f"{notebook}.py").read_text(), flags=re.M)[1:]


def _case_dtypes(exercise) -> set:
    dtypes = set()
    for case in exercise.cases:
        for arg in case():
            tensors = list(arg.parameters()) if isinstance(arg, torch.nn.Module) else [arg]
            dtypes |= {str(t.dtype).replace("torch.", "") for t in tensors
                       if isinstance(t, torch.Tensor) and t.is_floating_point()}
    return dtypes


@pytest.mark.parametrize("notebook", sorted(EXERCISES))
def test_every_statement_sits_above_its_stub_and_says_the_dtypes_of_the_cases(notebook):
    cells = _cells(notebook)
    stubs = []
    for exercise in EXERCISES[notebook]:
        tag = _tag(exercise)
        index = next(i for i, cell in enumerate(cells) if f"# EXERCISE {tag}:" in cell)
        stubs.append(index)
        statement = cells[index - 1]
        assert statement.startswith(" [markdown]"), (exercise.name, statement[:80])
        name = re.search(r"^def (my_\w+)\(", cells[index], flags=re.M)[1]
        assert f"`{name}(" in statement and f".check({name})" in cells[index + 1], exercise.name
        for dtype in _case_dtypes(exercise):
            assert dtype in statement, (exercise.name, dtype)
        assert ".hint()" in statement and "three steps" in statement, exercise.name
    assert stubs == sorted(stubs), "the exercises appear in the notebook in EXERCISES order"


@pytest.mark.parametrize("notebook", sorted(EXERCISES))
def test_no_line_of_a_solution_is_in_the_notebooks_markdown_or_stubs(notebook):
    cells = _cells(notebook)
    markdown = "\n".join(cell for cell in cells if cell.startswith(" [markdown]"))
    stubs = "\n".join(cell for cell in cells if "# EXERCISE " in cell)
    for exercise in EXERCISES[notebook]:
        for line in solution_code_lines(exercise):
            if len(line) >= 20 and not line.endswith(":"):        # a block opener (with torch.no_grad():) is no answer
                assert line not in markdown and line not in stubs, (exercise.name, line)


# ---------------------------------------------------------------------------- published implementations
def google_simclr_loss(z_a, z_b, temperature):
    """google-research/simclr, tf2/objective.py, add_contrastive_loss (hidden_norm=True, one replica), ported:
    logits_aa and logits_bb with LARGE_NUM on the diagonal, two softmax cross-entropies, loss_a + loss_b averaged
    over the batch: the two directions ADDED, twice the mean over the 2N rows."""
    large_num = 1e9
    hidden1, hidden2 = F.normalize(z_a, dim=-1), F.normalize(z_b, dim=-1)
    batch_size = hidden1.shape[0]
    labels = F.one_hot(torch.arange(batch_size), batch_size * 2).to(z_a.dtype)
    masks = F.one_hot(torch.arange(batch_size), batch_size).to(z_a.dtype)
    logits_aa = hidden1 @ hidden1.T / temperature - masks * large_num
    logits_bb = hidden2 @ hidden2.T / temperature - masks * large_num
    logits_ab = hidden1 @ hidden2.T / temperature
    logits_ba = hidden2 @ hidden1.T / temperature
    loss_a = -(labels * torch.log_softmax(torch.cat([logits_ab, logits_aa], 1), dim=1)).sum(1)
    loss_b = -(labels * torch.log_softmax(torch.cat([logits_ba, logits_bb], 1), dim=1)).sum(1)
    return (loss_a + loss_b).mean()


def facenet_triplet(anchor, positive, negative, margin):
    """davidsandberg/facenet, facenet.py, triplet_loss: squared distances, a hinge, the mean."""
    pos_dist = (anchor - positive).pow(2).sum(1)
    neg_dist = (anchor - negative).pow(2).sum(1)
    return torch.clamp(pos_dist - neg_dist + margin, min=0.0).mean()


def test_published_contrastive_losses_get_the_verdict_the_statements_imply():
    """The statements pin NT-Xent's mean over the 2N rows and Euclidean triplet distances, and the messages name
    the published variants: Google's SimCLR sums the two directions (twice the loss; halved, it passes), FaceNet
    squares its distances."""
    from ssl_helpers.exercises import triplet_exercise
    line = nt_xent_exercise.check(google_simclr_loss)
    assert "not yet" in line and "Google's SimCLR code" in line, line
    assert nt_xent_exercise.check(lambda a, b, t: google_simclr_loss(a, b, t) / 2) == "NT-Xent: correct."
    line = triplet_exercise.check(facenet_triplet)
    assert "not yet" in line and "FaceNet" in line and "Euclidean" in line, line


# ---------------------------------------------------------------------------- predicting the temperature
def test_temperature_predictions_accept_rounded_numbers_and_name_each_misconception():
    from ssl_helpers.exercises.contrastive import temperature_exercise
    rounded = {"loss at T = 100": 4.14, "effective candidates at T = 100": 63, "effective candidates at T = 0.01": 1,
               "larger gradient: T = 0.05 or T = 10": 0.05}
    small = {"loss at T = 100": 1.95, "effective candidates at T = 100": 7, "effective candidates at T = 0.01": 1.2,
             "larger gradient: T = 0.05 or T = 10": 0.05}
    assert temperature_exercise.check(lambda n: rounded if n == 32 else small) == "temperature: correct."
    for mistake in temperature_exercise.mistakes:
        line = temperature_exercise.check(mistake.fn)
        assert "not yet" in line and mistake.message in line, line
    line = temperature_exercise.check(lambda n: {**rounded, "effective candidates at T = 0.01": 20})
    assert "not yet" in line and "how many candidates share the softmax" in line, line
    assert "lacks" in temperature_exercise.check(lambda n: {"loss at T = 100": 4.14})
