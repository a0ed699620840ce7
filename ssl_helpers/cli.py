"""`ssl-simclr`: SimCLR pre-training from the command line, on one device or several with `torchrun`.

    ssl-simclr --dataset cifar10 --download --epochs 100 --batch-size 512          # one GPU, ResNet-18
    torchrun --nproc_per_node 4 -m ssl_helpers.cli --dataset cifar10 --epochs 100  # 4 GPUs, global batch 512
    ssl-simclr --dataset digits --arch small_cnn --image-size 16 --epochs 40       # the CPU tier

The whole training set is kept on the training device; each step augments the batch there with
`ssl_helpers.augment` (independent parameters per image), runs the network under mixed precision in
channels-last memory on CUDA (`ssl_helpers.train.pick_precision`: bf16 on compute capability >= 8.0, float16 with
a gradient scaler on older GPUs such as Colab's T4), and minimises NT-Xent. Under `torchrun` every process
trains on its own shard of the data with `DistributedDataParallel`, and `nt_xent` gathers the projections of
all processes, so each view is contrasted with the whole global batch (SyncBatchNorm on CUDA makes BatchNorm
global too).
Rank 0 prints a kNN accuracy after each epoch and writes the encoder checkpoint.
"""
from __future__ import annotations

import argparse
import os
from datetime import timedelta
from pathlib import Path
from typing import Optional, Sequence

import torch

from .augment import PRESETS, preset
from .data import load_dataset
from .losses import distributed_world
from .models import build_encoder
from .simclr import SimCLR, train_simclr
from .train import default_checkpoint_dir, pick_device, save_checkpoint

__all__ = ["parse_args", "init_distributed", "shard", "train_from_args", "main"]

DEFAULT_AUGMENT = {"digits": "digits", "colour_digits": "digits", "cifar10": "small", "stl10": "simclr"}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ssl-simclr", description="SimCLR pre-training (one or more devices).")
    p.add_argument("--dataset", default="cifar10", help="digits, colour_digits, cifar10, stl10 or folder")
    p.add_argument("--data-root", default=None, help="where cifar10/stl10 live (or the folder for 'folder')")
    p.add_argument("--download", action="store_true", help="download cifar10/stl10 if missing")
    p.add_argument("--image-size", type=int, default=None, help="resize images (default: native; digits 16)")
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT training images")
    p.add_argument("--arch", default="resnet18_cifar", choices=["resnet18_cifar", "small_cnn"])
    p.add_argument("--width", type=int, default=None, help="encoder width (default 64 for ResNet, 32 small)")
    p.add_argument("--hidden-dim", type=int, default=512)
    p.add_argument("--out-dim", type=int, default=128)
    p.add_argument("--augment", default=None, choices=sorted(PRESETS), help="preset (default by dataset)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=512, help="global batch (split over processes)")
    p.add_argument("--lr", type=float, default=None, help="default: 1e-3 * global batch / 256 (AdamW)")
    p.add_argument("--optimizer", default="adamw", choices=["adamw", "adam", "sgd"])
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup-epochs", type=int, default=None, help="default: 10 if epochs >= 50, else 0")
    p.add_argument("--temperature", type=float, default=0.5)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", action="store_true", help="turn off mixed precision (bf16, or float16 on GPUs "
                                                        "before compute capability 8.0) + channels-last on CUDA")
    p.add_argument("--monitor", type=int, default=5000, help="images of train and test for the kNN monitor "
                                                                "(0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="checkpoint path (default: checkpoints/simclr_<dataset>.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.batch_size < 2:
        p.error("--batch-size must be at least 2")
    return args


def init_distributed(device: str = "auto"):
    """Join the `torchrun` process group if there is one: returns `(world, rank, device)`.

    Under torchrun (WORLD_SIZE > 1): NCCL with one GPU per process (`cuda:LOCAL_RANK`), or gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 1, 0, pick_device(device)
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(minutes=10))
    world, rank = distributed_world()
    return world, rank, torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def shard(images: torch.Tensor, world: int, rank: int) -> torch.Tensor:
    """This process's share: images rank, rank + W, rank + 2W, ..., the same count on every process."""
    per_process = len(images) // world
    return images[rank::world][:per_process]


def _load(args, world: int, rank: int):
    """The dataset's (train, test); under torchrun rank 0 loads (and downloads) first, the others after it."""
    options = {"image_size": args.image_size or (16 if "digits" in args.dataset else None)}
    if args.dataset in ("cifar10", "stl10"):
        options.update(root=args.data_root, download=args.download)
    if args.dataset == "folder":
        options["root"] = args.data_root
    if world > 1 and rank > 0:
        torch.distributed.barrier()
    train, test = load_dataset(args.dataset, **options)
    if world > 1 and rank == 0:
        torch.distributed.barrier()
    return train, test


def train_from_args(argv: Optional[Sequence[str]] = None) -> dict:
    """Parse `argv`, train, save (rank 0): returns {"history", "model" (unwrapped), "checkpoint" (rank 0)}."""
    args = parse_args(argv)
    world, rank, device = init_distributed(args.device)
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} must be divisible by the {world} processes")
    train, test = _load(args, world, rank)
    images = train.images[:args.limit] if args.limit else train.images

    width = args.width or (64 if args.arch == "resnet18_cifar" else 32)
    torch.manual_seed(args.seed)
    model = SimCLR(build_encoder({"arch": args.arch, "in_channels": images.shape[1], "width": width}),
                   args.hidden_dim, args.out_dim)
    amp = device.type == "cuda" and not args.no_amp
    if amp:
        model = model.to(device, memory_format=torch.channels_last)  # before DDP builds its gradient buckets
    if world > 1:
        if device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        device_ids = [device.index] if device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(model.to(device), device_ids=device_ids)
    core = model.module if world > 1 else model
    mine = shard(images, world, rank).to(device)  # the data lives on the training device
    monitor = None
    if rank == 0 and args.monitor:
        monitor = (train.subset(range(min(args.monitor, len(train)))),
                   test.subset(range(min(args.monitor, len(test)))))
    lr = args.lr if args.lr is not None else 1e-3 * args.batch_size / 256
    warmup = args.warmup_epochs if args.warmup_epochs is not None else (10 if args.epochs >= 50 else 0)
    augment = preset(args.augment or DEFAULT_AUGMENT.get(args.dataset, "simclr"), images.shape[-1])
    history = train_simclr(model, mine, augment, epochs=args.epochs, batch_size=args.batch_size // world, lr=lr,
                           temperature=args.temperature, weight_decay=args.weight_decay, optimizer=args.optimizer,
                           warmup_epochs=warmup, monitor=monitor, seed=args.seed, device=device, amp=amp,
                           progress=rank == 0 and not args.quiet, desc=f"SimCLR {args.dataset}")
    result = {"history": history, "model": core}
    if rank == 0:
        out = Path(args.out) if args.out else default_checkpoint_dir() / f"simclr_{args.dataset}.pt"
        metrics = {"knn": float(history["knn"].iloc[-1])} if "knn" in history else {}
        save_checkpoint(out, core.encoder, method="simclr", metrics=metrics,
                        extra={k: v for k, v in vars(args).items() if v is not None} | {"world_size": world})
        print(history.to_string(index=False))
        print(f"saved the encoder to {out}")
        result["checkpoint"] = out
    if world > 1:
        torch.distributed.destroy_process_group()
    return result


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The `ssl-simclr` entry point."""
    train_from_args(argv)


if __name__ == "__main__":
    main()
