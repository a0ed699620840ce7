"""Do a notebook's verdicts survive a re-run? Execute it twice, with 1 and with 2 CPU threads, and compare the
verdicts each execution records (`ssl_helpers.verdicts.VerdictLog`, written where `SSL_VERDICTS` points), not
its printed text.

Float sums are ordered differently with another thread count, as they are on another CPU, and training amplifies
the difference like a new seed. On this course's machines one and two threads alone changed no embedding of the
shipped encoders (scripts/checkpoint_spread.py), so the second execution also runs PyTorch's and oneDNN's AVX2
kernels (`ATEN_CPU_CAPABILITY=avx2`, `ONEDNN_MAX_CPU_ISA=AVX2`; on an AVX-512 machine these are the kernels an AMD
EPYC without AVX-512 runs, and they reproduce its scores exactly); on a machine without AVX-512, where AVX2 is
what it runs anyway, the second execution runs oneDNN's SSE4.1 convolutions instead (`ONEDNN_MAX_CPU_ISA=SSE41`:
summed in another order); `--same-kernels` leaves them alone. The script
first shows that the two executions' recorded measures (final losses)
differ, else it says the check proved nothing; then it lists every verdict whose kind (ahead / tie / no verdict)
or leader changed. A notebook's prose may cite only the verdicts this check finds stable.

    .venv/bin/python scripts/rerun_check.py 07_beyond_negatives            # one notebook
    .venv/bin/python scripts/rerun_check.py                                # every notebook (about 2x the course)
    .venv/bin/python scripts/rerun_check.py --json build/rerun_check.json  # also the machine-readable result

It is a script, not part of the test suite (it runs each notebook twice).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from execute_notebooks import NOTEBOOKS, execute, source_path  # noqa: E402


OTHER_CPU = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""The kernels of a CPU without AVX-512 (the second execution's on a machine with AVX-512, unless --same-kernels)."""
OLDER_CPU = {"ONEDNN_MAX_CPU_ISA": "SSE41"}
"""oneDNN's kernels of an older CPU (SSE4.1: the second execution's on a machine without AVX-512, where AVX2 is what
it runs anyway: there 1 vs 2 threads and AVX2 left notebook 09's features bit-identical; oneDNN's SSE4.1
convolutions change them. PyTorch's own kernels stay vectorised: `ATEN_CPU_CAPABILITY=default` changes them too,
but made notebook 09 about four times slower)."""


def other_kernels(cpu_flags: str = None) -> dict:
    """The second execution's kernels: another CPU's than this machine's own. `cpu_flags`: /proc/cpuinfo's flags
    (read here when None; empty where there is none, e.g. macOS: then AVX2's, as before)."""
    if cpu_flags is None:
        try:
            cpu_flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpu_flags = ""
    has_avx2, has_avx512 = " avx2" in cpu_flags, " avx512f" in cpu_flags
    return OLDER_CPU if has_avx2 and not has_avx512 else OTHER_CPU


def execute_with(path: Path, threads: int, folder: Path, kernels: dict) -> dict:
    os.environ.update(SSL_THREADS=str(threads), SSL_VERDICTS=str(folder), SSL_PROGRESS="0", **kernels)
    for name in ("SSL_RUN", "SSL_RUNS_DIR"):
        os.environ.pop(name, None)
    try:
        measured = execute(path, timeout=3600, save=False)  # 1 thread, or 2 on a busy machine, is slow
    finally:
        for name in kernels:
            os.environ.pop(name, None)
    if measured.error:
        raise SystemExit(f"{path.stem} with {threads} thread(s) failed: {measured.error}")
    record = folder / f"{path.stem}.json"
    if not record.is_file():
        return {"measures": {}, "verdicts": [], "seconds": measured.seconds}
    return {**json.loads(record.read_text()), "seconds": measured.seconds}


def key(v: dict) -> tuple:
    return (v["a"], v["b"], v["probe"], v["probe_b"], str(v["labels_per_class"]))


def compare_records(one: dict, two: dict) -> dict:
    """{"measures_differ", "measures", "changed", "stable", "only_in_one"} of two executions' records."""
    measures = {name: (one["measures"].get(name), two["measures"].get(name))
                for name in dict.fromkeys([*one["measures"], *two["measures"]])}
    first = {key(v): v for v in one["verdicts"]}
    second = {key(v): v for v in two["verdicts"]}
    changed, stable = [], []
    for k in first.keys() & second.keys():
        a, b = first[k], second[k]
        entry = {"verdict": " | ".join(k), "1 thread": a["text"], "2 threads": b["text"]}
        (changed if (a["kind"], a["leader"]) != (b["kind"], b["leader"]) else stable).append(entry)
    return {"measures_differ": any(x != y for x, y in measures.values()), "measures": measures,
            "changed": changed, "stable": len(stable),
            "only_in_one": sorted(" | ".join(k) for k in first.keys() ^ second.keys())}


def check(path: Path, use_other_kernels: bool = True) -> dict:
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        first = execute_with(path, 1, Path(one), {})
        second = execute_with(path, 2, Path(two), other_kernels() if use_other_kernels else {})
        result = {**compare_records(first, second), "verdicts": [v["text"] for v in first["verdicts"]]}
    print(f"\n## {path.stem}")
    if not result["measures"]:
        print("  no measures recorded: the notebook records no VerdictLog.measure, so nothing shows the two runs "
              "differ")
    elif not result["measures_differ"]:
        print("  the two executions' measures are identical: this check proved nothing for this notebook")
    else:
        print("  measures (1 thread | 2 threads, other kernels): " + "; ".join(f"{n} {x} | {y}" for n, (x, y)
                                                                  in result["measures"].items()))
    print(f"  {result['stable']} verdicts kept their kind, {len(result['changed'])} changed")
    for entry in result["changed"]:
        print(f"  CHANGED {entry['verdict']}\n    1 thread:  {entry['1 thread']}\n    2 threads: {entry['2 threads']}")
    for entry in result["only_in_one"]:
        print(f"  only in one execution: {entry}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks (default: every one)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    parser.add_argument("--same-kernels", action="store_true",
                        help="the second execution changes the thread count only (not the CPU kernels)")
    args = parser.parse_args(argv)
    paths = ([source_path(n) for n in args.names] if args.names else sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")))
    results = {path.stem: check(path, not args.same_kernels) for path in paths}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    unproven = [n for n, r in results.items() if not r["measures_differ"]]
    changed = {n: len(r["changed"]) for n, r in results.items() if r["changed"]}
    print(f"\n{len(results)} notebooks; verdicts changed in {changed or 'none'}; "
          f"not shown to differ: {unproven or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
