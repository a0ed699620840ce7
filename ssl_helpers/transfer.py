"""Transfer: reuse the course's pre-trained encoders on a task with few labels, and rank every method.

- `load_course_encoder(name)`: the encoder of any registered method (`ssl_helpers.methods`) that its notebook
  saved (`<checkpoint dir>/<name>.pt`), or, when the checkpoint is missing, a quick one trained here (it says so).
- `transfer_table`: every way of using an encoder on the same split and labels, as one tidy table:
  frozen + linear probe, frozen + kNN, full fine-tuning (encoder at a lower learning rate than the new head),
  the same network trained from scratch, and logistic regression on pixels.
- `leaderboard`: the mean accuracy of every (method, probe) per labels-per-class count, best first.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Union

import pandas as pd
from torch import nn

from .data import ImageSet
from .evaluate import SHOTS, embed_split, end_to_end_table, label_efficiency, mean_accuracy, pixel_features
from .methods import load_or_pretrain, method_names
from .models import ResizeInput, build_encoder
from .train import default_checkpoint_dir

__all__ = ["course_encoders", "load_course_encoder", "transfer_table", "leaderboard"]


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
