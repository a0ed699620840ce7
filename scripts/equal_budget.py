"""Pre-train every method of the course again at one budget, each with the recipe its notebook used (options,
batch size, learning rate, schedule, image size, as its shipped checkpoint records them), and ship the encoders in
`ssl_helpers/checkpoints/equal_budget/`: the transfer notebook's main leaderboard compares these.

    .venv/bin/python scripts/equal_budget.py              # 20 epochs (= 25k images seen) for every method
    .venv/bin/python scripts/equal_budget.py --epochs 10 --only simclr dino

Each one is timed (wall seconds on `--threads` CPU threads, recorded as `train_seconds`) and saved once, in float16
(`ssl_helpers.methods.training.ship_method`), with the figure its test reproduces (`shipped_knn`, scored on the
float16 weights). The notebooks' own budgets differ (SimCLR 90 epochs, the pretext tasks 5-8): their encoders are
`ssl_helpers/checkpoints/<method>.pt` (`scripts/ship_checkpoints.py`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ssl_helpers.methods import load_method, method_names  # noqa: E402
from ssl_helpers.methods.training import (EQUAL_BUDGET_DIR, ship_method, shipped_path,  # noqa: E402
                                          train_at_budget)

EPOCHS = 20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="the one budget, in epochs (default 20)")
    parser.add_argument("--only", nargs="*", default=None, help="method names (default: every registered one)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: the recorded seconds stay comparable on a shared machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.only or method_names()
    unknown = sorted(set(names) - set(method_names()))
    if unknown:
        parser.error(f"unknown methods {unknown}; expected some of {method_names()}")
    for name in names:
        if not shipped_path(name).is_file():
            print(f"{name}: no shipped checkpoint to take the recipe from (run scripts/ship_checkpoints.py); skipped")
            continue
        _, _, recipe_info = load_method(name, shipped_path(name))
        # always trained again (the recipe or the code may have changed), saved once with its test's figure
        method, extra = train_at_budget(name, recipe_info, args.epochs, progress=False)
        out, score = ship_method(method, EQUAL_BUDGET_DIR / f"{name}.pt", extra=extra)  # float16, scored so
        print(f"{name:13s} {args.epochs} epochs in {extra['train_seconds']:5.1f} s  kNN {100 * score:5.1f}%  "
              f"{out.stat().st_size / 1024:6.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
