"""Transfer: loading the course's encoders (or quick stand-ins), the protocol's table, the leaderboard."""
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ssl_helpers.data import labeled_subset, validation_split
from ssl_helpers.evaluate import linear_probe_accuracy, standardize
from ssl_helpers.methods import make_method, save_method
from ssl_helpers.models import ResizeInput, SmallCNN
from ssl_helpers.protocol import SCRATCH_GRID, chosen_settings, setting_text
from ssl_helpers.train import load_checkpoint, save_checkpoint
from ssl_helpers.transfer import leaderboard, leaderboard_markdown, load_course_encoder, protocol_table


def test_resize_input_feeds_the_encoder_its_training_size():
    encoder = SmallCNN(width=4).eval()
    wrapped = ResizeInput(encoder, 12)
    x = torch.rand(3, 3, 16, 16)
    expected = encoder(F.interpolate(x, size=(12, 12), mode="bilinear", align_corners=False, antialias=True))
    assert torch.allclose(wrapped(x), expected) and wrapped.out_dim == encoder.out_dim


def test_a_saved_resize_input_reloads_with_its_weights(tmp_path):
    wrapped = ResizeInput(SmallCNN(width=4), 12).eval()
    save_checkpoint(tmp_path / "wrapped.pt", wrapped, method="simclr")
    loaded, info = load_checkpoint(tmp_path / "wrapped.pt")
    x = torch.rand(2, 3, 16, 16)
    assert info["config"]["encoder"] == wrapped.encoder.config
    torch.testing.assert_close(loaded(x), wrapped(x))


def saved(tmp_path, name, encoder, image_shape):
    method = make_method(name).build(image_shape, encoder)
    return save_method(method, tmp_path / f"{name}.pt")


def test_a_saved_encoder_is_loaded_and_wrapped_for_its_image_size(tmp_path):
    encoder = SmallCNN(width=4)
    saved(tmp_path, "simclr", encoder, (3, 12, 12))
    saved(tmp_path, "masked", encoder, (3, 16, 16))
    loaded, info = load_course_encoder("simclr", tmp_path)
    assert isinstance(loaded, ResizeInput) and loaded.size == 12 and info["quick"] is False
    plain, _ = load_course_encoder("masked", tmp_path)
    assert isinstance(plain, SmallCNN)


def test_a_missing_checkpoint_falls_back_to_the_shipped_one_and_says_so(tmp_path, capsys):
    """(Without a shipped one, a quick stand-in is trained: tests/test_shipped_checkpoints.py.)"""
    encoder, info = load_course_encoder("simclr", tmp_path, quick_epochs=1, progress=False)
    assert info["shipped"] is True and info["quick"] is False
    said = capsys.readouterr().out
    assert "No checkpoint at" in said and "shipped with ssl_helpers" in said
    assert encoder(torch.rand(2, 3, 12, 12)).shape == (2, 128)


def test_unknown_encoder_name():
    with pytest.raises(ValueError, match="unknown method 'no-such-method'; expected one of"):
        load_course_encoder("no-such-method")


def test_leaderboard_ranks_by_the_chosen_label_count():
    table = pd.DataFrame({"method": ["a", "a", "b", "b"], "probe": ["linear"] * 4, "labels_per_class": [1, 10, 1, 10],
                          "seed": [0] * 4, "accuracy": [0.9, 0.5, 0.1, 0.7]})
    board = leaderboard(table, sort_by=10)
    assert board["method"].tolist() == ["b", "a"] and board.loc[1, 10] == 70.0
    assert leaderboard(table, sort_by=1)["method"].tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="sort_by=50 is not a labels-per-class count"):
        leaderboard(table, sort_by=50)


def tiny_protocol(digits):
    train, test = digits
    fit, validation = validation_split(train.subset(labeled_subset(train.labels, 15, seed=0)))
    return fit, validation, test.subset(torch.arange(120))


def test_protocol_table_tunes_on_validation_and_scores_test_for_every_encoder(digits, monkeypatch):
    monkeypatch.setenv("SSL_SMOKE", "1")  # fine-tuning's and from scratch's candidates a few steps long (sizes only)
    fit, validation, test = tiny_protocol(digits)
    torch.manual_seed(0)
    encoders = {"a": SmallCNN(width=4), "b": SmallCNN(width=4)}
    scratch = pd.DataFrame([{"method": "from scratch", "probe": "end-to-end", "labels_per_class": k,
                             "setting": setting_text(g), "validation": 0.5, "chosen": i == 1}
                            for k in (1, 5, "all") for i, g in enumerate(SCRATCH_GRID)])
    table, tuning = protocol_table(encoders, fit, validation, test, scratch_config=encoders["a"].config,
                                   shots=(1, 5, "all"), fine_tune_shots=(1,), seeds=2, scratch_tuned=scratch)
    pairs = table.groupby(["method", "probe"]).size().to_dict()
    assert pairs == {("pixels", "linear"): 5, ("a", "linear"): 5, ("a", "knn"): 5, ("b", "linear"): 5,
                     ("b", "knn"): 5, ("a", "fine-tune"): 2, ("b", "fine-tune"): 2, ("from scratch", "end-to-end"): 5}
    assert set(tuning.groupby(["method", "probe", "labels_per_class"])["chosen"].sum()) == {1}
    # the test score is the reference probe with the C chosen on validation, labels drawn from fit
    C = chosen_settings(tuning)[("pixels", "linear", 5)].C
    subset = labeled_subset(fit.labels, 5, seed=1)
    fit_z, test_z = standardize(fit.images.flatten(1), test.images.flatten(1))
    expected = linear_probe_accuracy(fit_z[subset], fit.labels[subset], test_z, test.labels, C=C)
    score = table.query("method == 'pixels' and labels_per_class == 5 and seed == 1")["accuracy"].item()
    assert score == pytest.approx(expected, abs=1.01 / len(test))
    # tuning never sees test: another test split leaves every tuning score unchanged
    _, tuning_again = protocol_table(encoders, fit, validation, test.subset(torch.arange(60, 120)), fine_tune=(),
                                     shots=(1,), seeds=2)
    pd.testing.assert_frame_equal(tuning[tuning["labels_per_class"] == 1].query("probe in ('linear', 'knn')")
                                  .reset_index(drop=True), tuning_again, check_dtype=False)
    with pytest.raises(ValueError, match=r"fine_tune names \['c'\]"):
        protocol_table(encoders, fit, validation, test, fine_tune=["c"])


def test_leaderboard_shows_the_budget_of_every_pre_trained_row():
    table = pd.DataFrame({"method": ["a", "pixels"], "probe": ["linear", "linear"], "labels_per_class": [10, 10],
                          "seed": [0, 0], "accuracy": [0.5, 0.25]})
    board = leaderboard(table, budgets={"a": "6 ep = 8k img"})
    assert board["budget"].tolist() == ["6 ep = 8k img", "—"]
    lines = leaderboard_markdown(board).splitlines()
    assert lines[0].endswith("| pre-training budget |") and lines[2] == "| 1 | a | linear | 50.0 | 6 ep = 8k img |"


def test_leaderboard_markdown_is_one_row_per_method_and_probe():
    table = pd.DataFrame({"method": ["a", "a", "b"], "probe": ["linear", "linear", "fine-tune"],
                          "labels_per_class": [1, 50, 1], "seed": [0] * 3, "accuracy": [0.5, 0.75, 0.25]})
    lines = leaderboard_markdown(leaderboard(table, sort_by=1)).splitlines()
    assert lines[0] == "| # | method | probe | 1 labels/class | 50 labels/class |"
    assert lines[2:] == ["| 1 | a | linear | 50.0 | 75.0 |", "| 2 | b | fine-tune | 25.0 | — |"]
