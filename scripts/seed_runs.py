"""Pre-training seeds: every method of the main leaderboard pre-trained again with other seeds, scored by the course's
protocol, and shipped as one score table, so that each compared row is several pre-training runs.

The shipped equal-budget checkpoints (`ssl_helpers/checkpoints/equal_budget/`, `scripts/equal_budget.py`) are run 0
(seed 0) of each method; this script trains runs 1, 2, ... with the same recipe and budget
(`ssl_helpers.methods.training.train_at_budget`, seed = the run number), keeps their weights in a local cache
(`build/seed_runs/`, not shipped: no notebook uses these encoders, only their scores), and scores every run,
run 0 included, with `ssl_helpers.protocol.run_protocol` on the same split and label draws as notebook 09. It
writes `ssl_helpers/tuning/seeds_equal_budget_test.csv` (method, probe, labels_per_class, run, seed, accuracy).

    nohup .venv/bin/python scripts/seed_runs.py train > seed_runs.log 2>&1 &   # resumable: skips what is cached
    .venv/bin/python scripts/seed_runs.py score                                  # the tables, from the cache
    # or on two cores: score --only <half> --part a & score --only <other half> --part b; then merge

The same for each notebook's own budget (`--budget own`: run 0 is the notebook's shipped checkpoint,
`ssl_helpers/checkpoints/<method>.pt`), scored as notebook 09 scores it: `seeds_own_budget_test.csv`.

The random encoder's rows get their runs the same way: initialisation seeds 0, 1, 2, ... (`random_encoder`).
`RUNS` runs for every method; `CALIBRATION` methods get `CALIBRATION_RUNS` (two groups of 3 seeds of one recipe:
`tests/test_verdicts.py` checks that the verdict rule calls them a tie).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ssl_helpers.methods import load_method, method_names, save_method  # noqa: E402
from ssl_helpers.methods.training import EQUAL_BUDGET_DIR, SHIPPED_DIR, train_at_budget  # noqa: E402
from ssl_helpers.protocol import TUNING_DIR  # noqa: E402
from ssl_helpers.seeds import score_runs  # noqa: E402

CACHE = ROOT / "build" / "seed_runs"
RUNS = 3
CALIBRATION = ("simclr", "vicreg", "byol")
CALIBRATION_RUNS = 6
BUDGETS = {
    # budget: (folder of run 0, seed of run r, the shipped table, how notebook 09 scores it)
    "equal": (EQUAL_BUDGET_DIR, lambda run: run, "seeds_equal_budget",
              dict(shots=(1, 5, 10), fine_tune_shots=(10,))),
    "colour": (EQUAL_BUDGET_DIR, lambda run: run, "seeds_equal_budget_colour",
               dict(shots=(1, 10), fine_tune_shots=(), data="colour_digits", data_options={"seed": 0})),
    "own": (SHIPPED_DIR, lambda run: 100 + run, "seeds_own_budget",
            dict(shots=(10,), fine_tune_shots=(), random_runs=())),
}
"""The equal budget (every method at 20 epochs; runs 1.. seeded 1..) and each notebook's own budget (run 0 is the
notebook's shipped checkpoint; runs 1.. seeded 101.., so that no run repeats an equal-budget run of a method whose
notebook trains it for the same 20 epochs). "colour": the equal-budget runs scored on the colour digits (notebook
09's second task; nothing to train)."""


def runs_of(name: str, budget: str) -> range:
    return range(CALIBRATION_RUNS if budget == "equal" and name in CALIBRATION else RUNS)


TRAINED_AS = {"colour": "equal"}
"""Budgets whose runs are another budget's runs (scored on other data)."""


def cached(name: str, run: int, budget: str) -> Path:
    folder, _, table, _ = BUDGETS[TRAINED_AS.get(budget, budget)]
    return folder / f"{name}.pt" if run == 0 else CACHE / table.removeprefix("seeds_") / f"run{run}" / f"{name}.pt"


def train(names, budget: str) -> None:
    folder, seed_of = BUDGETS[budget][:2]
    for run in range(1, CALIBRATION_RUNS):
        for name in names:
            path = cached(name, run, budget)
            if run not in runs_of(name, budget) or path.is_file():
                continue
            _, _, info = load_method(name, folder / f"{name}.pt")
            method, extra = train_at_budget(name, info, int(info["extra"]["epochs"]), seed=seed_of(run),
                                            progress=False, verbose=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_method(method, path, extra={**extra, "seed": seed_of(run)})
            print(f"{budget} budget, {name:13s} run {run}: {extra['epochs']} epochs in {extra['train_seconds']:5.1f} s,"
                  f" final loss {extra['final_loss']:.4f}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["train", "score", "merge"])
    parser.add_argument("--budget", choices=sorted(BUDGETS), nargs="*", default=list(BUDGETS))
    parser.add_argument("--only", nargs="*", default=None, help="method names (default: every registered one)")
    parser.add_argument("--runs", type=int, nargs="*", default=None, help="score these runs only (default all)")
    parser.add_argument("--fine-tune-runs", type=int, default=3,
                        help="fine-tune the first N runs (default 3; 0: probes only, minutes instead of an hour)")
    parser.add_argument("--part", default=None,
                        help="score into <table>_part<part> (e.g. two processes, one per core, each --only some "
                             "methods); `merge` joins the parts into the shipped table")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("NT", "1")))
    names = args.only or method_names()
    started = time.perf_counter()
    for budget in args.budget:
        if args.step == "train":
            if budget not in TRAINED_AS:
                train(names, budget)
            continue
        _, _, table, scoring = BUDGETS[budget]
        if args.step == "merge":
            parts = sorted(TUNING_DIR.glob(f"{table}_part*_test.csv"))
            merged = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
            merged = merged.drop_duplicates(["method", "probe", "labels_per_class", "run", "seed"])  # the random rows
            merged.to_csv(TUNING_DIR / f"{table}_test.csv", index=False, float_format="%.6f")
            for p in parts:
                p.unlink()
            print(f"merged {[p.name for p in parts]} into {table}_test.csv ({len(merged)} rows)")
            continue
        scoring = {"random_runs": range(CALIBRATION_RUNS), **scoring}
        paths = {name: [cached(name, run, budget) for run in runs_of(name, budget)] for name in names}
        out = table if args.part is None else f"{table}_part{args.part}"
        print(f"wrote {score_runs(paths, out, only_runs=args.runs, fine_tune_runs=args.fine_tune_runs, **scoring)}", flush=True)
    print(f"{args.step}: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
