"""The course's one evaluation protocol: every score in every notebook's table comes from `run_protocol`.

    fit, validation = validation_split(train); test = the test split
    for every row (an encoder and a way to use it, or a baseline) and every k labels per class:
        draws      = the same seeded draws of k labels per class from **fit** for every row (`draws`)
        for each of the row's CANDIDATES settings c:  validation(c) = mean over draws of acc_validation(c, draw)
        chosen     = argmax_c validation(c)   (the first on ties)
        test       = acc_test(chosen, draw) for every draw: the test split is scored once, for the chosen setting

Rows and their candidates (CANDIDATES = 6 for every row, so that no row is tuned harder than another):
- "linear": logistic regression on standardised frozen features, C in `PROBE_CS`;
- "knn": cosine kNN with similarity-weighted votes, k in `KNN_KS`;
- "fine-tune" (LP-FT): the network starts as the frozen encoder plus the tuned linear probe of the same draw (its
  standardisation included), then encoder and head train together at `FINE_TUNE_LR` (linear warm-up over
  `FINE_TUNE_WARMUP` steps) with the encoder's BatchNorm statistics frozen (a batch of 10-32 labelled images is
  too small to re-estimate them); candidates: 0 steps (the encoder frozen: the probe itself, so on validation
  fine-tuning can only tie or beat its probe) and `FINE_TUNE_STEPS`;
- "end-to-end" (from scratch): the same network from random weights and a random head, (lr, steps) in
  `SCRATCH_GRID` (`VIT_SCRATCH_GRID` for a ViT);
- baselines: "pixels" (linear on raw pixels) and a frozen random encoder per architecture ("random encoder"),
  built from seed 0 whatever the global random state, so they print the same numbers in every notebook.
Trained candidates come from one run per draw and learning rate, read at every candidate step on validation (its
weights kept); only the chosen one is scored on test.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .data import ImageSet, labeled_subset
from .config import smoke, smoke_seeds
from .evaluate import (PROBE_CS, SHOTS, Standardize, _lp_ft_model, embed, fit_linear_probe, freeze_batchnorm,
                       knn_accuracy, probe_predict)
from .models import LinearClassifier, build_encoder
from .train import fit as train_fit
from .train import pick_device

__all__ = ["CANDIDATES", "SEEDS", "PROBE_CS", "KNN_KS", "FINE_TUNE_LR", "FINE_TUNE_WARMUP", "FINE_TUNE_STEPS",
           "FINE_TUNE_GRID", "SCRATCH_GRID", "VIT_SCRATCH_GRID", "BATCH_SIZE", "draws", "random_encoder",
           "random_encoder_name",
           "Standardize", "freeze_batchnorm", "ProtocolResult", "run_protocol", "scratch_grid_for", "baseline_table",
           "load_tuning", "save_tuning", "load_results", "save_results", "budget", "budget_text", "BASELINES",
           "baseline_summary"]

CANDIDATES = 6
"""Settings tried on validation for every row (probe, kNN, fine-tuning, from scratch): one tuning budget for all."""
SEEDS = 5
"""Seeded draws of the labelled subset per labels-per-class count (seeds 0..4): the same for every row."""
KNN_KS = (1, 3, 5, 10, 20, 50)
"""kNN's candidate numbers of neighbours (temperature 0.1; k is capped at the number of labelled images)."""
FINE_TUNE_LR, FINE_TUNE_WARMUP = 3e-4, 10
FINE_TUNE_STEPS = (10, 15, 20, 25, 30)
FINE_TUNE_GRID = ({"lr": 0.0, "steps": 0},) + tuple({"lr": FINE_TUNE_LR, "steps": s} for s in FINE_TUNE_STEPS)
"""Fine-tuning's candidates: the frozen encoder (lr 0, 0 steps: the tuned probe itself) and 5 lengths of one run."""
SCRATCH_GRID = tuple({"lr": lr, "steps": s} for lr in (1e-3, 3e-3, 1e-2) for s in (100, 200))
"""The CNN from scratch: 3 learning rates x 2 lengths (AdamW, constant learning rate, batches of up to 32; a first
grid of 50 or 100 steps chose 100 at every labels-per-class count)."""
VIT_SCRATCH_GRID = tuple({"lr": lr, "steps": s} for lr in (1e-4, 3e-4, 1e-3) for s in (300, 600))
"""A ViT from scratch learns slower than a CNN (no locality built in): lower learning rates, more steps. A first
grid (lr 3e-4 to 3e-3 x 150 or 300 steps) chose its edge, 3e-4 and 300 steps, at 5 and 10 labels per class; this one
again chooses an edge there (1e-4, 600 steps), but its validation scores around it are within a point of each other
(`tuning/from_scratch_vit_validation.csv`): the baseline is near its plateau."""
BATCH_SIZE = 32
if smoke():  # SSL_SMOKE=1 (the FULL_RUN smoke test): the same candidates, each only a few steps long (sizes only)
    FINE_TUNE_WARMUP, FINE_TUNE_STEPS = 1, (1, 2, 3, 4, 5)
    FINE_TUNE_GRID = ({"lr": 0.0, "steps": 0},) + tuple({"lr": FINE_TUNE_LR, "steps": s} for s in FINE_TUNE_STEPS)
    SCRATCH_GRID = tuple({**setting, "steps": 1 + i % 2} for i, setting in enumerate(SCRATCH_GRID))
    VIT_SCRATCH_GRID = tuple({**setting, "steps": 1 + i % 2} for i, setting in enumerate(VIT_SCRATCH_GRID))
TUNING_DIR = Path(__file__).resolve().parent / "tuning"


def draws(labels: torch.Tensor, labels_per_class, seeds: Union[int, Sequence[int]] = SEEDS) -> List[tuple]:
    """The protocol's labelled draws: [(seed, indices into `labels`)], k per class (`labeled_subset`).

    labels: the fit split's labels (never validation or test). With all labels there is one draw (seed 0).
    Under `SSL_SMOKE=1` (the FULL_RUN smoke test) only the first `SMOKE_LIMITS["seeds"]` seeds are drawn."""
    seeds = smoke_seeds(range(seeds) if isinstance(seeds, int) else seeds)
    if labels_per_class == "all" or labels_per_class is None:
        return [(seeds[0], labeled_subset(labels, "all"))]
    return [(seed, labeled_subset(labels, labels_per_class, seed)) for seed in seeds]


def random_encoder(config: dict, seed: int = 0) -> nn.Module:
    """A frozen encoder with random weights built from `config` with `seed`, leaving the global RNG alone:
    the same weights in every notebook, whatever ran before."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_encoder(config).eval()


def random_encoder_name(config: dict) -> str:
    """The leaderboard's name for the frozen random-weights row of an encoder config, one per architecture and input
    size: "random encoder" (a CNN), "random ViT", and " (12 px)" appended for a `ResizeInput` trained at 12 px."""
    inner = config.get("encoder", config) if config.get("arch") == "resize_input" else config
    name = "random ViT" if inner.get("arch") == "vit" else "random encoder"
    return f"{name} ({config['size']} px)" if config.get("arch") == "resize_input" else name


def _setting_text(setting: dict) -> str:
    return json.dumps({k: (float(v) if isinstance(v, float) else v) for k, v in setting.items()}, sort_keys=True)


@torch.no_grad()
def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device) -> float:
    was_training = model.training
    model.eval()
    predictions = torch.cat([model(x.to(device)).argmax(1).cpu() for x in images.split(512)])
    model.train(was_training)
    return float((predictions == labels).float().mean())


def _trajectory(model: nn.Module, images, labels, *, lr: float, steps: Sequence[int], validation: ImageSet,
                seed: int, device, warmup_steps: int = 0, weight_decay: float = 1e-4,
                frozen_batchnorm: Optional[nn.Module] = None) -> Dict[int, tuple]:
    """Train `model` with cross-entropy on (images, labels) at a constant `lr` (after `warmup_steps`) and read it
    at every step count in `steps`: {step: (validation accuracy, weights on the CPU)}."""
    wanted, last = set(steps), max(steps)
    batch = min(BATCH_SIZE, len(images))
    per_epoch = len(images) // batch
    done, records = [0], {}

    def loss_fn(b):
        if frozen_batchnorm is not None:
            freeze_batchnorm(frozen_batchnorm)
        x, y = b
        return F.cross_entropy(model(x), y)

    def after_step():
        done[0] += 1
        if done[0] in wanted:
            state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            records[done[0]] = (_accuracy(model, validation.images, validation.labels, device), state)

    train_fit(loss_fn, model, (images, labels), epochs=math.ceil(last / per_epoch), batch_size=batch, lr=lr,
              weight_decay=weight_decay, schedule="constant", warmup_steps=warmup_steps, seed=seed, device=device,
              progress=False, after_step=after_step)
    return records


class ProtocolResult(NamedTuple):
    """table: test accuracy, one row per method, probe, labels_per_class and seed (the chosen setting only);
    tuning: every candidate's mean validation accuracy, one row per method, probe, labels_per_class and setting
    (a JSON string), with "chosen"."""

    table: pd.DataFrame
    tuning: pd.DataFrame


def scratch_grid_for(config: dict) -> tuple:
    """The from-scratch candidates for an encoder config: `VIT_SCRATCH_GRID` for a ViT, else `SCRATCH_GRID`."""
    arch = config.get("arch") if isinstance(config, dict) else None
    return VIT_SCRATCH_GRID if arch == "vit" else SCRATCH_GRID


def run_protocol(encoders: Dict[str, nn.Module], fit: ImageSet, validation: ImageSet, test: ImageSet, *,
                 shots: Sequence = (1, 5, 10), seeds: Union[int, Sequence[int]] = SEEDS, pixels: bool = True,
                 random_encoders: Optional[Dict[str, dict]] = None, probes: Sequence[str] = ("linear", "knn"),
                 fine_tune: Sequence[str] = (), fine_tune_shots: Optional[Sequence] = None,
                 scratch: Optional[Dict[str, dict]] = None, scratch_shots: Optional[Sequence] = None,
                 tuned: Optional[pd.DataFrame] = None, device=None, verbose: bool = False) -> ProtocolResult:
    """The protocol (module docstring) for frozen `encoders` {name: encoder} and the baselines. Returns
    `ProtocolResult(table, tuning)`.

    fit, validation, test: `validation_split(train)` and the test split. shots: labels per class (1, 5, 10, 50,
    "all"). pixels: add the "pixels" row (linear). random_encoders: {name: encoder config}, each a frozen
    random encoder (seed 0) probed like the encoders. probes: of "linear", "knn" for the frozen rows. fine_tune:
    names of `encoders` also fine-tuned (LP-FT) at `fine_tune_shots` (default `shots`; needs "linear"). scratch:
    {name: encoder config} trained from scratch (probe "end-to-end") at `scratch_shots` (default `shots`).
    tuned: an earlier `tuning` table (e.g. `load_tuning(...)`, shipped with the package): a (method, probe,
    labels_per_class) found there keeps its chosen setting and its validation rows instead of being tuned again
    (the from-scratch grids are tuned once by `scripts/tune_baselines.py`, with the same candidates).
    """
    device = pick_device(device) if not isinstance(device, torch.device) else device
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    random_encoders, scratch = dict(random_encoders or {}), dict(scratch or {})
    fine_tune_shots = list(shots if fine_tune_shots is None else fine_tune_shots)
    scratch_shots = list(shots if scratch_shots is None else scratch_shots)
    unknown = [name for name in fine_tune if name not in encoders]
    if unknown:
        raise ValueError(f"fine_tune names {unknown} that are not in encoders {list(encoders)}")
    if fine_tune and "linear" not in probes:
        raise ValueError("fine-tuning starts from the tuned linear probe: probes must include 'linear'")
    unknown_probes = set(probes) - {"linear", "knn"}
    if unknown_probes:
        raise ValueError(f"unknown probes {sorted(unknown_probes)}; expected some of ['knn', 'linear']")
    for name, grid in [("PROBE_CS", PROBE_CS), ("KNN_KS", KNN_KS), ("FINE_TUNE_GRID", FINE_TUNE_GRID),
                       *[(f"scratch grid of {n}", scratch_grid_for(c)) for n, c in scratch.items()]]:
        if len(grid) != CANDIDATES:
            raise ValueError(f"{name} has {len(grid)} candidates; every row gets CANDIDATES = {CANDIDATES}")
    linear_shots = list(dict.fromkeys([*shots, *fine_tune_shots])) if fine_tune else list(shots)
    draw_sets = {shot: draws(fit.labels, shot, seeds) for shot in dict.fromkeys([*linear_shots, *scratch_shots])}
    table, tuning = [], []
    previous = _index_tuning(tuned)

    started = time.process_time()

    def say(text):
        if verbose:
            print(f"{text} ({time.process_time() - started:.1f} s CPU)", flush=True)

    def choose(method, probe, shot, scores: Dict[str, List[float]]):
        """scores: {setting text: [validation accuracy per draw]} -> the chosen setting text; tuning rows added."""
        means = {s: float(np.mean(v)) for s, v in scores.items()}
        best = max(means, key=lambda s: (means[s], -list(means).index(s)))
        for s, m in means.items():
            tuning.append({"method": method, "probe": probe, "labels_per_class": shot, "setting": s, "validation": m,
                           "chosen": s == best})
        return best

    def add_rows(method, probe, shot, accuracies: Dict[int, float]):
        table.extend({"method": method, "probe": probe, "labels_per_class": shot, "seed": seed, "accuracy": acc}
                     for seed, acc in accuracies.items())

    # 1. frozen features: fit, validation and test, once per feature set
    features = {}
    if pixels:
        features["pixels"] = tuple(s.images.flatten(1).float() for s in (fit, validation, test))
    frozen = {name: random_encoder(config) for name, config in random_encoders.items()}
    frozen.update(encoders)
    for name, encoder in frozen.items():
        features[name] = tuple(embed(encoder, s.images, device=device) for s in (fit, validation, test))
    probes_chosen = {}  # (name, shot) -> {seed: (probe, mean, std)} for LP-FT
    for name, (fit_h, val_h, test_h) in features.items():
        mean, std = fit_h.mean(0, keepdim=True), fit_h.std(0, keepdim=True).clamp_min(1e-6)
        fit_z, val_z, test_z = ((h - mean) / std for h in (fit_h, val_h, test_h))
        for probe in (("linear",) if name == "pixels" else probes):
            wanted_shots = linear_shots if (probe == "linear" and name in fine_tune) else shots
            for shot in wanted_shots:
                pool = draw_sets[shot]
                if probe == "linear":
                    fitted = {C: {} for C in PROBE_CS}
                    for seed, idx in pool:  # each C starts from the solution for the next smaller one
                        start = None
                        for C in sorted(PROBE_CS):
                            start = fitted[C][seed] = fit_linear_probe(fit_z[idx], fit.labels[idx], C, init=start)
                    scores = {_setting_text({"C": C}): [float((probe_predict(fitted[C][seed], val_z)
                                                               == validation.labels).double().mean())
                                                        for seed, _ in pool] for C in PROBE_CS}
                    best = choose(name, probe, shot, scores)
                    C = json.loads(best)["C"]
                    probes_chosen[(name, shot)] = {seed: (fitted[C][seed], mean, std) for seed, _ in pool}
                    accuracies = {seed: float((probe_predict(fitted[C][seed], test_z) == test.labels).double().mean())
                                  for seed, _ in pool}
                else:
                    scores = {_setting_text({"k": k}): [knn_accuracy(fit_z[idx], fit.labels[idx], val_z,
                                                                     validation.labels, k=k) for _, idx in pool]
                              for k in KNN_KS}
                    k = json.loads(choose(name, probe, shot, scores))["k"]
                    accuracies = {seed: knn_accuracy(fit_z[idx], fit.labels[idx], test_z, test.labels, k=k)
                                  for seed, idx in pool}
                if shot in shots:
                    add_rows(name, probe, shot, accuracies)
        say(f"protocol: {name} probed")

    # 2. fine-tuning (LP-FT) from the tuned probe, BatchNorm statistics frozen
    for name in fine_tune:
        for shot in fine_tune_shots:
            pool, runs = draw_sets[shot], {}
            linear_val = _per_draw_validation(probes_chosen[(name, shot)], features[name][1], validation.labels)
            for seed, idx in pool:
                model = _lp_ft_model(encoders[name], *probes_chosen[(name, shot)][seed])
                runs[seed] = _trajectory(model, fit.images[idx], fit.labels[idx], lr=FINE_TUNE_LR,
                                         steps=FINE_TUNE_STEPS, validation=validation, seed=seed, device=device,
                                         warmup_steps=FINE_TUNE_WARMUP, weight_decay=0.0,
                                         frozen_batchnorm=model[0])
            scores = {_setting_text(FINE_TUNE_GRID[0]): [linear_val[seed] for seed, _ in pool]}
            for setting in FINE_TUNE_GRID[1:]:
                scores[_setting_text(setting)] = [runs[seed][setting["steps"]][0] for seed, _ in pool]
            chosen = json.loads(choose(name, "fine-tune", shot, scores))
            if chosen["steps"] == 0:
                accuracies = {r["seed"]: r["accuracy"] for r in table if r["method"] == name
                              and r["probe"] == "linear" and r["labels_per_class"] == shot}
                if len(accuracies) != len(pool):  # the probe was scored at this count for fine-tuning only
                    accuracies = {seed: float((probe_predict(probes_chosen[(name, shot)][seed][0],
                                                             _standardized(features[name][2], name, shot, seed,
                                                                           probes_chosen))
                                               == test.labels).double().mean()) for seed, _ in pool}
            else:
                accuracies = {}
                for seed, _ in pool:
                    model = _lp_ft_model(encoders[name], *probes_chosen[(name, shot)][seed])
                    model.load_state_dict(runs[seed][chosen["steps"]][1])
                    accuracies[seed] = _accuracy(model.to(device), test.images, test.labels, device)
            add_rows(name, "fine-tune", shot, accuracies)
        say(f"protocol: {name} fine-tuned")

    # 3. from scratch: a random network and head trained on the labels alone
    for name, config in scratch.items():
        grid = scratch_grid_for(config)
        for shot in scratch_shots:
            pool = draw_sets[shot]
            key = (name, "end-to-end", shot)
            if key in previous:
                rows, chosen = previous[key]
                tuning.extend(rows)
                accuracies = {}
                for seed, idx in pool:
                    model = _scratch_model(config, fit.num_classes, seed)
                    run = _trajectory(model, fit.images[idx], fit.labels[idx], lr=chosen["lr"],
                                      steps=[chosen["steps"]], validation=validation, seed=seed, device=device)
                    model.load_state_dict(run[chosen["steps"]][1])
                    accuracies[seed] = _accuracy(model, test.images, test.labels, device)
            else:
                runs = {}
                for lr in dict.fromkeys(s["lr"] for s in grid):
                    lengths = [s["steps"] for s in grid if s["lr"] == lr]
                    for seed, idx in pool:
                        model = _scratch_model(config, fit.num_classes, seed)
                        runs[(lr, seed)] = _trajectory(model, fit.images[idx], fit.labels[idx], lr=lr,
                                                       steps=lengths, validation=validation, seed=seed,
                                                       device=device)
                scores = {_setting_text(s): [runs[(s["lr"], seed)][s["steps"]][0] for seed, _ in pool]
                          for s in grid}
                chosen = json.loads(choose(name, "end-to-end", shot, scores))
                accuracies = {}
                for seed, _ in pool:
                    model = _scratch_model(config, fit.num_classes, seed)
                    model.load_state_dict(runs[(chosen["lr"], seed)][chosen["steps"]][1])
                    accuracies[seed] = _accuracy(model.to(device), test.images, test.labels, device)
            add_rows(name, "end-to-end", shot, accuracies)
        say(f"protocol: {name} trained from scratch")
    return ProtocolResult(pd.DataFrame(table), pd.DataFrame(tuning))


def _standardized(test_h, name, shot, seed, probes_chosen):
    _, mean, std = probes_chosen[(name, shot)][seed]
    return (test_h - mean) / std


def _per_draw_validation(chosen: dict, validation_h: torch.Tensor, labels: torch.Tensor) -> Dict[int, float]:
    return {seed: float((probe_predict(probe, (validation_h - mean) / std) == labels).double().mean())
            for seed, (probe, mean, std) in chosen.items()}


def _scratch_model(config: dict, num_classes: int, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LinearClassifier(build_encoder(config), num_classes)


def _index_tuning(tuned: Optional[pd.DataFrame]) -> dict:
    """{(method, probe, labels_per_class): (its tuning rows, chosen setting)} of an earlier tuning table."""
    if tuned is None or len(tuned) == 0:
        return {}
    index = {}
    for (method, probe, shot), rows in tuned.groupby(["method", "probe", "labels_per_class"], sort=False):
        shot = shot if shot == "all" else int(shot)
        if int(rows["chosen"].sum()) != 1:
            raise ValueError(f"tuned rows of {method} / {probe} at {shot} labels per class must choose one setting")
        records = [{**r, "labels_per_class": shot, "chosen": bool(r["chosen"])}
                   for r in rows[["method", "probe", "labels_per_class", "setting", "validation",
                                  "chosen"]].to_dict("records")]
        index[(method, probe, shot)] = (records, json.loads(rows[rows["chosen"]]["setting"].iloc[0]))
    return index


def baseline_table(fit_split: ImageSet, validation: ImageSet, test: ImageSet, encoder_config: dict,
                   shots: Sequence = SHOTS, seeds: Union[int, Iterable] = 5,
                   scratch_tuned: Optional[pd.DataFrame] = None, device=None):
    """The three baselines through the course's protocol (`ssl_helpers.protocol.run_protocol`): returns its
    `ProtocolResult` (`table`: tidy test scores as `label_efficiency`'s; `tuning`: every candidate on validation).

    - "pixels": logistic regression on raw pixels (probe "linear");
    - "random encoder": the encoder with random weights (seed 0), frozen (probes "linear" and "knn");
    - "from scratch": the encoder trained on the labeled subset only (probe "end-to-end").
    fit_split, validation: `validation_split(train)`; labels are drawn from fit_split, every setting (C, k, learning
    rate and steps) is chosen on validation among the protocol's candidates, the test split is scored once.
    scratch_tuned: the from-scratch tuning shipped with the package (`protocol.load_tuning("from_scratch_cnn")`),
    so that only the chosen setting is trained here; None tunes it here.
    """
    return run_protocol({}, fit_split, validation, test, shots=shots, seeds=seeds,
                        random_encoders={"random encoder": encoder_config}, scratch={"from scratch": encoder_config},
                        tuned=scratch_tuned, device=device)


def save_tuning(tuning: pd.DataFrame, name: str) -> Path:
    """Write a tuning table to the package's `tuning/<name>_validation.csv` (shipped with it)."""
    path = TUNING_DIR / f"{name}_validation.csv"
    tuning.to_csv(path, index=False, float_format="%.4f")
    return path


def save_results(table: pd.DataFrame, name: str) -> Path:
    """Write a protocol table (test accuracies) to the package's `tuning/<name>_test.csv` (shipped with it)."""
    path = TUNING_DIR / f"{name}_test.csv"
    table.to_csv(path, index=False, float_format="%.6f")
    return path


def load_results(name: str) -> pd.DataFrame:
    """A protocol table written by `save_results`: columns method, probe, labels_per_class, seed, accuracy."""
    path = TUNING_DIR / f"{name}_test.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no protocol table {path}: run scripts/tune_baselines.py to write it")
    table = pd.read_csv(path, dtype={"labels_per_class": str})
    table["labels_per_class"] = [s if s == "all" else int(s) for s in table["labels_per_class"]]
    return table


def load_tuning(name: str) -> pd.DataFrame:
    """A tuning table written by `save_tuning` (e.g. "from_scratch_cnn", "from_scratch_vit")."""
    path = TUNING_DIR / f"{name}_validation.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no tuning table {path}: run scripts/tune_baselines.py to write it")
    table = pd.read_csv(path, dtype={"labels_per_class": str})
    table["labels_per_class"] = [s if s == "all" else int(s) for s in table["labels_per_class"]]
    return table


BASELINES = ("pixels", "random encoder", "random ViT")
"""The rows that are the same in every notebook (`baseline_summary`): nothing pre-trained, nothing chosen by hand."""


def baseline_summary(table: pd.DataFrame, probe: str = "linear") -> str:
    """One line with the baselines' mean test accuracy (%) per labels-per-class count, as every notebook prints it
    (and `tests/test_protocol.py` compares across the executed notebooks):
    "baselines (linear probe, test %, mean over 5 draws): pixels 1=58.2,5=84.0,10=88.8; random encoder 1=...".
    """
    rows = table[(table["probe"] == probe) & table["method"].isin(BASELINES)]
    if rows.empty:
        raise ValueError(f"no {probe!r} rows of the baselines {list(BASELINES)} in the table")
    draws_ = int(rows[rows["labels_per_class"] != "all"].groupby(["method", "labels_per_class"]).size().max()
                 if (rows["labels_per_class"] != "all").any() else 1)
    parts = []
    for method in [m for m in BASELINES if m in set(rows["method"])]:
        means = rows[rows["method"] == method].groupby("labels_per_class", sort=False)["accuracy"].mean()
        parts.append(f"{method} " + ",".join(f"{k}={100 * v:.1f}" for k, v in means.items()))
    return f"baselines ({probe} probe, test %, mean over {draws_} draws): " + "; ".join(parts)


def budget(info: dict, n_images: int) -> dict:
    """A pre-trained encoder's budget from its checkpoint info (`load_course_encoder`): {"epochs", "images_seen"
    (epochs x the number of unlabelled training images), "seconds" (training seconds where the checkpoint
    recorded them, else None)}."""
    extra = info.get("extra") or {}
    epochs = extra.get("epochs")
    seconds = extra.get("train_seconds")
    return {"epochs": epochs, "images_seen": None if epochs is None else int(epochs) * int(n_images),
            "seconds": None if seconds is None else float(seconds)}


def budget_text(info: dict, n_images: int) -> str:
    """`budget` as a table cell: "90 ep = 113k img, 39 s" ("—" for what is not recorded)."""
    b = budget(info, n_images)
    if b["epochs"] is None:
        return "—"
    text = f"{b['epochs']} ep = {b['images_seen'] / 1000:.0f}k img"
    return text + (f", {b['seconds']:.0f} s" if b["seconds"] is not None else "")
