"""Non-contrastive losses: agreement between views without negatives, and what keeps them from collapsing.

| loss | inputs | idea |
|---|---|---|
| `negative_cosine` | predictions p, target projections z | BYOL / SimSiam: p towards z, no negatives, z stop-gradient |
| `barlow_twins_loss` | two views `(z_a, z_b)` | cross-correlation matrix of the views towards the identity |
| `vicreg_loss` | two views `(z_a, z_b)` | invariance + variance above gamma + off-diagonal covariance to 0 |
| `dino_loss` | student and teacher logits over K prototypes, one (N, K) tensor per view | the student's softmax towards the teacher's centred, sharpened softmax of the other views |

Helpers: `cross_correlation` (Barlow Twins' C), `vicreg_terms` (VICReg's three terms), `update_center` (DINO's
moving average of the teacher's logits), `teacher_entropy` and `largest_prototype_share` (DINO's collapse
diagnostics: a uniform teacher has entropy log K, a collapsed one puts every row on one prototype).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
import torch.nn.functional as F

from ._checks import _check_batch, _check_fraction, _check_matrix, _check_positive, _check_same_shape, _check_views
from .contrastive import distributed_world

__all__ = ["barlow_twins_loss", "cross_correlation", "dino_loss", "largest_prototype_share", "negative_cosine",
           "teacher_entropy", "update_center", "vicreg_loss", "vicreg_terms"]


# ----------------------------------------------------------------------------------------------------
# BYOL / SimSiam, Barlow Twins, VICReg (notebook 07)
# ----------------------------------------------------------------------------------------------------


def negative_cosine(p: torch.Tensor, z: torch.Tensor, stop_gradient: bool = True) -> torch.Tensor:
    """SimSiam's D(p, z) (Chen & He 2021) = BYOL's loss (Grill et al. 2020) minus a constant:

        D(p, z) = -(1/N) sum_i p_i . z_i / (|p_i| |z_i|)          in [-1, 1]
        BYOL's |p/|p| - z/|z||^2 = 2 + 2 D(p, z) per row

    p: (N, D) predictions of the online branch; z: (N, D) the other view's projections, the target. With
    `stop_gradient` (the default, as both papers) z is detached: no gradient flows into the target branch.
    Rows of zeros are normalised with F.normalize's eps 1e-12 (their cosine is 0). Returns a scalar.
    """
    _check_matrix("p", p)
    _check_matrix("z", z)
    _check_same_shape(("p", "z"), (p, z))
    if stop_gradient:
        z = z.detach()
    return -(F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(dim=1).mean()


def cross_correlation(z_a: torch.Tensor, z_b: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Barlow Twins' cross-correlation matrix of two batches of embeddings, over the batch dimension:

        zhat = (z - mean_b z) / sqrt(var_b z + eps)      (var with 1/N, per dimension: BatchNorm without affine,
                                                          as the authors' code)
        C_ij = (1/N) sum_b zhat_a[b, i] zhat_b[b, j]     in [-1, 1]

    z_a, z_b: (N, D), N >= 2 -> C: (D, D). A dimension with zero variance in a batch gives zeros in its row or
    column (eps keeps the division and the square root's gradient finite, also in float32), so the loss then
    pushes its C_ii up from 0.
    """
    _check_batch("z_a", z_a)
    _check_batch("z_b", z_b)
    _check_same_shape(("z_a", "z_b"), (z_a, z_b))
    eps = _check_positive("eps", eps)

    def standardise(z):
        z = z - z.mean(dim=0)
        return z / (z.pow(2).mean(dim=0) + eps).sqrt()

    return standardise(z_a).T @ standardise(z_b) / z_a.shape[0]


def barlow_twins_loss(z_a: torch.Tensor, z_b: torch.Tensor, offdiag_weight: float = 5e-3,
                      eps: float = 1e-5) -> torch.Tensor:
    """Barlow Twins' redundancy-reduction loss (Zbontar et al. 2021, eq. 1):

        L = sum_i (1 - C_ii)^2 + lambda sum_i sum_{j != i} C_ij^2,     C = cross_correlation(z_a, z_b)

    The first (invariance) term makes each dimension agree across the two views; the second decorrelates
    different dimensions, so they cannot all carry the same (collapsed) signal. z_a, z_b: (N, D), N >= 2.
    offdiag_weight: lambda >= 0 (0 turns the redundancy term off). Returns a scalar; 0 for identical,
    standardised, decorrelated views (up to eps).
    """
    if not float(offdiag_weight) >= 0:
        raise ValueError(f"offdiag_weight must be >= 0, got {offdiag_weight}")
    c = cross_correlation(z_a, z_b, eps)
    diagonal = torch.diagonal(c)
    on = (1 - diagonal).pow(2).sum()
    off = c.pow(2).sum() - diagonal.pow(2).sum()
    return on + float(offdiag_weight) * off


def vicreg_terms(z_a: torch.Tensor, z_b: torch.Tensor, gamma: float = 1.0, eps: float = 1e-4) -> dict:
    """VICReg's three terms (Bardes et al. 2022), each a scalar tensor:

        invariance  s(Z, Z') = (1/(N D)) sum_b |z_b - z'_b|^2               (mean squared error, as the
                                                                             authors' code; the paper writes 1/N)
        variance    v(Z) = (1/D) sum_j max(0, gamma - sqrt(Var_b(z_j) + eps)),  Var with 1/(N-1);
                    returned as v(Z) + v(Z')
        covariance  c(Z) = (1/D) sum_{i != j} Cov(Z)_ij^2,  Cov(Z) = (1/(N-1)) sum_b (z_b - zbar)(z_b - zbar)^T;
                    returned as c(Z) + c(Z')

    z_a, z_b: (N, D), N >= 2. The variance term is 0 when every dimension's std is >= gamma (eps only adds to
    the variance, so it never makes the term positive), and keeps the embeddings from shrinking to a point;
    eps keeps the square root's gradient finite at zero variance.
    """
    _check_batch("z_a", z_a)
    _check_batch("z_b", z_b)
    _check_same_shape(("z_a", "z_b"), (z_a, z_b))
    gamma = _check_positive("gamma", gamma)
    eps = _check_positive("eps", eps)
    n, d = z_a.shape

    def variance(z):
        return F.relu(gamma - torch.sqrt(z.var(dim=0) + eps)).mean()

    def covariance(z):
        z = z - z.mean(dim=0)
        cov = z.T @ z / (n - 1)
        return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / d

    return {"invariance": F.mse_loss(z_a, z_b), "variance": variance(z_a) + variance(z_b),
            "covariance": covariance(z_a) + covariance(z_b)}


def vicreg_loss(z_a: torch.Tensor, z_b: torch.Tensor, invariance_weight: float = 25.0, variance_weight: float = 25.0,
                covariance_weight: float = 1.0, gamma: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """VICReg: L = lambda s(Z, Z') + mu [v(Z) + v(Z')] + nu [c(Z) + c(Z')] (terms: see `vicreg_terms`).

    z_a, z_b: (N, D), N >= 2; weights lambda, mu, nu >= 0 (the paper's 25, 25, 1; 0 turns a term off).
    Returns a scalar.
    """
    weights = {"invariance": invariance_weight, "variance": variance_weight, "covariance": covariance_weight}
    for name, weight in weights.items():
        if not float(weight) >= 0:
            raise ValueError(f"{name}_weight must be >= 0, got {weight}")
    terms = vicreg_terms(z_a, z_b, gamma, eps)
    return sum(float(weights[name]) * terms[name] for name in weights)


# ----------------------------------------------------------------------------------------------------
# DINO: self-distillation with a centred, sharpened teacher
# ----------------------------------------------------------------------------------------------------

Views = Union[Sequence[torch.Tensor], torch.Tensor]


def _working_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float32 at least (a softmax over K prototypes in half precision loses the small probabilities)."""
    dtype = torch.float32
    for t in tensors:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _check_center(center: torch.Tensor, k: int) -> torch.Tensor:
    """center (K,) or (1, K) -> detached (1, K)."""
    if not isinstance(center, torch.Tensor) or tuple(center.shape) not in ((k,), (1, k)):
        shape = tuple(center.shape) if isinstance(center, torch.Tensor) else type(center).__name__
        raise ValueError(f"center must be a tensor of shape (K,) or (1, K) with K = {k}, the logits' width, "
                         f"got {shape}")
    _check_matrix("center", center.reshape(1, k))
    return center.detach().reshape(1, k)


def _teacher_rows(teacher_logits: Views) -> torch.Tensor:
    """A (R, K) tensor of teacher rows, or a list of (N, K) views -> all rows (R, K), detached."""
    if isinstance(teacher_logits, torch.Tensor):
        _check_matrix("teacher_logits", teacher_logits)
        return teacher_logits.detach()
    return torch.cat(_check_views("teacher_logits", teacher_logits)).detach()


def _teacher_log_probabilities(teacher: torch.Tensor, center: torch.Tensor, temperature: float) -> torch.Tensor:
    """log softmax((t - c) / T_t) over the K prototypes, without gradient: (R, K) -> (R, K)."""
    dtype = _working_dtype(teacher, center)
    return F.log_softmax((teacher.detach().to(dtype) - center.to(dtype)) / temperature, dim=-1)


def dino_loss(student_logits: Sequence[torch.Tensor], teacher_logits: Sequence[torch.Tensor], center: torch.Tensor,
              student_temperature: float = 0.1, teacher_temperature: float = 0.04) -> torch.Tensor:
    """DINO's self-distillation loss (Caron et al. 2021, eq. 2-3 and Algorithm 1), mean over pairs of views.

        P_t^i = softmax((t_i - c) / T_t)      the teacher's distribution over K prototypes: centred, sharpened
        P_s^j = softmax(s_j / T_s)            the student's
        H(P_t^i, P_s^j) = -(1/N) sum_n sum_k P_t^i[n, k] log P_s^j[n, k]      (cross-entropy, mean over the batch)
        L = 1 / (G (V - 1)) sum_{i < G} sum_{j < V, j != i} H(P_t^i, P_s^j)

    teacher_logits: list of G >= 1 tensors (N, K), the teacher on the global views; student_logits: list of V >= 2,
    V >= G tensors (N, K), the student on every view (global and local), the G global ones first in the same
    order, so that student view i and teacher view i are the same crop: that pair is skipped (predicting a view
    from itself teaches nothing). center c: (K,) or (1, K), the running mean of the teacher's logits
    (`update_center`). T_s, T_t > 0; the paper's T_t = 0.04 < T_s = 0.1 sharpens the teacher, and the centring
    keeps one prototype from taking over: together they keep the teacher from collapsing. No gradient flows
    into the teacher side (its logits and the center are detached). Returns a scalar.

    Computed per student view j against the sum of the teacher distributions of the other views,
    sum_{i != j} P_t^i: V products of (N, K) tensors instead of G (V - 1), in at least float32.
    """
    teachers = _check_views("teacher_logits", teacher_logits)
    students = _check_views("student_logits", student_logits)
    g, v = len(teachers), len(students)
    if v < g:
        raise ValueError(f"student_logits must hold every view of teacher_logits (the global views first) and "
                         f"possibly more, got {v} student views for {g} teacher views")
    if v < 2:
        raise ValueError("student_logits must hold at least 2 views: a view is never compared with itself, "
                         f"got {v}")
    if students[0].shape != teachers[0].shape:
        raise ValueError(f"student_logits and teacher_logits must have the same shape (N, K) per view, got "
                         f"{tuple(students[0].shape)} and {tuple(teachers[0].shape)}")
    n, k = teachers[0].shape
    c = _check_center(center, k)
    student_temperature = _check_positive("student_temperature", student_temperature)
    teacher_temperature = _check_positive("teacher_temperature", teacher_temperature)

    dtype = _working_dtype(*teachers, *students, c)
    p_teacher = [_teacher_log_probabilities(t, c, teacher_temperature).exp().to(dtype) for t in teachers]
    every_teacher = torch.stack(p_teacher).sum(dim=0)                               # sum_i P_t^i: (N, K)
    total = 0.0
    for j, s in enumerate(students):
        log_p_student = F.log_softmax(s.to(dtype) / student_temperature, dim=-1)   # (N, K)
        others = every_teacher - p_teacher[j] if j < g else every_teacher           # sum_{i != j} P_t^i
        total = total - (others * log_p_student).sum() / n
    return total / (g * (v - 1))


def update_center(center: torch.Tensor, teacher_logits: Views, momentum: float = 0.9) -> torch.Tensor:
    """DINO's center (Caron et al. 2021, eq. 4): an exponential moving average of the teacher's logits.

        c <- m c + (1 - m) (1 / R) sum_r t_r          the mean over every teacher view and batch row, R = G N

    center: (K,) or (1, K); teacher_logits: list of G (N, K) tensors (the teacher on the global views), or one
    (R, K) tensor of rows; momentum m in [0, 1] (the paper: 0.9): 1 keeps the center, 0 replaces it with this
    batch's mean. Inside an initialised torch.distributed process group the mean is over the rows of every
    process (one all_reduce of the row sums and counts, via `distributed_world`; every process must call it), so
    every process gets the same center. Returns a new tensor with center's shape, dtype and device, without
    gradient (assign it: `self.center = update_center(self.center, ...)`, or `self.center.copy_(...)`).
    """
    with torch.no_grad():
        rows = _teacher_rows(teacher_logits)
        k = rows.shape[1]
        c = _check_center(center, k)
        momentum = _check_fraction("momentum", momentum)
        dtype = _working_dtype(rows, c)
        stats = torch.cat([rows.to(dtype).sum(dim=0), rows.new_full((1,), rows.shape[0], dtype=dtype)])
        world, _ = distributed_world()
        if world > 1:
            import torch.distributed as dist

            dist.all_reduce(stats)                                    # sums and row counts of every process
        batch_mean = (stats[:k] / stats[k]).to(device=c.device).reshape(1, k)
        new = momentum * c.to(dtype) + (1.0 - momentum) * batch_mean
        return new.to(center.dtype).reshape(center.shape)


def teacher_entropy(teacher_logits: Views, center: torch.Tensor, teacher_temperature: float = 0.04) -> torch.Tensor:
    """Mean entropy, in nats, of the teacher's centred, sharpened distribution (a DINO collapse diagnostic):

        P = softmax((t - c) / T_t),     H = -(1/R) sum_r sum_k P[r, k] log P[r, k]      in [0, log K]

    log K: the teacher is uniform on every row (centring won: collapse to the uniform distribution); near 0:
    every row is confident. Read it with `largest_prototype_share`: confident rows that all pick the same
    prototype are the other collapse. teacher_logits: (R, K) tensor, or a list of (N, K) views; center: (K,) or
    (1, K); T_t > 0. Returns a 0-dim tensor without gradient (`float(...)` for a number).
    """
    rows = _teacher_rows(teacher_logits)
    c = _check_center(center, rows.shape[1])
    teacher_temperature = _check_positive("teacher_temperature", teacher_temperature)
    with torch.no_grad():
        log_p = _teacher_log_probabilities(rows, c, teacher_temperature)
        return -(log_p.exp() * log_p).sum(dim=1).mean()


def largest_prototype_share(teacher_logits: Views, center: torch.Tensor,
                            teacher_temperature: float = 0.04) -> torch.Tensor:
    """Fraction of rows whose most likely prototype is the most frequent one (a DINO collapse diagnostic):

        a_r = argmax_k softmax((t_r - c) / T_t)_k,     share = max_k #{r : a_r = k} / R       in [1/K, 1]

    1: every row picks the same prototype (collapse onto one dimension); about 1/K (for R >= K) when they spread
    evenly. The temperature does not change an argmax; it is checked and accepted to match `teacher_entropy`.
    teacher_logits: (R, K) tensor, or a list of (N, K) views; center: (K,) or (1, K). Returns a 0-dim float
    tensor without gradient.
    """
    rows = _teacher_rows(teacher_logits)
    c = _check_center(center, rows.shape[1])
    _check_positive("teacher_temperature", teacher_temperature)
    with torch.no_grad():
        choices = (rows - c.to(rows.dtype)).argmax(dim=1)
        counts = torch.bincount(choices, minlength=rows.shape[1])
        return counts.max().to(torch.float32) / rows.shape[0]
