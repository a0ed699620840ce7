"""The widgets work where students use them: in JupyterLab, in a real browser.

A kernel-side widget test (setting `.value` and reading `.last_drawn`) cannot see a broken front-end: a
missing or mismatched `jupyterlab_widgets` leaves the kernel happy while the student sees "Error displaying
widget: model not found" or a bare `VBox(...)` text. So this test starts JupyterLab on 127.0.0.1 with a
token, opens `browser_widget.ipynb` in headless Chromium (Debian's package, driven by Playwright), runs it,
moves the mask-ratio slider of the course's mask explorer (notebook 02) with the keyboard, and checks that the
widget rendered and that its caption and image changed.

Without Chromium or Playwright it is skipped with the reason on a student's machine; in CI (`CI=true`) it
fails instead, since `.ci/run` installs Chromium.
"""
from __future__ import annotations

import shutil
import time

import pytest

from browser_harness import browser_or_skip, chromium_page, jupyter_lab, open_notebook, run_all_cells

pytestmark = pytest.mark.browser  # tiers: `python3 course.py test --quick` leaves it out

NOTEBOOK = "browser_widget.ipynb"
WIDGET_ERRORS = ("Error displaying widget", "model not found", "Failed to load model class")
TIMEOUT_MS = 120_000  # a loaded 2-core machine takes a while to start a kernel and build the page
WIDGET_TIMEOUT_MS = 30_000  # from the cell's first output to the widget view


@pytest.fixture(scope="module")
def chromium():
    executable = browser_or_skip()
    return executable


def widget_errors(page) -> list:
    text = page.locator(".jp-OutputArea").all_inner_texts()
    return [error for error in WIDGET_ERRORS if any(error in chunk for chunk in text)]


def image_state(page):
    """The widget's <img> source and a screenshot of it: both change when the kernel sends a new PNG."""
    img = page.locator(".jp-OutputArea .widget-image").first
    return img.get_attribute("src"), img.screenshot()


def test_widget_renders_and_answers_the_slider_in_chromium(tmp_path, chromium, request):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    shutil.copy(request.path.parent / NOTEBOOK, tmp_path / NOTEBOOK)
    with jupyter_lab(tmp_path) as lab, chromium_page(chromium) as page:
        page.set_default_timeout(TIMEOUT_MS)
        open_notebook(page, lab, NOTEBOOK)  # waits for the kernel's websocket: a cell run earlier is dropped
        run_all_cells(page)

        # The cell's output appears whatever happens; the widget view only with a working front-end.
        page.wait_for_selector(".jp-OutputArea-output")
        try:
            page.wait_for_selector(".jp-OutputArea .widget-image", state="visible", timeout=WIDGET_TIMEOUT_MS)
            page.wait_for_selector(".jp-OutputArea .widget-slider .noUi-handle", state="visible",
                                   timeout=WIDGET_TIMEOUT_MS)
        except PlaywrightTimeout:  # show what the student would have seen instead of the widget
            outputs = "\n".join(page.locator(".jp-OutputArea").all_inner_texts())
            pytest.fail(f"the widget did not render in the browser; the output shows:\n{outputs}\n"
                        f"widget errors on the page: {widget_errors(page)}")
        assert widget_errors(page) == []
        caption = page.locator(".jp-OutputArea .widget-html", has_text="of the pixels hidden").first
        caption_before = caption.inner_text()
        src_before, pixels_before = image_state(page)

        # Move the mask-ratio slider as a student would: focus its handle, press the arrow key four times.
        handle = page.locator(".jp-OutputArea .widget-slider .noUi-handle").first
        handle.focus()
        for _ in range(4):
            handle.press("ArrowRight")
        page.wait_for_function(
            "([element, before]) => element.innerText !== before", arg=[caption.element_handle(), caption_before])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and image_state(page)[0] == src_before:
            time.sleep(0.2)
        src_after, pixels_after = image_state(page)

        assert page.locator(".jp-OutputArea .widget-readout").first.inner_text().strip() == "0.70"
        assert src_after != src_before, "the kernel redrew, but the image in the page did not change"
        assert pixels_after != pixels_before, "the <img> source changed, but the pixels on screen did not"
        assert widget_errors(page) == []
