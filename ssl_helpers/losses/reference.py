"""Slow reference versions of the losses, written from the papers, for tests and benchmarks only.

`nt_xent_loop` is SimCLR's equation written as loops, one term at a time, in float64: the yardstick that
`ssl_helpers.losses.nt_xent` is checked against. `nt_xent_naive` is the tempting broadcast version that
materialises a (2N, 2N, D) tensor to get the similarities: right, but memory-bound. `moco_loop`,
`negative_cosine_loop`, `barlow_twins_loop` and `vicreg_loop` do the same for the losses of notebook 07;
`dino_loop` follows DINO's pseudo-code (Algorithm 1) and `ijepa_loop` I-JEPA's loss, token by token.
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


# ----------------------------------------------------------------------------------------------------
# Beyond negatives (notebook 07): each loss written term by term from its paper, in float64
# ----------------------------------------------------------------------------------------------------

__all__ += ["barlow_twins_loop", "moco_loop", "negative_cosine_loop", "vicreg_loop"]


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / torch.linalg.vector_norm(v)


def moco_loop(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """MoCo (He et al. 2020, eq. 1): L_q = -log exp(q.k+/T) / (exp(q.k+/T) + sum_j exp(q.n_j/T)), mean over queries."""
    total = 0.0
    for b in range(query.shape[0]):
        q = _unit(query[b].double())
        positive = torch.exp(torch.dot(q, _unit(key[b].double())) / temperature)
        negatives = sum(torch.exp(torch.dot(q, _unit(n.double())) / temperature) for n in queue)
        total = total - torch.log(positive / (positive + negatives))
    return total / query.shape[0]


def negative_cosine_loop(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """SimSiam (Chen & He 2021, eq. 1): D(p, z) = -mean_i (p_i / |p_i|) . (z_i / |z_i|)."""
    return -sum(torch.dot(_unit(p[i].double()), _unit(z[i].double())) for i in range(p.shape[0])) / p.shape[0]


def barlow_twins_loop(z_a: torch.Tensor, z_b: torch.Tensor, offdiag_weight: float) -> torch.Tensor:
    """Barlow Twins (Zbontar et al. 2021, eq. 1 and 2), no epsilon:

        C_ij = sum_b za_bi zb_bj / ( sqrt(sum_b za_bi^2) sqrt(sum_b zb_bj^2) )   on batch-centred z
        L = sum_i (1 - C_ii)^2 + lambda sum_i sum_{j != i} C_ij^2
    """
    a = z_a.double() - z_a.double().mean(0)
    b = z_b.double() - z_b.double().mean(0)
    n, d = a.shape
    loss = torch.zeros((), dtype=torch.float64)
    for i in range(d):
        for j in range(d):
            c = sum(a[k, i] * b[k, j] for k in range(n)) / (
                torch.sqrt(sum(a[k, i] ** 2 for k in range(n))) * torch.sqrt(sum(b[k, j] ** 2 for k in range(n))))
            loss = loss + ((1 - c) ** 2 if i == j else offdiag_weight * c ** 2)
    return loss


def vicreg_loop(z_a: torch.Tensor, z_b: torch.Tensor, invariance_weight: float, variance_weight: float,
                covariance_weight: float, gamma: float = 1.0, eps: float = 1e-4) -> dict:
    """VICReg (Bardes et al. 2022, eq. 1-6), one term at a time; the invariance term as a mean over N*D entries.

    Returns {"invariance", "variance", "covariance", "loss"} (variance and covariance summed over both branches).
    """
    n, d = z_a.shape

    def variance(z):
        total = 0.0
        for j in range(d):
            mean = sum(z[k, j] for k in range(n)) / n
            var = sum((z[k, j] - mean) ** 2 for k in range(n)) / (n - 1)
            total = total + max(0.0, gamma - float(torch.sqrt(var + eps)))
        return total / d

    def covariance(z):
        means = [sum(z[k, j] for k in range(n)) / n for j in range(d)]
        total = 0.0
        for i in range(d):
            for j in range(d):
                if i != j:
                    cov = sum((z[k, i] - means[i]) * (z[k, j] - means[j]) for k in range(n)) / (n - 1)
                    total = total + cov ** 2
        return total / d

    a, b = z_a.double(), z_b.double()
    invariance = sum(float(torch.dot(a[k] - b[k], a[k] - b[k])) for k in range(n)) / (n * d)
    terms = {"invariance": invariance, "variance": variance(a) + variance(b),
             "covariance": float(covariance(a) + covariance(b))}
    terms["loss"] = (invariance_weight * terms["invariance"] + variance_weight * terms["variance"]
                     + covariance_weight * terms["covariance"])
    return terms


# ----------------------------------------------------------------------------------------------------
# DINO and I-JEPA: the teacher's outputs as targets
# ----------------------------------------------------------------------------------------------------

__all__ += ["dino_loop", "ijepa_loop"]


def dino_loop(student_logits, teacher_logits, center: torch.Tensor, student_temperature: float,
              teacher_temperature: float) -> torch.Tensor:
    """DINO from the paper's pseudo-code (Caron et al. 2021, Algorithm 1, with its multi-crop loop), in float64:

        def H(t, s):
            t = t.detach()                                  # stop gradient
            s = softmax(s / tps, dim=1)
            t = softmax((t - C) / tpt, dim=1)               # center + sharpen
            return - (t * log(s)).sum(dim=1).mean()

        loss = mean of H(teacher[i], student[j]) over every teacher view i and student view j != i

    student_logits: list of V (N, K) tensors (the global views first); teacher_logits: list of G (N, K) tensors;
    center: (K,) or (1, K). Returns a float64 scalar tensor.
    """
    c = center.detach().double().reshape(1, -1)

    def H(t, s):
        t = t.detach()
        s = torch.softmax(s / student_temperature, dim=1)
        t = torch.softmax((t - c) / teacher_temperature, dim=1)
        return -(t * torch.log(s)).sum(dim=1).mean()

    total, pairs = 0.0, 0
    for i, t in enumerate(teacher_logits):
        for j, s in enumerate(student_logits):
            if i == j:
                continue                                    # a view is not its own target
            total = total + H(t.double(), s.double())
            pairs += 1
    return total / pairs


def ijepa_loop(predicted: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """I-JEPA's loss (Assran et al. 2023) one token at a time, in float64:

        s_bar = (s - mean(s)) / sqrt(var(s) + eps)      over the D features of one target token, var with 1/D
        L = 1/(N M) sum_n sum_m (1/D) |s_hat[n, m] - s_bar[n, m]|^2

    predicted, target: (N, M, D). Returns a float64 scalar tensor.
    """
    n, m, d = target.shape
    total = 0.0
    for a in range(n):
        for b in range(m):
            s = target[a, b].detach().double()
            mean = sum(s[k] for k in range(d)) / d
            var = sum((s[k] - mean) ** 2 for k in range(d)) / d
            s_bar = (s - mean) / torch.sqrt(var + eps)
            total = total + ((predicted[a, b].double() - s_bar) ** 2).sum() / d
    return total / (n * m)
