"""Notebook exercises with instant, specific feedback.

Each module here (one per topic) defines `EXERCISES` ({notebook stem: [Exercise, ...]}) and `SOLUTIONS`
({stub tag: solution function}); this package gathers them, so adding an exercise never touches this file:
`EXERCISES` maps every notebook to its exercises in teaching order, `SOLUTIONS` every stub tag to its solution.
"""
import importlib
import pkgutil

from .base import Exercise, Mistake
from .contrastive import nt_xent_exercise, solution_nt_xent, solution_triplet, triplet_exercise

EXERCISES: dict = {}
SOLUTIONS: dict = {}
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"):
    _module = importlib.import_module(f"{__name__}.{_module}")
    for _notebook, _exercises in getattr(_module, "EXERCISES", {}).items():
        EXERCISES.setdefault(_notebook, []).extend(_exercises)
    for _tag, _solution in getattr(_module, "SOLUTIONS", {}).items():
        if _tag in SOLUTIONS:
            raise RuntimeError(f"exercise tag {_tag!r} is defined twice ({_module.__name__})")
        SOLUTIONS[_tag] = _solution
EXERCISES = dict(sorted(EXERCISES.items()))

__all__ = ["Exercise", "Mistake", "EXERCISES", "SOLUTIONS", "nt_xent_exercise", "triplet_exercise",
           "solution_nt_xent", "solution_triplet"]
