"""Resumable training: `fit(..., checkpoint=folder)` (Lightning's `ModelCheckpoint` and `ckpt_path="last"`) saves
everything after each epoch, and a run interrupted after k epochs and started again gives the same loss history and
the same weights as one that was never interrupted."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ssl_helpers.methods import make_method, pretrain
from ssl_helpers.train import CheckpointError, estimate_step_seconds, fit


class Interrupted(Exception):
    """Stands in for a Colab session that ends in the middle of an epoch."""


def toy_data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 6, generator=generator)
    return x, (x[:, :1] - 2 * x[:, 1:2]).tanh()


def run(checkpoint, epochs=5, stop_at_step=None, init_seed=99, **options):
    """A tiny model whose loss draws from three random sources: the shuffling generator, a noise generator
    passed as `generators`, and the global RNG (dropout). Returns (history, model, noise generator)."""
    torch.manual_seed(init_seed)  # the initial weights and the global RNG (dropout)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
    noise = torch.Generator().manual_seed(5)
    steps = []

    def loss_fn(batch):
        x, y = batch
        x = x + 0.1 * torch.randn(x.shape, generator=noise)
        return F.mse_loss(model(x), y)

    def after_step():
        steps.append(1)
        if stop_at_step is not None and len(steps) == stop_at_step:
            raise Interrupted

    history = fit(loss_fn, model, toy_data(), epochs=epochs, batch_size=16, lr=0.01, seed=3, progress=False,
                  checkpoint=checkpoint, generators=(noise,), after_step=after_step, warmup_epochs=1, **options)
    return history, model, steps


@pytest.mark.parametrize("k", [1, 3])
def test_interrupted_after_k_epochs_and_resumed_equals_uninterrupted(tmp_path, k):
    reference, reference_model, _ = run(tmp_path / "reference")
    with pytest.raises(Interrupted):  # 6 steps per epoch: dies 2 steps into epoch k + 1
        run(tmp_path / "run", stop_at_step=6 * k + 2)
    saved = torch.load(tmp_path / "run" / "last.ckpt", weights_only=False)
    assert saved["epoch"] == k - 1 and len(saved["callbacks"]["RunState"]["history"]) == k
    resumed, resumed_model, steps = run(tmp_path / "run", init_seed=7)  # other weights, other RNG: replaced
    assert len(steps) == 6 * (5 - k)  # only the missing epochs were trained
    assert resumed["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert resumed["loss"].tolist() == reference["loss"].tolist()
    assert resumed["lr"].tolist() == reference["lr"].tolist()
    for a, b in zip(resumed_model.state_dict().values(), reference_model.state_dict().values()):
        assert torch.equal(a, b)


def test_a_finished_run_run_again_loads_and_trains_nothing(tmp_path):
    first, model, _ = run(tmp_path / "run", epochs=2)
    again, again_model, steps = run(tmp_path / "run", epochs=2)
    assert steps == [] and again["loss"].tolist() == first["loss"].tolist()
    assert torch.equal(again_model[0].weight, model[0].weight)


def test_a_checkpoint_from_other_settings_is_a_clear_error(tmp_path):
    run(tmp_path / "run", epochs=2)
    with pytest.raises(CheckpointError, match=r"other settings .*'epochs': \(2, 3\).*Delete its folder"):
        run(tmp_path / "run", epochs=3)
    with pytest.raises(ValueError, match="checkpoint must be a folder"):
        run(tmp_path / "file.pt")


def test_the_time_estimate_prints_and_changes_nothing(tmp_path, capsys):
    plain, plain_model, _ = run(None, epochs=2)
    estimated, estimated_model, _ = run(None, epochs=2, estimate=True)
    assert "time estimate on cpu, float32:" in capsys.readouterr().out
    assert estimated["loss"].tolist() == plain["loss"].tolist()
    assert torch.equal(estimated_model[0].weight, plain_model[0].weight)


def test_estimate_step_seconds_restores_weights_buffers_and_generators():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    generator = torch.Generator().manual_seed(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(32, 4)
    seconds = estimate_step_seconds(lambda b: model(b[0] + torch.rand(4, generator=generator)).pow(2).mean(),
                                    model, (x,), batch_size=16, generators=(generator,), steps=2, warmup=1)
    assert seconds > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # running stats too
    assert torch.equal(generator.get_state(), torch.Generator().manual_seed(0).get_state())


def test_pretrain_resumes_a_method_with_its_augmentation_generator(tmp_path, digits):
    """SimCLR draws its views from a generator owned by `pretrain`: it is saved and restored too."""
    images = digits[0].images[:64]

    def go(path, stop=None):
        def on_epoch_end(epoch):
            if epoch == stop:
                raise Interrupted
        method = make_method("simclr")
        _, history = pretrain(method, images, epochs=3, batch_size=32, width=4, progress=False,
                              checkpoint=path, on_epoch_end=on_epoch_end)
        return history

    reference = go(tmp_path / "reference")
    with pytest.raises(Interrupted):
        go(tmp_path / "run", stop=2)  # epoch 1 was saved; epoch 2 ended in the error before its save
    assert go(tmp_path / "run")["loss"].tolist() == reference["loss"].tolist()
