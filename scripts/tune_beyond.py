"""Validation tuning of notebook 07's methods (MoCo, BYOL, SimSiam, Barlow Twins, VICReg; SimCLR for comparison).

Each run pre-trains on 70% of the digits' train split (12 px, SmallCNN, one thread) and is scored on the other 30%
(a validation part: the test split is never used): linear probe with 1 and 10 labels per class (5 draws), and the
effective rank of the validation features. One line per run:

    .venv/bin/python scripts/tune_beyond.py "dict(name='vicreg')" "dict(name='byol', batch_size=64)" \
        "dict(name='barlow_twins', opts=dict(offdiag_weight=0.05))"

Each argument is a Python dict: name, opts (the method's options), width (default 32), and any `pretrain` setting
(epochs, batch_size, lr) overriding the method's recipe.

    .venv/bin/python scripts/tune_beyond.py --table

runs the grid notebook 07 shows (`TABLE`: every method at batch 128 and 64, and the other changes tried) and writes
it to `ssl_helpers/tuning/beyond_validation.csv`, which the notebook reads (`ssl_helpers.evaluate.tuning_grid`).
"""
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from ssl_helpers.data import load_dataset, stratified_split
from ssl_helpers.evaluate import embed, embedding_diagnostics, label_efficiency, mean_accuracy
from ssl_helpers.methods import make_method, pretrain


START = dict(epochs=20, batch_size=128, lr=2e-3)
"""Where every method started: 20 epochs, batch 128, learning rate 2e-3 (projector 128-64, the methods' default)."""

TABLE = [dict(name=name, change=change, **{**START, **settings}, opts=opts) for name, change, settings, opts in [
    ("simclr", "batch 128", {}, {}), ("simclr", "batch 64", dict(batch_size=64), {}),
    ("moco", "batch 128", {}, {}), ("moco", "batch 64", dict(batch_size=64), {}),
    ("moco", "temperature 0.5", {}, dict(temperature=0.5)),
    ("byol", "batch 128", {}, {}), ("byol", "batch 64", dict(batch_size=64), {}),
    ("byol", "momentum 0.96", {}, dict(momentum=0.96)), ("byol", "learning rate 5e-3", dict(lr=5e-3), {}),
    ("simsiam", "batch 128", {}, {}), ("simsiam", "batch 64", dict(batch_size=64), {}),
    ("simsiam", "learning rate 5e-3", dict(lr=5e-3), {}),
    ("simsiam", "batch 64, 30 epochs", dict(batch_size=64, epochs=30), {}),
    ("barlow_twins", "batch 128", {}, {}), ("barlow_twins", "batch 64", dict(batch_size=64), {}),
    ("barlow_twins", "lambda 0.02", {}, dict(offdiag_weight=0.02)),
    ("barlow_twins", "lambda 0.02, learning rate 5e-3", dict(lr=5e-3), dict(offdiag_weight=0.02)),
    ("vicreg", "batch 128", {}, {}), ("vicreg", "batch 64", dict(batch_size=64), {}),
    ("vicreg", "learning rate 5e-3", dict(lr=5e-3), {}),
]]
OUT = Path(__file__).resolve().parents[1] / "ssl_helpers" / "tuning" / "beyond_validation.csv"


def run(fit_set, val, name, width=32, opts=None, change=None, **settings):
    method = make_method(name, **(opts or {}))
    started = time.perf_counter()
    encoder, history = pretrain(method, fit_set.images, width=width, progress=False, device="cpu", **settings)
    seconds = time.perf_counter() - started
    features = {name: (embed(encoder, fit_set.images), embed(encoder, val.images))}
    scores = mean_accuracy(label_efficiency(features, fit_set.labels, val.labels, shots=(1, 10), seeds=5,
                                            probes=("linear",))).iloc[0]
    rank = embedding_diagnostics(features[name][1])["effective_rank"]
    print(f"{name} {opts or {}} {settings} width {width}: {seconds:.1f} s, validation linear 1 / 10 labels "
          f"{100 * scores[1]:.1f} / {100 * scores[10]:.1f}, effective rank {rank:.1f}, "
          f"final loss {history['loss'].iloc[-1]:.3f}", flush=True)
    return {"method": name, "change": change or "", **{k: settings.get(k) for k in ("epochs", "batch_size", "lr")},
            "options": repr(opts or {}), "seconds": round(seconds, 1), "linear_1": round(100 * scores[1], 1),
            "linear_10": round(100 * scores[10], 1), "effective_rank": round(rank, 1),
            "final_loss": round(float(history["loss"].iloc[-1]), 4)}


def main(specs):
    torch.set_num_threads(1)
    train, _ = load_dataset("digits", image_size=12)
    fit_index, val_index = stratified_split(train.labels, 0.3, seed=1)
    table = specs == ["--table"]
    runs = TABLE if table else [eval(spec, {"dict": dict, "__builtins__": {}}) for spec in specs]  # dict(...) literals
    rows = [run(train.subset(fit_index), train.subset(val_index), **dict(spec)) for spec in runs]
    if table:
        pd.DataFrame(rows).to_csv(OUT, index=False)
        print("wrote", OUT)


if __name__ == "__main__":
    main(sys.argv[1:] or ["dict(name='vicreg')"])
