"""Per-step overhead of the course's `lightning.Trainer` against a plain PyTorch loop, in one process.

The CPU tier's SimCLR step (12 px digits, batch 256, SmallCNN width 32, one thread): the same `SimCLRMethod`, the
same batches and optimiser, trained (a) by a hand-written loop (`zero_grad`, `training_step`, `backward`, `step`,
the schedule's step) and (b) by `ssl_helpers.methods.pretrain` (lightning.Trainer, progress bar off). Each is run
`--repeats` times alternately after a warm-up; the medians of seconds per step and their ratio are printed.

    .venv/bin/python benchmarks/bench_trainer_overhead.py            # budget: Trainer / plain loop <= 1.05
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from ssl_helpers.data import load_dataset
from ssl_helpers.methods import make_method, pretrain
from ssl_helpers.methods.simclr import DIGITS_IMAGE_SIZE
from ssl_helpers.train import batch_loader


def plain_loop(images: torch.Tensor, epochs: int, batch_size: int) -> float:
    """Seconds per step of a hand-written loop over the same module and batches."""
    method = make_method("simclr")
    torch.manual_seed(0)
    method.build(tuple(images.shape[1:]))
    method.generator = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=4e-3, weight_decay=1e-4)
    loader = batch_loader((images,), batch_size, torch.Generator().manual_seed(0))
    steps, started = 0, time.perf_counter()
    method.train()
    for _ in range(epochs):
        for batch in loader:
            opt.zero_grad(set_to_none=True)
            loss = method.training_step(batch, steps)
            loss.backward()
            opt.step()
            steps += 1
    return (time.perf_counter() - started) / steps


def trainer_loop(images: torch.Tensor, epochs: int, batch_size: int) -> float:
    """Seconds per step of `pretrain` (the course's lightning.Trainer), set-up and teardown included."""
    method = make_method("simclr")
    started = time.perf_counter()
    pretrain(method, images, epochs=epochs, batch_size=batch_size, lr=4e-3, progress=False, device="cpu")
    steps = epochs * (len(images) // batch_size)
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, _ = load_dataset("digits", image_size=DIGITS_IMAGE_SIZE)
    images, batch = train.images, 256
    plain_loop(images, 1, batch), trainer_loop(images, 1, batch)  # warm-up: imports, allocator
    plain, lightning = [], []
    for _ in range(args.repeats):
        plain.append(plain_loop(images, args.epochs, batch))
        lightning.append(trainer_loop(images, args.epochs, batch))
    p, t = statistics.median(plain), statistics.median(lightning)
    print(f"SimCLR step, digits at {DIGITS_IMAGE_SIZE} px, batch {batch}, SmallCNN width 32, 1 thread, "
          f"{args.epochs} epochs x {len(images) // batch} steps, median of {args.repeats}:")
    print(f"  plain loop        {1e3 * p:7.1f} ms/step")
    print(f"  lightning.Trainer {1e3 * t:7.1f} ms/step")
    print(f"  ratio Trainer / plain loop: {t / p:.3f} (budget: at most 1.05)")


if __name__ == "__main__":
    main()
