"""Score pre-trained encoders by the course protocol next to the two cheap baselines (pixels, random weights)."""
from __future__ import annotations

import pandas as pd

from ..evaluate import embed_split, label_efficiency, mean_accuracy, pixel_features
from ..models import build_encoder
from ..train import seed_everything

__all__ = ["score_against_baselines", "compare_to_baselines"]


def score_against_baselines(encoders: dict, train, test, shots=(1, 5, 10), seeds=5, probes=("linear",)):
    """The course protocol for pre-trained encoders next to the two cheap baselines, in one tidy table.

    encoders: {name: frozen encoder}. Rows for "pixels" (logistic regression on raw pixels) and "random
    encoder" (the first encoder's architecture, random weights, seed 0) come first; then each encoder.
    Columns as in `ssl_helpers.evaluate.label_efficiency` (method, probe, labels_per_class, seed, accuracy).
    """
    if not encoders:
        raise ValueError("encoders must name at least one encoder, e.g. {'masked': encoder}")
    seed_everything(0)
    random_encoder = build_encoder(next(iter(encoders.values())).config)
    features = {"pixels": pixel_features(train, test)}
    for name, encoder in {"random encoder": random_encoder, **encoders}.items():
        features[name] = embed_split(encoder, train, test, device="cpu")
    return label_efficiency(features, train.labels, test.labels, shots, seeds, probes)


BASELINES = ("pixels", "random encoder")


def compare_to_baselines(table, probe: str = "linear"):
    """How many accuracy points each pre-trained encoder is above (+) or below (-) each baseline.

    table: the tidy table of `score_against_baselines`. Returns (differences, verdicts): a wide table with
    rows (method, "vs pixels" | "vs random encoder") and a column per labels-per-class count, and one
    sentence per method saying which baselines its mean beats at every count, at some, or at none.
    """
    means = 100 * mean_accuracy(table[table["probe"] == probe]).droplevel("probe")
    missing = [b for b in BASELINES if b not in means.index]
    if missing:
        raise ValueError(f"table must hold the baselines {list(BASELINES)} (see score_against_baselines); "
                         f"missing {missing}")
    rows, verdicts = {}, {}
    for method in [m for m in means.index if m not in BASELINES]:
        parts = []
        for baseline in BASELINES:
            gap = means.loc[method] - means.loc[baseline]
            rows[(method, f"vs {baseline}")] = gap.round(1)
            wins = [str(k) for k, g in gap.items() if g > 0]
            if len(wins) == len(gap):
                parts.append(f"beats {baseline} at every label count")
            elif wins:
                parts.append(f"beats {baseline} only at {', '.join(wins)} labels per class")
            else:
                parts.append(f"does not beat {baseline}")
        verdicts[method] = f"{method}: " + "; ".join(parts)
    differences = pd.DataFrame(rows).T
    differences.columns.name = "labels per class"
    return differences, verdicts
