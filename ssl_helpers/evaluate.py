"""The pieces of the evaluation protocol every encoder in the course is scored with.

1. Embed the fixed train and test split with the frozen encoder: `embed`.
2. Draw a labeled subset of k images per class from train (seeded): `ssl_helpers.data.labeled_subset`.
3. Fit a probe on the subset, score it on the whole test split:
   - `linear_probe_accuracy`: multinomial logistic regression on standardised features (`fit_linear_probe`);
   - `knn_accuracy`: cosine-similarity kNN with similarity-weighted votes.
4. Repeat for k in 1, 5, 10, 50 and all labels, over several seeds: `label_efficiency` gives a tidy table
   (one row per method, probe, k and seed); `summarize` gives mean and spread. Whether one row is ahead of another
   is the course's one verdict rule, `ssl_helpers.verdicts` (over pre-training runs, not only label draws).

The whole protocol, with every setting chosen on a validation split among the same number of candidates for every
row, fine-tuning and the baselines, is `ssl_helpers.protocol.run_protocol`; `ssl_helpers.protocol.baseline_table`
runs it for the baselines: logistic regression on raw pixels, a randomly initialised encoder, and the same encoder
trained supervised from scratch on the same few labels. The fine-tuning pieces it shares with `train_classifier`
(`Standardize`, `freeze_batchnorm`, the LP-FT network) live here; the protocol imports this module, never the reverse.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .config import smoke_seeds
from .data import ImageSet, labeled_subset
from .models import LinearClassifier
from .train import fit, pick_device, seed_everything

__all__ = [
    "SHOTS",
    "batchnorm_from_data",
    "embed",
    "embed_split",
    "pixel_features",
    "standardize",
    "fit_linear_probe",
    "probe_predict",
    "linear_probe_accuracy",
    "knn_accuracy",
    "knn_predict",
    "partner_accuracy",
    "knn_monitor",
    "label_efficiency",
    "evaluate_encoder",
    "Standardize",
    "freeze_batchnorm",
    "train_classifier",
    "end_to_end_table",
    "summarize",
    "TUNING_SHOTS",
    "tune_on_validation",
    "chosen_setting",
    "PROBE_CS",
    "tuning_grid",
    "embedding_diagnostics",
]

SHOTS = (1, 5, 10, 50, "all")
"""Labels per class in the label-efficiency curve."""


@torch.no_grad()
def embed(encoder: nn.Module, images: Union[torch.Tensor, ImageSet], batch_size: int = 512,
          device=None) -> torch.Tensor:
    """Features of a frozen encoder: images (N, C, H, W) -> (N, D) float32 on the CPU, in eval mode."""
    if isinstance(images, ImageSet):
        images = images.images
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    device = pick_device(device) if not isinstance(device, torch.device) else device
    was_training = encoder.training
    encoder.eval().to(device)
    features = [encoder(images[i:i + batch_size].to(device)).float().cpu()
                for i in range(0, len(images), batch_size)]
    encoder.train(was_training)
    return torch.cat(features)


def embed_split(encoder: nn.Module, train: ImageSet, test: ImageSet, device=None):
    """Frozen features of both halves of a split: (train (N, D), test (M, D)), see `embed`."""
    return embed(encoder, train.images, device=device), embed(encoder, test.images, device=device)


def pixel_features(train: ImageSet, test: ImageSet):
    """Raw pixels as features, the baseline every encoder has to beat: (train (N, C*H*W), test (M, C*H*W))."""
    return train.images.flatten(1), test.images.flatten(1)


def standardize(train_features: torch.Tensor, *others: torch.Tensor, eps: float = 1e-6):
    """z = (x - mean) / std with the mean and std of `train_features` (all of train: labels not needed).

    Returns the standardised train features followed by each of `others`.
    """
    mean = train_features.mean(0, keepdim=True)
    std = train_features.std(0, keepdim=True).clamp_min(eps)
    return tuple((x - mean) / std for x in (train_features, *others))


def _check_features(train_x, train_y, test_x, test_y):
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"features must be (N, D) with the same D, got {tuple(train_x.shape)} and "
                         f"{tuple(test_x.shape)}")
    if train_y.shape != (train_x.shape[0],) or test_y.shape != (test_x.shape[0],):
        raise ValueError("labels must be (N,) and match their features")


def fit_linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, C: float = 0.1, max_iter: int = 500,
                     init: Optional[tuple] = None):
    """The multinomial logistic regression of `linear_probe_accuracy`, fitted: returns `(weight, bias, classes)`.

        p(y | x) = softmax(W x + b),   min_{W, b}  sum_i -log p(y_i | x_i) + ||W||^2 / (2 C)

    (scikit-learn's `LogisticRegression(C=C)` objective), solved exactly in float64 by full-batch L-BFGS with a
    strong-Wolfe line search on the analytic gradient (X^T (P - Y) + W / C and sum_i (P - Y)_i): 3-18x faster than
    scikit-learn's solver on these sizes, the same optimum. train_x: (n, D), train_y: (n,) -> weight (D, K) and
    bias (K,) in float64, classes (K,): the labels present in train_y, in increasing order (logit j is class
    classes[j]). init: a `(weight, bias, ...)` to start from (e.g. the solution for a nearby C).
    """
    if train_x.ndim != 2 or train_y.shape != (train_x.shape[0],):
        raise ValueError(f"train_x must be (n, D) and train_y (n,), got {tuple(train_x.shape)} and "
                         f"{tuple(train_y.shape)}")
    classes, targets = torch.unique(train_y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("a linear probe needs labeled examples of at least 2 classes")
    if C <= 0:
        raise ValueError(f"C (the inverse regularisation strength) must be > 0, got {C}")
    x = train_x.detach().double()
    onehot = F.one_hot(targets, len(classes)).double()
    if init is not None:
        weight, bias = init[0].detach().double().clone(), init[1].detach().double().clone()
    else:
        weight = torch.zeros(x.shape[1], len(classes), dtype=torch.float64)
        bias = torch.zeros(len(classes), dtype=torch.float64)
    weight.grad, bias.grad = torch.zeros_like(weight), torch.zeros_like(bias)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, tolerance_grad=1e-5,
                                  tolerance_change=1e-9, history_size=10, line_search_fn="strong_wolfe")

    def objective():
        logits = torch.addmm(bias, x, weight)
        log_normaliser = torch.logsumexp(logits, 1, keepdim=True)
        residual = torch.exp(logits - log_normaliser) - onehot          # P - Y, (n, K)
        torch.addmm(weight / C, x.T, residual, out=weight.grad)
        torch.sum(residual, 0, out=bias.grad)
        return log_normaliser.sum() - (logits * onehot).sum() + weight.pow(2).sum() / (2 * C)

    with torch.no_grad():
        optimizer.step(objective)
    weight.grad = bias.grad = None
    return weight, bias, classes


def probe_predict(probe, x: torch.Tensor) -> torch.Tensor:
    """Labels predicted by a fitted probe `(weight, bias, classes)` (see `fit_linear_probe`): x (m, D) -> (m,)."""
    weight, bias, classes = probe
    with torch.no_grad():
        return classes[(x.detach().double() @ weight + bias).argmax(1)]


def linear_probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                          test_y: torch.Tensor, C: float = 0.1, max_iter: int = 500) -> float:
    """Accuracy on test of a multinomial logistic regression fitted on (train_x, train_y) (`fit_linear_probe`).

        p(y | x) = softmax(W x + b),   min_{W, b}  sum_i -log p(y_i | x_i) + ||W||^2 / (2 C)

    train_x: (n, D), test_x: (m, D); standardise features beforehand (see `standardize`). Only the classes
    present in train_y can be predicted.
    """
    _check_features(train_x, train_y, test_x, test_y)
    probe = fit_linear_probe(train_x, train_y, C, max_iter)
    return float((probe_predict(probe, test_x) == test_y).double().mean())


def knn_predict(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, k: int = 20,
                temperature: float = 0.1) -> torch.Tensor:
    """Labels predicted by a weighted kNN classifier on cosine similarity.

        s_ij = cos(t_i, x_j); vote_c(t_i) = sum over the k most similar j with y_j = c of exp(s_ij / T);
        prediction_i = argmax_c vote_c(t_i)   (a tie goes to the smallest label)

    train_x: (n, D), train_y: (n,) integer labels >= 0, test_x: (m, D) -> (m,) int64 labels. Computed in
    float32; k is capped at n.
    """
    if k < 1 or temperature <= 0:
        raise ValueError(f"k must be >= 1 and temperature > 0, got k={k}, temperature={temperature}")
    k = min(k, len(train_x))
    similarity = F.normalize(test_x.float(), dim=1) @ F.normalize(train_x.float(), dim=1).T  # (m, n)
    top_sim, top_idx = similarity.topk(k, dim=1)
    votes = torch.zeros(len(test_x), int(train_y.max()) + 1)
    votes.scatter_add_(1, train_y[top_idx], (top_sim / temperature).exp())
    return votes.argmax(1)


def knn_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 k: int = 20, temperature: float = 0.1) -> float:
    """Accuracy of `knn_predict` (weighted kNN on cosine similarity) on (test_x, test_y).

    train_x: (n, D), test_x: (m, D). k is capped at n.
    """
    _check_features(train_x, train_y, test_x, test_y)
    return float((knn_predict(train_x, train_y, test_x, k, temperature) == test_y).float().mean())


def partner_accuracy(z_a: torch.Tensor, z_b: torch.Tensor) -> float:
    """The fraction of the 2N views whose most similar other view is their partner (SimCLR's pretext accuracy).

        z = [z_a; z_b] (2N, D), s_ik = cos(z_i, z_k); partner p(i) = (i + N) mod 2N;
        view i is right when s_{i p(i)} > s_ik for every k not in {i, p(i)} (a tie counts as wrong)

    z_a, z_b: (N, D) projections of the two views of N images, N >= 2 -> a float in [0, 1]; chance is about
    1 / (2N - 1). Computed in the inputs' dtype.
    """
    if z_a.ndim != 2 or z_a.shape != z_b.shape or len(z_a) < 2:
        raise ValueError(f"z_a and z_b must both have shape (N, D) with N >= 2, got {tuple(z_a.shape)} and "
                         f"{tuple(z_b.shape)}")
    n = len(z_a)
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    similarity = z @ z.T                                                       # (2N, 2N)
    rows = torch.arange(2 * n, device=z.device)
    partner = (rows + n) % (2 * n)
    positive = similarity[rows, partner].clone()
    similarity[rows, rows] = float("-inf")
    similarity[rows, partner] = float("-inf")
    return float((positive > similarity.max(dim=1).values).float().mean())


PROBES = {"linear": linear_probe_accuracy, "knn": knn_accuracy}


def label_efficiency(features: Dict[str, Tuple[torch.Tensor, torch.Tensor]], train_labels: torch.Tensor,
                     test_labels: torch.Tensor, shots: Sequence = SHOTS, seeds: Union[int, Iterable] = 5,
                     probes: Sequence[str] = ("linear", "knn"),
                     probe_options: Optional[Dict[str, dict]] = None) -> pd.DataFrame:
    """Probe accuracies of frozen features with k labels per class, over seeded draws of the labeled subset.

    features: {method name: (train features (N, D), test features (M, D))}, one entry per encoder.
    probe_options: keyword arguments per probe, e.g. {"linear": {"C": 0.3}} (the regularisation chosen on
    validation, see `tune_on_validation`). Returns a tidy table: columns method, probe, labels_per_class,
    seed, accuracy. With all labels there is only one subset, so it is scored once (seed 0).
    """
    probe_options = probe_options or {}
    seeds = smoke_seeds(range(seeds) if isinstance(seeds, int) else seeds)  # all of them, bar the smoke test
    unknown = set(probes) - set(PROBES)
    if unknown:
        raise ValueError(f"unknown probes {sorted(unknown)}; expected some of {sorted(PROBES)}")
    rows = []
    for method, (train_x, test_x) in features.items():
        train_z, test_z = standardize(train_x.float(), test_x.float())
        for shot in shots:
            for seed in (seeds[:1] if shot == "all" else seeds):
                subset = labeled_subset(train_labels, shot, seed)
                for probe in probes:
                    score = PROBES[probe](train_z[subset], train_labels[subset], test_z, test_labels,
                                          **probe_options.get(probe, {}))
                    rows.append({"method": method, "probe": probe, "labels_per_class": shot,
                                 "seed": seed, "accuracy": score})
    return pd.DataFrame(rows)


def evaluate_encoder(encoder: nn.Module, train: ImageSet, test: ImageSet, name: str = "encoder",
                     shots: Sequence = SHOTS, seeds: Union[int, Iterable] = 5,
                     probes: Sequence[str] = ("linear", "knn"), device=None) -> pd.DataFrame:
    """The protocol for one frozen encoder: embed train and test, then `label_efficiency`."""
    features = {name: embed_split(encoder, train, test, device)}
    return label_efficiency(features, train.labels, test.labels, shots, seeds, probes)


class Standardize(nn.Module):
    """z = (h - mean) / std with fixed statistics (the frozen features of all of fit): the probe's input scaling,
    kept inside the fine-tuned network so that it starts exactly as the tuned probe."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.detach().float().clone())
        self.register_buffer("std", std.detach().float().clone())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return (h - self.mean) / self.std


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """Put every BatchNorm layer of `module` in eval mode: its running statistics are used and not updated
    (a few labelled images per batch would otherwise replace the statistics learnt on all the unlabelled data)."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.eval()
    return module


def _lp_ft_model(encoder: nn.Module, probe, mean: torch.Tensor, std: torch.Tensor) -> nn.Sequential:
    """encoder (a fresh copy) -> Standardize(mean, std) -> Linear set to the probe: at step 0 it predicts exactly
    what the tuned probe predicts."""
    weight, bias, classes = probe
    if not torch.equal(classes, torch.arange(len(classes))):
        raise ValueError("fine-tuning needs every class 0..K-1 in the labelled draw")
    head = nn.Linear(weight.shape[0], weight.shape[1])
    with torch.no_grad():
        head.weight.copy_(weight.T.float())
        head.bias.copy_(bias.float())
    return nn.Sequential(copy.deepcopy(encoder).cpu(), Standardize(mean.flatten(), std.flatten()), head)


def train_classifier(encoder: nn.Module, train: ImageSet, test: ImageSet, subset: torch.Tensor,
                     steps: int = 100, batch_size: int = 32, lr: float = 3e-3, encoder_lr: Optional[float] = None,
                     probe_first: bool = False, probe_C: float = 0.1, seed: int = 0, device=None) -> float:
    """Test accuracy of `encoder` plus a new linear head trained with cross-entropy on `train[subset]` only.

        logits = W f(x) + b,   min  mean_i CE(logits_i, y_i)   over the labeled subset

    All of it is trained (end to end) for about `steps` AdamW steps on batches of up to `batch_size` images,
    cosine schedule. The head learns at `lr`; the encoder at `encoder_lr` (default: `lr`).

    probe_first ("LP-FT", Kumar et al. 2022): fine-tune a pre-trained encoder from its linear probe. The network
    starts as the encoder, the standardisation of its frozen features (statistics of all of `train`) and the
    probe fitted on the subset (`fit_linear_probe`, C = `probe_C`), so that at step 0 it predicts what the probe
    predicts; the encoder's BatchNorm statistics stay frozen (a batch of a few labelled images is too small to
    re-estimate them). The protocol's fine-tuning (`ssl_helpers.protocol`) also chooses C, steps and learning rate
    on validation, the frozen encoder among them.
    """
    seed_everything(seed)
    images, labels = train.images[subset], train.labels[subset]
    frozen_batchnorm = None
    if probe_first:
        features = embed(encoder, train.images, device=device)
        mean, std = features.mean(0, keepdim=True), features.std(0, keepdim=True).clamp_min(1e-6)
        probe = fit_linear_probe((features[subset] - mean) / std, labels, probe_C)
        model = _lp_ft_model(encoder, probe, mean, std)
        frozen_batchnorm = model[0]
        head, body = model[2], model[0]
    else:
        model = LinearClassifier(encoder, train.num_classes)
        head, body = model.head, model.encoder
    batch_size = min(batch_size, len(subset))
    epochs = max(1, round(steps / max(1, len(subset) // batch_size)))
    groups = [{"params": list(head.parameters()), "lr": lr},
              {"params": list(body.parameters()), "lr": lr if encoder_lr is None else encoder_lr}]

    def loss_fn(batch):
        if frozen_batchnorm is not None:
            freeze_batchnorm(frozen_batchnorm)
        x, y = batch
        return F.cross_entropy(model(x), y)

    fit(loss_fn, model, (images, labels), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        device=device, progress=False, param_groups=groups)
    model.eval()
    model_device = next(model.parameters()).device
    with torch.no_grad():
        predictions = torch.cat([model(x.to(model_device)).argmax(1).cpu() for x in test.images.split(512)])
    return float((predictions == test.labels).float().mean())


def end_to_end_table(make_encoder, train: ImageSet, test: ImageSet, name: str, shots: Sequence = SHOTS,
                     seeds: Union[int, Iterable] = 5, probe: str = "end-to-end", **train_options) -> pd.DataFrame:
    """`train_classifier` over every labels-per-class count and seed, as a tidy table (see `label_efficiency`).

    make_encoder() -> a fresh encoder for each run, called after seeding with the run's seed: e.g.
    `lambda: build_encoder(config)` (from scratch) or `lambda: copy.deepcopy(pretrained)` (fine-tuning).
    `train_options` go to `train_classifier` (steps, batch_size, lr, encoder_lr, device). As in
    `label_efficiency`, all labels make only one subset, so that count is trained and scored once (seed 0).
    """
    seeds = smoke_seeds(range(seeds) if isinstance(seeds, int) else seeds)  # all of them, bar the smoke test
    rows = []
    for shot in shots:
        for seed in (seeds[:1] if shot == "all" else seeds):
            subset = labeled_subset(train.labels, shot, seed)
            seed_everything(seed)
            score = train_classifier(make_encoder(), train, test, subset, seed=seed, **train_options)
            rows.append({"method": name, "probe": probe, "labels_per_class": shot, "seed": seed, "accuracy": score})
    return pd.DataFrame(rows)


TUNING_SHOTS = (1, 5, 10)
"""Labels per class that tuning on validation averages over (the few-label regime the course is about)."""


def tune_on_validation(candidates: Sequence[dict], score) -> pd.DataFrame:
    """Score every candidate setting on the validation split and mark the best: the protocol's one tuning rule.

        chosen = argmax over candidates c of  mean over labels-per-class k of  mean over seeds of  acc_val(c, k)

    candidates: a list of settings, e.g. [{"lr": 1e-3, "steps": 50}, ...]; score(**candidate) -> a tidy table
    (columns labels_per_class, accuracy, as `label_efficiency` returns) measured on **validation**, never test.
    Returns one row per candidate: its settings, the mean validation accuracy per labels-per-class count, their
    mean ("validation"), and "chosen" (True for exactly one row: the best, the first one on ties).
    """
    candidates = list(candidates)
    if not candidates or not all(isinstance(c, dict) for c in candidates):
        raise ValueError(f"candidates must be a non-empty list of dicts of settings, got {candidates!r}")
    rows = []
    for candidate in candidates:
        table = score(**candidate)
        per_shot = table.groupby("labels_per_class", sort=False)["accuracy"].mean()
        rows.append({**candidate, **{k: float(v) for k, v in per_shot.items()}, "validation": float(per_shot.mean())})
    grid = pd.DataFrame(rows)
    grid["chosen"] = False
    grid.loc[grid["validation"].idxmax(), "chosen"] = True
    return grid


def chosen_setting(grid: pd.DataFrame, keys: Optional[Sequence[str]] = None) -> dict:
    """The settings of the row `tune_on_validation` chose, as a dict (only `keys` if given).

    keys default to the grid's setting columns: every column before the first per-shot score.
    """
    if "chosen" not in grid or int(grid["chosen"].sum()) != 1:
        raise ValueError("grid must come from tune_on_validation: a 'chosen' column with exactly one True")
    row = grid[grid["chosen"]].iloc[0]
    if keys is None:
        score_columns = {"validation", "chosen", *TUNING_SHOTS, *[str(k) for k in SHOTS], *SHOTS}
        keys = [column for column in grid.columns if column not in score_columns]
    return {key: row[key].item() if hasattr(row[key], "item") else row[key] for key in keys}


PROBE_CS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
"""The candidate regularisations C of the linear probe, 7 (as many as every other row of the protocol gets, see
`ssl_helpers.protocol.CANDIDATES`); every feature set (pixels included) gets the same."""


TUNING_DIR = Path(__file__).resolve().parent / "tuning"
"""Where `scripts/tune_simclr.py` writes its validation grids (`<name>_validation.csv`), shipped with the package."""


def tuning_grid(name: str) -> pd.DataFrame:
    """A validation grid the package ships: "simclr" (`scripts/tune_simclr.py`: one row per candidate, its settings,
    mean validation accuracy at 1, 5, 10 labels per class, their mean, chosen) or "beyond" (`scripts/tune_beyond.py
    --table`: notebook 07's runs, one row per method and change, linear probe at 1 and 10 labels per class).
    """
    path = TUNING_DIR / f"{name}_validation.csv"
    if not path.is_file():
        known = sorted(p.name[:-len("_validation.csv")] for p in TUNING_DIR.glob("*_validation.csv"))
        raise FileNotFoundError(f"no tuning grid {name!r} ({path}); known: {known}. "
                                f"Run scripts/tune_simclr.py (simclr) or scripts/tune_beyond.py --table (beyond).")
    return pd.read_csv(path)


def summarize(table: pd.DataFrame, spread: str = "std") -> pd.DataFrame:
    """Mean and spread of accuracy per method, probe and labels per class.

    Returns a wide table: rows (method, probe), columns labels_per_class, cells "mean ± spread" in percent
    ("mean (1 draw)" where there is a single draw, e.g. all labels: no spread to show).
    `spread` is "std" (standard deviation over seeds) or "range" (max - min).
    """
    if spread not in ("std", "range"):
        raise ValueError(f"spread must be 'std' or 'range', got {spread!r}")
    order = list(dict.fromkeys(table["labels_per_class"]))
    grouped = table.groupby(["method", "probe", "labels_per_class"], sort=False)["accuracy"]
    stats = grouped.agg(["mean", "std", "min", "max", "count"]).reset_index()
    stats["spread"] = (stats["std"].fillna(0.0) if spread == "std" else stats["max"] - stats["min"])
    stats["cell"] = [f"{100 * m:.1f} ± {100 * s:.1f}" if n > 1 else f"{100 * m:.1f} (1 draw)"
                     for m, s, n in zip(stats["mean"], stats["spread"], stats["count"])]
    wide = stats.pivot(index=["method", "probe"], columns="labels_per_class", values="cell")
    methods = list(dict.fromkeys(table["method"]))
    wide = wide.reindex(columns=order)
    wide = wide.loc[sorted(wide.index, key=lambda key: (methods.index(key[0]), key[1]))]
    wide.columns.name = "labels per class"
    return wide


def mean_accuracy(table: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per (method, probe) and labels per class, as numbers (rows x columns like `summarize`)."""
    order = list(dict.fromkeys(table["labels_per_class"]))
    wide = table.groupby(["method", "probe", "labels_per_class"], sort=False)["accuracy"].mean().unstack()
    return wide.reindex(columns=order)


@torch.no_grad()
def embedding_diagnostics(features: torch.Tensor) -> dict:
    """Signs of collapse in a set of embeddings features: (N, D).

    - `effective_rank`: exp(entropy of the normalised singular values) of the centred features, in [1, D];
    - `mean_cosine`: mean cosine similarity between distinct embeddings (near 1 means collapse);
    - `dead_dimensions`: dimensions whose standard deviation is below 1e-4.
    """
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must have shape (N, D) with N >= 2, got {tuple(features.shape)}")
    x = features.float()
    singular = torch.linalg.svdvals(x - x.mean(0))
    p = singular / singular.sum().clamp_min(1e-12)
    entropy = -(p * p.clamp_min(1e-12).log()).sum()
    unit = F.normalize(x, dim=1)
    n = len(x)
    cosine = (unit @ unit.T).sum() - n
    return {"effective_rank": float(entropy.exp()), "mean_cosine": float(cosine / (n * (n - 1))),
            "dead_dimensions": int((x.std(0) < 1e-4).sum())}


def knn_monitor(encoder: nn.Module, train: ImageSet, test: ImageSet, device=None, k: int = 20) -> float:
    """kNN accuracy (cosine, all train labels) of the frozen encoder: a cheap signal during training."""
    train_h, test_h = embed_split(encoder, train, test, device)
    return knn_accuracy(train_h, train.labels, test_h, test.labels, k=k)


@torch.no_grad()
def batchnorm_from_data(network: nn.Module, images: torch.Tensor, batch_size: int = 256, device=None) -> nn.Module:
    """Re-estimate every BatchNorm layer's running mean and variance of `network` from `images` (N, C, H, W), in
    place, and return it in eval mode: mu = mean over all N images, var = their (unbiased) variance, per channel
    (cumulative average over the batches, `momentum=None`); weights untouched.

    An untrained network in eval mode normalises with BatchNorm's default statistics (mean 0, variance 1), which
    no data has: its outputs then say nothing about the network (e.g. std(z/|z|) = 0.001 for an untrained SimSiam
    where its outputs on data spread about 100x more). A trained network was used with statistics from data, so
    an untrained one compared with it must be too."""
    layers = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    device = pick_device(device) if not isinstance(device, torch.device) else device
    saved = [(m.momentum, m.training) for m in layers]
    network.to(device).eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over every batch
        m.train()
    for i in range(0, len(images), batch_size):
        network(images[i:i + batch_size].to(device))
    for m, (momentum, _) in zip(layers, saved):
        m.momentum = momentum
    return network.eval()
