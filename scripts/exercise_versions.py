"""Write the solved (instructor) version of the notebook sources.

One source: each solution lives once, between `# BEGIN SOLUTION` / `# END SOLUTION` in a function of
`ssl_helpers.exercises` (`SOLUTIONS`). The committed notebooks ARE the student version (stubs that raise
NotImplementedError, tagged `# EXERCISE <tag>`); this script writes the instructor version, where each tagged stub
line is replaced by the solution lines, into a folder of your choice:

    .venv/bin/python scripts/exercise_versions.py --solved OUT_DIR [notebooks/05_contrastive_losses.py ...]
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solved", required=True, type=Path, help="folder for the instructor version")
    parser.add_argument("sources", nargs="*", type=Path)
    args = parser.parse_args(argv)
    sources = args.sources or sorted(Path("notebooks").glob("[0-9][0-9]_*.py"))
    args.solved.mkdir(parents=True, exist_ok=True)
    for source in sources:
        target = args.solved / source.name
        target.write_text(solved_source(source.read_text()))
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
