"""The evaluation protocol: probes with known answers, the tidy label-efficiency table, baselines."""

import pandas as pd
import pytest
import torch

from ssl_helpers.data import labeled_subset
from ssl_helpers.evaluate import (baseline_table, embed, embedding_diagnostics, knn_accuracy, label_efficiency,
                                  linear_probe_accuracy, mean_accuracy, standardize, summarize,
                                  supervised_from_scratch)
from ssl_helpers.models import SmallCNN


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


def tiny_digits(digits, n=200):
    train, test = digits
    return train.subset(labeled_subset(train.labels, 20, seed=0)), test.subset(torch.arange(n))


def test_embed_is_frozen_and_batched(digits):
    encoder = SmallCNN(width=4).train()
    features = embed(encoder, digits[1].images[:50], batch_size=16)
    assert features.shape == (50, 16) and not features.requires_grad
    assert encoder.training  # restored after embedding
    assert torch.allclose(features, embed(encoder, digits[1].images[:50], batch_size=50), atol=1e-5)


def test_supervised_from_scratch_learns_from_few_labels(digits):
    train, test = tiny_digits(digits)
    subset = labeled_subset(train.labels, 10, seed=0)
    accuracy = supervised_from_scratch({"arch": "small_cnn", "in_channels": 3, "width": 8}, train, test, subset,
                                       steps=60)
    assert accuracy > 0.5  # chance is 0.1


def test_baseline_table_has_the_three_baselines(digits):
    train, test = tiny_digits(digits)
    table = baseline_table(train, test, {"arch": "small_cnn", "in_channels": 3, "width": 4}, shots=(1, 5),
                           seeds=2, supervised_steps=5)
    methods = table.groupby(["method", "probe"]).size().to_dict()
    assert methods == {("pixels", "linear"): 4, ("random encoder", "linear"): 4, ("random encoder", "knn"): 4,
                       ("supervised from scratch", "end-to-end"): 4}
    assert table.query("method == 'pixels' and labels_per_class == 5")["accuracy"].mean() > 0.6


def test_embedding_diagnostics_detect_collapse():
    collapsed = torch.ones(50, 8) + 1e-7 * torch.randn(50, 8)
    healthy = torch.randn(500, 8)
    assert embedding_diagnostics(collapsed)["mean_cosine"] > 0.99
    assert embedding_diagnostics(collapsed)["dead_dimensions"] == 8
    diagnostics = embedding_diagnostics(healthy)
    assert abs(diagnostics["mean_cosine"]) < 0.05 and diagnostics["effective_rank"] > 7
    with pytest.raises(ValueError, match="N >= 2"):
        embedding_diagnostics(torch.ones(1, 3))
