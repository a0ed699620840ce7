"""The lecture demo (`python3 course.py demo`): every explorer on one page, through Voila, in a real browser.

1. In the kernel: `prepare` saves a quick stand-in for every encoder the page needs and then finds them again
   (nothing is trained twice); the page has one section per explorer, each holding its explorer; a section
   whose explorer is missing or fails shows a one-line note and the rest of the page still builds.
2. In Chromium: Voila serves `demo/lecture.ipynb` on 127.0.0.1 (a free port, a token); every section renders
   its explorer (controls and a drawn image, no widget errors), and moving the mask-ratio slider redraws.

The browser part is skipped with the reason without Chromium or Playwright on a student's machine, and fails in CI.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from browser_harness import browser_or_skip, chromium_page, free_port, require_or_skip
from ssl_helpers import lecture
from ssl_helpers.lecture import SECTIONS, Section, build_section, lecture_page, prepare, section_methods

pytestmark = pytest.mark.browser  # tiers: `python3 course.py test --quick` leaves it out

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "lecture.ipynb"
WIDGET_ERRORS = ("Error displaying widget", "model not found", "Failed to load model class", "Traceback")
TIMEOUT_MS = 180_000  # Voila runs the whole notebook before it sends the page: slow on a loaded 2-core machine


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A demo folder whose quick stand-ins (1 epoch each) are already saved, as `course.py demo` leaves it."""
    root = tmp_path_factory.mktemp("lecture")
    torch.set_num_threads(1)
    first = prepare(root / "demo" / "checkpoints", root / "notebooks" / "checkpoints", epochs=1, progress=False)
    return root, first


def test_prepare_saves_every_encoder_once(checkpoints):
    root, first = checkpoints
    assert list(first) == section_methods() and all("trained just now" in where for where in first.values())
    again = prepare(root / "demo" / "checkpoints", root / "notebooks" / "checkpoints", progress=False)
    assert all(where.startswith("quick stand-in ") for where in again.values())  # loaded, not trained


def test_the_page_has_every_explorer(checkpoints):
    root, _ = checkpoints
    page = lecture_page(root / "notebooks" / "checkpoints", root / "demo" / "checkpoints", progress=False)
    sections = page.children[1:]
    assert [s._dom_classes[1] for s in sections] == [f"ssl-demo-{section.key}" for section in SECTIONS]
    for box, section in zip(sections, SECTIONS):
        assert "ssl-demo-missing" not in box._dom_classes, box.children[-1].value
        assert box.explorer is not None and box.children[-1] is box.explorer.widget
        assert getattr(box.explorer, "last_drawn", b"") not in (b"", None), f"{section.key} drew nothing"


def test_a_missing_or_broken_explorer_is_a_note_not_a_broken_page(checkpoints):
    def missing(encoders, data):
        return lecture._explorer("ssl_helpers.widgets.no_such_module:NeighbourExplorer")()

    def broken(encoders, data):
        raise ValueError("bad\nvalue")

    sections = (Section("neighbours", "Neighbours", "09_transfer_learning", (), missing),
                Section("broken", "Broken", "05_contrastive_losses", (), broken), SECTIONS[-1])
    root, _ = checkpoints
    page = lecture_page(root / "notebooks" / "checkpoints", root / "demo" / "checkpoints", sections=sections)
    first, second, third = page.children[1:]
    assert "ssl-demo-missing" in first._dom_classes and "ModuleNotFoundError" in first.children[-1].value
    assert "ValueError: bad value" in second.children[-1].value  # one line
    assert "ssl-demo-missing" not in third._dom_classes and third.explorer is not None
    no_encoder = build_section(SECTIONS[0], {}, data=None)
    assert "no encoder for masked" in no_encoder.children[-1].value


def test_demo_notebook_builds_the_page_from_the_lecture_module():
    source = DEMO.read_text()
    assert "lecture_page(" in source and '"outputs": []' in source  # Voila runs it; nothing stale is stored


# ----------------------------------------------------------------------------------------------------------
# The real browser
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    executable = browser_or_skip()
    try:
        import voila  # noqa: F401
    except ImportError:
        require_or_skip(False, "the `voila` package is missing (pip install -e '.[test]')")
    return executable


@contextlib.contextmanager
def voila_server(notebook: Path, timeout: float = 120):
    """Voila serving `notebook` on 127.0.0.1 with a random token: yields the page's URL; stopped on exit."""
    port, token = free_port(), secrets.token_hex(16)
    log = notebook.parent / "voila.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", JUPYTER_RUNTIME_DIR=str(notebook.parent / "runtime"))
    command = [sys.executable, "-m", "voila", notebook.name, "--no-browser", "--Voila.ip=127.0.0.1",
               f"--port={port}", "--Voila.port_retries=0", f"--token={token}"]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                   cwd=notebook.parent)
        url = f"http://127.0.0.1:{port}/?token={token}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"voila exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
                try:  # Voila has no status API: its port accepting a connection means it is up
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"voila did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
            yield url, log
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_voila_shows_every_explorer_in_chromium(checkpoints, chromium):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    root, _ = checkpoints
    shutil.copy(DEMO, root / "demo" / DEMO.name)
    with voila_server(root / "demo" / DEMO.name) as (url, log), chromium_page(chromium, (1024, 768)) as page:
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url, timeout=TIMEOUT_MS)
        try:
            page.wait_for_selector(".ssl-demo-page", state="attached")
            for section in SECTIONS:
                box = page.locator(f".ssl-demo-{section.key}")
                box.locator(".widget-image").first.wait_for(state="visible", timeout=60_000)
        except PlaywrightTimeout:
            pytest.fail(f"the page did not render every explorer; it shows:\n{page.inner_text('body')[:3000]}\n"
                        f"voila's log:\n{log.read_text()[-3000:]}")
        body = page.inner_text("body")
        assert [error for error in WIDGET_ERRORS if error in body] == []
        assert page.locator(".ssl-demo-missing").count() == 0
        assert page.locator(".ssl-demo-section").count() == len(SECTIONS)
        for section in SECTIONS:
            box = page.locator(f".ssl-demo-{section.key}")
            assert section.title in box.inner_text()
            src = box.locator(".widget-image").first.get_attribute("src")
            assert src and (src.startswith("blob:") or src.startswith("data:image/png")), src
            assert box.locator(".widget-slider, .widget-dropdown, .widget-toggle-buttons").count() > 0

        # A control answers through Voila's kernel: four steps of the mask-ratio slider redraw the masks.
        masking = page.locator(".ssl-demo-masking")
        before = masking.locator(".widget-image").first.get_attribute("src")
        handle = masking.locator(".widget-slider .noUi-handle").first
        handle.focus()
        for _ in range(4):
            handle.press("ArrowRight")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and masking.locator(".widget-image").first.get_attribute("src") == before:
            time.sleep(0.2)
        assert masking.locator(".widget-image").first.get_attribute("src") != before
        assert masking.locator(".widget-readout").first.inner_text().strip() == "0.70"


# ----------------------------------------------------------------------------------------------------------
# `python3 course.py demo`
# ----------------------------------------------------------------------------------------------------------


def load_course_py():
    from scripts_loader import load_script

    return load_script("course.py")


def test_course_py_demo_saves_the_encoders_then_serves_the_page(monkeypatch, capsys):
    course = load_course_py()
    calls = []
    monkeypatch.setattr(course.subprocess, "call", lambda command, cwd: calls.append((command, cwd)) or 0)
    assert course.demo(["--no-browser", "--port", "8867"]) == 0
    (prepare_command, prepare_cwd), (voila_command, voila_cwd) = calls
    assert prepare_command[1:] == ["-m", "ssl_helpers.lecture", "prepare", "--demo-dir", "demo/checkpoints",
                                   "--course-dir", "notebooks/checkpoints"] and prepare_cwd == ROOT
    assert voila_command[1:] == ["-m", "voila", "lecture.ipynb", "--no-browser", "--port", "8867"]
    assert voila_cwd == ROOT / "demo" and (voila_cwd / voila_command[3]).is_file()

    calls.clear()  # a failed preparation serves nothing
    monkeypatch.setattr(course.subprocess, "call", lambda command, cwd: calls.append(command) or 1)
    assert course.demo([]) == 1 and len(calls) == 1

    assert course.main([]) == 2  # the usage names all three commands
    usage = capsys.readouterr().out
    assert all(f"python3 course.py {command}" in usage for command in ("lab", "demo", "test"))


def test_lecture_prepare_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        lecture.main(["prepare", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "error: argument --epochs: must be at least 1, got 0" in capsys.readouterr().err
