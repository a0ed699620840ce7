"""The command line (`ssl-pretrain`, `ssl-simclr`) helps instead of surprising.

1. `--help` ends with a CPU example and a GPU example.
2. Every registered method's options are flags, generated from its `Options` dataclass: `--method NAME --help`
   lists each field (with its help, type and default) and a flag reaches `make_method` with its type.
3. Defaults fit the dataset: digits -> the method's CPU recipe and a small CNN; CIFAR-10 -> ResNet-18, 100 epochs.
4. Every bad value is a one-line argparse usage error (exit status 2, no traceback) whose text is asserted here,
   a value the method's `Options` reject included.
5. Any registered method trains in one process and its checkpoint loads back with `load_method`; a second run
   does not overwrite the first checkpoint without `--overwrite`.
6. Any method may run under DDP (`--devices`, `--num-nodes`, `--strategy`, or torchrun): the options reach
   `pretrain` and its `lightning.Trainer` (what DDP computes is tested in `test_methods_distributed.py`).
"""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

from ssl_helpers import cli
from ssl_helpers.methods import load_method, make_method, method_class, method_names


def usage_error(capsys, argv, **kwargs) -> str:
    """Run the CLI on `argv`; it must exit with status 2 and a one-line error after the usage lines."""
    with pytest.raises(SystemExit) as exit_info:
        cli.train_from_args(argv, **kwargs)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(error_lines) == 1, err
    return error_lines[0]


@pytest.fixture(autouse=True)
def checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    return tmp_path / "checkpoints"


def test_help_has_a_cpu_and_a_gpu_example(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(["--help"], prog="ssl-simclr", method="simclr")
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    epilog = text[text.index("examples:"):]
    assert "CPU" in epilog and "ssl-simclr --dataset digits" in epilog
    assert "GPU" in epilog and "ssl-simclr --dataset cifar10 --download" in epilog
    assert "torchrun" in epilog


def help_text(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", method_names())
def test_help_lists_every_option_of_every_method(capsys, name):
    text = help_text(capsys, ["--method", name])
    group = text[text.index(f"options of the {name} method"):text.index("examples:")]
    fields = dataclasses.fields(method_class(name).Options)
    flags = {flag.field: flag for flag in cli.method_flags(name, cli.build_parser().common_flags)}
    assert list(flags) == [field.name for field in fields]
    for field in fields:
        flag = flags[field.name]
        if flag.flag is None:  # no type on the command line: named in the group's text, with --option
            assert f"{field.name} (" in group and "--option" in group
            continue
        assert flag.flag in group
        words = " ".join(group[group.index(flag.flag):].split())  # from the flag on, the help unwrapped
        help_words = " ".join(str(field.metadata.get("help") or field.name.replace("_", " ")).split())
        assert help_words[:40] in words, (flag.flag, words[:200])
        if field.default is not dataclasses.MISSING:
            assert f"default: {field.default!r}" in words


def test_help_without_a_method_shows_simclrs_options_and_how_to_see_another(capsys):
    text = help_text(capsys, [])
    assert "options of the simclr method" in text and "--temperature FLOAT" in text
    assert "--method NAME --help" in text


def test_vicregs_help_lists_its_options_with_types_and_defaults(capsys):
    text = " ".join(help_text(capsys, ["--method", "vicreg"]).split())
    for flag, default in [("--invariance-weight FLOAT", 25.0), ("--variance-weight FLOAT", 25.0),
                          ("--covariance-weight FLOAT", 1.0)]:
        assert flag in text and f"float, default: {default!r}" in text
    assert "--augment {digits,simclr,small}" in text and "--temperature" not in text


def test_a_flag_reaches_the_method_with_its_type():
    args = cli.parse_args(["--method", "vicreg", "--variance-weight", "10", "--out-dim", "32"])
    assert args.method_options == {"augment": "digits", "variance_weight": 10.0, "out_dim": 32}
    method = make_method(args.method, **args.method_options)
    assert type(method) is method_class("vicreg")
    assert method.options.variance_weight == 10.0 and isinstance(method.options.variance_weight, float)
    assert method.options.out_dim == 32 and method.options.invariance_weight == 25.0  # unset: the default


def test_generated_flags_cover_bools_optionals_tuples_and_presets():
    flags = {flag.field: flag for flag in cli.method_flags("dino")}
    assert flags["centering"].flags == {"--centering", "--no-centering"}
    options = cli.parse_args(["--method", "dino", "--no-centering", "--global-scale", "0.5", "1.0",
                              "--augment", "small"]).method_options
    assert options == {"centering": False, "global_scale": (0.5, 1.0), "augment": "small"}
    assert cli.parse_args(["--method", "jigsaw", "--count", "6"]).method_options == {"count": 6}
    assert cli.parse_args(["--method", "jigsaw", "--count", "none"]).method_options == {"count": None}
    # jigsaw's `seed` option would clash with the run's --seed: it is --jigsaw-seed
    args = cli.parse_args(["--method", "jigsaw", "--jigsaw-seed", "3", "--seed", "1"])
    assert args.method_options == {"seed": 3} and args.seed == 1
    assert cli.parse_args(["--method", "masked", "--patch-sizes", "2", "4"]).method_options == \
        {"patch_sizes": (2, 4)}


def test_the_old_simclr_flags_keep_their_spelling():
    args = cli.parse_args(["--method", "simclr", "--temperature", "0.2", "--augment", "small", "--hidden-dim", "64",
                           "--no-projection"])
    assert args.method_options == {"augment": "small", "temperature": 0.2, "hidden_dim": 64, "projection": False}
    assert cli.parse_args(["--temperature", "0.2"], prog="ssl-simclr", method="simclr").method_options[
        "temperature"] == 0.2


def test_digits_defaults_are_the_methods_cpu_recipe():
    for name in ("simclr", "rotation"):
        args = cli.parse_args(["--dataset", "digits", "--method", name])
        recipe, image_size = cli.method_recipe(name)
        assert (args.epochs, args.batch_size, args.lr) == (recipe["epochs"], recipe["batch_size"], recipe["lr"])
        assert args.image_size == image_size and args.arch is None  # -> the method's small CNN
    encoder = cli._encoder(cli.parse_args(["--dataset", "digits"]), method_class("simclr")(), (3, 12, 12))
    assert encoder.config["arch"] == "small_cnn"


def test_cifar10_defaults_are_the_gpu_recipe():
    args = cli.parse_args(["--dataset", "cifar10"])
    assert (args.epochs, args.batch_size, args.warmup_epochs) == (100, 512, 10)
    assert args.lr == pytest.approx(1e-3 * 512 / 256)
    assert args.method_options == {"hidden_dim": 512, "out_dim": 128, "augment": "small"}
    encoder = cli._encoder(args, method_class("simclr")(), (3, 32, 32))
    assert encoder.config["arch"] == "resnet18_cifar"
    # every method with these options gets them; a flag given wins
    assert cli.parse_args(["--method", "byol", "--dataset", "stl10", "--out-dim", "256"]).method_options == \
        {"augment": "simclr", "hidden_dim": 512, "out_dim": 256}
    assert cli.parse_args(["--method", "rotation", "--dataset", "cifar10"]).method_options == {}


def test_a_default_warmup_fits_a_short_run(monkeypatch):
    assert cli.parse_args(["--dataset", "cifar10", "--epochs", "4"]).warmup_epochs == 0  # 10 only from 50 epochs
    assert cli.parse_args(["--dataset", "cifar10", "--epochs", "60"]).warmup_epochs == 10
    # a recipe's warm-up is cut to the run asked for (a warm-up the user asks for is checked instead, below)
    recipe, image_size = cli.method_recipe("rotation")
    monkeypatch.setattr(cli, "method_recipe", lambda name: ({**recipe, "warmup_epochs": 5}, image_size))
    assert cli.parse_args(["--method", "rotation", "--dataset", "digits"]).warmup_epochs == 5
    assert cli.parse_args(["--method", "rotation", "--dataset", "digits", "--epochs", "3"]).warmup_epochs == 2


def test_method_choices_come_from_the_registry(capsys):
    for argv in (["--method", "simclrr"], ["--method", "simclrr", "--temperature", "0.2"]):
        line = usage_error(capsys, argv)
        assert "argument --method: invalid choice: 'simclrr'" in line
        for name in method_names():
            assert repr(name) in line


@pytest.mark.parametrize("argv, expected", [
    # argparse's own: a wrong type, a wrong choice, names the flag
    (["--method", "vicreg", "--variance-weight", "lots"], "argument --variance-weight: invalid float value: 'lots'"),
    (["--method", "jigsaw", "--count", "six"], "argument --count: invalid int value: 'six'"),
    (["--method", "byol", "--augment", "mnist"], "argument --augment: invalid choice: 'mnist'"),
    (["--method", "byol", "--predictor", "0"], "unrecognized arguments: 0"),
    (["--lr", "0"], "argument --lr: must be greater than 0, got 0.0"),
    (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["--batch-size", "1"], "argument --batch-size: must be at least 2, got 1"),
    (["--width", "0"], "argument --width: must be at least 1, got 0"),
    (["--image-size", "2"], "argument --image-size: must be at least 4, got 2"),
    (["--monitor", "-5"], "argument --monitor: must be at least 0, got -5"),
    (["--weight-decay", "-0.1"], "argument --weight-decay: must be at least 0, got -0.1"),
    (["--epochs", "5", "--warmup-epochs", "5"], "argument --warmup-epochs: must be fewer than --epochs (5), got 5"),
    (["--dataset", "digitz"], "argument --dataset: invalid choice: 'digitz' (choose from"),
    (["--arch", "resnet50"], "argument --arch: invalid choice: 'resnet50'"),
    (["--epochs", "ten"], "argument --epochs: invalid int value: 'ten'"),
    (["--dataset", "folder"], "argument --data-root: required with --dataset folder"),
    (["--dataset", "digits", "--download"], "argument --download: only cifar10 and stl10 are downloaded"),
    (["--device", "tpu"], "argument --device: unknown device 'tpu'"),
    (["--method", "rotation", "--temperature", "0.2"],
     ("argument --temperature: the rotation method has no 'temperature' option (its options: none); "
      "--temperature is an option of simclr, moco")),
    (["--method", "vicreg", "--sim-weight", "10"], "unrecognized arguments: --sim-weight 10"),
    (["--option", "temperature=0.1", "--temperature", "0.2"],
     "argument --option: temperature is also given by --temperature; give it once"),
    (["--option", "mask_ratio"], "argument --option: expected KEY=VALUE, got 'mask_ratio'"),
    (["--option", "mask_ratio=0.5"], "argument --option: the simclr method has no 'mask_ratio' option"),
])
def test_bad_values_are_one_line_usage_errors(capsys, argv, expected):
    line = usage_error(capsys, argv)
    assert line.startswith("ssl-pretrain: error: ")
    assert expected in line


def rejection(method: str, **options) -> str:
    """The ValueError's text by which the method's `Options` reject `options` (what `make_method` would raise)."""
    with pytest.raises(ValueError) as error:
        method_class(method).Options(**options)
    return " ".join(str(error.value).split())


@pytest.mark.parametrize("argv, method, options, flag", [
    (["--temperature", "0"], "simclr", {"temperature": 0.0}, "--temperature"),
    (["--temperature", "-1"], "simclr", {"temperature": -1.0}, "--temperature"),
    (["--hidden-dim", "0"], "simclr", {"hidden_dim": 0}, "--hidden-dim"),
    (["--method", "mae", "--mask-ratio", "1.5"], "mae", {"mask_ratio": 1.5}, "--mask-ratio"),
    (["--method", "vicreg", "--out-dim", "-3"], "vicreg", {"out_dim": -3}, "--out-dim"),
    (["--option", "temperature=-2"], "simclr", {"temperature": -2}, "--temperature"),
])
def test_values_the_method_rejects_are_usage_errors_naming_the_flag(capsys, argv, method, options, flag):
    line = usage_error(capsys, argv)
    assert line == f"ssl-pretrain: error: argument {flag}: {rejection(method, **options)}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_usage_error(capsys):
    line = usage_error(capsys, ["--device", "cuda"])
    assert "argument --device: 'cuda' was asked for, but CUDA is not available on this machine; use --device cpu" \
        in line


def test_a_batch_larger_than_the_dataset_is_a_usage_error(capsys):
    line = usage_error(capsys, ["--dataset", "digits", "--limit", "40", "--batch-size", "64"])
    assert "argument --batch-size: 64 is larger than the 40 training images; use --batch-size 40 or less" in line


def test_a_missing_real_dataset_is_a_usage_error(capsys, tmp_path):
    line = usage_error(capsys, ["--dataset", "cifar10", "--data-root", str(tmp_path / "nothing")])
    assert "argument --dataset: cifar10 is not in" in line and "load_dataset('digits')" in line


def test_torchrun_trains_any_method(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("rotation", "byol", "simclr"):
        args = cli.parse_args(["--method", name, "--dataset", "digits"])
        assert args.method == name and args.batch_size % 2 == 0


@pytest.mark.parametrize("argv, expected", [
    (["--devices", "0"], "argument --devices: must be a positive integer, got 0"),
    (["--num-nodes", "0"], "argument --num-nodes: must be a positive integer, got 0"),
    (["--devices", "2", "--batch-size", "33"], "argument --batch-size: 33 must be divisible by the 2 processes"),
    (["--devices", "2", "--num-nodes", "2", "--batch-size", "34"],
     "argument --batch-size: 34 must be divisible by the 4 processes"),
])
def test_bad_distributed_values_are_usage_errors(capsys, argv, expected):
    assert expected in usage_error(capsys, argv)


class Stop(Exception):
    pass


def pretrain_options(monkeypatch, argv) -> dict:
    """What `train_from_args(argv)` passes to `pretrain` (which is stopped there)."""
    import ssl_helpers.methods

    seen = {}

    def fake_pretrain(method, images, **options):
        seen.update(options, images=images)
        raise Stop

    monkeypatch.setattr(ssl_helpers.methods, "pretrain", fake_pretrain)
    with pytest.raises(Stop):
        cli.train_from_args(argv)
    return seen


def test_one_process_passes_no_distributed_options_and_a_strategy_when_asked(monkeypatch):
    argv = ["--method", "byol", "--dataset", "digits", "--limit", "64", "--batch-size", "32", "--quiet"]
    options = pretrain_options(monkeypatch, argv)
    assert options["batch_size"] == 32 and not {"devices", "num_nodes", "strategy"} & set(options)
    assert pretrain_options(monkeypatch, [*argv, "--strategy", "auto"])["strategy"] == "auto"


def test_devices_reach_the_trainer_with_ddp_and_the_batch_split_over_processes(monkeypatch):
    options = pretrain_options(monkeypatch, ["--method", "byol", "--dataset", "digits", "--limit", "64",
                                             "--batch-size", "32", "--quiet", "--devices", "2"])
    assert (options["devices"], options["num_nodes"], options["strategy"]) == (2, 1, "ddp")
    assert options["batch_size"] == 16  # per process: the global batch of 32 over 2 processes


TINY = ["--dataset", "digits", "--limit", "64", "--epochs", "1", "--batch-size", "32", "--width", "4",
        "--monitor", "40", "--quiet"]


@pytest.mark.parametrize("name", method_names())
def test_every_method_trains_and_its_checkpoint_loads(name, checkpoints, capsys):
    torch.set_num_threads(1)
    run = cli.train_from_args(["--method", name, *TINY])
    assert run["checkpoint"] == checkpoints / f"{name}_digits.pt" and run["checkpoint"].is_file()
    assert list(run["history"]["epoch"]) == [1] and "knn" in run["history"]
    _, encoder, info = load_method(name, run["checkpoint"])
    assert info["extra"]["epochs"] == 1 and info["extra"]["dataset"] == "digits"
    size = cli.method_recipe(name)[1]
    images = torch.rand(2, 3, size, size)
    torch.testing.assert_close(encoder(images), run["encoder"].eval()(images))
    assert f"saved the {name} encoder to" in capsys.readouterr().out


def test_a_second_run_does_not_overwrite_the_checkpoint(checkpoints, capsys):
    torch.set_num_threads(1)
    first = cli.train_from_args(["--method", "rotation", *TINY])["checkpoint"]
    before = first.read_bytes()
    line = usage_error(capsys, ["--method", "rotation", *TINY, "--seed", "1"])
    assert f"argument --out: {first} exists; pass --overwrite to replace it, or --out another path" in line
    assert first.read_bytes() == before
    cli.train_from_args(["--method", "rotation", *TINY, "--seed", "1", "--overwrite"])
    assert first.read_bytes() != before


def test_the_entry_points_run_as_commands(tmp_path):
    """`python -m ssl_helpers.cli` prints a usage error on stderr, with no traceback, and exits with status 2."""
    done = subprocess.run([sys.executable, "-m", "ssl_helpers.cli", "--temperature", "0"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: argument --temperature: {rejection('simclr', temperature=0.0)}" in done.stderr
