"""Progress bars: a student waiting on a training call sees one; the committed notebooks hold none.

1. The course's `lightning.Trainer` (`make_trainer`: `fit`, `pretrain`, every method) draws one tqdm.auto bar over
   the epochs (`EpochBar`) by default; `progress=False` or `SSL_PROGRESS=0` turns it off.
2. In a Jupyter kernel the bar is one widget output for the whole training call (not a line per update).
3. `scripts/execute_notebooks.py` runs its kernels with `SSL_PROGRESS=0`, so saved outputs have no stale bars,
   and nbval (`--nbval-lax`, as in the test suite) runs a notebook with a live bar without complaint.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from ssl_helpers.train import EpochBar, make_trainer

ROOT = Path(__file__).resolve().parent.parent
TRAINING_CELL = """import torch
torch.set_num_threads(1)
from ssl_helpers.methods import pretrain
encoder, history = pretrain("rotation", torch.rand(64, 3, 8, 8), epochs=4, batch_size=32, width=4)
print("epochs:", len(history))"""


def epoch_bars(**options):
    trainer = make_trainer(epochs=2, device=torch.device("cpu"), **options)
    return [c for c in trainer.callbacks if isinstance(c, EpochBar)], trainer


def test_the_bar_is_on_by_default_and_off_with_ssl_progress_0(monkeypatch):
    monkeypatch.delenv("SSL_PROGRESS", raising=False)
    bars, trainer = epoch_bars(desc="rotation")
    assert len(bars) == 1 and bars[0].desc == "rotation" and trainer.progress_bar_callback is bars[0]
    assert epoch_bars(progress=False)[0] == []
    monkeypatch.setenv("SSL_PROGRESS", "0")
    bars, trainer = epoch_bars()
    assert bars == [] and trainer.progress_bar_callback is None


def test_a_training_call_draws_one_bar_over_the_epochs(monkeypatch, capsys):
    from ssl_helpers.methods import pretrain

    monkeypatch.delenv("SSL_PROGRESS", raising=False)
    pretrain("rotation", torch.rand(16, 3, 8, 8), epochs=3, batch_size=8, width=4, device="cpu")
    err = capsys.readouterr().err
    assert "rotation" in err and "3/3" in err and "epoch" in err
    assert "1/2" not in err  # no per-batch bar: 2 batches an epoch
    monkeypatch.setenv("SSL_PROGRESS", "0")
    pretrain("rotation", torch.rand(16, 3, 8, 8), epochs=3, batch_size=8, width=4, device="cpu")
    assert "3/3" not in capsys.readouterr().err


def test_a_training_call_shows_the_bar_and_no_lightning_banner(monkeypatch, capsys, caplog):
    """Lightning's start-up lines ("GPU available", tips, "`Trainer.fit` stopped") stay quiet during the call
    (`quiet_lightning`), although its loggers are left at INFO around it."""
    import logging

    from ssl_helpers.methods import pretrain

    monkeypatch.delenv("SSL_PROGRESS", raising=False)
    caplog.set_level(logging.INFO, logger="lightning.pytorch")
    caplog.set_level(logging.INFO, logger="lightning.fabric")
    pretrain("rotation", torch.rand(16, 3, 8, 8), epochs=2, batch_size=8, width=4, device="cpu")
    captured = capsys.readouterr()
    assert captured.out == "" and "2/2" in captured.err
    for banner in ("GPU available", "TPU available", "Trainer.fit", "Tip", "LOCAL_RANK"):
        assert banner not in captured.err
    assert [record.getMessage() for record in caplog.records if record.name.startswith("lightning")] == []
    assert logging.getLogger("lightning.pytorch").level == logging.INFO  # put back after the call


def notebook():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(TRAINING_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def run_notebook(path: Path):
    from nbclient import NotebookClient

    nb = notebook()
    NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    nbformat.write(nb, path)
    return nb.cells[0].outputs


@pytest.mark.notebook  # starts a kernel
def test_in_a_kernel_the_bar_is_one_widget_and_the_script_saves_none(tmp_path, monkeypatch):
    monkeypatch.delenv("SSL_PROGRESS", raising=False)
    outputs = run_notebook(tmp_path / "live.ipynb")
    bars = [o for o in outputs if o.output_type == "display_data"]
    assert len(bars) == 1 and "application/vnd.jupyter.widget-view+json" in bars[0].data
    assert "epoch" in bars[0].data["text/plain"]
    assert [o.text for o in outputs if o.output_type == "stream"] == ["epochs: 4\n"]  # no text bar, no flood

    script = (ROOT / "scripts" / "execute_notebooks.py").read_text()
    assert 'os.environ.setdefault("SSL_PROGRESS", "0")' in script
    monkeypatch.setenv("SSL_PROGRESS", "0")
    saved = run_notebook(tmp_path / "saved.ipynb")
    assert [o.output_type for o in saved] == ["stream"]


@pytest.mark.notebook  # runs nbval in a fresh pytest
@pytest.mark.filterwarnings("ignore")
def test_nbval_lax_runs_a_notebook_with_a_live_bar(tmp_path, monkeypatch):
    monkeypatch.delenv("SSL_PROGRESS", raising=False)
    nbformat.write(notebook(), tmp_path / "live.ipynb")  # nbval executes it
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "-o", "addopts=", str(tmp_path / "live.ipynb")], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 passed" in done.stdout
