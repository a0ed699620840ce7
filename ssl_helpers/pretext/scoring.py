"""Score pre-trained encoders by the course protocol next to the two cheap baselines (pixels, random weights), and
say with the course's one verdict rule (`ssl_helpers.verdicts`) where each is ahead of them, level, or behind."""
from __future__ import annotations

from typing import Optional

import pandas as pd

from ..data import validation_split
from ..protocol import random_encoder, run_protocol
from ..verdicts import VerdictLog, verdict

__all__ = ["score_against_baselines", "compare_to_baselines", "BASELINES"]


def score_against_baselines(encoders: dict, train, test, shots=(1, 5, 10), seeds=5, probes=("linear",),
                            random_seed: int = 0):
    """The course protocol (`ssl_helpers.protocol.run_protocol`) for pre-trained encoders next to the two cheap
    baselines, in one tidy table.

    encoders: {name: frozen encoder}; train: the whole train split (cut here into fit and validation with
    `validation_split`: labels are drawn from fit, each probe's setting is chosen on validation, test is scored
    once). Rows for "pixels" (logistic regression on raw pixels) and "random encoder" (the first encoder's
    architecture, random weights from initialisation seed `random_seed`: 0, the one every notebook prints, in the
    live run; `seeds.run_seed(0)` in a notebook's other runs) come first; then each encoder. Columns: method,
    probe, labels_per_class, seed (the label draw), accuracy.
    """
    if not encoders:
        raise ValueError("encoders must name at least one encoder, e.g. {'masked': encoder}")
    fit, validation = validation_split(train)
    config = next(iter(encoders.values())).config
    frozen = {"random encoder": random_encoder(config, seed=random_seed), **encoders}
    return run_protocol(frozen, fit, validation, test, shots=shots, seeds=seeds, probes=probes, device="cpu").table


BASELINES = ("pixels", "random encoder")
WORDS = {"ahead": "ahead", "tie": "a tie", "behind": "behind", "no verdict": "no verdict"}


def compare_to_baselines(table: pd.DataFrame, probe: str = "linear", log: Optional[VerdictLog] = None):
    """Each pre-trained encoder of `table` against each baseline, per labels-per-class count, with the course's
    verdict rule (`ssl_helpers.verdicts.verdict`: per-run means over the label draws, Student's t over the
    pre-training runs; pixels, which has no pre-training, is a constant; a row with fewer than 3 runs gets no
    verdict).

    table: a `score_against_baselines` table with a `run` column (the live run joined with the shipped ones,
    `seeds.with_shipped_runs`; without it, one run). log: the notebook's `VerdictLog`, which records every verdict
    (None: not recorded). Returns (differences, sentences):
    - differences: a wide table, rows (method, "vs pixels" | "vs random encoder"), a column per count: the
      encoder's mean minus the baseline's, in points (the verdict's d);
    - sentences: {method: "rotation vs pixels: behind at 1 (-32.7 ± 1.1), 5 (...) | vs random encoder: a tie at
      1 (...); behind at 5 (...) (at k labels per class, in points; ± over 3 pre-training runs of rotation and 3
      initialisation seeds of the random encoder)"}: "ahead" / "behind" where the rule calls a row ahead, "a tie",
      or "no verdict" (fewer than 3 runs).
    """
    rows = table[table["probe"] == probe]
    missing = [b for b in BASELINES if b not in set(rows["method"])]
    if missing:
        raise ValueError(f"table must hold the baselines {list(BASELINES)} (see score_against_baselines); "
                         f"missing {missing}")
    judge = verdict if log is None else log.verdict
    counts = list(dict.fromkeys(rows["labels_per_class"]))
    differences, sentences = {}, {}
    for method in [m for m in dict.fromkeys(rows["method"]) if m not in BASELINES]:
        parts, runs = [], {}
        for baseline in BASELINES:
            found = {k: judge(table, method, baseline, probe, k) for k in counts}
            differences[(method, f"vs {baseline}")] = pd.Series({k: round(v.mean, 1) for k, v in found.items()})
            by_outcome = {}
            for k, v in found.items():
                outcome = "tie" if v.kind == "tie" else v.kind if v.kind == "no verdict" else (
                    "ahead" if v.mean > 0 else "behind")
                said = f"{k} ({v.mean:+.1f})" if v.kind == "no verdict" else f"{k} ({v.mean:+.1f} ± {v.se:.1f})"
                by_outcome.setdefault(outcome, []).append(said)
                runs[baseline] = v.runs
            parts.append(f"vs {baseline}: " + "; ".join(f"{WORDS[o]} at {', '.join(said)}"
                                                        for o, said in by_outcome.items()))
        n_method = runs["pixels"][0]
        n_random = runs["random encoder"][1]
        cover = (f"at k labels per class, in points; ± over {n_method} pre-training run{'s' if n_method != 1 else ''}"
                 f" of {method} and {n_random} initialisation seed{'s' if n_random != 1 else ''} of the random encoder")
        sentences[method] = f"{method} " + " | ".join(parts) + f" ({cover})"
    differences = pd.DataFrame(differences).T
    differences.columns.name = "labels per class"
    return differences, sentences
