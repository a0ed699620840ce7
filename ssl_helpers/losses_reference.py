"""Slow reference versions of the contrastive losses, for tests and benchmarks only.

`nt_xent_loop` is SimCLR's equation written as loops, one term at a time, in float64: the yardstick that
`ssl_helpers.losses.nt_xent` is checked against. `nt_xent_naive` is the tempting broadcast version that
materialises a (2N, 2N, D) tensor to get the similarities: right, but memory-bound.
"""
from __future__ import annotations

import math

import torch

__all__ = ["nt_xent_loop", "nt_xent_naive"]


def nt_xent_loop(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent straight from the paper (Chen et al. 2020, eq. 1 and Algorithm 1), in float64 loops.

        z_1..z_2N = z_a[0], z_b[0], z_a[1], z_b[1], ...  (Algorithm 1 interleaves the two views)
        s_ij = z_i . z_j / (|z_i| |z_j|)
        l(i, j) = -log( exp(s_ij / T) / sum_{k=1..2N, k != i} exp(s_ik / T) )
        L = 1/(2N) sum_{k=1..N} [ l(2k-1, 2k) + l(2k, 2k-1) ]

    z_a, z_b: (N, D). Returns a float64 scalar tensor (differentiable, but slow: O(N^2) Python steps).
    """
    n = z_a.shape[0]
    z = []
    for k in range(n):                     # interleave: a different row order from nt_xent's [z_a; z_b]
        z.append(z_a[k].double())
        z.append(z_b[k].double())

    def sim(i, j):
        return torch.dot(z[i], z[j]) / (torch.linalg.vector_norm(z[i]) * torch.linalg.vector_norm(z[j]))

    s = [[sim(i, j) for j in range(2 * n)] for i in range(2 * n)]

    def l(i, j):
        denominator = sum(torch.exp(s[i][k] / temperature) for k in range(2 * n) if k != i)
        return -torch.log(torch.exp(s[i][j] / temperature) / denominator)

    total = sum(l(2 * k, 2 * k + 1) + l(2 * k + 1, 2 * k) for k in range(n))
    return total / (2 * n)


def nt_xent_naive(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent with the similarity matrix computed by broadcasting: a (2N, 2N, D) product, then a sum.

    Same value as `nt_xent`; memory 4N^2 D numbers (2 GB in float32 at N = 1024, D = 128).
    """
    z = torch.cat([z_a, z_b])
    z = z / z.norm(dim=1, keepdim=True)
    s = (z[:, None, :] * z[None, :, :]).sum(dim=-1) / temperature          # (2N, 2N, D) -> (2N, 2N)
    n2 = z.shape[0]
    s = s.masked_fill(torch.eye(n2, dtype=torch.bool, device=z.device), -math.inf)
    positive = torch.cat([torch.arange(n2 // 2, n2), torch.arange(0, n2 // 2)]).to(z.device)
    return (torch.logsumexp(s, dim=1) - s[torch.arange(n2), positive]).mean()
