"""The instructor (solved) and student versions of the notebooks that scripts/exercise_versions.py writes.

The solved notebooks are executed in tests/test_notebooks.py: each exercise is solved in place in the one
execution of the shipped notebook, and each check must then print "correct."."""
import re
from pathlib import Path

import pytest
from scripts_loader import load_script

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py") if "# EXERCISE " in p.read_text())


def _versions():
    return load_script("scripts/exercise_versions.py")


def test_solved_source_replaces_every_stub():
    for source in NOTEBOOKS:
        solved = _versions().solved_source(source.read_text())
        assert "# EXERCISE " not in solved and "BEGIN SOLUTION" not in solved


def test_one_command_writes_instructor_and_student_versions(tmp_path):
    """`exercise_versions.py --solved I --student S`: I has the solutions and no stubs, S has the stubs and no
    solution code, each as .py and .ipynb."""
    source = NOTEBOOKS[0]
    _versions().main(["--solved", str(tmp_path / "instructor"), "--student", str(tmp_path / "student"), str(source)])
    instructor = (tmp_path / "instructor" / source.name).read_text()
    student = (tmp_path / "student" / source.name).read_text()
    assert "# EXERCISE " not in instructor and "# EXERCISE " in student
    first_solution = _versions().solution_lines(re.search(r"# EXERCISE (\w+)", student)[1])
    assert all(line in instructor for line in first_solution if line.strip())
    assert not any(line.strip() and line in student for line in first_solution if len(line.strip()) > 20)
    for folder in ("instructor", "student"):
        assert (tmp_path / folder / source.with_suffix(".ipynb").name).is_file()
