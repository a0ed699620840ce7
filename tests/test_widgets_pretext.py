"""The mask explorer and the corruption explorer: pure functions, and widgets redrawing what they compute."""
import time

import pytest
import torch

from ssl_helpers.methods import make_method
from ssl_helpers.models import SmallCNN
from ssl_helpers.widgets import corruption as C
from ssl_helpers.widgets import masking as M
from ssl_helpers.widgets.common import array_to_png


def untrained(name, **options):
    torch.manual_seed(0)
    task, encoder = make_method(name, **options), SmallCNN(width=8)
    task.build_head(encoder, (3, 16, 16))
    return task, encoder.eval()


@pytest.fixture(scope="module")
def digits8(digits):
    return digits[1].images[:8]


def test_patch_sizes_leave_at_least_four_patches():
    assert M.patch_sizes(16) == [1, 2, 4, 8]


def test_mask_and_reconstruct_keeps_visible_pixels_and_renders_three_rows(digits8):
    task, encoder = untrained("masked")
    views = M.mask_and_reconstruct(task, encoder, digits8, 0.5, 4, seed=1)
    visible = views["mask"].expand_as(digits8) == 0
    assert torch.equal(views["reconstruction"][visible], digits8[visible])
    picture = M.render_masking(views)
    assert picture.shape == (3 * 17 - 1, 8 * 17 - 1, 3)


def test_mask_explorer_redraws_on_every_slider(digits8):
    task, encoder = untrained("masked")
    widget = M.MaskExplorer(task, encoder, digits8, mask_ratio=0.5, patch_size=4)
    first = widget.last_drawn
    assert first[:4] == b"\x89PNG" and widget.image.value == first
    assert "50% of the pixels hidden" in widget.caption.value

    widget.mask_ratio.value = 0.75
    assert widget.last_drawn != first and "75% of the pixels hidden" in widget.caption.value
    expected = M.render_masking(M.mask_and_reconstruct(task, encoder, digits8, 0.75, 4, seed=0))
    assert widget.last_drawn == array_to_png(expected, scale=widget.scale)

    before = widget.last_drawn
    widget.patch_size.value = 2
    assert widget.last_drawn != before
    before = widget.last_drawn
    widget.seed.value = 3
    assert widget.last_drawn != before

    started = time.perf_counter()
    widget.mask_ratio.value = 0.25
    print(f"mask explorer redraw: {1000 * (time.perf_counter() - started):.1f} ms")


def test_corrupt_image_on_a_digit_and_a_photo():
    digit = C.explorer_source("digits", 0)
    views = C.corrupt_image(digit, noise_level=0.0, box_fraction=0.5, rotation=180, seed=0)
    assert torch.equal(views["noisy"], digit[None])
    assert views["mask"].sum() == 64  # an 8 x 8 box on 16 px
    assert torch.equal(views["rotated"], torch.rot90(digit[None], 2, dims=(-2, -1)))
    assert torch.equal(C.corrupt_image(digit, 0.3, 0.0)["hidden"], digit[None])
    photo = C.explorer_source("chelsea")
    assert C.corrupt_image(photo, 0.2, 0.25)["mask"].sum() == 16 * 16
    with pytest.raises(ValueError, match="rotation must be one of"):
        C.corrupt_image(digit, rotation=45)
    with pytest.raises(ValueError, match="source must be one of"):
        C.explorer_source("lena")


def test_model_answers_and_columns():
    models = {name: untrained(name) for name in ("denoising", "inpainting", "rotation")}
    views = C.corrupt_image(C.explorer_source("digits", 2), 0.3, 0.5, 90)
    answers = C.model_answers(views, models)
    assert answers["denoised"].shape == (1, 3, 16, 16) and answers["rotation"] in C.ROTATIONS
    outside = views["mask"].expand_as(views["hidden"]) == 0
    assert torch.equal(answers["inpainted"][outside], views["hidden"][outside])
    picture, titles = C.render_corruptions(views, answers)
    assert titles == ["original", "noisy", "denoised", "hidden box", "inpainted", "rotated"]
    assert picture.shape == (16, 6 * 18 - 2, 3)
    assert C.render_corruptions(views)[1] == ["original", "noisy", "hidden box", "rotated"]
    with pytest.raises(ValueError, match="models may hold"):
        C.model_answers(views, {"jigsaw": untrained("jigsaw")})


def test_corruption_explorer_redraws_on_every_control():
    models = {name: untrained(name) for name in ("denoising", "inpainting", "rotation")}
    widget = C.CorruptionExplorer(models)
    drawn = [widget.last_drawn]
    assert drawn[0][:4] == b"\x89PNG" and "rotation model" in widget.caption.value
    for control, value in [(widget.noise_level, 0.8), (widget.box_fraction, 0.25), (widget.rotation, 270),
                           (widget.seed, 5), (widget.index, 7), (widget.source, "astronaut")]:
        started = time.perf_counter()
        control.value = value
        print(f"corruption explorer redraw ({control.description}): {1000 * (time.perf_counter() - started):.1f} ms")
        assert widget.last_drawn != drawn[-1], control.description
        drawn.append(widget.last_drawn)
    assert widget.index.disabled and "truth 270" in widget.caption.value
    array, _, _ = widget.picture()
    assert widget.last_drawn == array_to_png(array, scale=1)
    assert array.shape[0] == 64  # the photo at 64 px, shown at its size
