"""Execute notebooks top to bottom in place, so their committed outputs come from the current code, and measure
what each one costs: wall time and peak memory. This is the one command that regenerates the outputs.

    .venv/bin/python scripts/execute_notebooks.py                 # every notebook in notebooks/
    .venv/bin/python scripts/execute_notebooks.py 01_why_self_supervised.ipynb
    .venv/bin/python scripts/execute_notebooks.py --no-save       # measure only, leave the notebooks as they are
    .venv/bin/python scripts/execute_notebooks.py --check         # exit 1 when a notebook is over its budget

Each notebook runs in a fresh kernel with notebooks/ as its working directory, as "restart and run all" does.
Wall time runs from starting the kernel to the last cell's end. Peak memory is the larger of (a) the resident
memory (RSS) of the kernel and all its child processes, summed and sampled every 50 ms with psutil, and (b) the
kernel's own `ru_maxrss`, read by one extra cell appended for the measurement and dropped before saving.

The table of the notebooks measured goes to stdout (markdown) and into docs/budgets.md, where the rows of
notebooks not measured this time are kept (each row has its date). A notebook that fails is not saved.
Budgets (docs/DESIGN): at most 120 s and 1.5 GB per notebook, at most 10 minutes for the whole course.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TABLE = ROOT / "docs" / "budgets.md"
BUDGET_SECONDS, BUDGET_MB, COURSE_SECONDS = 120.0, 1536.0, 600.0
MB = 1024 * 1024

PEAK_CELL = """# measurement cell added by scripts/execute_notebooks.py (never saved)
import json as _json, resource as _resource
print("SSL_PEAK_RSS_KB", _json.dumps([_resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss,
                                      _resource.getrusage(_resource.RUSAGE_CHILDREN).ru_maxrss]))"""


@dataclass
class Measurement:
    notebook: str
    seconds: float
    peak_mb: float
    date: str
    error: str = ""
    cpu_seconds: float = float("nan")

    @property
    def within_budget(self) -> bool:
        return not self.error and self.seconds <= BUDGET_SECONDS and self.peak_mb <= BUDGET_MB


class TreeSampler(threading.Thread):
    """Samples the summed RSS (bytes) of a process and its descendants until stopped; keeps the maximum.

    Also keeps the CPU time (user + system, s) each process of the tree had used when last seen: on a shared
    machine, wall time grows with the load much more than CPU time does.
    """

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self.cpu_by_pid: dict = {}
        self._stop_event = threading.Event()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_pid.values())

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            total = 0
            try:
                for process in [root, *root.children(recursive=True)]:
                    try:
                        total += process.memory_info().rss
                        times = process.cpu_times()
                        self.cpu_by_pid[process.pid] = times.user + times.system
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            self.peak = max(self.peak, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=5)
        return self.peak


def kernel_pid(client: NotebookClient) -> Optional[int]:
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None) or getattr(provisioner, "pid", None)


def peak_from_outputs(cell) -> float:
    """The kernel's own peak RSS in MB, from the measurement cell's printed `ru_maxrss` (KB on Linux)."""
    for output in cell.get("outputs", []):
        match = re.search(r"SSL_PEAK_RSS_KB (\[.*\])", output.get("text", ""))
        if match:
            own, children = json.loads(match.group(1))
            scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux kilobytes
            return max(own, children) * scale / MB
    return 0.0


def execute(path: Path, timeout: int = 600, save: bool = True) -> Measurement:
    """Run `path` in a fresh kernel (cwd: its folder); save it in place unless `save` is False or it failed."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    sampler: list = []

    def start_sampling(**_):
        pid = kernel_pid(client)
        if pid:
            sampler.append(TreeSampler(pid))
            sampler[0].start()

    client.on_notebook_start = start_sampling
    date = dt.date.today().isoformat()
    started = time.perf_counter()
    error = ""
    try:
        client.execute()
    except CellExecutionError as failure:
        error = str(failure).strip().splitlines()[-1][:200] if str(failure).strip() else "cell error"
    seconds = time.perf_counter() - started
    tree_mb = sampler[0].stop() / MB if sampler else 0.0
    cpu_seconds = sampler[0].cpu_seconds if sampler else float("nan")
    measurement = nb.cells.pop()  # the extra cell takes milliseconds, inside `seconds`
    peak_mb = max(tree_mb, peak_from_outputs(measurement))
    if save and not error:
        nbformat.write(nb, path)
    return Measurement(path.name, seconds, peak_mb, date, error, cpu_seconds)


def torch_import_mb() -> float:
    """Peak RSS (MB) of a fresh Python that only imports torch: the floor under every notebook's peak."""
    import subprocess

    probe = "import resource, torch; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
        return float(out.stdout.split()[-1]) * (1 if sys.platform == "darwin" else 1024) / MB
    except (subprocess.SubprocessError, ValueError, IndexError):
        return float("nan")


def machine_line() -> str:
    cores = os.cpu_count()
    try:
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        load = "n/a"
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return (f"{platform.system()} {platform.machine()}, {cores} CPU cores, Python {platform.python_version()}, "
            f"torch {torch_version}; load average at the end of the run: {load}")


def read_rows(path: Path) -> dict:
    """Rows of a table written by `write_table`, keyed by notebook name (for keeping unmeasured ones)."""
    rows = {}
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        match = re.match(r"\| `([^`]+\.ipynb)` \| ([\d.]+) \| ([\d.]+) \| [^|]* \| ([\d-]+) \|(?: ([\d.]+|nan) \|)?",
                         line)
        if match:
            rows[match.group(1)] = Measurement(match.group(1), float(match.group(2)), float(match.group(3)),
                                               match.group(4), cpu_seconds=float(match.group(5) or "nan"))
    return rows


def table(measurements: list) -> str:
    lines = ["| notebook | wall time (s) | peak memory (MB) | within budget | measured | kernel CPU time (s) |",
             "|---|---:|---:|---|---|---:|"]
    for m in measurements:
        verdict = f"no: {m.error}" if m.error else ("yes" if m.within_budget else "**no**")
        lines.append(f"| `{m.notebook}` | {m.seconds:.1f} | {m.peak_mb:.0f} | {verdict} | {m.date} | "
                     f"{m.cpu_seconds:.1f} |")
    total = sum(m.seconds for m in measurements)
    cpu = sum(m.cpu_seconds for m in measurements)
    peak = max((m.peak_mb for m in measurements), default=0.0)
    course_ok = "yes" if total <= COURSE_SECONDS and all(m.within_budget for m in measurements) else "**no**"
    lines.append(f"| **whole course** | {total:.1f} | {peak:.0f} (largest) | {course_ok} | | {cpu:.1f} |")
    return "\n".join(lines)


def write_table(measurements: list, path: Path = TABLE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Measured budgets\n\n"
        "Wall time (fresh kernel to last cell) and peak memory (RSS of the kernel and its child processes) of\n"
        "each notebook as committed, CPU tier, written by `.venv/bin/python scripts/execute_notebooks.py`.\n"
        f"Budgets: at most {BUDGET_SECONDS:.0f} s and {BUDGET_MB / 1024:.1f} GB per notebook, at most "
        f"{COURSE_SECONDS / 60:.0f} minutes for the course.\n\n"
        f"Machine: {machine_line()}.\n"
        f"A bare `import torch` peaks at {torch_import_mb():.0f} MB with this torch build (a CUDA build of PyTorch\n"
        "maps its CUDA libraries at import; the CPU-only build of environment.yml, as on Binder, needs less).\n"
        "Times taken on a shared machine while other jobs run are pessimistic. The kernel's CPU time (user +\n"
        "system, all its processes) depends much less on the load (threads spinning while they wait for a core\n"
        "still add some); on an idle 2-core machine the wall time lies roughly between half the CPU time (both\n"
        "cores busy) and the CPU time plus a few seconds of start-up.\n\n"
        f"{table(measurements)}\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook file names in notebooks/ (default: all)")
    parser.add_argument("--no-save", action="store_true", help="measure only; do not rewrite the notebooks")
    parser.add_argument("--table", type=Path, default=TABLE, help=f"markdown table to update (default {TABLE})")
    parser.add_argument("--check", action="store_true", help="exit 1 when a notebook or the course is over budget")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    paths = [NOTEBOOKS / name for name in args.names] if args.names else sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    measured = []
    for path in paths:
        m = execute(path, timeout=args.timeout, save=not args.no_save)
        status = f"FAILED ({m.error})" if m.error else ("ok" if m.within_budget else "OVER BUDGET")
        print(f"{m.notebook}: {m.seconds:.1f} s, peak {m.peak_mb:.0f} MB, kernel CPU {m.cpu_seconds:.1f} s, "
              f"{status}", flush=True)
        measured.append(m)

    rows = read_rows(args.table)
    rows.update({m.notebook: m for m in measured})
    existing = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    everything = [rows[name] for name in sorted(rows) if name in existing]
    write_table(everything, args.table)
    print(f"\n{table(measured)}\n\n(table of all notebooks written to {args.table})")

    failed = any(m.error for m in measured)
    over = not all(m.within_budget for m in everything) or sum(m.seconds for m in everything) > COURSE_SECONDS
    return 1 if failed or (args.check and over) else 0


if __name__ == "__main__":
    sys.exit(main())
