"""Encoders and heads.

Every encoder maps images `(N, C, H, W)` to features `(N, out_dim)` and carries `out_dim` and `config`:
the dictionary `build_encoder(config)` needs to rebuild it (checkpoints store it).

- `SmallCNN`: four 3x3 conv blocks and global average pooling, for the CPU tier (16-32 px images).
- `ResNet18Cifar`: ResNet-18 with the CIFAR stem (one 3x3 conv, stride 1, no max-pool), for the GPU tier.
- `ProjectionHead`: the MLP `g(h) = W2 relu(BN(W1 h))` that SimCLR puts between features and the loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvDecoder", "SmallCNN", "ResNet18Cifar", "ProjectionHead", "LinearClassifier", "ResizeInput", "build_encoder",
           "ENCODERS"]


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


from .mae import ViTEncoder  # noqa: E402  (the masked autoencoder's Vision Transformer; imports only torch)

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
