"""The lecture demo: every explorer of the course on one page, ready to project (`python3 course.py demo`).

    prepare("demo/checkpoints")                  # train and save the missing quick stand-ins (a bar each)
    page = lecture_page("notebooks/checkpoints", "demo/checkpoints")   # an ipywidgets VBox, one section each

`demo/lecture.ipynb` shows `lecture_page()` through Voila. Each explorer's encoders come from the course's
checkpoints (written by the notebooks), else from the demo's quick stand-ins (written by `prepare`), else a quick
stand-in is trained on the spot with a progress bar and saved for next time, so nothing waits on training twice.
Each section is built on its own: an explorer that is missing or fails to build shows a one-line note in its
place, and the rest of the page works.

Adding an explorer: one `Section` in `SECTIONS` (a key, a title, the notebook that teaches it, the methods whose
encoders it needs, and a `build(encoders, data)` that returns the explorer object with its `.widget`).
"""
from __future__ import annotations

import argparse
import html
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple

from .data import load_dataset
from .methods import load_method, load_or_pretrain, method_spec, save_method
from .models import ResizeInput, build_encoder
from .train import CheckpointError
from .widgets.distances import default_anchor

__all__ = ["Section", "SECTIONS", "section_methods", "find_encoder", "prepare", "build_section", "lecture_page",
           "main"]


@dataclass(frozen=True)
class Section:
    """One explorer on the page.

    key: its CSS class `ssl-demo-<key>`; title, notebook: the heading; methods: registry names whose encoders
    `build` receives as `encoders[name] = (method, encoder)`; build(encoders, data) -> the explorer (an object with
    a `.widget`, or a widget); `data(name, size)` gives the embedded dataset's test split at `size` px.
    """

    key: str
    title: str
    notebook: str
    methods: Tuple[str, ...]
    build: Callable


def _explorer(path: str):
    """The explorer class at "module:Class", imported when its section is built (a missing one is a note)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _augment(encoders, data):
    """The augmentation explorer at notebook 06's recipe (its default), on the colour digits (jitter shows)."""
    return _explorer("ssl_helpers.widgets.augment_explorer:AugmentExplorer")(source="colour digits")


def _masking(encoders, data):
    """8 test digits through the grey-patch CNN, at its own mask ratio and patch size (the picture says which
    patch sizes it was trained on)."""
    method, encoder = encoders["masked"]
    images = data("digits", method.spec.image_size).images[:8]
    return _explorer("ssl_helpers.widgets.masking:MaskExplorer")(method, encoder, images,
                                                                  mask_ratio=method.mask_ratio,
                                                                  patch_size=method.patch_size)


def _corruption(encoders, data):
    models = {name: encoders[name] for name in ("denoising", "inpainting", "rotation")}
    return _explorer("ssl_helpers.widgets.corruption:CorruptionExplorer")(models, source="digits", index=0)


def _distances(encoders, data):
    """Two augmented views of 8 test digits, embedded by SimCLR's encoder and head: z = g(f(x)) (8, out_dim)."""
    import torch

    method, encoder = encoders["simclr"]
    images = data(method.spec.data, method.spec.image_size).images[:8]
    generator = torch.Generator().manual_seed(0)
    view_a, view_b = method.augment(images, generator), method.augment(images, generator)
    with torch.no_grad():
        z_a, z_b = method.head(encoder(view_a)), method.head(encoder(view_b))
    temperature = getattr(method.options, "temperature", 0.5)  # the anchor has a hard negative: low T raises its loss
    return _explorer("ssl_helpers.widgets.distances:DistanceExplorer")(view_a, view_b, z_a, z_b,
                                                                        anchor=default_anchor(z_a, z_b),
                                                                        temperature=temperature)


def _neighbours(encoders, data):
    """Test digits and their nearest train digits under raw pixels, a random encoder, masking, rotation and
    SimCLR (each embedded once; an encoder trained at another size sees the digits resized to it)."""
    import torch
    from torch import nn

    train, test = load_dataset("digits", image_size=16)
    trained = {name: encoder if method.spec.image_size == 16 else ResizeInput(encoder, method.spec.image_size)
               for name, (method, encoder) in encoders.items()}
    with torch.random.fork_rng():  # a fixed random encoder, same architecture as SimCLR's
        torch.manual_seed(0)
        random_encoder = build_encoder(encoders["simclr"][1].config)
    representations = {"pixels": nn.Flatten(), "random": random_encoder, **trained}
    return _explorer("ssl_helpers.widgets.neighbours:NeighbourExplorer")(representations, train, test, index=0, k=5)


SECTIONS: Tuple[Section, ...] = (
    Section("masking", "Masked autoencoding: mask ratio and patch size", "02_masked_autoencoding", ("masked",),
            _masking),
    Section("corruption", "Obscured and perturbed: noise, a hidden box, rotation", "04_obscured_and_perturbed",
            ("denoising", "inpainting", "rotation"), _corruption),
    Section("distances", "Contrastive: distances, softmax and the InfoNCE loss of one anchor",
            "05_contrastive_losses", ("simclr",), _distances),
    Section("augment", "Augmentations: the two views SimCLR compares", "06_simclr", (), _augment),
    Section("neighbours", "Transfer: what each representation considers similar (nearest train digits)",
            "09_transfer_learning", ("masked", "rotation", "simclr"), _neighbours),
)


def section_methods(sections: Sequence[Section] = SECTIONS) -> list:
    """The registry names whose encoders the sections need, each once, in page order."""
    return list(dict.fromkeys(name for section in sections for name in section.methods))


def find_encoder(name: str, course_dir, demo_dir, epochs: Optional[int] = None, progress: bool = True):
    """`(method, encoder, source)` for method `name`: the course's checkpoint `course_dir/<name>.pt`, else the
    demo's quick stand-in `demo_dir/<name>.pt`, else a quick stand-in trained now (`load_or_pretrain`, a progress
    bar, `epochs` default the method's `quick_epochs`) and saved to `demo_dir` for next time."""
    for folder, kind in ((course_dir, "course checkpoint"), (demo_dir, "quick stand-in")):
        path = Path(folder) / f"{name}.pt" if folder is not None else None
        if path is not None and path.is_file():
            try:
                method, encoder, _ = load_method(name, path)
                return method, encoder, f"{kind} {path}"
            except CheckpointError as error:  # an old or foreign file: say so, try the next source
                print(f"skipping {path}: {error}")
    print(f"{name}: no checkpoint in {course_dir} or {demo_dir}: training a quick stand-in, once "
          f"(run notebook {method_spec(name).notebook} for the full encoder)", flush=True)
    method, encoder, info = load_or_pretrain(name, path=Path(demo_dir) / f"{name}.pt", epochs=epochs,
                                             progress=progress, verbose=False)
    saved = save_method(method, Path(demo_dir) / f"{name}.pt", extra={"quick": True, **info["extra"]})
    return method, encoder, f"quick stand-in trained just now ({info['extra']['epochs']} epochs), saved to {saved}"


def prepare(demo_dir, course_dir=None, sections: Sequence[Section] = SECTIONS, epochs: Optional[int] = None,
            progress: bool = True) -> Dict[str, str]:
    """Make sure every encoder the page needs is saved (course checkpoint or quick stand-in); returns
    {method: where it comes from}. Run before a lecture so that opening the page trains nothing."""
    sources = {}
    for name in section_methods(sections):
        _, _, sources[name] = find_encoder(name, course_dir, demo_dir, epochs=epochs, progress=progress)
        print(f"{name}: {sources[name]}")
    return sources


def build_section(section: Section, encoders: dict, data: Callable):
    """The section's box: a heading, where its encoders come from, and the explorer, or a one-line note naming
    what went wrong (CSS class `ssl-demo-missing`) when the explorer is missing or fails to build."""
    import ipywidgets as W

    heading = W.HTML(f"<h2>{html.escape(section.title)}</h2>"
                     f"<p>From notebook <code>{section.notebook}</code>" +
                     "".join(f"; {html.escape(name)}: {html.escape(encoders[name][2])}"
                             for name in section.methods if name in encoders) + "</p>")
    try:
        missing = [name for name in section.methods if name not in encoders or encoders[name][1] is None]
        if missing:
            raise RuntimeError(f"no encoder for {', '.join(missing)}")
        explorer = section.build({name: encoders[name][:2] for name in section.methods}, data)
        body = getattr(explorer, "widget", explorer)
        if not isinstance(body, W.Widget):
            raise TypeError(f"{type(explorer).__name__} has no ipywidgets `.widget`")
        box = W.VBox([heading, body])
    except Exception as error:  # the page must survive a missing or broken explorer
        note = W.HTML(f"<p><b>This explorer is not available here</b> ({type(error).__name__}: "
                      f"{html.escape(' '.join(str(error).split())[:200])}).</p>")
        box = W.VBox([heading, note])
        box.add_class("ssl-demo-missing")
        explorer = None
    box.add_class("ssl-demo-section")
    box.add_class(f"ssl-demo-{section.key}")
    box.explorer = explorer
    return box


def lecture_page(course_dir="../notebooks/checkpoints", demo_dir="checkpoints",
                 sections: Sequence[Section] = SECTIONS, epochs: Optional[int] = None, progress: bool = True):
    """Every section's explorer on one page (an ipywidgets VBox, class `ssl-demo-page`), encoders from
    `find_encoder`. The defaults are the paths as seen from `demo/lecture.ipynb`."""
    import ipywidgets as W
    import torch

    torch.set_num_threads(1)  # the explorers redraw a few small images: one thread answers fastest
    encoders = {}
    for name in section_methods(sections):
        try:
            encoders[name] = find_encoder(name, course_dir, demo_dir, epochs=epochs, progress=progress)
        except Exception as error:
            encoders[name] = (None, None, f"unavailable ({type(error).__name__}: {error})")
    cache = {}

    def data(name: str, size: int):
        if (name, size) not in cache:
            cache[name, size] = load_dataset(name, image_size=size)[1]
        return cache[name, size]

    title = W.HTML("<p>Every control redraws at once; the models are the course's saved encoders or quick "
                   "stand-ins (said under each heading).</p>")
    page = W.VBox([title, *(build_section(section, encoders, data) for section in sections)],
                  layout=W.Layout(max_width="1000px"))
    page.add_class("ssl-demo-page")
    return page


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m ssl_helpers.lecture prepare --demo-dir demo/checkpoints --course-dir notebooks/checkpoints`."""
    parser = argparse.ArgumentParser(prog="python -m ssl_helpers.lecture",
                                     description="Train and save the quick stand-ins the lecture page needs.")
    parser.add_argument("command", choices=["prepare"])
    parser.add_argument("--demo-dir", default="demo/checkpoints")
    parser.add_argument("--course-dir", default="notebooks/checkpoints")
    parser.add_argument("--epochs", type=int, default=None, help="default: each method's quick_epochs")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"argument --epochs: must be at least 1, got {args.epochs}")
    prepare(args.demo_dir, args.course_dir, epochs=args.epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
