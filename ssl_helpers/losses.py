"""Contrastive losses: pull embeddings of similar inputs together, push dissimilar ones apart.

| loss | inputs | idea |
|---|---|---|
| `pair_contrastive_loss` | pairs `(z_a, z_b)` with a similar/dissimilar flag | similar pairs to distance 0, dissimilar beyond a margin |
| `triplet_loss` | `(anchor, positive, negative)` | the positive closer to the anchor than the negative, by a margin |
| `info_nce` | queries, a set of keys, the index of each query's positive | softmax over cosine similarities / T |
| `nt_xent` | two views `(z_a, z_b)` of N inputs | SimCLR's InfoNCE over the 2N views (optionally across processes) |
| `moco_loss` | queries, their momentum keys, a queue of K older keys | InfoNCE with K negatives whatever the batch size |
| `negative_cosine` | predictions p, target projections z | BYOL / SimSiam: p towards z, no negatives, z stop-gradient |
| `barlow_twins_loss` | two views `(z_a, z_b)` | cross-correlation matrix of the views towards the identity |
| `vicreg_loss` | two views `(z_a, z_b)` | invariance + variance above gamma + off-diagonal covariance to 0 |

Every loss checks its input and raises `ValueError` naming the argument: mismatched shapes, too few rows,
a margin or temperature that is not positive, non-finite values. Slow reference versions written as loops
straight from the equations live in `ssl_helpers.losses_reference` (tests and benchmarks use them).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

__all__ = [
    "pair_contrastive_loss",
    "triplet_loss",
    "cosine_similarity_matrix",
    "info_nce",
    "nt_xent",
    "nt_xent_logits",
    "positive_index",
    "gather_with_grad",
    "distributed_world",
]


# ----------------------------------------------------------------------------------------------------
# Input checks (shared by every loss)
# ----------------------------------------------------------------------------------------------------


def _check_matrix(name: str, z: torch.Tensor, min_rows: int = 1) -> None:
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    if z.ndim != 2:
        raise ValueError(f"{name} must be a matrix of embeddings (rows, D), got shape {tuple(z.shape)}")
    if z.shape[0] < min_rows or z.shape[1] < 1:
        raise ValueError(f"{name} must have at least {min_rows} row(s) and 1 column, got shape {tuple(z.shape)}")
    if not z.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {z.dtype}")
    # On the CPU this check is free; on an accelerator it would stop the host every step (a synchronisation),
    # so there the training loop reports a non-finite loss once per epoch instead.
    if z.device.type == "cpu" and not bool(torch.isfinite(z).all()):
        raise ValueError(f"{name} contains non-finite values (nan or inf)")


def _check_same_shape(names: tuple, tensors: tuple) -> None:
    shapes = [tuple(t.shape) for t in tensors]
    if any(s != shapes[0] for s in shapes):
        described = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"{' , '.join(names)} must have the same shape (rows, D), got {described}")


def _check_positive(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


# ----------------------------------------------------------------------------------------------------
# Margin losses
# ----------------------------------------------------------------------------------------------------


def pair_contrastive_loss(z_a: torch.Tensor, z_b: torch.Tensor, similar: torch.Tensor,
                          margin: float = 1.0) -> torch.Tensor:
    """The margin-based pairwise contrastive loss (Hadsell, Chopra & LeCun 2006), mean over P pairs.

        d_p = |z_a[p] - z_b[p]|_2
        L = (1 / P) sum_p [ y_p d_p^2 + (1 - y_p) max(0, m - d_p)^2 ] / 2

    Similar pairs (y_p = 1) are pulled to distance 0; dissimilar pairs (y_p = 0) are pushed until they are at
    least the margin m apart, and then left alone.

    z_a, z_b: (P, D) embeddings, row p of each forms pair p; similar: (P,) booleans or 0/1; margin m > 0.
    Returns a scalar.
    """
    _check_matrix("z_a", z_a)
    _check_matrix("z_b", z_b)
    _check_same_shape(("z_a", "z_b"), (z_a, z_b))
    margin = _check_positive("margin", margin)
    similar = torch.as_tensor(similar, device=z_a.device)
    if similar.shape != (z_a.shape[0],):
        raise ValueError(f"similar must have shape (P,) = ({z_a.shape[0]},), one flag per pair, got "
                         f"{tuple(similar.shape)}")
    if not bool(((similar == 0) | (similar == 1)).all()):
        raise ValueError("similar must hold booleans or 0/1 values")
    y = similar.to(z_a.dtype)
    squared = (z_a - z_b).pow(2).sum(dim=1)
    d = squared.clamp_min(1e-12).sqrt()           # the clamp keeps the gradient of d finite at d = 0
    return (0.5 * (y * squared + (1 - y) * F.relu(margin - d).pow(2))).mean()


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 1.0) -> torch.Tensor:
    """The triplet loss (Weinberger & Saul 2009; Schroff et al. 2015, FaceNet), mean over B triplets.

        L = (1 / B) sum_b max(0, |a_b - p_b|_2 - |a_b - n_b|_2 + m)

    Zero once every positive is closer to its anchor than the negative is, by at least the margin m.

    anchor, positive, negative: (B, D); margin m > 0. Returns a scalar.
    """
    for name, z in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _check_matrix(name, z)
    _check_same_shape(("anchor", "positive", "negative"), (anchor, positive, negative))
    margin = _check_positive("margin", margin)
    return F.relu(_pair_distance(anchor, positive) - _pair_distance(anchor, negative) + margin).mean()


def _pair_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean distance (R,), with a finite gradient at distance 0 (where |.| has none)."""
    return (x - y).pow(2).sum(dim=1).clamp_min(1e-12).sqrt()


# ----------------------------------------------------------------------------------------------------
# InfoNCE and NT-Xent
# ----------------------------------------------------------------------------------------------------


def cosine_similarity_matrix(x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
    """s_ij = x_i . y_j / (|x_i| |y_j|): x (R, D), y (K, D) (default x) -> (R, K), without an (R, K, D) tensor."""
    x = F.normalize(x, dim=1)
    y = x if y is None else F.normalize(y, dim=1)
    return x @ y.T


def info_nce(query: torch.Tensor, keys: torch.Tensor, positive: torch.Tensor, temperature: float = 0.1,
             exclude: Optional[torch.Tensor] = None) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018) with cosine similarity, mean over the B queries.

        s_bk = cos(q_b, k_k),   p_bk = exp(s_bk / T) / sum_{k' not excluded} exp(s_bk' / T)
        L = -(1 / B) sum_b log p_{b, pos(b)}

    Each query has one positive among the K keys; every other (not excluded) key is a negative. The loss is
    the cross-entropy of "which key is my positive?" under the softmax over similarities.

    query: (B, D); keys: (K, D), K >= 2; positive: (B,) integer index of each query's positive key;
    exclude: optional (B, K) boolean mask of keys left out of a query's softmax (e.g. the query itself).
    Returns a scalar.
    """
    _check_matrix("query", query)
    _check_matrix("keys", keys, min_rows=2)
    if query.shape[1] != keys.shape[1]:
        raise ValueError(f"query and keys must have the same dimension D, got {tuple(query.shape)} and "
                         f"{tuple(keys.shape)}")
    temperature = _check_positive("temperature", temperature)
    positive = torch.as_tensor(positive, device=query.device)
    if positive.shape != (query.shape[0],) or positive.is_floating_point():
        raise ValueError(f"positive must be an integer tensor of shape (B,) = ({query.shape[0]},), got "
                         f"{tuple(positive.shape)} {positive.dtype}")
    if bool(((positive < 0) | (positive >= keys.shape[0])).any()):
        raise ValueError(f"positive indices must lie in [0, {keys.shape[0]}), the number of keys")
    logits = cosine_similarity_matrix(query, keys) / temperature
    if exclude is not None:
        if exclude.shape != logits.shape:
            raise ValueError(f"exclude must have shape (B, K) = {tuple(logits.shape)}, got {tuple(exclude.shape)}")
        if bool(exclude.gather(1, positive[:, None]).any()):
            raise ValueError("exclude must not exclude a query's own positive key")
        logits = logits.masked_fill(exclude, float("-inf"))
    return F.cross_entropy(logits, positive.long())


def nt_xent_logits(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.5):
    """The (2N, 2N) logits and targets behind `nt_xent` (for plots and widgets).

    Row i of `logits` is s_i. / T with s_ii = -inf (a view is never its own candidate); `targets[i]` is the
    row of i's other view: i + N for i < N, i - N otherwise. z_a, z_b: (N, D).
    """
    z_a, z_b, temperature = _check_views(z_a, z_b, temperature)
    n = z_a.shape[0]
    z = torch.cat([z_a, z_b])
    logits = cosine_similarity_matrix(z) / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    return logits, positive_index(n, z.device)


def positive_index(n: int, device, offset: int = 0, total: Optional[int] = None) -> torch.Tensor:
    """The column of each row's positive in NT-Xent's (2N, 2N) similarity matrix: (2n,) long tensor.

    Rows are [a views; b views] of a global batch of `total` pairs whose a-part starts at `offset`: row i of the
    a-part is paired with column offset + i + total, row i of the b-part with column offset + i.
    """
    total = n if total is None else total
    a_rows = torch.arange(offset, offset + n, device=device)
    return torch.cat([a_rows + total, a_rows])


def _check_views(z_a, z_b, temperature):
    _check_matrix("z_a", z_a)
    _check_matrix("z_b", z_b)
    _check_same_shape(("z_a", "z_b"), (z_a, z_b))
    if z_a.shape[0] < 2:
        raise ValueError(f"NT-Xent needs at least 2 pairs (N >= 2) so that every view has negatives, got "
                         f"N = {z_a.shape[0]}")
    return z_a, z_b, _check_positive("temperature", temperature)


def _split_stacked(z: torch.Tensor):
    _check_matrix("z", z)
    if z.shape[0] % 2:
        raise ValueError(f"z must stack two views [z_a; z_b] of N inputs, so an even number of rows 2N; got "
                         f"{z.shape[0]} rows")
    return z.chunk(2)


def nt_xent(z_a: torch.Tensor, z_b: Optional[torch.Tensor] = None, temperature: float = 0.5, *,
            gather: Optional[bool] = None) -> torch.Tensor:
    """NT-Xent, SimCLR's normalized temperature-scaled cross-entropy (Chen et al. 2020, eq. 1).

        z = [z_a; z_b]: (2N, D),   s_ij = z_i . z_j / (|z_i| |z_j|)
        l(i, j) = -log( exp(s_ij / T) / sum_{k != i} exp(s_ik / T) ),   j = pos(i), the other view of i
        L = (1 / 2N) sum_{i=1}^{2N} l(i, pos(i))

    Each of the 2N views has one positive (the other view of the same input) and 2N - 2 negatives (the views of
    the other inputs). When all embeddings coincide, every softmax is uniform over 2N - 1 candidates and
    L = log(2N - 1). L is symmetric in the two views.

    z_a, z_b: (N, D), row n of each is a view of input n, N >= 2. Alternatively pass the stacked (2N, D)
    `z_a = [z_a; z_b]` with `z_b=None`. temperature T > 0.

    Across processes (`torch.distributed`, any backend): with `gather=True`, or with `gather=None` (default)
    when a process group with more than one process is initialised, the views of every process are gathered
    (gradients flow back through the gather) so that each process's rows see the negatives of all W processes.
    The returned value is then the single-process loss on the concatenated batch (rank 0's pairs first, then
    rank 1's, ...), identical on every process. Its gradient with respect to this process's embeddings is W
    times the gradient of that loss, so that DistributedDataParallel, which averages gradients over the W
    processes, applies exactly the gradient of the single-process loss. Each process must pass the same N.
    Memory: (2N, 2NW) logits per process, never a (2N, 2N, D) tensor.
    """
    if z_b is None:
        z_a, z_b = _split_stacked(z_a)
    z_a, z_b, temperature = _check_views(z_a, z_b, temperature)
    world, rank = distributed_world() if gather is not False else (1, 0)
    if gather and world == 1 and not _distributed_ready():
        raise ValueError("gather=True needs an initialised torch.distributed process group")
    if world == 1:
        logits, targets = nt_xent_logits(z_a, z_b, temperature)
        return F.cross_entropy(logits, targets)
    return _nt_xent_gathered(z_a, z_b, temperature, world, rank)


def _nt_xent_gathered(z_a, z_b, temperature: float, world: int, rank: int) -> torch.Tensor:
    """This process's 2n rows against all 2nW gathered views; value all-reduced to the global mean."""
    import torch.distributed as dist

    n = z_a.shape[0]
    local = torch.stack([F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)])        # (2, n, D)
    gathered = gather_with_grad(local)                                               # (W, 2, n, D)
    everyone = torch.cat([gathered[:, 0].reshape(world * n, -1), gathered[:, 1].reshape(world * n, -1)])
    mine = local.reshape(2 * n, -1)                                                  # (2n, D), own graph
    logits = mine @ everyone.T / temperature                                         # (2n, 2nW)
    own_columns = positive_index(n, z_a.device, offset=rank * n, total=world * n)
    own_columns = torch.cat([own_columns[n:], own_columns[:n]])                      # i's own column
    logits = logits.scatter(1, own_columns[:, None], float("-inf"))
    targets = positive_index(n, z_a.device, offset=rank * n, total=world * n)
    local_loss = F.cross_entropy(logits, targets)                                    # mean over own 2n rows
    global_loss = local_loss.detach().clone()
    dist.all_reduce(global_loss)
    global_loss /= world
    # value: the global mean over all 2nW rows; gradient: that of this process's own rows.
    return local_loss + (global_loss - local_loss.detach())


def _distributed_ready() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def distributed_world():
    """(world size, rank) of the initialised default process group, or (1, 0) without one."""
    if not _distributed_ready():
        return 1, 0
    import torch.distributed as dist

    return dist.get_world_size(), dist.get_rank()


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums the gradients of every process's copy and returns this process's slice."""

    @staticmethod
    def forward(ctx, tensor):
        import torch.distributed as dist

        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rank = rank
        return torch.stack(parts)

    @staticmethod
    def backward(ctx, grad):
        import torch.distributed as dist

        grad = grad.contiguous().clone()
        dist.all_reduce(grad)                    # sum over processes of d(their loss)/d(everyone's tensors)
        return grad[ctx.rank]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Stack `tensor` (any shape S, the same on every process) from all W processes: (W, *S), rank order.

    Autograd-aware: the gradient reaching this process's `tensor` is the sum over processes of the gradients
    of their losses with respect to it. Works on every backend (gloo included). Without an initialised
    process group it returns `tensor[None]`. Raises ValueError when processes pass different shapes.
    """
    world, _ = distributed_world()
    if world == 1:
        return tensor[None]
    import torch.distributed as dist

    shape = torch.tensor(tensor.shape, dtype=torch.long, device=tensor.device)
    shapes = [torch.empty_like(shape) for _ in range(world)]
    dist.all_gather(shapes, shape)
    if any(not torch.equal(s, shape) for s in shapes):
        raise ValueError(f"every process must pass the same shape to gather; got {[tuple(s.tolist()) for s in shapes]}")
    return _GatherWithGrad.apply(tensor)


# ----------------------------------------------------------------------------------------------------
# Beyond negatives: MoCo's queue, BYOL / SimSiam, Barlow Twins, VICReg (notebook 07)
# ----------------------------------------------------------------------------------------------------

__all__ += ["moco_loss", "negative_cosine", "cross_correlation", "barlow_twins_loss", "vicreg_terms", "vicreg_loss"]


def moco_loss(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """MoCo's InfoNCE (He et al. 2020): each query against its own key and the K keys of a queue of negatives.

        q = q / |q|, k = k / |k|, n_j = queue_j / |queue_j|
        logits_b = [q_b . k_b, q_b . n_1, ..., q_b . n_K] / T,   L = -(1/B) sum_b log softmax(logits_b)_0

    query: (B, D) from the online encoder; key: (B, D) from the momentum encoder (no gradient flows into it:
    it is detached here); queue: (K, D), K >= 1, keys of earlier batches (detached too). Returns a scalar.
    The number of negatives is K, whatever the batch size B.
    """
    _check_matrix("query", query)
    _check_matrix("key", key)
    _check_matrix("queue", queue)
    _check_same_shape(("query", "key"), (query, key))
    if queue.shape[1] != query.shape[1]:
        raise ValueError(f"queue must have the dimension D = {query.shape[1]} of query, got {tuple(queue.shape)}")
    temperature = _check_positive("temperature", temperature)
    q = F.normalize(query, dim=1)
    k = F.normalize(key.detach(), dim=1)
    n = F.normalize(queue.detach().to(q.dtype), dim=1)
    positives = (q * k).sum(dim=1, keepdim=True)                          # (B, 1)
    negatives = q @ n.T                                                   # (B, K)
    logits = torch.cat([positives, negatives], dim=1) / temperature      # (B, 1 + K)
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


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


def _check_batch(name: str, z: torch.Tensor) -> None:
    _check_matrix(name, z)
    if z.shape[0] < 2:
        raise ValueError(f"{name} must hold at least 2 embeddings (a batch of 1 has no variance or correlation), "
                         f"got shape {tuple(z.shape)}")


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
