"""Every explorer's redraw time against the 0.2 s budget: milliseconds per control change, on one thread and on
torch's default threads, and the ratio to a baseline measured in the same process (PNG-encoding the explorer's
own last picture, which every redraw ends with).

    .venv/bin/python benchmarks/bench_widgets.py                 # every explorer of the lecture page, 20 changes
    .venv/bin/python benchmarks/bench_widgets.py --only neighbours --changes 50

Each explorer is built by its lecture-page section (`ssl_helpers.lecture.SECTIONS`, so a new explorer is timed as
soon as it has a section) with UNTRAINED encoders built by the method registry (nothing is trained: the time of a
redraw does not depend on the weights) on the embedded digits. A change moves one slider (test image, anchor or
seed) to a new value, which redraws through the widget's `observe`; one change first as a warm-up.
"""
from __future__ import annotations

import argparse
import io
import time

import numpy as np
import torch

BUDGET_S = 0.2  # DESIGN.md: a widget redraws within 0.2 s on a CPU
CONTROLS = ("index", "anchor", "seed")  # the slider each explorer moves: its first of these


def untrained_encoders(names) -> dict:
    """{name: (method, encoder)} for every registry method in `names`, untrained (heads built, eval mode)."""
    from ssl_helpers.methods import make_method

    encoders = {}
    for name in names:
        method = make_method(name)
        method.build((3, method.spec.image_size, method.spec.image_size)).eval()
        encoders[name] = (method, method.encoder)
    return encoders


def slider(explorer):
    """The explorer's first integer slider among `CONTROLS` (the one a change moves)."""
    for name in CONTROLS:
        control = getattr(explorer, name, None)
        if control is not None and hasattr(control, "min") and isinstance(control.value, int):
            return control
    raise ValueError(f"{type(explorer).__name__} has none of the sliders {CONTROLS}")


def time_changes(explorer, changes: int) -> float:
    """Seconds per change of the explorer's slider, after one warm-up change."""
    control = slider(explorer)
    span = control.max - control.min + 1
    values = [control.min + (control.value - control.min + 1 + i) % span for i in range(changes + 1)]
    control.value = values[0]  # warm-up
    started = time.perf_counter()
    for value in values[1:]:
        control.value = value
    return (time.perf_counter() - started) / changes


def time_png(png: bytes, repeats: int) -> float:
    """Seconds to PNG-encode the explorer's own last picture (decoded from `png`): the baseline."""
    from PIL import Image

    from ssl_helpers.widgets.common import array_to_png

    array = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    array_to_png(array)
    started = time.perf_counter()
    for _ in range(repeats):
        array_to_png(array)
    return (time.perf_counter() - started) / repeats


def main(argv=None) -> int:
    from PIL import Image

    from ssl_helpers.data import load_dataset
    from ssl_helpers.lecture import SECTIONS, section_methods
    from ssl_helpers.train import seed_everything

    keys = [section.key for section in SECTIONS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20, help="timed control changes per explorer (>= 1)")
    parser.add_argument("--only", nargs="+", choices=keys, default=keys, help="the explorers to time")
    args = parser.parse_args(argv)
    if args.changes < 1:
        parser.error(f"argument --changes: must be at least 1, got {args.changes}")
    sections = [section for section in SECTIONS if section.key in args.only]
    default_threads = torch.get_num_threads()
    seed_everything(0)
    encoders = untrained_encoders(section_methods(sections))
    cache = {}

    def data(name, size):
        if (name, size) not in cache:
            cache[name, size] = load_dataset(name, image_size=size)[1]
        return cache[name, size]

    print(f"torch {torch.__version__}; {args.changes} changes per explorer after a warm-up; untrained encoders; "
          f"budget {1000 * BUDGET_S:.0f} ms per redraw")
    print(f"{'explorer':>11} {'threads':>7} {'build s':>8} {'ms/redraw':>10} {'PNG ms':>7} {'ratio':>6} "
          f"{'picture':>9}  within budget")
    worst = 0.0
    for section in sections:
        started = time.perf_counter()
        explorer = section.build({name: encoders[name] for name in section.methods}, data)
        built = time.perf_counter() - started
        for threads in (1, default_threads):
            torch.set_num_threads(threads)
            try:
                per_change = time_changes(explorer, args.changes)
                png = time_png(bytes(explorer.image.value), args.changes)
            finally:
                torch.set_num_threads(default_threads)
            width, height = Image.open(io.BytesIO(bytes(explorer.image.value))).size
            worst = max(worst, per_change)
            print(f"{section.key:>11} {threads:>7} {built:>8.2f} {1000 * per_change:>10.1f} {1000 * png:>7.1f} "
                  f"{per_change / png:>6.1f} {width:>4}x{height:<4}  {'yes' if per_change <= BUDGET_S else 'NO'}")
    print(f"slowest: {1000 * worst:.1f} ms per redraw ({'within' if worst <= BUDGET_S else 'OVER'} the "
          f"{1000 * BUDGET_S:.0f} ms budget)")
    return 0 if worst <= BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
