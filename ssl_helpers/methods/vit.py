"""What the methods over the course's Vision Transformer (MAE, I-JEPA) share: the encoder they build and check."""
from __future__ import annotations

from torch import nn

from ..models import ViTEncoder
from .base import Method

__all__ = ["ViTMethod"]


class ViTMethod(Method):
    """A method whose encoder is a `ViTEncoder`: options `patch_size`, `depth`, `heads`; width 2 x `width`.

    `make_encoder` builds it; `vit_encoder(why)` returns `self.encoder` after checking that it is a ViT with the
    method's patch size (a clear error naming the method and `why` it needs one otherwise)."""

    def make_encoder(self, image_shape, width: int = 32) -> nn.Module:
        """A `ViTEncoder` of width 2 * `width` over `patch_size` px patches of (C, H, W) images."""
        channels, height, _ = image_shape
        return ViTEncoder(in_channels=channels, image_size=height, patch_size=self.options.patch_size,
                          dim=2 * width, depth=self.options.depth, heads=self.options.heads)

    def vit_encoder(self, why: str) -> ViTEncoder:
        encoder = self.encoder
        if not isinstance(encoder, ViTEncoder):
            raise ValueError(f"the {self.name} method needs a ViTEncoder ({why}); got {type(encoder).__name__}: "
                             f"use method.make_encoder(image_shape)")
        if encoder.patch_size != self.options.patch_size:
            raise ValueError(f"the encoder's patch_size {encoder.patch_size} differs from the method's "
                             f"{self.options.patch_size}")
        return encoder
