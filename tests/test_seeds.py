"""Pre-training runs (`ssl_helpers.seeds`): a notebook's other runs written by an execution with SSL_RUN > 0 and
joined to the live run; the re-run check's comparison of two executions' verdict records."""
import pandas as pd
import pytest

from scripts_loader import load_script
from ssl_helpers import seeds
from ssl_helpers.seeds import RUN_SEED_STRIDE, run_seed, with_shipped_runs


def live_table(accuracy=0.5):
    return pd.DataFrame([{"method": "m", "probe": "linear", "labels_per_class": 10, "seed": s, "accuracy": accuracy}
                         for s in range(5)])


def test_run_seed_offsets_the_pretraining_seed_by_run(monkeypatch):
    monkeypatch.delenv("SSL_RUN", raising=False)
    assert run_seed(3) == 3
    monkeypatch.setenv("SSL_RUN", "2")
    assert run_seed(3) == 3 + 2 * RUN_SEED_STRIDE
    monkeypatch.setenv("SSL_RUN", "-1")
    with pytest.raises(ValueError, match="SSL_RUN must be a non-negative integer"):
        run_seed()


def test_an_other_run_writes_its_table_and_the_live_run_joins_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_RUN", "1")
    monkeypatch.delenv("SSL_RUNS_DIR", raising=False)
    with pytest.raises(ValueError, match="needs SSL_RUNS_DIR"):
        with_shipped_runs(live_table(), "99_x", "main")
    monkeypatch.setenv("SSL_RUNS_DIR", str(tmp_path))
    written = with_shipped_runs(live_table(0.6), "99_x", "main")
    assert set(written["run"]) == {1} and (tmp_path / "main.csv").is_file()
    # the script ships it as tuning/runs_99_x_test.csv with a "table" column; the live run joins it
    monkeypatch.setattr(seeds, "TUNING_DIR", tmp_path)
    shipped = pd.read_csv(tmp_path / "main.csv").assign(table="main")
    shipped.to_csv(tmp_path / "runs_99_x_test.csv", index=False)
    monkeypatch.setattr(seeds, "load_results", lambda name: pd.read_csv(tmp_path / f"{name}_test.csv"))
    monkeypatch.setenv("SSL_RUN", "0")
    monkeypatch.delenv("SSL_RUNS_DIR")
    joined = with_shipped_runs(live_table(0.5), "99_x", "main")
    assert sorted(joined["run"].unique()) == [0, 1]
    assert joined.groupby("run")["accuracy"].mean().to_dict() == {0: 0.5, 1: 0.6}
    assert set(with_shipped_runs(live_table(), "99_x", "main", shipped=False)["run"]) == {0}
    assert set(with_shipped_runs(live_table(), "99_x", "other key")["run"]) == {0}
    assert set(seeds.shipped_runs("99_x", "main")["run"]) == {1}  # what a notebook reads instead of computing
    with pytest.raises(ValueError, match="holds no table 'other key'"):
        seeds.shipped_runs("99_x", "other key")


def test_rerun_check_lists_the_verdicts_whose_kind_changed():
    rerun = load_script("scripts/rerun_check.py")
    base = {"a": "x", "b": "y", "probe": "linear", "probe_b": "linear", "labels_per_class": 10}
    one = {"measures": {"loss": 1.0}, "verdicts": [{**base, "kind": "ahead", "leader": "x", "text": "x ahead"},
                                                   {**base, "b": "z", "kind": "tie", "leader": None, "text": "tie"}]}
    two = {"measures": {"loss": 1.1}, "verdicts": [{**base, "kind": "tie", "leader": None, "text": "a tie"},
                                                   {**base, "b": "z", "kind": "tie", "leader": None, "text": "tie"}]}
    result = rerun.compare_records(one, two)
    assert result["measures_differ"] and result["stable"] == 1
    assert [c["2 threads"] for c in result["changed"]] == ["a tie"]
    assert not rerun.compare_records(one, {**one})["measures_differ"]


@pytest.mark.slow
def test_a_shipped_run_is_reproduced_by_training_it_again():
    """Run 1 of rotation on the main leaderboard, trained again here (scripts/seed_runs.py's recipe and seed) and
    scored by the same protocol, reproduces its shipped row. Tolerance: another CPU's float sums change a training
    like another seed does (scripts/rerun_check.py), so 3 standard deviations of the row across its shipped runs."""
    import torch
    from ssl_helpers.data import load_dataset, validation_split
    from ssl_helpers.methods import load_method
    from ssl_helpers.methods.training import EQUAL_BUDGET_DIR, train_at_budget
    from ssl_helpers.transfer import protocol_table

    runs = seeds.load_runs("seeds_equal_budget").query("method == 'rotation' and probe == 'linear' "
                                                       "and labels_per_class == 10")
    per_run = runs.groupby("run")["accuracy"].mean()
    tolerance = max(3 * per_run.std(), 0.005)
    _, _, info = load_method("rotation", EQUAL_BUDGET_DIR / "rotation.pt")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        method, _ = train_at_budget("rotation", info, int(info["extra"]["epochs"]), seed=1, progress=False,
                                    verbose=False)
        train, test = load_dataset("digits", image_size=16)
        fit, validation = validation_split(train)
        table, _ = protocol_table({"rotation": method.encoder.eval()}, fit, validation, test, fine_tune=(),
                                  shots=(10,), pixels=False)
    finally:
        torch.set_num_threads(threads)
    again = table.query("probe == 'linear'")["accuracy"].mean()
    print(f"rotation run 1, linear at 10 labels/class: shipped {per_run[1]:.4f}, again {again:.4f} "
          f"(tolerance {tolerance:.4f}: 3 x the std over runs {list(per_run.round(4))})")
    assert abs(again - per_run[1]) <= tolerance


def test_rerun_check_runs_another_cpus_kernels_than_this_machines():
    rerun = load_script("scripts/rerun_check.py")
    avx512 = "flags\t\t: fpu sse4_1 avx avx2 avx512f avx512bw\n"
    avx2_only = "flags\t\t: fpu sse4_1 avx avx2 fma\n"
    assert rerun.other_kernels(avx512) == rerun.OTHER_CPU  # an AMD EPYC's kernels
    assert rerun.OTHER_CPU == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert rerun.other_kernels(avx2_only) == rerun.OLDER_CPU  # AVX2 is its own: SSE4.1's instead
    assert rerun.other_kernels("") == rerun.OTHER_CPU           # no /proc/cpuinfo (macOS): AVX2's, as before
