"""Set up the course and open it, open the lecture demo, or set it up and run every test.

    python3 course.py lab     # create .venv, install ssl_helpers[test], open JupyterLab on notebooks/
    python3 course.py demo    # the same set-up, then every explorer on one page (Voila), for a lecture
    python3 course.py test    # the same set-up, then run the whole test suite (what CI runs; before you push)
    python3 course.py test --quick   # only the fast tier: unit, loss, method, exercise tests (minutes)

`test --quick` runs pytest on tests/ with `-m "not notebook and not browser and not slow"`: no notebook is
executed (nbval's cells, solved notebooks, the FULL_RUN smoke run), no browser is started, no single slow test
runs (the markers are registered in pyproject.toml). Use it in your own edit-and-test loop; run the full `test`,
which adds every notebook and the real-browser tests, before you push.

Every command installs the package with its `test` extra (pytest, Playwright, Voila, ...), so one set-up
serves all three. `demo` first makes sure each encoder the page needs is saved: the notebooks' checkpoints in
notebooks/checkpoints/, else a quick stand-in trained now (a progress bar each, once) and kept in
demo/checkpoints/; then Voila opens demo/lecture.ipynb in the browser, so nothing trains during the lecture.
With CI=true, `test` also installs Debian's Chromium for the real-browser tests when it is missing.
Only the standard library is used here, so this works on a fresh machine with nothing but Python 3.
The virtual environment lives in `.venv/` next to this file; set-up is skipped when `pyproject.toml`
has not changed since the last install. Extra arguments after `test` (or `test --quick`) go to pytest, after `lab` to
JupyterLab, after `demo` to Voila (e.g. `--no-browser --port 8867`).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".ssl_helpers-installed"


def venv_bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def requirements_fingerprint(extra: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(extra.encode())
    return digest.hexdigest()


def run(cmd: list[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def set_up(extra: str) -> None:
    """Create `.venv` and install the package (editable) with the given extra, once."""
    if not venv_bin("python").exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = requirements_fingerprint(extra)
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    python = venv_bin("python")
    target = f".[{extra}]" if extra else "."
    run([python, "-m", "pip", "install", "--upgrade", "pip"])
    run([python, "-m", "pip", "install", "-e", target])
    STAMP.write_text(fingerprint)


def install_browser_for_ci() -> None:
    """In CI (CI=true) the real-browser widget test is required: install Debian's Chromium when it is missing.

    On a student's machine nothing is installed; that test is then skipped with the reason shown.
    """
    if os.environ.get("CI") != "true" or shutil.which("chromium") or not shutil.which("apt-get"):
        return
    print("Installing Chromium for the real-browser widget test", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env)


QUICK = "--quick"
QUICK_MARKERS = "not notebook and not browser and not slow"


def quick_pytest_args(extra: list[str]) -> list[str]:
    """pytest's arguments for `test --quick` followed by the `extra` ones: tests/ (not notebooks/, so nbval collects
    no course notebook) unless `extra` names test files or folders itself, without the tiers marked `notebook`,
    `browser` and `slow` (the test modules mark themselves; tests/conftest.py marks nbval's cells)."""
    names_paths = any(not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in extra)
    return [*([] if names_paths else ["tests"]), "-m", QUICK_MARKERS, *extra]


def demo(voila_args: list[str]) -> int:
    """Save the encoders the lecture page needs (quick stand-ins where the notebooks saved none), then serve it."""
    python = str(venv_bin("python"))
    prepared = subprocess.call([python, "-m", "ssl_helpers.lecture", "prepare", "--demo-dir", "demo/checkpoints",
                                "--course-dir", "notebooks/checkpoints"], cwd=ROOT)
    if prepared:
        return prepared
    return subprocess.call([python, "-m", "voila", "lecture.ipynb", *voila_args], cwd=ROOT / "demo")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"lab", "demo", "test", "setup"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    set_up("test")
    if command == "setup":
        return 0
    if command == "lab":
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        return subprocess.call([str(venv_bin("jupyter")), "lab", "notebooks/", *as_root, *rest], cwd=ROOT)
    if command == "demo":
        return demo(rest)
    if QUICK in rest:
        extra = [arg for arg in rest if arg != QUICK]
        return subprocess.call([str(venv_bin("python")), "-m", "pytest", *quick_pytest_args(extra)], cwd=ROOT)
    install_browser_for_ci()
    return subprocess.call([str(venv_bin("python")), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
