"""Augmentation explorer: pick an image, switch augmentations on and off, set their strength, and see several
pairs of views of the same image, the positives SimCLR pulls together.

Pure functions (tested directly): `explorer_image(source, index)`, `augment_from_controls(enabled, strength,
size)`, `explorer_views(image, augment, pairs, seed)`, `render_views(image, views)`. The widget
`AugmentExplorer` is a thin layout over them.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Dict

import numpy as np
import torch

from ..augment import Augment
from ..plots import image_grid
from .common import array_to_png, png_image

__all__ = ["AUGMENT_IMAGES", "OPS", "explorer_image", "augment_from_controls", "explorer_views", "render_views",
           "AugmentExplorer"]

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
AUGMENT_IMAGES = ("digits", "colour digits") + PHOTOS
PHOTO_SIZE = 64
DIGIT_SIZE = 32

# name: (label, on by default, default strength). Strength s in [0, 1] maps to settings in augment_from_controls.
OPS = {
    "crop": ("random resized crop", True, 0.6),
    "rotate": ("rotation", False, 0.3),
    "shear": ("slant (shear)", False, 0.4),
    "flip": ("horizontal flip", True, 0.5),
    "jitter": ("colour jitter", True, 1.0),
    "grayscale": ("grayscale", True, 0.2),
    "blur": ("Gaussian blur", False, 0.5),
    "noise": ("noise", False, 0.3),
}


@lru_cache(maxsize=None)
def digit_images(colour: bool = False, size: int = DIGIT_SIZE, split: str = "train") -> torch.Tensor:
    """The digits of one split of the fixed split, (N, 3, size, size), loaded once per setting."""
    from ..data import load_dataset

    train, test = load_dataset("colour_digits" if colour else "digits", image_size=size)
    return (train if split == "train" else test).images


@lru_cache(maxsize=None)
def _photo(name: str) -> torch.Tensor:
    import skimage.data
    import torch.nn.functional as F

    array = getattr(skimage.data, name)()
    image = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float().div(255)[None]
    side = min(image.shape[-2:])  # centre square, then shrink
    top, left = (image.shape[-2] - side) // 2, (image.shape[-1] - side) // 2
    image = image[..., top:top + side, left:left + side]
    return F.interpolate(image, size=(PHOTO_SIZE, PHOTO_SIZE), mode="bilinear", antialias=True)[0].clamp(0, 1)


def explorer_image(source: str, index: int = 0, digit_size: int = DIGIT_SIZE, split: str = "train") -> torch.Tensor:
    """One image (3, H, W) in [0, 1]: the `index`-th digit of `split` at `digit_size` px, or one of
    scikit-image's sample photos (PHOTO_SIZE px)."""
    if source in ("digits", "colour digits"):
        images = digit_images(source == "colour digits", digit_size, split)
        if not 0 <= index < len(images):
            raise ValueError(f"index must be in [0, {len(images) - 1}] for {source}, got {index}")
        return images[index]
    if source in PHOTOS:
        return _photo(source)
    raise ValueError(f"source must be one of {AUGMENT_IMAGES}, got {source!r}")


def augment_from_controls(enabled: Dict[str, bool], strength: Dict[str, float], size: int) -> Augment:
    """Settings from the controls: an op that is off gets probability or strength 0; strength s in [0, 1]:

    crop: area scale in (1 - 0.92 s, 1) (s = 1 is the paper's 0.08); rotate: up to 45 s degrees;
    shear: slant up to 50 s degrees;
    flip: probability s; jitter: brightness/contrast/saturation 0.8 s, hue 0.2 s, probability 0.8;
    grayscale: probability s; blur: sigma in (0.1, 0.1 + 2.9 s), probability 0.5; noise: std up to 0.3 s.
    """
    unknown = (set(enabled) | set(strength)) - set(OPS)
    if unknown:
        raise ValueError(f"unknown augmentation names {sorted(unknown)}; expected some of {list(OPS)}")
    s = {name: float(strength.get(name, OPS[name][2])) if enabled.get(name, False) else 0.0 for name in OPS}
    return Augment(size=size, crop_scale=(1.0 - 0.92 * s["crop"], 1.0),
                   crop_ratio=(3 / 4, 4 / 3) if s["crop"] > 0 else (1.0, 1.0), degrees=45.0 * s["rotate"],
                   shear=50.0 * s["shear"],
                   flip_p=s["flip"], brightness=0.8 * s["jitter"], contrast=0.8 * s["jitter"],
                   saturation=0.8 * s["jitter"], hue=0.2 * s["jitter"], jitter_p=0.8 if s["jitter"] else 0.0,
                   grayscale_p=s["grayscale"], blur_p=0.5 if s["blur"] else 0.0,
                   blur_sigma=(0.1, 0.1 + 2.9 * s["blur"]), noise_std=0.3 * s["noise"])


def explorer_views(image: torch.Tensor, augment: Augment, pairs: int = 4, seed: int = 0) -> torch.Tensor:
    """`pairs` pairs of views of one image (3, H, W): (2, pairs, 3, size, size), row 0 view a, row 1 view b."""
    if pairs < 1:
        raise ValueError(f"pairs must be a positive integer, got {pairs}")
    batch = image[None].expand(2 * pairs, -1, -1, -1)
    views = augment(batch, torch.Generator().manual_seed(seed))
    return views.view(2, pairs, *views.shape[1:])


def render_views(image: torch.Tensor, views: torch.Tensor, scale: int = 1) -> np.ndarray:
    """The picture the widget shows: the original, a gap, then the pairs in columns (view a above view b).

    Returns an (H', W', 3) float array in [0, 1].
    """
    pairs = views.shape[1]
    grid = image_grid(views.reshape(-1, *views.shape[2:]), ncols=pairs, pad=2)
    original = np.ones((grid.shape[0], image.shape[-1] + 6, 3), dtype=np.float32)
    original[:image.shape[-2], :image.shape[-1]] = image.permute(1, 2, 0).numpy()
    return np.concatenate([original, grid], axis=1)


class AugmentExplorer:
    """Controls: image source and index, a checkbox and a strength slider per augmentation, number of pairs,
    and "resample" (a new seed). Every change redraws the PNG into `.image`; `.last_drawn` keeps the bytes."""

    def __init__(self, source: str = "colour digits", index: int = 0, pairs: int = 4, seed: int = 0):
        import ipywidgets as W

        self.source = W.Dropdown(options=list(AUGMENT_IMAGES), value=source, description="image")
        self.index = W.IntSlider(value=index, min=0, max=len(digit_images()) - 1, description="digit #",
                                 continuous_update=False)
        self.enabled = {name: W.Checkbox(value=on, description=label, indent=False)
                        for name, (label, on, _) in OPS.items()}
        self.strength = {name: W.FloatSlider(value=s, min=0.0, max=1.0, step=0.05, description="strength",
                                             continuous_update=False) for name, (_, _, s) in OPS.items()}
        self.pairs = W.IntSlider(value=pairs, min=1, max=6, description="pairs")
        self.seed = W.IntText(value=seed, description="seed")
        self.resample = W.Button(description="resample", icon="refresh")
        self.image = png_image()
        self.last_drawn: bytes = b""
        self.resample.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        controls = [self.source, self.index, self.pairs, self.seed]
        for control in (*controls, *self.enabled.values(), *self.strength.values()):
            control.observe(lambda _: self.redraw(), names="value")
        rows = [W.HBox([self.enabled[name], self.strength[name]]) for name in OPS]
        self.widget = W.HBox([W.VBox([self.source, self.index, *rows, self.pairs, W.HBox([self.seed,
                                                                                          self.resample])]),
                              self.image])
        self.redraw()

    def settings(self) -> Augment:
        size = PHOTO_SIZE if self.source.value in PHOTOS else DIGIT_SIZE
        return augment_from_controls({k: c.value for k, c in self.enabled.items()},
                                     {k: c.value for k, c in self.strength.items()}, size)

    def picture(self) -> np.ndarray:
        """What is drawn now, from the pure functions."""
        image = explorer_image(self.source.value, self.index.value)
        views = explorer_views(image, self.settings(), self.pairs.value, self.seed.value)
        return render_views(image, views)

    def redraw(self) -> None:
        self.index.disabled = self.source.value in PHOTOS
        scale = 1 if self.source.value in PHOTOS else 3
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a dozen small images: on a busy CPU extra threads cost more than they save
        try:
            self.last_drawn = array_to_png(self.picture(), scale=scale)
        finally:
            torch.set_num_threads(threads)
        self.image.value = self.last_drawn

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
