"""Every course notebook, executed once in a fresh kernel as shipped, with each exercise also solved in place.

One execution per notebook covers both forms a notebook has (it replaces running the shipped notebook under nbval
and the solved one again, which cost two executions of every notebook):

- the committed (student) notebook runs top to bottom from a fresh kernel, its cells exactly as shipped: no cell
  may raise, and every exercise check says "not attempted yet", as the committed outputs do;
- right after each exercise's check cell two cells are inserted: the exercise's stub cell with the solution filled
  in (`scripts/exercise_versions.py`, the same text the instructor version has) and the check cell again, whose
  every verdict must be "correct."; the notebook then goes on with the solved function, as the solved notebook
  does;
- each cell marked `# NBVAL_CHECK_OUTPUT` must print what its committed output says (its stream text and plain-text
  results; figures are not compared), as nbval's `--nbval-lax` mode checked it.

The FULL_RUN branch of every notebook runs in tests/test_full_run_smoke.py.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from conftest import execute_notebook
from scripts_loader import load_script

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK_OUTPUT = "# NBVAL_CHECK_OUTPUT"
VERDICT = re.compile(r"^[\w -]+: (correct\.|not yet.*|not attempted yet.*)$", flags=re.MULTILINE)
WALL_TIMES: dict = {}


def is_stub(cell) -> bool:
    return cell.cell_type == "code" and "# EXERCISE " in cell.source


def with_solved_exercises(nb):
    """A copy of `nb` where, after the check cell that follows each exercise stub, the stub cell with its solution
    filled in and a copy of the check cell are inserted. Returns (notebook, [(shipped check, solved check)])."""
    versions = load_script("scripts/exercise_versions.py")
    nb = copy.deepcopy(nb)
    cells, pairs, pending = [], [], None
    for cell in nb.cells:
        cells.append(cell)
        if is_stub(cell):
            assert pending is None, f"two exercise stubs before a check cell: {pending.source[:80]!r}"
            pending = cell
        elif pending is not None and cell.cell_type == "code":
            assert ".check(" in cell.source, f"the cell after an exercise stub should check it: {cell.source[:80]!r}"
            solved = nbformat.v4.new_code_cell(versions.solved_source(pending.source).rstrip("\n"))
            check = nbformat.v4.new_code_cell(cell.source)
            cells += [solved, check]
            pairs.append((cell, check))
            pending = None
    assert pending is None, "an exercise stub without a check cell after it"
    nb.cells = cells
    return nb, pairs


def comparable(outputs) -> list:
    """What nbval's lax mode compares of a cell's outputs, as text: each stream's text (consecutive chunks
    joined) and the plain text of results; figures and widgets are left out."""
    compared = []
    for output in outputs:
        if output.get("output_type") == "stream":
            if compared and compared[-1][0] == output["name"]:
                compared[-1] = (output["name"], compared[-1][1] + output["text"])
            else:
                compared.append((output["name"], output["text"]))
        elif output.get("output_type") == "execute_result":
            compared.append(("result", output["data"].get("text/plain", "")))
    return compared


def verdicts(cell) -> list:
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    return VERDICT.findall(text)


def test_every_notebook_is_found():
    assert len(NOTEBOOKS) >= 9, NOTEBOOKS


def test_solved_cells_are_inserted_after_each_check():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("def my_knn_predict(a):\n    raise NotImplementedError  # EXERCISE knn_predict: x"),
        nbformat.v4.new_code_cell("knn_ex.check(my_knn_predict)"),
        nbformat.v4.new_code_cell("y = 2")])
    executed, pairs = with_solved_exercises(nb)
    sources = [cell.source for cell in executed.cells]
    assert len(sources) == 6 and sources[2] == sources[4] == "knn_ex.check(my_knn_predict)"
    assert "# EXERCISE" not in sources[3] and "def my_knn_predict(a):" in sources[3]
    assert sources[5] == "y = 2" and len(pairs) == 1
    with pytest.raises(AssertionError, match="should check it"):
        with_solved_exercises(nbformat.v4.new_notebook(cells=[nb.cells[1], nb.cells[3]]))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_as_shipped_and_solved(path):
    committed = nbformat.read(path, as_version=4)
    nb, pairs = with_solved_exercises(committed)
    WALL_TIMES[path.stem] = execute_notebook(nb, path.parent, f"{path.name} (shipped, each exercise then solved)")
    print(f"{path.stem}: {WALL_TIMES[path.stem]:.0f} s")

    for shipped, solved in pairs:
        assert verdicts(shipped) and all(v.startswith("not attempted yet") for v in verdicts(shipped)), (
            f"{path.name}: the shipped check {shipped.source.splitlines()[0]!r} printed {verdicts(shipped)}")
        assert verdicts(solved) and all(v == "correct." for v in verdicts(solved)), (
            f"{path.name}: with the solution, {solved.source.splitlines()[0]!r} printed {verdicts(solved)}")

    ran = iter(cell for cell in nb.cells)
    for cell in committed.cells:
        executed = next(c for c in ran if c.source == cell.source)  # the same cell, skipping the inserted ones
        if cell.cell_type == "code" and CHECK_OUTPUT in cell.source:
            assert comparable(executed.outputs) == comparable(cell.outputs), (
                f"{path.name}: a {CHECK_OUTPUT} cell printed something else than its committed output:\n"
                f"{cell.source[:200]}")
