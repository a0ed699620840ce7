"""Point the course at another GitHub repository (a fork) in one command:

    python3 scripts/set_repository.py OWNER/NAME            # rewrite everything, print what changed
    python3 scripts/set_repository.py OWNER/NAME --dry-run  # only print what would change

The repository is one setting, `ssl_helpers.REPOSITORY` ("owner/name"). This script sets it and rewrites every
place that spells it out: the "Open in Colab" badge and the guarded Colab install cell of every notebook (the
`notebooks/NN_name.py` sources and their executed `.ipynb`, so the pair stays in sync), and the README's badges
(Binder, Colab). Only the repository inside URLs is replaced (`github.com/OLD`, `.../github/OLD/...`,
`.../gh/OLD/...`), never other text. `tests/test_notebook_hygiene.py` checks the result against the setting.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTING_FILE = Path("ssl_helpers") / "__init__.py"
SETTING = re.compile(r'^REPOSITORY = "([^"]+)"$', re.MULTILINE)
SLUG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def current_repository(root: Path = ROOT) -> str:
    """The `REPOSITORY = "owner/name"` value in ssl_helpers/__init__.py."""
    match = SETTING.search((root / SETTING_FILE).read_text(encoding="utf-8"))
    if not match:
        raise SystemExit(f"no `REPOSITORY = \"owner/name\"` line in {root / SETTING_FILE}")
    return match.group(1)


def rewrite(text: str, old: str, new: str) -> tuple:
    """`text` with the repository `old` replaced by `new` where it is a URL path (after a "/", followed by "/",
    a quote, ")", whitespace or the end): returns (new text, number of replacements)."""
    pattern = re.compile(r"(?<=/)" + re.escape(old) + r"(?=[/\"')\s]|\\|$)", re.MULTILINE)
    return pattern.subn(new, text)


def files_to_rewrite(root: Path = ROOT) -> list:
    """README.md and every notebook source and executed notebook under notebooks/."""
    notebooks = sorted((root / "notebooks").glob("*.py")) + sorted((root / "notebooks").glob("*.ipynb"))
    return [path for path in [root / "README.md", *notebooks] if path.is_file()]


def set_repository(new: str, root: Path = ROOT, dry_run: bool = False) -> dict:
    """Set the repository to `new` ("owner/name") everywhere; returns {relative path: replacements}."""
    if not SLUG.match(new):
        raise ValueError(f"the repository must be OWNER/NAME as GitHub spells it (e.g. my-user/ssl-course), "
                         f"got {new!r}")
    old = current_repository(root)
    changes = {}
    for path in files_to_rewrite(root):
        text = path.read_text(encoding="utf-8")
        updated, count = rewrite(text, old, new)
        if count:
            changes[str(path.relative_to(root))] = count
            if not dry_run:
                path.write_text(updated, encoding="utf-8")
    setting = root / SETTING_FILE
    text = setting.read_text(encoding="utf-8")
    if old != new:
        changes[str(SETTING_FILE)] = 1
        if not dry_run:
            setting.write_text(SETTING.sub(f'REPOSITORY = "{new}"', text, count=1), encoding="utf-8")
    return changes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", help="OWNER/NAME of the GitHub repository the course is served from")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    old = current_repository(args.root)
    try:
        changes = set_repository(args.repository, args.root, args.dry_run)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    verb = "would change" if args.dry_run else "changed"
    print(f"{old} -> {args.repository}: {verb} {len(changes)} files")
    for path, count in changes.items():
        print(f"  {path}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
