"""The one method interface: every registered method is a LightningModule that builds, steps, trains, saves and
loads the same way."""
import dataclasses
from pathlib import Path

import lightning
import pytest
import torch

import ssl_helpers
from ssl_helpers.methods import (REGISTRY, Method, load_method, load_or_pretrain, make_method, method_class,
                                 method_names, pretrain, save_method)
from ssl_helpers.models import SmallCNN

NAMES = method_names()


def images(n=16, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_the_registry_names_every_course_method_once_in_teaching_order():
    assert NAMES[:8] == ["masked", "mae", "rotation", "jigsaw", "inpainting", "colorization", "denoising", "simclr"]
    assert len(set(NAMES)) == len(NAMES)
    for name in NAMES:
        cls = method_class(name)
        assert issubclass(cls, Method) and cls.name == name
        assert cls.family in {"self-prediction", "contrastive", "non-contrastive", "representation-prediction"}, name
        assert cls.title and cls.notebook, f"{name}: title and notebook describe it in tables"


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_method_is_a_lightning_module_with_typed_options(name):
    method = make_method(name)
    assert isinstance(method, lightning.LightningModule)
    assert dataclasses.is_dataclass(method.options) and isinstance(method.options, method.Options)
    assert isinstance(dataclasses.asdict(method.options), dict)


def test_no_module_of_the_package_still_mentions_the_removed_train_simclr():
    package = Path(ssl_helpers.__file__).parent
    mentions = [str(path.relative_to(package)) for path in sorted(package.rglob("*.py"))
                if "train_simclr" in path.read_text(encoding="utf-8")]
    assert not (package / "simclr.py").exists()
    assert mentions == []


@pytest.mark.parametrize("name", NAMES)
def test_every_method_gives_a_finite_loss_with_gradients_for_encoder_and_head(name):
    torch.manual_seed(0)
    method = make_method(name)
    x = images(size=method.image_size)
    assert method.build(tuple(x.shape[1:]), width=8) is method
    method.generator = torch.Generator().manual_seed(0)
    loss = method.step(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    method.on_train_batch_end(loss, (x,), 0)  # momentum targets and queues move after the optimiser step
    trained = [p for p in method.encoder.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert trained, f"{name}: the loss does not reach the encoder"
    assert method.head is not None and all(p.grad is None or torch.isfinite(p.grad).all()
                                           for p in method.head.parameters())


def test_a_method_without_encoder_and_head_says_how_to_build_it():
    with pytest.raises(RuntimeError, match=r"call method.build\(image_shape\)"):
        make_method("rotation").step(images(2))


@pytest.mark.parametrize("name", NAMES)
def test_training_step_and_predict_before_build_say_how_to_build_it(name):
    """Not a TypeError deep inside: each method's own `training_step` (and `predict`, for the pretext tasks)
    checks first (`Method.check_built`, added to every subclass's hooks by `Method.__init_subclass__`)."""
    method = make_method(name)
    x = images(2, size=method.image_size)
    message = rf"the {name} method has no encoder and head yet: call method.build\(image_shape\) or train it"
    with pytest.raises(RuntimeError, match=message):
        method.training_step((x,), 0)
    if hasattr(method, "predict"):
        with pytest.raises(RuntimeError, match=message):
            method.predict(x)


def test_build_keeps_an_encoder_it_is_given():
    encoder = SmallCNN(width=4)
    method = make_method("rotation").build((3, 16, 16), encoder)
    assert method.encoder is encoder and method.image_shape == (3, 16, 16)


@pytest.mark.parametrize("name", NAMES)
def test_every_method_trains_saves_and_loads_back(name, tmp_path):
    method = make_method(name)
    x = images(size=method.image_size)
    encoder, history = pretrain(method, x, epochs=1, batch_size=8, width=8, device="cpu", progress=False)
    assert list(history["epoch"]) == [1] and history["loss"].notna().all()
    assert encoder is method.encoder
    path = save_method(method, tmp_path / f"{name}.pt")
    loaded, loaded_encoder, info = load_method(name, path)
    assert type(loaded) is type(method) and info["method"] == name and info["quick"] is False
    probe = images(2, size=method.image_size, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(loaded_encoder(probe), encoder.eval()(probe))
    for key, value in dataclasses.asdict(method.options).items():
        if not hasattr(value, "__dataclass_fields__"):
            assert getattr(loaded.options, key) == getattr(method.options, key), key


def test_pretrain_is_reproducible_and_leaves_the_global_random_state_alone():
    x = images()
    state = torch.get_rng_state()
    losses = [pretrain("denoising", x, epochs=2, batch_size=8, width=8, seed=3, device="cpu",
                       progress=False)[1]["loss"].tolist() for _ in range(2)]
    assert losses[0] == losses[1]
    assert torch.equal(torch.get_rng_state(), state)


def test_load_or_pretrain_loads_an_existing_checkpoint_and_refuses_a_wrong_one(tmp_path):
    from ssl_helpers.train import CheckpointError, save_checkpoint

    save_checkpoint(tmp_path / "rotation.pt", SmallCNN(width=4), method="jigsaw")
    with pytest.raises(CheckpointError, match="does not hold a 'rotation' method"):
        load_or_pretrain("rotation", tmp_path / "rotation.pt")


def test_a_registry_line_that_names_the_wrong_class_is_reported(monkeypatch):
    monkeypatch.setitem(REGISTRY, "broken", "ssl_helpers.methods.masked:MaskedTask")
    with pytest.raises(TypeError, match="is not a Method subclass named 'broken'"):
        method_class("broken")


def test_unknown_method_and_options_with_an_object_are_refused():
    with pytest.raises(ValueError, match="unknown method 'nope'; expected one of"):
        make_method("nope")
    with pytest.raises(ValueError, match="options can only be given with a method name"):
        make_method(make_method("masked"), mask_ratio=0.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        make_method("masked", nope=1)


def test_checkpoint_saved_before_an_option_existed_loads_with_what_it_was_trained_with(tmp_path):
    """`saved_before`: a "masked" checkpoint written before `patch_sizes` existed was trained on one patch size;
    it must load as such, not with today's default (1, 2, 4, 8)."""
    method = make_method("masked", patch_sizes=None).build((3, 16, 16), width=8)
    path = save_method(method, tmp_path / "masked.pt")
    payload = torch.load(path, weights_only=False)
    payload["extra"]["method_options"].pop("patch_sizes")            # as an old checkpoint has it
    torch.save(payload, path)
    loaded, _, _ = load_method("masked", path)
    assert loaded.options.patch_sizes is None
    fresh = make_method("masked")
    assert fresh.options.patch_sizes == (1, 2, 4, 8)
