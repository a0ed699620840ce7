"""`python3 course.py` set-up: on Linux without an NVIDIA GPU torch comes from PyTorch's CPU index (about 200 MB, not
2.5 GB of CUDA wheels), elsewhere from the default index; an unreachable CPU index costs one line and the set-up goes
on. Only the commands are built and run by a fake runner here: nothing is installed."""
import subprocess

import pytest
from scripts_loader import load_script

course = load_script("course.py")
PYTHON = "/course/.venv/bin/python"


def cpu_step(python=PYTHON):
    return [python, "-m", "pip", "--isolated", "install", "--index-url", "https://download.pytorch.org/whl/cpu",
            "--timeout", "10", "--retries", "0", *course.torch_requirements()]


@pytest.mark.parametrize("platform, nvidia_gpu, override, expected", [
    ("linux", False, None, "cpu"),          # a CPU laptop: the CPU wheels
    ("linux", True, None, "default"),       # a GPU machine: the default (CUDA) wheels
    ("darwin", False, None, "default"),     # macOS: the default wheels are CPU/MPS ones
    ("win32", False, None, "default"),      # Windows: the default wheels are CPU ones
    ("linux", False, "", "cpu"),             # an empty variable is no override
    ("linux", True, "cpu", "cpu"),          # the override wins both ways
    ("linux", False, "default", "default"),
    ("darwin", False, "cpu", "cpu"),
])
def test_torch_comes_from_the_cpu_index_only_on_linux_without_an_nvidia_gpu(platform, nvidia_gpu, override,
                                                                            expected):
    assert course.torch_index(platform, nvidia_gpu, override) == expected
    steps = course.torch_steps(PYTHON, platform, nvidia_gpu, override)
    assert steps == ([cpu_step()] if expected == "cpu" else [])


def test_the_cpu_step_keeps_pyprojects_bounds_on_torch_and_torchvision():
    requirements = course.torch_requirements()
    assert [r.split(">")[0].split("=")[0].split("<")[0] for r in requirements] == ["torch", "torchvision"]
    pyproject = (course.ROOT / "pyproject.toml").read_text()
    assert all(f'"{r}"' in pyproject for r in requirements)


def test_a_bad_override_names_the_variable_and_its_values():
    with pytest.raises(ValueError, match=r"SSL_TORCH_INDEX must be 'cpu' or 'default', got 'cuda'"):
        course.torch_steps(PYTHON, "linux", False, "cuda")


def test_an_unreachable_cpu_index_costs_one_line_and_the_set_up_goes_on(capsys):
    ran = []

    def unreachable(command):
        ran.append(command)
        raise subprocess.CalledProcessError(1, command)

    course.install_torch([cpu_step()], runner=unreachable)  # returns: the package's install comes next
    assert ran == [cpu_step()]
    assert capsys.readouterr().out == (
        "PyTorch's CPU index cannot be reached; installing torch from the default index (CUDA wheels on Linux)\n")

    course.install_torch([cpu_step()], runner=ran.append)   # reachable: no message
    assert capsys.readouterr().out == "" and len(ran) == 2


def test_set_up_runs_the_cpu_step_between_pips_upgrade_and_the_package(monkeypatch, tmp_path, capsys):
    """The order matters: the package's install finds torch satisfied and downloads no CUDA wheels."""
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.touch()
    monkeypatch.setattr(course, "VENV", tmp_path)
    monkeypatch.setattr(course, "STAMP", tmp_path / "stamp")
    monkeypatch.setattr(course, "venv_bin", lambda name: tmp_path / "bin" / name)
    monkeypatch.setattr(course.sys, "platform", "linux")
    monkeypatch.setattr(course, "has_nvidia_gpu", lambda: False)
    monkeypatch.delenv("SSL_TORCH_INDEX", raising=False)
    ran = []

    def fake_run(command):
        ran.append([str(c) for c in command])
        if "--index-url" in command:
            raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr(course, "run", fake_run)
    course.set_up("test")
    assert [command[3:] for command in ran] == [["install", "--upgrade", "pip"], cpu_step(str(python))[3:],
                                                ["install", "-e", ".[test]"]]
    assert "PyTorch's CPU index cannot be reached" in capsys.readouterr().out
    assert (tmp_path / "stamp").read_text() == course.requirements_fingerprint("test")

    ran.clear()  # with an NVIDIA GPU: no CPU step
    (tmp_path / "stamp").unlink()
    monkeypatch.setattr(course, "has_nvidia_gpu", lambda: True)
    course.set_up("test")
    assert [command[3:] for command in ran] == [["install", "--upgrade", "pip"], ["install", "-e", ".[test]"]]

    monkeypatch.setenv("SSL_TORCH_INDEX", "gpu")  # a bad override stops before anything is installed
    (tmp_path / "stamp").unlink()
    ran.clear()
    with pytest.raises(SystemExit, match="SSL_TORCH_INDEX must be 'cpu' or 'default', got 'gpu'"):
        course.set_up("test")
    assert ran == []
