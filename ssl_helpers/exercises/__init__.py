"""Notebook exercises with instant, specific feedback: `EXERCISES` maps a notebook to its exercises."""
from .base import Exercise, Mistake
from .contrastive import nt_xent_exercise, solution_nt_xent

SOLUTIONS = {"nt_xent": solution_nt_xent}   # stub tag in the notebooks -> solution function

EXERCISES = {"05_contrastive_losses": [nt_xent_exercise], "06_simclr": [nt_xent_exercise]}

__all__ = ["Exercise", "Mistake", "EXERCISES", "SOLUTIONS", "nt_xent_exercise"]
