"""`ssl-pretrain` / `ssl-simclr`: pre-train any registered method from the command line.

    ssl-pretrain --dataset digits                                     # CPU: SimCLR, small CNN, digits recipe
    ssl-pretrain --method rotation --dataset digits                   # any method of ssl_helpers.methods
    ssl-simclr --dataset cifar10 --download                           # GPU: ResNet-18, 100 epochs, batch 512
    ssl-pretrain --method byol --dataset cifar10 --devices 4          # 4 GPUs, DDP launched by Lightning
    torchrun --nproc_per_node 4 -m ssl_helpers.cli --dataset cifar10  # 4 GPUs (any method), global batch 512

Defaults follow the dataset: the embedded digits get the method's CPU-tier recipe (`Method.recipe`, a small CNN
at `Method.image_size`: minutes on a laptop); CIFAR-10, STL-10 and image folders get a CIFAR ResNet-18, 100
epochs and batch 512. Every bad value is a one-line usage error (exit status 2) before anything trains, and an
existing checkpoint is never replaced without `--overwrite`.

Every run trains through `ssl_helpers.methods.pretrain`, that is the method's LightningModule in the course's
`lightning.Trainer` (a progress bar, mixed precision on CUDA via `ssl_helpers.train.pick_precision`). With
`--devices N` (Lightning launches the processes) or under `torchrun`/SLURM (`--num-nodes` for several nodes),
the Trainer's DDP strategy trains any method: each process takes its own batches of one shared shuffle,
`nt_xent` gathers the projections of all processes (each view meets the whole global batch's negatives) and MoCo
gathers every process's keys into its queue (SyncBatchNorm on CUDA makes BatchNorm global too). Rank 0 prints a
kNN accuracy after each epoch and writes the checkpoint, which `ssl_helpers.methods.load_method(method, path)`
reads back.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Optional, Sequence

import torch

__all__ = ["build_parser", "parse_args", "init_distributed", "train_from_args", "main", "main_simclr"]

EMBEDDED = ("digits", "colour_digits")
DATASET_CHOICES = ("digits", "colour_digits", "cifar10", "stl10", "folder")
ARCH_CHOICES = ("small_cnn", "resnet18_cifar")
DEFAULT_AUGMENT = {"digits": "digits", "colour_digits": "digits", "cifar10": "small", "stl10": "simclr"}
GPU_DEFAULTS = {"arch": "resnet18_cifar", "width": 64, "epochs": 100, "batch_size": 512, "hidden_dim": 512,
                "out_dim": 128}
# CLI flags that become options of the method's constructor, where the method takes them.
METHOD_FLAGS = {"temperature": "--temperature", "augment": "--augment", "hidden_dim": "--hidden-dim",
                "out_dim": "--out-dim"}

EPILOG = """\
examples:
  CPU (a laptop, minutes): SimCLR on the embedded digits with a small CNN
    %(prog)s --dataset digits
  CPU, another method, a shorter run:
    %(prog)s --method rotation --dataset digits --epochs 4
  GPU (one GPU): SimCLR on CIFAR-10 with a ResNet-18, 100 epochs, batch 512, mixed precision
    %(prog)s --dataset cifar10 --download
  several GPUs (SimCLR only): torchrun --nproc_per_node 4 -m ssl_helpers.cli --dataset cifar10 --download

Defaults by dataset: digits -> the method's CPU recipe (small CNN, its epochs, batch and lr);
cifar10/stl10/folder -> resnet18_cifar width 64, 100 epochs, batch 512. The checkpoint goes to
checkpoints/<method>_<dataset>.pt ($SSL_CHECKPOINTS) unless --out; an existing one needs --overwrite.
"""


def _method_names() -> list:
    from .methods import method_names

    return method_names()


def build_parser(prog: str = "ssl-pretrain", method: Optional[str] = None) -> argparse.ArgumentParser:
    """The argument parser; `method` fixes the default of `--method` (`ssl-simclr`: "simclr")."""
    from .augment import PRESETS

    p = argparse.ArgumentParser(prog=prog, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Self-supervised pre-training of any course method, on one device "
                                            "or several (torchrun, SimCLR).")
    p.add_argument("--method", default=method or "simclr", choices=_method_names(),
                   help="the registered method to train (default: %(default)s)")
    p.add_argument("--dataset", default="digits", choices=DATASET_CHOICES, help="default: %(default)s")
    p.add_argument("--data-root", default=None, help="where cifar10/stl10 live (required for 'folder')")
    p.add_argument("--download", action="store_true", help="download cifar10/stl10 if missing (needs internet)")
    p.add_argument("--image-size", type=int, default=None,
                   help="resize images (default: digits at the method's size, real datasets native)")
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT training images")
    p.add_argument("--arch", default=None, choices=ARCH_CHOICES,
                   help="encoder (default: digits small_cnn, real datasets resnet18_cifar)")
    p.add_argument("--width", type=int, default=None, help="encoder width (default: small CNN 32, ResNet 64)")
    p.add_argument("--epochs", type=int, default=None, help="default: digits the method's recipe, else 100")
    p.add_argument("--batch-size", type=int, default=None,
                   help="global batch, split over processes (default: digits the method's recipe, else 512)")
    p.add_argument("--lr", type=float, default=None,
                   help="default: digits the method's recipe, else 1e-3 * batch / 256")
    p.add_argument("--optimizer", default=None, choices=["adamw", "adam", "sgd"],
                   help="default: digits the method's recipe, else adamw")
    p.add_argument("--weight-decay", type=float, default=None, help="default: digits the method's recipe, else 1e-4")
    p.add_argument("--warmup-epochs", type=int, default=None,
                   help="default: digits the method's recipe, else 10 if epochs >= 50, else 0")
    p.add_argument("--temperature", type=float, default=None, help="SimCLR's NT-Xent temperature (default 0.5)")
    p.add_argument("--augment", default=None, choices=sorted(PRESETS), help="SimCLR's preset (default by dataset)")
    p.add_argument("--hidden-dim", type=int, default=None, help="projection head (SimCLR)")
    p.add_argument("--out-dim", type=int, default=None, help="projection output (SimCLR)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="another option of the method's constructor, e.g. --option mask_ratio=0.75 (repeatable)")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    p.add_argument("--no-amp", action="store_true", help="turn off mixed precision (bf16, or float16 on GPUs "
                                                        "before compute capability 8.0) + channels-last on CUDA")
    p.add_argument("--monitor", type=int, default=None,
                   help="images of train and test for the per-epoch kNN monitor (0: none; default 5000)")
    p.add_argument("--devices", type=int, default=None,
                   help="processes (GPUs) on this node, DDP (default: 1, or torchrun's --nproc_per_node)")
    p.add_argument("--strategy", default=None, help="Lightning strategy (default: ddp with several processes)")
    p.add_argument("--num-nodes", type=int, default=1, help="nodes of a multi-node run (torchrun or SLURM)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="checkpoint path (default: checkpoints/<method>_<dataset>.pt)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint at --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _prog() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith("ssl-") else "ssl-pretrain"


def _method_options(p: argparse.ArgumentParser, args) -> dict:
    """The method constructor's options from --temperature/--augment/... and --option KEY=VALUE."""
    from .methods import method_class

    cls = method_class(args.method)
    accepted = {field.name for field in dataclasses.fields(cls.Options)}
    options = {}
    for key, flag in METHOD_FLAGS.items():
        value = getattr(args, key)
        if value is not None:
            if key not in accepted:
                p.error(f"argument {flag}: the {args.method} method has no {key!r} option "
                        f"(its options: {', '.join(sorted(accepted)) or 'none'})")
            options[key] = value
    for item in args.option:
        key, sep, text = item.partition("=")
        if not sep or not key:
            p.error(f"argument --option: expected KEY=VALUE, got {item!r}")
        if key not in accepted:
            p.error(f"argument --option: the {args.method} method has no {key!r} option "
                    f"(its options: {', '.join(sorted(accepted)) or 'none'})")
        try:
            options[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            options[key] = text  # a plain word, e.g. a preset name
    return options


def _check_device(p: argparse.ArgumentParser, name: str) -> None:
    if name == "auto":
        return
    try:
        device = torch.device(name)
    except RuntimeError:
        p.error(f"argument --device: unknown device {name!r} (expected auto, cpu, cuda, cuda:N or mps)")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            p.error(f"argument --device: {name!r} was asked for, but CUDA is not available on this machine; "
                    f"use --device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            p.error(f"argument --device: {name!r} does not exist (this machine has "
                    f"{torch.cuda.device_count()} CUDA device(s))")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            p.error(f"argument --device: {name!r} was asked for, but Apple's MPS is not available here; "
                    f"use --device cpu (or auto)")
    if device.type not in ("cpu", "cuda", "mps"):
        p.error(f"argument --device: {name!r} is not supported (expected auto, cpu, cuda, cuda:N or mps)")


def parse_args(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None,
               method: Optional[str] = None) -> argparse.Namespace:
    """Parse and check `argv`, fill the dataset's defaults; any bad value exits with a one-line usage error.

    Adds `method_options` (for the method's constructor) and `out` (the checkpoint path) to the namespace.
    """
    from .methods import method_class
    from .train import default_checkpoint_dir

    p = build_parser(prog or _prog(), method)
    args = p.parse_args(argv)
    args.prog = p.prog
    for flag, value, low in [("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 2),
                             ("--width", args.width, 1), ("--image-size", args.image_size, 4),
                             ("--limit", args.limit, 2), ("--hidden-dim", args.hidden_dim, 1),
                             ("--out-dim", args.out_dim, 1), ("--monitor", args.monitor, 0),
                             ("--warmup-epochs", args.warmup_epochs, 0)]:
        if value is not None and value < low:
            p.error(f"argument {flag}: must be at least {low}, got {value}")
    for flag, value in [("--temperature", args.temperature), ("--lr", args.lr)]:
        if value is not None and not value > 0:
            p.error(f"argument {flag}: must be greater than 0, got {value}")
    if args.weight_decay is not None and args.weight_decay < 0:
        p.error(f"argument --weight-decay: must be at least 0, got {args.weight_decay}")
    if args.dataset == "folder" and not args.data_root:
        p.error("argument --data-root: required with --dataset folder (a folder of class sub-folders)")
    if args.download and args.dataset not in ("cifar10", "stl10"):
        p.error(f"argument --download: only cifar10 and stl10 are downloaded; {args.dataset} needs no download")
    _check_device(p, args.device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.devices is not None and args.devices < 1:
        p.error(f"argument --devices: must be a positive integer, got {args.devices}")
    if args.num_nodes < 1:
        p.error(f"argument --num-nodes: must be a positive integer, got {args.num_nodes}")
    world = max(world, (args.devices or 1) * args.num_nodes)

    # Defaults that fit the dataset: the method's CPU recipe on the digits, the GPU recipe otherwise.
    cls = method_class(args.method)
    warmup_given = args.warmup_epochs is not None
    if args.dataset in EMBEDDED:
        recipe = dict(cls.recipe)
        args.epochs = args.epochs or recipe.get("epochs", 8)
        args.batch_size = args.batch_size or recipe.get("batch_size", 128)
        args.lr = args.lr or recipe.get("lr")
        args.image_size = args.image_size or cls.image_size
        for key in ("optimizer", "weight_decay", "warmup_epochs"):
            if getattr(args, key) is None and key in recipe:
                setattr(args, key, recipe[key])
        if args.warmup_epochs is None:
            args.warmup_epochs = 0
    else:
        args.epochs = args.epochs or GPU_DEFAULTS["epochs"]
        args.batch_size = args.batch_size or GPU_DEFAULTS["batch_size"]
        if args.method == "simclr":
            args.hidden_dim = args.hidden_dim or GPU_DEFAULTS["hidden_dim"]
            args.out_dim = args.out_dim or GPU_DEFAULTS["out_dim"]
    if args.lr is None:
        args.lr = 1e-3 * args.batch_size / 256
    args.optimizer = args.optimizer or "adamw"
    args.weight_decay = 1e-4 if args.weight_decay is None else args.weight_decay
    if args.warmup_epochs is None:
        args.warmup_epochs = 10 if args.epochs >= 50 else 0
    if not warmup_given:  # a recipe's warm-up never outlasts a shorter run asked for with --epochs
        args.warmup_epochs = min(args.warmup_epochs, args.epochs - 1)
    if args.warmup_epochs >= args.epochs and args.warmup_epochs > 0:
        p.error(f"argument --warmup-epochs: must be fewer than --epochs ({args.epochs}), got {args.warmup_epochs}")
    if args.monitor is None:
        args.monitor = 5000
    if args.batch_size % world:
        p.error(f"argument --batch-size: {args.batch_size} must be divisible by the {world} processes")
    if args.method == "simclr" and args.augment is None:
        args.augment = DEFAULT_AUGMENT.get(args.dataset, "simclr")
    args.method_options = _method_options(p, args)

    args.out = Path(args.out) if args.out else default_checkpoint_dir() / f"{args.method}_{args.dataset}.pt"
    if args.out.is_dir():
        p.error(f"argument --out: {args.out} is a folder; give a file path such as {args.out / 'encoder.pt'}")
    if args.out.exists() and not args.overwrite:
        p.error(f"argument --out: {args.out} exists; pass --overwrite to replace it, or --out another path")
    return args


def usage_error(args: argparse.Namespace, message: str) -> None:
    """Exit with a one-line usage error found after parsing (e.g. once the data is loaded)."""
    build_parser(args.prog, args.method).error(message)


def init_distributed(device: str = "auto"):
    """Join the `torchrun` process group if there is one: returns `(world, rank, device)`.

    Under torchrun (WORLD_SIZE > 1): NCCL with one GPU per process (`cuda:LOCAL_RANK`), or gloo on the CPU.
    """
    from .losses import distributed_world
    from .train import pick_device, process_rank

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 or "RANK" not in os.environ:  # one process, or a process Lightning launched (it joins the group)
        return 1, process_rank(), pick_device(device)
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(minutes=10))
    world, rank = distributed_world()
    return world, rank, torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def _load(args, world: int, rank: int):
    """The dataset's (train, test); under torchrun rank 0 loads (and downloads) first, the others after it.

    A dataset that is missing or cannot be downloaded is a one-line usage error.
    """
    from .data import DatasetUnavailableError, load_dataset

    options = {"image_size": args.image_size}
    if args.dataset in ("cifar10", "stl10"):
        options.update(root=args.data_root, download=args.download)
    if args.dataset == "folder":
        options["root"] = args.data_root
    grouped = torch.distributed.is_available() and torch.distributed.is_initialized()
    if grouped and rank > 0:  # under torchrun: rank 0 downloads first (with --devices, download beforehand)
        torch.distributed.barrier()
    try:
        train, test = load_dataset(args.dataset, **options)
    except (DatasetUnavailableError, FileNotFoundError) as error:
        hint = " (here: --dataset digits needs no download)" if args.dataset in ("cifar10", "stl10") else ""
        usage_error(args, f"argument --dataset: {' '.join(str(error).split())}{hint}")
    if grouped and rank == 0:
        torch.distributed.barrier()
    return train, test


def _encoder(args, method, image_shape):
    """--arch if given; else the method's own encoder on the digits, a CIFAR ResNet-18 on real datasets."""
    from .methods import Method
    from .models import build_encoder

    arch = args.arch
    if arch is None and (args.dataset in EMBEDDED or type(method).make_encoder is not Method.make_encoder):
        return method.make_encoder(image_shape, width=args.width or 32)
    arch = arch or GPU_DEFAULTS["arch"]
    width = args.width or (GPU_DEFAULTS["width"] if arch == "resnet18_cifar" else 32)
    return build_encoder({"arch": arch, "in_channels": image_shape[0], "width": width})


def _settings(args, world: int) -> dict:
    """What the checkpoint records about the run (plain values only)."""
    skip = {"prog", "method_options", "option", "overwrite", "quiet"}
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                if v is not None and k not in skip}
    return settings | {"world_size": world, "method_options": dict(args.method_options)}


def train_from_args(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None,
                    method: Optional[str] = None) -> dict:
    """Parse `argv`, train, save (rank 0).

    Returns {"history", "method", "encoder", "checkpoint" (rank 0)}.
    """
    from .methods import make_method, pretrain, save_method

    args = parse_args(argv, prog, method)
    world, rank, device = init_distributed(args.device)
    world = max(world, (args.devices or 1) * args.num_nodes)  # --devices: Lightning launches the other processes
    train, test = _load(args, world, rank)
    images = train.images[:args.limit] if args.limit else train.images
    per_process = len(images) // world
    if args.batch_size // world > per_process:
        where = f"{len(images)} training images" + (f" over {world} processes" if world > 1 else "")
        usage_error(args, f"argument --batch-size: {args.batch_size} is larger than the {where}; "
                          f"use --batch-size {per_process * world} or less")
    image_shape = tuple(images.shape[1:])
    monitor = None
    if rank == 0 and args.monitor:
        monitor = (train.subset(range(min(args.monitor, len(train)))),
                   test.subset(range(min(args.monitor, len(test)))))
    amp = device.type == "cuda" and not args.no_amp
    progress = rank == 0 and not args.quiet
    trained = make_method(args.method, **args.method_options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        encoder = _encoder(args, trained, image_shape)
    distributed = {}
    if world > 1:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", args.devices or world // args.num_nodes))
        distributed = dict(devices=local, num_nodes=args.num_nodes, strategy=args.strategy or "ddp")
    elif args.strategy:
        distributed = dict(strategy=args.strategy)
    encoder, history = pretrain(trained, images, encoder=encoder, monitor=monitor, epochs=args.epochs,
                                batch_size=args.batch_size // world, lr=args.lr, weight_decay=args.weight_decay,
                                optimizer=args.optimizer, warmup_epochs=args.warmup_epochs, seed=args.seed,
                                device=device, progress=progress, precision="auto" if amp else "float32",
                                **distributed)
    result = {"history": history, "method": trained, "encoder": encoder}
    if rank == 0:
        metrics = {"knn": float(history["knn"].iloc[-1])} if "knn" in history else {}
        out = save_method(trained, args.out, metrics=metrics, extra=_settings(args, world))
        print(history.to_string(index=False))
        print(f"saved the {args.method} encoder to {out} "
              f"(load it with ssl_helpers.methods.load_method({args.method!r}, {str(out)!r}))")
        result["checkpoint"] = out
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return result


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The `ssl-pretrain` entry point (`--method`, default simclr)."""
    train_from_args(argv)


def main_simclr(argv: Optional[Sequence[str]] = None) -> None:
    """The `ssl-simclr` entry point: `ssl-pretrain` with `--method simclr` as the default."""
    train_from_args(argv, prog="ssl-simclr", method="simclr")


if __name__ == "__main__":
    main()
