"""A notebook's other pre-training runs: execute it again with `SSL_RUN=1, 2, ...` and ship the scores.

A notebook trains run 0 of its rows live. This script executes it (not saved) once per other run, with every
pre-training seed offset (`ssl_helpers.seeds.run_seed`) and the same label draws; each table the notebook passes
to `ssl_helpers.seeds.with_shipped_runs(table, notebook, key)` is written to `build/notebook_runs/<notebook>/run<r>/`,
and all of them are collected into `ssl_helpers/tuning/runs_<notebook>_test.csv` (columns table, method, probe,
labels_per_class, run, seed, accuracy), which the live notebook joins to its own run.

    .venv/bin/python scripts/notebook_runs.py 07_beyond_negatives            # runs 1 and 2 (resumable)
    .venv/bin/python scripts/notebook_runs.py 02_masked_autoencoding --runs 0 1 2   # run 0 too: the rows the live
                                                        # notebook reads instead of computing (`seeds.scripted`)

Every run executes the whole notebook, so it costs the notebook's run time (about a minute or two on one thread).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from execute_notebooks import execute, source_path  # noqa: E402
from ssl_helpers.protocol import save_results  # noqa: E402
from ssl_helpers.seeds import notebook_runs_name  # noqa: E402

RUNS_DIR = ROOT / "build" / "notebook_runs"


def run_notebook(path: Path, run: int, threads: int, timeout: int = 3600) -> Path:
    """Execute the notebook as run `run` (skipped when that run finished before); returns its tables' folder."""
    folder = RUNS_DIR / path.stem / f"run{run}"
    if (folder / "DONE").is_file():
        print(f"{path.stem} run {run}: done before ({folder})")
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ.update(SSL_RUN=str(run), SSL_RUNS_DIR=str(folder), SSL_THREADS=str(threads), SSL_PROGRESS="0")
    measured = execute(path, timeout=timeout, save=False)
    if measured.error:
        raise SystemExit(f"{path.stem} run {run} failed: {measured.error}")
    tables = sorted(folder.glob("*.csv"))
    if not tables:
        raise SystemExit(f"{path.stem} run {run} wrote no table: does it call ssl_helpers.seeds.with_shipped_runs?")
    (folder / "DONE").write_text(f"{measured.seconds:.0f} s\n")
    print(f"{path.stem} run {run}: {measured.seconds:.0f} s, tables {[t.stem for t in tables]}", flush=True)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", help="e.g. 07_beyond_negatives")
    parser.add_argument("--runs", type=int, nargs="*", default=[1, 2],
                        help="runs to execute (default 1 2; 0 as well where the notebook reads shipped rows of its "
                             "own live run, `seeds.shipped_runs`)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of the kernel (default 1)")
    parser.add_argument("--timeout", type=int, default=3600,
                        help="seconds allowed per cell (default 3600: a scripted run computes what the live "
                             "notebook reads, e.g. 02's fine-tuning, about 15 minutes on one thread)")
    args = parser.parse_args(argv)
    if any(run < 0 for run in args.runs):
        parser.error(f"--runs must be 0 or more, got {args.runs}")
    path = source_path(args.notebook)
    if not path.is_file():
        parser.error(f"no such notebook: {path}")
    started = time.perf_counter()
    frames = []
    for run in args.runs:
        folder = run_notebook(path, run, args.threads, args.timeout)
        frames += [pd.read_csv(t).assign(table=t.stem) for t in sorted(folder.glob("*.csv"))]
    table = pd.concat(frames, ignore_index=True)
    columns = ["table", "method", "probe", "labels_per_class", "run", "seed", "accuracy"]
    print(f"wrote {save_results(table[columns], notebook_runs_name(path.stem))} "
          f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
