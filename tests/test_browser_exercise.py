"""A student does notebook 05's NT-Xent exercise in a real browser (issue 12): typed, checked, read on the page.

The kernel-side tests (test_exercises.py) call the check with wrong implementations; this one goes through what a
student touches. It copies the exercise's stub and check cells out of `notebooks/05_contrastive_losses.py` (the
statement, the stub with its `raise NotImplementedError`, the check call) into a small notebook, opens it in
JupyterLab in headless Chromium, runs it ("not attempted yet"), then TYPES into the stub cell with the keyboard:
first NT-Xent with the diagonal left in the softmax, Shift+Enter twice, and reads the check's message naming the
diagonal on the page; then the right one, and reads "correct".

Without Chromium or Playwright it is skipped with the reason; in CI (`CI=true`) it fails.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_harness import browser_or_skip, chromium_page, jupyter_lab, open_notebook, run_all_cells, save_screenshot

pytestmark = pytest.mark.browser  # tiers: `python3 course.py test --quick` leaves it out

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "05_contrastive_losses.py"
NOTEBOOK = "nt_xent_exercise.ipynb"
STUB_TAG = "EXERCISE nt_xent"
TIMEOUT_MS = 120_000
ANSWER_TIMEOUT_MS = 60_000

# What the student types: each line as typed, without its indentation (the editor indents after the `def`, as it
# does for anyone typing). The wrong one keeps the diagonal s_ii in the softmax.
IMPORTS = ["from ssl_helpers.exercises import nt_xent_exercise as ex", "import torch",
           "import torch.nn.functional as F"]
BODY = ["def my_nt_xent(z_a, z_b, temperature):",
        "n = len(z_a)",
        "z = F.normalize(torch.cat([z_a, z_b]), dim=1)",
        "sim = z @ z.T / temperature"]
DIAGONAL = ['sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))']
RETURN = ["targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])",
          "return F.cross_entropy(sim, targets)"]
WRONG = IMPORTS + BODY + RETURN
RIGHT = IMPORTS + BODY + DIAGONAL + RETURN


def exercise_cells(source: str) -> list:
    """The NT-Xent exercise's cells of notebook 05 (jupytext percent format): its statement (markdown), the stub
    cell (tagged `EXERCISE nt_xent`) and the check cell after it, as (cell_type, source) pairs."""
    cells = re.split(r"^# %%", source, flags=re.M)[1:]
    stub = next((i for i, cell in enumerate(cells) if STUB_TAG in cell), None)
    if stub is None:
        raise ValueError(f"no cell tagged {STUB_TAG!r} in {SOURCE.name}")
    statement, check = cells[stub - 1], cells[stub + 1]
    assert statement.startswith(" [markdown]") and "ex.check(my_nt_xent)" in check, (statement[:80], check[:80])
    markdown = "\n".join(line[2:] for line in statement.split("\n", 1)[1].strip().splitlines())
    return [("markdown", markdown), ("code", cells[stub].split("\n", 1)[1].strip()),
            ("code", check.split("\n", 1)[1].strip())]


def write_notebook(folder: Path) -> Path:
    import nbformat

    cells = [nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
             for kind, text in exercise_cells(SOURCE.read_text())]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}})
    path = folder / NOTEBOOK
    nbformat.write(notebook, path)
    return path


def expected_source(lines: list) -> str:
    """The cell's text after typing `lines`: the body of the `def` indented by the editor (4 spaces)."""
    start = lines.index(BODY[0])
    return "\n".join(lines[:start + 1] + ["    " + line for line in lines[start + 1:]])


def test_the_exercise_cells_come_from_notebook_05():
    (kind, statement), (_, stub), (_, check) = exercise_cells(SOURCE.read_text())
    assert kind == "markdown" and "NT-Xent" in statement
    assert "def my_nt_xent(z_a, z_b, temperature):" in stub and "raise NotImplementedError" in stub
    assert check.startswith("ex.check(my_nt_xent)")


def test_the_typed_answers_are_the_mistake_and_the_solution():
    """What the browser test types is judged, kernel-side, as the diagonal mistake and as correct."""
    from ssl_helpers.exercises import nt_xent_exercise

    verdicts = []
    for lines in (WRONG, RIGHT):
        namespace = {}
        exec(expected_source(lines), namespace)  # noqa: S102 - the test's own fixed source
        verdicts.append(nt_xent_exercise.verdict(namespace["my_nt_xent"]))
    assert "diagonal" in verdicts[0] and "not yet" in verdicts[0]
    assert verdicts[1] == "NT-Xent: correct."


ACTIVE_SOURCE = "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.getSource()"


def output_of(page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea").inner_text()


def type_into_stub_and_check(page, lines: list, expect: str, tmp_path, name: str) -> str:
    """Click into the stub cell's editor, select all, type `lines` (Enter between them), Shift+Enter twice (the
    stub, then the check), and wait until the check cell's output contains `expect`; returns that output."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    stub = page.locator(".jp-Notebook .jp-Cell").nth(1)
    stub.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    for number, line in enumerate(lines):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line, delay=5)
    typed = page.evaluate(ACTIVE_SOURCE)
    want = expected_source(lines)
    if typed.rstrip() != want:
        shots = save_screenshot(page, f"exercise-{name}-typed", tmp_path)
        pytest.fail(f"the stub cell does not hold what was typed:\n{typed}\n--- expected ---\n{want}\n{shots}")
    page.keyboard.press("Shift+Enter")  # run the stub; the check cell becomes the active one
    page.keyboard.press("Shift+Enter")  # run the check
    try:
        page.wait_for_function(
            "([expect]) => { const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');"
            " return cells.length > 2 && cells[2].querySelector('.jp-OutputArea').innerText.includes(expect); }",
            arg=[expect], timeout=ANSWER_TIMEOUT_MS)
    except PlaywrightTimeout:
        shots = save_screenshot(page, f"exercise-{name}", tmp_path)
        pytest.fail(f"the check cell did not say {expect!r}; it shows {output_of(page, 2)!r} (stub: "
                    f"{output_of(page, 1)!r}); screenshots: {shots}")
    return output_of(page, 2)


def test_a_student_types_nt_xent_and_reads_the_check_in_chromium(tmp_path):
    chromium = browser_or_skip()
    write_notebook(tmp_path)
    with jupyter_lab(tmp_path) as lab, chromium_page(chromium, (1024, 768)) as page:
        page.set_default_timeout(TIMEOUT_MS)
        open_notebook(page, lab, NOTEBOOK)
        run_all_cells(page)
        page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell')[2]"
                               ".querySelector('.jp-OutputArea').innerText.includes('not attempted yet')")

        wrong = type_into_stub_and_check(page, WRONG, "diagonal", tmp_path, "wrong")
        assert wrong.strip().startswith("NT-Xent: not yet. The diagonal s_ii is still in the softmax"), wrong
        right = type_into_stub_and_check(page, RIGHT, "correct", tmp_path, "right")
        assert right.strip() == "NT-Xent: correct.", right
        page_text = page.locator(".jp-Notebook").inner_text()
        assert "Traceback" not in page_text and "Error" not in output_of(page, 1)
