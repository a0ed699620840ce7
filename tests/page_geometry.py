"""What a projector shows of each explorer, measured in the page, and the rules it must keep (issue 11).

    geometry = measure_sections(page)          # one dict per `.ssl-demo-section` box (see MEASURE_JS)
    problems = geometry_problems(geometry)     # [] when nothing is stretched, clipped or broken

The rules, from DESIGN.md's budget "reads from the back of a lecture hall (1024x768 projector: nothing stretched
or clipped)":
- an image is shown with the aspect it was drawn with: |(cw / ch) / (nw / nh) - 1| <= 5 %, where cw x ch is its
  displayed box (clientWidth x clientHeight) and nw x nh its natural size (naturalWidth x naturalHeight);
- a control's text fits its box: scrollWidth <= clientWidth + 1 px for every `.widget-label`, `.widget-readout`,
  `button`, `.ssl-caption` and `.widget-html` (an ellipsis "temperat..." or text running out of its box fails);
- no image, dropdown or text is cut off by a container: the part of its width (of its text, for a label) left
  visible by every ancestor that clips (overflow not visible) is its whole width, within 1 px (row labels pushed
  out of a row fail);
- a slider keeps a track a student can drag (at least 80 px; issue 11 found tracks shrunk to their handle, 0 px);
- no widget error text and no "explorer not available" note in the section.

`geometry_problems` is a pure function over the measured dict, so the rules are tested without a browser
(tests/test_browser_geometry.py feeds it a stretched image and a clipped label).
"""
from __future__ import annotations

ASPECT_TOLERANCE = 0.05
CLIP_TOLERANCE_PX = 1
MIN_TRACK_PX = 80
LABEL_SELECTORS = (".widget-label", ".widget-readout", "button", ".ssl-caption", ".widget-html",
                   ".widget-html-content", "select")
WIDGET_ERRORS = ("Error displaying widget", "model not found", "Failed to load model class", "Traceback")

MEASURE_JS = """([labelSelectors, errorTexts]) => {
    const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
    const text = el => (el.innerText || el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 80);
    // The part of el's width (of its text, for an element with text) left visible by every ancestor that clips
    // (overflow other than visible): a readout box wider than its text is fine, text pushed out of a row is not.
    const visibleWidth = el => {
        let rect = el.getBoundingClientRect();
        if (el.tagName !== 'IMG' && el.tagName !== 'SELECT' && text(el) !== '') {
            const range = document.createRange();
            range.selectNodeContents(el);
            const extent = range.getBoundingClientRect();
            if (extent.width > 0) rect = extent;
        }
        let left = rect.left, right = rect.right;
        for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
            if (getComputedStyle(a).overflowX === 'visible') continue;
            const box = a.getBoundingClientRect();
            left = Math.max(left, box.left + a.clientLeft);
            right = Math.min(right, box.left + a.clientLeft + a.clientWidth);
        }
        return {width: Math.round(rect.width), visible: Math.max(0, Math.round(right - left))};
    };
    return [...document.querySelectorAll('.ssl-demo-section')].map(box => {
        const key = [...box.classList].filter(c => c.startsWith('ssl-demo-')).map(c => c.slice(9))
            .find(c => c !== 'section' && c !== 'missing');
        const images = [...box.querySelectorAll('img.widget-image')].filter(shown).map((img, index) => ({
            index, natural: [img.naturalWidth, img.naturalHeight], client: [img.clientWidth, img.clientHeight],
            ...visibleWidth(img),
        }));
        const labels = [];
        for (const selector of labelSelectors) {
            box.querySelectorAll(selector).forEach((el, index) => {
                if (!shown(el) || (el.clientWidth === 0 && text(el) === '')) return;
                labels.push({selector, index, text: text(el), scroll: el.scrollWidth, client: el.clientWidth,
                             ...visibleWidth(el)});
            });
        }
        const tracks = [...box.querySelectorAll('.widget-slider .noUi-target')].filter(shown).map((el, index) => {
            const slider = el.closest('.widget-slider');
            const label = slider && slider.querySelector('.widget-label');
            return {index, label: label ? text(label) : '', width: el.getBoundingClientRect().width};
        });
        const body = box.innerText || '';
        return {
            key, images, labels, tracks,
            missing: box.classList.contains('ssl-demo-missing') ? text(box).slice(-200) : null,
            errors: errorTexts.filter(e => body.includes(e)),
            width: box.clientWidth,
        };
    });
}"""


def measure_sections(page) -> dict:
    """{"window": [w, h], "sections": [...]}: every `.ssl-demo-section` box's images, labels, slider tracks and
    error texts, as MEASURE_JS returns them, with the page's window size."""
    size = page.viewport_size or {"width": 0, "height": 0}
    sections = page.evaluate(MEASURE_JS, [list(LABEL_SELECTORS), list(WIDGET_ERRORS)])
    return {"window": [size["width"], size["height"]], "sections": sections}


def measure_when_settled(page, interval: float = 0.3, timeout: float = 15.0) -> dict:
    """`measure_sections` once two measurements `interval` s apart agree (the layout has settled after a resize or
    a redraw), or the last one after `timeout` s."""
    import time

    deadline = time.monotonic() + timeout
    previous = measure_sections(page)
    while time.monotonic() < deadline:
        time.sleep(interval)
        current = measure_sections(page)
        if current == previous:
            return current
        previous = current
    return previous


def geometry_problems(geometry: dict, aspect_tolerance: float = ASPECT_TOLERANCE,
                      clip_tolerance: float = CLIP_TOLERANCE_PX, min_track: float = MIN_TRACK_PX) -> list[str]:
    """One line per broken rule, naming the explorer, the element and the window size; [] when all hold.

    geometry: {"window": [w, h], "sections": [{"key", "images": [{"index", "natural": [nw, nh], "client":
    [cw, ch], "width", "visible"}], "labels": [{"selector", "index", "text", "scroll", "client", "width",
    "visible"}], "tracks": [{"index", "label", "width"}], "missing": str | None, "errors": [str]}]};
    "width" is the element's rendered width and "visible" the part of it no clipping ancestor hides (both
    optional: without them the cut-off rule is not applied).
    """
    if not 0 < aspect_tolerance < 1:
        raise ValueError(f"aspect_tolerance must be in (0, 1), got {aspect_tolerance!r}")
    window = "x".join(str(v) for v in geometry.get("window", ("?", "?")))
    problems = []
    for section in geometry["sections"]:
        where = f"{section['key']} at window {window}"
        if section.get("missing"):
            problems.append(f"{where}: the explorer is not shown: {section['missing']}")
        for error in section.get("errors", []):
            problems.append(f"{where}: the page shows {error!r}")
        if not section.get("missing") and not section["images"]:
            problems.append(f"{where}: no image is shown")
        for image in section["images"]:
            (nw, nh), (cw, ch) = image["natural"], image["client"]
            if min(nw, nh, cw, ch) <= 0:
                problems.append(f"{where}: .widget-image #{image['index']} is empty (natural {nw}x{nh}, "
                                f"shown {cw}x{ch})")
                continue
            if image.get("visible", image.get("width", 0)) < image.get("width", 0) - clip_tolerance:
                problems.append(f"{where}: .widget-image #{image['index']} is cut off by its container: "
                                f"{image['visible']} of its {image['width']} px are visible")
            ratio = (cw / ch) / (nw / nh)
            if abs(ratio - 1) > aspect_tolerance:
                axis = "vertically" if ratio < 1 else "horizontally"
                stretch = 1 / ratio if ratio < 1 else ratio
                problems.append(f"{where}: .widget-image #{image['index']} drawn {nw}x{nh} is shown {cw}x{ch}: "
                                f"stretched {stretch:.2f}x {axis} (aspect off by {abs(ratio - 1):.0%}, "
                                f"allowed {aspect_tolerance:.0%})")
        reported = set()  # (text, rule): a `.widget-html` and its `.widget-html-content` hold one text
        for label in section["labels"]:
            name = f"{label['selector']} #{label['index']} {label['text']!r}"
            if label["scroll"] > label["client"] + clip_tolerance:
                rule, problem = "clipped", (f"{where}: {name} is clipped: its text needs {label['scroll']} px, "
                                            f"its box is {label['client']} px")
            elif label.get("visible", label.get("width", 0)) < label.get("width", 0) - clip_tolerance:
                rule, problem = "cut off", (f"{where}: {name} is cut off by its container: {label['visible']} of "
                                            f"its {label['width']} px are visible")
            else:
                continue
            if (label["text"], rule) not in reported:
                reported.add((label["text"], rule))
                problems.append(problem)
        for track in section.get("tracks", []):
            if track["width"] < min_track:
                problems.append(f"{where}: slider #{track['index']} {track['label']!r} has a {track['width']:.0f} "
                                f"px track (at least {min_track} px)")
    return problems


def describe(geometry: dict) -> str:
    """A short table of what was measured: per explorer, each image's natural and shown size."""
    lines = [f"window {'x'.join(map(str, geometry['window']))}"]
    for section in geometry["sections"]:
        images = ", ".join(f"{i['natural'][0]}x{i['natural'][1]} shown {i['client'][0]}x{i['client'][1]}"
                           for i in section["images"]) or "no image"
        lines.append(f"  {section['key']}: box {section.get('width', '?')} px; {images}; "
                     f"{len(section['labels'])} labels, {len(section.get('tracks', []))} sliders")
    return "\n".join(lines)
