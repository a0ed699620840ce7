"""Mask explorer: move the mask ratio and the patch size, and see what a masked autoencoder makes of it.

    from ssl_helpers.widgets.masking import MaskExplorer
    MaskExplorer(mae, mae_encoder, test.images[:8])   # a trained MAE (ViT encoder + decoder): ratio and seed
    MaskExplorer(task, encoder, test.images[:8])      # a trained MaskedTask (grey-patch CNN): also the patch size

An MAE cuts images into its ViT's patches, so its patch size is fixed (the slider offers that one size); its hidden
patches are drawn from what is visible only (`MAEMethod.reconstruction`, statistics="visible").

Pure functions (tested directly): `patch_sizes(size)`, `mask_and_reconstruct(task, encoder, images, mask_ratio,
patch_size, seed)`, `render_masking(views, header, scale)`. The widget `MaskExplorer` is a thin layout over them;
it redraws with one forward pass of a few 16 px images and a PIL drawing (a few milliseconds on a CPU).

The picture is drawn at the size it is shown (at most `MAX_WIDTH` px wide, text >= 16 px): a header with the
patch size, the hidden fraction and the error on the hidden pixels, and which patch sizes the model was trained
on; then three rows, each labelled at its left inside the picture (`ROWS`), a column per image.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..methods.mae import MAEMethod
from ..pretext.figures import predictions
from .common import (CONTROL_STYLE, MIN_TEXT_PX, Explorer, array_to_png, caption_html, caption_markup, check_choice,
                     check_range, control_layout, font, image_to_uint8, one_thread, png_image)

__all__ = ["patch_sizes", "is_mae", "model_patch_sizes", "mask_and_reconstruct", "render_masking", "fit_scale", "MaskExplorer", "ROWS",
           "one_thread", "MASK_RATIO_RANGE", "SEED_RANGE", "MAX_WIDTH", "MAX_IMAGES", "TEXT_PX"]

ROWS = ("masked input", "reconstruction", "target")
MASK_RATIO_RANGE = (0.05, 0.95)  # the mask-ratio slider's range (step 0.05)
SEED_RANGE = (0, 50)  # the seed slider's range
MAX_WIDTH = 840  # px: the widest picture a 1024x768 JupyterLab cell shows without scaling it down
MAX_IMAGES = 12  # columns: twelve 16 px images still fit MAX_WIDTH at 3x
TEXT_PX = 18  # row labels and the header, at the picture's natural size (>= MIN_TEXT_PX)
MARGIN, GAP = 8, 4  # px around the picture and between images


def patch_sizes(size: int) -> list:
    """Patch sizes that tile a `size` x `size` image into at least 2 x 2 patches: the divisors up to size/2."""
    return [p for p in range(1, size // 2 + 1) if size % p == 0]


def is_mae(task) -> bool:
    """Whether `task` is the course's MAE (a ViT that sees only the visible patches), not a pretext task."""
    return isinstance(task, MAEMethod)


def model_patch_sizes(task) -> tuple:
    """The patch sizes the model knows: an MAE's ViT patch size, or the sizes a `MaskedTask` trained on."""
    if is_mae(task):
        return (task.options.patch_size,)
    trained = getattr(task, "trained_patch_sizes", None)
    return tuple(trained()) if trained else (getattr(task, "patch_size", None),)


def mask_and_reconstruct(task, encoder, images: torch.Tensor, mask_ratio: float, patch_size: int,
                         seed: int = 0) -> dict:
    """Mask `images` (N, C, H, W) with the given ratio and patch size (seeded) and reconstruct them.

    task: a trained `MaskedTask` (the grey-patch CNN) or MAE (`make_method("mae")`, trained), with `encoder` its
    own encoder. Returns {"masked": (N, C, H, W), "reconstruction": the prediction on the hidden patches with the
    visible pixels pasted back, as in the MAE paper's figures, "target": the images, "mask": (N, 1, H, W),
    "masked_mse": mean((x_hat - x)^2) over the hidden pixels, in pixels}. For an MAE, `patch_size` must be its
    ViT's, and a norm_pix prediction is drawn with the visible patches' statistics (nothing hidden used).
    """
    if is_mae(task):
        if encoder is not None and encoder is not task.encoder:
            raise ValueError("encoder is not the MAE's own encoder (task.encoder)")
        own = task.encoder.patch_size
        if patch_size != own:
            raise ValueError(f"an MAE cuts images into its ViT's {own} px patches: patch_size must be {own}, "
                             f"got {patch_size}")
        views = task.reconstruction(images, torch.Generator(device=images.device).manual_seed(seed), mask_ratio)
        return {"masked": views["masked"], "reconstruction": views["pasted"], "target": images,
                "mask": views["mask"], "masked_mse": views["masked_mse"]}
    result = predictions(task, encoder, images, seed, mask_ratio=mask_ratio, patch_size=patch_size)
    return {"masked": result["inputs"], "reconstruction": result["shown"], "target": result["targets"],
            "mask": result["mask"], "masked_mse": result["loss"]}


def _label_width() -> int:
    return max(int(font(TEXT_PX).getlength(name)) for name in ROWS) + 12


def fit_scale(n_images: int, image_size: int, max_width: int = MAX_WIDTH) -> int:
    """The largest integer enlargement (at least 1) at which `n_images` columns of `image_size` px, the row
    labels and the margins fit `max_width` px."""
    room = max_width - 2 * MARGIN - _label_width() - (n_images - 1) * GAP
    return max(1, room // (n_images * image_size))


def render_masking(views: dict, header: Sequence[str] = (), scale: Optional[int] = None) -> np.ndarray:
    """One picture, drawn at the size it is shown: (H', W', 3) uint8, W' <= `MAX_WIDTH`.

    views: `mask_and_reconstruct`'s dict ("masked", "reconstruction", "target": (N, C, H, W) each). The header
    lines on top; then a row per entry of `ROWS` (masked input, reconstruction, target), its name at its left
    inside the picture (`TEXT_PX` px text); a column per image, each enlarged `scale` times (default:
    `fit_scale`, the largest that fits).
    """
    from PIL import Image, ImageDraw

    rows = [views["masked"], views["reconstruction"], views["target"]]
    n, _, height, width = rows[0].shape
    check_range("number of images", n, 1, MAX_IMAGES, integer=True)
    best = fit_scale(n, width)
    scale = best if scale is None else check_range("scale", scale, 1, best, integer=True)
    text = font(TEXT_PX)
    assert TEXT_PX >= MIN_TEXT_PX
    line = TEXT_PX + 6
    label_w = _label_width()
    tile_h, tile_w = height * scale, width * scale
    top = MARGIN + len(header) * line + (GAP if header else 0)
    picture_w = 2 * MARGIN + max([label_w + n * tile_w + (n - 1) * GAP] +
                                 [int(text.getlength(words)) + 1 for words in header])
    picture_h = top + len(rows) * tile_h + (len(rows) - 1) * GAP + MARGIN
    canvas = Image.new("RGB", (picture_w, picture_h), "white")
    draw = ImageDraw.Draw(canvas)
    for i, words in enumerate(header):
        draw.text((MARGIN, MARGIN + i * line), words, fill="black", font=text)
    for r, (name, images) in enumerate(zip(ROWS, rows)):
        y = top + r * (tile_h + GAP)
        draw.text((MARGIN, y + tile_h // 2), name, fill="black", font=text, anchor="lm")
        for c in range(n):
            x = MARGIN + label_w + c * (tile_w + GAP)
            canvas.paste(Image.fromarray(image_to_uint8(images[c], scale)), (x, y))
    return np.asarray(canvas)


class MaskExplorer(Explorer):
    """Sliders: mask ratio, patch size, seed. Shows masked inputs, reconstructions and targets of `images`
    (N, C, H, W), N <= `MAX_IMAGES` (say 8 test digits), through a trained MAE (`make_method("mae")`, its ViT
    encoder) or a trained `MaskedTask` (with its head) and its encoder. The header of the picture says which patch
    sizes the model was trained on, and says so when the slider's size is not one of them; for an MAE, the
    patch size is its ViT's (the only one offered) and the header gives the mask ratio it was trained at.

    mask_ratio in `MASK_RATIO_RANGE`; patch_size one of `patch_sizes(H)` (an MAE: its ViT's; default: the
    model's own); seed in `SEED_RANGE`; scale: the
    enlargement (default: the largest that fits `MAX_WIDTH` px). Bad values raise a ValueError naming the valid
    range or choices. `.last_drawn` keeps the PNG bytes last drawn into `.image`, `.last_views` the views.
    """

    def __init__(self, task, encoder, images: torch.Tensor, mask_ratio: float = 0.5,
                 patch_size: Optional[int] = None, seed: int = 0, scale: Optional[int] = None):
        import ipywidgets as W

        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise ValueError(f"images must be a tensor of shape (N, C, H, W), got "
                             f"{tuple(getattr(images, 'shape', ()))}")
        check_range("number of images", len(images), 1, MAX_IMAGES, integer=True)
        self.mae = is_mae(task)
        self.trained_sizes = model_patch_sizes(task)
        sizes = list(self.trained_sizes) if self.mae else patch_sizes(min(images.shape[-2:]))
        if patch_size is None:
            patch_size = self.trained_sizes[0] if self.mae else getattr(task, "patch_size", sizes[-1])
        check_range("mask_ratio", mask_ratio, *MASK_RATIO_RANGE)
        check_choice("patch_size", patch_size, sizes)
        check_range("seed", seed, *SEED_RANGE, integer=True)
        if scale is not None:
            check_range("scale", scale, 1, fit_scale(len(images), images.shape[-1]), integer=True)
        self.task, self.encoder, self.images, self.scale = task, encoder.eval(), images, scale

        self.mask_ratio = W.FloatSlider(value=mask_ratio, min=MASK_RATIO_RANGE[0], max=MASK_RATIO_RANGE[1],
                                        step=0.05, description="mask ratio", style=CONTROL_STYLE,
                                        layout=control_layout("320px"))
        self.patch_size = W.SelectionSlider(options=sizes, value=patch_size, description="patch size (px)",
                                            disabled=self.mae,  # an MAE's patches are its ViT's
                                            style=CONTROL_STYLE, layout=control_layout("320px"))
        self.seed = W.IntSlider(value=seed, min=SEED_RANGE[0], max=SEED_RANGE[1], description="seed",
                                style=CONTROL_STYLE, layout=control_layout("320px"))
        self.image = png_image()
        self.caption = caption_html("")
        self.last_drawn: bytes = b""
        self.last_views: dict = {}
        for control in (self.mask_ratio, self.patch_size, self.seed):
            control.observe(lambda _: self.redraw(), names="value")
        controls = W.HBox([self.mask_ratio, self.patch_size, self.seed],  # 320 px each: wraps, tracks stay long
                          layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.widget = W.VBox([controls, self.image, self.caption])
        self.widget.add_class("ssl-mask-explorer")
        self.redraw()

    def views(self) -> dict:
        with one_thread():
            return mask_and_reconstruct(self.task, self.encoder, self.images, self.mask_ratio.value,
                                        self.patch_size.value, self.seed.value)

    def header(self, views: dict) -> list:
        """The picture's header lines: what is hidden and the error on it; the sizes the model knows."""
        size, hidden = self.patch_size.value, float(views["mask"].mean())
        trained = ", ".join(str(s) for s in self.trained_sizes)
        if self.mae:
            known = f"MAE: a ViT on {trained} px patches, trained at mask ratio {self.task.options.mask_ratio:g}"
        else:
            known = (f"the model was trained on {trained} px patches" if size in self.trained_sizes else
                     f"{size} px is NOT a size the model was trained on ({trained} px)")
        return [f"{size} px patches, {100 * hidden:.0f}% of pixels hidden: masked MSE {views['masked_mse']:.4f}",
                known]

    def redraw(self) -> dict:
        views = self.views()
        picture = render_masking(views, self.header(views), self.scale)
        self.last_drawn = array_to_png(picture)
        self.image.value = self.last_drawn
        self.last_views = views
        if not self.mae:
            what = "the model repaints the grey patches"
        elif self.task.options.norm_pix:
            what = ("the MAE predicts the grey patches from the visible ones only, drawn with the visible patches' "
                    "mean and standard deviation (its norm_pix target has none of its own)")
        else:
            what = "the MAE predicts the grey patches from the visible ones only"
        self.caption_text = (f"Columns: test digits; {what}. Now "
                             f"{100 * float(views['mask'].mean()):.0f}% of the pixels hidden, masked MSE "
                             f"{views['masked_mse']:.4f}.")
        self.caption.value = caption_markup(self.caption_text)
        return views
