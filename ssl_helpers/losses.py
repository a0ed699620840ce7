"""Contrastive losses.

`nt_xent` is SimCLR's normalized temperature-scaled cross-entropy (InfoNCE) over two views.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["nt_xent"]


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent (SimCLR, Chen et al. 2020, eq. 1), mean over all 2N rows.

        z = [z_a; z_b]: (2N, D),  s_ij = z_i . z_j / (|z_i| |z_j|)
        l(i, j) = -log( exp(s_ij / T) / sum_{k != i} exp(s_ik / T) ),  j = the other view of i
        L = (1 / 2N) sum_i l(i, pos(i))

    z_a, z_b: (N, D), row n of each is a view of input n.
    """
    if z_a.shape != z_b.shape or z_a.ndim != 2:
        raise ValueError(f"z_a and z_b must both be (N, D) with the same shape, got {tuple(z_a.shape)} and "
                         f"{tuple(z_b.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    n = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    logits = (z @ z.T) / temperature
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)
