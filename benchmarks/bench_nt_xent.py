"""Time `ssl_helpers.losses.nt_xent` (forward + backward) against the slow references, in one process.

    .venv/bin/python benchmarks/bench_nt_xent.py                 # loop at N = 64; naive at N = 256 and 1024
    .venv/bin/python benchmarks/bench_nt_xent.py --naive-sizes 256   # skip the 2 GB (2N, 2N, D) tensor

D = 128 throughout. `nt_xent_loop` is the paper's equation as Python loops (float64); `nt_xent_naive`
materialises the (2N, 2N, D) product of every pair of embeddings (2 GB in float32 at N = 1024;
the process peaks near 5 GB with its backward pass). Each time is
the fastest of several repeats after one warm-up; the ratio is reference time / nt_xent time.
"""
from __future__ import annotations

import argparse
import time

import torch

from ssl_helpers.losses import nt_xent
from ssl_helpers.losses.reference import nt_xent_loop, nt_xent_naive


def seconds(loss, z_a, z_b, temperature, repeats):
    """Fastest wall time of loss(z_a, z_b, T).backward() over `repeats` runs after one warm-up (the minimum is the
    least disturbed by other work on a shared machine)."""
    times = []
    for i in range(repeats + 1):
        a, b = z_a.clone().requires_grad_(True), z_b.clone().requires_grad_(True)
        started = time.perf_counter()
        loss(a, b, temperature).backward()
        if i:
            times.append(time.perf_counter() - started)
    return min(times)


def compare(reference, name, n, dim, repeats, ref_repeats, temperature=0.5):
    generator = torch.Generator().manual_seed(n)
    z_a, z_b = torch.randn(n, dim, generator=generator), torch.randn(n, dim, generator=generator)
    ours = seconds(nt_xent, z_a, z_b, temperature, repeats)
    theirs = seconds(reference, z_a, z_b, temperature, ref_repeats)
    print(f"N={n:5d} D={dim}: nt_xent {ours * 1e3:9.2f} ms | {name:5s} {theirs * 1e3:10.2f} ms | "
          f"ratio {theirs / ours:8.1f}x", flush=True)
    return theirs / ours


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--loop-size", type=int, default=64)
    parser.add_argument("--naive-sizes", type=int, nargs="*", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, forward + backward, fastest of repeats")
    compare(nt_xent_loop, "loop", args.loop_size, args.dim, args.repeats, ref_repeats=1)
    for n in args.naive_sizes:
        compare(nt_xent_naive, "naive", n, args.dim, args.repeats, ref_repeats=3)


if __name__ == "__main__":
    main()
