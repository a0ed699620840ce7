"""Score pre-trained encoders by the course protocol next to the two cheap baselines (pixels, random weights)."""
from __future__ import annotations

import pandas as pd

from ..data import validation_split
from ..evaluate import mean_accuracy, paired_difference
from ..protocol import run_protocol

__all__ = ["score_against_baselines", "compare_to_baselines"]


def score_against_baselines(encoders: dict, train, test, shots=(1, 5, 10), seeds=5, probes=("linear",)):
    """The course protocol (`ssl_helpers.protocol.run_protocol`) for pre-trained encoders next to the two cheap
    baselines, in one tidy table.

    encoders: {name: frozen encoder}; train: the whole train split (cut here into fit and validation with
    `validation_split`: labels are drawn from fit, each probe's setting is chosen on validation, test is scored
    once). Rows for "pixels" (logistic regression on raw pixels) and "random encoder" (the first encoder's
    architecture, random weights from seed 0) come first; then each encoder. Columns as in
    `ssl_helpers.evaluate.label_efficiency` (method, probe, labels_per_class, seed, accuracy). The baselines'
    numbers are the ones every notebook prints for them.
    """
    if not encoders:
        raise ValueError("encoders must name at least one encoder, e.g. {'masked': encoder}")
    fit, validation = validation_split(train)
    config = next(iter(encoders.values())).config
    result = run_protocol(encoders, fit, validation, test, shots=shots, seeds=seeds, probes=probes,
                          random_encoders={"random encoder": config}, device="cpu")
    return result.table


BASELINES = ("pixels", "random encoder")


def compare_to_baselines(table, probe: str = "linear"):
    """How many accuracy points each pre-trained encoder is above (+) or below (-) each baseline, and whether that
    difference is more than the spread over the seeded draws.

    table: the tidy table of `score_against_baselines`. Returns (differences, verdicts): a wide table with
    rows (method, "vs pixels" | "vs random encoder") and a column per labels-per-class count (mean paired
    difference in points), and one sentence per method saying which baselines it beats, ties (a difference within
    2 standard errors of the paired difference, `ssl_helpers.evaluate.paired_difference`) or trails, per count.
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
            outcome = {"beats": [], "ties": [], "trails": []}
            for k in gap.index:
                d = paired_difference(table, method, baseline, probe, k)
                outcome["ties" if d.tie else ("beats" if d.mean > 0 else "trails")].append(str(k))
            said = [f"{verb} at {', '.join(ks)}" for verb, ks in outcome.items() if ks]
            parts.append(f"vs {baseline}: " + ", ".join(said) + " labels per class")
        verdicts[method] = f"{method}: " + " | ".join(parts)
    differences = pd.DataFrame(rows).T
    differences.columns.name = "labels per class"
    return differences, verdicts
