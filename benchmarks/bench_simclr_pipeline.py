"""Images per second of a SimCLR training step (`make_method("simclr")`: encoder, head, NT-Xent) fed three ways, on
one device:

1. ceiling: the training step alone, on views made beforehand (no augmentation cost at all);
2. batched: the method's own step (`method.step`): both views drawn per image by `ssl_helpers.augment` on the
   same device, from `method.generator`;
3. workers: torchvision's per-image v2 transforms in DataLoader workers (default 2, a Colab-sized CPU),
   batches copied to the device.

    .venv/bin/python benchmarks/bench_simclr_pipeline.py --device cpu --batch-size 64 --arch small_cnn --steps 10
    python benchmarks/bench_simclr_pipeline.py --device cuda --batch-size 512 --arch resnet18_cifar --steps 50

Prints images/s for each and the ratios batched/ceiling and batched/workers. On CUDA the step runs under bf16
autocast in channels-last memory (`--no-amp` to turn off). Images are random 32x32 (CIFAR-sized) tensors:
the cost of a step does not depend on what the pixels show.
"""
from __future__ import annotations

import argparse
import time

import torch

from ssl_helpers.losses import nt_xent
from ssl_helpers.methods import make_method
from ssl_helpers.models import build_encoder
from ssl_helpers.train import Precision, pick_device, pick_precision


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--arch", default="resnet18_cifar", choices=["resnet18_cifar", "small_cnn"])
    p.add_argument("--width", type=int, default=None, help="encoder width (default 64 ResNet, 32 small)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=50, help="timed steps per variant (after 3 warm-up steps)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers for the torchvision variant")
    p.add_argument("--dataset-size", type=int, default=None, help="images held (default: enough for the steps)")
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch threads in the main process")
    return p.parse_args(argv)


class _TorchvisionViews(torch.utils.data.Dataset):
    """Item i: two views of image i by torchvision's per-image v2 transforms (the SimCLR small-image recipe)."""

    def __init__(self, images: torch.Tensor, size: int):
        from torchvision.transforms import v2

        self.images = (images * 255).to(torch.uint8)  # what a real loader decodes
        self.transform = v2.Compose([
            v2.RandomResizedCrop(size, scale=(0.2, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.ToDtype(torch.float32, scale=True),
        ])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.transform(self.images[i])


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rate(step, batches, batch_size, device, warmup=3) -> float:
    """images/s of `step(batch)` over an iterator of batches, after `warmup` untimed steps."""
    iterator = iter(batches)
    for _ in range(warmup):
        step(next(iterator))
    _sync(device)
    started, count = time.perf_counter(), 0
    for batch in iterator:
        step(batch)
        count += 1
    _sync(device)
    return count * batch_size / (time.perf_counter() - started)


def run(args) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    amp = device.type == "cuda" and not args.no_amp
    width = args.width or (64 if args.arch == "resnet18_cifar" else 32)
    torch.manual_seed(0)
    encoder = build_encoder({"arch": args.arch, "in_channels": 3, "width": width}).to(device)
    method = make_method("simclr", augment="small", hidden_dim=512, out_dim=128, temperature=0.5)
    method.build((3, args.image_size, args.image_size), encoder).to(device)
    if amp:
        method = method.to(memory_format=torch.channels_last)
    method.generator = torch.Generator(device=device).manual_seed(0)
    precision = pick_precision(device) if amp else Precision(None, None)
    optimizer = torch.optim.AdamW(method.parameters(), lr=1e-3)
    augment, generator = method.augment, method.generator
    b, total = args.batch_size, args.steps + 3
    n = args.dataset_size or b * total
    images = torch.rand(n, 3, args.image_size, args.image_size)
    on_device = images.to(device)

    def optimise(loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def train_step(views):
        """The method's step on views already made: encoder, head, NT-Xent (what `training_step` does after
        drawing its views)."""
        x = torch.cat(views)
        if amp:
            x = x.contiguous(memory_format=torch.channels_last)
        with precision.autocast(device.type):
            z = method.head(method.encoder(x)).float()
        optimise(nt_xent(z[:len(views[0])], z[len(views[0]):], method.options.temperature))

    def method_step(index):
        with precision.autocast(device.type):
            loss = method.step(on_device[index])
        optimise(loss)

    def batch_indices():
        for step in range(total):
            yield torch.arange(step * b, (step + 1) * b, device=device) % n

    made = [(augment(on_device[i], generator), augment(on_device[i], generator)) for i in list(batch_indices())[:4]]
    ceiling = _rate(train_step, (made[s % len(made)] for s in range(total)), b, device)
    batched = _rate(method_step, batch_indices(), b, device)
    loader = torch.utils.data.DataLoader(_TorchvisionViews(images, args.image_size), batch_size=b, shuffle=True,
                                         num_workers=args.workers, drop_last=True, pin_memory=device.type == "cuda",
                                         persistent_workers=False)

    def loader_batches():
        produced = 0
        while produced < total:
            for x_a, x_b in loader:
                yield x_a.to(device, non_blocking=True), x_b.to(device, non_blocking=True)
                produced += 1
                if produced == total:
                    return

    workers = _rate(train_step, loader_batches(), b, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    result = {"device": name, "arch": args.arch, "width": width, "image_size": args.image_size, "batch_size": b,
              "amp": amp, "steps": args.steps, "workers": args.workers, "ceiling": ceiling, "batched": batched,
              "torchvision_workers": workers}
    print(f"device {name}, {args.arch} width {width}, {args.image_size}px, batch {b}, "
          f"{'bf16 autocast + channels-last' if amp else 'float32'}, {args.steps} timed steps")
    print(f"  training step alone (pre-made views):   {ceiling:10.0f} images/s")
    print(f"  + ssl_helpers.augment on the device:     {batched:10.0f} images/s")
    print(f"  + torchvision in {args.workers} DataLoader workers:  {workers:10.0f} images/s")
    print(f"  batched / ceiling = {batched / ceiling:.2f}   batched / torchvision workers = {batched / workers:.1f}x")
    return result


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
