"""Every notebook's FULL_RUN branch, executed: the GPU path that students on Colab run, checked on the CPU.

For each `notebooks/NN_*.py` (in course order, so that notebook 09 finds the encoders 02-08 saved), the settings
cell's `FULL_RUN = False` is switched to `True` in memory and the notebook runs top to bottom in a fresh kernel,
with `SSL_SMOKE=1` (`ssl_helpers.config`: the same code, with epochs, steps, batch size and encoder width capped),
on a small CIFAR-10 written here in torchvision's on-disk format (the pickled `cifar-10-batches-py` batches), and
with checkpoints going to a temporary folder (the committed notebooks and their checkpoints are not touched).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from conftest import execute_notebook
from test_real_datasets import write_fake_cifar10

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
PER_BATCH = 200  # 1,000 training images, at least 77 of each class with this seed: 50-shot probes fit after
# the protocol holds out 20% of train for validation; 200 test images
WALL_TIMES: dict = {}
CHECK_CELL = """# added by tests/test_full_run_smoke.py
import json as _json
from ssl_helpers.data import ImageSet as _ImageSet
print("SMOKE_CHECK", _json.dumps({"full_run": FULL_RUN, "datasets": sorted(
    {value.name for value in list(globals().values()) if isinstance(value, _ImageSet)})}))"""


def with_full_run(path: Path):
    """The notebook with its one `FULL_RUN = False` line set to True (the source file is not changed)."""
    nb = jupytext.read(path)
    switched = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            if line.split("#")[0].strip() == "FULL_RUN = False":
                lines[i] = line.replace("FULL_RUN = False", "FULL_RUN = True", 1)
                switched += 1
        cell.source = "\n".join(lines)
    assert switched == 1, f"{path.name}: expected one `FULL_RUN = False` line in the settings cell, found {switched}"
    return nb


@pytest.fixture(scope="module")
def smoke_environment(tmp_path_factory):
    """SSL_SMOKE=1, a fake CIFAR-10 as the data root, a temporary checkpoint folder; restored afterwards."""
    base = tmp_path_factory.mktemp("full_run_smoke")
    write_fake_cifar10(base / "data", per_batch=PER_BATCH)
    settings = {"SSL_SMOKE": "1", "SSL_DATA": str(base / "data"), "SSL_CHECKPOINTS": str(base / "checkpoints"),
                "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)  # the kernels inherit the environment
    (base / "work").mkdir()
    yield base
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if WALL_TIMES:
        print("\nFULL_RUN smoke wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in WALL_TIMES.items())
              + f"; total {sum(WALL_TIMES.values()):.0f}")


def test_every_notebook_has_a_full_run_switch():
    assert NOTEBOOK_SOURCES, "no notebooks/NN_*.py found"
    for path in NOTEBOOK_SOURCES:
        with_full_run(path)


@pytest.mark.parametrize("path", NOTEBOOK_SOURCES, ids=[p.stem for p in NOTEBOOK_SOURCES])
def test_full_run_branch_executes(path, smoke_environment):
    nb = with_full_run(path)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))
    WALL_TIMES[path.stem] = execute_notebook(nb, smoke_environment / "work",
                                             f"{path.name} with FULL_RUN = True (SSL_SMOKE=1)")
    check = json.loads(re.search(r"SMOKE_CHECK (.*)", text_of(nb.cells.pop())).group(1))
    assert check["full_run"] is True
    assert any(name.startswith("cifar10/") for name in check["datasets"]), (
        f"{path.name}: the FULL_RUN branch should work on CIFAR-10, its data sets are {check['datasets']}")
    if "run_options(" in jupytext.writes(nb, "py:percent"):  # pre-training notebooks: estimate, then resumable
        assert "time estimate on cpu" in "".join(text_of(cell) for cell in nb.cells if cell.cell_type == "code")
        resume = smoke_environment / "checkpoints" / "resume"  # config.resume_path: a folder per run, last.ckpt
        assert list(resume.glob("*.pt")) + list(resume.glob("*/last.ckpt")), "no per-epoch checkpoint saved"


def text_of(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


# ---- the settings behind it (ssl_helpers.config) ----

def test_full_run_settings_pass_through_unless_smoke(monkeypatch):
    from ssl_helpers.config import SMOKE_LIMITS, full_run_settings

    monkeypatch.delenv("SSL_SMOKE", raising=False)
    recipe = dict(epochs=35, batch_size=512, lr=2e-3, width=64, steps=2000, warmup_epochs=5)
    assert full_run_settings(**recipe) == recipe
    monkeypatch.setenv("SSL_SMOKE", "1")
    shrunk = full_run_settings(**recipe)
    assert shrunk == {**{k: SMOKE_LIMITS[k] for k in ("epochs", "batch_size", "width", "steps", "warmup_epochs")},
                      "lr": 2e-3}  # sizes capped, everything else (which code runs) unchanged
    assert full_run_settings(epochs=1)["epochs"] == 1  # a cap, never an increase
    monkeypatch.setenv("SSL_SMOKE", "0")
    assert full_run_settings(**recipe) == recipe
    with pytest.raises(ValueError, match="epochs must be a non-negative integer, got 2.5"):
        full_run_settings(epochs=2.5)


def test_settings_read_every_variable_of_the_package_when_called(monkeypatch, tmp_path):
    import dataclasses

    from ssl_helpers import config
    from ssl_helpers.data import default_data_root
    from ssl_helpers.train import default_checkpoint_dir

    for name in ("SSL_SMOKE", "SSL_DATA", "SSL_CHECKPOINTS", "SSL_THREADS", "SSL_PROGRESS"):
        monkeypatch.delenv(name, raising=False)
    defaults = config.settings()
    assert defaults == config.Settings(smoke=False, smoke_limits=config.SMOKE_LIMITS,
                                       data_root=Path.home() / ".cache" / "ssl_helpers" / "data",
                                       checkpoint_dir=Path("checkpoints"), threads=None, progress=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.smoke = True
    monkeypatch.setenv("SSL_SMOKE", " Yes ")
    monkeypatch.setenv("SSL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SSL_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("SSL_THREADS", "3")
    monkeypatch.setenv("SSL_PROGRESS", "0")
    assert config.settings() == dataclasses.replace(defaults, smoke=True, data_root=tmp_path / "data",
                                                    checkpoint_dir=tmp_path / "checkpoints", threads=3,
                                                    progress=False)
    assert config.smoke() and default_data_root() == tmp_path / "data"
    assert default_checkpoint_dir() == tmp_path / "checkpoints"
    for flag in ("", "0", "false", "NO"):
        monkeypatch.setenv("SSL_SMOKE", flag)
        assert not config.settings().smoke and not config.smoke()
    for bad in ("0", "two"):
        monkeypatch.setenv("SSL_THREADS", bad)
        with pytest.raises(ValueError, match=f"SSL_THREADS must be a positive integer \\(or unset\\), got '{bad}'"):
            config.settings()


def test_run_options_resume_under_the_checkpoint_folder(monkeypatch, tmp_path):
    from ssl_helpers.config import run_options

    monkeypatch.setenv("SSL_CHECKPOINTS", str(tmp_path))
    assert run_options("simclr", False) == {}
    assert run_options("simclr") == {"checkpoint": tmp_path / "resume" / "simclr", "estimate": True}
    with pytest.raises(ValueError, match="plain file stem"):
        run_options("../simclr")


def test_t4_estimate_follows_its_stated_formula():
    from ssl_helpers.config import t4_images_per_second, t4_minutes

    per_second = 29_200 * 65 / 990  # the H200 figure scaled by the T4/H200 tensor-throughput ratio
    assert t4_images_per_second() == pytest.approx(per_second)
    assert t4_minutes(35) == pytest.approx(35 * 50_000 / per_second / 60)  # notebook 06's default: ~15 min
    assert t4_minutes(60, relative_cost=0.5) == pytest.approx(60 * 50_000 / (2 * per_second) / 60)
    with pytest.raises(ValueError, match="relative_cost must be positive"):
        t4_images_per_second(0)


def test_gpu_check_script_runs_on_the_cpu(capsys):
    """scripts/gpu_check.py (the GPU measurements, ready for a GPU) on a tiny CPU setting: it runs, reports the
    precision it chose, and its resume check finds the resumed run equal to the uninterrupted one."""
    from scripts_loader import load_script

    gpu_check = load_script("scripts/gpu_check.py")
    result = gpu_check.main(["--device", "cpu", "--batch-size", "16", "--width", "4", "--steps", "2",
                             "--images", "128"])
    assert result["precision"] == "float32" and result["grad_scaler"] is False
    assert result["images_per_second"] > 0 and result["resume_max_loss_difference"] == 0.0
    assert '"course_t4_estimate_minutes"' in capsys.readouterr().out


def test_smoke_caps_every_pretraining_and_the_draws(monkeypatch, digits):
    """Under SSL_SMOKE=1 a pre-training runs at most SMOKE_LIMITS' epochs of its batches_per_epoch batches (the same
    code, a few steps) and the protocol draws its first SMOKE_LIMITS["seeds"] labelled subsets; unset, neither."""
    from ssl_helpers.config import SMOKE_LIMITS, smoke_seeds
    from ssl_helpers.methods import make_method, pretrain
    from ssl_helpers.protocol import draws

    train = digits[0]
    images = train.images[:320]
    monkeypatch.setenv("SSL_SMOKE", "1")
    method = make_method("rotation")
    _, history = pretrain(method, images, epochs=5, batch_size=16, progress=False)
    assert len(history) == SMOKE_LIMITS["epochs"]
    assert method.trainer.global_step == SMOKE_LIMITS["epochs"] * SMOKE_LIMITS["batches_per_epoch"]
    assert [seed for seed, _ in draws(train.labels, 1, 5)] == list(range(SMOKE_LIMITS["seeds"]))
    assert smoke_seeds([7, 8, 9]) == [7, 8, 9][:SMOKE_LIMITS["seeds"]]
    monkeypatch.setenv("SSL_SMOKE", "0")
    method = make_method("rotation")
    _, history = pretrain(method, images, epochs=3, batch_size=16, progress=False)
    assert len(history) == 3 and method.trainer.global_step == 3 * (320 // 16)
    assert len(draws(train.labels, 1, 5)) == 5
