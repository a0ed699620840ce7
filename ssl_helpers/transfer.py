"""Transfer: reuse the course's pre-trained encoders on a task with few labels, and rank every method.

- `load_course_encoder(name)`: the encoder of any registered method (`ssl_helpers.methods`) that its notebook
  saved (`<checkpoint dir>/<name>.pt`), or, when the checkpoint is missing, a quick one trained here (it says so).
- `transfer_table`: every way of using an encoder on the same split and labels, as one tidy table:
  frozen + linear probe, frozen + kNN, full fine-tuning (encoder at a lower learning rate than the new head),
  the same network trained from scratch, and logistic regression on pixels.
- `protocol_table`: the same over the protocol's fit / validation / test split: every choice (probe C,
  fine-tuning and from-scratch settings) made on validation, the test split scored once, for the tables.
- `leaderboard`: the mean accuracy of every (method, probe) per labels-per-class count, best first.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Union

import pandas as pd
from torch import nn

from .data import ImageSet
from .evaluate import (PROBE_CS, SHOTS, chosen_setting, embed, embed_split, end_to_end_table, label_efficiency,
                       mean_accuracy, pixel_features, tune_probe_C, tuning_grid)
from .methods import load_or_pretrain, method_names
from .models import ResizeInput, build_encoder
from .train import default_checkpoint_dir

__all__ = ["course_encoders", "load_course_encoder", "transfer_table", "protocol_table", "leaderboard",
           "leaderboard_markdown"]


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
    trained_size = (info.get("extra") or {}).get("image_size")
    if trained_size and int(trained_size) != image_size:
        encoder = ResizeInput(encoder, trained_size)
    return encoder, info


def transfer_table(encoders: Dict[str, nn.Module], train: ImageSet, test: ImageSet, *,
                   fine_tune: Sequence[str] = (), scratch_config: Optional[dict] = None,
                   shots: Sequence = SHOTS, seeds: Union[int, Iterable] = 5, steps: int = 100,
                   lr: float = 1e-2, encoder_lr: float = 1e-3, scratch_lr: float = 3e-3, pixels: bool = True,
                   device=None) -> pd.DataFrame:
    """Every transfer method on the protocol's split and labels, as one tidy table (see `label_efficiency`).

    encoders: {name: pre-trained encoder}; each is probed frozen ("linear" and "knn"). Those named in
    `fine_tune` are also fine-tuned end to end on each labeled subset (probe "fine-tune": the head starts from a
    linear probe on the frozen features, then head at `lr` and encoder at `encoder_lr` for `steps` AdamW
    steps, a fresh copy per run). With `scratch_config`, the network built from it is trained from scratch
    at `scratch_lr` ("from scratch", probe "end-to-end", as in the baselines of notebook 01).
    """
    unknown = [name for name in fine_tune if name not in encoders]
    if unknown:
        raise ValueError(f"fine_tune names {unknown} that are not in encoders {list(encoders)}")
    features = {"pixels": pixel_features(train, test)} if pixels else {}
    tables = []
    if pixels:
        tables.append(label_efficiency(features, train.labels, test.labels, shots, seeds, probes=("linear",)))
    frozen = {name: embed_split(encoder, train, test, device) for name, encoder in encoders.items()}
    tables.append(label_efficiency(frozen, train.labels, test.labels, shots, seeds, probes=("linear", "knn")))
    for name in fine_tune:
        pretrained = encoders[name]
        tables.append(end_to_end_table(lambda: copy.deepcopy(pretrained), train, test, name, shots, seeds,
                                       probe="fine-tune", steps=steps, lr=lr, encoder_lr=encoder_lr,
                                       probe_first=True, device=device))
    if scratch_config is not None:
        tables.append(end_to_end_table(lambda: build_encoder(scratch_config), train, test, "from scratch", shots,
                                       seeds, probe="end-to-end", steps=steps, lr=scratch_lr, device=device))
    return pd.concat(tables, ignore_index=True)


def protocol_table(encoders: Dict[str, nn.Module], fit: ImageSet, validation: ImageSet, test: ImageSet, *,
                   fine_tune: Union[str, Sequence[str]] = "all", scratch_config: Optional[dict] = None,
                   shots: Sequence = SHOTS, seeds: Union[int, Iterable] = 5, Cs: Sequence[float] = PROBE_CS,
                   fine_tune_settings: Optional[dict] = None, scratch_settings: Optional[dict] = None,
                   fine_tune_shots: Optional[Sequence] = None, pixels: bool = True, device=None):
    """The course's whole protocol: tune on validation, then score the test split once. Returns `(table, tuning)`.

    fit, validation: `ssl_helpers.data.validation_split(train)`; test: the test split.
    1. Frozen features of fit, validation and test, once per encoder (and raw pixels).
    2. Tuning, on validation only: the linear probe's C per feature set among `Cs` (`tune_probe_C`, labels drawn
       from fit at 1, 5, 10 per class); fine-tuning and from-scratch settings come from the validation grids of
       `scripts/tune_simclr.py` (`tuning_grid`) unless given: {"steps", "encoder_lr"} and {"steps", "lr"}.
    3. Test, once: every frozen feature set with its chosen C ("linear") and kNN ("knn"); every encoder in
       `fine_tune` ("all" = every one) fine-tuned end to end ("fine-tune", LP-FT, head at lr 1e-2); the network
       of `scratch_config` trained from scratch ("from scratch", "end-to-end"); the trained ones at
       `fine_tune_shots` (default `shots`: fine-tuning is the expensive part). Every method sees the same
       labeled subsets of fit (same seeds), as a tidy table like `label_efficiency`'s.
    `tuning` is the probe's validation grid (method, C, accuracy per labels-per-class count, chosen).
    """
    names = list(encoders) if fine_tune == "all" else list(fine_tune)
    unknown = [name for name in names if name not in encoders]
    if unknown:
        raise ValueError(f"fine_tune names {unknown} that are not in encoders {list(encoders)}")
    fine_tune_settings = fine_tune_settings or chosen_setting(tuning_grid("fine_tune"), ["steps", "encoder_lr"])
    scratch_settings = scratch_settings or chosen_setting(tuning_grid("from_scratch"), ["steps", "lr"])
    trained_shots = shots if fine_tune_shots is None else fine_tune_shots
    splits = (fit, validation, test)
    features = {"pixels": tuple(images.images.flatten(1) for images in splits)} if pixels else {}
    features.update({name: tuple(embed(encoder, images.images, device=device) for images in splits)
                     for name, encoder in encoders.items()})
    tuning, chosen = tune_probe_C({name: (f, v) for name, (f, v, _) in features.items()}, fit.labels,
                                  validation.labels, Cs, seeds=seeds)
    tables = []
    for name, (f, _, t) in features.items():
        probes = ("linear",) if name == "pixels" else ("linear", "knn")
        tables.append(label_efficiency({name: (f, t)}, fit.labels, test.labels, shots, seeds, probes=probes,
                                       probe_options={"linear": {"C": chosen[name]}}))
    for name in names:
        pretrained = encoders[name]
        tables.append(end_to_end_table(lambda: copy.deepcopy(pretrained), fit, test, name, trained_shots, seeds,
                                       probe="fine-tune", lr=1e-2, probe_first=True, device=device,
                                       **fine_tune_settings))
    if scratch_config is not None:
        tables.append(end_to_end_table(lambda: build_encoder(scratch_config), fit, test, "from scratch",
                                       trained_shots, seeds, probe="end-to-end", device=device, **scratch_settings))
    return pd.concat(tables, ignore_index=True), tuning


def leaderboard(table: pd.DataFrame, sort_by=10) -> pd.DataFrame:
    """Mean accuracy (%) of every (method, probe) per labels-per-class count, sorted best first by `sort_by`.

    Returns a wide table with columns method, probe, then one per labels-per-class count.
    """
    means = 100 * mean_accuracy(table)
    if sort_by not in means.columns:
        raise ValueError(f"sort_by={sort_by!r} is not a labels-per-class count in the table: {list(means.columns)}")
    board = means.sort_values(sort_by, ascending=False).round(1).reset_index()
    board.index = range(1, len(board) + 1)
    board.columns.name = "labels per class"
    return board


def leaderboard_markdown(board: pd.DataFrame) -> str:
    """A `leaderboard` as a markdown table (rank, method, probe, accuracy % per labels per class; "—" = not run)."""
    columns = [c for c in board.columns if c not in ("method", "probe")]
    lines = ["| # | method | probe | " + " | ".join(f"{c} labels/class" for c in columns) + " |",
             "|---:|---|---|" + "---:|" * len(columns)]
    for rank, row in board.iterrows():
        cells = ["—" if pd.isna(row[c]) else f"{row[c]:.1f}" for c in columns]
        lines.append(f"| {rank} | {row['method']} | {row['probe']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
