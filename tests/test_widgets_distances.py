"""The embedding-distance explorer: the pure function against the losses, and the widget redrawing on changes."""
import math

import numpy as np
import pytest
import torch

import base64
import io

from IPython.core.formatters import DisplayFormatter
from PIL import Image

from ssl_helpers.losses import nt_xent
from ssl_helpers.widgets.common import MIN_TEXT_PX
from ssl_helpers.widgets.distances import (DPI, FONT_PT, MAX_WIDTH, T_MAX, T_MIN, DistanceExplorer, anchor_losses,
                                           default_anchor, distance_view)

N, D = 6, 4


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, N, 3, 8, 8, generator=generator)
    z = torch.randn(2, N, D, generator=generator)
    return images[0], images[1], z[0], z[1]


def test_view_ranks_every_other_view_and_finds_the_positive(data):
    _, _, z_a, z_b = data
    view = distance_view(z_a, z_b, anchor=2, temperature=0.5)
    assert sorted(view.candidates.tolist()) == [k for k in range(2 * N) if k != 2]
    assert view.positive == 2 + N and view.candidates[view.positive_rank] == view.positive
    assert np.all(np.diff(view.cosine) <= 0)
    assert view.probability.sum() == pytest.approx(1.0, abs=1e-6)
    assert distance_view(z_a, z_b, anchor=N + 1, temperature=0.5).positive == 1


def test_view_numbers_match_their_definitions(data):
    _, _, z_a, z_b = data
    z = torch.cat([z_a, z_b])
    view = distance_view(z_a, z_b, anchor=0, temperature=0.2)
    for k, cosine, distance in zip(view.candidates, view.cosine, view.distance):
        assert cosine == pytest.approx(torch.nn.functional.cosine_similarity(z[0], z[k], dim=0).item(), abs=1e-5)
        assert distance == pytest.approx((z[0] - z[k]).norm().item(), abs=1e-5)
    assert view.loss == pytest.approx(-math.log(view.probability[view.positive_rank]), abs=1e-5)


def test_mean_loss_over_all_anchors_is_nt_xent(data):
    _, _, z_a, z_b = data
    losses = [distance_view(z_a, z_b, anchor=i, temperature=0.3).loss for i in range(2 * N)]
    assert np.mean(losses) == pytest.approx(nt_xent(z_a, z_b, 0.3).item(), abs=1e-5)


def test_temperature_sharpens_the_softmax(data):
    _, _, z_a, z_b = data
    cold, hot = (distance_view(z_a, z_b, 0, t).probability for t in (0.05, 10.0))
    assert cold.max() > hot.max()
    assert hot == pytest.approx(np.full(2 * N - 1, 1 / (2 * N - 1)), abs=0.02)


def test_view_rejects_an_anchor_out_of_range(data):
    _, _, z_a, z_b = data
    with pytest.raises(ValueError, match=rf"anchor must be an integer in \[0, {2 * N - 1}\], got {2 * N}"):
        distance_view(z_a, z_b, anchor=2 * N, temperature=0.5)
    with pytest.raises(ValueError, match=r"temperature must be a number > 0, got 0"):
        distance_view(z_a, z_b, anchor=0, temperature=0)


def test_anchor_losses_are_the_per_anchor_nt_xent(data):
    _, _, z_a, z_b = data
    losses = anchor_losses(z_a, z_b, 0.3)
    assert losses.shape == (2 * N,)
    assert losses.mean().item() == pytest.approx(nt_xent(z_a, z_b, 0.3).item(), abs=1e-5)
    for i in (0, N + 2):
        assert losses[i].item() == pytest.approx(distance_view(z_a, z_b, i, 0.3).loss, abs=1e-5)


def on_circle(degrees):
    radians = torch.tensor(degrees, dtype=torch.float32) * math.pi / 180
    return torch.stack([radians.cos(), radians.sin()], dim=1)


def test_default_anchor_has_a_hard_negative_so_low_temperature_costs_more():
    # 3 images in 2-D (angles in degrees). Views 0 and 3 (image 0) coincide: lowering T LOWERS their loss.
    # View 1 (100) has its positive, view 4 (130), 30 degrees away and view 2 (90) only 10 away: a hard negative
    # above the positive. View 4 has view 2 further than its positive (rank 1, no negative above). Views 2 and 5
    # (90, 250) have four negatives above their positive.
    z_a = on_circle([0.0, 100.0, 90.0])
    z_b = on_circle([0.0, 130.0, 250.0])
    losses_low, losses_high = anchor_losses(z_a, z_b, 0.05), anchor_losses(z_a, z_b, 0.5)
    assert losses_low[0] < losses_high[0]  # an anchor like this was the old default: the opposite of the story
    assert [i for i in range(6) if losses_low[i] > losses_high[i]] == [1, 2, 5]
    anchor = default_anchor(z_a, z_b)
    assert anchor == 1  # of those, the one with the fewest negatives above its positive
    low, high = (distance_view(z_a, z_b, anchor, t) for t in (0.05, 0.5))
    assert low.loss > high.loss and low.positive_rank == 1
    assert default_anchor(z_a, z_b, (0.01, 1.0)) == 1
    separated = on_circle([0.0, 100.0, 230.0])  # every positive coincides with its anchor: nobody qualifies
    gain = anchor_losses(separated, separated, 0.05) - anchor_losses(separated, separated, 0.5)
    assert (gain < 0).all() and default_anchor(separated, separated) == int(torch.argmax(gain))
    with pytest.raises(ValueError, match="0 < T_low < T_high"):
        default_anchor(z_a, z_b, (0.5, 0.05))


def test_figure_is_drawn_at_its_display_size(data):
    widget = DistanceExplorer(*data)
    width, height = Image.open(io.BytesIO(bytes(widget.image.value))).size
    assert (width, height) == widget.plot.size_px  # dpi 96: one PNG pixel per screen pixel
    assert width <= MAX_WIDTH and DPI == 96
    assert height / width == pytest.approx(widget.plot.figure.get_size_inches()[1]
                                           / widget.plot.figure.get_size_inches()[0], abs=0.01)
    assert FONT_PT * DPI / 72 >= MIN_TEXT_PX
    plot = widget.plot
    texts = [plot.title, plot.anchor_title, plot.thumbs_ax.title]
    for ax in plot.bar_axes:
        texts += [ax.title, ax.yaxis.label, ax.xaxis.label, *ax.get_yticklabels(), *ax.get_xticklabels()]
    texts = [t for t in texts if t.get_text()]
    assert len(texts) > 20 and min(t.get_fontsize() for t in texts) >= 12  # every label, tick and title
    distance_title = widget.plot.bar_axes[1].get_title()
    assert "Euclidean distance" in distance_title and "cosine order" in distance_title
    assert widget.temperature.description == "temperature" and widget.temperature.style.description_width == "initial"
    thumbs = widget.plot.thumbs_ax.get_window_extent()
    assert thumbs.height >= 30  # the candidate thumbnails are tens of px, not 7


def test_widget_shows_its_picture_and_caption_to_static_viewers(data):
    widget = DistanceExplorer(*data)
    bundle, _ = DisplayFormatter().format(widget)  # what IPython puts in the notebook's output
    assert base64.b64decode(bundle["image/png"]) == bytes(widget.image.value)
    assert bundle["text/plain"] == widget.caption_text and "positive" in widget.caption_text


@pytest.mark.parametrize("arguments, message", [
    ({"temperature": 0}, r"temperature must be a number in \[0.01, 10.0\], got 0"),
    ({"temperature": -0.5}, r"temperature must be a number in \[0.01, 10.0\], got -0.5"),
    ({"temperature": 20.0}, r"temperature must be a number in \[0.01, 10.0\], got 20.0"),
    ({"anchor": 2 * N}, rf"anchor must be an integer in \[0, {2 * N - 1}\], got {2 * N}"),
    ({"anchor": -1}, rf"anchor must be an integer in \[0, {2 * N - 1}\], got -1"),
])
def test_widget_rejects_bad_arguments(data, arguments, message):
    with pytest.raises(ValueError, match=message):
        DistanceExplorer(*data, **arguments)


def test_widget_redraws_what_the_pure_function_computes(data):
    widget = DistanceExplorer(*data, anchor=0)
    first = widget.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert widget.last_drawn.anchor == 0
    assert DistanceExplorer(*data).last_drawn.anchor == default_anchor(data[2], data[3])
    assert (widget.temperature.min, widget.temperature.max) == pytest.approx((math.log10(T_MIN), math.log10(T_MAX)))

    widget.temperature.value = 0.05
    assert widget.last_drawn.temperature == pytest.approx(0.05)
    assert widget.image.value != first
    expected = distance_view(data[2], data[3], 0, widget.temperature.value)
    assert widget.last_drawn.loss == pytest.approx(expected.loss)
    np.testing.assert_allclose(widget.last_drawn.probability, expected.probability)

    before = widget.image.value
    widget.anchor.value = N + 3
    assert widget.last_drawn.anchor == N + 3 and widget.last_drawn.positive == 3
    assert widget.image.value != before


def test_widget_rejects_mismatched_views(data):
    images_a, images_b, z_a, z_b = data
    with pytest.raises(ValueError, match="two views"):
        DistanceExplorer(images_a, images_b[:3], z_a, z_b)

