"""The augmentation explorer: pure functions, and the widget redrawing what they compute on every change."""
import time

import numpy as np
import pytest
import torch

from ssl_helpers.widgets import augment_explorer as X
from ssl_helpers.widgets.common import array_to_png


def test_explorer_image_sources():
    assert X.explorer_image("digits", 3).shape == (3, X.DIGIT_SIZE, X.DIGIT_SIZE)
    colour = X.explorer_image("colour digits", 3)
    assert not torch.allclose(colour[0], colour[1])  # really coloured
    assert X.explorer_image("chelsea").shape == (3, X.PHOTO_SIZE, X.PHOTO_SIZE)
    with pytest.raises(ValueError, match="source"):
        X.explorer_image("lena")
    with pytest.raises(ValueError, match="index"):
        X.explorer_image("digits", 10_000)


def test_controls_map_to_settings_and_off_means_identity():
    image = X.explorer_image("colour digits", 0)
    off = X.augment_from_controls({}, {}, X.DIGIT_SIZE)
    views = X.explorer_views(image, off, pairs=3, seed=0)
    assert views.shape == (2, 3, 3, X.DIGIT_SIZE, X.DIGIT_SIZE)
    torch.testing.assert_close(views, image.expand_as(views), atol=1e-5, rtol=0)
    full = X.augment_from_controls({"crop": True, "jitter": True}, {"crop": 1.0, "jitter": 0.5}, 16)
    assert full.crop_scale == pytest.approx((0.08, 1.0)) and full.brightness == pytest.approx(0.4)
    with pytest.raises(ValueError, match="unknown augmentation"):
        X.augment_from_controls({"mixup": True}, {}, 16)


def test_widget_redraws_what_the_pure_functions_compute():
    widget = X.AugmentExplorer(source="colour digits", index=0, pairs=2)
    first = widget.last_drawn
    assert first == widget.image.value and first[:4] == b"\x89PNG"

    widget.seed.value = 5  # resample
    assert widget.last_drawn != first
    expected = X.render_views(X.explorer_image("colour digits", 0),
                              X.explorer_views(X.explorer_image("colour digits", 0), widget.settings(), 2, 5))
    assert widget.last_drawn == array_to_png(expected, scale=3)

    widget.resample.click()
    assert widget.seed.value == 6

    for name in X.OPS:  # switch everything off: every view is the image itself
        widget.enabled[name].value = False
    picture = widget.picture()
    image = X.explorer_image("colour digits", 0).permute(1, 2, 0).numpy()
    size = X.DIGIT_SIZE
    offset = size + 6
    np.testing.assert_allclose(picture[:size, offset:offset + size], image, atol=1e-5)

    widget.strength["noise"].value = 1.0  # a strength only matters once the op is on
    unchanged = widget.last_drawn
    widget.enabled["noise"].value = True
    assert widget.last_drawn != unchanged
    assert widget.settings().noise_std == pytest.approx(0.3)

    widget.source.value = "astronaut"
    assert widget.index.disabled
    assert widget.picture().shape[0] == 2 * X.PHOTO_SIZE + 2


def test_redraw_time_on_cpu_is_printed():
    widget = X.AugmentExplorer(source="coffee", pairs=6)
    started = time.perf_counter()
    for value in (0.2, 0.4, 0.6, 0.8, 1.0):
        widget.strength["crop"].value = value
    per_change = (time.perf_counter() - started) / 5
    print(f"augment explorer: {per_change * 1000:.1f} ms per change (photo, 6 pairs)")
    assert per_change < 2.0  # generous: the budget is 0.2 s, measured on a busy 2-core machine
