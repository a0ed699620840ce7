"""The course's `lightning.Trainer` (`fit` for losses that are not a method, `train_module` for any
LightningModule), seeding, device choice and checkpoints."""
import lightning
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ssl_helpers.models import SmallCNN
from ssl_helpers.train import (CheckpointError, LossModule, Schedule, fit, load_checkpoint, minibatches, pick_device,
                               save_checkpoint, seed_everything, train_module)


def toy_regression(seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return x, y


def train_linear(seed, epochs=5, **options):
    torch.manual_seed(123)
    model = torch.nn.Linear(4, 1)
    x, y = toy_regression()
    history = fit(lambda batch: F.mse_loss(model(batch[0]), batch[1]), model, (x, y), epochs=epochs,
                  batch_size=32, lr=0.05, weight_decay=0.0, seed=seed, progress=False, **options)
    return model, history


def test_fit_learns_and_returns_a_per_epoch_history():
    model, history = train_linear(seed=0, epochs=60)
    assert isinstance(history, pd.DataFrame)
    assert list(history.columns[:4]) == ["epoch", "loss", "lr", "seconds"]
    assert history["epoch"].tolist() == list(range(1, 61))
    assert history["loss"].iloc[-1] < 0.01 * history["loss"].iloc[0]
    assert torch.allclose(model.weight, torch.tensor([[1.0, -2.0, 0.5, 3.0]]), atol=0.05)


def test_fit_is_reproducible_under_a_seed():
    a, history_a = train_linear(seed=7)
    b, history_b = train_linear(seed=7)
    c, history_c = train_linear(seed=8)
    assert torch.equal(a.weight, b.weight) and history_a["loss"].equals(history_b["loss"])
    assert not torch.equal(a.weight, c.weight)


def test_cosine_schedule_decays_to_zero_and_warmup_ramps_up():
    _, history = train_linear(seed=0, epochs=4)
    assert history["lr"].iloc[0] > history["lr"].iloc[-1] and history["lr"].iloc[-1] < 0.01
    _, constant = train_linear(seed=0, epochs=3, schedule="constant")
    assert constant["lr"].tolist() == [0.05] * 3


def test_on_epoch_end_metrics_land_in_the_history():
    _, history = train_linear(seed=0, epochs=3, on_epoch_end=lambda epoch: {"knn": epoch / 10})
    assert history["knn"].tolist() == [0.1, 0.2, 0.3]


def test_fit_rejects_bad_arguments():
    model = torch.nn.Linear(4, 1)
    x, y = toy_regression()
    loss = lambda batch: F.mse_loss(model(batch[0]), batch[1])  # noqa: E731
    with pytest.raises(ValueError, match="optimizer must be 'adamw', 'adam' or 'sgd'"):
        fit(loss, model, (x, y), optimizer="lion", progress=False)
    with pytest.raises(ValueError, match="same first dimension"):
        fit(loss, model, (x, y[:10]), progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(loss, model, (x, y), epochs=0, progress=False)


def test_a_diverging_loss_stops_with_a_clear_error():
    model = torch.nn.Linear(4, 1)
    x, y = toy_regression()
    with pytest.raises(FloatingPointError, match="try a lower lr"):
        fit(lambda batch: F.mse_loss(model(batch[0]), batch[1]) * float("inf"), model, (x, y), progress=False)


def test_fit_calls_after_step_once_per_optimiser_step_and_leaves_the_global_random_state_alone():
    steps = []
    model = torch.nn.Linear(4, 1)
    x, y = toy_regression()
    state = torch.get_rng_state()
    history = fit(lambda batch: F.mse_loss(model(batch[0]), batch[1]), model, (x, y), epochs=3, batch_size=32,
                  progress=False, after_step=lambda: steps.append(1))
    assert len(steps) == 3 * 256 // 32 and len(history) == 3
    assert torch.equal(torch.get_rng_state(), state)


def test_fit_and_pretrain_train_in_train_mode_even_given_modules_in_eval_mode():
    """A loaded encoder comes in eval mode; Lightning keeps each module's mode, so the training must set it: the
    old loop did (`module.train()`), else BatchNorm would train on running statistics it never updates."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1)).eval()
    x, y = toy_regression()
    modes = set()

    def loss_fn(batch):
        modes.update(m.training for m in model.modules())
        return F.mse_loss(model(batch[0]), batch[1])

    fit(loss_fn, model, (x, y), epochs=1, batch_size=32, progress=False)
    assert modes == {True}
    assert not model.training  # eval mode afterwards, as before
    from ssl_helpers.methods import make_method, pretrain

    encoder = SmallCNN(width=4).eval()
    norm = encoder.features[0][1]
    running = norm.running_mean.clone()
    pretrain(make_method("rotation"), torch.rand(16, 3, 8, 8), encoder=encoder, epochs=1, batch_size=8,
             device="cpu", progress=False)
    assert not torch.equal(norm.running_mean, running)  # BatchNorm trained in train mode, on batch statistics


def test_fit_trains_param_groups_at_their_own_learning_rates():
    torch.manual_seed(0)
    first, second = torch.nn.Linear(4, 4), torch.nn.Linear(4, 1)
    x, y = toy_regression()
    before = second.weight.detach().clone()
    history = fit(lambda batch: F.mse_loss(second(first(batch[0])), batch[1]), [first, second], (x, y), epochs=2,
                  batch_size=32, schedule="constant", progress=False,
                  param_groups=[{"params": first.parameters(), "lr": 1e-2},
                                {"params": second.parameters(), "lr": 0.0}])
    assert history["lr"].tolist() == [1e-2, 1e-2]  # the first group's
    assert torch.equal(second.weight, before)      # lr 0: not moved


def test_a_checkpoint_is_a_run_folder_not_a_file(tmp_path):
    with pytest.raises(ValueError, match="checkpoint must be a folder"):
        train_linear(seed=0, epochs=1, checkpoint=tmp_path / "run.pt")
    train_linear(seed=0, epochs=1, checkpoint=tmp_path / "run")
    assert (tmp_path / "run" / "last.ckpt").is_file()


def test_train_module_trains_any_lightning_module_and_keeps_the_last_short_batch_when_asked():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    x, y = toy_regression()
    rows = []
    module = LossModule(lambda batch: (rows.append(len(batch[0])), F.mse_loss(model(batch[0]), batch[1]))[1],
                        [model], Schedule(lr=0.05, weight_decay=0.0))
    assert isinstance(module, lightning.LightningModule)
    history = train_module(module, (x[:100], y[:100]), epochs=2, batch_size=32, device="cpu", progress=False,
                           drop_last=False, on_epoch_end=lambda epoch: {"training": module.training})
    assert sorted(rows[:4]) == [4, 32, 32, 32] and len(rows) == 8  # 100 = 3 x 32 + 4, every epoch
    assert history["training"].tolist() == [False, False]  # on_epoch_end sees the module in eval mode
    assert not module.training


def test_a_training_call_leaves_the_warning_filters_and_lightning_log_levels_as_they_were(tmp_path):
    """Lightning is quieted around the Trainer's construction and run only (`quiet_lightning`), not for the kernel."""
    import logging
    import warnings

    from ssl_helpers.train import LIGHTNING_LOGGERS, make_trainer

    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    saved = [logger.level for logger in loggers]
    try:
        loggers[0].setLevel(logging.DEBUG)  # a level the context turns down to WARNING, and must put back
        levels, filters = [logger.level for logger in loggers], list(warnings.filters)
        train_linear(seed=0, epochs=1, checkpoint=tmp_path / "run")
        make_trainer(epochs=1, device=torch.device("cpu"), progress=False)
        assert list(warnings.filters) == filters
        assert [logger.level for logger in loggers] == levels
    finally:
        for logger, level in zip(loggers, saved):
            logger.setLevel(level)


def test_quiet_lightning_ignores_its_warnings_and_logs_inside_the_block_only():
    import logging
    import warnings

    from ssl_helpers.train import quiet_lightning

    message = "The 'train_dataloader' does not have many workers which may be a bottleneck."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_lightning():
            warnings.warn(message)
            assert logging.getLogger("lightning.pytorch").getEffectiveLevel() == logging.WARNING
        warnings.warn(message)
    assert [str(w.message) for w in caught] == [message]  # the one outside the block


def test_minibatches_cover_every_index_once():
    batches = minibatches(10, 4, torch.Generator().manual_seed(0), drop_last=False)
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert [len(b) for b in minibatches(10, 4, drop_last=True)] == [4, 4]
    assert [len(b) for b in minibatches(3, 4, drop_last=True)] == [3]  # never zero batches


def test_seed_everything_seeds_torch():
    seed_everything(3)
    a = torch.rand(3)
    seed_everything(3)
    assert torch.equal(a, torch.rand(3))


def test_set_cpu_threads_leaves_pytorchs_count_unless_asked(monkeypatch):
    """The notebooks' `set_cpu_threads()` leaves the thread count as it is (or takes `SSL_THREADS`); tests and
    timing scripts pin one thread with `set_cpu_threads(1)`."""
    from ssl_helpers.train import set_cpu_threads

    threads = torch.get_num_threads()
    monkeypatch.delenv("SSL_THREADS", raising=False)
    try:
        torch.set_num_threads(2)
        assert set_cpu_threads() == 2 and set_cpu_threads(None) == 2
        assert set_cpu_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("SSL_THREADS", "2")
        assert set_cpu_threads() == 2 and set_cpu_threads(1) == 1  # an explicit number wins
        with pytest.raises(ValueError, match="threads must be a positive integer or None, got 0"):
            set_cpu_threads(0)
    finally:
        torch.set_num_threads(threads)


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device().type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")


def test_checkpoint_round_trip(tmp_path):
    encoder = SmallCNN(width=4)
    path = save_checkpoint(tmp_path / "sub" / "enc.pt", encoder, method="test", metrics={"knn": 0.5},
                           extra={"epochs": 3})
    loaded, info = load_checkpoint(path, expected_config=encoder.config)
    assert info == {"config": encoder.config, "method": "test", "metrics": {"knn": 0.5}, "extra": {"epochs": 3}}
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(loaded(x), encoder.eval()(x))


def test_checkpoint_in_float16_is_half_the_bytes_and_loads_back_in_float32(tmp_path):
    torch.manual_seed(0)
    encoder = SmallCNN(width=16)
    encoder.train()(torch.rand(8, 3, 16, 16))  # BatchNorm statistics and counts that are not the defaults
    head = {"weight": torch.randn(5, 7), "pointer": torch.tensor([3])}
    full = save_checkpoint(tmp_path / "full.pt", encoder, method="t", metrics={"knn": 0.5},
                           extra={"epochs": 3, "head_state_dict": head})
    half = save_checkpoint(tmp_path / "half.pt", encoder, method="t", metrics={"knn": 0.5},
                           extra={"epochs": 3, "head_state_dict": head}, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    stored = torch.load(half, weights_only=True)
    assert stored["dtype"] == "float16"
    assert {v.dtype for v in stored["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    assert stored["extra"]["head_state_dict"]["weight"].dtype == torch.float16
    assert stored["extra"]["head_state_dict"]["pointer"].dtype == torch.int64  # integers as they are

    loaded, info = load_checkpoint(half, expected_config=encoder.config)
    assert set(info) == {"config", "method", "metrics", "extra"} and info["extra"]["epochs"] == 3
    for key, original in encoder.state_dict().items():
        value = loaded.state_dict()[key]
        assert value.dtype == original.dtype, key  # float32 back; num_batches_tracked int64
        if original.is_floating_point():
            assert torch.equal(value, original.half().float()), key
        else:
            assert torch.equal(value, original), key
    assert int(loaded.state_dict()["features.0.1.num_batches_tracked"]) == 1
    assert info["extra"]["head_state_dict"]["weight"].dtype == torch.float32
    assert torch.equal(info["extra"]["head_state_dict"]["weight"], head["weight"].half().float())
    assert torch.equal(info["extra"]["head_state_dict"]["pointer"], head["pointer"])
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(loaded(x), encoder.eval()(x), atol=1e-2, rtol=1e-2)
    with pytest.raises(ValueError, match="dtype must be None or one of"):
        save_checkpoint(tmp_path / "int.pt", encoder, dtype=torch.int8)


def test_checkpoint_of_another_config_is_a_clear_error_naming_both(tmp_path):
    path = save_checkpoint(tmp_path / "enc.pt", SmallCNN(width=4))
    with pytest.raises(CheckpointError, match=r"config \{'arch': 'small_cnn', 'in_channels': 3, 'width': 4\}.*"
                                              r"\{'arch': 'small_cnn', 'in_channels': 3, 'width': 8\} was expected"):
        load_checkpoint(path, expected_config={"arch": "small_cnn", "in_channels": 3, "width": 8})


def test_checkpoint_whose_weights_do_not_fit_its_config(tmp_path):
    path = tmp_path / "enc.pt"
    save_checkpoint(path, SmallCNN(width=4))
    payload = torch.load(path, weights_only=True)
    payload["config"]["width"] = 8  # as if written by an older, different model
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"do not fit the model built from its config .*'width': 8"):
        load_checkpoint(path)


def test_missing_or_foreign_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .*train the model first"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="is not an ssl_helpers checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read the checkpoint"):
        load_checkpoint(tmp_path / "garbage.pt")
    old = tmp_path / "old.pt"
    save_checkpoint(old, SmallCNN(width=4))
    payload = torch.load(old, weights_only=True)
    payload["format"] = 0
    torch.save(payload, old)
    with pytest.raises(CheckpointError, match="checkpoint format 0"):
        load_checkpoint(old)
