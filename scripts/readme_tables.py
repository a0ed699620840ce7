"""The README's generated tables, written from the executed notebooks and checked against them.

    .venv/bin/python scripts/readme_tables.py            # rewrite the tables between the README's markers
    .venv/bin/python scripts/readme_tables.py --check    # exit 1 when the README disagrees with the notebooks

Four tables, each between `<!-- BEGIN name -->` and `<!-- END name -->` in README.md:
- `notebooks`: the list of notebooks (title from each notebook's first heading, Colab badge from `ssl_helpers.REPOSITORY`);
- `results`: the markdown table printed by the cell of notebook 09 whose source starts with `# README: results`
  (every row with its pre-training budget column: epochs, images seen and training seconds where recorded);
- `budgets`: wall time, peak memory and kernel CPU time of every notebook, stored in each executed notebook's
  metadata (`ssl_budget`) by `scripts/execute_notebooks.py`;
- `exercises`: every notebook's exercises and how many typical mistakes each check names, from
  `ssl_helpers.exercises.EXERCISES` (the checks themselves).
Nothing in these tables is typed by hand: change the notebook, re-execute it, run this script.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
RESULTS_NOTEBOOK = "09_transfer_learning.ipynb"
RESULTS_MARK = "# README: results"
BUDGET_SECONDS, BUDGET_MB = 120.0, 1536.0
DESIGN_NOTEBOOKS, DESIGN_COURSE_SECONDS = 8, 600.0
"""The course design's whole-course budget: 10 minutes for its eight notebooks, i.e. 75 s per notebook on average.
A notebook added since (issue 23's 08) brings the same average, not more: `course_seconds(n)` = 75 s x n."""


REFERENCE_CALIBRATION_MS = 48.0
"""The calibration (ms per fixed training step, `execute_notebooks.calibration_ms`) of the machine the budgets are
stated for: the course's 2-core reference machine (an Intel CPU with AVX-512), which read 45.9-48.0 ms/step when
nothing else ran. A notebook measured on another machine is held to its budget at the reference speed."""


def reference_seconds(seconds: float, calibration_ms) -> float:
    """A wall time measured on a machine whose calibration is `calibration_ms`, at the reference machine's speed:
    seconds x REFERENCE_CALIBRATION_MS / calibration_ms (a machine twice as slow per step takes about twice as long).
    Without a calibration the measured time stands."""
    if not calibration_ms or calibration_ms != calibration_ms or calibration_ms <= 0:
        return seconds
    return seconds * REFERENCE_CALIBRATION_MS / calibration_ms


def course_seconds(notebooks: int) -> float:
    """The whole-course budget for `notebooks` notebooks: the design's average per notebook, times their number."""
    return DESIGN_COURSE_SECONDS * max(notebooks, DESIGN_NOTEBOOKS) / DESIGN_NOTEBOOKS


def course_notebooks() -> list:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def repository() -> str:
    sys.path.insert(0, str(ROOT))
    from ssl_helpers import REPOSITORY

    return REPOSITORY


def notebooks_table() -> str:
    slug = repository()
    lines = ["| # | notebook | Colab |", "|---|---|---|"]
    for path in course_notebooks():
        nb = nbformat.read(path, as_version=4)
        heading = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
        number, _, title = heading.partition(". ")
        url = f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{path.name}"
        badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
        lines.append(f"| {number} | [{title}](notebooks/{path.name}) | {badge} |")
    return "\n".join(lines)


def results_table() -> str:
    nb = nbformat.read(NOTEBOOKS / RESULTS_NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(RESULTS_MARK):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            table = "\n".join(line for line in text.splitlines() if line.startswith("|"))
            if table and "budget" not in table.splitlines()[0]:
                raise ValueError(f"the `{RESULTS_MARK}` cell of {RESULTS_NOTEBOOK} printed a table without the "
                                 f"pre-training budget column: re-execute the notebook")
            if table:
                return table
            raise ValueError(f"the `{RESULTS_MARK}` cell of {RESULTS_NOTEBOOK} printed no markdown table: "
                             f"re-execute the notebook")
    raise ValueError(f"{RESULTS_NOTEBOOK} has no code cell starting with `{RESULTS_MARK}`")


def budgets_table() -> str:
    lines = ["| notebook | wall time (s) | at reference speed (s) | peak memory (MB) | kernel CPU time (s) | "
             "within budget | measured | calibration (ms/step) |", "|---|---:|---:|---:|---:|---|---|---:|"]
    total = at_reference = cpu = peak = 0.0
    all_ok = True
    for path in course_notebooks():
        budget = nbformat.read(path, as_version=4).metadata.get("ssl_budget")
        if not budget:
            lines.append(f"| `{path.name}` | not measured | | | | | | |")
            all_ok = False
            continue
        scaled = reference_seconds(budget["seconds"], budget.get("calibration_ms"))
        ok = scaled <= BUDGET_SECONDS and budget["peak_mb"] <= BUDGET_MB
        all_ok &= ok
        total, at_reference = total + budget["seconds"], at_reference + scaled
        cpu, peak = cpu + budget["cpu_seconds"], max(peak, budget["peak_mb"])
        lines.append(f"| `{path.name}` | {budget['seconds']:.1f} | {scaled:.1f} | {budget['peak_mb']:.0f} | "
                     f"{budget['cpu_seconds']:.1f} | {'yes' if ok else '**no**'} | {budget['date']} | "
                     f"{budget.get('calibration_ms', 'n/a')} |")
    course_ok = "yes" if all_ok and at_reference <= course_seconds(len(course_notebooks())) else "**no**"
    lines.append(f"| **whole course** | {total:.1f} | {at_reference:.1f} | {peak:.0f} (largest) | {cpu:.1f} | "
                 f"{course_ok} | | |")
    return "\n".join(lines)


def exercises_table() -> str:
    sys.path.insert(0, str(ROOT))
    from ssl_helpers.exercises import EXERCISES

    lines = ["| notebook | exercise | typical mistakes the check names |", "|---|---|---:|"]
    for notebook, exercises in EXERCISES.items():
        for exercise in exercises:
            lines.append(f"| `{notebook}` | {exercise.name} | {len(exercise.mistakes) + len(exercise.probes)} |")
    total = sum(len(exercises) for exercises in EXERCISES.values())
    lines.append(f"| **{len(EXERCISES)} notebooks** | **{total} exercises** | |")
    return "\n".join(lines)


TABLES = {"notebooks": notebooks_table, "results": results_table, "budgets": budgets_table,
          "exercises": exercises_table}


def replace_between_markers(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(\n<!-- END {name} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README.md has no `<!-- BEGIN {name} -->` ... `<!-- END {name} -->` markers")
    return pattern.sub(lambda m: m.group(1) + content + m.group(2), text)


def generated_readme(text: str) -> str:
    for name, make in TABLES.items():
        text = replace_between_markers(text, name, make())
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when the README is out of date")
    args = parser.parse_args(argv)
    current = README.read_text()
    wanted = generated_readme(current)
    if args.check:
        if wanted != current:
            print("README.md's generated tables differ from the notebooks: run .venv/bin/python scripts/readme_tables.py")
            return 1
        print("README.md's tables agree with the executed notebooks")
        return 0
    README.write_text(wanted)
    print("README.md tables rewritten from the executed notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
