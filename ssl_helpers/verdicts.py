"""Verdicts: is row A ahead of row B, or is it a tie? The one rule behind every comparison the course prints.

A row of a protocol table is (method, probe, labels_per_class); its accuracies come from pre-training **runs**
(column `run`: the pre-training seed, or the initialisation seed of a frozen random encoder; a table without the
column holds one run, run 0) and seeded **label draws** (column `seed`: the same draws for every run and row).
Two runs of one recipe differ by more than two label draws do, so the unit of a verdict is the run:

    m_A(r) = mean over the draws of acc_A(r, draw)           one number per pre-training run r of row A

- both rows pre-trained, at least `MIN_RUNS` runs each:
    unpaired (Student's two-sample t, pooled variance):
        d = mean(m_A) - mean(m_B),  se = s_p sqrt(1/n_A + 1/n_B),  s_p^2 = ((n_A-1) s_A^2 + (n_B-1) s_B^2) / df,
        df = n_A + n_B - 2
    paired by run (`paired=True`: the design gives run r of both rows the same seed, e.g. an ablation):
        d_r = m_A(r) - m_B(r),  d = mean(d_r),  se = std(d_r) / sqrt(n),  df = n - 1
- one row without pre-training (`pixels`; a network trained from scratch, probe "end-to-end"): it has no run
  spread, so it is a constant c = its mean over the draws, and the other row's runs are compared with it:
        d = mean(m_A) - c,  se = std(m_A) / sqrt(n_A),  df = n_A - 1
- neither row pre-trained: the draws are the unit, paired by draw:  d_s = acc_A(s) - acc_B(s),  df = n_draws - 1
- a pre-trained row with fewer than `MIN_RUNS` runs: no verdict ("one run: no verdict").

t = d / se, two-sided p-value from Student's t with df degrees of freedom; "ahead" when p < `ALPHA` (0.05), else
"a tie". `tests/test_verdicts.py` calibrates the rule on shipped runs: a recipe compared with itself (3 runs
against 3 others) comes out a tie, and a known large difference comes out ahead.
"""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

import numpy as np
import pandas as pd
from scipy import stats

from .config import settings

__all__ = ["ALPHA", "MIN_RUNS", "Verdict", "verdict", "compare", "run_means", "has_pretraining", "VerdictLog",
           "t_test", "self_comparisons"]

ALPHA = 0.05
"""Two-sided significance level: "ahead" when p < ALPHA."""
MIN_RUNS = 3
"""Pre-training runs a row needs for a verdict."""
UNTRAINED_METHODS = ("pixels",)
"""Rows with no pre-training (no run spread): raw pixels, and every row probed "end-to-end" (trained from scratch)."""


class Verdict(NamedTuple):
    """The comparison of row a with row b, in accuracy points (x 100).

    kind: "ahead" (`leader` is ahead), "tie", or "no verdict" (a pre-trained row has fewer than MIN_RUNS runs);
    mean: d, row a minus row b; se: its standard error; df: degrees of freedom; p: two-sided p-value (nan without
    a verdict); runs: (runs of a, runs of b), 0 for a row without pre-training; draws: the label draws per run;
    unit: "runs" or "draws" (what the ± covers); text: the sentence the notebooks print."""

    a: str
    b: str
    probe: str
    probe_b: str
    labels_per_class: object
    kind: str
    leader: Optional[str]
    mean: float
    se: float
    df: int
    p: float
    runs: Tuple[int, int]
    draws: int
    unit: str
    text: str

    @property
    def tie(self) -> bool:
        """True unless one row is ahead: a tie, or no verdict (neither is a lead to report)."""
        return self.kind != "ahead"

    def record(self) -> dict:
        """A JSON-ready record (what `VerdictLog` writes)."""
        record = self._asdict()
        record["runs"] = list(self.runs)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}


def has_pretraining(method: str, probe: str) -> bool:
    """False for the rows without pre-training: raw pixels and a network trained from scratch ("end-to-end")."""
    return not (method in UNTRAINED_METHODS or probe == "end-to-end")


def _rows(table: pd.DataFrame, method: str, probe: str, labels_per_class) -> pd.DataFrame:
    rows = table[(table["method"] == method) & (table["probe"] == probe)
                 & (table["labels_per_class"] == labels_per_class)]
    if rows.empty:
        raise ValueError(f"no {probe!r} rows for method {method!r} at labels_per_class={labels_per_class!r}; "
                         f"methods in the table: {sorted(set(table['method']))}")
    return rows.assign(run=rows["run"].fillna(0).astype(int)) if "run" in rows else rows.assign(run=0)


def run_means(table: pd.DataFrame, method: str, probe: str = "linear", labels_per_class=10) -> pd.Series:
    """m(r): the row's mean accuracy over its label draws, one value per pre-training run (index: run).

    Every run must be scored on the same draws (else the means are not comparable: a ValueError says which)."""
    rows = _rows(table, method, probe, labels_per_class)
    draws = rows.groupby("run")["seed"].apply(lambda s: tuple(sorted(s)))
    if draws.nunique() > 1:
        raise ValueError(f"the runs of {method!r} ({probe}, {labels_per_class} labels/class) were scored on "
                         f"different label draws: {dict(draws)}")
    return rows.groupby("run")["accuracy"].mean()


def t_test(mean: float, se: float, df: int) -> float:
    """Two-sided p-value of t = mean / se under Student's t with df degrees of freedom (0 when se = 0 and
    mean != 0; 1 when both are 0)."""
    if se == 0 or not np.isfinite(se):
        return 1.0 if mean == 0 else 0.0
    return float(2 * stats.t.sf(abs(mean / se), df))


def verdict(table: pd.DataFrame, a: str, b: str, probe: str = "linear", labels_per_class=10,
            probe_b: Optional[str] = None, paired: bool = False) -> Verdict:
    """Compare row (a, probe) with row (b, probe_b) at `labels_per_class` with the module's rule.

    table: tidy protocol table (method, probe, labels_per_class, seed, accuracy, and optionally run).
    paired: pair the two rows' runs by run number (only when the design gives both the same seeds); the runs of
    both rows must then be the same. Returns a `Verdict` whose `text` says the result and what its ± covers, e.g.
    "VICReg ahead of pixels by 6.2 ± 0.4 points (linear, 10 labels/class; ± over 3 pre-training runs, p = 0.002)".
    """
    probe_b = probe if probe_b is None else probe_b
    if a == b and probe == probe_b:
        raise ValueError(f"compare two different rows, got {a!r} ({probe}) twice")
    # rows are keyed 0 (a) and 1 (b): the same method may be compared with itself under another probe
    pairs = ((a, probe), (b, probe_b))
    rows = [_rows(table, name, row_probe, labels_per_class) for name, row_probe in pairs]
    trained = [has_pretraining(name, row_probe) for name, row_probe in pairs]
    means = [run_means(table, name, row_probe, labels_per_class) for name, row_probe in pairs]
    draws = int(rows[0].groupby("run").size().min())
    label_a, label_b = (f"{a} ({probe})", f"{b} ({probe_b})") if probe != probe_b else (a, b)
    where = f"{labels_per_class} labels/class" if probe != probe_b else f"{probe}, {labels_per_class} labels/class"
    runs = (len(means[0]) if trained[0] else 0, len(means[1]) if trained[1] else 0)
    base = dict(a=label_a, b=label_b, probe=probe, probe_b=probe_b, labels_per_class=labels_per_class, runs=runs,
                draws=draws)

    few = [i for i in (0, 1) if trained[i] and len(means[i]) < MIN_RUNS]
    if few:
        d = 100 * float(means[0].mean() - means[1].mean())
        count = min(len(means[i]) for i in few)
        said = "one run" if count == 1 else f"{count} runs"
        text = f"{label_a} vs {label_b}: {d:+.1f} points, {said}: no verdict ({where})"
        return Verdict(kind="no verdict", leader=None, mean=d, se=float("nan"), df=0, p=float("nan"), unit="runs",
                       text=text, **base)
    if trained[0] and trained[1]:
        if paired:
            if set(means[0].index) != set(means[1].index):
                raise ValueError(f"paired=True needs the same runs in both rows: {a!r} has {list(means[0].index)}, "
                                 f"{b!r} has {list(means[1].index)}")
            diff = 100 * (means[0] - means[1].loc[means[0].index])
            d, se, df = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff))), len(diff) - 1
            cover = f"{len(diff)} paired pre-training runs"
        else:
            x, y = 100 * means[0].to_numpy(), 100 * means[1].to_numpy()
            df = len(x) + len(y) - 2
            pooled = ((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / df
            d, se = float(x.mean() - y.mean()), float(np.sqrt(pooled * (1 / len(x) + 1 / len(y))))
            cover = (f"{len(x)} pre-training runs each" if len(x) == len(y)
                     else "{} and {} pre-training runs".format(*((len(x), len(y)) if d >= 0 else (len(y), len(x)))))
        unit = "runs"
    elif trained[0] or trained[1]:
        runs_of, constant = (0, 1) if trained[0] else (1, 0)
        x = 100 * means[runs_of].to_numpy()
        c = 100 * float(rows[constant]["accuracy"].mean())
        sign = 1 if runs_of == 0 else -1
        d, se, df = sign * float(x.mean() - c), float(x.std(ddof=1) / np.sqrt(len(x))), len(x) - 1
        cover = f"{len(x)} pre-training runs of {label_a if runs_of == 0 else label_b}"
        unit = "runs"
    else:
        pa = rows[0].groupby("seed")["accuracy"].mean()
        pb = rows[1].groupby("seed")["accuracy"].mean()
        shared = pa.index.intersection(pb.index)
        if len(shared) < 2:
            raise ValueError(f"{a!r} and {b!r} share {len(shared)} label draw(s) at labels_per_class="
                             f"{labels_per_class!r}: a verdict needs at least 2")
        diff = 100 * (pa.loc[shared] - pb.loc[shared])
        d, se, df = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff))), len(diff) - 1
        cover = f"{len(diff)} label draws"
        unit = "draws"
    p = t_test(d, se, df)
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < ALPHA else f"p = {p:.2f}"
    if p >= ALPHA:
        text = f"{label_a} and {label_b}: a tie ({d:+.1f} ± {se:.1f} points; {where}; ± over {cover}, {p_text})"
        return Verdict(kind="tie", leader=None, mean=d, se=se, df=df, p=p, unit=unit, text=text, **base)
    leader, other = (label_a, label_b) if d > 0 else (label_b, label_a)
    text = f"{leader} ahead of {other} by {abs(d):.1f} ± {se:.1f} points ({where}; ± over {cover}, {p_text})"
    return Verdict(kind="ahead", leader=leader, mean=d, se=se, df=df, p=p, unit=unit, text=text, **base)


def compare(table: pd.DataFrame, a: str, b: str, probe: str = "linear", labels_per_class=10,
            probe_b: Optional[str] = None, paired: bool = False) -> str:
    """`verdict(...).text`: the sentence every comparative claim in the notebooks prints or quotes."""
    return verdict(table, a, b, probe, labels_per_class, probe_b=probe_b, paired=paired).text


def self_comparisons(table: pd.DataFrame, group: int = 3) -> List[Verdict]:
    """The rule's calibration: a recipe compared with itself. For every (method, probe, labels_per_class) with at
    least 2 x `group` runs, its first 2 x `group` runs are split into two groups of `group` in every way (each split
    once) and the groups compared as two rows ("<method> A" and "<method> B"). A rule that is right about noise
    calls almost all of these a tie (at ALPHA = 0.05, about 95%)."""
    out = []
    for (method, probe, k), rows in table.groupby(["method", "probe", "labels_per_class"], sort=False):
        runs = sorted(rows["run"].dropna().unique()) if "run" in rows else []
        if len(runs) < 2 * group:
            continue
        used = rows[rows["run"].isin(runs[:2 * group])]
        for chosen in itertools.combinations(runs[:2 * group], group):
            if runs[0] not in chosen:  # each split once
                continue
            halves = used.assign(method=np.where(used["run"].isin(chosen), f"{method} A", f"{method} B"))
            out.append(verdict(halves, f"{method} A", f"{method} B", probe, k))
    return out


class VerdictLog:
    """The verdicts a notebook states, kept as a machine-readable record (`scripts/rerun_check.py` compares two
    executions' records, not their printed text).

        log = VerdictLog("06_simclr")
        v = log.verdict(table, "SimCLR", "pixels", "linear", 10)     # recorded, returned
        log.compare(table, ...)                                      # recorded, its text returned
        log.measure("SimCLR final loss", history["loss"].iloc[-1])  # a number the run produced (see below)

    Measures are what `scripts/rerun_check.py` compares first: two executions whose measures are equal ran the same
    floating-point sums, and their matching verdicts prove nothing. Each call appends to `<folder>/<notebook>.json` when a folder is given (default: `SSL_VERDICTS`, see
    `ssl_helpers.config.settings`; unset: nothing is written)."""

    def __init__(self, notebook: str, folder=None):
        self.notebook = notebook
        folder = settings().verdicts_dir if folder is None else folder
        self.path = None if folder is None else Path(folder) / f"{notebook}.json"
        self.records: List[dict] = []
        self.measures: dict = {}
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write()

    def verdict(self, table: pd.DataFrame, a: str, b: str, probe: str = "linear", labels_per_class=10,
                probe_b: Optional[str] = None, paired: bool = False) -> Verdict:
        result = verdict(table, a, b, probe, labels_per_class, probe_b=probe_b, paired=paired)
        self.records.append(result.record())
        self._write()
        return result

    def compare(self, *args, **kwargs) -> str:
        return self.verdict(*args, **kwargs).text

    def measure(self, name: str, value: float) -> float:
        """Record a number the run produced (a final loss): returns it."""
        self.measures[name] = float(value)
        self._write()
        return value

    def _write(self):
        if self.path is not None:
            self.path.write_text(json.dumps({"notebook": self.notebook, "measures": self.measures,
                                             "verdicts": self.records}, indent=1))
