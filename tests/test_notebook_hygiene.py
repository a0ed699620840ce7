"""Committed notebooks are fit to open anywhere: no stored errors, the standard kernel, a small file, executed top to
bottom, and for the course notebooks the "Open in Colab" badge and the guarded Colab set-up cell.

Each course notebook is a jupytext pair: `notebooks/NN_name.py` (percent format) is the source, the `.ipynb`
holds its executed outputs. The pair must agree cell for cell, and the sources must pass the linter.

The Colab cell is checked for what it does, not for its exact text: only when `google.colab` is imported (that is,
on Colab) it installs this repository's package alone (`--no-deps`) and Lightning (with its own requirements, which
Colab's torch already meets), never torch or torchvision (Colab's CUDA builds must stay); elsewhere it does nothing.
The cell is the same in every notebook.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
import types
from pathlib import Path

import jupytext
import nbformat
import pytest

from ssl_helpers import REPOSITORY

ROOT = Path(__file__).resolve().parent.parent
COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
ALL_NOTEBOOKS = COURSE_NOTEBOOKS + sorted((ROOT / "tests").glob("*.ipynb"))
MAX_BYTES = 5 * 1024 * 1024  # a few MB: larger means stored data or oversized figures
COLAB_GUARD = 'if "google.colab" in sys.modules:'


def ids(paths):
    return [str(path.relative_to(ROOT)) for path in paths]


def read(path: Path):
    return nbformat.read(path, as_version=4)


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def run_colab_cell(source: str, on_colab: bool) -> list:
    """Execute a cell's source as IPython would (magics included) and return the `%pip` calls it made.

    `%pip` is replaced by a recorder, so nothing is installed; `google.colab` is faked in `sys.modules` when
    `on_colab` is true.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    calls = []

    class FakeShell:
        def run_line_magic(self, name, line, *args):
            calls.append((name, line))

        def system(self, command):
            calls.append(("!", command))

        getoutput = system

    python = TransformerManager().transform_cell(source)
    saved = sys.modules.get("google.colab")
    try:
        if on_colab:
            sys.modules["google.colab"] = types.ModuleType("google.colab")
        else:
            sys.modules.pop("google.colab", None)
        exec(compile(python, "<colab cell>", "exec"), {"get_ipython": lambda: FakeShell()})
    finally:
        sys.modules.pop("google.colab", None)
        if saved is not None:
            sys.modules["google.colab"] = saved
    return calls


COLAB_KEEPS = {"torch", "torchvision", "torchaudio"}  # Colab's CUDA builds: never installed or replaced
PIP_FORCING = {"-U", "--upgrade", "--upgrade-strategy", "--force-reinstall", "-I", "--ignore-installed"}


def requirement_name(token: str) -> str:
    """'ssl_helpers@git+https://...' -> 'ssl-helpers'; 'lightning>=2.2' -> 'lightning'; a URL alone -> the URL."""
    return re.sub(r"[-_.]+", "-", re.split(r"\s*[@<>=!~;\[]", token, maxsplit=1)[0]).lower()


def colab_installs(source: str) -> list:
    """The `pip install` calls the cell makes on Colab, each as (options, requirements) of its arguments."""
    calls = run_colab_cell(source, on_colab=True)
    installs = []
    for name, line in calls:
        if name not in {"pip", "!"} or "install" not in line:
            continue
        args = shlex.split(line)
        args = args[args.index("install") + 1:]
        installs.append(([a for a in args if a.startswith("-")], [a for a in args if not a.startswith("-")]))
    return installs


def lightning_bound() -> str:
    """pyproject.toml's `lightning>=X` requirement, e.g. 'lightning>=2.2'."""
    match = re.search(r'"(lightning\s*>=\s*[0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert match, "pyproject.toml's dependencies should name `lightning>=...`"
    return match.group(1).replace(" ", "")


def assert_installs_the_course_on_colab_only(source: str) -> None:
    assert COLAB_GUARD in source, f"the Colab cell must be guarded by `{COLAB_GUARD}`"
    assert run_colab_cell(source, on_colab=False) == [], "the Colab cell must do nothing outside Colab"
    installs = colab_installs(source)
    assert installs, "on Colab the cell must `%pip install` the course package"
    by_name = {requirement_name(req): (options, req) for options, reqs in installs for req in reqs}
    assert not COLAB_KEEPS & set(by_name), f"never install {sorted(COLAB_KEEPS & set(by_name))} on Colab: {installs}"
    course = by_name.get("ssl-helpers")
    assert course, f"on Colab the cell must install ssl_helpers: {installs}"
    assert course[1].endswith(f"git+https://github.com/{REPOSITORY}"), f"ssl_helpers from {REPOSITORY}: {course}"
    assert "--no-deps" in course[0], "ssl_helpers with --no-deps: keep Colab's own torch (CUDA) and ipywidgets"
    assert "lightning" in by_name, f"on Colab the cell must also install lightning (Colab has none): {installs}"
    assert by_name["lightning"][1] in ("lightning", lightning_bound()), by_name["lightning"]
    for options, reqs in installs:
        assert not PIP_FORCING & {o.split("=")[0] for o in options}, f"no upgrade or reinstall: {options}"
        if "--no-deps" not in options:
            # with its requirements: only Lightning, whose torch>=2.1 Colab's torch meets, so pip keeps that torch
            assert [requirement_name(req) for req in reqs] == ["lightning"], (
                f"only lightning may be installed with its requirements, not {reqs}")


def colab_badge(filename: str) -> str:
    url = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{filename}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def test_the_checks_catch_a_bad_notebook():
    """The checks below, applied to notebooks with the faults they look for."""
    bad = nbformat.v4.new_notebook()
    bad.metadata["kernelspec"] = {"name": "conda-env-ssl-py", "display_name": "ssl", "language": "python"}
    cell = nbformat.v4.new_code_cell("1 / 0")
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                           traceback=[])]
    bad.cells = [cell]
    assert error_outputs(bad) == ["cell 0: ZeroDivisionError: division by zero"]
    assert kernel_name(bad) == "conda-env-ssl-py"
    with pytest.raises(AssertionError):
        assert_installs_the_course_on_colab_only('import sys\n%pip install -q "ssl_helpers @ git+https://x"')
    good = code_cells(jupytext.read(NOTEBOOK_SOURCES[0]))[0].source
    course_line = next(line for line in good.splitlines() if "ssl_helpers@" in line)
    lightning_line = next(line for line in good.splitlines() if "lightning" in line and "pip" in line)
    for fault in (good.replace(lightning_line, ""),  # Lightning missing
                  good.replace("--no-deps ", ""),  # the course package with its requirements: could replace torch
                  good.replace('install -q "lightning', 'install -q torch "lightning'),  # Colab's torch replaced
                  good.replace('install -q "lightning', 'install -q torchvision "lightning'),
                  good.replace('install -q "lightning', 'install -q -U "lightning'),
                  good.replace(course_line, course_line.replace(REPOSITORY, "someone/else"))):
        assert fault != good
        with pytest.raises(AssertionError):
            assert_installs_the_course_on_colab_only(fault)
    assert_installs_the_course_on_colab_only(good)


def error_outputs(nb) -> list:
    return [f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
            for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def kernel_name(nb) -> str:
    return nb.metadata.get("kernelspec", {}).get("name", "")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_no_error_outputs_standard_kernel_small_file(path):
    nb = read(path)
    assert error_outputs(nb) == [], f"{path.name} stores error outputs; fix the cell and re-execute"
    assert kernel_name(nb) == "python3", f"{path.name} uses kernel {kernel_name(nb)!r}; set it to 'python3'"
    # what JupyterLab writes when it saves, so opening a notebook does not change the committed file
    assert nb.metadata["kernelspec"].get("display_name") == "Python 3 (ipykernel)", path.name
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{path.name} is {size / 1e6:.1f} MB (limit {MAX_BYTES / 1e6:.1f} MB)"


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=ids(COURSE_NOTEBOOKS))
def test_course_notebook_has_colab_badge_and_guarded_setup_cell(path):
    nb = read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "the first cell is the title"
    assert colab_badge(path.name) in first.source, f"{path.name}: Colab badge missing or wrong"
    setup = code_cells(nb)[0]
    assert_installs_the_course_on_colab_only(setup.source)


@pytest.mark.parametrize("path", NOTEBOOK_SOURCES, ids=ids(NOTEBOOK_SOURCES))
def test_notebook_source_colab_cell_installs_the_course_and_lightning_only_on_colab(path):
    setup = code_cells(jupytext.read(path))[0]
    assert setup.source.startswith("# Colab only:"), f"{path.name}: the first code cell is the Colab cell"
    assert_installs_the_course_on_colab_only(setup.source)


def test_the_colab_cell_is_the_same_in_every_notebook():
    cells = {path.name: code_cells(jupytext.read(path))[0].source for path in NOTEBOOK_SOURCES}
    first = cells[NOTEBOOK_SOURCES[0].name]
    differ = [name for name, source in cells.items() if source != first]
    assert not differ, f"the Colab cell of {differ} differs from {NOTEBOOK_SOURCES[0].name}'s: keep them identical"


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=ids(COURSE_NOTEBOOKS))
def test_course_notebook_was_executed_top_to_bottom_with_settings(path):
    nb = read(path)
    counts = [cell.execution_count for cell in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts}; regenerate with "
        f"`.venv/bin/python scripts/execute_notebooks.py {path.name}`")
    source = "\n".join(cell.source for cell in code_cells(nb))
    assert "FULL_RUN = False" in source, f"{path.name}: the settings cell (`FULL_RUN = False`) is missing"
    assert "pick_device(" in source or "pretext_tier(" in source, (
        f"{path.name}: use `pick_device()` (or `pretext_tier`, which calls it) so a GPU is used where there is one")


def test_every_course_notebook_has_its_jupytext_source_and_back():
    assert [p.stem for p in NOTEBOOK_SOURCES] == [p.stem for p in COURSE_NOTEBOOKS]


def cells_of(nb) -> list:
    return [(cell.cell_type, cell.source.strip()) for cell in nb.cells]


@pytest.mark.parametrize("path", NOTEBOOK_SOURCES, ids=ids(NOTEBOOK_SOURCES))
def test_executed_notebook_matches_its_source(path):
    source = jupytext.read(path)
    executed = read(path.with_suffix(".ipynb"))
    assert cells_of(executed) == cells_of(source), (
        f"{path.with_suffix('.ipynb').name} differs from {path.name}: re-execute it with "
        f"`.venv/bin/python scripts/execute_notebooks.py {path.with_suffix('.ipynb').name}`")


def test_notebook_sources_pass_the_linter():
    """pyflakes' rules (ruff F) over the notebook sources: unused imports, undefined names, ..."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F", "--no-cache",
                             *map(str, NOTEBOOK_SOURCES)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_sync_check_catches_an_edited_source(tmp_path):
    path = NOTEBOOK_SOURCES[0]
    edited = jupytext.read(path)
    edited.cells[-1].source += "\nprint('edited')"
    assert cells_of(edited) != cells_of(read(path.with_suffix(".ipynb")))
