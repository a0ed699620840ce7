"""The input checks shared by every loss: each raises ValueError (TypeError for a non-tensor) naming the argument."""
from __future__ import annotations

from collections.abc import Sequence

import torch


def _check_finite_float(name: str, z: torch.Tensor) -> None:
    if not z.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {z.dtype}")
    # On the CPU this check is free; on an accelerator it would stop the host every step (a synchronisation),
    # so there the training loop reports a non-finite loss once per epoch instead.
    if z.device.type == "cpu" and not bool(torch.isfinite(z).all()):
        raise ValueError(f"{name} contains non-finite values (nan or inf)")


def _check_matrix(name: str, z: torch.Tensor, min_rows: int = 1) -> None:
    """z: a finite floating-point (rows, D) matrix with rows >= min_rows and D >= 1."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    if z.ndim != 2:
        raise ValueError(f"{name} must be a matrix of embeddings (rows, D), got shape {tuple(z.shape)}")
    if z.shape[0] < min_rows or z.shape[1] < 1:
        raise ValueError(f"{name} must have at least {min_rows} row(s) and 1 column, got shape {tuple(z.shape)}")
    _check_finite_float(name, z)


def _check_tokens(name: str, z: torch.Tensor) -> None:
    """z: a finite floating-point (N, M, D) tensor with N, M, D >= 1."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    if z.ndim != 3 or min(z.shape) < 1:
        raise ValueError(f"{name} must have shape (N, M, D) (rows, tokens, dimensions), got shape {tuple(z.shape)}")
    _check_finite_float(name, z)


def _check_same_shape(names: tuple, tensors: tuple, shape_text: str = "(rows, D)") -> None:
    shapes = [tuple(t.shape) for t in tensors]
    if any(s != shapes[0] for s in shapes):
        described = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"{' , '.join(names)} must have the same shape {shape_text}, got {described}")


def _check_batch(name: str, z: torch.Tensor) -> None:
    """A (N, D) batch with N >= 2 (statistics over the batch need two rows)."""
    _check_matrix(name, z)
    if z.shape[0] < 2:
        raise ValueError(f"{name} must hold at least 2 embeddings (a batch of 1 has no variance or correlation), "
                         f"got shape {tuple(z.shape)}")


def _check_positive(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def _check_fraction(name: str, value: float) -> float:
    """A number in [0, 1] (a momentum, a ratio)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def _check_views(name: str, views: Sequence[torch.Tensor], min_views: int = 1) -> list:
    """A list (or tuple) of at least `min_views` (N, K) matrices of one shape, one per view: returned as a list."""
    if isinstance(views, torch.Tensor) or not isinstance(views, (list, tuple)):
        raise TypeError(f"{name} must be a list of (N, K) tensors, one per view, got {type(views).__name__}")
    if len(views) < min_views:
        raise ValueError(f"{name} must hold at least {min_views} view(s), got {len(views)}")
    for v, z in enumerate(views):
        _check_matrix(f"{name}[{v}]", z)
    shapes = {tuple(z.shape) for z in views}
    if len(shapes) > 1:
        raise ValueError(f"every view in {name} must have the same shape (N, K), got "
                         f"{[tuple(z.shape) for z in views]}")
    return list(views)
