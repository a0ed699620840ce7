"""Set up the course and open it, open the lecture demo, or set it up and run every test.

    python3 course.py lab     # create .venv, install ssl_helpers[test], open JupyterLab on notebooks/
    python3 course.py demo    # the same set-up, then every explorer on one page (Voila), for a lecture
    python3 course.py test    # the same set-up, then run the whole test suite (what CI runs; before you push)
    python3 course.py test --quick   # only the fast tier: unit, loss, method, exercise tests (minutes)

`test --quick` runs pytest on tests/ with `-m "not notebook and not browser and not slow"`: no notebook is
executed (the shipped-and-solved run of each notebook, the FULL_RUN smoke run), no browser is started, no slow test
runs (the markers are registered in pyproject.toml). Use it in your own edit-and-test loop; run the full `test`,
which adds every notebook and the real-browser tests, before you push.

Every command installs the package with its `test` extra (pytest, Playwright, Voila, ...), so one set-up
serves all three. `demo` first makes sure each encoder the page needs is saved: the notebooks' checkpoints in
notebooks/checkpoints/, else a quick stand-in trained now (a progress bar each, once) and kept in
demo/checkpoints/; then Voila opens demo/lecture.ipynb in the browser, so nothing trains during the lecture.
With CI=true, `test` also installs Debian's Chromium for the real-browser tests when it is missing.
On Linux without an NVIDIA GPU, set-up first installs PyTorch's CPU wheels (about 200 MB) from PyTorch's CPU
index (https://download.pytorch.org/whl/cpu) instead of the default CUDA wheels (about 2.5 GB); when that index cannot
be reached, one line says so and torch comes from the default index. macOS, Windows and Linux with an NVIDIA GPU
(`nvidia-smi` or /proc/driver/nvidia present) take the default wheels. SSL_TORCH_INDEX=cpu or =default overrides
the choice.
Only the standard library is used here, so this works on a fresh machine with nothing but Python 3.
The virtual environment lives in `.venv/` next to this file; set-up is skipped when `pyproject.toml`
has not changed since the last install. Extra arguments after `test` (or `test --quick`) go to pytest, after `lab` to
JupyterLab, after `demo` to Voila (e.g. `--no-browser --port 8867`).
"""
from __future__ import annotations

import hashlib
import os
import re
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


CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # PyTorch's CPU-only wheels: about 200 MB, not 2.5 GB
TORCH_INDEX_VARIABLE = "SSL_TORCH_INDEX"  # cpu | default: overrides the choice below
CPU_INDEX_UNREACHABLE = ("PyTorch's CPU index cannot be reached; installing torch from the default index "
                         "(CUDA wheels on Linux)")


def has_nvidia_gpu() -> bool:
    """Whether this machine has an NVIDIA driver: `nvidia-smi` on the PATH, /proc/driver/nvidia (Linux) or WSL's
    libcuda (Windows' driver seen from WSL 2)."""
    return (shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia").exists()
            or Path("/usr/lib/wsl/lib/libcuda.so.1").exists())


def torch_index(platform: str, nvidia_gpu: bool, override: str | None = None) -> str:
    """Where torch comes from: "cpu" (PyTorch's CPU index) on Linux without an NVIDIA GPU, else "default" (the
    index pip is configured with: CUDA wheels on Linux, the only wheels on macOS and Windows). `override` (the value
    of SSL_TORCH_INDEX, "cpu" or "default") decides instead when it is set."""
    if override:
        if override not in ("cpu", "default"):
            raise ValueError(f"{TORCH_INDEX_VARIABLE} must be 'cpu' or 'default', got {override!r}")
        return override
    return "cpu" if platform.startswith("linux") and not nvidia_gpu else "default"


def torch_requirements() -> list[str]:
    """torch and torchvision with pyproject.toml's bounds (e.g. `torch>=2.2`), so the later install keeps them."""
    text = (ROOT / "pyproject.toml").read_text()
    found = re.findall(r'^\s*"(torch(?:vision)?\b[^"]*)"', text, flags=re.MULTILINE)
    return found or ["torch", "torchvision"]


def torch_steps(python, platform: str, nvidia_gpu: bool, override: str | None = None) -> list[list[str]]:
    """The pip commands that install torch before the package: one from PyTorch's CPU index alone (a short timeout,
    no retries: an unreachable index fails in seconds), or none (the package's install brings the default wheels).
    `--isolated` keeps pip's configured extra indexes and local wheel folders out of this one step, so that it
    installs CPU wheels from that index or fails (and the default index is used), never another build found
    elsewhere."""
    if torch_index(platform, nvidia_gpu, override) == "default":
        return []
    return [[str(python), "-m", "pip", "--isolated", "install", "--index-url", CPU_INDEX, "--timeout", "10",
             "--retries", "0",
             *torch_requirements()]]


def install_torch(steps: list[list[str]], runner=None) -> None:
    """Run `steps` (from `torch_steps`); when one fails, say in one line that torch comes from the default index and
    go on (the package's install then brings it)."""
    runner = runner or run
    for step in steps:
        try:
            runner(step)
        except subprocess.CalledProcessError:
            print(CPU_INDEX_UNREACHABLE, flush=True)
            return


def set_up(extra: str) -> None:
    """Create `.venv` and install the package (editable) with the given extra, once: on Linux without an NVIDIA GPU
    PyTorch's CPU wheels first (see `torch_steps`)."""
    if not venv_bin("python").exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = requirements_fingerprint(extra)
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    python = venv_bin("python")
    target = f".[{extra}]" if extra else "."
    try:
        steps = torch_steps(python, sys.platform, has_nvidia_gpu(), os.environ.get(TORCH_INDEX_VARIABLE))
    except ValueError as error:
        raise SystemExit(str(error)) from None
    run([python, "-m", "pip", "install", "--upgrade", "pip"])
    install_torch(steps)
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
    """pytest's arguments for `test --quick` followed by the `extra` ones: tests/ unless `extra` names test files or
    folders itself, without the tiers marked `notebook`, `browser` and `slow` (the test modules mark themselves;
    tests/conftest.py marks nbval's cells of tests/browser_*.ipynb)."""
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
