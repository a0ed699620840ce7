"""Import a file that is not in a package (course.py, scripts/*.py) as a module, for the tests that call it."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_script(relative_path: str):
    """The module defined by `ROOT / relative_path`, e.g. `load_script("scripts/readme_tables.py")`."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
