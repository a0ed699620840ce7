"""The embedding-distance explorer: the pure function against the losses, and the widget redrawing on changes."""
import math
import time

import numpy as np
import pytest
import torch

from ssl_helpers.losses import nt_xent
from ssl_helpers.widgets.distances import DistanceExplorer, distance_view

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
    with pytest.raises(ValueError, match="anchor"):
        distance_view(z_a, z_b, anchor=2 * N, temperature=0.5)


def test_widget_redraws_what_the_pure_function_computes(data):
    widget = DistanceExplorer(*data)
    first = widget.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert widget.last_drawn.anchor == 0

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


def test_widget_redraw_time_is_reported(data, capsys):
    widget = DistanceExplorer(*data)
    started = time.perf_counter()
    for t in (0.1, 0.2, 0.4, 0.8):
        widget.temperature.value = t
    per_change = (time.perf_counter() - started) / 4
    with capsys.disabled():
        print(f"\nDistanceExplorer: {per_change * 1e3:.0f} ms per change (budget 200 ms)")
    assert per_change < 2.0          # a generous bound against hangs; the budget is checked by the print
