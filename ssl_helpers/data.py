"""Datasets for the course, all behind one interface.

`load_dataset(name)` returns a fixed `(train, test)` pair of `ImageSet`s: float images in [0, 1] of shape
`(N, C, H, W)` with integer labels `(N,)`. The labels of `train` are hidden from self-supervised
pre-training; labeled subsets for the evaluation protocol are drawn from `train` with `labeled_subset`.

| name | what | needs |
|---|---|---|
| `digits` | scikit-learn's 1,797 handwritten 8x8 digits, upsampled, grey on 3 channels | nothing (embedded) |
| `colour_digits` | the same digits, a random foreground and background colour per image | nothing (embedded) |
| `cifar10` | CIFAR-10, 50,000 / 10,000 colour 32x32 images | a download, or the files in `root` |
| `stl10` | STL-10 labeled 5,000 / 8,000 96x96 images (+ 100,000 unlabeled with `split="unlabeled"`) | a download, or the files in `root` |
| `folder` | any `ImageFolder` tree (`root/class/image.png`, optionally `root/train` and `root/test`) | the folder |
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from .augment import LUMA
from .config import settings

__all__ = [
    "ImageSet",
    "DatasetUnavailableError",
    "DATASETS",
    "load_dataset",
    "load_digits",
    "load_colour_digits",
    "colourise",
    "stratified_split",
    "VALIDATION_FRACTION",
    "validation_split",
    "labeled_subset",
    "draw_per_class",
    "default_data_root",
]

DIGIT_CLASSES = [str(d) for d in range(10)]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]

# Where the real datasets come from. Tests point these at a local server to exercise the download path.
DOWNLOADS = {
    "cifar10": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "md5": "c58f30108f718f92721af3b95e74349a",
        "folder": "cifar-10-batches-py",
    },
    "stl10": {
        "url": "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
        "md5": "91f7769df0f17e558f3565bffb0c7dfb",
        "folder": "stl10_binary",
    },
}

EMBEDDED_HINT = (
    "To work offline, use the embedded data instead: in a notebook, set FULL_RUN = False in its settings cell and "
    "restart the kernel (Kernel > Restart Kernel and Run All Cells); in code, load_dataset('digits') or "
    "load_dataset('colour_digits')."
)


class DatasetUnavailableError(RuntimeError):
    """A real dataset is neither on disk nor downloadable (for example: offline).

    Raised without the chained traceback of its cause (whose one line is in the message). In IPython / Jupyter
    it shows as its message alone, one short paragraph, instead of a traceback (`_render_traceback_`).
    """

    def _render_traceback_(self) -> list:
        return [f"{type(self).__name__}: {self}"]


@dataclass
class ImageSet:
    """Images and labels held in memory.

    images: (N, C, H, W) float32 in [0, 1]
    labels: (N,) int64 class indices
    classes: class names, `classes[label]`
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list = field(default_factory=list)
    name: str = ""

    def __post_init__(self):
        if self.images.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},) to match images, got {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    @property
    def image_shape(self) -> tuple:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes else int(self.labels.max()) + 1

    def subset(self, indices) -> "ImageSet":
        """The images at `indices`, as a new `ImageSet` (a view where possible)."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        return ImageSet(self.images[indices], self.labels[indices], list(self.classes), self.name)

    def to(self, device) -> "ImageSet":
        return ImageSet(self.images.to(device), self.labels.to(device), list(self.classes), self.name)

    def __repr__(self) -> str:
        counts = torch.bincount(self.labels, minlength=self.num_classes).tolist()
        return f"ImageSet({self.name!r}, {len(self)} images of {self.image_shape}, per class {counts})"


# ----------------------------------------------------------------------------------------------------
# The fixed split and labeled subsets
# ----------------------------------------------------------------------------------------------------


def stratified_split(labels: torch.Tensor, test_fraction: float = 0.3, seed: int = 0):
    """A fixed, stratified train/test split: `round(test_fraction * n_c)` of each class `c` go to test.

    labels: (N,) -> (train_indices, test_indices), both sorted. The same seed gives the same split on every
    machine (it uses torch's CPU generator, not a library whose default may change).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels = torch.as_tensor(labels)
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_test = int(round(test_fraction * len(members)))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return torch.sort(torch.cat(train)).values, torch.sort(torch.cat(test)).values


VALIDATION_FRACTION = 0.2
"""The share of each class of train that the protocol holds out as the validation split."""


def validation_split(train: "ImageSet", fraction: float = VALIDATION_FRACTION, seed: int = 0):
    """Carve the fixed, stratified validation split out of train: `(fit, validation)`, two disjoint `ImageSet`s.

    `round(fraction * n_c)` images of each class c of `train` go to validation (`stratified_split`), the rest to
    fit. Every tuning decision (recipes, epochs, learning rates, probe regularisation) trains on labels drawn
    from fit and is scored on validation; the test split is scored once, at the end, for the tables.
    The same train and seed give the same split on every machine.
    """
    if not isinstance(train, ImageSet):
        raise TypeError(f"train must be an ImageSet (from load_dataset), got {type(train).__name__}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction (the validation share of train) must be in (0, 1), got {fraction}")
    fit_idx, val_idx = stratified_split(train.labels, fraction, seed)
    base = train.name.rsplit("/", 1)[0] if train.name else "data"
    fit, validation = train.subset(fit_idx), train.subset(val_idx)
    fit.name, validation.name = f"{base}/fit", f"{base}/validation"
    return fit, validation


def labeled_subset(labels: torch.Tensor, per_class: Union[int, str, None], seed: int = 0) -> torch.Tensor:
    """Indices of a seeded random labeled subset with exactly `per_class` examples of every class.

    labels: (N,) -> indices: (per_class * num_classes,), sorted. `per_class` of `None` or `"all"` returns
    every index. Raises `ValueError` when a class has fewer than `per_class` examples.
    """
    labels = torch.as_tensor(labels).cpu()
    if per_class is None or per_class == "all":
        return torch.arange(len(labels))
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer or 'all', got {per_class!r}")
    return draw_per_class(labels, per_class, torch.Generator().manual_seed(seed))


def draw_per_class(labels: torch.Tensor, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """Exactly `per_class` distinct indices of every class, drawn with `generator` (no global random state):

        for each class c in increasing order: members_c = indices i with labels[i] = c (increasing),
        chosen_c = members_c[randperm(|members_c|, generator)[:per_class]];   returns sort(cat_c chosen_c)

    labels: (N,) integer labels of the pool to draw from (the fit split: never validation or test) ->
    indices: (per_class * num_classes,), sorted. Raises `ValueError` when a class has fewer than `per_class`.
    """
    labels = torch.as_tensor(labels).cpu()
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class!r}")
    chosen = []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        if len(members) < per_class:
            raise ValueError(
                f"per_class={per_class} is larger than class {c}, which has only {len(members)} examples; "
                f"use at most {len(members)} or 'all'"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.sort(torch.cat(chosen)).values


# ----------------------------------------------------------------------------------------------------
# Embedded data: scikit-learn's digits
# ----------------------------------------------------------------------------------------------------


def _digits_raw():
    """The 1,797 digits as (N, 1, 8, 8) float in [0, 1] and labels (N,)."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    return images, labels


def _resize(images: torch.Tensor, image_size: int) -> torch.Tensor:
    if images.shape[-1] == image_size and images.shape[-2] == image_size:
        return images
    resized = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False,
                            antialias=image_size < images.shape[-1])
    return resized.clamp_(0.0, 1.0)


def _split(images, labels, classes, name, test_fraction=0.3):
    train_idx, test_idx = stratified_split(labels, test_fraction, seed=0)
    return (ImageSet(images[train_idx], labels[train_idx], classes, f"{name}/train"),
            ImageSet(images[test_idx], labels[test_idx], classes, f"{name}/test"))


def load_digits(image_size: int = 16):
    """scikit-learn's handwritten digits, upsampled to `image_size`, grey on 3 channels.

    Returns the fixed split `(train, test)`: 1,258 and 539 images of shape (3, image_size, image_size).
    """
    images, labels = _digits_raw()
    images = _resize(images, image_size).expand(-1, 3, -1, -1).contiguous()
    return _split(images, labels, DIGIT_CLASSES, "digits")




def colourise(grey: torch.Tensor, seed: int = 0, min_contrast: float = 0.3):
    """Paint grey images with a random foreground and background colour per image.

        x_i = (1 - m_i) * background_i + m_i * foreground_i,  m_i = grey intensity in [0, 1]

    grey: (N, 1, H, W) -> (images (N, 3, H, W), foreground (N, 3), background (N, 3)). Colours are uniform in
    RGB, redrawn until the stroke is brighter than the background by at least `min_contrast` in luma
    (`augment.LUMA`: 0.2989 R + 0.587 G + 0.114 B), so the digit's shape survives a grayscale conversion while its colours say
    nothing about its class. Deterministic from `seed`.
    """
    if grey.ndim != 4 or grey.shape[1] != 1:
        raise ValueError(f"grey must have shape (N, 1, H, W), got {tuple(grey.shape)}")
    if not 0.0 <= min_contrast < 0.9:
        raise ValueError(f"min_contrast must be in [0, 0.9), got {min_contrast}")
    generator = torch.Generator().manual_seed(seed)
    luma = torch.tensor(LUMA)
    n = grey.shape[0]
    foreground = torch.rand(n, 3, generator=generator)
    background = torch.rand(n, 3, generator=generator)
    too_close = (foreground - background) @ luma < min_contrast
    while too_close.any():
        k = int(too_close.sum())
        foreground[too_close] = torch.rand(k, 3, generator=generator)
        background[too_close] = torch.rand(k, 3, generator=generator)
        too_close = (foreground - background) @ luma < min_contrast
    images = (1 - grey) * background[:, :, None, None] + grey * foreground[:, :, None, None]
    return images, foreground, background


def load_colour_digits(image_size: int = 16, seed: int = 0):
    """The digits with a random foreground and background colour per image (colour is a nuisance).

    Returns the same fixed split as `load_digits`: the i-th image here is the i-th image there, coloured.
    """
    images, labels = _digits_raw()
    images, _, _ = colourise(_resize(images, image_size), seed=seed)
    return _split(images, labels, DIGIT_CLASSES, "colour_digits")


# ----------------------------------------------------------------------------------------------------
# Real datasets
# ----------------------------------------------------------------------------------------------------


def default_data_root() -> Path:
    """Where real datasets are kept: `$SSL_DATA` if set, else `~/.cache/ssl_helpers/data` (`config.settings`)."""
    return settings().data_root


def _ensure_downloaded(name: str, root: Path, download: bool) -> Path:
    source = DOWNLOADS[name]
    folder = root / source["folder"]
    if folder.is_dir():
        return folder
    if not download:
        raise DatasetUnavailableError(
            f"{name} is not in {folder}. Pass download=True to fetch it (needs internet), or put the "
            f"extracted '{source['folder']}' folder there. {EMBEDDED_HINT}"
        )
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(source["url"], download_root=str(root), md5=source["md5"])
    except Exception as error:  # URLError, socket errors, HTTP errors, a bad checksum
        cause = " ".join(f"{type(error).__name__}: {error}".split())  # the cause's one line, not its traceback
        cause = cause if len(cause) <= 160 else cause[:157] + "..."
        raise DatasetUnavailableError(
            f"could not download {name} from {source['url']} ({cause}). Are you offline? {EMBEDDED_HINT}"
        ) from None
    if not folder.is_dir():
        raise DatasetUnavailableError(f"the {name} archive did not contain the expected folder {folder}")
    return folder


def _uint8_to_float(images: np.ndarray, image_size: Optional[int]) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    return _resize(tensor, image_size) if image_size else tensor


def _read_cifar10(folder: Path, train: bool):
    files = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    images, labels = [], []
    for file in files:
        with open(folder / file, "rb") as handle:
            batch = pickle.load(handle, encoding="latin1")
        images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch["labels"])
    return np.concatenate(images), torch.tensor(labels, dtype=torch.long)


def load_cifar10(image_size: Optional[int] = None, root=None, download: bool = False):
    """CIFAR-10 from the python pickles in `root/cifar-10-batches-py`: (train 50,000, test 10,000)."""
    folder = _ensure_downloaded("cifar10", Path(root or default_data_root()), download)
    out = []
    for train in (True, False):
        images, labels = _read_cifar10(folder, train)
        out.append(ImageSet(_uint8_to_float(images, image_size), labels, CIFAR10_CLASSES,
                            f"cifar10/{'train' if train else 'test'}"))
    return tuple(out)


def _read_stl10(folder: Path, split: str):
    images = np.fromfile(folder / f"{split}_X.bin", dtype=np.uint8)
    # STL-10 stores each image column-major: (N, 3, 96, 96) with H and W swapped.
    images = images.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    label_file = folder / f"{split}_y.bin"
    if label_file.exists():
        labels = torch.from_numpy(np.fromfile(label_file, dtype=np.uint8).astype(np.int64) - 1)
    else:
        labels = torch.full((images.shape[0],), -1, dtype=torch.long)
    return images, labels


def load_stl10(image_size: Optional[int] = None, root=None, download: bool = False, unlabeled: bool = False):
    """STL-10 from the binaries in `root/stl10_binary`: (train 5,000, test 8,000).

    With `unlabeled=True` returns `(unlabeled, train, test)`; the 100,000 unlabeled images have label -1.
    """
    folder = _ensure_downloaded("stl10", Path(root or default_data_root()), download)
    splits = (["unlabeled"] if unlabeled else []) + ["train", "test"]
    out = []
    for split in splits:
        images, labels = _read_stl10(folder, split)
        out.append(ImageSet(_uint8_to_float(images, image_size), labels, STL10_CLASSES, f"stl10/{split}"))
    return tuple(out)


def load_image_folder(root, image_size: int = 32, test_fraction: float = 0.3):
    """Any `ImageFolder` tree: `root/<class>/<image>`; with `root/train` and `root/test` those are used,
    else the fixed stratified split. Images are converted to RGB and resized to `image_size`."""
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"root={str(root)!r} is not a folder of class sub-folders")
    to_tensor = transforms.Compose([transforms.Resize((image_size, image_size)), transforms.ToTensor()])

    def read(folder):
        dataset = ImageFolder(str(folder), transform=to_tensor)
        images = torch.stack([dataset[i][0] for i in range(len(dataset))])
        return images, torch.tensor(dataset.targets, dtype=torch.long), list(dataset.classes)

    if (root / "train").is_dir() and (root / "test").is_dir():
        train_images, train_labels, classes = read(root / "train")
        test_images, test_labels, _ = read(root / "test")
        return (ImageSet(train_images, train_labels, classes, f"{root.name}/train"),
                ImageSet(test_images, test_labels, classes, f"{root.name}/test"))
    images, labels, classes = read(root)
    return _split(images, labels, classes, root.name, test_fraction)


DATASETS: dict = {
    "digits": load_digits,
    "colour_digits": load_colour_digits,
    "cifar10": load_cifar10,
    "stl10": load_stl10,
    "folder": load_image_folder,
}
_ALIASES = {"color_digits": "colour_digits", "cifar-10": "cifar10", "stl-10": "stl10", "imagefolder": "folder"}


def load_dataset(name: str = "digits", **options):
    """Load a dataset by name as its fixed `(train, test)` split of `ImageSet`s.

    `options` go to the loader: `image_size` for all; `root`, `download` for `cifar10`/`stl10`; `root` for
    `folder`; `seed` for `colour_digits`.
    """
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in DATASETS:
        raise ValueError(f"unknown dataset name {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[key](**options)

