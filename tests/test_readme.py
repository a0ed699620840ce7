"""The README's tables are generated from the executed notebooks (scripts/readme_tables.py), never typed in."""
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
