"""The compute curve: does a self-supervised encoder keep improving with pre-training compute, while random weights
do not? One method of each family pre-trained for 5, 20, 80 and 320 epochs, 3 runs (seeds) each, scored by the
course's protocol (linear probe and kNN at 1 and 10 labels per class, the split and label draws of notebook 09).

Resumable, one point at a time, cheapest first (every method at 5 epochs, then 80, then 320): a point is one
(method, epochs, run). Each finished point is written at once to `build/compute_curve/points/` (its weights beside
it, not shipped), and `merge` joins the points into the shipped table `ssl_helpers/tuning/compute_curve_test.csv`
(method, probe, labels_per_class, run, seed, accuracy, epochs, train_seconds). Points already in the shipped
table are skipped, so the run can go on in a later session from a fresh clone. The 20-epoch points are the
equal-budget runs 0-2, already scored in `seeds_equal_budget_test.csv` (nothing is trained for them).

    nohup .venv/bin/python scripts/compute_curve.py train --only simclr vicreg mae > curve_a.log 2>&1 &  # core 1
    nohup .venv/bin/python scripts/compute_curve.py train --only rotation dino > curve_b.log 2>&1 &      # core 2
    .venv/bin/python scripts/compute_curve.py merge                                # the shipped table, so far
    .venv/bin/python scripts/compute_curve.py status                               # what is done, what is left

Each process uses 1 thread (one process per core). Each method keeps its notebook's recipe (architecture, options,
batch size, learning rate, image size: `ssl_helpers.methods.training.train_at_budget`); only the epochs change.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ssl_helpers.data import load_dataset, validation_split  # noqa: E402
from ssl_helpers.methods import load_method, save_method  # noqa: E402
from ssl_helpers.methods.training import EQUAL_BUDGET_DIR, train_at_budget  # noqa: E402
from ssl_helpers.protocol import TUNING_DIR  # noqa: E402
from ssl_helpers.transfer import _at_size, protocol_table  # noqa: E402

FAMILIES = {"contrastive": "simclr", "non-contrastive": "vicreg", "masked": "mae", "pretext": "rotation",
            "self-distillation": "dino"}
"""One method per family: the curve's lines."""
EPOCHS = (5, 20, 80, 320)
EQUAL_EPOCHS = 20
"""The main leaderboard's budget: its runs are the curve's 20-epoch points (seeds_equal_budget_test.csv)."""
RUNS = 3
SHOTS = (1, 10)
IMAGE_SIZE = 16
TABLE = "compute_curve"
POINTS = ROOT / "build" / "compute_curve" / "points"
COLUMNS = ["method", "probe", "labels_per_class", "run", "seed", "accuracy", "epochs", "train_seconds"]


def shipped() -> pd.DataFrame:
    path = TUNING_DIR / f"{TABLE}_test.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=COLUMNS)


def point_path(name: str, epochs: int, run: int) -> Path:
    return POINTS / f"{name}_e{epochs}_run{run}.csv"


def done(name: str, epochs: int, run: int, table: pd.DataFrame) -> bool:
    in_table = ((table["method"] == name) & (table["epochs"] == epochs) & (table["run"] == run)).any()
    return bool(in_table) or point_path(name, epochs, run).is_file()


def todo(names, table: pd.DataFrame) -> list:
    """The points left, cheapest first: (epochs, run, method)."""
    return [(epochs, run, name) for epochs in EPOCHS if epochs != EQUAL_EPOCHS for run in range(RUNS)
            for name in names if not done(name, epochs, run, table)]


def train_point(name: str, epochs: int, run: int, splits) -> pd.DataFrame:
    """Pre-train `name` for `epochs` with seed `run` and its equal-budget recipe, then score it."""
    _, _, info = load_method(name, EQUAL_BUDGET_DIR / f"{name}.pt")
    method, extra = train_at_budget(name, info, epochs, seed=run, progress=False, verbose=False)
    weights = point_path(name, epochs, run).with_suffix(".pt")
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_method(method, weights, extra={**extra, "seed": run})
    _, encoder, saved = load_method(name, weights)
    fit, validation, test = splits
    table, _ = protocol_table({name: _at_size(encoder, saved, IMAGE_SIZE)}, fit, validation, test, fine_tune=(),
                              shots=SHOTS, pixels=False)
    return table.assign(run=run, epochs=epochs, train_seconds=round(extra["train_seconds"], 1))[COLUMNS]


KEY = ["method", "probe", "labels_per_class", "run", "seed", "epochs"]


def scored(*others: pd.DataFrame) -> pd.DataFrame:
    """The shipped table, the unmerged points and `others`, each row once."""
    parts = [pd.read_csv(p) for p in sorted(POINTS.glob("*.csv"))]
    table = pd.concat([shipped(), *parts, *others], ignore_index=True)
    table["labels_per_class"] = table["labels_per_class"].astype(int)
    return table.drop_duplicates(KEY)


def merge() -> Path:
    table = scored()
    path = TUNING_DIR / f"{TABLE}_test.csv"
    table.sort_values(["method", "epochs", "run", "probe", "labels_per_class", "seed"])[COLUMNS].to_csv(
        path, index=False, float_format="%.6f")
    return path


def curve() -> pd.DataFrame:
    """Every scored point so far (shipped table and unmerged points), with the 20-epoch points from the equal-budget
    runs 0-2 and the random encoders' rows (initialisation seeds 0-2) at epochs 0."""
    equal = pd.read_csv(TUNING_DIR / "seeds_equal_budget_test.csv")
    equal = equal[(equal["run"] < RUNS) & equal["probe"].isin(["linear", "knn"])
                  & equal["labels_per_class"].astype(str).isin([str(s) for s in SHOTS])]
    methods = list(FAMILIES.values())
    at_20 = equal[equal["method"].isin(methods)].assign(epochs=EQUAL_EPOCHS)
    random = equal[equal["method"].str.startswith("random encoder")].assign(epochs=0)
    return scored(at_20, random)


def summary(probe: str = "linear") -> pd.DataFrame:
    """Mean test accuracy (%) over the runs of each (method, epochs), at 1 and 10 labels per class, with the spread
    of the run means (std) and the number of runs."""
    table = curve()
    table = table[table["probe"] == probe]
    per_run = table.groupby(["method", "epochs", "labels_per_class", "run"])["accuracy"].mean() * 100
    grouped = per_run.groupby(["method", "epochs", "labels_per_class"])
    return pd.DataFrame({"mean": grouped.mean().round(1), "std over runs": grouped.std().round(1),
                         "runs": grouped.size()}).unstack("labels_per_class")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["train", "merge", "status", "summary"])
    parser.add_argument("--only", nargs="*", default=None, choices=sorted(FAMILIES.values()),
                        help="methods (default: one per family)")
    args = parser.parse_args(argv)
    names = args.only or list(FAMILIES.values())
    torch.set_num_threads(1)
    if args.step == "merge":
        print(f"wrote {merge()}")
        return 0
    if args.step == "summary":
        print(summary().to_string())
        return 0
    left = todo(names, shipped())
    if args.step == "status":
        print(f"{len(left)} points left: {left}")
        return 0
    train, test = load_dataset("digits", image_size=IMAGE_SIZE)
    splits = (*validation_split(train), test)
    for epochs, run, name in left:
        started = time.perf_counter()
        rows = train_point(name, epochs, run, splits)
        rows.to_csv(point_path(name, epochs, run), index=False, float_format="%.6f")
        linear = rows[rows["probe"] == "linear"].groupby("labels_per_class")["accuracy"].mean()
        shown = {int(k): round(100 * float(v), 1) for k, v in linear.items()}
        print(f"{name:9s} {epochs:4d} epochs, run {run}: linear % at 1 and 10 labels/class {shown} "
              f"({rows['train_seconds'].iloc[0]:.0f} s training, {time.perf_counter() - started:.0f} s in all)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
