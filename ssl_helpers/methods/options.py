"""Typed method options, each field declared once with its default, its check and a one-line help.

    @dataclasses.dataclass
    class MyOptions(MethodOptions):
        temperature: float = option(0.5, check=positive_number, help="T of the loss's softmax")
        augment: Any = option("digits", convert=restore_augment, help="the views' augmentation preset")

`MethodOptions.__post_init__` runs `validate(options)`: for every field, its `convert` (e.g. a list back to a
tuple, as a checkpoint stores it) then its `check(name, value)`, which raises a ValueError naming the option;
then `options.check_together()` for rules across fields (e.g. DINO's "at least 2 views"). The `help` text is also
what the command line shows for the option's flag (`dataclasses.fields(Options)[i].metadata["help"]`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence

__all__ = ["MethodOptions", "NoOptions", "option", "validate", "option_help", "positive_int", "non_negative_int",
           "positive_number", "unit_interval", "one_of", "float_tuple"]


def option(default: Any, *, help: str, check: Optional[Callable[[str, Any], None]] = None,
           convert: Optional[Callable[[Any], Any]] = None, choices: Optional[Sequence] = None):
    """A method option: a dataclass field with `default`, a one-line `help`, optionally `convert` (applied to the
    value first) and `check(name, value)` (raises a ValueError), or `choices` (the value must be one of them)."""
    if not help or "\n" in help:
        raise ValueError("every option needs a one-line help")
    if choices is not None:
        if check is not None:
            raise ValueError("give either check or choices, not both")
        check = one_of(*choices)
    metadata = {"help": help, "check": check, "convert": convert, "choices": tuple(choices) if choices else None}
    return dataclasses.field(default=default, metadata={k: v for k, v in metadata.items() if v is not None})


def validate(options) -> None:
    """Convert and check every field of the options dataclass `options` (in field order), then the rules across
    fields (`options.check_together()`). Raises the first ValueError found."""
    for field in dataclasses.fields(options):
        convert, check = field.metadata.get("convert"), field.metadata.get("check")
        if convert is not None:
            setattr(options, field.name, convert(getattr(options, field.name)))
        if check is not None:
            check(field.name, getattr(options, field.name))
    options.check_together()


def option_help(options_class) -> dict:
    """{option name: its one-line help} of an options dataclass."""
    return {field.name: field.metadata.get("help", "") for field in dataclasses.fields(options_class)}


@dataclasses.dataclass
class MethodOptions:
    """Base of every method's options: each field an `option(...)`; `validate` runs when an instance is made."""

    def __post_init__(self):
        validate(self)

    def check_together(self) -> None:
        """Rules that involve several options (raise a ValueError); none by default."""


@dataclasses.dataclass
class NoOptions(MethodOptions):
    """A method without options."""


# -- checks: check(name, value) raises a ValueError that names the option -----------------------------------------

def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(name: str, value) -> None:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def non_negative_int(name: str, value) -> None:
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def positive_number(name: str, value) -> None:
    if not _is_number(value) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def unit_interval(name: str, value) -> None:
    """A number in [0, 1] (a momentum)."""
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


def one_of(*choices) -> Callable[[str, Any], None]:
    """A check that the value is one of `choices`."""

    def check(name: str, value) -> None:
        if value not in choices:
            raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")

    check.choices = choices
    return check


def float_tuple(value) -> tuple:
    """A convert: a sequence (a list, as a checkpoint stores a tuple) -> a tuple of floats."""
    return tuple(float(v) for v in value)
