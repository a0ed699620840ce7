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
fine-tuning use it like any other encoder. This module imports only torch and `ssl_helpers.losses`
(`ssl_helpers.models` registers `ViTEncoder` as arch "vit").
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from .losses import mae_loss, normalize_patches  # defined in ssl_helpers.losses.masked, importable from here too

__all__ = ["patchify", "unpatchify", "masking_from_noise", "random_masking", "visible_tokens", "normalize_patches",
           "mae_loss", "sincos_positions", "ViTEncoder", "MAEDecoder", "mae_forward", "encoder_step_seconds"]


def _check_patch_size(images: torch.Tensor, patch_size: int) -> None:
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    if images.shape[-2] % patch_size or images.shape[-1] % patch_size:
        raise ValueError(f"patch_size={patch_size} must divide the image size {tuple(images.shape[-2:])}")


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping patches, row by row: (N, C, H, W) -> (N, L, p*p*C).

    L = (H/p)(W/p); token l = r*(W/p) + c is the patch at row r, column c; its vector lists pixels in (y, x, channel)
    order (as in MAE's code).
    """
    _check_patch_size(images, patch_size)
    n, c, h, w = images.shape
    p = patch_size
    x = images.reshape(n, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(patches: torch.Tensor, patch_size: int, channels: int, grid: Tuple[int, int]) -> torch.Tensor:
    """The inverse of `patchify`: (N, L, p*p*C) with L = rows * cols -> (N, C, rows*p, cols*p)."""
    rows, cols = grid
    n, length, dim = patches.shape
    p = patch_size
    if length != rows * cols or dim != p * p * channels:
        raise ValueError(f"patches of shape {tuple(patches.shape)} do not match grid {grid}, patch_size {p} and "
                         f"{channels} channels (expected (N, {rows * cols}, {p * p * channels}))")
    x = patches.reshape(n, rows, cols, p, p, channels).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(n, channels, rows * p, cols * p)


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


def visible_tokens(tokens: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
    """The kept tokens of each image, in shuffled order: (N, L, D), ids_keep (N, K) -> (N, K, D)."""
    return tokens.gather(1, ids_keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def sincos_positions(rows: int, cols: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings (MAE's): (rows*cols, dim), half the channels for each axis.

    For the axis coordinate u and frequency w_k = 1 / 10000^(k / (dim/4)), k < dim/4: [sin(u w_k), cos(u w_k)].
    """
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4 for 2-D sine-cosine positions, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    y, x = torch.meshgrid(torch.arange(rows, dtype=torch.float64), torch.arange(cols, dtype=torch.float64),
                          indexing="ij")

    def axis(u):
        angles = u.reshape(-1, 1) * omega
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([axis(y), axis(x)], dim=1).float()


def _blocks(dim: int, depth: int, heads: int, mlp_ratio: float) -> nn.ModuleList:
    """`depth` pre-norm transformer blocks: x + MHSA(LN(x)), then x + MLP(LN(x)) with GELU, no dropout."""
    return nn.ModuleList(
        nn.TransformerEncoderLayer(dim, heads, dim_feedforward=int(dim * mlp_ratio), dropout=0.0,
                                   activation="gelu", batch_first=True, norm_first=True)
        for _ in range(depth))


class ViTEncoder(nn.Module):
    """A small Vision Transformer: patch embedding, fixed 2-D positions, pre-norm blocks, final LayerNorm.

    forward(x): (N, C, H, W) -> mean over all L tokens of the final tokens -> (N, dim): the course's encoder
    interface (linear probe, kNN, fine-tuning). forward_visible(x, ids_keep): the final tokens of only the kept
    patches, (N, K, dim): what MAE pre-trains, at K/L of the cost per block. `config` rebuilds it with
    `ssl_helpers.models.build_encoder`; `out_dim = dim`.
    """

    def __init__(self, in_channels: int = 3, image_size: int = 16, patch_size: int = 4, dim: int = 64,
                 depth: int = 4, heads: int = 4, mlp_ratio: float = 2.0):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"patch_size={patch_size} must divide image_size={image_size}")
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.grid = (image_size // patch_size, image_size // patch_size)
        self.patch_size = patch_size
        self.out_dim = dim
        self.config = {"arch": "vit", "in_channels": in_channels, "image_size": image_size,
                       "patch_size": patch_size, "dim": dim, "depth": depth, "heads": heads, "mlp_ratio": mlp_ratio}
        self.patch_embed = nn.Linear(patch_size * patch_size * in_channels, dim)
        self.register_buffer("positions", sincos_positions(*self.grid, dim).unsqueeze(0), persistent=False)
        self.blocks = _blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)

    @property
    def num_tokens(self) -> int:
        return self.grid[0] * self.grid[1]

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded patches plus positions: (N, C, H, W) -> (N, L, dim)."""
        if tuple(x.shape[-2:]) != (self.grid[0] * self.patch_size, self.grid[1] * self.patch_size):
            raise ValueError(f"this ViT takes {self.grid[0] * self.patch_size} px images, got {tuple(x.shape)}")
        return self.patch_embed(patchify(x, self.patch_size)) + self.positions

    def transform(self, tokens: torch.Tensor) -> torch.Tensor:
        """The transformer blocks and the final norm on any set of tokens: (N, K, dim) -> (N, K, dim)."""
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_visible(self, x: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        """Encode only the kept patches: x (N, C, H, W), ids_keep (N, K) -> (N, K, dim)."""
        return self.transform(visible_tokens(self.tokens(x), ids_keep))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of full images: (N, C, H, W) -> mean over tokens -> (N, dim)."""
        return self.transform(self.tokens(x)).mean(dim=1)


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
        y = y.gather(1, ids_restore.unsqueeze(-1).expand(-1, -1, dim)) + self.positions
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
