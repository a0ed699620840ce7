"""Mask explorer: move the mask ratio and the patch size, and see what a masked autoencoder makes of it.

Pure functions (tested directly): `patch_sizes(size)`, `mask_and_reconstruct(task, encoder, images, mask_ratio,
patch_size, seed)`, `render_masking(views)`. The widget `MaskExplorer` is a thin layout over them; it redraws
with one forward pass of a few 16 px images (a few milliseconds on a CPU).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from ..plots import image_grid
from ..pretext.figures import predictions
from .common import array_to_png, png_image

__all__ = ["patch_sizes", "mask_and_reconstruct", "render_masking", "MaskExplorer", "ROWS", "one_thread"]

ROWS = ("masked input", "reconstruction", "target")


@contextmanager
def one_thread():
    """Run a widget's tiny forward pass on one thread: on a busy CPU, waking a thread pool for a batch of 16 px
    images costs 100 times the work itself (measured: 150 ms with 2 threads vs 1.5 ms with 1 under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def patch_sizes(size: int) -> list:
    """Patch sizes that tile a `size` x `size` image into at least 2 x 2 patches: the divisors up to size/2."""
    return [p for p in range(1, size // 2 + 1) if size % p == 0]


def mask_and_reconstruct(task, encoder, images: torch.Tensor, mask_ratio: float, patch_size: int,
                         seed: int = 0) -> dict:
    """Mask `images` (N, C, H, W) with the given ratio and patch size (seeded) and reconstruct them.

    Returns {"masked": (N, C, H, W), "reconstruction": the prediction on the hidden patches with the visible
    pixels pasted back, as in the MAE paper's figures, "target": the images, "mask": (N, 1, H, W),
    "masked_mse": the task's loss on this batch}.
    """
    result = predictions(task, encoder, images, seed, mask_ratio=mask_ratio, patch_size=patch_size)
    return {"masked": result["inputs"], "reconstruction": result["shown"], "target": result["targets"],
            "mask": result["mask"], "masked_mse": result["loss"]}


def render_masking(views: dict) -> np.ndarray:
    """One picture: a row per entry of `ROWS` (masked input, reconstruction, target), a column per image."""
    stacked = torch.cat([views["masked"], views["reconstruction"], views["target"]])
    return image_grid(stacked, ncols=len(views["target"]), pad=1)


class MaskExplorer:
    """Sliders: mask ratio, patch size, seed. Shows masked inputs, reconstructions and targets of `images`
    (N, C, H, W) (say 8 test digits) through a trained `MaskedTask` (with its head) and its encoder.
    `.last_drawn` keeps the PNG bytes last drawn into `.image`."""

    def __init__(self, task, encoder, images: torch.Tensor, mask_ratio: float = 0.5, patch_size: int = 4,
                 seed: int = 0, scale: int = 6):
        import ipywidgets as W

        self.task, self.encoder, self.images, self.scale = task, encoder.eval(), images, scale
        sizes = patch_sizes(images.shape[-1])
        self.mask_ratio = W.FloatSlider(value=mask_ratio, min=0.05, max=0.95, step=0.05, description="mask ratio")
        self.patch_size = W.SelectionSlider(options=sizes, value=patch_size if patch_size in sizes else sizes[-1],
                                            description="patch size")
        self.seed = W.IntSlider(value=seed, min=0, max=50, description="seed")
        self.caption = W.HTML()
        self.image = png_image()
        self.last_drawn: bytes = b""
        for control in (self.mask_ratio, self.patch_size, self.seed):
            control.observe(lambda _: self.redraw(), names="value")
        rows = "<br>".join(f"row {i + 1}: {name}" for i, name in enumerate(ROWS))
        self.widget = W.VBox([W.HBox([self.mask_ratio, self.patch_size, self.seed]),
                              W.HBox([self.image, W.HTML(rows)]), self.caption])
        self.redraw()

    def views(self) -> dict:
        with one_thread():
            return mask_and_reconstruct(self.task, self.encoder, self.images, self.mask_ratio.value,
                                        self.patch_size.value, self.seed.value)

    def redraw(self) -> None:
        views = self.views()
        self.last_drawn = array_to_png(render_masking(views), scale=self.scale)
        self.image.value = self.last_drawn
        hidden = float(views["mask"].mean())
        self.caption.value = (f"{100 * hidden:.0f}% of the pixels hidden; error on them (MSE): "
                              f"{views['masked_mse']:.4f}")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
