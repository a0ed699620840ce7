"""Run JupyterLab and a headless Chromium for the real-browser widget test, and clean both up afterwards.

    with jupyter_lab(folder) as lab:                  # JupyterLab on 127.0.0.1:<free port> with a token
        with chromium_page(find_chromium()) as page:  # Playwright driving Debian's Chromium (no download)
            page.goto(lab.url("lab/tree/notebook.ipynb"))

The browser is the system one (`/usr/bin/chromium`, Debian's `chromium` package, or `$SSL_CHROMIUM`):
Playwright's own browser download needs the internet, so it is never used. Where no browser is found,
`require_or_skip` skips the test with the reason on a student's machine and fails it in CI (`CI=true`).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_or_skip(condition: bool, reason: str) -> None:
    """Missing tooling: a failure in CI (the browser test is required there), a visible skip elsewhere."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the real-browser test is required; .ci/run installs Chromium)")
    pytest.skip(reason)


def find_chromium() -> Optional[str]:
    """The path of a Chromium executable: `$SSL_CHROMIUM`, else Debian's `/usr/bin/chromium`, else on PATH."""
    explicit = os.environ.get("SSL_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for candidate in CHROMIUM_CANDIDATES:
        found = candidate if Path(candidate).is_absolute() and Path(candidate).exists() else shutil.which(candidate)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    port: int
    token: str
    process: subprocess.Popen
    log: Path

    def url(self, path: str = "lab") -> str:
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}{separator}token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _wait_until_up(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {lab.process.returncode}:\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(lab.url("api/status"), timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{lab.log_tail()}")


def _stop(lab: Lab) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure its process is gone.

    The server stays in the test's process group, so an interrupted test run takes it down too; its kernels
    exit on their own when their parent goes (ipykernel watches its parent process).
    """
    if lab.process.poll() is None:
        try:
            request = urllib.request.Request(lab.url("api/shutdown"), method="POST")
            urllib.request.urlopen(request, timeout=5).close()
        except Exception:
            pass
        try:
            lab.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            lab.process.terminate()
            try:
                lab.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                lab.process.kill()
                lab.process.wait(timeout=10)


@contextlib.contextmanager
def jupyter_lab(root_dir: Path, python: str = sys.executable, timeout: float = 120) -> Iterator[Lab]:
    """JupyterLab serving `root_dir` on 127.0.0.1 with a random token; settings and workspaces in a temp dir.

    `python` is the interpreter that runs the server and hence the `python3` kernel (default: this one).
    """
    with tempfile.TemporaryDirectory(prefix="ssl-lab-") as scratch:
        scratch = Path(scratch)
        port, token = free_port(), secrets.token_hex(16)
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(scratch / "runtime"), PYTHONUNBUFFERED="1")
        env.pop("JUPYTER_TOKEN", None)
        command = [
            python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}", "--expose-app-in-browser",
            f"--LabApp.user_settings_dir={scratch / 'settings'}",
            f"--LabApp.workspaces_dir={scratch / 'workspaces'}", "--LabApp.news_url=",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI runs as root in a throwaway container
            command.append("--allow-root")
        notification = scratch / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no toast over screenshots
        log = scratch / "lab.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                       cwd=root_dir)
            lab = Lab(port=port, token=token, process=process, log=log)
            try:
                _wait_until_up(lab, timeout)
                yield lab
            finally:
                _stop(lab)


@contextlib.contextmanager
def chromium_page(executable: str, viewport=(1280, 900)):
    """A Playwright page in a headless system Chromium with a throwaway profile; closed on exit."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ssl-chromium-") as profile:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": viewport[0], "height": viewport[1]},
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                yield page
            finally:
                context.close()


def browser_or_skip() -> str:
    """Debian's Chromium and the playwright package, or a skip (a failure in CI) saying which is missing."""
    executable = find_chromium()
    require_or_skip(executable is not None,
                    "Chromium not found (install Debian's `chromium` package or set SSL_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require_or_skip(False, "the `playwright` package is missing (pip install -e '.[test]')")
    return executable


# ----------------------------------------------------------------------------------------------------------
# Notebooks in the page, and screenshots kept when a browser test fails
# ----------------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"  # ignored by git; CI keeps it as the run's artifacts

KERNEL_READY = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const context = panel && panel.sessionContext;
    const kernel = context && context.session && context.session.kernel;
    return Boolean(context && context.isReady && kernel
                   && kernel.connectionStatus === 'connected' && kernel.status === 'idle');
}"""


def open_notebook(page, lab: Lab, notebook: str) -> None:
    """Open `notebook` (a path under the lab's root) and wait until its kernel is connected and idle.

    The status bar's "Idle" comes earlier, from the REST API; a cell run before the kernel's websocket is up is
    silently dropped, hence the wait on the session context.
    """
    page.goto(lab.url(f"lab/tree/{notebook}"))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_function(KERNEL_READY)


def run_all_cells(page) -> None:
    """Run every cell of the current notebook (JupyterLab's own command, as the Run menu does)."""
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def collapse_left_sidebar(page) -> None:
    """Close the file browser, as a lecturer does on a projector: the notebook takes the window's width."""
    page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); }")


def save_screenshot(page, name: str, folder: Optional[Path] = None, element=None) -> list:
    """A screenshot `<name>.png` in `folder` (a test's tmp_path) and in `test-artifacts/`; returns the paths written.

    Of the whole page by default (JupyterLab scrolls inside the notebook panel, so that is the window), or of
    `element` (a Playwright locator, scrolled into view first). Never raises: a failing test must still report
    its own message."""
    written = []
    for target in ([Path(folder)] if folder is not None else []) + [ARTIFACTS]:
        try:
            target.mkdir(parents=True, exist_ok=True)
            path = target / f"{name}.png"
            if element is not None:
                element.screenshot(path=str(path))
            else:
                page.screenshot(path=str(path), full_page=True)
            written.append(path)
        except Exception as error:  # a closed page, a full disk: say so in the list instead
            written.append(f"{target / name}.png not written ({type(error).__name__}: {error})")
    return written
