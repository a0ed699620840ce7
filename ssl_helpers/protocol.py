"""The course's one evaluation protocol: every score in every notebook's table comes from `run_protocol`.

    fit, validation = validation_split(train); test = the test split
    for every row (an encoder and a way to use it, or a baseline) and every k labels per class:
        draws      = the same seeded draws of k labels per class from **fit** for every row (`draws`)
        for each of the row's CANDIDATES settings c:  validation(c) = mean over draws of acc_validation(c, draw)
        chosen     = argmax_c validation(c)   (the first on ties)
        test       = acc_test(chosen, draw) for every draw: the test split is scored once, for the chosen setting

`choose_and_score` is that loop, written once. Each kind of row is one small unit, a `Row`: its candidates (typed
settings: `ProbeSetting`, `KnnSetting`, `TrainSetting`) and how it scores one draw, `validate(seed, indices)` (every
candidate on validation) and `test(setting, seed, indices)` (the chosen one on test). The four kinds:

- `LinearProbe` ("linear"): logistic regression on frozen features standardised with fit's statistics, C in
  `PROBE_CS`;
- `KnnProbe` ("knn"): cosine kNN with similarity-weighted votes (temperature 0.1), k in `KNN_KS`;
- `FineTune` ("fine-tune", LP-FT) and `FromScratch` ("end-to-end"): a network trained with cross-entropy on the
  draw's labelled images, with **the same training budget**: the same (learning rate, steps) candidates
  (`training_grid_for`: `SCRATCH_GRID` for a CNN, `VIT_SCRATCH_GRID` for a ViT), the same batch size (`BATCH_SIZE`),
  the same optimiser (AdamW, constant learning rate). The first candidate of both is `NO_TRAINING` (lr 0, 0 steps:
  the network as it starts). What differs is where they start and what a pre-trained encoder keeps:
  - fine-tuning starts as the frozen encoder plus the tuned linear probe of the same draw (its standardisation
    included), so its 0-step candidate *is* the probe and on validation fine-tuning can only tie or beat it; its
    learning rate warms up linearly over `FINE_TUNE_WARMUP` steps (the probe's head is not thrown off by the first
    steps); the encoder's BatchNorm statistics stay frozen (a batch of 10-32 labelled images is too small to
    re-estimate them); no weight decay (`FINE_TUNE_WEIGHT_DECAY`: it would pull the pre-trained weights to zero);
  - from scratch starts from random weights and a random head (seeded by the draw); no warm-up, BatchNorm
    statistics estimated as it trains, weight decay `SCRATCH_WEIGHT_DECAY`.
- baselines: "pixels" (linear on raw pixels) and a frozen random encoder per architecture ("random encoder"),
  built from seed 0 whatever the global random state, so they print the same numbers in every notebook.

Every row has CANDIDATES = 7 candidates, so that no row is tuned harder than another. A trained row trains once per
draw and learning rate and is read at every candidate step count on validation (its weights kept); only the chosen
one is scored on test. The smoke test (`SSL_SMOKE=1`, read when `run_protocol` is called, `candidates_for(...,
smoke=...)`) keeps every candidate but shortens each trained step count to its rank among the grid's (100, 200 ->
1, 2 steps; the warm-up to the shortest), and draws `SMOKE_LIMITS["seeds"]` labelled subsets (`draws`).
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import time
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .config import settings, smoke_seeds
from .data import ImageSet, labeled_subset
from .evaluate import (PROBE_CS, SHOTS, Standardize, _lp_ft_model, embed, fit_linear_probe, freeze_batchnorm,
                       knn_accuracy, probe_predict)
from .models import LinearClassifier, ViTEncoder, build_encoder
from .train import fit as train_fit
from .train import pick_device

__all__ = ["CANDIDATES", "SEEDS", "PROBE_CS", "KNN_KS", "NO_TRAINING", "SCRATCH_GRID", "VIT_SCRATCH_GRID",
           "FINE_TUNE_WARMUP", "FINE_TUNE_WEIGHT_DECAY", "SCRATCH_WEIGHT_DECAY", "BATCH_SIZE",
           "ProbeSetting", "KnnSetting", "TrainSetting", "Setting", "setting_text", "parse_setting",
           "chosen_settings", "ROW_KINDS", "training_grid_for", "scratch_grid_for", "candidates_for",
           "Row", "LinearProbe", "KnnProbe", "FineTune", "FromScratch", "Features", "Splits", "Choice",
           "choose_and_score", "draws", "random_encoder", "random_encoder_name",
           "Standardize", "freeze_batchnorm", "ProtocolResult", "run_protocol", "baseline_table",
           "load_tuning", "save_tuning", "load_results", "save_results", "budget", "budget_text", "BASELINES",
           "baseline_summary"]


# ---- typed settings: one candidate of one row ----------------------------------------------------------------------

def _number(value, name: str, kind: str, minimum: float, strict: bool):
    is_kind = isinstance(value, numbers.Integral if kind == "integer" else numbers.Real)
    if isinstance(value, bool) or not is_kind or (value <= minimum if strict else value < minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValueError(f"{name} must be a{'n' if kind == 'integer' else ''} {kind} {bound}, got {value!r}")
    return int(value) if kind == "integer" else float(value)


@dataclasses.dataclass(frozen=True)
class ProbeSetting:
    """A linear probe's candidate: C, the inverse strength of its L2 regularisation (> 0)."""

    C: float

    def __post_init__(self):
        object.__setattr__(self, "C", _number(self.C, "ProbeSetting.C", "number", 0, strict=True))

    def __str__(self) -> str:
        return f"C {self.C:g}"


@dataclasses.dataclass(frozen=True)
class KnnSetting:
    """kNN's candidate: k, the number of neighbours that vote (>= 1; capped at the number of labelled images)."""

    k: int

    def __post_init__(self):
        object.__setattr__(self, "k", _number(self.k, "KnnSetting.k", "integer", 1, strict=False))

    def __str__(self) -> str:
        return f"k {self.k}"


@dataclasses.dataclass(frozen=True)
class TrainSetting:
    """A trained row's candidate (fine-tuning, from scratch): AdamW at a constant learning rate `lr` for `steps`
    steps; `NO_TRAINING` (lr 0, 0 steps) is the network as it starts."""

    lr: float
    steps: int

    def __post_init__(self):
        object.__setattr__(self, "lr", _number(self.lr, "TrainSetting.lr", "number", 0, strict=False))
        object.__setattr__(self, "steps", _number(self.steps, "TrainSetting.steps", "integer", 0, strict=False))

    def __str__(self) -> str:
        return f"lr {self.lr:g}, steps {self.steps}"


Setting = Union[ProbeSetting, KnnSetting, TrainSetting]
_SETTING_TYPES = {("C",): ProbeSetting, ("k",): KnnSetting, ("lr", "steps"): TrainSetting}


def setting_text(setting: Setting) -> str:
    """A setting as the `tuning` table's "setting" column holds it (and the shipped CSV files): a JSON object,
    e.g. '{"lr": 0.001, "steps": 100}'. `parse_setting` reads it back."""
    if not isinstance(setting, (ProbeSetting, KnnSetting, TrainSetting)):
        raise TypeError(f"setting must be a ProbeSetting, KnnSetting or TrainSetting, got {setting!r}")
    return json.dumps(dataclasses.asdict(setting), sort_keys=True)


def parse_setting(text: Union[str, Setting]) -> Setting:
    """The typed setting of a "setting" text (`setting_text`): '{"C": 0.1}' -> ProbeSetting(C=0.1),
    '{"k": 10}' -> KnnSetting(k=10), '{"lr": 0.001, "steps": 100}' -> TrainSetting(lr=0.001, steps=100).
    A typed setting is returned as it is."""
    if isinstance(text, (ProbeSetting, KnnSetting, TrainSetting)):
        return text
    try:
        values = json.loads(text)
    except (TypeError, ValueError):
        values = None
    kind = _SETTING_TYPES.get(tuple(sorted(values))) if isinstance(values, dict) else None
    if kind is None:
        raise ValueError(f"setting must be a JSON object with the keys C, k, or lr and steps (e.g. '{{\"C\": 0.1}}'), "
                         f"got {text!r}")
    return kind(**values)


def chosen_settings(tuning: pd.DataFrame) -> Dict[tuple, Setting]:
    """The typed setting each row chose on validation, from a `tuning` table (`run_protocol(...).tuning`,
    `load_tuning`): {(method, probe, labels_per_class): setting}, e.g.
    `chosen_settings(tuning)[("simclr", "knn", 10)].k` or `...[("simclr", "fine-tune", 10)].steps`."""
    missing = {"method", "probe", "labels_per_class", "setting", "chosen"} - set(tuning.columns)
    if missing:
        raise ValueError(f"tuning must have the columns of run_protocol's tuning table; missing {sorted(missing)}")
    chosen = {}
    for row in tuning[tuning["chosen"].astype(bool)].itertuples(index=False):
        key = (row.method, row.probe, row.labels_per_class)
        if key in chosen:
            raise ValueError(f"tuning chooses more than one setting for {key}")
        chosen[key] = parse_setting(row.setting)
    return chosen


# ---- the candidates: the same number for every row, the same training budget for both trained rows --------------

CANDIDATES = 7
"""Settings tried on validation for every row (probe, kNN, fine-tuning, from scratch): one tuning budget for all."""
SEEDS = 5
"""Seeded draws of the labelled subset per labels-per-class count (seeds 0..4): the same for every row."""
KNN_KS = (1, 3, 5, 10, 20, 50, 100)
"""kNN's candidate numbers of neighbours (temperature 0.1; k is capped at the number of labelled images, so at 1
label per class 10, 20, 50 and 100 all vote with the 10 images and tie: the first, 10, is chosen)."""
NO_TRAINING = TrainSetting(lr=0.0, steps=0)
"""The first candidate of both trained rows: the network as it starts (fine-tuning: the frozen encoder and its tuned
probe, i.e. the probe itself; from scratch: the random network and head)."""
SCRATCH_GRID = (NO_TRAINING,) + tuple(TrainSetting(lr, steps) for lr in (1e-3, 3e-3, 1e-2) for steps in (100, 200))
"""A CNN's trained candidates, for fine-tuning and from scratch alike: no training, then 3 learning rates x 2
lengths (AdamW, constant learning rate, batches of up to `BATCH_SIZE`; a first grid of 50 or 100 steps chose 100 at
every labels-per-class count)."""
VIT_SCRATCH_GRID = (NO_TRAINING,) + tuple(TrainSetting(lr, steps) for lr in (1e-4, 3e-4, 1e-3)
                                          for steps in (300, 600))
"""A ViT's trained candidates, for fine-tuning and from scratch alike. A ViT from scratch learns slower than a CNN
(no locality built in): lower learning rates, more steps. A first grid (lr 3e-4 to 3e-3 x 150 or 300 steps) chose
its edge, 3e-4 and 300 steps, at 5 and 10 labels per class; this one again chooses an edge there (1e-4, 600
steps), but its validation scores around it are within a point of each other
(`tuning/from_scratch_vit_validation.csv`): the baseline is near its plateau."""
BATCH_SIZE = 32
"""The batch of both trained rows: up to 32 labelled images (all of them when fewer)."""
FINE_TUNE_WARMUP = 10
"""Fine-tuning's linear learning-rate warm-up, in steps (from scratch has none)."""
FINE_TUNE_WEIGHT_DECAY = 0.0
"""Fine-tuning's AdamW weight decay: none, it would pull the pre-trained weights towards zero."""
SCRATCH_WEIGHT_DECAY = 1e-4
"""From scratch's AdamW weight decay."""
ROW_KINDS = ("linear", "knn", "fine-tune", "end-to-end")
"""The kinds of row (the table's "probe" column): `LinearProbe`, `KnnProbe`, `FineTune`, `FromScratch`."""
TUNING_DIR = Path(__file__).resolve().parent / "tuning"


def _is_vit(architecture) -> bool:
    if isinstance(architecture, nn.Module):
        return any(isinstance(module, ViTEncoder) for module in architecture.modules())
    if isinstance(architecture, Mapping):
        if architecture.get("arch") == "resize_input":
            return _is_vit(architecture.get("encoder", {}))
        return architecture.get("arch") == "vit"
    raise ValueError(f"architecture must be an encoder (nn.Module) or its config (a dict with an 'arch' key), "
                     f"got {architecture!r}")


def training_grid_for(architecture) -> tuple:
    """The trained rows' candidates (fine-tuning and from scratch alike) for an encoder or its config:
    `VIT_SCRATCH_GRID` for a ViT (a `ResizeInput` around one included), else `SCRATCH_GRID`."""
    return VIT_SCRATCH_GRID if _is_vit(architecture) else SCRATCH_GRID


scratch_grid_for = training_grid_for
"""The from-scratch candidates of an encoder config: `training_grid_for` (fine-tuning gets the same)."""


def _shortened(grid: Sequence[Setting]) -> tuple:
    """The smoke test's grid: each trained step count replaced by its rank among the grid's (100, 200 -> 1, 2), so
    the candidates stay distinct and in order; 0 steps and the probes' settings unchanged."""
    lengths = sorted({s.steps for s in grid if isinstance(s, TrainSetting) and s.steps > 0})
    return tuple(TrainSetting(s.lr, lengths.index(s.steps) + 1) if isinstance(s, TrainSetting) and s.steps > 0
                 else s for s in grid)


def candidates_for(kind: str, architecture=None, *, smoke: Optional[bool] = None) -> tuple:
    """The candidates of a kind of row (`ROW_KINDS`), as typed settings: "linear" (C in `PROBE_CS`), "knn" (k in
    `KNN_KS`), "fine-tune" and "end-to-end" (`training_grid_for(architecture)`: an encoder or its config).

    smoke: the smoke test's short grid (`_shortened`: the same candidates, a few steps each); None reads
    `SSL_SMOKE` now (`config.settings().smoke`)."""
    smoke = settings().smoke if smoke is None else smoke
    if kind == "linear":
        return tuple(ProbeSetting(C) for C in PROBE_CS)
    if kind == "knn":
        return tuple(KnnSetting(k) for k in KNN_KS)
    if kind not in ROW_KINDS:
        raise ValueError(f"kind must be one of {list(ROW_KINDS)}, got {kind!r}")
    if architecture is None:
        raise ValueError(f"candidates_for({kind!r}) needs the architecture: the encoder or its config")
    grid = training_grid_for(architecture)
    return _shortened(grid) if smoke else grid


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


# ---- the rows: each kind one unit, its candidates and its score of one draw ---------------------------------------

class Splits(NamedTuple):
    """The protocol's three splits (`validation_split(train)` and the test split): labels are drawn from fit,
    settings chosen on validation, test scored once."""

    fit: ImageSet
    validation: ImageSet
    test: ImageSet


class Features(NamedTuple):
    """Frozen features of fit, validation and test, standardised with the statistics of all of fit (no labels
    needed), and those statistics (fine-tuning's network starts with them)."""

    fit: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def standardise(cls, fit_h: torch.Tensor, validation_h: torch.Tensor, test_h: torch.Tensor) -> "Features":
        mean, std = fit_h.mean(0, keepdim=True), fit_h.std(0, keepdim=True).clamp_min(1e-6)
        return cls(*((h - mean) / std for h in (fit_h, validation_h, test_h)), mean, std)


class Row:
    """One kind of row (`kind`, one of `ROW_KINDS`): its candidates and how it scores one labelled draw (`seed`,
    `indices` into fit).

        score(setting, seed, indices, split) -> accuracy of one candidate on "validation" or "test"
        validate(seed, indices) -> {candidate: accuracy on validation} for every candidate (default: `score` each)
        test(setting, seed, indices) -> accuracy on test of the chosen setting

    grid: the candidates as written (`candidates_for(kind, architecture, smoke=False)`); candidates: those that run
    now (the same, or the smoke test's short ones, position by position)."""

    kind = ""

    def __init__(self, splits: Splits, architecture=None, smoke: Optional[bool] = None):
        self.splits = splits
        self.grid = candidates_for(self.kind, architecture, smoke=False)
        self.candidates = candidates_for(self.kind, architecture, smoke=smoke)

    def score(self, setting: Setting, seed: int, indices: torch.Tensor, split: str) -> float:
        raise NotImplementedError

    def validate(self, seed: int, indices: torch.Tensor) -> Dict[Setting, float]:
        return {setting: self.score(setting, seed, indices, "validation") for setting in self.candidates}

    def test(self, setting: Setting, seed: int, indices: torch.Tensor) -> float:
        return self.score(setting, seed, indices, "test")


class LinearProbe(Row):
    """"linear": logistic regression (`fit_linear_probe`) on frozen standardised features, C in `PROBE_CS`."""

    kind = "linear"

    def __init__(self, features: Features, splits: Splits, smoke: Optional[bool] = None):
        super().__init__(splits, smoke=smoke)
        self.features = features
        self._probes = {}  # (seed, C) -> the fitted probe

    def fitted(self, setting: ProbeSetting, seed: int, indices: torch.Tensor):
        """The probe of one draw at one C (fitted once, then kept: fine-tuning starts from it)."""
        if (seed, setting.C) not in self._probes:
            self._probes[(seed, setting.C)] = fit_linear_probe(self.features.fit[indices],
                                                               self.splits.fit.labels[indices], setting.C)
        return self._probes[(seed, setting.C)]

    def score(self, setting, seed, indices, split):
        predicted = probe_predict(self.fitted(setting, seed, indices), getattr(self.features, split))
        return float((predicted == getattr(self.splits, split).labels).double().mean())

    def validate(self, seed, indices):
        start = None
        for setting in sorted(self.candidates, key=lambda s: s.C):  # each C starts from the next smaller one's solution
            start = self._probes[(seed, setting.C)] = fit_linear_probe(
                self.features.fit[indices], self.splits.fit.labels[indices], setting.C, init=start)
        return super().validate(seed, indices)


class KnnProbe(Row):
    """"knn": cosine kNN with similarity-weighted votes (`knn_accuracy`, temperature 0.1), k in `KNN_KS`."""

    kind = "knn"

    def __init__(self, features: Features, splits: Splits, smoke: Optional[bool] = None):
        super().__init__(splits, smoke=smoke)
        self.features = features

    def score(self, setting, seed, indices, split):
        return knn_accuracy(self.features.fit[indices], self.splits.fit.labels[indices],
                            getattr(self.features, split), getattr(self.splits, split).labels, k=setting.k)


class _TrainedRow(Row):
    """A network trained with cross-entropy on the draw's labelled images (AdamW, constant learning rate after
    `warmup_steps`, batches of up to `BATCH_SIZE`): one run per draw and learning rate, read at every candidate step
    count. Subclasses say where it starts (`start`) and what it keeps (`weight_decay`, `frozen_batchnorm`)."""

    warmup_steps = 0
    weight_decay = 0.0

    def __init__(self, splits: Splits, architecture, smoke: Optional[bool], device):
        super().__init__(splits, architecture, smoke)
        self.device = device
        trained = [s.steps for s in self.candidates if s.steps > 0]
        self.warmup_steps = min([self.warmup_steps, *trained])  # the smoke test's 1-step candidates: 1 step
        self._weights = {}  # (seed, setting) -> the trained weights, on the CPU

    def start(self, seed: int, indices: torch.Tensor) -> nn.Module:
        """The network at step 0 for one draw (a fresh one at every call)."""
        raise NotImplementedError

    def frozen_batchnorm(self, model: nn.Module) -> Optional[nn.Module]:
        """The part of `model` whose BatchNorm statistics stay frozen while it trains (None: none)."""
        return None

    def untrained(self, seed: int, indices: torch.Tensor, split: str) -> float:
        """The `NO_TRAINING` candidate's accuracy: the network as it starts."""
        data = getattr(self.splits, split)
        return _accuracy(self.start(seed, indices).to(self.device), data.images, data.labels, self.device)

    def _train(self, seed, indices, lr: float, lengths: Sequence[int]) -> Dict[TrainSetting, float]:
        model = self.start(seed, indices)
        run = _trajectory(model, self.splits.fit.images[indices], self.splits.fit.labels[indices], lr=lr,
                          steps=lengths, validation=self.splits.validation, seed=seed, device=self.device,
                          warmup_steps=self.warmup_steps, weight_decay=self.weight_decay,
                          frozen_batchnorm=self.frozen_batchnorm(model))
        scores = {}
        for steps, (accuracy, weights) in run.items():
            self._weights[(seed, TrainSetting(lr, steps))] = weights
            scores[TrainSetting(lr, steps)] = accuracy
        return scores

    def validate(self, seed, indices):
        scores = {}
        for lr in dict.fromkeys(s.lr for s in self.candidates if s.steps > 0):
            scores.update(self._train(seed, indices, lr, [s.steps for s in self.candidates
                                                          if s.lr == lr and s.steps > 0]))
        return {s: scores[s] if s.steps > 0 else self.untrained(seed, indices, "validation") for s in self.candidates}

    def score(self, setting, seed, indices, split):
        if setting.steps == 0:
            return self.untrained(seed, indices, split)
        if (seed, setting) not in self._weights:  # chosen earlier (`run_protocol(tuned=...)`): trained alone
            self._train(seed, indices, setting.lr, [setting.steps])
        model = self.start(seed, indices)
        model.load_state_dict(self._weights[(seed, setting)])
        data = getattr(self.splits, split)
        return _accuracy(model.to(self.device), data.images, data.labels, self.device)


class FineTune(_TrainedRow):
    """"fine-tune" (LP-FT): the encoder plus the draw's tuned linear probe (standardisation included) trained
    together, BatchNorm statistics frozen, a linear warm-up of `FINE_TUNE_WARMUP` steps, no weight decay; candidates
    `training_grid_for(encoder)`, whose `NO_TRAINING` is the probe itself (scored by the probe's row)."""

    kind = "fine-tune"
    warmup_steps = FINE_TUNE_WARMUP
    weight_decay = FINE_TUNE_WEIGHT_DECAY

    def __init__(self, encoder: nn.Module, linear: LinearProbe, probe: ProbeSetting, splits: Splits,
                 smoke: Optional[bool] = None, device=None):
        super().__init__(splits, encoder, smoke, device)
        self.encoder, self.linear, self.probe = encoder, linear, probe

    def start(self, seed, indices):
        return _lp_ft_model(self.encoder, self.linear.fitted(self.probe, seed, indices), self.linear.features.mean,
                            self.linear.features.std)

    def frozen_batchnorm(self, model):
        return model[0]

    def untrained(self, seed, indices, split):
        return self.linear.score(self.probe, seed, indices, split)


class FromScratch(_TrainedRow):
    """"end-to-end": the network of an encoder config with random weights and a random linear head (seeded by the
    draw) trained on the labels alone, weight decay `SCRATCH_WEIGHT_DECAY`; candidates `training_grid_for(config)`,
    whose `NO_TRAINING` is the untrained network."""

    kind = "end-to-end"
    weight_decay = SCRATCH_WEIGHT_DECAY

    def __init__(self, config: dict, splits: Splits, smoke: Optional[bool] = None, device=None):
        super().__init__(splits, config, smoke, device)
        self.config = config

    def start(self, seed, indices):
        return _scratch_model(self.config, self.splits.fit.num_classes, seed)


# ---- the driver: choose on validation, score on test --------------------------------------------------------------

class Choice(NamedTuple):
    """One row at one labels-per-class count. validation: {candidate: mean validation accuracy over the draws}
    (empty when the setting was chosen earlier); chosen: the setting; test: {seed: test accuracy of the chosen}."""

    validation: Dict[Setting, float]
    chosen: Setting
    test: Dict[int, float]


def choose_and_score(row: Row, pool: Sequence[tuple], chosen: Optional[Setting] = None) -> Choice:
    """The protocol for one row at one labels-per-class count: every candidate scored on validation on every draw
    of `pool` ([(seed, indices into fit)], `draws`), the best mean chosen (the first of equal ones), then the test
    split scored for the chosen setting on every draw. chosen: a setting chosen earlier (a shipped tuning), one of
    `row.candidates`: only the test split is scored."""
    if len(row.candidates) != CANDIDATES:
        raise ValueError(f"a {row.kind!r} row has {len(row.candidates)} candidates; every row gets "
                         f"CANDIDATES = {CANDIDATES}")
    validation = {}
    if chosen is None:
        per_draw = [row.validate(seed, indices) for seed, indices in pool]
        validation = {c: float(np.mean([scores[c] for scores in per_draw])) for c in row.candidates}
        chosen = max(row.candidates, key=validation.__getitem__)  # max keeps the first of equal scores
    elif chosen not in row.candidates:
        raise ValueError(f"chosen must be one of the {row.kind!r} row's candidates "
                         f"{[str(c) for c in row.candidates]}, got {chosen}")
    return Choice(validation, chosen, {seed: row.test(chosen, seed, indices) for seed, indices in pool})


class ProtocolResult(NamedTuple):
    """table: test accuracy, one row per method, probe, labels_per_class and seed (the chosen setting only);
    tuning: every candidate's mean validation accuracy, one row per method, probe, labels_per_class and setting
    (its text, `setting_text`; `chosen_settings(tuning)` reads the chosen ones as typed settings), with "chosen"."""

    table: pd.DataFrame
    tuning: pd.DataFrame


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
    (the from-scratch grids are tuned once by `scripts/tune_baselines.py`, with the same candidates; a table
    tuned among other candidates is an error). The smoke test (`SSL_SMOKE`) is read now (`candidates_for`).
    """
    device = pick_device(device) if not isinstance(device, torch.device) else device
    smoke = settings().smoke
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
    splits = Splits(fit, validation, test)
    linear_shots = list(dict.fromkeys([*shots, *fine_tune_shots])) if fine_tune else list(shots)
    draw_sets = {shot: draws(fit.labels, shot, seeds) for shot in dict.fromkeys([*linear_shots, *scratch_shots])}
    table, tuning = [], []
    previous = _index_tuning(tuned)

    started = time.process_time()

    def say(text):
        if verbose:
            print(f"{text} ({time.process_time() - started:.1f} s CPU)", flush=True)

    def run_row(method: str, row: Row, shot) -> Choice:
        """`choose_and_score` for one row at one count (or its earlier choice, from `tuned`); its tuning rows kept."""
        key = (method, row.kind, shot)
        if key in previous:
            records, chosen = previous[key]
            _check_tuned(key, records, row.grid)
            tuning.extend(records)
            return choose_and_score(row, draw_sets[shot], chosen=dict(zip(row.grid, row.candidates))[chosen])
        choice = choose_and_score(row, draw_sets[shot])
        tuning.extend({"method": method, "probe": row.kind, "labels_per_class": shot, "setting": setting_text(s),
                       "validation": v, "chosen": s == choice.chosen} for s, v in choice.validation.items())
        return choice

    def add_rows(method, probe, shot, accuracies: Dict[int, float]):
        table.extend({"method": method, "probe": probe, "labels_per_class": shot, "seed": seed, "accuracy": acc}
                     for seed, acc in accuracies.items())

    # 1. frozen features (fit, validation and test, once per feature set): linear probe and kNN
    features = {}
    if pixels:
        features["pixels"] = Features.standardise(*(s.images.flatten(1).float() for s in splits))
    frozen = {name: random_encoder(config) for name, config in random_encoders.items()}
    frozen.update(encoders)
    for name, encoder in frozen.items():
        features[name] = Features.standardise(*(embed(encoder, s.images, device=device) for s in splits))
    probes_chosen = {}  # (name, shot) -> (its LinearProbe, the chosen C): where fine-tuning starts
    for name, feats in features.items():
        for probe in (("linear",) if name == "pixels" else probes):
            wanted_shots = linear_shots if (probe == "linear" and name in fine_tune) else shots
            for shot in wanted_shots:
                row = LinearProbe(feats, splits, smoke) if probe == "linear" else KnnProbe(feats, splits, smoke)
                choice = run_row(name, row, shot)
                if probe == "linear":
                    probes_chosen[(name, shot)] = (row, choice.chosen)
                if shot in shots:  # a count scored only for fine-tuning to start from is not a row of the table
                    add_rows(name, probe, shot, choice.test)
        say(f"protocol: {name} probed")

    # 2. fine-tuning (LP-FT) from the tuned probe, BatchNorm statistics frozen
    for name in fine_tune:
        for shot in fine_tune_shots:
            linear, probe = probes_chosen[(name, shot)]
            choice = run_row(name, FineTune(encoders[name], linear, probe, splits, smoke, device), shot)
            add_rows(name, "fine-tune", shot, choice.test)
        say(f"protocol: {name} fine-tuned")

    # 3. from scratch: a random network and head trained on the labels alone
    for name, config in scratch.items():
        for shot in scratch_shots:
            choice = run_row(name, FromScratch(config, splits, smoke, device), shot)
            add_rows(name, "end-to-end", shot, choice.test)
        say(f"protocol: {name} trained from scratch")
    return ProtocolResult(pd.DataFrame(table), pd.DataFrame(tuning))


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
        index[(method, probe, shot)] = (records, parse_setting(rows[rows["chosen"]]["setting"].iloc[0]))
    return index


def _check_tuned(key: tuple, records: List[dict], grid: Sequence[Setting]):
    """An earlier tuning must have chosen among this protocol's candidates (else it is stale: tune again)."""
    found = sorted(setting_text(parse_setting(r["setting"])) for r in records)
    if found != sorted(setting_text(s) for s in grid):
        method, probe, shot = key
        raise ValueError(f"tuned: the rows of {method} / {probe} at {shot} labels per class chose among "
                         f"{[r['setting'] for r in records]}, not among this protocol's candidates "
                         f"{[setting_text(s) for s in grid]}; tune them again (scripts/tune_baselines.py writes "
                         f"the shipped from-scratch tables) or pass tuned=None")


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
