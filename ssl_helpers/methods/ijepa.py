"""I-JEPA (Assran et al. 2023, "Self-Supervised Learning from Images with a Joint-Embedding Predictive
Architecture"): predict the REPRESENTATIONS of hidden blocks of an image from a visible context block, not their
pixels.

    masks = multi_block_masks(N, grid)                   one context block minus M target blocks (`pretext/blocks.py`)
    s_y = LN(f_target(x))[target blocks]                 the momentum (EMA) target encoder sees the WHOLE image
    s_x = f(x[context])                                  the context encoder sees only the context tokens
    s_hat = g(s_x, positions of a target block)          a narrow predictor: context tokens plus one mask token per
                                                         target position (each with its position embedding)
    L = ijepa_loss(s_hat, s_y) = mean |s_hat - LN(s_y)|^2     in representation space (`losses/masked.py`)
    after each step: f_target <- m f_target + (1 - m) f       (no gradient into the target: it is the EMA)

The encoders are the course's `ViTEncoder` (the MAE's, `ssl_helpers/mae.py`); the kept encoder (`method.encoder`)
is the context encoder, mean-pooled over all tokens of a full image (the paper evaluates the target encoder; with
the momentum near 1 the two are close, and notebook 08 prints both).

Simplified from the paper, for CPU-sized runs: a constant momentum by default (the paper ramps it from 0.996 to 1,
linearly; `momentum_schedule="cosine"` ramps it too), a tiny
ViT (dim 64, depth 4) on 12 px digits with 2 px patches (a 6 x 6 grid of tokens, where the paper has 14 x 14 or
16 x 16), a predictor of depth 2 and width 32 (the paper: depth 12, width 384), the squared error of the paper's
equation (the authors' code uses smooth L1), and the context tokens each image keeps drawn at random when the
batch's counts differ (the code keeps the first ones).
"""
from __future__ import annotations

import dataclasses
from typing import Tuple

import torch
from torch import nn

from ..losses import ijepa_loss
from ..models import _blocks, gather_tokens, sincos_positions  # gather_tokens: importable from here too
from ..pretext.blocks import multi_block_masks
from .momentum import MomentumTargets, frozen_copy, momentum_option, momentum_schedule_option
from .options import MethodOptions, float_tuple, option, positive_int
from .vit import ViTMethod

__all__ = ["IJEPAMethod", "IJEPAOptions", "IJEPAPredictor", "gather_tokens"]


class IJEPAPredictor(nn.Module):
    """I-JEPA's predictor g: a narrow transformer from the context tokens to the representations of a target block.

        x = Linear(s_x) + pos[context ids]                       (N, K, d)   the context, in the predictor's width
        q = mask_token + pos[target ids of block m]              (N, T, d)   one query per hidden token, where it is
        y = blocks([x; q]),  s_hat = Linear(LN(y[the queries]))  (N, T, D)   back to the encoder's width
    The M target blocks of an image are predicted separately (the context repeated M times), so one block's
    queries never see another's. Positions: fixed 2-D sine-cosine (`sincos_positions`), as the encoder's.
    """

    def __init__(self, encoder_dim: int, grid: Tuple[int, int], dim: int = 32, depth: int = 2, heads: int = 4,
                 mlp_ratio: float = 2.0):
        super().__init__()
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_buffer("positions", sincos_positions(*grid, dim).unsqueeze(0), persistent=False)
        self.blocks = _blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        self.project = nn.Linear(dim, encoder_dim)

    def forward(self, context: torch.Tensor, context_ids: torch.Tensor, target_ids: torch.Tensor) -> torch.Tensor:
        """context (N, K, D) from the context encoder, context_ids (N, K), target_ids (N, M, T) -> (N, M, T, D)."""
        n, m, t = target_ids.shape
        positions = self.positions.expand(n, -1, -1)
        x = self.embed(context) + gather_tokens(positions, context_ids)              # (N, K, d)
        queries = self.mask_token + gather_tokens(positions, target_ids)             # (N, M, T, d)
        x = torch.cat([x.repeat_interleave(m, dim=0), queries.reshape(n * m, t, -1)], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.project(self.norm(x[:, -t:])).reshape(n, m, t, -1)


@dataclasses.dataclass
class IJEPAOptions(MethodOptions):
    """patch_size (px); depth and heads of the ViT (its width is 2 * width); predictor_dim and predictor_depth;
    momentum m of the target encoder; the multi-block masks: num_targets blocks at target_scale (fraction of the
    tokens) with target_aspect (height / width), one square context block at context_scale, min_context tokens."""

    patch_size: int = option(2, check=positive_int, help="side of the ViT's patches (px)")
    depth: int = option(4, check=positive_int, help="transformer blocks of the encoder")
    heads: int = option(4, check=positive_int, help="attention heads of the encoder and the predictor")
    predictor_dim: int = option(32, check=positive_int, help="width of the predictor")
    predictor_depth: int = option(2, check=positive_int, help="transformer blocks of the predictor")
    momentum: float = momentum_option(0.996, "target encoder")
    momentum_schedule: str = momentum_schedule_option()
    num_targets: int = option(4, check=positive_int, help="M, the target blocks predicted per image")
    target_scale: Tuple[float, float] = option((0.15, 0.2), convert=float_tuple,
                                               help="fraction (min, max) of the tokens in each target block")
    target_aspect: Tuple[float, float] = option((0.75, 1.5), convert=float_tuple,
                                                help="aspect ratio (min, max), height / width, of the target blocks")
    context_scale: Tuple[float, float] = option((0.85, 1.0), convert=float_tuple,
                                                help="fraction (min, max) of the tokens in the context block")
    min_context: int = option(4, check=positive_int, help="the fewest context tokens an image keeps")


class IJEPAMethod(MomentumTargets, ViTMethod):
    """I-JEPA: a context block, M target blocks, a predictor in representation space, an EMA target encoder.

    Head: `predictor` (an `IJEPAPredictor`) and `target_encoder` (a frozen copy of the encoder, moved by
    `momentum_update` after each optimiser step).
    """

    name = "ijepa"
    generator_on_device = True
    Options = IJEPAOptions

    def make_head(self, image_shape) -> nn.Module:
        encoder = self.vit_encoder("it encodes only the context tokens")
        o = self.options
        predictor = IJEPAPredictor(encoder.out_dim, encoder.grid, dim=o.predictor_dim, depth=o.predictor_depth,
                                   heads=o.heads)
        return nn.ModuleDict({"predictor": predictor, "target_encoder": frozen_copy(encoder)})

    def momentum_pairs(self):
        return [(self.head["target_encoder"], self.encoder)]

    def masks(self, n: int):
        """This step's `BlockMasks` for n images, drawn from `self.generator`."""
        o = self.options
        return multi_block_masks(n, self.encoder.grid, self.generator, num_targets=o.num_targets,
                                 target_scale=o.target_scale, target_aspect=o.target_aspect,
                                 context_scale=o.context_scale, min_context=o.min_context)

    def training_step(self, batch, batch_idx):
        (images,) = batch
        masks = self.masks(len(images))
        context_ids, target_ids = masks.context_ids.to(images.device), masks.target_ids.to(images.device)
        target_encoder = self.head["target_encoder"]
        with torch.no_grad():                                       # the target: every token, no gradient
            s_y = gather_tokens(target_encoder.transform(target_encoder.tokens(images)), target_ids)
        s_x = self.encoder.forward_visible(images, context_ids)     # the context tokens only
        s_hat = self.head["predictor"](s_x, context_ids, target_ids)
        return ijepa_loss(s_hat.flatten(1, 2).float(), s_y.flatten(1, 2).float())
