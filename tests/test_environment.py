"""environment.yml (Binder, conda users) and pyproject.toml (pip, `python3 course.py`) install the same course.

The conda file is the Binder launch path: repo2docker reads it, so it must ask for a CPU-only PyTorch from
conda-forge, the same packages (with the same lower bounds) as pyproject's `dependencies`, and the course
package itself from this repository through a local `pip:` entry.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent

# pip name -> conda-forge name, where they differ.
PIP_TO_CONDA = {"torch": "pytorch"}
# Conda-only entries that have no pip counterpart in pyproject's dependencies.
CONDA_ONLY = {"python", "pip", "pytorch-cpu"}


def split_requirement(text: str) -> tuple[str, str]:
    """'torch>=2.2' -> ('torch', '>=2.2'); 'python=3.11' -> ('python', '=3.11'); names lower-cased."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", text.split("#")[0].split(";")[0])
    if match is None:
        raise ValueError(f"cannot parse requirement {text!r}")
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, match.group(2).replace(" ", "")


def pyproject_dependencies() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9/3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(split_requirement(line) for line in project["dependencies"])


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_dependencies() -> dict:
    return dict(split_requirement(dep) for dep in environment()["dependencies"] if isinstance(dep, str))


def pip_entries() -> list:
    entries = [dep["pip"] for dep in environment()["dependencies"] if isinstance(dep, dict) and "pip" in dep]
    assert len(entries) == 1, "environment.yml should have exactly one `pip:` section"
    return entries[0]


def test_split_requirement_known_answers():
    assert split_requirement("torch>=2.2") == ("torch", ">=2.2")
    assert split_requirement("scikit_learn >= 1.2") == ("scikit-learn", ">=1.2")
    assert split_requirement("python=3.11") == ("python", "=3.11")
    assert split_requirement("pytorch-cpu") == ("pytorch-cpu", "")


def test_every_pyproject_dependency_is_in_environment_yml_with_the_same_bound():
    conda = conda_dependencies()
    for pip_name, spec in pyproject_dependencies().items():
        conda_name = PIP_TO_CONDA.get(pip_name, pip_name)
        assert conda_name in conda, f"pyproject needs {pip_name}{spec}: add `{conda_name}{spec}` to environment.yml"
        assert conda[conda_name] == spec, (
            f"{pip_name}: pyproject.toml says {spec!r}, environment.yml says {conda[conda_name]!r} for {conda_name}")


def test_environment_yml_has_nothing_pyproject_lacks():
    wanted = {PIP_TO_CONDA.get(name, name) for name in pyproject_dependencies()} | CONDA_ONLY
    extra = set(conda_dependencies()) - wanted
    assert not extra, f"environment.yml lists {sorted(extra)} that pyproject.toml's dependencies do not"


def test_pytorch_is_the_cpu_only_build_from_conda_forge():
    env = environment()
    assert env["channels"][0] == "conda-forge"
    assert "pytorch" not in env["channels"] and "defaults" not in env["channels"]
    conda = conda_dependencies()
    assert "pytorch-cpu" in conda, "the `pytorch-cpu` metapackage selects conda-forge's CPU build of pytorch"
    assert "cpuonly" not in conda and "pytorch-cuda" not in conda and "pytorch-gpu" not in conda


def test_python_version_is_explicit_for_repo2docker():
    # repo2docker reads the Python version from an exact `python=X.Y` pin (ranges are not understood).
    assert re.fullmatch(r"=3\.\d+", conda_dependencies()["python"])


def test_the_course_package_is_installed_from_the_repository():
    entries = [entry.replace(" ", "") for entry in pip_entries()]
    assert entries in (["-e."], ["."]), f"the pip section should install this repository (`-e .`), got {entries}"
