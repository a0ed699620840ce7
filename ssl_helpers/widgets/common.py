"""Shared pieces for the widgets: arrays to PNG bytes, an image widget that is never stretched, controls whose
labels are never clipped, a caption, argument checks that name the valid range, and `Explorer`, the display
behaviour every explorer shares (the live widget, plus its last picture and caption for static viewers).

Projector rules (DESIGN.md: a 1024x768 projector, nothing stretched or clipped): a picture is shown at the size it
was drawn (`png_image`: width and height `auto`, aligned to the top so a flex row never stretches it, scaled down
only to fit the cell, keeping its aspect); text inside pictures is at least 12 pt = 16 px at that size; control
labels take the width they need (`CONTROL_STYLE`).
"""
from __future__ import annotations

import base64
import html
import io
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterable

import numpy as np

__all__ = ["array_to_png", "image_to_uint8", "png_image", "upscale", "font", "one_thread", "CONTROL_STYLE",
           "MIN_TEXT_PX", "control_layout", "caption_html", "check_range", "check_choice", "Explorer"]

CONTROL_STYLE = {"description_width": "initial"}  # a label as wide as its text: "temperature", never "temperat..."
MIN_TEXT_PX = 16  # 12 pt at 96 px per inch: the smallest text drawn into a picture, at the size it is shown


def control_layout(min_width: str = "260px") -> "ipywidgets.Layout":  # noqa: F821
    """A control's layout: wide enough that a slider keeps its track beside its label at 1024 px."""
    import ipywidgets

    return ipywidgets.Layout(min_width=min_width, width="auto")


def upscale(array: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlarge an (H, W) or (H, W, C) array by an integer factor (crisp pixels on screen)."""
    if factor <= 1:
        return array
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


@contextmanager
def one_thread():
    """Run a widget's tiny forward pass on one thread: on a busy CPU, waking a thread pool for a batch of 16 px
    images costs 100 times the work itself (measured: 150 ms with 2 threads vs 1.5 ms with 1 under load)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@lru_cache(maxsize=8)
def font(size: int):
    """DejaVu Sans (shipped with matplotlib; it has the ✓ and ✗ marks) at `size` px, for text drawn into
    the pictures."""
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def image_to_uint8(image, scale: int = 1) -> np.ndarray:
    """An image tensor (C, H, W) in [0, 1], C = 1 or 3, as an (scale H, scale W, 3) uint8 array, clipped and
    rounded, nearest-neighbour enlarged `scale` times (crisp pixels)."""
    image = image.detach().float().clamp(0, 1).cpu()
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return upscale((image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8), scale)


def array_to_png(array: np.ndarray, scale: int = 1) -> bytes:
    """An (H, W) or (H, W, 3) float array in [0, 1] (or uint8) as PNG bytes, enlarged `scale` times."""
    from PIL import Image

    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(upscale(array, scale)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_image() -> "ipywidgets.Image":  # noqa: F821
    """An empty `ipywidgets.Image` for PNG bytes, shown at its natural size and never stretched: width and
    height `auto`, `align_self: flex-start` (a flex row would otherwise stretch it to the row's height),
    `max_width: 100%` with `object_fit: contain` (a narrow window scales it down, keeping its aspect)."""
    import ipywidgets

    layout = ipywidgets.Layout(width="auto", height="auto", max_width="100%", object_fit="contain",
                               align_self="flex-start", flex="0 0 auto")
    image = ipywidgets.Image(format="png", layout=layout)
    image.add_class("ssl-picture")
    return image


def caption_html(text: str) -> "ipywidgets.HTML":  # noqa: F821
    """A one-line caption under a picture, saying what is shown (class `ssl-caption`, 16 px)."""
    import ipywidgets

    widget = ipywidgets.HTML(caption_markup(text))
    widget.add_class("ssl-caption")
    return widget


def caption_markup(text: str) -> str:
    return f'<div style="font-size: 16px; line-height: 1.35">{html.escape(text)}</div>'


def check_range(name: str, value, low, high, integer: bool = False):
    """`value` if it lies in [low, high] (an integer when `integer`), else a ValueError naming `name` and the
    valid range. Widgets call this on their arguments instead of clamping them silently."""
    kind = "an integer" if integer else "a number"
    valid = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not valid or not low <= value <= high:
        raise ValueError(f"{name} must be {kind} in [{low}, {high}], got {value!r}")
    return value


def check_choice(name: str, value, choices: Iterable):
    """`value` if it is one of `choices`, else a ValueError naming `name` and listing the valid choices."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


class Explorer:
    """What every explorer shares: `.widget` (the ipywidgets layout), `.image` (its `ssl-picture`), and
    `caption_text` (one line saying what is shown).

    Displayed, it gives the live widget and, beside it in the same output, the last picture as `image/png` and
    the caption as `text/plain`: JupyterLab shows the widget; a static viewer (GitHub, nbviewer, a notebook opened
    without a kernel) shows the picture and the caption instead of `VBox(children=...)`.
    """

    widget = None
    image = None
    caption_text = ""

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        if self.image is not None and self.image.value:
            bundle["image/png"] = base64.b64encode(bytes(self.image.value)).decode("ascii")
        bundle["text/plain"] = self.caption_text or type(self).__name__
        return bundle
