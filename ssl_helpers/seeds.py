"""Pre-training runs as shipped score tables: each compared row is several pre-training runs (`verdicts`).

A notebook trains (or loads) one run of each row live, run 0; the other runs, 1, 2, ..., are the same recipe with
other seeds, trained once by a script (`scripts/seed_runs.py`) and scored by the same protocol code on the same split
and label draws. Their **scores** ship with the package (`tuning/<name>_test.csv` with a `run` column); their
weights do not (no notebook uses those encoders). A notebook joins them to its live table with `add_runs`:

    table = add_runs(table, load_runs("seeds_equal_budget"))      # run 0 from the notebook, runs 1.. shipped

The frozen random encoders get runs the same way: run r is the architecture built with initialisation seed r.

A notebook's own rows (its ablations, its live encoders) get their other runs from the notebook itself:
`scripts/notebook_runs.py NN_name` executes it again with `SSL_RUN=1, 2, ...`, where every pre-training seed is
`run_seed(seed)` (the seed + 1000 x the run) and the label draws stay the same; each table the notebook passes to
`with_shipped_runs` is then written to `SSL_RUNS_DIR`, and the script ships them all as
`tuning/runs_<notebook>_test.csv`. In the live run (run 0) the same call returns the table joined with those runs:

    table = with_shipped_runs(table, "07_beyond_negatives", "momentum")   # the rows of this table, 3 runs each
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import pandas as pd

from .config import settings
from .data import load_dataset, validation_split
from .methods import load_method
from .protocol import SEEDS, TUNING_DIR, load_results, random_encoder, random_encoder_name, save_results
from .transfer import _at_size, protocol_table

__all__ = ["add_runs", "load_runs", "score_runs", "SEED_TABLES", "run_seed", "with_shipped_runs",
           "notebook_runs_name", "RUN_SEED_STRIDE", "scripted", "shipped_runs"]

RUN_SEED_STRIDE = 1000
"""Run r of a notebook pre-trains with seed + RUN_SEED_STRIDE x r (`run_seed`)."""

SEED_TABLES = ("seeds_equal_budget",)
"""The shipped tables of pre-training runs (`scripts/seed_runs.py` writes them)."""


def load_runs(name: str) -> pd.DataFrame:
    """A shipped table of pre-training runs: method, probe, labels_per_class, run, seed (label draw), accuracy."""
    table = load_results(name)
    if "run" not in table:
        raise ValueError(f"{TUNING_DIR / (name + '_test.csv')} has no 'run' column: not a table of runs")
    table["run"] = table["run"].astype("Int64")
    return table


def add_runs(table: pd.DataFrame, runs: pd.DataFrame, live_run: int = 0) -> pd.DataFrame:
    """The live `table` (one run: `live_run`) with the other runs of the same rows from `runs` (a `load_runs`
    table). A row (method, probe, labels_per_class) of `table` gets every run of `runs` but `live_run` (the live
    one replaces it); rows without pre-training (pixels, from scratch) and rows `runs` does not hold stay as they
    are. Every run must have been scored on the same label draws (`verdicts.run_means` checks)."""
    live = table.copy()
    if "run" not in live:
        live["run"] = live_run
    live["run"] = live["run"].astype("Int64")
    keys = ["method", "probe", "labels_per_class"]
    wanted = live[keys].drop_duplicates()
    others = runs[runs["run"] != live_run].merge(wanted, on=keys)
    return pd.concat([live, others[live.columns.intersection(others.columns)]], ignore_index=True)


def score_runs(paths: Dict[str, Sequence[Path]], name: str, *, shots: Sequence = (1, 5, 10),
               fine_tune_shots: Sequence = (10,), fine_tune_runs: int = 3, seeds: int = SEEDS,
               random_runs: Optional[Iterable[int]] = None,
               image_size: int = 16, data: str = "digits", data_options: Optional[dict] = None, device="cpu",
               only_runs: Optional[Sequence[int]] = None, verbose: bool = True) -> Path:
    """Score every run of every method with the course's protocol and ship the table as `tuning/<name>_test.csv`.

    paths: {method name: [checkpoint of run 0, of run 1, ...]} (`ssl_helpers.methods.save_method` files). Run r
    of every method is scored in one `protocol_table` call with the frozen random encoders of the same
    architectures built with initialisation seed r ("random encoder", "random encoder (12 px)", ...; runs
    `random_runs`, default as many as the method with the most runs): linear and kNN at `shots`, fine-tuning at
    `fine_tune_shots` for the first `fine_tune_runs` runs (the costly part), on `data` (with `data_options`) at `image_size`, with the split and the label draws of
    notebook 09. only_runs: score these runs only (e.g. one process per run; the parts are joined afterwards)."""
    train, test = load_dataset(data, image_size=image_size, **(data_options or {}))
    fit, validation = validation_split(train)
    most = max(len(p) for p in paths.values())
    random_runs = list(range(most) if random_runs is None else random_runs)
    tables = []
    every_run = range(max(most, max(random_runs, default=-1) + 1))
    for run in (every_run if only_runs is None else [r for r in every_run if r in only_runs]):
        encoders = {}
        for method, method_paths in paths.items():
            if run < len(method_paths):
                _, encoder, info = load_method(method, method_paths[run], device)
                encoders[method] = _at_size(encoder, info, image_size)
        configs = {"random encoder": {"arch": "small_cnn", "in_channels": 3, "width": 32}}
        configs.update({random_encoder_name(e.config): e.config for e in encoders.values()})
        randoms = {row: random_encoder(config, seed=run) for row, config in configs.items()} \
            if run in random_runs else {}
        if not encoders and not randoms:
            continue
        tuned_runs = list(encoders) if run < fine_tune_runs else []
        table, _ = protocol_table({**encoders, **randoms}, fit, validation, test, fine_tune=tuned_runs,
                                  shots=shots, seeds=seeds, fine_tune_shots=fine_tune_shots, pixels=False,
                                  device=device)
        tables.append(table.assign(run=run))
        if verbose:
            print(f"run {run}: {sorted(encoders)} and {sorted(randoms)} scored", flush=True)
    columns = ["method", "probe", "labels_per_class", "run", "seed", "accuracy"]
    return save_results(pd.concat(tables, ignore_index=True)[columns], name)


def run_seed(seed: int = 0) -> int:
    """The pre-training seed of the run this notebook executes: `seed` in the live run (`SSL_RUN` unset or 0), else
    seed + RUN_SEED_STRIDE x run, so that no two runs of a row share a seed. Label draws never use it."""
    return int(seed) + RUN_SEED_STRIDE * settings().run


def notebook_runs_name(notebook: str) -> str:
    """The shipped table of a notebook's other runs: `tuning/runs_<notebook>_test.csv`."""
    return f"runs_{notebook}"


def with_shipped_runs(table: pd.DataFrame, notebook: str, key: str, shipped: bool = True) -> pd.DataFrame:
    """A notebook's score table with every run of its rows.

    In the live run (`SSL_RUN` 0, `SSL_RUNS_DIR` unset): `table` (run 0) joined with the runs of the same rows shipped in
    `tuning/runs_<notebook>_test.csv` under `key` (`add_runs`); `shipped=False` (e.g. a FULL_RUN, whose rows the
    shipped CPU-tier runs do not describe) or no shipped table: `table` as it is, one run. Executed by
    `scripts/notebook_runs.py` (`SSL_RUNS_DIR` set; `SSL_RUN` 0, 1, 2, ...): `table` tagged with the run, written to
    `<SSL_RUNS_DIR>/<key>.csv`, and returned as it is."""
    current = settings()
    if current.run > 0 and current.runs_dir is None:
        raise ValueError(f"SSL_RUN={current.run} needs SSL_RUNS_DIR, the folder for this run's tables "
                         "(scripts/notebook_runs.py sets both)")
    if scripted():
        current.runs_dir.mkdir(parents=True, exist_ok=True)
        table.assign(run=current.run).to_csv(current.runs_dir / f"{key}.csv", index=False, float_format="%.6f")
        return table.assign(run=current.run)
    name = notebook_runs_name(notebook)
    if not shipped or not (TUNING_DIR / f"{name}_test.csv").is_file():
        return table.assign(run=0)
    runs = load_runs(name)
    return add_runs(table, runs[runs["table"] == key].drop(columns="table"))


def scripted() -> bool:
    """True when `scripts/notebook_runs.py` executes the notebook (`SSL_RUNS_DIR` set, any run, 0 included): the
    notebook then computes what it otherwise reads from its shipped runs (e.g. fine-tuning at the full budget)."""
    return settings().runs_dir is not None


def shipped_runs(notebook: str, key: str) -> pd.DataFrame:
    """Every run (0 included) of a notebook's table `key` as shipped: the rows a notebook does not compute live
    because they cost more than its time budget (`scripted` says when it computes them)."""
    name = notebook_runs_name(notebook)
    runs = load_runs(name)
    rows = runs[runs["table"] == key].drop(columns="table")
    if rows.empty:
        raise ValueError(f"{TUNING_DIR / (name + '_test.csv')} holds no table {key!r}: run "
                         f"scripts/notebook_runs.py {notebook} --runs 0 1 2")
    return rows.reset_index(drop=True)
