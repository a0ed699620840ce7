"""Masked-prediction losses: hide part of the input, score the prediction of the hidden part only.

| loss | inputs | idea |
|---|---|---|
| `masked_mse` | predicted and true images (N, C, H, W), a pixel mask (N, 1, H, W) | squared error on the hidden pixels (inpainting, the pretext tasks) |
| `mae_loss` | predicted and true patches (N, L, p*p*C), a token mask (N, L) | MAE: squared error on the hidden patches, per-patch normalised pixels |
| `ijepa_loss` | predicted and target representations (N, M, D) of the M hidden tokens | I-JEPA: predict the target encoder's layer-normalised features, not pixels |

Helper: `normalize_patches` (MAE's per-patch normalised target).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import _check_same_shape, _check_tokens

__all__ = ["ijepa_loss", "mae_loss", "masked_mse", "normalize_patches"]


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the masked pixels only (the MAE loss):

        L = sum_{n,c,h,w} m_{n,h,w} (p_{nchw} - t_{nchw})^2 / (C * sum_{n,h,w} m_{n,h,w})

    prediction, target: (N, C, H, W); mask: (N, 1, H, W) with 1 on hidden pixels, 0 on visible ones.
    Visible pixels do not count at all; the loss is 0 exactly when every hidden pixel is predicted exactly.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, got {tuple(prediction.shape)} "
                         f"and {tuple(target.shape)}")
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != target.shape[0] or mask.shape[2:] != target.shape[2:]:
        raise ValueError(f"mask must have shape (N, 1, H, W) = {(target.shape[0], 1, *target.shape[2:])}, "
                         f"got {tuple(mask.shape)}")
    mask = mask.to(prediction.dtype)
    squared = (prediction - target).pow(2) * mask
    return squared.sum() / (mask.sum() * target.shape[1]).clamp_min(1.0)


def normalize_patches(patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MAE's per-patch normalised target: each patch's pixels minus their mean, over their standard deviation.

        t = (x - mean(x)) / sqrt(var(x) + eps),  mean and var over the p*p*C values of one patch;
        var = sum (x - mean)^2 / (p*p*C - 1)   (the unbiased variance, as in MAE's code)
    patches: (N, L, p*p*C) -> same shape.
    """
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + eps).sqrt()


def mae_loss(prediction: torch.Tensor, patches: torch.Tensor, mask: torch.Tensor,
             norm_pix: bool = True) -> torch.Tensor:
    """Mean squared error on the hidden patches only (He et al. 2022, "Masked Autoencoders Are Scalable Vision
    Learners").

        e_nl = mean over the p*p*C values of (prediction_nl - target_nl)^2,   target = normalize_patches(x) or x
        L = sum_nl m_nl e_nl / sum_nl m_nl        (m = 1 for a hidden patch, 0 for a visible one)
    prediction, patches: (N, L, p*p*C); mask: (N, L). Visible patches do not enter the loss at all.
    """
    if prediction.shape != patches.shape or mask.shape != patches.shape[:2]:
        raise ValueError(f"prediction {tuple(prediction.shape)} and patches {tuple(patches.shape)} must have the "
                         f"same shape (N, L, D), and mask {tuple(mask.shape)} must be (N, L)")
    target = normalize_patches(patches) if norm_pix else patches
    per_patch = (prediction - target).pow(2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)


def ijepa_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """I-JEPA's loss (Assran et al. 2023, "Self-Supervised Learning from Images with a Joint-Embedding Predictive
    Architecture"): predict the target encoder's representations of the hidden tokens, not their pixels.

        s_bar[n, m] = (s[n, m] - mean_D s[n, m]) / sqrt(var_D s[n, m] + 1e-5)   layer norm over the D features,
                                                                               no affine, var with 1/D
        L = (1 / (N M D)) sum_n sum_m |s_hat[n, m] - s_bar[n, m]|_2^2

    predicted s_hat: (N, M, D), the predictor's output for the M hidden (target) tokens of each of N images;
    target s: (N, M, D), the target encoder's representations of the same tokens. The target is layer-normalised
    (F.layer_norm without affine, as in the authors' code) and detached: no gradient flows into the target
    encoder, which follows the context encoder by an exponential moving average instead.
    The distance: the paper writes the squared L2 distance averaged over the target tokens, the authors' code
    uses smooth L1; this is the squared error, averaged over the D features too (F.mse_loss), so that its scale
    does not grow with D. Computed in float32 at least. Returns a scalar.
    """
    _check_tokens("predicted", predicted)
    _check_tokens("target", target)
    _check_same_shape(("predicted", "target"), (predicted, target), "(N, M, D)")
    dtype = torch.promote_types(torch.promote_types(predicted.dtype, target.dtype), torch.float32)
    target = F.layer_norm(target.detach().to(dtype), (target.shape[-1],))
    return F.mse_loss(predicted.to(dtype), target)
