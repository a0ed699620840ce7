"""Figures used across the notebooks. Each function draws on a given matplotlib `Axes` (or makes one) and
returns the figure, so widgets can redraw into the same axes and tests can inspect what was drawn."""
from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

__all__ = ["to_numpy_image", "image_grid", "show_images", "plot_label_efficiency", "plot_history", "plot_ssl_overview"]


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """A (C, H, W) tensor in [0, 1] as an (H, W, 3) array for `imshow` (grey repeated to 3 channels)."""
    image = image.detach().float().cpu().clamp(0, 1)
    if image.ndim != 3:
        raise ValueError(f"image must have shape (C, H, W), got {tuple(image.shape)}")
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return image.permute(1, 2, 0).numpy()


def image_grid(images: torch.Tensor, ncols: int = 10, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile images (N, C, H, W) into one (rows * (H + pad), ncols * (W + pad), 3) array."""
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    n, _, h, w = images.shape
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad, 3), pad_value, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = to_numpy_image(images[i])
    return grid


def show_images(images: torch.Tensor, labels: Optional[Sequence] = None, ncols: int = 10, title: str = "",
                ax=None, scale: float = 1.0):
    """Show a batch of images (N, C, H, W) in a grid, with optional per-image labels above each."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    if ax is None:
        fig, axes = plt.subplots(nrows, ncols, figsize=(scale * 1.1 * ncols, scale * 1.2 * nrows), squeeze=False)
        for i, axis in enumerate(axes.flat):
            axis.axis("off")
            if i < n:
                axis.imshow(to_numpy_image(images[i]), interpolation="nearest")
                if labels is not None:
                    axis.set_title(str(labels[i]), fontsize=9)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig
    ax.imshow(image_grid(images, ncols), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure


def plot_label_efficiency(table: pd.DataFrame, ax=None, title: str = "Label efficiency",
                          probes: Optional[Sequence[str]] = None):
    """Accuracy against labels per class, one line per (method, probe), mean with a band of +- 1 std.

    `table` is the tidy table of `ssl_helpers.evaluate.label_efficiency` / `protocol.baseline_table`. "all" is drawn
    at the number of labels per class it stands for on a log axis, labelled "all".
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    data = table if probes is None else table[table["probe"].isin(probes)]
    numeric = [s for s in dict.fromkeys(data["labels_per_class"]) if s != "all"]
    all_position = (max(numeric) * 2.5) if numeric else 1
    ticks = numeric + (["all"] if "all" in set(data["labels_per_class"]) else [])
    positions = {s: (all_position if s == "all" else s) for s in ticks}
    for (method, probe), group in data.groupby(["method", "probe"], sort=False):
        stats = group.groupby("labels_per_class", sort=False)["accuracy"].agg(["mean", "std"]).fillna(0.0)
        stats = stats.reindex([s for s in ticks if s in stats.index])
        x = [positions[s] for s in stats.index]
        mean, std = 100 * stats["mean"].to_numpy(), 100 * stats["std"].to_numpy()
        label = method if probe in ("linear", "end-to-end") and len(set(data["probe"])) <= 2 else f"{method} ({probe})"
        line, = ax.plot(x, mean, marker="o", label=label)
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xscale("log")
    ax.set_xticks([positions[s] for s in ticks])
    ax.set_xticklabels([str(s) for s in ticks])
    ax.minorticks_off()
    ax.set_xlabel("labels per class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_history(history: pd.DataFrame, columns: Optional[Sequence[str]] = None, ax=None):
    """Training curves from the history `ssl_helpers.train.fit` returns: loss and any metric columns."""
    columns = list(columns or [c for c in history.columns if c not in ("epoch", "lr", "seconds")])
    if ax is None:
        _, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3), squeeze=False)
        axes = axes[0]
    else:
        axes = [ax] * len(columns)
    for axis, column in zip(axes, columns):
        axis.plot(history["epoch"], history[column], marker=".", label=column)
        axis.set_xlabel("epoch")
        axis.set_title(column)
        axis.grid(alpha=0.3)
    axes[0].figure.tight_layout()
    return axes[0].figure


def plot_ssl_overview(unlabeled: torch.Tensor, labeled: torch.Tensor, labels: Sequence, ncols: int = 10):
    """The course in one figure: many unlabeled images pre-train an encoder, a few labeled ones transfer it.

    unlabeled: (N, C, H, W) shown as a grid; labeled: (K, C, H, W) with their `labels`.
    """
    fig = plt.figure(figsize=(11, 3.4))
    grid = fig.add_gridspec(1, 5, width_ratios=[3.2, 1.3, 1.2, 1.3, 3.2], wspace=0.05)
    left, right = fig.add_subplot(grid[0]), fig.add_subplot(grid[4])
    left.imshow(image_grid(unlabeled, ncols), interpolation="nearest")
    left.set_title(f"{len(unlabeled)} of many unlabeled images", fontsize=10)
    right_cols = max(1, (len(labeled) + 1) // 2)
    right.imshow(image_grid(labeled, right_cols), interpolation="nearest")
    right.set_title(f"{len(labeled)} labeled images", fontsize=10)
    shown = [str(label) for label in labels]
    right.set_xlabel("labels: " + " ".join(shown))
    right.set_xticks([])
    right.set_yticks([])
    for spine in right.spines.values():
        spine.set_visible(False)
    left.set_axis_off()
    steps = [("1. pre-train\n(no labels)\nself-prediction\nor contrastive", grid[1]),
             ("encoder\nf(x)", grid[2]), ("2. transfer\n(few labels)\nprobe, kNN,\nfine-tune", grid[3])]
    for text, cell in steps:
        axis = fig.add_subplot(cell)
        axis.set_axis_off()
        boxed = text.startswith("encoder")
        axis.text(0.5, 0.5, text, ha="center", va="center", fontsize=10, transform=axis.transAxes,
                  bbox=dict(boxstyle="round", facecolor="#dbe9f6" if boxed else "white",
                            edgecolor="#4a7ab5" if boxed else "none"))
        if not boxed:
            axis.annotate("", xy=(1.0, 0.2), xytext=(0.0, 0.2), xycoords="axes fraction",
                          arrowprops=dict(arrowstyle="->", lw=2, color="#4a7ab5"))
    return fig
