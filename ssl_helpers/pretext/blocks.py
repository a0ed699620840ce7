"""I-JEPA's multi-block masking (Assran et al. 2023): which tokens the context encoder sees, and which blocks of
tokens the predictor must predict, on a ViT's grid of rows x cols patch tokens.

For a batch of N images (`multi_block_masks`):

    target size (h_t, w_t): ONE per batch:  s ~ U(target_scale), a ~ U(target_aspect) (a = height / width),
                            keep = int(s * rows * cols),  h = round(sqrt(keep * a)),  w = round(sqrt(keep / a))
                            (clamped to the grid)                                                  (`block_size`)
    M target blocks per image: top ~ U{0 .. rows - h_t}, left ~ U{0 .. cols - w_t}, each drawn independently
                            (they may overlap each other)
    context block per image: the same with context_scale (0.85-1.0) and context_aspect (1.0: square), one size
                            per batch, then MINUS every target block: the context never sees a target token
    a context with fewer than `min_context` tokens is drawn again (up to `tries` times), then the target
                            constraints are dropped one by one from the last (I-JEPA's own fallback)
    every image keeps the same number K of context tokens: the batch's smallest count, the tokens kept drawn
                            at random (so the context is a tensor (N, K); I-JEPA's code keeps the first K)

Returns `BlockMasks`: boolean masks over the L = rows * cols tokens (context (N, L), targets (N, M, L)) and the same
as token indices (context_ids (N, K), target_ids (N, M, T), T = h_t * w_t, increasing), which is what the
encoder (`ViTEncoder.forward_visible`) and the predictor take. All draws come from `generator` (on its device,
the CPU by default): the same seed gives the same masks. `block_overlay` colours the blocks on an image (figures).

Differences from the authors' code, each small: the scale and the aspect ratio are two draws (the code reuses one
uniform for both); a block may fill the whole grid and may touch the last row and column (the code's
`randint(0, rows - h)` never places one there).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence, Tuple

import torch

__all__ = ["BlockMasks", "block_size", "place_blocks", "multi_block_masks", "block_overlay", "BLOCK_COLOURS",
           "IJEPA_MASKING"]

IJEPA_MASKING = dict(num_targets=4, target_scale=(0.15, 0.2), target_aspect=(0.75, 1.5), context_scale=(0.85, 1.0),
                     context_aspect=(1.0, 1.0))
"""The paper's settings (Assran et al. 2023, section 3 and appendix): 4 target blocks at 15-20% of the image with
aspect ratio 0.75-1.5, one square context block at 85-100%."""


class BlockMasks(NamedTuple):
    """One batch's masks. context (N, L) bool: tokens the context encoder sees; targets (N, M, L) bool: the M
    target blocks; context_ids (N, K) and target_ids (N, M, T): the same as increasing token indices
    (token l = row * cols + col, as `ssl_helpers.mae.patchify` orders patches); grid: (rows, cols)."""

    context: torch.Tensor
    targets: torch.Tensor
    context_ids: torch.Tensor
    target_ids: torch.Tensor
    grid: Tuple[int, int]


def _check_range(name: str, value, low: float, high: float) -> Tuple[float, float]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not low < value[0] <= value[1] <= high):
        raise ValueError(f"{name} must be a pair (min, max) with {low} < min <= max <= {high}, got {value!r}")
    return float(value[0]), float(value[1])


def _check_grid(grid) -> Tuple[int, int]:
    if (not isinstance(grid, (tuple, list)) or len(grid) != 2
            or not all(isinstance(g, int) and not isinstance(g, bool) and g >= 1 for g in grid)):
        raise ValueError(f"grid must be (rows, cols) of positive integers, got {grid!r}")
    return int(grid[0]), int(grid[1])


def block_size(grid, scale: Sequence[float], aspect: Sequence[float], u_scale: float, u_aspect: float):
    """(h, w) of a block from two uniform draws in [0, 1) (pure maths, I-JEPA's `_sample_block_size`):

        s = s_lo + (s_hi - s_lo) u_scale,   keep = max(1, int(s * rows * cols))
        a = a_lo + (a_hi - a_lo) u_aspect   (height / width)
        h = round(sqrt(keep * a)),  w = round(sqrt(keep / a)),  each clamped to [1, rows] and [1, cols]
    """
    rows, cols = _check_grid(grid)
    s_lo, s_hi = _check_range("scale", scale, 0.0, 1.0)
    a_lo, a_hi = _check_range("aspect", aspect, 0.0, math.inf)
    keep = max(1, int((s_lo + (s_hi - s_lo) * float(u_scale)) * rows * cols))
    a = a_lo + (a_hi - a_lo) * float(u_aspect)
    h = min(rows, max(1, int(round(math.sqrt(keep * a)))))
    w = min(cols, max(1, int(round(math.sqrt(keep / a)))))
    return h, w


def place_blocks(n: int, count: int, grid, size, generator: Optional[torch.Generator] = None,
                 device=None) -> torch.Tensor:
    """`count` blocks of `size` (h, w) per image at uniformly random places inside the grid: (n, count, rows, cols)
    bool, True inside the block. top ~ U{0 .. rows - h}, left ~ U{0 .. cols - w}, drawn from `generator` in the
    order top (n, count), left (n, count)."""
    rows, cols = _check_grid(grid)
    h, w = int(size[0]), int(size[1])
    if not (1 <= h <= rows and 1 <= w <= cols):
        raise ValueError(f"block size {(h, w)} does not fit the grid {(rows, cols)}")
    device = generator.device if generator is not None else (device or "cpu")
    top = (torch.rand(n, count, generator=generator, device=device) * (rows - h + 1)).long().clamp_max(rows - h)
    left = (torch.rand(n, count, generator=generator, device=device) * (cols - w + 1)).long().clamp_max(cols - w)
    r = torch.arange(rows, device=device).view(1, 1, rows, 1)
    c = torch.arange(cols, device=device).view(1, 1, 1, cols)
    inside_rows = (r >= top[..., None, None]) & (r < top[..., None, None] + h)
    inside_cols = (c >= left[..., None, None]) & (c < left[..., None, None] + w)
    return inside_rows & inside_cols


def multi_block_masks(n: int, grid, generator: Optional[torch.Generator] = None, *, num_targets: int = 4,
                      target_scale=(0.15, 0.2), target_aspect=(0.75, 1.5), context_scale=(0.85, 1.0),
                      context_aspect=(1.0, 1.0), min_context: int = 4, tries: int = 20, device=None) -> BlockMasks:
    """I-JEPA's context block and target blocks for a batch of `n` images on a `grid` of (rows, cols) tokens (see
    the module docstring for the rules). Returns `BlockMasks`; draws from `generator` (its device), else on
    `device` with torch's global generator."""
    rows, cols = _check_grid(grid)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(num_targets, bool) or not isinstance(num_targets, int) or num_targets < 1:
        raise ValueError(f"num_targets must be a positive integer, got {num_targets!r}")
    if isinstance(min_context, bool) or not isinstance(min_context, int) or min_context < 1:
        raise ValueError(f"min_context must be a positive integer, got {min_context!r}")
    device = generator.device if generator is not None else torch.device(device or "cpu")
    length = rows * cols
    u = torch.rand(4, generator=generator, device=device).tolist()          # the batch's two block sizes
    target_hw = block_size((rows, cols), target_scale, target_aspect, u[0], u[1])
    context_hw = block_size((rows, cols), context_scale, context_aspect, u[2], u[3])
    if context_hw[0] * context_hw[1] < min_context:
        raise ValueError(f"the context block {context_hw} on a {rows}x{cols} grid has fewer than min_context="
                         f"{min_context} tokens: lower min_context or raise context_scale")

    targets = place_blocks(n, num_targets, (rows, cols), target_hw, generator, device).view(n, num_targets, length)
    covered = targets.any(dim=1)                                             # (n, L): every target token
    context = place_blocks(n, 1, (rows, cols), context_hw, generator, device).view(n, length) & ~covered
    for _ in range(tries):                                                   # too small: draw the block again
        short = context.sum(dim=1) < min_context
        if not bool(short.any()):
            break
        again = place_blocks(n, 1, (rows, cols), context_hw, generator, device).view(n, length) & ~covered
        context = torch.where(short[:, None], again, context)
    for dropped in range(1, num_targets + 1):                                # then relax, the last target first
        short = context.sum(dim=1) < min_context
        if not bool(short.any()):
            break
        block = place_blocks(n, 1, (rows, cols), context_hw, generator, device).view(n, length)
        relaxed = block & ~targets[:, :num_targets - dropped].any(dim=1)
        context = torch.where(short[:, None], relaxed, context)

    keep = int(context.sum(dim=1).min())                                     # the same K for every image
    noise = torch.rand(n, length, generator=generator, device=device)
    chosen = torch.where(context, noise, torch.full_like(noise, -1.0)).topk(keep, dim=1).indices
    context_ids = chosen.sort(dim=1).values
    context = torch.zeros_like(context).scatter_(1, context_ids, True)
    size = target_hw[0] * target_hw[1]
    target_ids = targets.to(torch.int8).sort(dim=2, descending=True, stable=True).indices[..., :size]
    target_ids = target_ids.sort(dim=2).values
    return BlockMasks(context, targets, context_ids, target_ids, (rows, cols))


BLOCK_COLOURS = ((0.12, 0.47, 0.71), (1.0, 0.50, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16),
                 (0.58, 0.40, 0.74), (0.55, 0.34, 0.29))
"""Target block colours in figures (matplotlib's first six): the context is shown as the image itself."""


def block_overlay(image: torch.Tensor, context: torch.Tensor, targets: torch.Tensor, grid,
                  dim: float = 0.25, alpha: float = 0.6) -> torch.Tensor:
    """One image with its masks drawn in: (C, H, W) in [0, 1], context (L,) and targets (M, L) bool -> (3, H, W).

    Context tokens show the image; tokens outside the context are dimmed to `dim` of their brightness; each target
    block is tinted with its colour (`BLOCK_COLOURS`, mixed in with weight `alpha`; where blocks overlap the last
    one drawn shows)."""
    rows, cols = _check_grid(grid)
    if image.ndim != 3:
        raise ValueError(f"image must have shape (C, H, W), got {tuple(image.shape)}")
    _, height, width = image.shape
    if height % rows or width % cols:
        raise ValueError(f"the grid {(rows, cols)} does not divide the image size {(height, width)}")
    image = image.detach().float().cpu().clamp(0, 1)
    rgb = image.expand(3, -1, -1).clone() if image.shape[0] == 1 else image[:3].clone()

    def pixels(mask):
        mask = mask.detach().cpu().view(rows, cols).float()
        return mask.repeat_interleave(height // rows, 0).repeat_interleave(width // cols, 1).bool()

    seen = pixels(context)
    rgb = torch.where(seen, rgb, dim * rgb)
    for m, target in enumerate(targets):
        colour = torch.tensor(BLOCK_COLOURS[m % len(BLOCK_COLOURS)]).view(3, 1, 1)
        rgb = torch.where(pixels(target), (1 - alpha) * rgb + alpha * colour, rgb)
    return rgb
