"""Execute notebooks top to bottom in place, so their committed outputs come from the current code.

    .venv/bin/python scripts/execute_notebooks.py                 # every notebook in notebooks/
    .venv/bin/python scripts/execute_notebooks.py 01_why_self_supervised.ipynb

Each runs in a fresh kernel with notebooks/ as its working directory; prints the wall time of each.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - started
    nbformat.write(nb, path)
    return seconds


def main(names):
    paths = [NOTEBOOKS / name for name in names] if names else sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: {execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
