"""The GPU path's figures, measured on the GPU at hand (run it on Colab's T4, or any CUDA machine):

    python scripts/gpu_check.py                          # CUDA: ResNet-18, 32 px, batch 512, as notebook 06
    python scripts/gpu_check.py --device cpu --batch-size 32 --width 8 --images 256   # a quick check of the script

It prints, one line each, then the whole as one JSON line:
1. the device, its compute capability and the precision `pick_precision` chooses for it (bf16 on >= 8.0, float16
   with a gradient scaler below);
2. SimCLR training-step throughput (images/s, one image = two views) with that precision and with float32, timed by
   `ssl_helpers.train.estimate_step_seconds` (`method.step` of `make_method("simclr")`, as the Trainer runs it), and the
   minutes notebook 06's FULL_RUN (`--epochs`, 50,000 images) would take at that rate, next to the course's T4
   estimate (`ssl_helpers.config.t4_minutes`, scaled from an H200 figure: an estimate, not a measurement);
3. resume on this device: a small SimCLR run interrupted after one epoch and resumed, against the same run
   uninterrupted (the largest difference in the loss history; on CUDA it need not be 0 where cuDNN picks
   non-deterministic kernels).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from ssl_helpers.config import t4_images_per_second, t4_minutes
from ssl_helpers.methods import make_method, pretrain
from ssl_helpers.models import ResNet18Cifar, SmallCNN
from ssl_helpers.train import estimate_step_seconds, pick_device, pick_precision


class Interrupted(Exception):
    pass


def step_images_per_second(device, batch_size: int, width: int, precision: str, steps: int) -> float:
    """SimCLR (ResNet-18 at 32 px, the 'small' augmentation on the device) training steps per second x batch."""
    torch.manual_seed(0)
    method = make_method("simclr", augment="small").build((3, 32, 32), ResNet18Cifar(width=width).to(device))
    method.generator = torch.Generator(device=device).manual_seed(0)
    images = torch.rand(batch_size, 3, 32, 32, device=device)
    seconds = estimate_step_seconds(lambda batch: method.step(batch[0]), [method], (images,),
                                    batch_size=batch_size, device=device, precision=precision,
                                    generators=(method.generator,), steps=steps, warmup=3)
    return batch_size / seconds


def resume_difference(device, images: int) -> float:
    """Largest |loss difference| between a 3-epoch SimCLR run and the same run interrupted after epoch 1, resumed."""
    data = torch.rand(images, 3, 16, 16)

    def go(path, stop=None):
        def on_epoch_end(epoch):
            if epoch == stop:
                raise Interrupted
        torch.manual_seed(0)  # the same initial weights in every run
        _, history = pretrain("simclr", data, encoder=SmallCNN(width=8), epochs=3, batch_size=64, device=device,
                              progress=False, checkpoint=path, on_epoch_end=on_epoch_end)
        return history["loss"]

    with tempfile.TemporaryDirectory() as folder:  # checkpoint: a run folder (Lightning's last.ckpt in it)
        reference = go(Path(folder) / "reference")
        try:
            go(Path(folder) / "run", stop=2)
        except Interrupted:
            pass
        resumed = go(Path(folder) / "run")
    return float((reference - resumed).abs().max())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="Measure the GPU path: precision, step throughput, resume.")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=35, help="notebook 06's FULL_RUN epochs, for the minutes")
    parser.add_argument("--images", type=int, default=1024, help="images in the resume check")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    precision = pick_precision(device)
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
              "capability": ".".join(map(str, torch.cuda.get_device_capability(device)))
              if device.type == "cuda" else None,
              "precision": precision.name, "grad_scaler": precision.scaler is not None,
              "batch_size": args.batch_size, "width": args.width, "torch": torch.__version__}
    print(f"1. {result['device']} (compute capability {result['capability']}): {result['precision']}"
          f"{' + GradScaler' if result['grad_scaler'] else ''}")
    auto = step_images_per_second(device, args.batch_size, args.width, "auto", args.steps)
    plain = step_images_per_second(device, args.batch_size, args.width, "float32", args.steps)
    minutes = args.epochs * 50_000 / auto / 60
    result.update(images_per_second=round(auto), float32_images_per_second=round(plain),
                  notebook06_minutes=round(minutes, 1), course_t4_estimate_images_per_second=round(
                      t4_images_per_second()), course_t4_estimate_minutes=round(t4_minutes(args.epochs), 1))
    print(f"2. SimCLR step: {auto:.0f} images/s ({result['precision']}), {plain:.0f} float32; notebook 06 "
          f"({args.epochs} epochs): {minutes:.1f} min here; the course's T4 estimate {t4_images_per_second():.0f} "
          f"images/s, {t4_minutes(args.epochs):.1f} min")
    result["resume_max_loss_difference"] = resume_difference(device, args.images)
    print(f"3. resume: largest loss difference, interrupted and resumed vs uninterrupted: "
          f"{result['resume_max_loss_difference']:.3g}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
