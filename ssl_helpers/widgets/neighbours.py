"""The neighbour explorer: what does each representation consider similar?

    from ssl_helpers.widgets.neighbours import NeighbourExplorer
    NeighbourExplorer({"pixels": nn.Flatten(), "SimCLR": encoder, ...}, train, test)   # ImageSets

Pick a test image; each row is one representation (raw pixels, a random encoder, a pre-trained one...): the
query at the left, then its k nearest neighbours in the TRAIN split by cosine similarity, most similar first,
each with its cosine written under it and a mark for whether it shares the query's label (a green frame and
"✓ 3", or a red frame and "✗ 7": the text carries the mark, not the colour alone); at the row's left, the
fraction of the k neighbours with the query's label.

Every representation embeds the train and test splits ONCE (`embedding_bank`, L2-normalised rows), so a change
of control is one (1, D) x (D, N_train) product, a sort and a PIL drawing: a few milliseconds on a CPU.

Pure functions (tested directly): `embedding_bank`, `nearest_neighbours`, `label_agreement`, `agreement_matrix`,
`separating_query`, `neighbour_rows`, `render_neighbours`. `NeighbourExplorer` is the thin widget over them.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import (MIN_TEXT_PX, CONTROL_STYLE, Explorer, array_to_png, caption_html, check_choice, check_range,
                     control_layout, font, image_to_uint8, one_thread, png_image)

__all__ = ["embedding_bank", "nearest_neighbours", "label_agreement", "agreement_matrix", "separating_query",
           "NeighbourRow", "neighbour_rows",
           "render_neighbours", "NeighbourExplorer", "MAX_K", "MAX_WIDTH", "SAME", "OTHER"]

MAX_K = 10  # the k slider's range is 1..MAX_K: ten thumbnails still fit 840 px
MAX_WIDTH = 840  # px: the widest picture a 1024x768 JupyterLab cell shows without scaling it down
SAME, OTHER = (44, 160, 44), (214, 39, 40)  # frame colours: green = the query's label, red = another one
TEXT_PX = 17  # font size of the text drawn into the picture (>= MIN_TEXT_PX at its natural size)
LABEL_PX = 18  # row labels and the header


@torch.no_grad()
def embedding_bank(encoder: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """L2-normalised features of `images` (N, C, H, W) -> (N, D) float32 on the CPU, each row of norm 1.

    encoder: any module mapping (B, C, H, W) -> (B, D), run in eval mode (restored after) on the device of its
    parameters, in batches of `batch_size`; `nn.Flatten()` gives the raw pixels (D = C*H*W). A row of zeros
    stays zeros (cosine 0 to all).
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    check_range("batch_size", batch_size, 1, 1 << 20, integer=True)
    parameter = next(encoder.parameters(), None)
    device = parameter.device if parameter is not None else images.device  # batches go where the encoder is
    was_training = encoder.training
    encoder.eval()
    try:
        features = [encoder(images[i:i + batch_size].to(device)).float().flatten(1).cpu()
                    for i in range(0, len(images), batch_size)]
    finally:
        encoder.train(was_training)
    return F.normalize(torch.cat(features), dim=1)


def nearest_neighbours(query: torch.Tensor, bank: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The k rows of `bank` most cosine-similar to `query`, most similar first.

    query: (D,) or (M, D); bank: (N, D); both L2-normalised (`embedding_bank`), so s_j = <q, b_j> = cos(q, b_j).
    Returns (indices, cosine), each (k,) for a (D,) query or (M, k) for (M, D). Ties go to the smaller index
    (a stable sort), so the answer is reproducible. 1 <= k <= N. The query is not searched for in the bank: pass
    a bank that does not contain it (test queries, train bank) and there is no self-match.
    """
    if bank.ndim != 2:
        raise ValueError(f"bank must have shape (N, D), got {tuple(bank.shape)}")
    single = query.ndim == 1
    queries = query.unsqueeze(0) if single else query
    if queries.ndim != 2 or queries.shape[1] != bank.shape[1]:
        raise ValueError(f"query must have shape (D,) or (M, D) with D = {bank.shape[1]} (the bank's), got "
                         f"{tuple(query.shape)}")
    check_range("k", k, 1, len(bank), integer=True)
    similarity = queries.float() @ bank.float().T  # (M, N)
    order = torch.argsort(similarity, dim=1, descending=True, stable=True)[:, :k]
    cosine = similarity.gather(1, order)
    return (order[0], cosine[0]) if single else (order, cosine)


def label_agreement(neighbour_labels: torch.Tensor, query_labels: torch.Tensor) -> torch.Tensor:
    """The fraction of each query's neighbours that share its label: (M, k) and (M,) -> (M,) in [0, 1].

    Averaged over a test split, this is what a k-nearest-neighbour vote sees: how often the representation's
    nearest train images are of the right class.
    """
    if neighbour_labels.ndim != 2 or query_labels.shape != neighbour_labels.shape[:1]:
        raise ValueError(f"need neighbour_labels (M, k) and query_labels (M,), got {tuple(neighbour_labels.shape)} "
                         f"and {tuple(query_labels.shape)}")
    return (neighbour_labels == query_labels[:, None]).float().mean(1)


def agreement_matrix(banks: Dict[str, Tuple[torch.Tensor, torch.Tensor]], train_labels: torch.Tensor,
                     test_labels: torch.Tensor, k: int, names: Optional[Sequence[str]] = None) -> torch.Tensor:
    """Every test image's `label_agreement` under every representation: (R, M), row r for `names[r]` (default:
    all of `banks`, in order), entry [r, i] the fraction of test image i's k nearest train images (cosine, in
    representation r) that share its label. banks: {name: (train_bank (N, D), test_bank (M, D))}, L2-normalised."""
    names = list(banks) if names is None else list(names)
    rows = []
    for name in names:
        check_choice("representation", name, banks)
        train_bank, test_bank = banks[name]
        indices, _ = nearest_neighbours(test_bank, train_bank, k)
        rows.append(label_agreement(train_labels[indices], test_labels))
    return torch.stack(rows)


def separating_query(agreement: torch.Tensor) -> int:
    """The test image on which the representations disagree most: agreement (R, M), R >= 2 representations (rows,
    e.g. `agreement_matrix`) by M test images -> a column index.

    The column with the largest spread of its R agreements: the population standard deviation first (several
    representations right and several wrong beats one outlier), then the range max - min, then the smaller index,
    so the answer is reproducible.
    """
    if agreement.ndim != 2 or agreement.shape[0] < 2 or agreement.shape[1] < 1:
        raise ValueError(f"agreement must have shape (R, M) with R >= 2 representations and M >= 1 test images, "
                         f"got {tuple(agreement.shape)}")
    a = agreement.double()
    spread = a.std(0, unbiased=False).round(decimals=9)  # rounded: equal spreads tie exactly, whatever the order
    width = (a.max(0).values - a.min(0).values).round(decimals=9)
    candidates = torch.nonzero(spread == spread.max()).flatten()
    best = candidates[width[candidates] == width[candidates].max()]
    return int(best.min())


@dataclass
class NeighbourRow:
    """One representation's answer for one query: indices (k,) into the train split, most similar first; cosine
    (k,); same (k,) bool: the neighbour has the query's label; agreement = same.mean()."""

    name: str
    indices: np.ndarray
    cosine: np.ndarray
    labels: np.ndarray
    same: np.ndarray
    agreement: float


def neighbour_rows(banks: Dict[str, Tuple[torch.Tensor, torch.Tensor]], train_labels: torch.Tensor,
                   query_label: int, index: int, k: int, names: Optional[Sequence[str]] = None) -> list:
    """A `NeighbourRow` per representation in `names` (default: all, in `banks`' order) for test image `index`.

    banks: {name: (train_bank (N, D), test_bank (M, D))}, L2-normalised (`embedding_bank`); train_labels: (N,);
    query_label: the test image's label; 1 <= k <= N.
    """
    names = list(banks) if names is None else list(names)
    rows = []
    for name in names:
        check_choice("representation", name, banks)
        train_bank, test_bank = banks[name]
        check_range("index", index, 0, len(test_bank) - 1, integer=True)
        indices, cosine = nearest_neighbours(test_bank[index], train_bank, k)
        labels = train_labels[indices]
        same = (labels == int(query_label)).numpy()
        rows.append(NeighbourRow(name, indices.numpy(), cosine.numpy(), labels.numpy(), same, float(same.mean())))
    return rows


def _thumbnail(image: torch.Tensor, size: int) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (size, size, 3) uint8, nearest-neighbour scaled (crisp pixels)."""
    return image_to_uint8(F.interpolate(image.detach().float()[None], size=(size, size), mode="nearest")[0])


def render_neighbours(rows: Sequence[NeighbourRow], query_image: torch.Tensor, query_label: int,
                      train_images: torch.Tensor, k: Optional[int] = None, thumb: int = 48) -> np.ndarray:
    """One picture, drawn at the size it is shown: (H, W, 3) uint8, W <= `MAX_WIDTH`.

    A header line, then a row per `NeighbourRow`: its name and "a/k same label" at the left (inside the
    picture), the query (C, H, W) with its label, then the k neighbours from `train_images` (N, C, H, W), each in
    a green (same label) or red (other label) frame, with its cosine and "✓ <label>" or "✗ <label>" under it.
    Text is >= 16 px tall (`MIN_TEXT_PX`). k: the number of thumbnail slots (default: the rows' k).
    """
    from PIL import Image, ImageDraw

    if k is None:
        k = len(rows[0].indices) if rows else 1
    check_range("k", k, 1, MAX_K, integer=True)
    regular, bold = font(TEXT_PX), font(LABEL_PX)
    assert TEXT_PX >= MIN_TEXT_PX and LABEL_PX >= MIN_TEXT_PX
    frame, gap, line = 3, 6, TEXT_PX + 4
    cell = max(thumb + 2 * frame, int(regular.getlength("0.999")) + 4)  # one neighbour: framed thumbnail + text
    label_w = max([int(bold.getlength(row.name)) for row in rows] + [int(regular.getlength("10/10 same"))]) + 12
    query_x = label_w
    first_x = query_x + cell + 3 * gap  # a gap separates the query from its neighbours
    title = f"{k} nearest in train: cosine, ✓/✗ = same/other label"
    width = max(first_x + k * (cell + gap), first_x + int(bold.getlength(title)) + gap)  # the header fits too
    header = LABEL_PX + 12
    row_h = frame * 2 + thumb + 2 * line + gap
    height = header + max(len(rows), 1) * row_h + gap
    if width > MAX_WIDTH:
        raise ValueError(f"k = {k} thumbnails of {thumb} px make the picture {width} px wide, more than "
                         f"{MAX_WIDTH}: use a smaller k or thumb")
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((query_x, 4), "query", fill="black", font=bold)
    draw.text((first_x, 4), title, fill="black", font=bold)
    if not rows:
        draw.text((4, header + 4), "no representation ticked", fill="black", font=bold)
    query_thumb = Image.fromarray(_thumbnail(query_image, thumb))
    for r, row in enumerate(rows):
        top = header + r * row_h
        if r:
            draw.line([(0, top - gap // 2), (width, top - gap // 2)], fill=(200, 200, 200), width=1)
        draw.text((4, top + 4), row.name, fill="black", font=bold)
        draw.text((4, top + 4 + LABEL_PX + 6), f"{int(row.same.sum())}/{len(row.same)} same", fill="black",
                  font=regular)
        draw.text((4, top + 4 + LABEL_PX + 6 + line), f"= {100 * row.agreement:.0f}%", fill="black", font=regular)
        canvas.paste(query_thumb, (query_x + frame, top + frame))
        draw.text((query_x, top + 2 * frame + thumb + 2), f"label {int(query_label)}", fill="black", font=regular)
        for j, (i, cos, label, same) in enumerate(zip(row.indices, row.cosine, row.labels, row.same)):
            x = first_x + j * (cell + gap)
            colour = SAME if same else OTHER
            draw.rectangle([x, top, x + thumb + 2 * frame - 1, top + thumb + 2 * frame - 1], fill=colour)
            canvas.paste(Image.fromarray(_thumbnail(train_images[int(i)], thumb)), (x + frame, top + frame))
            text_y = top + 2 * frame + thumb + 2
            cosine_text = f"{cos:.3f}" if cos >= 0 else f"{cos:.2f}"  # 3 decimals: many are near 1; fits the cell
            draw.text((x, text_y), cosine_text, fill="black", font=regular)
            draw.text((x, text_y + line), f"{'✓' if same else '✗'} {int(label)}", fill=colour, font=regular)
    return np.asarray(canvas)


class NeighbourExplorer(Explorer):
    """Widget: a test image index (and a "random image" button), k, and which representations to show, over
    `neighbour_rows` and `render_neighbours`.

    encoders: {name: module (B, C, H, W) -> (B, D)}, one row each, in order (`nn.Flatten()` for raw pixels);
    train, test: `ssl_helpers.data.ImageSet`s; the train split is the neighbour bank, the test split the queries.
    banks: optional {name: (train_bank, test_bank)} already computed with `embedding_bank` (skips embedding).
    index: in [0, len(test) - 1]; k: in [1, 10]; shown: names to show (default: all).
    `.last_drawn` is the list of `NeighbourRow`s last drawn into `.image`.
    """

    def __init__(self, encoders: Dict[str, nn.Module], train, test, index: int = 0, k: int = 5,
                 shown: Optional[Sequence[str]] = None, banks: Optional[dict] = None, seed: int = 0,
                 batch_size: int = 256):
        import ipywidgets as W

        names = list(encoders) + [name for name in (banks or {}) if name not in encoders]
        if not names:
            raise ValueError("encoders must name at least one representation, e.g. {'pixels': nn.Flatten()}")
        check_range("index", index, 0, len(test) - 1, integer=True)
        check_range("k", k, 1, min(MAX_K, len(train)), integer=True)
        shown = names if shown is None else list(shown)
        for name in shown:
            check_choice("shown", name, names)
        self.train, self.test = train, test
        self.banks = dict(banks or {})
        for name, encoder in encoders.items():
            if name not in self.banks:
                parameter = next(encoder.parameters(), None)
                on_cpu = parameter is None or parameter.device.type == "cpu"
                with one_thread() if on_cpu else nullcontext():  # small CPU models: one thread is fastest
                    self.banks[name] = (embedding_bank(encoder, train.images, batch_size),
                                        embedding_bank(encoder, test.images, batch_size))
        self.banks = {name: self.banks[name] for name in names}
        self.generator = np.random.default_rng(seed)

        self.index = W.IntSlider(value=index, min=0, max=len(test) - 1, description="test image",
                                 style=CONTROL_STYLE, layout=control_layout("380px"), continuous_update=False)
        self.random_button = W.Button(description="random test image", layout=W.Layout(width="auto"))
        self.k = W.IntSlider(value=k, min=1, max=min(MAX_K, len(train)), description="k neighbours",
                             style=CONTROL_STYLE, layout=control_layout("380px"), continuous_update=False)
        self.checkboxes = {name: W.Checkbox(value=name in shown, description=name, indent=False,
                                            layout=W.Layout(width="auto", margin="0 12px 0 0"))
                           for name in names}
        self.image = png_image()
        self.caption_text = ("Each row: one representation. Left: the test image (query); then its k nearest "
                             "train images by cosine similarity, green ✓ = same label, red ✗ = another label.")
        self.caption = caption_html(self.caption_text)
        self.last_drawn: list = []
        for control in (self.index, self.k, *self.checkboxes.values()):
            control.observe(lambda _: self.redraw(), names="value")
        self.random_button.on_click(lambda _: self.pick_random())
        shown_box = W.HBox([W.Label("show:", layout=W.Layout(margin="0 8px 0 0")), *self.checkboxes.values()],
                           layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.widget = W.VBox([W.HBox([self.index, self.random_button], layout=W.Layout(align_items="center")),
                              W.HBox([self.k]), shown_box, self.image, self.caption])
        self.widget.add_class("ssl-neighbour-explorer")
        self.redraw()

    def shown(self) -> list:
        """The ticked representations, in row order."""
        return [name for name, box in self.checkboxes.items() if box.value]

    def pick_random(self) -> int:
        """Move the index slider to a random test image (seeded; redraws)."""
        self.index.value = int(self.generator.integers(len(self.test)))
        return self.index.value

    def redraw(self) -> list:
        index, k = self.index.value, self.k.value
        label = int(self.test.labels[index])
        with one_thread():  # a (1, D) x (D, N) product: waking a thread pool costs more than the work
            rows = neighbour_rows(self.banks, self.train.labels, label, index, k, self.shown())
        picture = render_neighbours(rows, self.test.images[index], label, self.train.images, k=k)
        self.image.value = array_to_png(picture)
        self.last_drawn = rows
        return rows
