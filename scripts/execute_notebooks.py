"""Execute notebooks from their sources, so their committed outputs come from the current code, and measure what
each one costs: wall time and peak memory. This is the one command that regenerates the outputs.

    .venv/bin/python scripts/execute_notebooks.py                 # every notebook in notebooks/, in order
    .venv/bin/python scripts/execute_notebooks.py 02_masked_autoencoding.py      # one (.py, .ipynb or no suffix)
    .venv/bin/python scripts/execute_notebooks.py --no-save       # measure only, leave the notebooks as they are
    .venv/bin/python scripts/execute_notebooks.py --check         # exit 1 when a notebook is over its budget

The source of each notebook is `notebooks/NN_name.py` (jupytext percent format): it is read, executed, and written
to `notebooks/NN_name.ipynb` with its outputs and, in the notebook's metadata (`ssl_budget`), what it cost. Then
`scripts/readme_tables.py` rewrites the README's generated tables (notebooks, results, budgets) from the notebooks.

Each notebook runs in a fresh kernel with notebooks/ as its working directory, as "restart and run all" does.
Wall time runs from starting the kernel to the last cell's end. Peak memory is the larger of (a) the resident
memory (RSS) of the kernel and all its child processes, summed and sampled every 50 ms with psutil, and (b) the
kernel's own `ru_maxrss`, read by one extra cell appended for the measurement and dropped before saving.

The table of the notebooks measured goes to stdout. A notebook that fails is not saved.
Budgets (the course design): at most 120 s and 1.5 GB per notebook, at most 10 minutes for the whole course of eight
notebooks (75 s per notebook on average: 11.25 minutes for nine).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))
import readme_tables  # noqa: E402  (scripts/ is not a package)
from readme_tables import BUDGET_MB, BUDGET_SECONDS, course_seconds, reference_seconds  # noqa: E402  (the budgets: defined once)

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
    calibration_ms: float = float("nan")

    @property
    def reference_seconds(self) -> float:
        """The wall time at the reference machine's speed (readme_tables.reference_seconds): what the budget holds."""
        return reference_seconds(self.seconds, self.calibration_ms)

    @property
    def within_budget(self) -> bool:
        return not self.error and self.reference_seconds <= BUDGET_SECONDS and self.peak_mb <= BUDGET_MB


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
    """Run the notebook whose source is `path` (NN_name.py) in a fresh kernel (cwd: its folder); write
    NN_name.ipynb with the outputs and the measurement unless `save` is False or it failed."""
    nb = jupytext.read(path)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    speed_before = calibration_ms()  # the machine's speed just before and just after (see below)
    # Progress bars are for a student watching a live kernel; saved, they would be stale widgets ("0%" in their
    # text fallback), so the kernel started here draws none (ssl_helpers.train honours SSL_PROGRESS=0).
    os.environ.setdefault("SSL_PROGRESS", "0")
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
    # this machine's speed, so that the budget is held at the reference machine's: on a shared machine the speed
    # drifts by tens of percent within minutes (a single reading after the notebook varied 74-113 ms/step on one
    # machine while the notebook's own time varied 1%), so the mean of a reading before and one after the run
    speed = round((speed_before + calibration_ms()) / 2, 1)
    result = Measurement(path.with_suffix(".ipynb").name, seconds, peak_mb, date, error, cpu_seconds, speed)
    if save and not error:
        nb.metadata["ssl_budget"] = {"seconds": round(seconds, 1), "peak_mb": round(peak_mb), "date": date,
                                     "cpu_seconds": round(cpu_seconds, 1), "machine": machine_line(),
                                     "calibration_ms": speed}
        jupytext.write(nb, path.with_suffix(".ipynb"))
    return result


def calibration_ms(steps: int = 20, readings: int = 3) -> float:
    """The machine's speed as one fixed figure: median ms of one training step (forward, backward, SGD) of the course's
    SmallCNN (width 32) on a batch of 256 images at 12 px, on one thread, in each of `readings` child processes (their
    median). Recorded beside every budget figure, so that figures from different machines compare (a notebook's time
    scales with it; readme_tables.reference_seconds holds the budget at the reference machine's speed)."""
    import subprocess

    code = (
        "import statistics, time, torch\n"
        "from ssl_helpers.models import SmallCNN\n"
        "torch.set_num_threads(1); torch.manual_seed(0)\n"
        "net = SmallCNN(width=32); opt = torch.optim.SGD(net.parameters(), lr=0.01)\n"
        "x = torch.rand(256, 3, 12, 12); times = []\n"
        f"for i in range({steps} + 3):\n"
        "    t = time.perf_counter(); opt.zero_grad(); net(x).pow(2).mean().backward(); opt.step()\n"
        "    times.append(time.perf_counter() - t)\n"
        "print(1000 * statistics.median(times[3:]))\n")
    values = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                   cwd=ROOT).stdout.strip().splitlines()[-1]) for _ in range(readings)]
    return round(statistics.median(values), 1)  # the median of `readings` child processes


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


def table(measurements: list) -> str:
    lines = ["| notebook | wall time (s) | at reference speed (s) | peak memory (MB) | kernel CPU time (s) | status |",
             "|---|---:|---:|---:|---:|---|"]
    for m in measurements:
        verdict = f"failed: {m.error}" if m.error else ("within budget" if m.within_budget else "**over budget**")
        lines.append(f"| `{m.notebook}` | {m.seconds:.1f} | {m.reference_seconds:.1f} | {m.peak_mb:.0f} | "
                     f"{m.cpu_seconds:.1f} | {verdict} |")
    lines.append(f"| **total** | {sum(m.seconds for m in measurements):.1f} | "
                 f"{sum(m.reference_seconds for m in measurements):.1f} | "
                 f"{max((m.peak_mb for m in measurements), default=0):.0f} (largest) | "
                 f"{sum(m.cpu_seconds for m in measurements):.1f} | |")
    return "\n".join(lines)


def source_path(name: str) -> Path:
    stem = Path(name).name
    for suffix in (".ipynb", ".py"):
        stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
    return NOTEBOOKS / f"{stem}.py"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks in notebooks/, e.g. 02_masked_autoencoding (default: all)")
    parser.add_argument("--no-save", action="store_true", help="measure only; do not rewrite the notebooks")
    parser.add_argument("--check", action="store_true", help="exit 1 when a notebook or the course is over budget")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    paths = ([source_path(name) for name in args.names] if args.names
             else sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")))
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

    print(f"\n{table(measured)}\n")
    if not args.no_save:
        readme_tables.main([])
    everything = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        budget = nbformat.read(path, as_version=4).metadata.get("ssl_budget")
        if budget:
            everything.append(Measurement(path.name, budget["seconds"], budget["peak_mb"], budget["date"],
                                          calibration_ms=budget.get("calibration_ms", float("nan"))))
    failed = any(m.error for m in measured)
    course = sum(m.reference_seconds for m in everything)
    over = not all(m.within_budget for m in everything) or course > course_seconds(len(everything))
    return 1 if failed or (args.check and over) else 0


if __name__ == "__main__":
    sys.exit(main())
