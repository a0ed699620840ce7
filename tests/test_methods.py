"""The one method interface: every registered method is a LightningModule that builds, steps, trains, saves and
loads the same way."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import lightning
import pytest
import torch

import ssl_helpers
from ssl_helpers.methods import (
    REGISTRY,
    Method,
    MethodSpec,
    load_method,
    load_or_pretrain,
    make_method,
    method_class,
    method_names,
    method_spec,
    pretrain,
    save_method,
)
from ssl_helpers.methods.options import MethodOptions
from ssl_helpers.models import SmallCNN

NAMES = method_names()


def images(n=16, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_the_registry_names_every_course_method_once_in_teaching_order():
    notebooks = [method_spec(name).notebook for name in NAMES]
    assert notebooks == sorted(notebooks), "method_names() lists the methods in the order the notebooks teach them"
    assert len(set(NAMES)) == len(NAMES)
    for name in NAMES:
        cls, spec = method_class(name), method_spec(name)
        assert issubclass(cls, Method) and cls.name == spec.name == name
        assert spec.family in {"self-prediction", "contrastive", "non-contrastive", "representation-prediction"}, name
        assert spec.title and spec.notebook, f"{name}: title and notebook describe it in tables"
        assert {"epochs", "batch_size", "lr"} <= set(spec.recipe) and spec.quick_epochs >= 1, name
        assert cls.spec is spec and make_method(name).spec is spec
        assert not any(hasattr(cls, field) for field in ("title", "family", "notebook", "recipe", "quick_epochs")), (
            f"{name}: what presents and schedules a method lives in its MethodSpec, not on the LightningModule")


def test_the_spec_is_frozen_and_the_registry_reads_it_without_importing_a_method():
    spec = method_spec("simclr")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.title = "changed"
    with pytest.raises(TypeError):
        spec.recipe["epochs"] = 1            # read-only: a copy (dict(spec.recipe)) is what a caller changes
    with pytest.raises(ValueError, match="family must be one of"):
        MethodSpec("x", "m:X", "X", "unknown", "00_none")
    code = ("import sys, ssl_helpers.methods as M; names = M.method_names('contrastive'); M.method_spec('dino'); "
            "print(names, [m for m in sys.modules if m.startswith('ssl_helpers.methods.') and "
            "m.rsplit('.', 1)[1] in M.REGISTRY])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['simclr', 'moco'] []"


@pytest.mark.parametrize("name", NAMES)
def test_every_option_is_declared_with_a_one_line_help(name):
    options = method_class(name).Options
    assert issubclass(options, MethodOptions) and "__post_init__" not in vars(options), name
    for field in dataclasses.fields(options):
        assert field.metadata.get("help") and "\n" not in field.metadata["help"], f"{name}.{field.name}"


@pytest.mark.parametrize("name, options, message", [
    ("simclr", {"temperature": 0}, "temperature must be a positive number, got 0"),
    ("simclr", {"hidden_dim": True}, "hidden_dim must be a positive integer, got True"),
    ("moco", {"momentum": 1.5}, r"momentum must be in \[0, 1\], got 1.5"),
    ("byol", {"momentum_schedule": "linear"}, r"momentum_schedule must be one of \['constant', 'cosine'\]"),
    ("dino", {"global_crops": 1, "local_crops": 0}, "DINO needs at least 2 views"),
    ("dino", {"local_crops": -1}, "local_crops must be a non-negative integer, got -1"),
    ("ijepa", {"min_context": 0}, "min_context must be a positive integer, got 0"),
    ("mae", {"mask_ratio": 1.0}, r"mask_ratio must be in \[0, 1\), got 1.0"),
    ("masked", {"patch_sizes": ()}, "patch_sizes must hold at least one patch size"),
    ("masked", {"patch_sizes": (2, 0)}, "patch_size must be a positive integer, got 0"),
    ("inpainting", {"box_size": 0}, "box_size must be a positive integer, got 0"),
    ("denoising", {"noise_level": -1}, "noise_level must be a number >= 0"),
])
def test_options_are_checked_by_their_field_declarations(name, options, message):
    with pytest.raises(ValueError, match=message):
        make_method(name, **options)


def test_options_are_converted_as_declared():
    """A checkpoint stores tuples as lists: the declared conversions give the tuples back."""
    dino = make_method("dino", global_scale=[0.5, 1.0]).options
    assert dino.global_scale == (0.5, 1.0) and isinstance(dino.global_scale, tuple)
    assert make_method("ijepa", target_scale=[1, 1]).options.target_scale == (1.0, 1.0)
    assert make_method("masked", patch_sizes=[2, 4]).options.patch_sizes == (2, 4)


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
    x = images(size=method.spec.image_size)
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
def test_stepping_or_training_an_unbuilt_method_says_how_to_build_it(name):
    """Not a TypeError deep inside: `step` checks first, and so does the Trainer's first hook (`setup`) when it is
    given a method that was never built; the method's own hooks are left as written (no wrapper in tracebacks)."""
    from ssl_helpers.train import train_module

    method = make_method(name)
    x = images(2, size=method.spec.image_size)
    message = rf"the {name} method has no encoder and head yet: call method.build\(image_shape\) or train it"
    with pytest.raises(RuntimeError, match=message):
        method.step(x)
    with pytest.raises(RuntimeError, match=message):
        train_module(method, (x,), epochs=1, batch_size=2, device="cpu", progress=False)
    for hook in ("training_step", "predict"):
        function = getattr(type(method), hook, None)
        assert function is None or not hasattr(function, "__wrapped__"), f"{name}.{hook} is wrapped"


def test_pretrain_takes_the_method_options_and_the_schedule_options_by_name(monkeypatch):
    from ssl_helpers.methods import training

    trained, train_module = [], training.train_module
    monkeypatch.setattr(training, "train_module", lambda method, *a, **k: trained.append(method) or
                        train_module(method, *a, **k))
    x = images(8, size=12)
    _, history = pretrain("simclr", x, temperature=0.2, out_dim=16, epochs=1, batch_size=4, lr=1e-3,
                          weight_decay=0.0, width=8, device="cpu", progress=False)
    (method,) = trained
    assert len(history) == 1 and (method.options.temperature, method.options.out_dim) == (0.2, 16)
    assert (method.schedule.lr, method.schedule.weight_decay) == (1e-3, 0.0)
    with pytest.raises(ValueError, match=r"unknown pretrain options \['temprature'\]; expected the simclr method's "
                                         r"options \(augment, hidden_dim, out_dim, temperature, projection\), "
                                         r"the schedule's \(epochs, batch_size, lr, .*\) or the Trainer's "
                                         r"\(precision, .*\)"):
        pretrain("simclr", x, temprature=0.2, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"method options \['temperature'\] can only be given with a method name"):
        pretrain(make_method("simclr"), x, temperature=0.2, epochs=1, progress=False)


def test_build_keeps_an_encoder_it_is_given():
    encoder = SmallCNN(width=4)
    method = make_method("rotation").build((3, 16, 16), encoder)
    assert method.encoder is encoder and method.image_shape == (3, 16, 16)


@pytest.mark.parametrize("name", NAMES)
def test_every_method_trains_saves_and_loads_back(name, tmp_path):
    method = make_method(name)
    x = images(size=method.spec.image_size)
    encoder, history = pretrain(method, x, epochs=1, batch_size=8, width=8, device="cpu", progress=False)
    assert list(history["epoch"]) == [1] and history["loss"].notna().all()
    assert encoder is method.encoder
    path = save_method(method, tmp_path / f"{name}.pt")
    loaded, loaded_encoder, info = load_method(name, path)
    assert type(loaded) is type(method) and info["method"] == name and info["quick"] is False
    probe = images(2, size=method.spec.image_size, seed=3)
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
    monkeypatch.setitem(REGISTRY, "broken", MethodSpec("broken", "ssl_helpers.methods.masked:MaskedTask", "broken",
                                                       "self-prediction", "02_masked_autoencoding"))
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


def test_simclr_gathers_the_views_of_other_processes_only_when_a_trainer_runs_it_on_several():
    """`nt_xent` never gathers by itself (gather=False by default); SimCLR asks for it when its Trainer has several
    processes (`method.distributed()`): here a stand-in Trainer of 2 without a process group, so the gather fails."""
    import inspect
    import types

    from ssl_helpers.losses import nt_xent

    assert inspect.signature(nt_xent).parameters["gather"].default is False
    method = make_method("simclr").build((3, 12, 12), width=8)
    x = images(4, size=12)
    assert not method.distributed() and torch.isfinite(method.step(x))
    method.trainer = types.SimpleNamespace(world_size=2)
    assert method.distributed()
    with pytest.raises(ValueError, match="gather=True needs an initialised torch.distributed process group"):
        method.step(x)
