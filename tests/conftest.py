import os
import time
from pathlib import Path

import pytest
import torch

# Tests measure behaviour, not speed. One intra-op thread: the models here are tiny, and with two threads a
# busy machine makes every small op wait for a descheduled partner thread (seen here: 10x slower).
torch.set_num_threads(1)

# The one per-cell time limit of every notebook the tests execute: nbval's items (`--nbval-cell-timeout`, set in
# `pytest_configure` below unless given on the command line) and nbclient in test_notebooks.py and
# test_full_run_smoke.py. The slowest cell measured took 356 s on a loaded 2-core machine; 1200 s keeps every
# cell at most a third of its limit there, so a slow machine is not mistaken for a hung kernel.
NOTEBOOK_CELL_TIMEOUT_S = 1200


def execute_notebook(nb, cwd, label: str) -> float:
    """Run the notebook `nb` top to bottom in a fresh `python3` kernel whose working directory is `cwd` (its outputs
    are stored in `nb`); a cell that raises fails the test with the end of its traceback, naming `label`. Returns
    the wall time in seconds. The one way the tests execute a course notebook (test_notebooks.py,
    test_full_run_smoke.py)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    client = NotebookClient(nb, timeout=NOTEBOOK_CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{label} failed:\n{str(error)[-3000:]}")
    return time.perf_counter() - started


def pytest_configure(config):
    args = [*config.getini("addopts"), *os.environ.get("PYTEST_ADDOPTS", "").split(), *config.invocation_params.args]
    given = any(str(arg).startswith("--nbval-cell-timeout") for arg in args)
    if hasattr(config.option, "nbval_cell_timeout") and not given:
        config.option.nbval_cell_timeout = NOTEBOOK_CELL_TIMEOUT_S


def pytest_collection_modifyitems(config, items):
    """nbval's items (a cell of any collected `.ipynb`: tests/browser_*.ipynb; the course notebooks run in
    tests/test_notebooks.py) execute a notebook: mark them `notebook`, so that `python3 course.py test --quick`
    (`-m "not notebook ..."`) leaves them out. The test modules mark themselves with `pytestmark`."""
    for item in items:
        if Path(str(item.path)).suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)


@pytest.fixture(scope="session")
def digits():
    from ssl_helpers.data import load_dataset

    return load_dataset("digits")
