"""Notebook exercises with instant, specific feedback: `EXERCISES` maps a notebook to its exercises."""
from .base import Exercise, Mistake
from .contrastive import nt_xent_exercise

EXERCISES = {"05_contrastive_losses": [nt_xent_exercise], "06_simclr": [nt_xent_exercise]}

__all__ = ["Exercise", "Mistake", "EXERCISES", "nt_xent_exercise"]
