"""The README's tables are generated from the executed notebooks (scripts/readme_tables.py), never typed in; its code
fences are closed; it says which test command to run when, and `course.py test --quick` does what it says."""
import re
from pathlib import Path

import pytest
from scripts_loader import load_script

ROOT = Path(__file__).resolve().parent.parent


def load_tables():
    return load_script("scripts/readme_tables.py")


def test_the_readme_tables_agree_with_the_executed_notebooks():
    tables = load_tables()
    current = (ROOT / "README.md").read_text()
    assert tables.generated_readme(current) == current, (
        "README.md's generated tables differ from the notebooks: run .venv/bin/python scripts/readme_tables.py")


def test_every_notebook_has_its_budget_measured_within_limits():
    tables = load_tables()
    budgets = tables.budgets_table()
    assert "not measured" not in budgets, budgets
    assert "**no**" not in budgets, f"a notebook or the course is over budget:\n{budgets}"


def test_a_hand_edited_number_is_caught():
    tables = load_tables()
    current = (ROOT / "README.md").read_text()
    results = tables.results_table()
    first_number = next(cell for cell in results.splitlines()[2].split("|") if cell.strip()[:1].isdigit())
    edited = current.replace(results, results.replace(first_number, " 100.0 ", 1))
    assert edited != current and tables.generated_readme(edited) == current


def test_missing_markers_are_reported():
    with pytest.raises(ValueError, match="no `<!-- BEGIN results -->`"):
        load_tables().replace_between_markers("no markers here", "results", "| a |")


def headings_inside_fences(text: str) -> list:
    """(line number, line) of every Markdown heading (a line starting with '#') inside a fenced code block.

    A fence opens with three or more backticks or tildes (indented at most 3 spaces, any info string after it)
    and closes with a line of at least as many of the same character and nothing else (CommonMark); a fence
    never closed runs to the end of the text, which is how a missing closing fence swallows the sections after it.
    """
    found, fence = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if fence is None:
            opening = re.match(r"(`{3,}|~{3,})(.*)$", stripped)
            if indent <= 3 and opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
                fence = opening.group(1)
        elif indent <= 3 and re.fullmatch(re.escape(fence[0]) + f"{{{len(fence)},}}\\s*", stripped):
            fence = None
        elif line.startswith("#"):
            found.append((number, line))
    return found


def test_no_heading_of_the_readme_is_inside_a_code_block():
    inside = headings_inside_fences((ROOT / "README.md").read_text())
    assert not inside, f"README.md: a code fence is not closed before these headings (line, text): {inside}"


def test_the_fence_check_catches_an_unclosed_fence():
    assert headings_inside_fences("```bash\nls\n```\n\n## Next\n") == []
    assert headings_inside_fences("```bash\nls\n## Next\n") == [(3, "## Next")]
    assert headings_inside_fences("````md\n```\n# not closed by a shorter fence\n````\n# out\n") == [
        (3, "# not closed by a shorter fence")]
    assert headings_inside_fences("~~~\n```\n# a tilde fence is closed by tildes only\n~~~\n") == [
        (3, "# a tilde fence is closed by tildes only")]
    assert headings_inside_fences("```python\n# a comment in code is fine only when the fence closes\n```\n") == [
        (2, "# a comment in code is fine only when the fence closes")]


def test_the_readme_says_which_test_command_to_run_when():
    text = (ROOT / "README.md").read_text()
    assert "python3 course.py test --quick" in text and "python3 course.py test " in text
    assert "before you push" in text


def test_course_py_test_quick_runs_only_the_fast_tier_and_passes_arguments_on(monkeypatch):
    course = load_script("course.py")
    calls = []
    monkeypatch.setattr(course, "set_up", lambda extra: None)
    monkeypatch.setattr(course, "install_browser_for_ci", lambda: calls.append("browser"))
    monkeypatch.setattr(course.subprocess, "call", lambda command, cwd: calls.append(command[1:]) or 0)
    assert course.main(["test", "--quick", "-x", "-q"]) == 0
    assert calls.pop() == ["-m", "pytest", "tests", "-m", "not notebook and not browser and not slow", "-x", "-q"]
    assert course.main(["test", "--quick", "tests/test_losses.py", "-x"]) == 0  # named files replace tests/
    assert calls.pop() == ["-m", "pytest", "-m", "not notebook and not browser and not slow",
                           "tests/test_losses.py", "-x"]
    assert course.main(["test", "-x"]) == 0  # the full suite, as CI runs it
    assert calls == ["browser", ["-m", "pytest", "-x"]]


def test_a_budget_is_held_at_the_reference_machines_speed():
    tables = load_tables()
    reference = tables.REFERENCE_CALIBRATION_MS
    assert tables.reference_seconds(200.0, 2 * reference) == 100.0  # a machine twice as slow: half the time counts
    assert tables.reference_seconds(60.0, reference / 2) == 120.0   # twice as fast: twice the time counts
    assert tables.reference_seconds(90.0, None) == 90.0             # no calibration recorded: the time stands
    assert tables.reference_seconds(90.0, float("nan")) == 90.0
