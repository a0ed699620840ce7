"""Notebook exercises with instant, specific feedback: `EXERCISES` maps a notebook to its exercises."""
from .base import Exercise, Mistake
from .contrastive import nt_xent_exercise, solution_nt_xent, solution_triplet, triplet_exercise

SOLUTIONS = {"nt_xent": solution_nt_xent, "triplet": solution_triplet}   # stub tag in the notebooks -> solution function

EXERCISES = {"05_contrastive_losses": [triplet_exercise, nt_xent_exercise]}

__all__ = ["Exercise", "Mistake", "EXERCISES", "SOLUTIONS", "nt_xent_exercise", "triplet_exercise"]
