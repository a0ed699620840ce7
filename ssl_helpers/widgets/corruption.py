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

from typing import Dict, Optional

import torch

from ..plots import image_grid
from ..pretext import DenoisingTask, hide_box, rotate
from .augment_explorer import PHOTOS, digit_images, explorer_image
from .common import array_to_png, png_image
from .masking import one_thread

__all__ = ["CORRUPTION_IMAGES", "ROTATIONS", "explorer_source", "corrupt_image", "model_answers", "render_corruptions",
           "CorruptionExplorer"]

CORRUPTION_IMAGES = ("digits",) + PHOTOS
ROTATIONS = (0, 90, 180, 270)
DIGIT_SIZE = 16  # the size the course's pretext models are trained at


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
    noisy = DenoisingTask(noise_level).corrupt(x, generator).inputs
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
        encoder.eval()
        task.head.eval()
        if name == "denoising":
            answers["denoised"] = task.predict(encoder, views["noisy"])
        elif name == "inpainting":
            prediction = task.predict(encoder, views["hidden"])
            answers["inpainted"] = views["mask"] * prediction + (1 - views["mask"]) * views["hidden"]
        elif name == "rotation":
            probabilities = task.predict(encoder, views["rotated"]).softmax(1)[0]
            answers["rotation"] = 90 * int(probabilities.argmax())
            answers["rotation_confidence"] = float(probabilities.max())
        else:
            raise ValueError(f"models may hold 'denoising', 'inpainting' and 'rotation', got {name!r}")
    return answers


def render_corruptions(views: dict, answers: Optional[dict] = None) -> tuple:
    """The picture and its column titles: original, noisy, (denoised), hidden box, (inpainted), rotated.
    Returns (an (H', W', 3) array in [0, 1], list of titles)."""
    answers = answers or {}
    columns = [("original", views["original"]), ("noisy", views["noisy"])]
    if "denoised" in answers:
        columns.append(("denoised", answers["denoised"]))
    columns.append(("hidden box", views["hidden"]))
    if "inpainted" in answers:
        columns.append(("inpainted", answers["inpainted"]))
    columns.append(("rotated", views["rotated"]))
    images = torch.cat([image.cpu() for _, image in columns])
    return image_grid(images, ncols=len(columns), pad=2), [title for title, _ in columns]


class CorruptionExplorer:
    """Controls: image (digits or a photo), digit index, noise level, box size (a fraction of the image side),
    rotation, seed. Draws every corruption, and what `models` (see `model_answers`) answer, into `.image`;
    `.last_drawn` keeps the PNG bytes and `.caption` the column titles and the predicted rotation."""

    def __init__(self, models: Optional[Dict[str, tuple]] = None, source: str = "digits", index: int = 0,
                 noise_level: float = 0.3, box_fraction: float = 0.5, rotation: int = 90, seed: int = 0):
        import ipywidgets as W

        self.models = dict(models or {})
        self.source = W.Dropdown(options=list(CORRUPTION_IMAGES), value=source, description="image")
        self.index = W.IntSlider(value=index, min=0, max=len(digit_images(size=DIGIT_SIZE, split="test")) - 1, description="digit #")
        self.noise_level = W.FloatSlider(value=noise_level, min=0.0, max=1.0, step=0.05, description="noise")
        self.box_fraction = W.FloatSlider(value=box_fraction, min=0.0, max=1.0, step=0.05, description="box size")
        self.rotation = W.ToggleButtons(options=list(ROTATIONS), value=rotation, description="rotation")
        self.seed = W.IntSlider(value=seed, min=0, max=50, description="seed")
        self.caption = W.HTML()
        self.image = png_image()
        self.last_drawn: bytes = b""
        controls = (self.source, self.index, self.noise_level, self.box_fraction, self.rotation, self.seed)
        for control in controls:
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = W.VBox([W.HBox([W.VBox(list(controls[:3])), W.VBox(list(controls[3:]))]),
                              self.caption, self.image])
        self.redraw()

    def picture(self) -> tuple:
        """What is drawn now, from the pure functions: (array, titles, answers)."""
        image = explorer_source(self.source.value, self.index.value)
        views = corrupt_image(image, self.noise_level.value, self.box_fraction.value, self.rotation.value,
                              self.seed.value)
        with one_thread():
            answers = model_answers(views, self.models)
        array, titles = render_corruptions(views, answers)
        return array, titles, answers

    def redraw(self) -> None:
        self.index.disabled = self.source.value != "digits"
        array, titles, answers = self.picture()
        self.last_drawn = array_to_png(array, scale=4 if self.source.value == "digits" else 1)
        self.image.value = self.last_drawn
        text = "columns: " + " | ".join(titles)
        if "rotation" in answers:
            text += (f"<br>rotation model: turned by {answers['rotation']} degrees? "
                     f"(p = {answers['rotation_confidence']:.2f}; truth {self.rotation.value})")
        self.caption.value = text

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
