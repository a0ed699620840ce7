"""scripts/set_repository.py: one command points the badges, the Colab cells and the setting at a fork."""
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

from scripts_loader import load_script
from test_notebook_hygiene import run_colab_cell

ROOT = Path(__file__).resolve().parent.parent
set_repository = load_script("scripts/set_repository.py")


@pytest.fixture
def copy_of_the_course(tmp_path):
    """README, notebooks (sources and executed) and the setting, copied: the real files are never touched."""
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns("checkpoints", ".ipynb_checkpoints", "__pycache__"))
    (tmp_path / "ssl_helpers").mkdir()
    shutil.copy(ROOT / "ssl_helpers" / "__init__.py", tmp_path / "ssl_helpers" / "__init__.py")
    return tmp_path


def snapshot(root: Path) -> dict:
    return {path: path.read_text(encoding="utf-8") for path in set_repository.files_to_rewrite(root)}


def test_fork_rewrites_badges_colab_cells_and_the_setting(copy_of_the_course):
    root = copy_of_the_course
    old = set_repository.current_repository(root)
    before = snapshot(root)
    changes = set_repository.set_repository("my-user/ssl-course", root)
    assert set_repository.current_repository(root) == "my-user/ssl-course"
    assert "README.md" in changes
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for nb in (nbformat.read(path, as_version=4), jupytext.read(path.with_suffix(".py"))):
            url = f"https://colab.research.google.com/github/my-user/ssl-course/blob/main/notebooks/{path.name}"
            assert url in nb.cells[0].source, path.name
            setup = next(cell for cell in nb.cells if cell.cell_type == "code")
            installs = [line for _, line in run_colab_cell(setup.source, on_colab=True)]
            course = [line for line in installs if "ssl_helpers" in line]  # the other one installs Lightning
            assert course and all("github.com/my-user/ssl-course" in line for line in course), installs
    for path, text in snapshot(root).items():
        assert f"/{old}" not in text, f"{path} still points at {old}"
    # only the repository changed: going back restores every file exactly
    set_repository.set_repository(old, root)
    assert snapshot(root) == before


def test_dry_run_changes_nothing_and_a_bad_name_is_refused(copy_of_the_course, capsys):
    root = copy_of_the_course
    before = snapshot(root)
    assert set_repository.main(["someone/fork", "--dry-run", "--root", str(root)]) == 0
    assert "would change" in capsys.readouterr().out and snapshot(root) == before
    with pytest.raises(ValueError, match="OWNER/NAME"):
        set_repository.set_repository("not a repository", root)


def test_rewrite_touches_urls_only():
    text = 'see github.com/a/b and ("x/a/b") and a/b alone and github.com/a/bc'
    assert set_repository.rewrite(text, "a/b", "c/d") == (
        'see github.com/c/d and ("x/c/d") and a/b alone and github.com/a/bc', 2)
