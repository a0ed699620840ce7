"""MAE as a course method (registry name "mae"): a small ViT that sees only the visible patches, a light decoder.

    method = make_method("mae", mask_ratio=0.75)
    encoder, history = pretrain(method, train.images)    # ViTEncoder + MAEDecoder, lightning.Trainer
    loss = method.step(images)                           # mask, encode visible tokens, decode, hidden-patch MSE

The maths and the networks are in `ssl_helpers/mae.py`.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch import nn

from ..mae import MAEDecoder, mae_forward, patchify, unpatchify
from .options import MethodOptions, option
from .vit import ViTMethod

__all__ = ["MAEMethod", "MAEOptions"]


def _mask_ratio(name: str, value) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")


@dataclasses.dataclass
class MAEOptions(MethodOptions):
    """mask_ratio in [0, 1); patch_size (px); norm_pix: each patch's target normalised by its own mean and standard
    deviation; depth and heads of the encoder; decoder_dim and decoder_depth of the decoder."""

    mask_ratio: float = option(0.75, check=_mask_ratio, help="fraction of the patches hidden, in [0, 1)")
    patch_size: int = option(4, help="side of the ViT's patches (px)")
    norm_pix: bool = option(True, help="predict each patch normalised by its own mean and standard deviation")
    depth: int = option(4, help="transformer blocks of the encoder")
    heads: int = option(4, help="attention heads of the encoder and the decoder")
    decoder_dim: int = option(64, help="width of the decoder")
    decoder_depth: int = option(1, help="transformer blocks of the decoder")


class MAEMethod(ViTMethod):
    """Masked autoencoder: hide `mask_ratio` of the `patch_size` px patches, reconstruct them from the rest.

    Options: mask_ratio (0.75), patch_size (4 px: 16 tokens at 16 px, 64 at 32 px), norm_pix (True: the target is
    each patch normalised by its own mean and standard deviation), depth and heads of the encoder, decoder_dim and
    decoder_depth of the decoder. The encoder width is `2 * width` (`make_encoder`'s argument, 32 -> 64).
    """

    name = "mae"
    Options = MAEOptions

    def make_head(self, image_shape) -> nn.Module:
        encoder = self.vit_encoder("it encodes only the visible patches")
        o = self.options
        return MAEDecoder(encoder.out_dim, encoder.patch_size ** 2 * image_shape[0], encoder.grid,
                          dim=o.decoder_dim, depth=o.decoder_depth, heads=o.heads)

    def training_step(self, batch, batch_idx):
        """Mask, encode the visible tokens, decode with mask tokens, MSE on the hidden patches (`mae_forward`)."""
        loss, _, _ = mae_forward(self.encoder, self.head, batch[0], self.options.mask_ratio, self.generator,
                                 self.options.norm_pix)
        return loss

    @torch.no_grad()
    def reconstruction(self, images: torch.Tensor, generator: Optional[torch.Generator] = None,
                       mask_ratio: Optional[float] = None, statistics: str = "visible") -> dict:
        """For figures and the mask explorer: mask `images` (N, C, H, W), predict every patch, and draw it.

        Returns {"masked": hidden patches grey (0.5), "prediction": the decoder's output for every patch, in
        pixels, "pasted": the visible patches kept and the predicted hidden ones pasted in, "target": `images`,
        "mask": (N, 1, H, W), 1 on hidden pixels, "masked_mse": mean (pasted - images)^2 over the hidden pixels},
        images clamped to [0, 1].

        With norm_pix the decoder predicts each patch in normalised units (its shape, not its brightness), so a
        picture needs a mean and a standard deviation for every hidden patch. `statistics` says where they come
        from:
        - "visible" (default): from the visible patches of the same image (the mean of their patch means, the mean
          of their patch standard deviations): the picture uses nothing hidden, it is the model's prediction;
        - "true": each hidden patch's own mean and standard deviation, read from the hidden target (what MAE's
          norm_pix figures would need): only the shape is predicted, the brightness and contrast are borrowed
          from the answer, so the picture looks better than the prediction is.
        Without norm_pix the prediction is in pixels already and `statistics` changes nothing.
        """
        if statistics not in ("visible", "true"):
            raise ValueError(f"statistics must be 'visible' (nothing hidden used) or 'true' (borrowed from the "
                             f"hidden patches), got {statistics!r}")
        encoder, head = self.encoder, self.head
        was_training = encoder.training, head.training
        encoder.eval(), head.eval()
        ratio = self.options.mask_ratio if mask_ratio is None else mask_ratio
        _, prediction, mask = mae_forward(encoder, head, images, ratio, generator, self.options.norm_pix)
        encoder.train(was_training[0]), head.train(was_training[1])
        patches = patchify(images, encoder.patch_size)
        hidden = mask.unsqueeze(-1)
        if self.options.norm_pix:
            means, stds = patches.mean(-1, keepdim=True), (patches.var(-1, keepdim=True) + 1e-6).sqrt()
            if statistics == "visible":
                visible = 1 - hidden
                count = visible.sum(1, keepdim=True)
                means = (means * visible).sum(1, keepdim=True) / count
                stds = (stds * visible).sum(1, keepdim=True) / count
            prediction = prediction * stds + means
        shape = (encoder.patch_size, images.shape[1], encoder.grid)
        pixel_mask = unpatchify(hidden.expand(-1, -1, encoder.patch_size ** 2), encoder.patch_size, 1, encoder.grid)
        pasted = unpatchify(patches * (1 - hidden) + prediction * hidden, *shape).clamp(0, 1)
        squared = (pasted - images).pow(2) * pixel_mask
        return {"masked": unpatchify(patches * (1 - hidden) + 0.5 * hidden, *shape),
                "prediction": unpatchify(prediction, *shape).clamp(0, 1), "pasted": pasted, "target": images,
                "mask": pixel_mask,
                "masked_mse": float(squared.sum() / (pixel_mask.sum() * images.shape[1]).clamp_min(1.0))}

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, generator: Optional[torch.Generator] = None,
                    mask_ratio: Optional[float] = None, statistics: str = "visible"):
        """For figures: `(masked, reconstruction, pasted)`, three (N, C, H, W) images (see `reconstruction`).

        masked: hidden patches grey (0.5); reconstruction: the decoder's output for every patch; pasted: the visible
        patches kept and the predicted hidden ones pasted in. With norm_pix, `statistics="visible"` (default) draws
        the hidden patches with the visible patches' statistics (nothing hidden used); "true" borrows each hidden
        patch's own mean and standard deviation from the target.
        """
        views = self.reconstruction(images, generator, mask_ratio, statistics)
        return views["masked"], views["prediction"], views["pasted"]
