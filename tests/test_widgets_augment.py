"""The augmentation explorer: pure functions, the picture drawn at its display size, defaults from notebook 06's
recipe, rejected arguments, and the widget redrawing what the pure functions compute on every change."""
import dataclasses
import base64
import io

import numpy as np
import pytest
import torch
from IPython.core.formatters import DisplayFormatter
from PIL import Image

from ssl_helpers.augment import preset
from ssl_helpers.methods.simclr import SimCLRMethod
from ssl_helpers.widgets import augment_explorer as X
from ssl_helpers.widgets.common import array_to_png


def size_of(png: bytes):
    return Image.open(io.BytesIO(bytes(png))).size


def test_explorer_image_sources():
    assert X.explorer_image("digits", 3).shape == (3, X.DIGIT_SIZE, X.DIGIT_SIZE)
    colour = X.explorer_image("colour digits", 3)
    assert not torch.allclose(colour[0], colour[1])  # really coloured
    assert X.explorer_image("chelsea").shape == (3, X.PHOTO_SIZE, X.PHOTO_SIZE)
    with pytest.raises(ValueError, match=r"source must be one of \['digits', 'colour digits', 'astronaut'"):
        X.explorer_image("lena")
    last = len(X.digit_images()) - 1
    with pytest.raises(ValueError, match=rf"index must be an integer in \[0, {last}\], got 10000"):
        X.explorer_image("digits", 10_000)


def test_defaults_are_notebook_06s_recipe_and_round_trip():
    recipe = X.recipe_augment()
    assert SimCLRMethod().options.augment == "digits"
    assert recipe == preset("digits", X.DIGIT_SIZE)
    enabled, _ = X.controls_from_augment(recipe)
    assert not enabled["flip"] and not enabled["blur"]  # the digits recipe: no flip (a mirrored 2 is not a 2)
    assert enabled["crop"] and enabled["rotate"] and enabled["shear"] and enabled["noise"]
    for name in ("digits", "simclr", "small"):  # every preset comes back from its own switches and sliders
        augment = preset(name, 24)
        back = X.augment_from_controls(*X.controls_from_augment(augment), 24, base=augment)
        for key, value in dataclasses.asdict(augment).items():
            assert getattr(back, key) == pytest.approx(value), (name, key)
    with pytest.raises(ValueError, match="recipe's rotation is beyond the explorer's range"):
        X.controls_from_augment(preset("digits", 32, degrees=90.0))
    with pytest.raises(ValueError, match=r"recipe must be one of \['digits', 'simclr', 'small'\], got 'digitz'"):
        X.recipe_augment("digitz")


def test_controls_map_to_settings_and_off_means_identity():
    image = X.explorer_image("colour digits", 0)
    off = X.augment_from_controls({}, {}, X.DIGIT_SIZE)
    views = X.explorer_views(image, off, pairs=3, seed=0)
    assert views.shape == (2, 3, 3, X.DIGIT_SIZE, X.DIGIT_SIZE)
    torch.testing.assert_close(views, image.expand_as(views), atol=1e-5, rtol=0)
    full = X.augment_from_controls({"crop": True, "jitter": True}, {"crop": 1.0, "jitter": 0.5}, 16)
    assert full.crop_scale == pytest.approx((0.08, 1.0)) and full.brightness == pytest.approx(0.4)
    probability = X.augment_from_controls({"flip": True, "grayscale": True}, {"flip": 0.3, "grayscale": 0.7}, 16)
    assert probability.flip_p == pytest.approx(0.3) and probability.grayscale_p == pytest.approx(0.7)
    with pytest.raises(ValueError, match="unknown augmentation"):
        X.augment_from_controls({"mixup": True}, {}, 16)
    with pytest.raises(ValueError, match=r"strength\['crop'\] must be a number in \[0.0, 1.0\], got 1.5"):
        X.augment_from_controls({"crop": True}, {"crop": 1.5}, 16)
    with pytest.raises(ValueError, match=r"pairs must be an integer in \[1, 6\], got 0"):
        X.explorer_views(image, off, pairs=0)


@pytest.mark.parametrize("pairs", range(1, X.MAX_PAIRS + 1))
@pytest.mark.parametrize("size", [X.DIGIT_SIZE, X.PHOTO_SIZE])
def test_picture_is_drawn_at_display_size(pairs, size):
    cell = X.cell_size(size, pairs)
    assert X.MIN_CELL <= cell <= X.MAX_CELL and cell % size == 0  # crisp: a whole multiple of the image
    image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0))
    views = image.expand(2, pairs, 3, size, size)
    picture = X.render_views(image, views)
    height, width = picture.shape[:2]
    assert width <= X.MAX_WIDTH <= 840 and height <= 2 * X.MAX_CELL + 3 * X.TEXT_PX + 40
    assert X.TEXT_PX >= X.MIN_TEXT_PX
    assert X._font().getbbox("view a")[3] - X._font().getbbox("view a")[1] >= 12  # glyphs really drawn that big
    if pairs >= 3:
        assert width >= 500  # the whole picture is 500-800 px wide: readable from the back row
    # the first pair's view b sits where the layout says, at full cell size (never resampled to another aspect)
    x = X._label_width() + cell + X.ORIGINAL_GAP
    y = X.TEXT_PX + 2 * X.MARGIN + cell + X.GAP
    expected = np.asarray(X._tile(views[1, 0], cell))
    np.testing.assert_array_equal(picture[y:y + cell, x:x + cell], expected)


def test_labels_are_drawn_into_the_picture():
    image = torch.ones(3, 32, 32)
    picture = X.render_views(image, image.expand(2, 2, 3, 32, 32))
    header = picture[:X.TEXT_PX + 2 * X.MARGIN]
    assert (header < 128).any()  # "original", "pair 1", "pair 2" in dark ink above white views
    label_column = picture[:, :X._label_width() - X.MARGIN]
    assert (label_column < 128).any()  # "view a", "view b"


def test_widget_redraws_what_the_pure_functions_compute():
    widget = X.AugmentExplorer(source="colour digits", index=0, pairs=2)
    first = widget.last_drawn
    assert first == widget.image.value and first[:4] == b"\x89PNG"
    assert widget.settings() == X.recipe_augment()  # starts at notebook 06's recipe
    assert not widget.enabled["flip"].value
    assert widget.strength["flip"].description == "probability"
    assert widget.strength["grayscale"].description == "probability"
    assert widget.strength["crop"].description == "strength"

    widget.seed.value = 5  # resample
    assert widget.last_drawn != first
    image = X.explorer_image("colour digits", 0)
    expected = X.render_views(image, X.explorer_views(image, widget.settings(), 2, 5))
    assert widget.last_drawn == array_to_png(expected)
    assert size_of(widget.last_drawn) == (expected.shape[1], expected.shape[0])  # drawn at the size shown

    widget.resample.click()
    assert widget.seed.value == 6

    for name in X.OPS:  # switch everything off: every view is the image itself
        widget.enabled[name].value = False
    views = X.explorer_views(image, widget.settings(), 2, widget.seed.value)
    torch.testing.assert_close(views, image.expand_as(views), atol=1e-5, rtol=0)

    widget.strength["noise"].value = 1.0  # a strength only matters once the op is on
    unchanged = widget.last_drawn
    widget.enabled["noise"].value = True
    assert widget.last_drawn != unchanged
    assert widget.settings().noise_std == pytest.approx(0.3)

    widget.source.value = "astronaut"
    assert widget.index.disabled
    assert widget.settings().size == X.PHOTO_SIZE


def test_explorer_shows_its_picture_and_caption_to_static_viewers():
    widget = X.AugmentExplorer(source="digits", pairs=3)
    assert "original" in widget.caption_text and "positive pair" in widget.caption_text
    bundle, _ = DisplayFormatter().format(widget)  # what IPython puts in the notebook's output
    assert base64.b64decode(bundle["image/png"]) == widget.last_drawn
    assert bundle["text/plain"] == widget.caption_text
    assert widget.image.layout.width == "auto" and widget.image.layout.height == "auto"  # never stretched
    width, _ = size_of(widget.last_drawn)
    assert width <= 840


@pytest.mark.parametrize("arguments, message", [
    (dict(source="digitz"), r"source must be one of \['digits', 'colour digits', 'astronaut', 'chelsea', "
                            r"'coffee', 'rocket'\], got 'digitz'"),
    (dict(index=5000), r"index must be an integer in \[0, \d+\], got 5000"),
    (dict(index=-1), r"index must be an integer in \[0, \d+\], got -1"),
    (dict(pairs=0), r"pairs must be an integer in \[1, 6\], got 0"),
    (dict(pairs=7), r"pairs must be an integer in \[1, 6\], got 7"),
    (dict(seed=-3), r"seed must be an integer in \[0, 4294967295\], got -3"),
    (dict(seed=1.5), r"seed must be an integer in \[0, 4294967295\], got 1.5"),
    (dict(recipe="simclrr"), r"recipe must be one of \['digits', 'simclr', 'small'\], got 'simclrr'"),
])
def test_explorer_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        X.AugmentExplorer(**arguments)

