"""The embedding-distance explorer: one anchor view, its similarity to every other view, and InfoNCE.

    from ssl_helpers.widgets.distances import DistanceExplorer
    DistanceExplorer(images_a, images_b, z_a, z_b)      # two views of N images and their embeddings (N, D)

Pick an anchor among the 2N views; every other view is a candidate, ranked by cosine similarity, with its
Euclidean distance, the softmax over candidates at temperature T, and the anchor's InfoNCE loss
-log p(positive). The positive (the other view of the anchor's image) is drawn in green. Averaging that loss
over all 2N anchors gives `nt_xent(z_a, z_b, T)`.

`distance_view` is the pure function that computes what is shown; `DistanceFigure` draws it (updating one
matplotlib figure in place, so a redraw is a single PNG encode); `DistanceExplorer` is the thin widget.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch

from ..losses import positive_index, cosine_similarity_matrix, info_nce
from ..plots import to_numpy_image
from .common import png_image

__all__ = ["DistanceView", "distance_view", "DistanceFigure", "DistanceExplorer"]

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

    anchor: an index in [0, 2N); its positive is anchor + N (a-view) or anchor - N (b-view).
    """
    z = torch.cat([z_a, z_b]).detach().float()
    n2 = z.shape[0]
    if not 0 <= int(anchor) < n2:
        raise ValueError(f"anchor must be an index in [0, {n2}), got {anchor}")
    anchor = int(anchor)
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


class DistanceFigure:
    """One matplotlib figure for a `DistanceView`, redrawn in place: anchor image, ranked candidate thumbnails,
    and bars of cosine similarity, distance and softmax probability (the positive in green)."""

    def __init__(self, images: torch.Tensor, figsize=(8.0, 4.6)):
        from matplotlib.figure import Figure

        self.images = [to_numpy_image(image) for image in images]
        k = len(self.images) - 1
        self.figure = Figure(figsize=figsize)
        grid = self.figure.add_gridspec(4, 2, width_ratios=[1, 6], height_ratios=[1, 1.3, 1.3, 1.3],
                                        left=0.02, right=0.98, top=0.88, bottom=0.09, hspace=0.45, wspace=0.16)
        self.anchor_ax = self.figure.add_subplot(grid[:2, 0])
        self.thumbs_ax = self.figure.add_subplot(grid[0, 1])
        self.bar_axes = [self.figure.add_subplot(grid[i, 1]) for i in (1, 2, 3)]
        for ax in (self.anchor_ax, self.thumbs_ax):
            ax.set_axis_off()
        h, w = self.images[0].shape[:2]
        self.anchor_artist = self.anchor_ax.imshow(self.images[0], interpolation="nearest")
        self.anchor_ax.set_title("anchor", fontsize=9)
        self.thumbs_artist = self.thumbs_ax.imshow(np.ones((h, k * w, 3)), interpolation="nearest",
                                                   extent=(-0.5, k - 0.5, 1, 0), aspect="auto")
        from matplotlib.patches import Rectangle

        self.frame = self.thumbs_ax.add_patch(Rectangle((-0.5, 0), 1, 1, fill=False, edgecolor=POSITIVE, linewidth=2.5,
                                                          clip_on=False, zorder=3))
        self.bars = []
        for ax, label in zip(self.bar_axes, ["cosine", "distance", "softmax p"]):
            self.bars.append(ax.bar(np.arange(k), np.zeros(k), color=NEGATIVE, width=0.8))
            ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_xlim(-0.5, k - 0.5)
        # fixed ticks: text is most of the cost of a redraw, so draw as little of it as possible
        self.bar_axes[0].set_ylim(-1, 1)
        self.bar_axes[0].set_yticks([-1, 0, 1])
        self.bar_axes[0].axhline(0, color="black", linewidth=0.5)
        self.bar_axes[2].set_ylim(0, 1)
        self.bar_axes[2].set_yticks([0, 0.5, 1])
        for ax in self.bar_axes[:2]:
            ax.set_xticks([])
        self.bar_axes[2].set_xticks(np.arange(k))
        self.bar_axes[2].set_xlabel("candidates, most similar first (green: the positive)", fontsize=8)
        self.max_distance = None
        self.title = self.figure.suptitle("", fontsize=10)

    def draw(self, view: DistanceView) -> bytes:
        """Update every artist for `view` and return the figure as PNG bytes."""
        self.anchor_artist.set_data(self.images[view.anchor])
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
            self.bar_axes[1].set_yticks([0, round(top / 2, 1)])
        self.bar_axes[2].set_xticklabels([str(c) for c in view.candidates], fontsize=6)
        self.title.set_text(f"anchor {view.anchor}, positive {view.positive} (rank {view.positive_rank + 1} of "
                            f"{len(view.candidates)}), T = {view.temperature:.3g}:  p(positive) = "
                            f"{view.probability[view.positive_rank]:.3f},  InfoNCE loss = {view.loss:.3f}")
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=72, pil_kwargs={"compress_level": 1})
        return buffer.getvalue()


class DistanceExplorer:
    """Widget: an anchor slider and a temperature slider over `distance_view`, drawn by `DistanceFigure`.

    images_a, images_b: (N, C, H, W) the two views; z_a, z_b: (N, D) their embeddings. `.anchor` and
    `.temperature` are the controls; `.last_drawn` is the last `DistanceView` drawn; `.image` holds its PNG.
    """

    def __init__(self, images_a: torch.Tensor, images_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor,
                 anchor: int = 0, temperature: float = 0.5):
        import ipywidgets

        if len(images_a) != len(z_a) or images_a.shape != images_b.shape or z_a.shape != z_b.shape:
            raise ValueError(f"need two views of N images and their (N, D) embeddings; got images "
                             f"{tuple(images_a.shape)}, {tuple(images_b.shape)} and embeddings {tuple(z_a.shape)}, "
                             f"{tuple(z_b.shape)}")
        self.z_a, self.z_b = z_a.detach(), z_b.detach()
        self.plot = DistanceFigure(torch.cat([images_a, images_b]))
        self.anchor = ipywidgets.IntSlider(value=anchor, min=0, max=2 * len(z_a) - 1, description="anchor",
                                           continuous_update=False)
        self.temperature = ipywidgets.FloatLogSlider(value=temperature, base=10, min=-2, max=1, step=0.05,
                                                     description="temperature", continuous_update=False)
        self.image = png_image()
        self.last_drawn = None
        for control in (self.anchor, self.temperature):
            control.observe(lambda change: self.redraw(), names="value")
        self.widget = ipywidgets.VBox([ipywidgets.HBox([self.anchor, self.temperature]), self.image])
        self.redraw()

    def redraw(self) -> DistanceView:
        view = distance_view(self.z_a, self.z_b, self.anchor.value, self.temperature.value)
        self.image.value = self.plot.draw(view)
        self.last_drawn = view
        return view

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
