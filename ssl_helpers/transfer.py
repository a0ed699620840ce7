"""Transfer: reuse the course's pre-trained encoders on a task with few labels, and rank every method.

- `load_course_encoder(name)`: the encoder of any registered method (`ssl_helpers.methods`) that its notebook
  saved (`<checkpoint dir>/<name>.pt`), or, when the checkpoint is missing, a quick one trained here (it says so).
- `load_equal_budget_encoder(name, info, folder, epochs)`: the same method pre-trained again with its notebook's
  recipe at one budget shared by every method (shipped for the CPU tier, trained here when missing).
- `protocol_table`: the course's protocol (`ssl_helpers.protocol`) over the fit / validation / test split: every
  choice (probe C, kNN k, fine-tuning and from-scratch settings) made on validation per encoder with the same number
  of candidates, the test split scored once, for the tables.
- `leaderboard`: the mean accuracy of every (method, probe) per labels-per-class count, best first.
- `recorded_results`: what each method's notebook measured and saved with its checkpoint (probe accuracies,
  pre-training seconds), read back without loading or training anything: the course's map of families.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Union

import pandas as pd
from torch import nn

from .data import ImageSet
from .evaluate import mean_accuracy
from .methods import load_or_pretrain, method_names, method_spec
from .methods.training import load_or_pretrain_like, shipped_path
from .models import ResizeInput
from .protocol import run_protocol
from .train import default_checkpoint_dir

__all__ = ["course_encoders", "load_course_encoder", "load_equal_budget_encoder", "protocol_table", "leaderboard",
           "leaderboard_markdown", "recorded_metric", "recorded_results"]


def course_encoders() -> list:
    """The names of every registered method, in teaching order: the encoders the course pre-trains."""
    return method_names()


def load_course_encoder(name: str, checkpoint_dir=None, device="cpu", quick_epochs: Optional[int] = None,
                        seed: int = 0, verbose: bool = True, image_size: int = 16, progress: bool = True):
    """The encoder method `name`'s notebook saved, or a quick stand-in trained now when its checkpoint is missing.

    name: a registered method (`ssl_helpers.methods.method_names()`). Returns `(encoder, info)` with
    `info["quick"]` True for a stand-in (its scores are then lower than the full run's). A checkpoint that exists
    but does not load is an error, not silently replaced. An encoder trained at another image size than
    `image_size` (e.g. SimCLR at 12 px) comes wrapped in `ResizeInput`.
    """
    path = Path(checkpoint_dir or default_checkpoint_dir()) / f"{name}.pt"
    _, encoder, info = load_or_pretrain(name, path, epochs=quick_epochs, seed=seed, device=device, verbose=verbose,
                                        progress=progress)
    return _at_size(encoder, info, image_size), info


def load_equal_budget_encoder(name: str, info: dict, folder, epochs: int, *, image_size: int = 16,
                              data: Optional[str] = None, data_options: Optional[dict] = None, device="cpu",
                              seed: int = 0, verbose: bool = True, progress: bool = True):
    """Method `name` pre-trained for `epochs` epochs with the recipe its notebook's checkpoint recorded (`info`
    from `load_course_encoder`): `<folder>/<name>.pt` when it holds that budget, else trained now and saved there
    (`ssl_helpers.methods.training.load_or_pretrain_like`; `data`, `data_options`: the dataset to train on when it
    must, by default the one `info` records). Returns `(encoder, info)`, wrapped in `ResizeInput`
    like `load_course_encoder`; `info["extra"]` records the epochs and the training seconds."""
    _, encoder, equal_info = load_or_pretrain_like(name, info, folder, epochs, data=data, data_options=data_options,
                                                   seed=seed, device=device, progress=progress, verbose=verbose)
    return _at_size(encoder, equal_info, image_size), equal_info


def _at_size(encoder: nn.Module, info: dict, image_size: int) -> nn.Module:
    """The encoder wrapped in `ResizeInput` when it was trained at another size than `image_size`."""
    trained_size = (info.get("extra") or {}).get("image_size")
    if trained_size and int(trained_size) != image_size:
        return ResizeInput(encoder, trained_size)
    return encoder


def protocol_table(encoders: Dict[str, nn.Module], fit: ImageSet, validation: ImageSet, test: ImageSet, *,
                   fine_tune: Union[str, Sequence[str]] = "all", scratch_config: Optional[dict] = None,
                   shots: Sequence = (1, 5, 10), seeds: Union[int, Iterable] = 5,
                   fine_tune_shots: Optional[Sequence] = None, random_encoders: Optional[Dict[str, dict]] = None,
                   scratch_tuned: Optional[pd.DataFrame] = None, pixels: bool = True, device=None, verbose=False):
    """The course's whole protocol for every encoder (`ssl_helpers.protocol.run_protocol`). Returns `(table, tuning)`.

    fit, validation: `ssl_helpers.data.validation_split(train)`; test: the test split. Every row gets the same
    seeded label draws from fit and the same number of candidate settings, chosen on validation per encoder and
    per labels-per-class count; the test split is scored once, for the chosen setting:
    frozen features with a linear probe ("linear", C) and kNN ("knn", k); every encoder in `fine_tune` ("all" =
    every one) fine-tuned from its tuned probe ("fine-tune", LP-FT with BatchNorm statistics frozen, the learning rates
    and steps of from scratch; 0 steps, the probe itself, is a candidate) at `fine_tune_shots` (default `shots`); the
    network of `scratch_config` trained from scratch ("from scratch", "end-to-end"; `scratch_tuned`: its shipped
    tuning, so that only the chosen setting is trained); raw pixels ("pixels", "linear"); and `random_encoders`
    {name: config}, frozen random encoders probed like the others. `tuning` holds every candidate's mean validation
    accuracy and "chosen" (`ssl_helpers.protocol.chosen_settings(tuning)`: the chosen settings, typed).
    """
    names = list(encoders) if fine_tune == "all" else list(fine_tune)
    scratch = {"from scratch": scratch_config} if scratch_config is not None else {}
    result = run_protocol(encoders, fit, validation, test, shots=shots, seeds=seeds, pixels=pixels,
                          random_encoders=random_encoders, fine_tune=names, fine_tune_shots=fine_tune_shots,
                          scratch=scratch, tuned=scratch_tuned, device=device, verbose=verbose)
    return result.table, result.tuning


def leaderboard(table: pd.DataFrame, sort_by=10, budgets: Optional[Dict[str, str]] = None) -> pd.DataFrame:
    """Mean accuracy (%) of every (method, probe) per labels-per-class count, sorted best first by `sort_by`.

    Returns a wide table with columns method, probe, then one per labels-per-class count; with `budgets`
    ({method: text}, e.g. from `ssl_helpers.protocol.budget_text`), a last column "budget" ("—" for the rows
    without one: the baselines, which are not pre-trained).
    """
    means = 100 * mean_accuracy(table)
    if sort_by not in means.columns:
        raise ValueError(f"sort_by={sort_by!r} is not a labels-per-class count in the table: {list(means.columns)}")
    board = means.sort_values(sort_by, ascending=False).round(1).reset_index()
    board.index = range(1, len(board) + 1)
    board.columns.name = "labels per class"
    if budgets is not None:
        board["budget"] = [budgets.get(method, "—") for method in board["method"]]
    return board


def leaderboard_markdown(board: pd.DataFrame) -> str:
    """A `leaderboard` as a markdown table (rank, method, probe, accuracy % per labels per class, and the budget
    column when the board has one; "—" = not run / not pre-trained)."""
    columns = [c for c in board.columns if c not in ("method", "probe", "budget")]
    budget = "budget" in board.columns
    lines = ["| # | method | probe | " + " | ".join(f"{c} labels/class" for c in columns)
             + (" | pre-training budget" if budget else "") + " |",
             "|---:|---|---|" + "---:|" * len(columns) + ("---|" if budget else "")]
    for rank, row in board.iterrows():
        cells = ["—" if pd.isna(row[c]) else f"{row[c]:.1f}" for c in columns] + ([row["budget"]] if budget else [])
        lines.append(f"| {rank} | {row['method']} | {row['probe']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recorded_metric(metrics: dict, probe: str, labels_per_class) -> float:
    """A probe's accuracy, in %, from a checkpoint's `metrics` as the notebooks wrote them: the key spelled
    "linear@1", "linear @1" or "linear_1", the value a fraction (<= 1) or a percentage (> 1). NaN when absent."""
    for key in (f"{probe}@{labels_per_class}", f"{probe} @{labels_per_class}", f"{probe}_{labels_per_class}"):
        if key in (metrics or {}):
            value = float(metrics[key])
            return 100 * value if value <= 1.0 else value
    return float("nan")


def recorded_results(checkpoint_dir=None, names: Optional[Sequence[str]] = None, shipped: bool = True,
                     shots: Sequence = (1, 10)) -> pd.DataFrame:
    """What each registered method's notebook measured and saved with its checkpoint, one row per method.

    Reads `<checkpoint_dir>/<name>.pt` (default: `default_checkpoint_dir()`), else, with `shipped`, the checkpoint
    shipped with the package (`ssl_helpers.methods.shipped_path`); nothing is loaded into a network and nothing is
    trained. Columns: method, title, family, notebook, source ("saved", "shipped" or "missing"), "linear @k (%)"
    for each k in `shots` (the linear probe on the test split, mean over its notebook's seeded label draws; NaN
    when the notebook did not record it), "pre-training (s)" (`extra["train_seconds"]`, the notebook's measured
    wall time of the pre-training; NaN when not recorded) and epochs.
    """
    import torch

    folder = Path(checkpoint_dir or default_checkpoint_dir())
    rows = []
    for name in (names or method_names()):
        spec = method_spec(name)
        row = {"method": name, "title": spec.title, "family": spec.family, "notebook": spec.notebook,
               "source": "missing"}
        payload = None
        for path, source in ((folder / f"{name}.pt", "saved"), (shipped_path(name), "shipped")):
            if path.is_file() and (source == "saved" or shipped):
                payload = torch.load(path, map_location="cpu", weights_only=True)
                row["source"] = source
                break
        metrics = (payload or {}).get("metrics") or {}
        extra = (payload or {}).get("extra") or {}
        for k in shots:
            row[f"linear @{k} (%)"] = recorded_metric(metrics, "linear", k)
        row["pre-training (s)"] = float(extra.get("train_seconds", float("nan")))
        row["epochs"] = extra.get("epochs")
        rows.append(row)
    return pd.DataFrame(rows)
