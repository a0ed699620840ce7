"""The course's settings: the environment variables it reads (`settings()`, one place), the FULL_RUN sizes of the
notebooks with a smoke-test switch that shrinks them, resumable runs, and the course's estimate of their time on
Colab's T4.

    if FULL_RUN:
        FULL = full_run_settings(epochs=35, batch_size=512, width=64)   # as given, or shrunk when SSL_SMOKE=1
    pretrain(method, images, epochs=FULL["epochs"], **run_options("simclr", FULL_RUN))

- `settings()`: every environment variable the package reads (`SSL_SMOKE`, `SSL_DATA`, `SSL_CHECKPOINTS`,
  `SSL_THREADS`, `SSL_PROGRESS`, `SSL_VERDICTS`, `SSL_RUN`, `SSL_RUNS_DIR`), read when called and returned as one
  frozen `Settings`; its docstring lists each with its meaning and default. The rest of the package asks it, not
  `os.environ` (bar the distributed-training variables that torchrun and Lightning set, listed there too).
- `SSL_SMOKE=1` (the environment variable `SMOKE_VARIABLE`) caps every size a FULL_RUN recipe names (epochs, steps,
  batch size, encoder width, warm-up epochs, seeds) at `SMOKE_LIMITS`, so that CI executes each notebook's FULL_RUN branch
  on the CPU in seconds. It changes sizes only, never which code runs.
- `run_options(name, enabled)`: the `fit` options of a FULL_RUN (a per-epoch checkpoint in
  `<checkpoint dir>/resume/<name>/`, so that running the cell again resumes; a timed warm-up that prints the
  estimated time on this GPU before training); `{}` when not enabled (the CPU tier is unchanged).
- `t4_minutes(...)`: the course's *estimate* (not a measurement) of a run's time on a T4, from the one GPU figure
  the course has: SimCLR, ResNet-18, 32 px, batch 512, bf16 on an H200, 29.2k images/s for the training step alone
  (the course design's reference figure, measured outside this repository), scaled by the ratio of the two GPUs' dense tensor throughput, about 65 TFLOPS (T4, float16) against
  about 990 TFLOPS (H200, bf16). Memory bandwidth gives a similar ratio (320 GB/s against 4.8 TB/s). The warm-up
  printed by `pretrain(..., estimate=True)` is the real figure on the user's GPU.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Optional

__all__ = ["Settings", "settings", "SMOKE_VARIABLE", "SMOKE_LIMITS", "smoke", "smoke_seeds",
           "full_run_settings", "run_options", "resume_path", "H200_SIMCLR_IMAGES_PER_SECOND", "T4_OVER_H200",
           "t4_images_per_second", "t4_minutes"]

SMOKE_VARIABLE = "SSL_SMOKE"
SMOKE_LIMITS = {"epochs": 2, "steps": 2, "batch_size": 32, "width": 8, "warmup_epochs": 1, "seeds": 2,
                "batches_per_epoch": 4}
"""The largest value each size takes under `SSL_SMOKE=1` (two epochs: notebooks show epoch 0, 1, 2 snapshots;
`seeds`: draws of each labeled subset). Besides the FULL_RUN recipes that `full_run_settings` caps, every
pre-training is capped too (`methods.pretrain`: at most `epochs` epochs of `batches_per_epoch` batches; 2 x 4 = 8
steps, enough for the time estimate's warm-up and timed steps), and the protocol draws at most `seeds` labelled
subsets (`smoke_seeds`): under the smoke test every line still runs, each training only a few steps. Fine-tuning and
training from scratch keep their step counts (the protocol reads the model at given steps); the protocol shortens
them itself under the smoke test."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the environment asks of the course, read once per `settings()` call (see there for each variable).

    smoke: FULL_RUN sizes capped at `smoke_limits` (`SSL_SMOKE`). smoke_limits: `SMOKE_LIMITS`, read-only.
    data_root: where real datasets are kept (`SSL_DATA`). checkpoint_dir: where notebooks save and find encoders
    (`SSL_CHECKPOINTS`). threads: the CPU threads `train.set_cpu_threads()` pins, None to leave PyTorch's count
    (`SSL_THREADS`). progress: whether training draws its epoch bar (`SSL_PROGRESS`). verdicts_dir: where notebooks
    write the record of their verdicts (`SSL_VERDICTS`), None for nowhere. run: which pre-training run a notebook
    trains (`SSL_RUN`, 0 = the live run); runs_dir: where a run other than 0 writes its score tables
    (`SSL_RUNS_DIR`).
    """

    smoke: bool
    smoke_limits: Mapping[str, int]
    data_root: Path
    checkpoint_dir: Path
    threads: Optional[int]
    progress: bool
    verdicts_dir: Optional[Path] = None
    run: int = 0
    runs_dir: Optional[Path] = None


def settings() -> Settings:
    """The course's settings from the environment, read now (set a variable, e.g. `%env SSL_CHECKPOINTS=...` in a
    notebook, and the next call sees it). The one place the package reads its environment variables:

    - `SSL_SMOKE`: any value but "", "0", "false" or "no" (case and spaces ignored) caps every FULL_RUN size
      (`full_run_settings`) at `SMOKE_LIMITS`, so that CI runs each notebook's FULL_RUN branch on the CPU in
      seconds. Default: unset, sizes as written.
    - `SSL_DATA`: the folder real datasets (CIFAR-10, STL-10, ...) are downloaded to and read from
      (`data.default_data_root`). Default: `~/.cache/ssl_helpers/data`.
    - `SSL_CHECKPOINTS`: the folder notebooks save encoders to and find them in, with the FULL_RUN resume folders
      under `resume/` (`train.default_checkpoint_dir`, `resume_path`); e.g. a Google Drive folder on Colab.
      Default: `checkpoints`, relative to the working directory (the notebook's folder).
    - `SSL_THREADS`: a positive number of CPU threads that `train.set_cpu_threads()` (as the notebooks call it)
      pins. Default: unset, PyTorch's own count is left as it is (see `set_cpu_threads` for the course's policy).
    - `SSL_PROGRESS`: "0" turns off the epoch progress bar of every training (`train.make_trainer`);
      `scripts/execute_notebooks.py` sets it for the kernels whose outputs are saved. Default: unset, bars on
      (any value but "0" leaves them on).
    - `SSL_VERDICTS`: a folder where each notebook's `verdicts.VerdictLog` writes `<notebook>.json`, the
      machine-readable record of the verdicts it printed (`scripts/rerun_check.py` sets it). Default: unset,
      nothing written.
    - `SSL_RUN`: a non-negative integer, the pre-training run a notebook trains: 0 (default) is the live run a
      student watches; `scripts/notebook_runs.py` executes a notebook with 1, 2, ... to write the other runs'
      scores (`seeds.run_seed` offsets every pre-training seed by 1000 x run).
    - `SSL_RUNS_DIR`: the folder where an execution with `SSL_RUN` > 0 writes its score tables
      (`seeds.with_shipped_runs`; set by `scripts/notebook_runs.py`). Default: unset.

    Read elsewhere, not here: the distributed-training variables that torchrun, SLURM and Lightning's DDP launcher
    set, `WORLD_SIZE`, `RANK`, `LOCAL_RANK`, `NODE_RANK`, `LOCAL_WORLD_SIZE` (read by `ssl_helpers.cli` and
    `train.process_rank`, and by Lightning itself, as are `MASTER_ADDR`, `MASTER_PORT`). Outside the package:
    `SSL_EXPLORER_CHECKPOINTS` and `SSL_EXPLORER_STAND_INS` (read by tests/browser_explorers.ipynb's kernel, set by
    scripts/screenshots.py), `SSL_CHROMIUM` and `CI` (tests/browser_harness.py), `NT` (threads of
    scripts/tune_*.py).
    """
    environ = os.environ
    threads_text = environ.get("SSL_THREADS", "").strip()
    threads = None
    if threads_text:
        try:
            threads = int(threads_text)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ValueError(f"SSL_THREADS must be a positive integer (or unset), got {threads_text!r}")
    return Settings(
        smoke=environ.get(SMOKE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no"),
        smoke_limits=MappingProxyType(dict(SMOKE_LIMITS)),
        data_root=Path(environ.get("SSL_DATA", Path.home() / ".cache" / "ssl_helpers" / "data")),
        checkpoint_dir=Path(environ.get("SSL_CHECKPOINTS", "checkpoints")),
        threads=threads,
        progress=environ.get("SSL_PROGRESS", "1") != "0",
        verdicts_dir=Path(environ["SSL_VERDICTS"]) if environ.get("SSL_VERDICTS", "").strip() else None,
        run=_non_negative(environ.get("SSL_RUN", "0"), "SSL_RUN"),
        runs_dir=Path(environ["SSL_RUNS_DIR"]) if environ.get("SSL_RUNS_DIR", "").strip() else None,
    )


def _non_negative(text: str, variable: str) -> int:
    text = text.strip() or "0"
    if not text.isdigit():
        raise ValueError(f"{variable} must be a non-negative integer (or unset), got {text!r}")
    return int(text)


H200_SIMCLR_IMAGES_PER_SECOND = 29_200
"""SimCLR training step alone, ResNet-18 at 32 px, batch 512, bf16, one H200 (the course design's reference figure,
measured outside this repository on 2026-11-27; an image is one pair of views)."""
T4_OVER_H200 = 65 / 990
"""T4 float16 tensor throughput (about 65 TFLOPS) over H200 bf16 dense (about 990 TFLOPS): a ratio of spec sheets."""


def smoke() -> bool:
    """True when `SSL_SMOKE` is set to anything but "", "0", "false" or "no" (`settings().smoke`)."""
    return settings().smoke


def smoke_seeds(seeds: list) -> list:
    """The seeds of the labelled draws to score: `seeds`, or under `SSL_SMOKE=1` its first `SMOKE_LIMITS["seeds"]`
    (`protocol.draws`, `evaluate.label_efficiency`)."""
    current = settings()
    return list(seeds)[:current.smoke_limits["seeds"]] if current.smoke else list(seeds)


def full_run_settings(**sizes) -> dict:
    """The FULL_RUN sizes as given, or, under `SSL_SMOKE=1`, each one named in `SMOKE_LIMITS` capped at its limit
    (other settings pass through unchanged). Returns a new dict; prints nothing."""
    current = settings()
    limits = current.smoke_limits
    for key, value in sizes.items():
        if key in limits and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
    if not current.smoke:
        return dict(sizes)
    return {key: min(value, limits[key]) if key in limits else value for key, value in sizes.items()}


def resume_path(name: str) -> Path:
    """Where the FULL_RUN of `name` keeps its per-epoch training state: the folder `<checkpoint dir>/resume/<name>`
    (Lightning's `last.ckpt` and the run's CSV history)."""
    if not name or "/" in name or "\\" in name:
        raise ValueError(f"name must be a plain file stem such as 'simclr', got {name!r}")
    return settings().checkpoint_dir / "resume" / name  # the folder of train.default_checkpoint_dir()


def run_options(name: str, enabled: bool = True) -> dict:
    """`fit` options for a FULL_RUN: `checkpoint=resume_path(name)` (saved every epoch; run the cell again after a
    disconnect and training resumes after the last saved epoch) and `estimate=True` (a timed warm-up prints the
    estimated time on this device before training). `{}` when `enabled` is false."""
    if not enabled:
        return {}
    return {"checkpoint": resume_path(name), "estimate": True}


def t4_images_per_second(relative_cost: float = 1.0) -> float:
    """Estimated training images per second on a T4 for a step that costs `relative_cost` times a SimCLR step on a
    ResNet-18 at 32 px (two views through the network: a one-view pretext task is about 0.5)."""
    if relative_cost <= 0:
        raise ValueError(f"relative_cost must be positive, got {relative_cost}")
    return H200_SIMCLR_IMAGES_PER_SECOND * T4_OVER_H200 / relative_cost


def t4_minutes(epochs: int, images: int = 50_000, relative_cost: float = 1.0) -> float:
    """Estimated minutes of `epochs` epochs over `images` images on a T4 (see `t4_images_per_second`):
    minutes = epochs * images / (29,200 * 65 / 990 / relative_cost) / 60. The training step only: evaluation and
    data loading come on top."""
    return epochs * images / t4_images_per_second(relative_cost) / 60
