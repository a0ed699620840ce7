"""The course's CPU-tier checkpoints ship with the package: each loads, reproduces the kNN accuracy recorded when it
was shipped, and is what `load_or_pretrain` falls back to when the student's own checkpoint is missing."""
import shutil
import subprocess

import pytest
import torch

from ssl_helpers.methods import load_method, load_or_pretrain, method_names
from ssl_helpers.methods.training import (EQUAL_BUDGET_DIR, RECIPE_KEYS, SHIPPED_DIR, load_or_pretrain_like,
                                          pretrain_like, recipe_used, shipped_path, shipped_score)

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


EQUAL = [name for name in method_names() if (EQUAL_BUDGET_DIR / f"{name}.pt").is_file()]


def test_every_method_ships_at_the_one_budget_of_the_main_leaderboard():
    assert EQUAL == SHIPPED, f"equal-budget checkpoints {EQUAL} != shipped {SHIPPED}: run scripts/equal_budget.py"
    epochs = {load_method(name, EQUAL_BUDGET_DIR / f"{name}.pt")[2]["extra"]["epochs"] for name in EQUAL}
    assert epochs == {20}


@pytest.mark.parametrize("name", EQUAL)
def test_each_equal_budget_checkpoint_keeps_its_notebooks_recipe_and_reproduces_its_accuracy(name):
    """Only the length of training differs from the notebook's checkpoint: same architecture, options, schedule."""
    torch.set_num_threads(1)
    method, encoder, info = load_method(name, EQUAL_BUDGET_DIR / f"{name}.pt")
    notebook_method, notebook_encoder, notebook_info = load_method(name, shipped_path(name))
    assert encoder.config == notebook_encoder.config
    assert method.options == notebook_method.options
    assert {k: info["extra"][k] for k in RECIPE_KEYS} == recipe_used(name, notebook_info)
    assert info["extra"]["image_size"] == notebook_info["extra"]["image_size"]
    assert shipped_score(method, encoder) == pytest.approx(info["metrics"]["shipped_knn"], abs=2e-3)


def test_load_or_pretrain_like_trains_once_then_loads_and_retrains_at_another_budget(tmp_path, capsys):
    torch.set_num_threads(1)
    _, _, recipe = load_method("rotation", shipped_path("rotation"))
    method, encoder, info = load_or_pretrain_like("rotation", recipe, tmp_path, 1, progress=False)
    assert info["extra"]["epochs"] == 1 and info["extra"]["train_seconds"] > 0
    assert "pre-training rotation for 1 epochs" in capsys.readouterr().out
    again, encoder_again, _ = load_or_pretrain_like("rotation", recipe, tmp_path, 1, progress=False)
    assert capsys.readouterr().out == ""  # loaded, not trained
    assert all(torch.equal(a, b) for a, b in zip(encoder.state_dict().values(), encoder_again.state_dict().values()))
    _, _, longer = load_or_pretrain_like("rotation", recipe, tmp_path, 2, progress=False)
    assert longer["extra"]["epochs"] == 2 and "holds 1 epochs, not 2" in capsys.readouterr().out


def test_pretrain_like_rejects_a_budget_that_is_not_a_positive_integer():
    _, _, recipe = load_method("rotation", shipped_path("rotation"))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="epochs must be a positive integer"):
            pretrain_like("rotation", recipe, torch.zeros(4, 3, 16, 16), bad)
