"""Shared pieces for the widgets: arrays to PNG bytes, and an image widget to draw them into."""
from __future__ import annotations

import io

import numpy as np

__all__ = ["array_to_png", "png_image", "upscale"]


def upscale(array: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlarge an (H, W) or (H, W, C) array by an integer factor (crisp pixels on screen)."""
    if factor <= 1:
        return array
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


def array_to_png(array: np.ndarray, scale: int = 1) -> bytes:
    """An (H, W) or (H, W, 3) float array in [0, 1] (or uint8) as PNG bytes, enlarged `scale` times."""
    from PIL import Image

    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(upscale(array, scale)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_image(width: str = "") -> "ipywidgets.Image":  # noqa: F821
    """An empty `ipywidgets.Image` for PNG bytes."""
    import ipywidgets

    layout = ipywidgets.Layout(width=width) if width else ipywidgets.Layout()
    return ipywidgets.Image(format="png", layout=layout)
