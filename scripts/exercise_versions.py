"""Write the instructor version (solutions filled in) and the student version (stubs) of the notebooks.

One source: each solution lives once, between `# BEGIN SOLUTION` / `# END SOLUTION` in a function of
`ssl_helpers.exercises` (`SOLUTIONS`). The committed notebooks are the student version (stubs that raise
NotImplementedError, tagged `# EXERCISE <tag>`); the instructor version replaces each tagged stub line by the
solution's lines. Each version is written as the jupytext source (`.py`) and a notebook (`.ipynb`); the student
notebooks are the committed, executed ones (their checks say "not attempted yet"), the instructor ones are not
executed (run them, or see tests/test_notebooks_solved.py, which does):

    .venv/bin/python scripts/exercise_versions.py --solved instructor/ --student student/ [notebooks/05_*.py ...]
"""
from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

STUB = re.compile(r"^(?P<indent>\s*)raise NotImplementedError.*# EXERCISE (?P<tag>\w+)")


def solution_lines(tag: str) -> list[str]:
    """The lines between the markers of the solution for `tag`, dedented to no indent."""
    from ssl_helpers.exercises import SOLUTIONS
    if tag not in SOLUTIONS:
        raise KeyError(f"no solution for exercise tag {tag!r}; known: {sorted(SOLUTIONS)}")
    source = inspect.getsource(SOLUTIONS[tag]).splitlines()
    start = next(i for i, line in enumerate(source) if "BEGIN SOLUTION" in line)
    end = next(i for i, line in enumerate(source) if "END SOLUTION" in line)
    body = source[start + 1:end]
    indent = min(len(line) - len(line.lstrip()) for line in body if line.strip())
    return [line[indent:] for line in body]


def solved_source(text: str) -> str:
    """`text` with every tagged stub replaced by its solution."""
    out = []
    for line in text.splitlines():
        match = STUB.match(line)
        if match:
            out.extend(match["indent"] + s if s else s for s in solution_lines(match["tag"]))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def write_version(source: Path, folder: Path, solved: bool) -> list[Path]:
    """Write `source` (a notebook's .py) into `folder` as .py and .ipynb: solved, or as the student gets it."""
    import shutil

    import jupytext

    folder.mkdir(parents=True, exist_ok=True)
    text = source.read_text()
    target = folder / source.name
    target.write_text(solved_source(text) if solved else text)
    notebook = target.with_suffix(".ipynb")
    executed = source.with_suffix(".ipynb")
    if not solved and executed.is_file():
        shutil.copyfile(executed, notebook)
    else:
        jupytext.write(jupytext.reads(target.read_text(), fmt="py:percent"), notebook)
    return [target, notebook]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solved", type=Path, help="folder for the instructor version (solutions filled in)")
    parser.add_argument("--student", type=Path, help="folder for the student version (stubs)")
    parser.add_argument("sources", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.solved is None and args.student is None:
        parser.error("give --solved FOLDER, --student FOLDER, or both")
    sources = args.sources or sorted(Path("notebooks").glob("[0-9][0-9]_*.py"))
    for source in sources:
        if not source.is_file():
            parser.error(f"no notebook source {source}")
        for folder, solved in ((args.solved, True), (args.student, False)):
            if folder is not None:
                for path in write_version(source, folder, solved):
                    print(f"wrote {path}")


if __name__ == "__main__":
    main()
