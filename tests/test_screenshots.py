"""scripts/screenshots.py: the README shows a picture of every explorer of the lecture page, and the script's
arguments are checked (the pictures themselves are taken in a real browser: run the script)."""
import argparse
import inspect
import os
import re
from pathlib import Path

import pytest
from scripts_loader import load_script

from ssl_helpers.lecture import SECTIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shots():
    return load_script("scripts/screenshots.py")


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- BEGIN screenshots -->\n(.*?)\n<!-- END screenshots -->", text, re.S)
    assert match, "README.md has no screenshots block"
    return match.group(1)


def test_the_readme_shows_a_picture_of_every_explorer():
    block = readme_block()
    pictures = re.findall(r'<img src="(docs/images/[^"]+\.png)"', block)
    assert pictures == [f"docs/images/{section.key}.png" for section in SECTIONS], (
        "README.md's pictures differ from ssl_helpers.lecture.SECTIONS: run .venv/bin/python scripts/screenshots.py")
    for picture in pictures:
        assert (ROOT / picture).is_file(), f"{picture} is missing: run .venv/bin/python scripts/screenshots.py"
    assert "1024x768" in block


def test_the_block_says_where_the_encoders_come_from(shots):
    assert "untrained" in shots.encoders_note({"masking": "masked: untrained (built by the registry)"})
    assert "saved encoders" in shots.encoders_note({"masking": "masked: course checkpoint checkpoints/masked.pt"})
    both = shots.encoders_note({"a": "course checkpoint x.pt", "b": "untrained (built by the registry)"})
    assert "where present" in both and "untrained" in both
    block = shots.readme_block([(SECTIONS[0], "docs/images/a.png")] * 3, (1024, 768), "with untrained encoders")
    assert block.count("<tr>") == 2 and block.count('<img src="docs/images/a.png" width="400"') == 3
    with pytest.raises(ValueError, match="per_row must be at least 1, got 0"):
        shots.readme_block([], (1024, 768), "", per_row=0)


def test_a_bad_window_size_is_a_usage_error(shots, capsys):
    assert shots.window_size("1024x768") == (1024, 768)
    with pytest.raises(argparse.ArgumentTypeError, match="expected WIDTHxHEIGHT such as 1024x768, got 'big'"):
        shots.window_size("big")
    with pytest.raises(SystemExit) as exit_info:
        shots.main(["--size", "100x100"])
    assert exit_info.value.code == 2
    assert "expected a width in [320, 3840] and a height in [240, 2160], got '100x100'" in capsys.readouterr().err


def test_the_kernel_settings_are_put_back_afterwards(shots, monkeypatch):
    """`take` sets SSL_EXPLORER_* for the notebook's kernel inside a block: afterwards each variable is as it was,
    set or unset, also when the block fails."""
    monkeypatch.setenv("SSL_EXPLORER_CHECKPOINTS", "mine")
    monkeypatch.delenv("SSL_EXPLORER_STAND_INS", raising=False)
    with shots.environment(SSL_EXPLORER_STAND_INS="untrained", SSL_EXPLORER_CHECKPOINTS=None):
        assert os.environ["SSL_EXPLORER_STAND_INS"] == "untrained" and "SSL_EXPLORER_CHECKPOINTS" not in os.environ
    assert os.environ["SSL_EXPLORER_CHECKPOINTS"] == "mine" and "SSL_EXPLORER_STAND_INS" not in os.environ
    with pytest.raises(RuntimeError), shots.environment(SSL_EXPLORER_CHECKPOINTS="checkpoints"):
        raise RuntimeError("the browser failed")
    assert os.environ["SSL_EXPLORER_CHECKPOINTS"] == "mine"
    take = inspect.getsource(shots.take)
    assert "environment(SSL_EXPLORER_STAND_INS=" in take and "os.environ" not in take
