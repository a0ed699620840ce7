"""Contrastive losses: pull embeddings of similar inputs together, push dissimilar ones apart.

| loss | inputs | idea |
|---|---|---|
| `pair_contrastive_loss` | pairs `(z_a, z_b)` with a similar/dissimilar flag | similar pairs to distance 0, dissimilar beyond a margin |
| `triplet_loss` | `(anchor, positive, negative)` | the positive closer to the anchor than the negative, by a margin |
| `info_nce` | queries, a set of keys, the index of each query's positive | softmax over cosine similarities / T |
| `nt_xent` | two views `(z_a, z_b)` of N inputs | SimCLR's InfoNCE over the 2N views (optionally across processes) |
| `moco_loss` | queries, their momentum keys, a queue of K older keys | InfoNCE with K negatives whatever the batch size |

Helpers: `cosine_similarity_matrix`, `nt_xent_logits` and `positive_index` (NT-Xent's logits and targets, for plots),
`gather_with_grad` and `distributed_world` (the views of every process, with gradients).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import _check_matrix, _check_positive, _check_same_shape

__all__ = [
    "cosine_similarity_matrix",
    "distributed_world",
    "gather_with_grad",
    "info_nce",
    "moco_loss",
    "nt_xent",
    "nt_xent_logits",
    "pair_contrastive_loss",
    "positive_index",
    "triplet_loss",
]


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

    with plain Euclidean distances (as PyTorch's `TripletMarginLoss`); FaceNet writes it with squared distances,
    max(0, |a - p|^2 - |a - n|^2 + m), on L2-normalised embeddings.

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


def cosine_similarity_matrix(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """s_ij = x_i . y_j / (|x_i| |y_j|): x (R, D), y (K, D) (default x) -> (R, K), without an (R, K, D) tensor."""
    x = F.normalize(x, dim=1)
    y = x if y is None else F.normalize(y, dim=1)
    return x @ y.T


def info_nce(query: torch.Tensor, keys: torch.Tensor, positive: torch.Tensor, temperature: float = 0.1,
             exclude: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018) with cosine similarity, mean over the B queries.

    CPC scored each key with a learned bilinear critic exp(k^T W q); the cosine-over-temperature form here is that
    of Wu et al. 2018 (instance discrimination) and SimCLR (Chen et al. 2020, "NT-Xent"), as MoCo uses it.

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


def positive_index(n: int, device, offset: int = 0, total: int | None = None) -> torch.Tensor:
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


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor | None = None, temperature: float = 0.5, *,
            gather: bool = False) -> torch.Tensor:
    """NT-Xent, SimCLR's normalized temperature-scaled cross-entropy (Chen et al. 2020, eq. 1).

        z = [z_a; z_b]: (2N, D),   s_ij = z_i . z_j / (|z_i| |z_j|)
        l(i, j) = -log( exp(s_ij / T) / sum_{k != i} exp(s_ik / T) ),   j = pos(i), the other view of i
        L = (1 / 2N) sum_{i=1}^{2N} l(i, pos(i))

    Each of the 2N views has one positive (the other view of the same input) and 2N - 2 negatives (the views of
    the other inputs). When all embeddings coincide, every softmax is uniform over 2N - 1 candidates and
    L = log(2N - 1). L is symmetric in the two views.

    z_a, z_b: (N, D), row n of each is a view of input n, N >= 2. Alternatively pass the stacked (2N, D)
    `z_a = [z_a; z_b]` with `z_b=None`. temperature T > 0.

    Across processes (`torch.distributed`, any backend): with `gather=True` (never by default: a caller says
    when its batch is one process's share, e.g. SimCLR when a Trainer runs it under DDP) the views of every
    process in the initialised process group are gathered (gradients flow back through the gather) so that each
    process's rows see the negatives of all W processes.
    The returned value is then the single-process loss on the concatenated batch (rank 0's pairs first, then
    rank 1's, ...), identical on every process. Its gradient with respect to this process's embeddings is W
    times the gradient of that loss, so that DistributedDataParallel, which averages gradients over the W
    processes, applies exactly the gradient of the single-process loss. Each process must pass the same N.
    Memory: (2N, 2NW) logits per process, never a (2N, 2N, D) tensor.
    """
    if z_b is None:
        z_a, z_b = _split_stacked(z_a)
    z_a, z_b, temperature = _check_views(z_a, z_b, temperature)
    if not isinstance(gather, bool):
        raise TypeError(f"gather must be True or False, got {gather!r}")
    world, rank = distributed_world() if gather else (1, 0)
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
# MoCo: InfoNCE against a queue of negatives (notebook 07)
# ----------------------------------------------------------------------------------------------------


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
