"""Augmentation explorer: pick an image, switch augmentations on and off, set their strength (or probability),
and see several pairs of views of the same image, the positives SimCLR pulls together.

    from ssl_helpers.widgets.augment_explorer import AugmentExplorer
    AugmentExplorer(source="digits")                    # defaults: notebook 06's recipe (SimCLR's "digits" preset)
    AugmentExplorer(source="chelsea", recipe=AUGMENT)   # any `Augment` (or preset name) as the starting settings

Pure functions (tested directly): `explorer_image(source, index)`, `controls_from_augment(augment)` and its
inverse `augment_from_controls(enabled, strength, size, base)`, `explorer_views(image, augment, pairs, seed)`,
`cell_size(size, pairs)` and `render_views(image, views)` (the picture, labels drawn into it). The widget
`AugmentExplorer` is a thin layout over them: controls in a grid above the picture, a caption under it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from ..augment import PRESETS, Augment, preset
from ..data import load_dataset
from ..methods.simclr import SimCLRMethod
from .common import (CONTROL_STYLE, MIN_TEXT_PX, Explorer, array_to_png, caption_html, check_choice, check_range,
                     control_layout, font, image_to_uint8, one_thread, png_image)

__all__ = ["AUGMENT_IMAGES", "OPS", "MAX_PAIRS", "MAX_WIDTH", "recipe_augment", "explorer_image",
           "controls_from_augment", "augment_from_controls", "explorer_views", "cell_size", "render_views",
           "AugmentExplorer"]

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
AUGMENT_IMAGES = ("digits", "colour digits") + PHOTOS
PHOTO_SIZE = 64
DIGIT_SIZE = 32
MAX_PAIRS = 6
MAX_SEED = 2 ** 32 - 1
MAX_WIDTH = 800  # px: the widest picture drawn (a 1024x768 JupyterLab cell shows ~840 px unscaled)
MIN_CELL, MAX_CELL = 64, 160  # px: the side of one view in the picture
TEXT_PX = max(17, MIN_TEXT_PX)  # px: text drawn into the picture
MARGIN, GAP, ORIGINAL_GAP = 8, 8, 28  # px

# name: (checkbox label, what its slider sets, strength used when the recipe has the op off).
# Slider value s in [0, 1] maps to settings in `augment_from_controls`; flip and grayscale: s IS the probability.
OPS = {
    "crop": ("random resized crop", "strength", 0.6),
    "rotate": ("rotation", "strength", 0.3),
    "shear": ("slant (shear)", "strength", 0.4),
    "flip": ("horizontal flip", "probability", 0.5),
    "jitter": ("colour jitter", "strength", 1.0),
    "grayscale": ("grayscale", "probability", 0.2),
    "blur": ("Gaussian blur", "strength", 0.5),
    "noise": ("noise", "strength", 0.3),
}
CROP_FULL, DEGREES_FULL, SHEAR_FULL, JITTER_FULL, HUE_FULL, SIGMA_LOW, SIGMA_SPAN, NOISE_FULL = \
    0.92, 45.0, 50.0, 0.8, 0.2, 0.1, 2.9, 0.3  # the settings at strength 1


def recipe_augment(recipe: Union[None, str, Augment] = None, size: int = DIGIT_SIZE) -> Augment:
    """The `Augment` the explorer starts from: `recipe` itself, a preset by name, or (None) the one SimCLR trains
    with in notebook 06 (`SimCLRMethod`'s default `augment` option, the "digits" preset), at `size` px."""
    if isinstance(recipe, Augment):
        return recipe.with_(size=size)
    if recipe is None:
        recipe = SimCLRMethod().options.augment
    check_choice("recipe", recipe, sorted(PRESETS))
    return preset(recipe, size)


@lru_cache(maxsize=None)
def digit_images(colour: bool = False, size: int = DIGIT_SIZE, split: str = "train") -> torch.Tensor:
    """The digits of one split of the fixed split, (N, 3, size, size), loaded once per setting."""
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
    scikit-image's sample photos (PHOTO_SIZE px; `index` is not used)."""
    check_choice("source", source, AUGMENT_IMAGES)
    if source in PHOTOS:
        return _photo(source)
    images = digit_images(source == "colour digits", digit_size, split)
    check_range("index", index, 0, len(images) - 1, integer=True)
    return images[index]


def controls_from_augment(augment: Augment) -> Tuple[Dict[str, bool], Dict[str, float]]:
    """The switches and slider values that give `augment` back through `augment_from_controls(..., base=augment)`.

    Returns (enabled, strength), one entry per name in `OPS`; an op the recipe has off keeps OPS's strength.
    Raises a ValueError naming the setting when the recipe is stronger than the slider's range allows.
    """
    a = augment
    value = {
        "crop": (a.crop_scale[0] < 1.0, (1.0 - a.crop_scale[0]) / CROP_FULL),
        "rotate": (a.degrees > 0, a.degrees / DEGREES_FULL),
        "shear": (a.shear > 0, a.shear / SHEAR_FULL),
        "flip": (a.flip_p > 0, a.flip_p),
        "jitter": (a.jitter_p > 0 and max(a.brightness, a.contrast, a.saturation, a.hue) > 0,
                   max(a.brightness / JITTER_FULL, a.contrast / JITTER_FULL, a.saturation / JITTER_FULL,
                       a.hue / HUE_FULL)),
        "grayscale": (a.grayscale_p > 0, a.grayscale_p),
        "blur": (a.blur_p > 0, (a.blur_sigma[1] - SIGMA_LOW) / SIGMA_SPAN),
        "noise": (a.noise_std > 0, a.noise_std / NOISE_FULL),
    }
    enabled, strength = {}, {}
    for name, (on, s) in value.items():
        if on and not 0.0 <= s <= 1.0 + 1e-9:
            raise ValueError(f"the recipe's {OPS[name][0]} is beyond the explorer's range (slider value {s:.3g}, "
                             f"expected [0, 1])")
        enabled[name] = bool(on)
        strength[name] = float(min(max(s, 0.0), 1.0)) if on else OPS[name][2]
    return enabled, strength


def augment_from_controls(enabled: Dict[str, bool], strength: Dict[str, float], size: int,
                          base: Optional[Augment] = None) -> Augment:
    """Settings from the controls: an op that is off gets probability or strength 0; slider value s in [0, 1]:

    crop: area scale in (1 - 0.92 s, 1) (s = 1 is the paper's 0.08); rotate: up to 45 s degrees;
    shear: slant up to 50 s degrees; flip: probability s; jitter: brightness/contrast/saturation 0.8 s, hue
    0.2 s; grayscale: probability s; blur: sigma in (0.1, 0.1 + 2.9 s); noise: std up to 0.3 s.
    What no slider sets comes from `base` (default `Augment()`, the SimCLR paper's): the crop's aspect range,
    the probability of the jitter (0.8) and of the blur (0.5).
    """
    unknown = (set(enabled) | set(strength)) - set(OPS)
    if unknown:
        raise ValueError(f"unknown augmentation names {sorted(unknown)}; expected some of {list(OPS)}")
    base = Augment() if base is None else base
    s = {}
    for name in OPS:
        s[name] = float(check_range(f"strength[{name!r}]", strength.get(name, OPS[name][2]), 0.0, 1.0)) \
            if enabled.get(name, False) else 0.0
    jitter_p = (base.jitter_p or 0.8) if s["jitter"] else 0.0
    blur_p = (base.blur_p or 0.5) if s["blur"] else 0.0
    return base.with_(size=size, crop_scale=(1.0 - CROP_FULL * s["crop"], 1.0),
                      crop_ratio=base.crop_ratio if s["crop"] > 0 else (1.0, 1.0), degrees=DEGREES_FULL * s["rotate"],
                      shear=SHEAR_FULL * s["shear"], flip_p=s["flip"], brightness=JITTER_FULL * s["jitter"],
                      contrast=JITTER_FULL * s["jitter"], saturation=JITTER_FULL * s["jitter"],
                      hue=HUE_FULL * s["jitter"], jitter_p=jitter_p, grayscale_p=s["grayscale"], blur_p=blur_p,
                      blur_sigma=(SIGMA_LOW, SIGMA_LOW + SIGMA_SPAN * s["blur"]) if s["blur"] else base.blur_sigma,
                      noise_std=NOISE_FULL * s["noise"])


def explorer_views(image: torch.Tensor, augment: Augment, pairs: int = 4, seed: int = 0) -> torch.Tensor:
    """`pairs` pairs of views of one image (3, H, W): (2, pairs, 3, size, size), row 0 view a, row 1 view b."""
    check_range("pairs", pairs, 1, MAX_PAIRS, integer=True)
    batch = image[None].expand(2 * pairs, -1, -1, -1)
    views = augment(batch, torch.Generator().manual_seed(seed))
    return views.view(2, pairs, *views.shape[1:])


def _font(size: int = TEXT_PX):
    return font(size)


def _label_width() -> int:
    return max(int(_font().getlength(text)) for text in ("view a", "view b")) + 2 * MARGIN


def cell_size(size: int, pairs: int, max_width: int = MAX_WIDTH) -> int:
    """The side in px of one view in the picture: as large as fits `pairs + 1` columns (the original and the
    pairs) beside the row labels in `max_width` px, within [MIN_CELL, MAX_CELL], and a whole multiple of the
    image's `size` when one fits (crisp pixels)."""
    check_range("pairs", pairs, 1, MAX_PAIRS, integer=True)
    room = max_width - _label_width() - ORIGINAL_GAP - (pairs - 1) * GAP - MARGIN
    cell = int(min(MAX_CELL, max(MIN_CELL, room // (pairs + 1))))
    return size * (cell // size) if size * (cell // size) >= MIN_CELL else cell


def _tile(image: torch.Tensor, cell: int):
    from PIL import Image

    array = image_to_uint8(image)
    picture = Image.fromarray(array)
    resample = Image.NEAREST if cell % array.shape[0] == 0 else Image.LANCZOS
    return picture.resize((cell, cell), resample)


def render_views(image: torch.Tensor, views: torch.Tensor, cell: Optional[int] = None) -> np.ndarray:
    """The picture the widget shows, drawn at the size it is displayed: row labels "view a" / "view b" at the
    left, the original (headed "original", centred on the two rows), then one column per pair ("pair 1", ...),
    view a above view b. image: (3, H, W); views: (2, pairs, 3, h, w) in [0, 1] -> (H', W', 3) uint8,
    W' <= MAX_WIDTH; text is TEXT_PX >= 16 px tall."""
    from PIL import Image, ImageDraw

    pairs = views.shape[1]
    cell = cell_size(views.shape[-1], pairs) if cell is None else cell
    label_w, header = _label_width(), TEXT_PX + 2 * MARGIN
    width = label_w + cell + ORIGINAL_GAP + pairs * cell + (pairs - 1) * GAP + MARGIN
    height = header + 2 * cell + GAP + MARGIN
    picture = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(picture), _font()
    rows_y = (header, header + cell + GAP)
    for y, text in zip(rows_y, ("view a", "view b")):
        draw.text((MARGIN, y + cell // 2), text, fill="black", font=font, anchor="lm")
    original_y = header + (cell + GAP) // 2
    picture.paste(_tile(image, cell), (label_w, original_y))
    draw.text((label_w + cell // 2, header // 2), "original", fill="black", font=font, anchor="mm")
    separator = label_w + cell + ORIGINAL_GAP // 2
    draw.line([(separator, MARGIN), (separator, height - MARGIN)], fill=(170, 170, 170), width=2)
    for j in range(pairs):
        x = label_w + cell + ORIGINAL_GAP + j * (cell + GAP)
        draw.text((x + cell // 2, header // 2), f"pair {j + 1}", fill="black", font=font, anchor="mm")
        for row, y in enumerate(rows_y):
            picture.paste(_tile(views[row, j], cell), (x, y))
    return np.asarray(picture)


class AugmentExplorer(Explorer):
    """Controls (a grid above the picture): image source and digit index, number of pairs, seed and "resample",
    then per augmentation a switch and a slider ("strength", or "probability" for flip and grayscale). Every
    change redraws the PNG into `.image`; `.last_drawn` keeps the bytes. The switches and sliders start at
    `recipe` (default: notebook 06's, see `recipe_augment`)."""

    def __init__(self, source: str = "colour digits", index: int = 0, pairs: int = 4, seed: int = 0,
                 recipe: Union[None, str, Augment] = None):
        import ipywidgets as W

        check_choice("source", source, AUGMENT_IMAGES)
        last = len(digit_images()) - 1
        check_range("index", index, 0, last, integer=True)
        check_range("pairs", pairs, 1, MAX_PAIRS, integer=True)
        check_range("seed", seed, 0, MAX_SEED, integer=True)
        self.recipe = recipe_augment(recipe)
        enabled, strength = controls_from_augment(self.recipe)

        def layout(min_width="260px"):
            box = control_layout(min_width)
            box.flex = "1 1 auto"
            return box

        self.source = W.Dropdown(options=list(AUGMENT_IMAGES), value=source, description="image",
                                 style=CONTROL_STYLE, layout=layout())
        self.index = W.IntSlider(value=index, min=0, max=last, description="digit #", continuous_update=False,
                                 style=CONTROL_STYLE, layout=layout())
        self.enabled = {name: W.Checkbox(value=enabled[name], description=label, indent=False,
                                         layout=W.Layout(width="auto", min_width="150px", flex="0 0 auto"))
                        for name, (label, _, _) in OPS.items()}
        self.strength = {name: W.FloatSlider(value=strength[name], min=0.0, max=1.0, step=0.01, description=kind,
                                             continuous_update=False, readout_format=".2f", style=CONTROL_STYLE,
                                             layout=layout("210px"))
                         for name, (_, kind, _) in OPS.items()}
        self.pairs = W.IntSlider(value=pairs, min=1, max=MAX_PAIRS, description="pairs", style=CONTROL_STYLE,
                                 layout=layout())
        self.seed = W.IntText(value=seed, description="seed", style=CONTROL_STYLE,
                              layout=W.Layout(width="auto", min_width="150px", flex="1 1 auto"))
        self.resample = W.Button(description="resample", icon="refresh", layout=W.Layout(width="auto",
                                                                                         flex="0 0 auto"))
        self.image = png_image()
        self.caption_text = ("Left: the original. Each column: one positive pair, two random views of it. "
                             "Defaults: notebook 06's recipe.")
        self.last_drawn: bytes = b""
        self.resample.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        for control in (self.source, self.index, self.pairs, self.seed, *self.enabled.values(),
                        *self.strength.values()):
            control.observe(lambda _: self.redraw(), names="value")

        def grid(cells):
            return W.GridBox(cells, layout=W.Layout(grid_template_columns="repeat(auto-fill, minmax(400px, 1fr))",
                                                    grid_gap="2px 8px", width="100%"))

        cells = [W.HBox([self.source], layout=W.Layout(min_width="0")), W.HBox([self.index]),
                 W.HBox([self.pairs]), W.HBox([self.seed, self.resample])]
        cells += [W.HBox([self.enabled[name], self.strength[name]]) for name in OPS]
        self.widget = W.VBox([grid(cells), self.image, caption_html(self.caption_text)],
                             layout=W.Layout(align_items="flex-start", width="100%"))
        self.redraw()

    def settings(self) -> Augment:
        size = PHOTO_SIZE if self.source.value in PHOTOS else DIGIT_SIZE
        return augment_from_controls({k: c.value for k, c in self.enabled.items()},
                                     {k: c.value for k, c in self.strength.items()}, size, base=self.recipe)

    def picture(self) -> np.ndarray:
        """What is drawn now, from the pure functions."""
        image = explorer_image(self.source.value, self.index.value)
        views = explorer_views(image, self.settings(), self.pairs.value, self.seed.value)
        return render_views(image, views)

    def redraw(self) -> None:
        self.index.disabled = self.source.value in PHOTOS
        with one_thread():  # a dozen small images: on a busy CPU extra threads cost more than they save
            self.last_drawn = array_to_png(self.picture())
        self.image.value = self.last_drawn
