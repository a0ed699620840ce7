"""The embedding-distance explorer: one anchor view, its similarity to every other view, and InfoNCE.

    from ssl_helpers.widgets.distances import DistanceExplorer
    DistanceExplorer(images_a, images_b, z_a, z_b)      # two views of N images and their embeddings (N, D)

Pick an anchor among the 2N views; every other view is a candidate, ranked by cosine similarity, with its
Euclidean distance, the softmax over candidates at temperature T, and the anchor's InfoNCE loss
-log p(positive). The positive (the other view of the anchor's image) is drawn in green. Averaging that loss
over all 2N anchors gives `nt_xent(z_a, z_b, T)`.

`distance_view` is the pure function that computes what is shown; `anchor_losses` and `default_anchor` pick the
anchor the explorer opens on (one where a hard negative sits above or close to the positive, so lowering T raises
the loss, as notebook 05 describes); `DistanceFigure` draws a view at its display size (dpi 96, <= 840 px wide,
text >= 12 pt; one matplotlib figure updated in place, so a redraw is a single PNG encode); `DistanceExplorer` is
the thin widget.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..losses import cosine_similarity_matrix, info_nce, nt_xent_logits, positive_index
from ..plots import to_numpy_image
from .common import CONTROL_STYLE, Explorer, caption_html, check_range, control_layout, one_thread, png_image

__all__ = ["DistanceView", "distance_view", "anchor_losses", "default_anchor", "DistanceFigure", "DistanceExplorer",
           "T_MIN", "T_MAX", "DPI", "MAX_WIDTH"]

T_MIN, T_MAX = 0.01, 10.0  # the temperature slider's range (log scale)
DPI, MAX_WIDTH, FONT_PT = 96, 840, 12  # the figure is drawn at the size shown: <= 840 px wide, text >= 12 pt = 16 px

POSITIVE, NEGATIVE = "#2ca02c", "#9e9e9e"


@dataclass
class DistanceView:
    """What the explorer shows for one anchor and temperature. Candidates are ranked by cosine similarity.

    candidates: (2N-1,) row indices into [z_a; z_b], most similar first; cosine, distance, probability: (2N-1,)
    for those candidates; positive_rank: where the positive sits among them; loss = -log probability[positive].
    """

    anchor: int
    positive: int
    temperature: float
    candidates: np.ndarray
    cosine: np.ndarray
    distance: np.ndarray
    probability: np.ndarray
    positive_rank: int
    loss: float


def distance_view(z_a: torch.Tensor, z_b: torch.Tensor, anchor: int, temperature: float) -> DistanceView:
    """Cosine similarity, distance, softmax and InfoNCE loss of view `anchor` against all other views.

        z = [z_a; z_b]: (2N, D); candidates k != anchor; s_k = cos(z_anchor, z_k); d_k = |z_anchor - z_k|_2
        p_k = exp(s_k / T) / sum_{k'} exp(s_k' / T);   loss = -log p_positive

    anchor: an index in [0, 2N - 1]; its positive is anchor + N (a-view) or anchor - N (b-view); T > 0.
    """
    z = torch.cat([z_a, z_b]).detach().float()
    n2 = z.shape[0]
    anchor = int(check_range("anchor", anchor, 0, n2 - 1, integer=True))
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    positive = int(positive_index(n2 // 2, "cpu")[anchor])
    others = torch.tensor([k for k in range(n2) if k != anchor])
    cosine = cosine_similarity_matrix(z[anchor:anchor + 1], z[others])[0]
    order = torch.argsort(cosine, descending=True, stable=True)
    candidates, cosine = others[order], cosine[order]
    positive_rank = int((candidates == positive).nonzero())
    keys = z[candidates]
    loss = info_nce(z[anchor:anchor + 1], keys, torch.tensor([positive_rank]), temperature)
    return DistanceView(
        anchor=anchor, positive=positive, temperature=float(temperature), candidates=candidates.numpy(),
        cosine=cosine.numpy(), distance=(keys - z[anchor]).norm(dim=1).numpy(),
        probability=torch.softmax(cosine / temperature, dim=0).numpy(), positive_rank=positive_rank,
        loss=float(loss))


def anchor_losses(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Every anchor's InfoNCE loss: l_i = -log softmax_k(s_ik / T)[positive(i)], k != i, for the 2N views
    z = [z_a; z_b] (z_a, z_b: (N, D)) -> (2N,). Their mean is `nt_xent(z_a, z_b, T)`."""
    logits, targets = nt_xent_logits(z_a.detach().float(), z_b.detach().float(), temperature)
    return torch.nn.functional.cross_entropy(logits, targets, reduction="none")


def default_anchor(z_a: torch.Tensor, z_b: torch.Tensor, temperatures=(0.05, 0.5)) -> int:
    """The anchor the explorer opens on: one whose loss is HIGHER at the low temperature than at the high one,
    i.e. a hard negative sits above its positive, or close to it (the case notebook 05's temperature section
    describes: lowering T piles the softmax onto the hardest negatives).

    temperatures: (T_low, T_high), 0 < T_low < T_high. Among the anchors with l(T_low) > l(T_high), the one whose
    positive ranks highest by cosine (fewest negatives above it), then the largest l(T_low) - l(T_high), then the
    smallest index. If no anchor qualifies (every positive far above every negative), the anchor with the largest
    l(T_low) - l(T_high). z_a, z_b: (N, D) -> an index in [0, 2N - 1].
    """
    low, high = temperatures
    if not 0 < low < high:
        raise ValueError(f"temperatures must be (T_low, T_high) with 0 < T_low < T_high, got {temperatures!r}")
    gain = (anchor_losses(z_a, z_b, low) - anchor_losses(z_a, z_b, high)).tolist()
    cosine, targets = nt_xent_logits(z_a.detach().float(), z_b.detach().float(), 1.0)
    rank = (cosine > cosine.gather(1, targets[:, None])).sum(1).tolist()  # negatives above the positive
    qualifying = [i for i, g in enumerate(gain) if g > 0]
    if not qualifying:
        return max(range(len(gain)), key=lambda i: (gain[i], -i))
    return min(qualifying, key=lambda i: (rank[i], -gain[i], i))


class DistanceFigure:
    """One matplotlib figure for a `DistanceView`, drawn at the size it is shown (dpi 96, `figsize` <= 840 px
    wide, text 12 pt = 16 px) and redrawn in place: the anchor, the ranked candidate thumbnails (a green frame on
    the positive), bars of cosine similarity, Euclidean distance (in the same cosine order) and softmax
    probability (the positive in green), and a two-line title with the anchor's loss."""

    def __init__(self, images: torch.Tensor, figsize=(8.5, 6.5)):
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        if figsize[0] * DPI > MAX_WIDTH:
            raise ValueError(f"figsize width must be at most {MAX_WIDTH / DPI:.2f} in (840 px at dpi 96), got "
                             f"{figsize[0]}")
        self.images = [to_numpy_image(image) for image in images]
        k = len(self.images) - 1
        self.figure = Figure(figsize=figsize, dpi=DPI)
        grid = self.figure.add_gridspec(4, 2, width_ratios=[1, 5.6], height_ratios=[0.75, 1.2, 1.2, 1.2],
                                        left=0.015, right=0.985, top=0.87, bottom=0.085, hspace=0.5, wspace=0.28)
        self.anchor_ax = self.figure.add_subplot(grid[:2, 0])
        self.thumbs_ax = self.figure.add_subplot(grid[0, 1])
        self.bar_axes = [self.figure.add_subplot(grid[i, 1]) for i in (1, 2, 3)]
        for ax in (self.anchor_ax, self.thumbs_ax):
            ax.set_axis_off()
        h, w = self.images[0].shape[:2]
        self.anchor_artist = self.anchor_ax.imshow(self.images[0], interpolation="nearest")
        self.anchor_title = self.anchor_ax.set_title("anchor", fontsize=FONT_PT)
        self.thumbs_artist = self.thumbs_ax.imshow(np.ones((h, k * w, 3)), interpolation="nearest",
                                                   extent=(-0.5, k - 0.5, 1, 0))
        self.thumbs_ax.set_xlim(-0.5, k - 0.5)
        self.thumbs_ax.set_title(f"the other {k} views, most cosine-similar first (green frame: the positive)",
                                 fontsize=FONT_PT)
        self.frame = self.thumbs_ax.add_patch(Rectangle((-0.5, 0), 1, 1, fill=False, edgecolor=POSITIVE,
                                                        linewidth=3, clip_on=False, zorder=3))
        self.bars = []
        for ax, label in zip(self.bar_axes, ["cosine", "distance", "softmax p"]):
            self.bars.append(ax.bar(np.arange(k), np.zeros(k), color=NEGATIVE, width=0.8))
            ax.set_ylabel(label, fontsize=FONT_PT)
            ax.tick_params(labelsize=FONT_PT)
            ax.set_xlim(-0.5, k - 0.5)
        # fixed ticks: text is most of the cost of a redraw, so draw as little of it as possible
        self.bar_axes[0].set_ylim(-1, 1)
        self.bar_axes[0].set_yticks([-1, 0, 1])
        self.bar_axes[0].axhline(0, color="black", linewidth=0.5)
        self.bar_axes[1].set_title("Euclidean distance |z_anchor - z_k|, in the cosine order above",
                                   fontsize=FONT_PT)
        self.bar_axes[2].set_title("softmax over the candidates at temperature T; loss = -log p(positive)",
                                   fontsize=FONT_PT)
        self.bar_axes[2].set_ylim(0, 1)
        self.bar_axes[2].set_yticks([0, 0.5, 1])
        for ax in self.bar_axes[:2]:
            ax.set_xticks([])
        step = 1 if k <= 20 else 2  # 12 pt view numbers need ~30 px each
        self.bar_axes[2].set_xticks(np.arange(0, k, step))
        self.bar_axes[2].set_xlabel("candidate view number, most similar first", fontsize=FONT_PT)
        self.step = step
        self.max_distance = None
        self.title = self.figure.suptitle("", fontsize=FONT_PT, linespacing=1.4)

    @property
    def size_px(self):
        """(width, height) of the PNG in px: the size it is shown at."""
        width, height = self.figure.get_size_inches() * DPI
        return int(round(width)), int(round(height))

    def draw(self, view: DistanceView) -> bytes:
        """Update every artist for `view` and return the figure as PNG bytes (at dpi 96: its display size)."""
        self.anchor_artist.set_data(self.images[view.anchor])
        self.anchor_title.set_text(f"anchor\n(view {view.anchor})")
        self.thumbs_artist.set_data(np.concatenate([self.images[c] for c in view.candidates], axis=1))
        self.frame.set_x(view.positive_rank - 0.5)
        colours = [POSITIVE if c == view.positive else NEGATIVE for c in view.candidates]
        for bars, values in zip(self.bars, (view.cosine, view.distance, view.probability)):
            for bar, value, colour in zip(bars, values, colours):
                bar.set_height(float(value))
                bar.set_color(colour)
        top = float(view.distance.max()) * 1.1 or 1.0
        if self.max_distance is None or top > self.max_distance:
            self.max_distance = top
            self.bar_axes[1].set_ylim(0, top)
            self.bar_axes[1].set_yticks([0, float(f"{top / 2:.2g}")])
        self.bar_axes[2].set_xticklabels([str(c) for c in view.candidates[::self.step]], fontsize=FONT_PT)
        self.title.set_text(
            f"anchor: view {view.anchor}; its positive: view {view.positive}, rank {view.positive_rank + 1} of "
            f"{len(view.candidates)}\nT = {view.temperature:.3g}:  p(positive) = "
            f"{view.probability[view.positive_rank]:.3f},  InfoNCE loss = {view.loss:.3f}")
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
        return buffer.getvalue()


class DistanceExplorer(Explorer):
    """Widget: an anchor slider and a temperature slider over `distance_view`, drawn by `DistanceFigure`.

    images_a, images_b: (N, C, H, W) the two views; z_a, z_b: (N, D) their embeddings. anchor: an index in
    [0, 2N - 1], default `default_anchor(z_a, z_b)`; temperature in [T_MIN, T_MAX] (the slider's range).
    `.anchor` and `.temperature` are the controls; `.last_drawn` is the last `DistanceView` drawn; `.image` holds
    its PNG; `.caption_text` says what is shown.
    """

    def __init__(self, images_a: torch.Tensor, images_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor,
                 anchor: Optional[int] = None, temperature: float = 0.5):
        import ipywidgets

        if len(images_a) != len(z_a) or images_a.shape != images_b.shape or z_a.shape != z_b.shape:
            raise ValueError(f"need two views of N images and their (N, D) embeddings; got images "
                             f"{tuple(images_a.shape)}, {tuple(images_b.shape)} and embeddings {tuple(z_a.shape)}, "
                             f"{tuple(z_b.shape)}")
        self.z_a, self.z_b = z_a.detach().float().cpu(), z_b.detach().float().cpu()
        anchor = default_anchor(self.z_a, self.z_b) if anchor is None else anchor
        check_range("anchor", anchor, 0, 2 * len(z_a) - 1, integer=True)
        check_range("temperature", temperature, T_MIN, T_MAX)
        self.plot = DistanceFigure(torch.cat([images_a, images_b]).detach().cpu())
        self.anchor = ipywidgets.IntSlider(value=int(anchor), min=0, max=2 * len(z_a) - 1, description="anchor",
                                           continuous_update=False, style=CONTROL_STYLE, layout=control_layout())
        self.temperature = ipywidgets.FloatLogSlider(value=temperature, base=10, min=np.log10(T_MIN),
                                                     max=np.log10(T_MAX), step=0.05, description="temperature",
                                                     readout_format=".3g", continuous_update=False,
                                                     style=CONTROL_STYLE, layout=control_layout("300px"))
        self.image = png_image()
        self.caption_text = ("Left: the anchor. Right: the other views, most cosine-similar first (green: its "
                             "positive), and their softmax at T.")
        self.last_drawn = None
        for control in (self.anchor, self.temperature):
            control.observe(lambda change: self.redraw(), names="value")
        controls = ipywidgets.HBox([self.anchor, self.temperature],
                                   layout=ipywidgets.Layout(flex_flow="row wrap", width="100%"))
        self.widget = ipywidgets.VBox([controls, self.image, caption_html(self.caption_text)],
                                      layout=ipywidgets.Layout(align_items="flex-start", width="100%"))
        self.redraw()

    def redraw(self) -> DistanceView:
        with one_thread():
            view = distance_view(self.z_a, self.z_b, self.anchor.value, self.temperature.value)
            self.image.value = self.plot.draw(view)
        self.last_drawn = view
        return view
