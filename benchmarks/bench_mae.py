"""MAE's compute claim, measured: one training step of the same ViT encoder on the visible tokens only
(mask ratio 0.75: a quarter of them) against all tokens, as a time ratio in one process.

    .venv/bin/python benchmarks/bench_mae.py            # CPU, 1 thread, the CPU tier (16 px) and CIFAR size (32 px)
    .venv/bin/python benchmarks/bench_mae.py --threads 2 --batch 256

He et al. (2022) report about 3x faster pre-training at 75% masking (their encoder is most of the cost; here the
figure is the encoder step alone, `ssl_helpers.mae.encoder_step_seconds`). Measurements alternate the two
settings, so a change in machine load hits both.
"""
import argparse

import torch

from ssl_helpers.mae import ViTEncoder, encoder_step_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--mask-ratio", type=float, default=0.75)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median ratio is reported")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, mask ratio {args.mask_ratio}")
    for size, dim, depth in ((16, 64, 4), (32, 64, 4)):
        torch.manual_seed(0)
        encoder = ViTEncoder(in_channels=3, image_size=size, patch_size=4, dim=dim, depth=depth, heads=4)
        images = torch.rand(args.batch, 3, size, size)
        ratios, alls, visibles = [], [], []
        for _ in range(args.rounds):
            alls.append(encoder_step_seconds(encoder, images, None))
            visibles.append(encoder_step_seconds(encoder, images, args.mask_ratio))
            ratios.append(alls[-1] / visibles[-1])
        keep = round((1 - args.mask_ratio) * encoder.num_tokens)
        print(f"{size} px, {encoder.num_tokens} tokens -> {keep} visible, dim {dim}, depth {depth}: "
              f"all tokens {1e3 * sorted(alls)[len(alls) // 2]:.1f} ms/step, visible only "
              f"{1e3 * sorted(visibles)[len(visibles) // 2]:.1f} ms/step, "
              f"ratio {sorted(ratios)[len(ratios) // 2]:.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
