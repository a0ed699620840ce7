"""The command line (`ssl-pretrain`, `ssl-simclr`) helps instead of surprising.

1. `--help` ends with a CPU example and a GPU example.
2. Defaults fit the dataset: digits -> the method's CPU recipe and a small CNN; CIFAR-10 -> ResNet-18, 100 epochs.
3. Every bad value is a one-line argparse usage error (exit status 2, no traceback) whose text is asserted here.
4. Any registered method trains in one process and its checkpoint loads back with `load_method`; a second run
   does not overwrite the first checkpoint without `--overwrite`.
5. Any method may run under DDP (`--devices`, `--num-nodes`, `--strategy`, or torchrun): the options reach
   `pretrain` and its `lightning.Trainer` (what DDP computes is tested in `test_methods_distributed.py`).
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from ssl_helpers import cli
from ssl_helpers.methods import load_method, method_class, method_names


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


def test_digits_defaults_are_the_methods_cpu_recipe():
    for name in ("simclr", "rotation"):
        args = cli.parse_args(["--dataset", "digits", "--method", name])
        cls = method_class(name)
        assert (args.epochs, args.batch_size, args.lr) == (cls.recipe["epochs"], cls.recipe["batch_size"],
                                                           cls.recipe["lr"])
        assert args.image_size == cls.image_size and args.arch is None  # -> the method's small CNN
    encoder = cli._encoder(cli.parse_args(["--dataset", "digits"]), method_class("simclr")(), (3, 12, 12))
    assert encoder.config["arch"] == "small_cnn"


def test_cifar10_defaults_are_the_gpu_recipe():
    args = cli.parse_args(["--dataset", "cifar10"])
    assert (args.epochs, args.batch_size, args.warmup_epochs) == (100, 512, 10)
    assert args.lr == pytest.approx(1e-3 * 512 / 256)
    assert args.method_options == {"hidden_dim": 512, "out_dim": 128, "augment": "small"}
    encoder = cli._encoder(args, method_class("simclr")(), (3, 32, 32))
    assert encoder.config["arch"] == "resnet18_cifar"


def test_a_default_warmup_fits_a_short_run(monkeypatch):
    assert cli.parse_args(["--dataset", "cifar10", "--epochs", "4"]).warmup_epochs == 0  # 10 only from 50 epochs
    assert cli.parse_args(["--dataset", "cifar10", "--epochs", "60"]).warmup_epochs == 10
    # a recipe's warm-up is cut to the run asked for (a warm-up the user asks for is checked instead, below)
    rotation = method_class("rotation")
    monkeypatch.setattr(rotation, "recipe", {**rotation.recipe, "warmup_epochs": 5})
    assert cli.parse_args(["--method", "rotation", "--dataset", "digits"]).warmup_epochs == 5
    assert cli.parse_args(["--method", "rotation", "--dataset", "digits", "--epochs", "3"]).warmup_epochs == 2


def test_method_choices_come_from_the_registry(capsys):
    line = usage_error(capsys, ["--method", "simclrr"])
    assert "argument --method: invalid choice: 'simclrr'" in line
    for name in method_names():
        assert repr(name) in line


@pytest.mark.parametrize("argv, expected", [
    (["--temperature", "0"], "argument --temperature: must be greater than 0, got 0.0"),
    (["--temperature", "-1"], "argument --temperature: must be greater than 0, got -1.0"),
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
     "argument --temperature: the rotation method has no 'temperature' option"),
    (["--option", "mask_ratio"], "argument --option: expected KEY=VALUE, got 'mask_ratio'"),
    (["--option", "mask_ratio=0.5"], "argument --option: the simclr method has no 'mask_ratio' option"),
])
def test_bad_values_are_one_line_usage_errors(capsys, argv, expected):
    line = usage_error(capsys, argv)
    assert line.startswith("ssl-pretrain: error: ")
    assert expected in line


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
    method, encoder, info = load_method(name, run["checkpoint"])
    assert info["extra"]["epochs"] == 1 and info["extra"]["dataset"] == "digits"
    images = torch.rand(2, 3, method_class(name).image_size, method_class(name).image_size)
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
                          text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error: argument --temperature: must be greater than 0, got 0.0" in done.stderr
