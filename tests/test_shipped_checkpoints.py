"""The course's CPU-tier checkpoints ship with the package: each loads, reproduces the kNN accuracy recorded when it
was shipped, and is what `load_or_pretrain` falls back to when the student's own checkpoint is missing."""
import shutil
import subprocess

import pytest
import torch

from ssl_helpers.methods import load_method, load_or_pretrain, method_names
from ssl_helpers.methods.training import SHIPPED_DIR, shipped_path, shipped_score

SHIPPED = [name for name in method_names() if shipped_path(name).is_file()]


def test_the_course_ships_a_checkpoint_for_most_methods():
    assert len(SHIPPED) >= 10, f"only {SHIPPED} in {SHIPPED_DIR}; run scripts/ship_checkpoints.py"
    assert sum(shipped_path(n).stat().st_size for n in SHIPPED) < 20 * 2 ** 20  # a few MB in the wheel


def test_the_shipped_checkpoints_are_committed_not_ignored():
    """A clean clone has only what git tracks: an ignored checkpoint passes here and is missing in CI."""
    root = SHIPPED_DIR.parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", *[str(shipped_path(n)) for n in SHIPPED]],
                             cwd=root, capture_output=True, text=True).stdout.split()
    assert not ignored, f"git ignores {ignored}: un-ignore ssl_helpers/checkpoints/ in .gitignore"


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_checkpoint_loads_and_reproduces_its_recorded_accuracy(name):
    torch.set_num_threads(1)
    method, encoder, info = load_method(name, shipped_path(name))
    recorded = info["metrics"]["shipped_knn"]
    assert recorded > 0.2  # far above chance (0.1): a trained encoder
    assert shipped_score(method, encoder) == pytest.approx(recorded, abs=2e-3)


def test_load_or_pretrain_uses_the_shipped_checkpoint_when_the_student_has_none(tmp_path, capsys):
    name = SHIPPED[0]
    method, encoder, info = load_or_pretrain(name, path=tmp_path / f"{name}.pt")
    assert info["shipped"] and not info["quick"]
    assert "shipped with ssl_helpers" in capsys.readouterr().out
    method, encoder, info = load_or_pretrain(name, path=tmp_path / f"{name}.pt", shipped=False, epochs=1,
                                             progress=False)
    assert info["quick"] and not info["shipped"]
