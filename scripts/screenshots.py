"""Screenshots of every explorer of the lecture page, as a projector at 1024x768 shows them, for the README.

    .venv/bin/python scripts/screenshots.py               # docs/images/<explorer>.png and the README's block
    .venv/bin/python scripts/screenshots.py --untrained --size 1920x1080 --out /tmp/shots --no-readme

It opens `tests/browser_explorers.ipynb` (the lecture demo's page: every section of `ssl_helpers.lecture.SECTIONS`)
in JupyterLab in headless Chromium (Debian's `chromium`, driven by Playwright) with the file browser closed, runs it,
and saves one picture per explorer: its section of the page (title, where its encoders come from, the explorer).
The encoders are the course's saved ones in `notebooks/checkpoints/` when present (written by the notebooks),
untrained ones built by the registry otherwise (`--untrained` forces that); each picture's heading says which, and
so does the README block. The page's geometry is measured as the browser test does (tests/page_geometry.py) and
any stretched image or clipped label is printed. The README block between `<!-- BEGIN screenshots -->` and
`<!-- END screenshots -->` lists one picture per section, in page order.
"""
from __future__ import annotations

import argparse
import contextlib
import html
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "tests", ROOT / "scripts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

NOTEBOOK = ROOT / "tests" / "browser_explorers.ipynb"
README = ROOT / "README.md"
IMAGES = ROOT / "docs" / "images"
CHECKPOINTS = ROOT / "notebooks" / "checkpoints"
TIMEOUT_MS = 300_000
TALL_PX = 3000  # the window's height while taking pictures: a section taller than the window is not cut off


def window_size(text: str) -> tuple:
    """"1024x768" -> (1024, 768); an argparse type, so a bad value is a one-line usage error."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1024x768, got {text!r}") from None
    if not (320 <= width <= 3840 and 240 <= height <= 2160):
        raise argparse.ArgumentTypeError(f"expected a width in [320, 3840] and a height in [240, 2160], got {text!r}")
    return width, height


def readme_block(shots: list, size: tuple, encoders: str, per_row: int = 2, width: int = 400) -> str:
    """The README's "What it looks like" block: the pictures [(section, relative path)] as a table of
    thumbnails `per_row` wide (each `width` px, a link to the full picture), in page order."""
    if per_row < 1:
        raise ValueError(f"per_row must be at least 1, got {per_row}")
    lines = [f"Every explorer of the lecture page (`python3 course.py demo`; each also sits in its notebook), as a "
             f"{size[0]}x{size[1]} projector shows it in JupyterLab, {encoders}. Pictures by "
             f"`scripts/screenshots.py`; click one for its full size.", "", "<table>"]
    for row in range(0, len(shots), per_row):
        lines.append("<tr>")
        for section, path in shots[row:row + per_row]:
            lines.append(f'<td valign="top"><b>{html.escape(section.title)}</b> ({section.notebook})<br>'
                         f'<a href="{path}"><img src="{path}" width="{width}" alt="{html.escape(section.title)}">'
                         f"</a></td>")
        lines.append("</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def encoders_note(sources: dict) -> str:
    """How the README says where the pictured encoders come from, given {section key: heading text}."""
    text = " ".join(sources.values())
    trained, untrained = "course checkpoint" in text, "untrained" in text
    if trained and untrained:
        return "with the course's saved encoders from `notebooks/checkpoints/` where present, untrained ones else"
    if trained:
        return "with the course's saved encoders from `notebooks/checkpoints/`"
    if untrained:
        return "with untrained encoders (no saved checkpoints were found)"
    return "with no learned encoder (none of these explorers needs one)"


@contextlib.contextmanager
def environment(**values):
    """Set the environment variables `values` (None: unset) inside the block, for the processes it starts (the
    notebook's kernel reads them); afterwards each is as it was, set or unset."""
    def put(settings: dict) -> None:
        for name, value in settings.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    saved = {name: os.environ.get(name) for name in values}
    try:
        put(values)
        yield
    finally:
        put(saved)


def take(size: tuple, out: Path, checkpoints) -> tuple:
    """Open the explorers notebook at `size`, save `out/<key>.png` per section; returns (shots, sources,
    problems): [(section, path)], {key: heading text}, the geometry problems measured at `size`."""
    from browser_harness import (chromium_page, collapse_left_sidebar, find_chromium, jupyter_lab, open_notebook,
                                 run_all_cells)
    from page_geometry import geometry_problems, measure_when_settled
    from ssl_helpers.lecture import SECTIONS

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("Chromium not found: install Debian's `chromium` package or set SSL_CHROMIUM")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ssl-shots-") as folder:
        shutil.copy(NOTEBOOK, Path(folder) / NOTEBOOK.name)
        if checkpoints is not None:  # a short relative path for the headings: "course checkpoint checkpoints/..."
            (Path(folder) / "checkpoints").symlink_to(Path(checkpoints).resolve(), target_is_directory=True)
        # read by the notebook's kernel: the headings say "quick stand-in untrained/<name>.pt" and
        # "course checkpoint checkpoints/<name>.pt"; unset, the explorers use untrained encoders only
        kernel_settings = environment(SSL_EXPLORER_STAND_INS="untrained",
                                      SSL_EXPLORER_CHECKPOINTS=None if checkpoints is None else "checkpoints")
        with kernel_settings, jupyter_lab(Path(folder)) as lab, chromium_page(chromium, size) as page:
            page.set_default_timeout(TIMEOUT_MS)
            open_notebook(page, lab, NOTEBOOK.name)
            collapse_left_sidebar(page)
            run_all_cells(page)
            page.wait_for_function(
                """(count) => {
                    const boxes = [...document.querySelectorAll('.ssl-demo-section')];
                    return boxes.length >= count && boxes.every(box => box.classList.contains('ssl-demo-missing')
                        || [...box.querySelectorAll('img.widget-image')].every(i => i.complete && i.naturalWidth));
                }""", arg=len(SECTIONS))
            problems = geometry_problems(measure_when_settled(page))
            page.set_viewport_size({"width": size[0], "height": max(size[1], TALL_PX)})  # same width, same layout
            time.sleep(1.0)
            shots, sources = [], {}
            for section in SECTIONS:
                box = page.locator(f".ssl-demo-{section.key}").first
                sources[section.key] = box.locator(".widget-html").first.inner_text()
                path = out / f"{section.key}.png"
                box.screenshot(path=str(path))
                shots.append((section, path))
    return shots, sources, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: .venv/bin/python scripts/screenshots.py --size 1024x768")
    parser.add_argument("--size", type=window_size, default=(1024, 768), help="window WIDTHxHEIGHT (1024x768)")
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder for <explorer>.png (docs/images)")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINTS,
                        help="the course's saved encoders (notebooks/checkpoints); missing ones are untrained")
    parser.add_argument("--untrained", action="store_true", help="untrained encoders even where checkpoints exist")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the README's screenshots block")
    args = parser.parse_args(argv)
    if args.untrained or not args.checkpoints.is_dir():
        checkpoints = None
        if not args.untrained:
            print(f"no checkpoints in {args.checkpoints}: the explorers use untrained encoders")
    else:
        checkpoints = args.checkpoints

    start = time.perf_counter()
    shots, sources, problems = take(args.size, args.out.resolve(), checkpoints)
    from PIL import Image

    for section, path in shots:
        with Image.open(path) as picture:
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {picture.width}x"
                  f"{picture.height} px; {' '.join(sources[section.key].split())}")
    print(f"{len(shots)} explorers in {time.perf_counter() - start:.0f} s")
    for problem in problems:
        print(f"geometry: {problem}")
    if not args.no_readme:
        from readme_tables import replace_between_markers

        relative = [(section, path.relative_to(ROOT).as_posix()) for section, path in shots]
        block = readme_block(relative, args.size, encoders_note(sources))
        README.write_text(replace_between_markers(README.read_text(), "screenshots", block))
        print(f"README.md: screenshots block rewritten ({len(shots)} pictures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
