"""The verdict rule (`ssl_helpers.verdicts`): Student's t over pre-training runs, checked against scipy and a slow
reference written from the equation, on cases with a known answer, and calibrated on the shipped runs: a recipe
compared with itself is a tie, a known large difference is a lead."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ssl_helpers.seeds import add_runs, load_runs
from ssl_helpers.verdicts import ALPHA, MIN_RUNS, VerdictLog, compare, run_means, self_comparisons, verdict


def table_of(rows: dict, draws: int = 5, probe: str = "linear", k=10) -> pd.DataFrame:
    """{method: [[acc per draw] per run]} -> a tidy table with runs 0.. and draws 0.."""
    records = [{"method": m, "probe": probe, "labels_per_class": k, "run": r, "seed": s, "accuracy": acc}
               for m, runs in rows.items() for r, accs in enumerate(runs) for s, acc in enumerate(accs)]
    return pd.DataFrame(records)


def reference_t(x, y):
    """Student's two-sample t, pooled variance, written out: (t, df)."""
    nx, ny = len(x), len(y)
    mx, my = sum(x) / nx, sum(y) / ny
    ssx, ssy = sum((v - mx) ** 2 for v in x), sum((v - my) ** 2 for v in y)
    df = nx + ny - 2
    pooled = (ssx + ssy) / df
    return (mx - my) / math.sqrt(pooled * (1 / nx + 1 / ny)), df


RNG = np.random.default_rng(0)
A = (0.90 + 0.01 * RNG.standard_normal((3, 5))).tolist()
B = (0.88 + 0.01 * RNG.standard_normal((4, 5))).tolist()


def test_unpaired_runs_are_students_two_sample_t_on_the_run_means():
    table = table_of({"a": A, "b": B})
    v = verdict(table, "a", "b")
    ma, mb = [100 * np.mean(r) for r in A], [100 * np.mean(r) for r in B]
    t, df = reference_t(ma, mb)
    assert v.df == df == 5 and v.runs == (3, 4) and v.draws == 5 and v.unit == "runs"
    assert v.mean == pytest.approx(np.mean(ma) - np.mean(mb))
    assert v.mean / v.se == pytest.approx(t)
    assert v.p == pytest.approx(stats.ttest_ind(ma, mb, equal_var=True).pvalue)


def test_paired_runs_are_the_paired_t_test():
    b3 = B[:3]
    v = verdict(table_of({"a": A, "b": b3}), "a", "b", paired=True)
    ma, mb = [np.mean(r) for r in A], [np.mean(r) for r in b3]
    assert v.df == 2
    assert v.p == pytest.approx(stats.ttest_rel(ma, mb).pvalue)
    with pytest.raises(ValueError, match="paired=True needs the same runs"):
        verdict(table_of({"a": A, "b": B}), "a", "b", paired=True)


def test_a_row_without_pretraining_is_a_constant_against_the_other_rows_runs():
    table = pd.concat([table_of({"a": A}), table_of({"pixels": [B[0]]})])
    v = verdict(table, "pixels", "a")
    ma = [100 * np.mean(r) for r in A]
    assert v.runs == (0, 3) and v.df == 2
    assert v.mean == pytest.approx(100 * np.mean(B[0]) - np.mean(ma))
    assert v.p == pytest.approx(stats.ttest_1samp(ma, 100 * np.mean(B[0])).pvalue)
    assert "3 pre-training runs of a" in v.text


def test_two_rows_without_pretraining_are_compared_over_the_label_draws():
    scratch = table_of({"from scratch": [B[1]]}, probe="end-to-end")
    table = pd.concat([scratch, table_of({"pixels": [B[0]]})])
    v = verdict(table, "from scratch", "pixels", "end-to-end", probe_b="linear")
    assert v.unit == "draws" and v.df == 4
    assert v.p == pytest.approx(stats.ttest_rel(B[1], B[0]).pvalue)
    assert "5 label draws" in v.text


def test_fewer_than_three_runs_is_no_verdict():
    v = verdict(table_of({"a": A[:1], "b": B}), "a", "b")
    assert v.kind == "no verdict" and v.tie and math.isnan(v.p)
    assert "one run: no verdict" in v.text
    assert "2 runs: no verdict" in compare(table_of({"a": A[:2], "b": B}), "a", "b")
    assert MIN_RUNS == 3


def test_a_table_without_a_run_column_is_one_run():
    table = table_of({"a": A, "b": B}).query("run == 0").drop(columns="run")
    assert verdict(table, "a", "b").kind == "no verdict"


def test_a_known_large_difference_is_a_lead_and_names_what_the_plus_minus_covers():
    table = table_of({"a": A, "b": (np.array(B) - 0.10).tolist()})
    v = verdict(table, "b", "a")
    assert v.kind == "ahead" and v.leader == "a" and v.mean < 0 and v.p < ALPHA
    assert v.text.startswith("a ahead of b by ") and "± over 3 and 4 pre-training runs" in v.text


def test_bad_input_names_the_problem():
    table = table_of({"a": A, "b": B})
    with pytest.raises(ValueError, match="compare two different rows"):
        verdict(table, "a", "a")
    with pytest.raises(ValueError, match="no 'linear' rows for method 'c'"):
        verdict(table, "a", "c")
    uneven = table[~((table["method"] == "a") & (table["run"] == 1) & (table["seed"] == 4))]
    with pytest.raises(ValueError, match="different label draws"):
        run_means(uneven, "a")


def test_under_the_null_the_rule_calls_about_five_percent_leads():
    """Simulated recipes whose runs differ by pre-training noise alone: 3 runs against 3, 2,000 times."""
    rng = np.random.default_rng(1)
    leads = 0
    for _ in range(2000):
        runs = 0.9 + 0.01 * rng.standard_normal((6, 1)) + 0.005 * rng.standard_normal((6, 5))
        table = table_of({"x": runs[:3].tolist(), "y": runs[3:].tolist()})
        leads += verdict(table, "x", "y").kind == "ahead"
    assert 0.03 <= leads / 2000 <= 0.07, leads


def test_add_runs_keeps_the_live_run_and_adds_the_others():
    live = table_of({"a": A[:1], "pixels": [B[0]]}).drop(columns="run")
    shipped = table_of({"a": [[0.0] * 5] + A[1:], "b": B})
    joined = add_runs(live, shipped)
    assert sorted(joined.query("method == 'a'")["run"].unique()) == [0, 1, 2]
    assert joined.query("method == 'a' and run == 0")["accuracy"].tolist() == A[0]  # the live run, not the shipped
    assert "b" not in set(joined["method"]) and joined.query("method == 'pixels'")["run"].tolist() == [0] * 5


def test_verdict_log_writes_a_machine_readable_record(tmp_path):
    log = VerdictLog("99_test", folder=tmp_path)
    log.compare(table_of({"a": A, "b": B}), "a", "b")
    record = json.loads((tmp_path / "99_test.json").read_text())
    assert record["notebook"] == "99_test" and record["verdicts"][0]["a"] == "a"
    assert record["verdicts"][0]["kind"] in ("ahead", "tie") and record["verdicts"][0]["runs"] == [3, 4]


def test_verdict_log_writes_nothing_without_a_folder(monkeypatch):
    monkeypatch.delenv("SSL_VERDICTS", raising=False)
    log = VerdictLog("99_test")
    assert log.path is None and log.compare(table_of({"a": A, "b": B}), "a", "b") == log.records[0]["text"]


# --- calibrated on the shipped pre-training runs (scripts/seed_runs.py) ---------------------------------------

def test_self_comparisons_split_six_runs_into_every_pair_of_groups_of_three():
    rows = table_of({"a": (0.9 + 0.01 * np.random.default_rng(2).standard_normal((6, 5))).tolist(), "b": A})
    verdicts = self_comparisons(rows)
    assert len(verdicts) == 10 and {v.a for v in verdicts} == {"a A"} and all(v.runs == (3, 3) for v in verdicts)

def test_a_recipe_compared_with_itself_is_a_tie_at_least_90_percent_of_the_time():
    runs = load_runs("seeds_equal_budget")
    verdicts = self_comparisons(runs)
    recipes = {v.a.removesuffix(" A") for v in verdicts}
    assert len(recipes) >= 2, f"need at least two recipes with 6 runs, got {recipes}"
    ties = sum(v.kind == "tie" for v in verdicts)
    rate = ties / len(verdicts)
    print(f"same-recipe comparisons (3 runs vs 3, {sorted(recipes)}): {ties} of {len(verdicts)} ties ({rate:.0%})")
    assert rate >= 0.90, [v.text for v in verdicts if v.kind != "tie"]


@pytest.mark.parametrize("method", ["vicreg", "simclr"])
def test_the_rule_still_calls_a_known_large_difference_a_lead(method):
    runs = load_runs("seeds_equal_budget")
    v = verdict(runs, method, "random encoder (12 px)", "linear", 1)
    print(v.text)
    assert v.kind == "ahead" and v.leader == method


def test_a_method_compared_with_itself_under_another_probe_keeps_both_rows():
    table = pd.concat([table_of({"m": A}), table_of({"m": (np.array(A) + 0.05).tolist()}, probe="fine-tune")])
    v = verdict(table, "m", "m", "fine-tune", 10, probe_b="linear", paired=True)
    assert v.kind == "ahead" and v.mean == pytest.approx(5.0) and v.leader == "m (fine-tune)"
