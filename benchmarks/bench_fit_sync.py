"""What a per-step host-device synchronisation would cost the course's Trainer: `fit` as it is (a `LossModule` in
`lightning.Trainer`; `RunState` sums the loss on the device and reads it once per epoch, and Lightning itself reads
nothing per step with the progress bar over epochs) against the same `fit` with per-step reads added to the loss
(`loss.item()` and a Python-bool finiteness check every step, as the hand-written loop before the Trainer did), in
one process, alternating, on the same model and data.

    .venv/bin/python benchmarks/bench_fit_sync.py --device cpu            # CPU: expect a ratio near 1 (no device)
    python benchmarks/bench_fit_sync.py --device cuda --arch resnet18_cifar --batch-size 512

On the CPU a "synchronisation" costs nothing, so the ratio shows only noise; on a GPU every `.item()` stops the host
until the device has finished, so the host can no longer queue the next step while the current one runs.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from ssl_helpers.models import build_encoder
from ssl_helpers.train import fit, pick_device


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--arch", default="small_cnn", choices=["small_cnn", "resnet18_cifar"])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--images", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    images = torch.rand(args.images, 3, 16 if args.arch == "small_cnn" else 32, 16 if args.arch == "small_cnn" else 32)
    labels = torch.randint(0, 10, (args.images,))
    encoder = build_encoder({"arch": args.arch, "in_channels": 3, "width": 16 if args.arch == "small_cnn" else 64})
    head = torch.nn.Linear(encoder.out_dim, 10)

    def loss_fn(batch):
        x, y = batch
        return torch.nn.functional.cross_entropy(head(encoder(x)), y)

    def loss_fn_with_syncs(batch):  # what the hand-written loop before the Trainer did every step
        loss = loss_fn(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError
        loss.item()
        return loss

    fit(loss_fn, [encoder, head], (images, labels), epochs=1, batch_size=args.batch_size, device=device,
        progress=False)  # warm-up (allocator, kernels)
    times = {"fit (one read per epoch)": [], "fit + per-step .item() and isfinite": []}
    for _ in range(args.repeats):
        for name, fn in zip(times, (loss_fn, loss_fn_with_syncs)):
            encoder.train(), head.train()
            started = time.perf_counter()
            fit(fn, [encoder, head], (images, labels), epochs=1, batch_size=args.batch_size, device=device,
                progress=False)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - started)
    print(f"device {device}, {args.arch}, batch {args.batch_size}, {args.images} images, median of {args.repeats}")
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, seconds in medians.items():
        print(f"  {name:40s} {args.images / seconds:8.0f} images/s")
    base, synced = medians.values()
    print(f"  per-step syncs cost: fit is {synced / base:.2f}x the speed of the synced loop")


if __name__ == "__main__":
    main()
