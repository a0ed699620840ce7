"""Validation tuning of notebook 07's methods (MoCo, BYOL, SimSiam, Barlow Twins, VICReg; SimCLR for comparison).

Each run pre-trains on 70% of the digits' train split (12 px, SmallCNN, one thread) and is scored on the other 30%
(a validation part: the test split is never used): linear probe with 1 and 10 labels per class (5 draws), and the
effective rank of the validation features. One line per run:

    .venv/bin/python scripts/tune_beyond.py "dict(name='vicreg')" "dict(name='byol', batch_size=64)" \
        "dict(name='barlow_twins', opts=dict(offdiag_weight=0.05))"

Each argument is a Python dict: name, opts (the method's options), width (default 32), and any `pretrain` setting
(epochs, batch_size, lr) overriding the method's recipe.
"""
import sys
import time

import torch

from ssl_helpers.data import load_dataset, stratified_split
from ssl_helpers.evaluate import embed, embedding_diagnostics, label_efficiency, mean_accuracy
from ssl_helpers.methods import make_method, pretrain


def run(fit_set, val, name, width=32, opts=None, **settings):
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


def main(specs):
    torch.set_num_threads(1)
    train, _ = load_dataset("digits", image_size=12)
    fit_index, val_index = stratified_split(train.labels, 0.3, seed=1)
    for spec in specs:
        run(train.subset(fit_index), train.subset(val_index), **eval(spec, {"dict": dict, "__builtins__": {}}))  # a dict literal or dict(...)


if __name__ == "__main__":
    main(sys.argv[1:] or ["dict(name='vicreg')"])
