"""The evaluation protocol: probes with known answers, the tidy label-efficiency table, baselines."""

import pandas as pd
import pytest
import torch

from ssl_helpers.data import labeled_subset, validation_split
from ssl_helpers.evaluate import (chosen_setting, embed, embedding_diagnostics, knn_accuracy, label_efficiency,
                                  linear_probe_accuracy, mean_accuracy, standardize, summarize, train_classifier,
                                  tune_on_validation, tuning_grid)
from ssl_helpers.models import SmallCNN, build_encoder
from ssl_helpers.protocol import CANDIDATES, SCRATCH_GRID, TrainSetting, baseline_table, chosen_settings, setting_text


def clusters(n_per_class=20, num_classes=3, dim=5, spread=0.1, seed=0):
    """Well separated Gaussian clusters: any sensible probe is perfect on them."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.eye(num_classes, dim) * 5
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    return centres[labels] + spread * torch.randn(len(labels), dim, generator=generator), labels


def test_probes_are_perfect_on_separated_clusters():
    x, y = clusters(seed=0)
    xt, yt = clusters(seed=1)
    assert linear_probe_accuracy(x, y, xt, yt) == 1.0
    assert knn_accuracy(x, y, xt, yt, k=5) == 1.0


def test_knn_known_answer_with_one_neighbour():
    train_x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    train_y = torch.tensor([0, 1])
    test_x = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    test_y = torch.tensor([0, 1, 1])
    assert knn_accuracy(train_x, train_y, test_x, test_y, k=1) == pytest.approx(2 / 3)
    # k larger than the training set is capped, not an error
    assert knn_accuracy(train_x, train_y, test_x, test_y, k=50) == pytest.approx(2 / 3)


def test_probe_errors():
    x, y = clusters()
    with pytest.raises(ValueError, match="features must be"):
        linear_probe_accuracy(x, y, x[:, :2], y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        linear_probe_accuracy(x[:5], torch.zeros(5, dtype=torch.long), x, y)
    with pytest.raises(ValueError, match="temperature > 0"):
        knn_accuracy(x, y, x, y, temperature=0)


def test_standardize_uses_train_statistics():
    train, test = torch.randn(100, 3) * 4 + 2, torch.randn(10, 3)
    z_train, z_test = standardize(train, test)
    assert torch.allclose(z_train.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z_test, (test - train.mean(0)) / train.std(0), atol=1e-5)


def test_label_efficiency_is_a_tidy_table_over_shots_and_seeds():
    x, y = clusters(n_per_class=12, seed=0)
    xt, yt = clusters(seed=1)
    table = label_efficiency({"a": (x, xt), "b": (-x, -xt)}, y, yt, shots=(1, 5, "all"), seeds=3)
    assert list(table.columns) == ["method", "probe", "labels_per_class", "seed", "accuracy"]
    # 2 methods x 2 probes x (1 and 5 labels: 3 seeds each; all: one subset) = 2 x 2 x 7
    assert len(table) == 28
    assert set(table.query("labels_per_class == 'all'")["seed"]) == {0}
    assert table["accuracy"].between(0, 1).all()


def test_summarize_gives_mean_and_spread_per_cell():
    table = pd.DataFrame({"method": ["m"] * 3, "probe": ["linear"] * 3, "labels_per_class": [1, 1, 1],
                          "seed": [0, 1, 2], "accuracy": [0.5, 0.6, 0.7]})
    wide = summarize(table)
    assert wide.loc[("m", "linear"), 1] == "60.0 ± 10.0"
    assert summarize(table, spread="range").loc[("m", "linear"), 1] == "60.0 ± 20.0"
    assert mean_accuracy(table).loc[("m", "linear"), 1] == pytest.approx(0.6)
    single = summarize(table.assign(labels_per_class="all").iloc[:1])
    assert single.loc[("m", "linear"), "all"] == "50.0 (1 draw)"  # no "±" for a single draw


def tiny_digits(digits, n=200):
    train, test = digits
    return train.subset(labeled_subset(train.labels, 20, seed=0)), test.subset(torch.arange(n))


def test_embed_is_frozen_and_batched(digits):
    encoder = SmallCNN(width=4).train()
    features = embed(encoder, digits[1].images[:50], batch_size=16)
    assert features.shape == (50, 16) and not features.requires_grad
    assert encoder.training  # restored after embedding
    assert torch.allclose(features, embed(encoder, digits[1].images[:50], batch_size=50), atol=1e-5)


def test_a_fresh_encoder_trained_on_few_labels_learns(digits):
    train, test = tiny_digits(digits)
    subset = labeled_subset(train.labels, 10, seed=0)
    torch.manual_seed(0)
    accuracy = train_classifier(build_encoder({"arch": "small_cnn", "in_channels": 3, "width": 8}), train, test,
                                subset, steps=60)
    assert accuracy > 0.5  # chance is 0.1


def scratch_choice(name, shots, lr=1e-2, steps=100):
    """A from-scratch tuning table (as `protocol.load_tuning` reads) that chose (lr, steps) at every count."""
    rows = [{"method": name, "probe": "end-to-end", "labels_per_class": k, "setting": setting_text(g),
             "validation": 0.5, "chosen": g == TrainSetting(lr, steps)} for k in shots for g in SCRATCH_GRID]
    return pd.DataFrame(rows)


def test_baseline_table_has_the_three_baselines(digits):
    train, test = tiny_digits(digits)
    fit, validation = validation_split(train)
    result = baseline_table(fit, validation, test, {"arch": "small_cnn", "in_channels": 3, "width": 4},
                            shots=(1, 5), seeds=2, scratch_tuned=scratch_choice("from scratch", (1, 5)))
    methods = result.table.groupby(["method", "probe"]).size().to_dict()
    assert methods == {("pixels", "linear"): 4, ("random encoder", "linear"): 4, ("random encoder", "knn"): 4,
                       ("from scratch", "end-to-end"): 4}
    assert result.table.query("method == 'pixels' and labels_per_class == 5")["accuracy"].mean() > 0.6
    assert set(result.tuning.groupby(["method", "probe", "labels_per_class"]).size()) == {CANDIDATES}


def test_embedding_diagnostics_detect_collapse():
    collapsed = torch.ones(50, 8) + 1e-7 * torch.randn(50, 8)
    healthy = torch.randn(500, 8)
    assert embedding_diagnostics(collapsed)["mean_cosine"] > 0.99
    assert embedding_diagnostics(collapsed)["dead_dimensions"] == 8
    diagnostics = embedding_diagnostics(healthy)
    assert abs(diagnostics["mean_cosine"]) < 0.05 and diagnostics["effective_rank"] > 7
    with pytest.raises(ValueError, match="N >= 2"):
        embedding_diagnostics(torch.ones(1, 3))


def scores(accuracies):
    """A tidy validation table with the given accuracy per labels-per-class count (1, 5, 10)."""
    return pd.DataFrame({"labels_per_class": [1, 5, 10], "accuracy": accuracies})


def test_tune_on_validation_chooses_the_best_mean_over_label_counts():
    by_lr = {0.1: [0.2, 0.9, 0.9], 0.01: [0.6, 0.7, 0.8], 0.001: [0.1, 0.2, 0.3]}  # means 0.667, 0.7, 0.2
    grid = tune_on_validation([{"lr": lr} for lr in by_lr], lambda lr: scores(by_lr[lr]))
    assert grid["lr"].tolist() == [0.1, 0.01, 0.001] and grid["chosen"].tolist() == [False, True, False]
    assert grid.loc[1, "validation"] == pytest.approx(0.7) and grid.loc[0, 1] == pytest.approx(0.2)
    assert chosen_setting(grid) == {"lr": 0.01}


def test_tune_on_validation_ties_go_to_the_first_candidate_and_bad_input_is_an_error():
    grid = tune_on_validation([{"C": 1}, {"C": 2}], lambda C: scores([0.5, 0.5, 0.5]))
    assert chosen_setting(grid) == {"C": 1}
    with pytest.raises(ValueError, match="candidates must be a non-empty list of dicts"):
        tune_on_validation([], lambda: scores([0.5] * 3))
    with pytest.raises(ValueError, match="exactly one True"):
        chosen_setting(grid.assign(chosen=True))


def test_probe_options_reach_the_probe():
    x, y = clusters(n_per_class=10, spread=3.0, seed=0)
    xt, yt = clusters(n_per_class=30, spread=3.0, seed=1)
    table = label_efficiency({"f": (x, xt)}, y, yt, shots=("all",), seeds=1, probes=("linear",),
                             probe_options={"linear": {"C": 1e-4}})
    train_z, test_z = standardize(x, xt)
    assert table["accuracy"].item() == linear_probe_accuracy(train_z, y, test_z, yt, C=1e-4)


def test_the_committed_tuning_grid_chooses_one_setting():
    grid = tuning_grid("simclr")
    assert len(grid) == 6 and set(chosen_setting(grid)) == {"lr", "temperature", "epochs"}  # the protocol's budget
    assert grid.loc[grid["chosen"], "validation"].item() == grid["validation"].max()
    with pytest.raises(FileNotFoundError, match="no tuning grid 'nothing'.*Run scripts/tune_simclr.py"):
        tuning_grid("nothing")


def test_the_committed_beyond_grid_holds_every_run_notebook_07_shows():
    """scripts/tune_beyond.py --table wrote it; notebook 07 prints it instead of a typed-in table."""
    from scripts_loader import load_script

    grid = tuning_grid("beyond")
    expected = [(run["name"], run["change"]) for run in load_script("scripts/tune_beyond.py").TABLE]
    assert list(zip(grid["method"], grid["change"])) == expected
    assert grid[["linear_1", "linear_10"]].stack().between(10, 100).all()  # accuracies in %, above chance
    assert (grid["linear_10"] >= grid["linear_1"]).all()


def test_baseline_table_uses_the_settings_chosen_on_validation(digits):
    train, test = tiny_digits(digits)
    fit, validation = validation_split(train)
    config = {"arch": "small_cnn", "in_channels": 3, "width": 4}
    result = baseline_table(fit, validation, test, config, shots=(5,), seeds=1,
                            scratch_tuned=scratch_choice("from scratch", (5,)))
    chosen = chosen_settings(result.tuning)
    C = chosen[("pixels", "linear", 5)].C
    pixels_fit, pixels_test = standardize(fit.images.flatten(1), test.images.flatten(1))
    subset = labeled_subset(fit.labels, 5, seed=0)
    expected = linear_probe_accuracy(pixels_fit[subset], fit.labels[subset], pixels_test, test.labels, C=C)
    assert result.table.query("method == 'pixels'")["accuracy"].item() == pytest.approx(expected, abs=1 / len(test))
    assert chosen[("from scratch", "end-to-end", 5)] == TrainSetting(lr=1e-2, steps=100)


@pytest.mark.parametrize("C", [0.01, 1.0])
def test_linear_probe_matches_scikit_learns_logistic_regression(C):
    from sklearn.linear_model import LogisticRegression

    x, y = clusters(n_per_class=15, num_classes=4, dim=12, spread=4.0, seed=0)
    xt, yt = clusters(n_per_class=50, num_classes=4, dim=12, spread=4.0, seed=1)
    reference = LogisticRegression(C=C, max_iter=5000, tol=1e-8).fit(x.numpy(), y.numpy())
    expected = float((reference.predict(xt.numpy()) == yt.numpy()).mean())
    assert linear_probe_accuracy(x, y, xt, yt, C=C) == pytest.approx(expected, abs=1 / len(yt))
    with pytest.raises(ValueError, match="C .* must be > 0, got 0"):
        linear_probe_accuracy(x, y, xt, yt, C=0)


def test_batchnorm_from_data_sets_the_statistics_of_the_data_and_leaves_weights_alone():
    from ssl_helpers.evaluate import batchnorm_from_data
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    images = 3 + 2 * torch.randn(64, 3, 8, 8)
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    batchnorm_from_data(net, images, batch_size=16, device="cpu")
    conv = net[0](images)
    assert torch.allclose(net[1].running_mean, conv.mean((0, 2, 3)), atol=1e-4)
    assert torch.allclose(net[1].running_var, conv.var((0, 2, 3)), rtol=0.02)  # a mean of per-batch variances
    assert not net.training and net[1].momentum == 0.1
    assert all(torch.equal(net.state_dict()[k], v) for k, v in weights.items())
    with pytest.raises(ValueError, match="images must have shape"):
        batchnorm_from_data(net, images[0])
