"""A tiny masked autoencoder (He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners"): the maths and
the two networks. The training method around them is `ssl_helpers.methods.mae.MAEMethod` (registry name "mae").

    images (N, C, H, W) --patchify--> patches (N, L, p*p*C)          L = (H/p) * (W/p) tokens
    random_masking: keep K = round((1 - mask_ratio) * L) tokens per image, drawn by argsort of noise
    ViTEncoder.forward_visible: embed + position, transformer over the K visible tokens only -> (N, K, D)
    MAEDecoder: project to the decoder width, append L - K shared mask tokens, unshuffle with ids_restore,
                add positions, a light transformer, predict every patch's pixels -> (N, L, p*p*C)
    mae_loss: mean squared error over the HIDDEN patches only, on (optionally per-patch normalised) pixels
              (`ssl_helpers.losses.mae_loss`, re-exported here)

The encoder never sees a mask token: at mask ratio 0.75 it processes a quarter of the tokens, which is why MAE
pre-trains several times faster than a model over all tokens (`benchmarks/bench_mae.py` measures it).
`ViTEncoder.forward(x)` on full images returns mean-pooled features (N, D), so the course's linear probe, kNN and
fine-tuning use it like any other encoder. `ViTEncoder` (with `patchify`, `unpatchify`, `visible_tokens` and
`sincos_positions`) lives in `ssl_helpers.models` (arch "vit"), and is importable from here too.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from .losses import mae_loss, normalize_patches  # defined in ssl_helpers.losses.masked, importable from here too
from .models import (ViTEncoder, _blocks, gather_tokens, patchify, sincos_positions, unpatchify,  # noqa: F401
                     visible_tokens)

__all__ = ["patchify", "unpatchify", "masking_from_noise", "random_masking", "visible_tokens", "normalize_patches",
           "mae_loss", "sincos_positions", "ViTEncoder", "MAEDecoder", "mae_forward", "encoder_step_seconds"]


def masking_from_noise(noise: torch.Tensor, mask_ratio: float):
    """MAE's random masking by sorting given noise: which tokens each image keeps, and how to put them back.

        noise: (N, L), one number per token;  ids_shuffle = argsort(noise) (ascending, stable: ties keep token order)
        ids_restore = argsort(ids_shuffle)                                              (N, L)
        keep K = round((1 - mask_ratio) * L):  ids_keep = ids_shuffle[:, :K]            (N, K), in shuffled order
        mask[n, l] = 0 if token l is kept, 1 if hidden, in image order (float)          (N, L)
    `ids_restore` inverts the shuffle: shuffled.gather(1, ids_restore) puts token l back at position l.
    Returns `(ids_keep, mask, ids_restore)`. A pure function: the same noise gives the same mask.
    """
    if noise.ndim != 2:
        raise ValueError(f"noise must have shape (N, L), got {tuple(noise.shape)}")
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1) so that at least one token stays visible, got {mask_ratio}")
    n, length = noise.shape
    keep = round((1.0 - mask_ratio) * length)
    if keep < 1:
        raise ValueError(f"mask_ratio={mask_ratio} leaves no visible token out of {length}")
    ids_shuffle = noise.argsort(dim=1, stable=True)
    ids_restore = ids_shuffle.argsort(dim=1, stable=True)
    mask = torch.ones(n, length, device=noise.device)
    mask[:, :keep] = 0
    mask = mask.gather(1, ids_restore)
    return ids_shuffle[:, :keep], mask, ids_restore


def random_masking(n: int, length: int, mask_ratio: float, generator: Optional[torch.Generator] = None,
                   device=None):
    """MAE's random masking: `masking_from_noise` on noise ~ U(0, 1) of shape (N, L) drawn from `generator`.

    Returns `(ids_keep (N, K), mask (N, L), ids_restore (N, L))`, K = round((1 - mask_ratio) * L); the checks on
    `mask_ratio` are `masking_from_noise`'s.
    """
    device = generator.device if generator is not None and device is None else device
    noise = torch.rand(n, length, generator=generator, device=device)
    return masking_from_noise(noise, mask_ratio)


class MAEDecoder(nn.Module):
    """MAE's light decoder: visible latents plus mask tokens, unshuffled, -> pixels of every patch.

        y = Linear(latent) (N, K, d);  append L - K copies of the learned mask token -> (N, L, d) in shuffled order;
        unshuffle: y.gather(1, ids_restore);  + fixed positions;  blocks;  LayerNorm;  Linear -> (N, L, p*p*C)
    """

    def __init__(self, encoder_dim: int, patch_dim: int, grid: Tuple[int, int], dim: int = 64, depth: int = 1,
                 heads: int = 4, mlp_ratio: float = 2.0):
        super().__init__()
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_buffer("positions", sincos_positions(*grid, dim).unsqueeze(0), persistent=False)
        self.blocks = _blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        self.predict = nn.Linear(dim, patch_dim)

    def forward(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """latent (N, K, encoder_dim) in shuffled order, ids_restore (N, L) -> predicted patches (N, L, patch_dim)."""
        y = self.embed(latent)
        n, keep, dim = y.shape
        y = torch.cat([y, self.mask_token.expand(n, ids_restore.shape[1] - keep, dim)], dim=1)
        y = gather_tokens(y, ids_restore) + self.positions
        for block in self.blocks:
            y = block(y)
        return self.predict(self.norm(y))


def mae_forward(encoder: ViTEncoder, decoder: MAEDecoder, images: torch.Tensor, mask_ratio: float = 0.75,
                generator: Optional[torch.Generator] = None, norm_pix: bool = True):
    """One MAE pass: mask, encode the visible tokens, decode all, score the hidden ones.

    images: (N, C, H, W) -> `(loss, prediction (N, L, p*p*C), mask (N, L))`.
    """
    ids_keep, mask, ids_restore = random_masking(images.shape[0], encoder.num_tokens, mask_ratio, generator,
                                                 device=images.device if generator is None else None)
    ids_keep, mask, ids_restore = ids_keep.to(images.device), mask.to(images.device), ids_restore.to(images.device)
    prediction = decoder(encoder.forward_visible(images, ids_keep), ids_restore)
    return mae_loss(prediction, patchify(images, encoder.patch_size), mask, norm_pix), prediction, mask



def encoder_step_seconds(encoder: ViTEncoder, images: torch.Tensor, mask_ratio: Optional[float] = None,
                         repeats: int = 5, warmup: int = 2, seed: int = 0) -> float:
    """Median wall-clock seconds of one training step of the encoder alone on a batch (N, C, H, W).

    mask_ratio None: the encoder over all L tokens; a float: over the K = round((1 - mask_ratio) L) visible ones
    (a new random mask each step, as in training). A step is forward, a scalar loss (mean of the squared outputs),
    backward; the optimiser update is left out (it costs the same for both). The time ratio all / visible is
    MAE's compute saving.
    """
    import time

    generator = torch.Generator().manual_seed(seed)
    times = []
    encoder.train()
    for i in range(warmup + repeats):
        start = time.perf_counter()
        if mask_ratio is None:
            out = encoder.transform(encoder.tokens(images))
        else:
            ids_keep, _, _ = random_masking(images.shape[0], encoder.num_tokens, mask_ratio, generator)
            out = encoder.forward_visible(images, ids_keep.to(images.device))
        out.pow(2).mean().backward()
        encoder.zero_grad(set_to_none=True)
        if images.device.type == "cuda":
            torch.cuda.synchronize(images.device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]
