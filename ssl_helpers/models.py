"""Encoders and heads.

Every encoder maps images `(N, C, H, W)` to features `(N, out_dim)` and carries `out_dim` and `config`:
the dictionary `build_encoder(config)` needs to rebuild it (checkpoints store it).

- `SmallCNN`: four 3x3 conv blocks and global average pooling, for the CPU tier (16-32 px images).
- `ResNet18Cifar`: ResNet-18 with the CIFAR stem (one 3x3 conv, stride 1, no max-pool), for the GPU tier.
- `ProjectionHead`: the MLP `g(h) = W2 relu(BN(W1 h))` that SimCLR puts between features and the loss.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvDecoder", "SmallCNN", "ResNet18Cifar", "ProjectionHead", "LinearClassifier", "ResizeInput", "build_encoder",
           "ENCODERS", "ViTEncoder", "patchify", "unpatchify", "gather_tokens", "visible_tokens",
           "sincos_positions"]


def _conv_block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """A small CNN encoder for the CPU tier.

    x: (N, in_channels, H, W) -> h: (N, out_dim), out_dim = 4 * width. Channels width, 2w, 2w, 4w;
    the 2nd and 3rd blocks halve the resolution; global average pooling at the end.
    """

    def __init__(self, in_channels: int = 3, width: int = 32):
        super().__init__()
        if in_channels < 1 or width < 1:
            raise ValueError(f"in_channels and width must be positive, got {in_channels} and {width}")
        self.config = {"arch": "small_cnn", "in_channels": in_channels, "width": width}
        self.out_dim = 4 * width
        self.features = nn.Sequential(
            _conv_block(in_channels, width, 1),
            _conv_block(width, 2 * width, 2),
            _conv_block(2 * width, 2 * width, 2),
            _conv_block(2 * width, 4 * width, 1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) -> the last conv block's maps (N, 4w, H/4, W/4), before pooling."""
        return self.features[:-2](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class _BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18Cifar(nn.Module):
    """ResNet-18 for small images: 3x3 stem with stride 1 and no max-pool, then 4 stages of 2 basic blocks.

    x: (N, in_channels, H, W) -> h: (N, 512). `width` scales every stage (64 is the standard network).
    """

    def __init__(self, in_channels: int = 3, width: int = 64):
        super().__init__()
        self.config = {"arch": "resnet18_cifar", "in_channels": in_channels, "width": width}
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.out_dim = widths[-1]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        layers, in_planes = [], width
        for stage, planes in enumerate(widths):
            stride = 1 if stage == 0 else 2
            layers += [_BasicBlock(in_planes, planes, stride), _BasicBlock(planes, planes, 1)]
            in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) -> the last stage's maps (N, 8w, H/8, W/8), before pooling."""
        return self.layers(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.layers(self.stem(x)))


class ProjectionHead(nn.Module):
    """SimCLR's projection head: z = W2 relu(BN(W1 h)).

    h: (N, in_dim) -> z: (N, out_dim).
    """

    def __init__(self, in_dim: int, hidden_dim: int = 128, out_dim: int = 64):
        super().__init__()
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim),
                                 nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class LinearClassifier(nn.Module):
    """An encoder followed by a linear layer: x (N, C, H, W) -> logits (N, num_classes)."""

    def __init__(self, encoder: nn.Module, num_classes: int):
        super().__init__()
        self.encoder = encoder
        self.out_dim = num_classes
        self.head = nn.Linear(encoder.out_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class ResizeInput(nn.Module):
    """An encoder that was trained on `size` px images, fed images of any size: x is resized first.

    x: (N, C, H, W) -> bilinear (antialiased when shrinking) resize to (size, size) -> encoder -> (N, out_dim).
    Its config nests the inner encoder's (`{"arch": "resize_input", "size": s, "encoder": {...}}`), so a saved
    one rebuilds with `build_encoder` and its weights (under `encoder.`) load back.
    """

    def __init__(self, encoder, size: int):
        super().__init__()
        self.encoder = build_encoder(encoder) if isinstance(encoder, dict) else encoder
        self.size = int(size)
        self.out_dim = self.encoder.out_dim
        self.config = {"arch": "resize_input", "size": self.size, "encoder": dict(self.encoder.config)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.size)
        return self.encoder(x)


# ----------------------------------------------------------------------------------------------------
# A small Vision Transformer (the masked autoencoder's encoder; MAE itself is in ssl_helpers.mae)
# ----------------------------------------------------------------------------------------------------


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


def gather_tokens(tokens: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The tokens at `ids` of each image: tokens (N, L, D), ids (N, ...) -> (N, ..., D).

    What MAE's masking (`visible_tokens`) and unshuffling (`MAEDecoder`, ids_restore) and I-JEPA's context and
    target blocks (`methods/ijepa.py`) all do.
    """
    n, dim = tokens.shape[0], tokens.shape[-1]
    flat = ids.reshape(n, -1)
    picked = tokens.gather(1, flat.unsqueeze(-1).expand(-1, -1, dim))
    return picked.reshape(*ids.shape, dim)


def visible_tokens(tokens: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
    """The kept tokens of each image, in shuffled order: (N, L, D), ids_keep (N, K) -> (N, K, D)."""
    return gather_tokens(tokens, ids_keep)


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



ENCODERS = {"small_cnn": SmallCNN, "resnet18_cifar": ResNet18Cifar, "resize_input": ResizeInput, "vit": ViTEncoder}
"""Every encoder architecture by its config's "arch": a new architecture is one class and one entry here."""


def build_encoder(config: dict) -> nn.Module:
    """Build an encoder from its config, e.g. `{"arch": "small_cnn", "in_channels": 3, "width": 32}`."""
    if not isinstance(config, dict) or "arch" not in config:
        raise ValueError(f"config must be a dict with an 'arch' key, got {config!r}")
    arch = config["arch"]
    if arch not in ENCODERS:
        raise ValueError(f"unknown encoder arch {arch!r}; expected one of {sorted(ENCODERS)}")
    options = {key: value for key, value in config.items() if key != "arch"}
    return ENCODERS[arch](**options)


class ConvDecoder(nn.Module):
    """A small decoder from an encoder's feature maps back to an image (cheap, in the spirit of MAE's).

        maps (N, C, h, w) -> 3x3 conv, ReLU -> 1x1 conv to out * f * f channels -> pixel shuffle -> sigmoid

    so each feature-map position paints its own f x f block of pixels, with f = `upsample`, the ratio of
    image size to map size. For SmallCNN(width=32) at 16 px: (N, 128, 4, 4) -> (N, 3, 16, 16), f = 4.
    """

    def __init__(self, in_channels: int, out_channels: int = 3, upsample: int = 4, hidden: int = 128):
        super().__init__()
        if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 1:
            raise ValueError(f"upsample must be a positive integer, got {upsample!r}")
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels * upsample * upsample, 1), nn.PixelShuffle(upsample), nn.Sigmoid())

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.net(maps)
