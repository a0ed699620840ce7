"""Corruption explorer: noise level, hidden box and rotation on real images (digits and photos), and what
pre-trained pretext models make of each corruption.

Pure functions (tested directly): `explorer_source(source, index)`, `corrupt_image(image, noise_level,
box_fraction, rotation, seed)`, `model_answers(views, models)`, `render_corruptions(views, answers)`. The
widget `CorruptionExplorer` is a thin layout over them.

The models (trained in notebook 04 on 16 px digits, or loaded with `ssl_helpers.methods.load_or_pretrain`) are
fully convolutional, so they also run on the 64 px photos: there they show what a model trained on digits
does far from its training data.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import torch

from ..pretext import hide_box, noisy_images, rotate
from ..pretext.figures import check_built
from .augment_explorer import PHOTOS, digit_images, explorer_image
from .common import (CONTROL_STYLE, Explorer, array_to_png, caption_html, check_choice, check_range, control_layout,
                     font, image_to_uint8, one_thread, png_image)
from .masking import MAX_WIDTH, SEED_RANGE, TEXT_PX

__all__ = ["CORRUPTION_IMAGES", "ROTATIONS", "MODEL_NAMES", "explorer_source", "corrupt_image", "model_answers",
           "render_corruptions", "CorruptionExplorer"]

CORRUPTION_IMAGES = ("digits",) + PHOTOS
ROTATIONS = (0, 90, 180, 270)
DIGIT_SIZE = 16  # the size the course's pretext models are trained at
MODEL_NAMES = ("denoising", "inpainting", "rotation")
TILE = 128  # px: each image is shown about this big (a 16 px digit 8x, a 64 px photo 2x)
MARGIN, COLUMN_GAP = 8, 8


def explorer_source(source: str, index: int = 0) -> torch.Tensor:
    """One image (3, H, W): the `index`-th 16 px test digit, or a 64 px scikit-image sample photo."""
    if source not in CORRUPTION_IMAGES:
        raise ValueError(f"source must be one of {CORRUPTION_IMAGES}, got {source!r}")
    return explorer_image(source, index, digit_size=DIGIT_SIZE, split="test")


def corrupt_image(image: torch.Tensor, noise_level: float = 0.3, box_fraction: float = 0.5, rotation: int = 90,
                  seed: int = 0) -> dict:
    """The three corruptions of one image (C, H, W), each on its own, seeded:

    "noisy": clip(x + noise_level * eps, 0, 1); "hidden": a square of side round(box_fraction * H) at a random
    place, filled grey ("mask" marks it; box_fraction 0 hides nothing); "rotated": turned `rotation` degrees
    counter-clockwise (a multiple of 90). Also "original". Every value is a (1, C, H, W) tensor.
    """
    if rotation not in ROTATIONS:
        raise ValueError(f"rotation must be one of {ROTATIONS} degrees, got {rotation!r}")
    if not 0.0 <= box_fraction <= 1.0:
        raise ValueError(f"box_fraction must be in [0, 1], got {box_fraction!r}")
    x = image[None]
    generator = torch.Generator().manual_seed(seed)
    noisy = noisy_images(x, noise_level, generator)
    box = round(box_fraction * min(x.shape[-2:]))
    if box >= 1:
        hidden, mask = hide_box(x, box, generator)
    else:
        hidden, mask = x.clone(), torch.zeros_like(x[:, :1])
    return {"original": x, "noisy": noisy, "hidden": hidden, "mask": mask, "rotated": rotate(x, rotation // 90)}


@torch.no_grad()
def model_answers(views: dict, models: Optional[Dict[str, tuple]] = None) -> dict:
    """What trained pretext models make of the corruptions. models: {"denoising" | "inpainting" | "rotation":
    (task with its head, encoder)}, any subset. Returns {"denoised": image, "inpainted": image (the prediction
    inside the box, the visible pixels kept), "rotation": predicted degrees, "rotation_confidence": its
    softmax probability}, for the models given."""
    answers = {}
    models = models or {}
    for name, (task, encoder) in models.items():
        check_built(task, encoder)
        if name == "denoising":
            answers["denoised"] = task.predict(views["noisy"])
        elif name == "inpainting":
            prediction = task.predict(views["hidden"])
            answers["inpainted"] = views["mask"] * prediction + (1 - views["mask"]) * views["hidden"]
        elif name == "rotation":
            probabilities = task.predict(views["rotated"]).softmax(1)[0]
            answers["rotation"] = 90 * int(probabilities.argmax())
            answers["rotation_confidence"] = float(probabilities.max())
        else:
            raise ValueError(f"models may hold {MODEL_NAMES}, got {name!r}")
    return answers


def render_corruptions(views: dict, answers: Optional[dict] = None, header: Sequence[str] = (),
                       tile: int = TILE) -> tuple:
    """The picture, drawn at the size it is shown, and its column titles: original, noisy, (denoised), hidden
    box, (inpainted), rotated. Each title is drawn INTO the picture above its column (`TEXT_PX` px text), the
    `header` lines above the titles; each image (1, C, H, W) is enlarged by the integer factor tile // H
    (crisp pixels: a 16 px digit 8x, a 64 px photo 2x). Returns (an (H', W', 3) uint8 array, W' <= `MAX_WIDTH`,
    list of titles)."""
    from PIL import Image, ImageDraw

    answers = answers or {}
    columns = [("original", views["original"]), ("noisy", views["noisy"])]
    if "denoised" in answers:
        columns.append(("denoised", answers["denoised"]))
    columns.append(("hidden box", views["hidden"]))
    if "inpainted" in answers:
        columns.append(("inpainted", answers["inpainted"]))
    columns.append(("rotated", views["rotated"]))
    text = font(TEXT_PX)
    line = TEXT_PX + 6
    scale = max(1, tile // views["original"].shape[-1])
    size = views["original"].shape[-1] * scale
    cell = max(size, max(int(text.getlength(title)) for title, _ in columns) + 4)
    width = 2 * MARGIN + max([len(columns) * cell + (len(columns) - 1) * COLUMN_GAP] +
                             [int(text.getlength(words)) + 1 for words in header])
    if width > MAX_WIDTH:
        raise ValueError(f"{len(columns)} columns of {cell} px make the picture {width} px wide, more than "
                         f"{MAX_WIDTH}: use a smaller tile")
    top = MARGIN + len(header) * line
    canvas = Image.new("RGB", (width, top + line + size + MARGIN), "white")
    draw = ImageDraw.Draw(canvas)
    for i, words in enumerate(header):
        draw.text((MARGIN, MARGIN + i * line), words, fill="black", font=text)
    for c, (title, image) in enumerate(columns):
        x = MARGIN + c * (cell + COLUMN_GAP)
        draw.text((x + cell // 2, top), title, fill="black", font=text, anchor="ma")
        canvas.paste(Image.fromarray(image_to_uint8(image[0], scale)), (x + (cell - size) // 2, top + line))
    return np.asarray(canvas), [title for title, _ in columns]


class CorruptionExplorer(Explorer):
    """Controls in two compact columns: image (digits or a photo), digit index, seed | noise level, box size (a
    fraction of the image side), rotation. Draws every corruption and what `models` (see `model_answers`)
    answer into `.image`, with the column titles and the rotation model's guess inside the picture.

    source: one of `CORRUPTION_IMAGES`; index: a test digit, in [0, number of test digits - 1]; noise_level and
    box_fraction in [0, 1]; rotation: one of `ROTATIONS`; seed in `SEED_RANGE`. Bad values raise a ValueError
    naming the valid range or choices. `.last_drawn` keeps the PNG bytes, `.last_answers` the models' answers.
    """

    def __init__(self, models: Optional[Dict[str, tuple]] = None, source: str = "digits", index: int = 0,
                 noise_level: float = 0.3, box_fraction: float = 0.5, rotation: int = 90, seed: int = 0):
        import ipywidgets as W

        self.models = dict(models or {})
        for name in self.models:
            check_choice("models key", name, MODEL_NAMES)
        check_choice("source", source, CORRUPTION_IMAGES)
        n_digits = len(digit_images(size=DIGIT_SIZE, split="test"))
        check_range("index", index, 0, n_digits - 1, integer=True)
        check_range("noise_level", noise_level, 0.0, 1.0)
        check_range("box_fraction", box_fraction, 0.0, 1.0)
        check_choice("rotation", rotation, ROTATIONS)
        check_range("seed", seed, *SEED_RANGE, integer=True)

        style, layout = CONTROL_STYLE, control_layout("240px")
        self.source = W.Dropdown(options=list(CORRUPTION_IMAGES), value=source, description="image", style=style,
                                 layout=layout)
        self.index = W.IntSlider(value=index, min=0, max=n_digits - 1, description="digit #", style=style,
                                 layout=layout)
        self.seed = W.IntSlider(value=seed, min=SEED_RANGE[0], max=SEED_RANGE[1], description="seed", style=style,
                                layout=layout)
        self.noise_level = W.FloatSlider(value=noise_level, min=0.0, max=1.0, step=0.05, description="noise level",
                                         style=style, layout=layout)
        self.box_fraction = W.FloatSlider(value=box_fraction, min=0.0, max=1.0, step=0.05, description="box size",
                                          style=style, layout=layout)
        self.rotation = W.ToggleButtons(options=[(f"{angle}°", angle) for angle in ROTATIONS], value=rotation,
                                        description="rotation", style={**CONTROL_STYLE, "button_width": "52px"},
                                        layout=W.Layout(width="auto"))
        self.image = png_image()
        self.caption_text = ("The original, each corruption and the trained models' answers; the rotation model's "
                             "guess is on top.")
        self.caption = caption_html(self.caption_text)
        self.last_drawn: bytes = b""
        self.last_answers: dict = {}
        controls = (self.source, self.index, self.seed, self.noise_level, self.box_fraction, self.rotation)
        for control in controls:
            control.observe(lambda _: self.redraw(), names="value")
        column = dict(flex="1 1 300px", min_width="280px", margin="0 16px 0 0")
        columns = W.HBox([W.VBox(list(controls[:3]), layout=W.Layout(**column)),
                          W.VBox(list(controls[3:]), layout=W.Layout(**column))],
                         layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.widget = W.VBox([columns, self.image, self.caption])
        self.widget.add_class("ssl-corruption-explorer")
        self.redraw()

    def picture(self) -> tuple:
        """What is drawn now, from the pure functions: (array, titles, answers)."""
        image = explorer_source(self.source.value, self.index.value)
        views = corrupt_image(image, self.noise_level.value, self.box_fraction.value, self.rotation.value,
                              self.seed.value)
        with one_thread():
            answers = model_answers(views, self.models)
        array, titles = render_corruptions(views, answers, self.header(answers))
        return array, titles, answers

    def header(self, answers: dict) -> list:
        """The picture's header: the rotation model's guess against the truth; a warning on photos."""
        lines = []
        if "rotation" in answers:
            lines.append(f"rotation model says: turned {answers['rotation']}° (p = "
                         f"{answers['rotation_confidence']:.2f}); truth: {self.rotation.value}°")
        if self.models and self.source.value != "digits":
            lines.append(f"models trained on {DIGIT_SIZE} px digits: a photo is far from their data")
        return lines

    def redraw(self) -> None:
        self.index.disabled = self.source.value != "digits"
        array, _, answers = self.picture()
        self.last_drawn = array_to_png(array)
        self.image.value = self.last_drawn
        self.last_answers = answers
