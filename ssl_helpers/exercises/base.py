"""A small exercise framework: `Exercise.check(fn)` runs a student's function against the course's implementation
and names the mistake; `.hint()`, `.solution()`; `.use(fn)` returns the function the notebook goes on with.

Mistakes are recognised by behaviour: each typical mistake is a known wrong implementation (a `Mistake`), and when
the student's output matches one of them on the exercise's cases, the check prints that mistake's message.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch


def largest_intermediate(fn: Callable, *args) -> Optional[int]:
    """The number of elements of the largest tensor `fn(*args)` makes, seen at the level of torch functions: each
    call's outputs, and the broadcast of its tensor arguments (what an elementwise op such as
    `F.cosine_similarity(z[:, None], z[None])` builds inside). Call it with small inputs and scale up the count.
    None when `fn` raises. (A function mode, not a dispatch mode: the latter imports torch._dynamo, 1.4 s.)"""
    from torch.overrides import TorchFunctionMode
    from torch.utils._pytree import tree_flatten

    class _Largest(TorchFunctionMode):
        numel = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            sizes = [t.numel() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
            inputs = [t.shape for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
            if len(inputs) > 1:
                try:
                    sizes.append(torch.Size(torch.broadcast_shapes(*inputs)).numel())
                except RuntimeError:  # not a broadcasting op (e.g. a matrix product)
                    pass
            self.numel = max([self.numel, *sizes])
            return out

    try:
        with _Largest() as mode:
            fn(*args)
    except Exception:
        return None
    return mode.numel


@dataclass
class Mistake:
    """A typical mistake: a wrong implementation `fn` (same signature as the exercise) and the message naming it."""
    name: str
    message: str
    fn: Callable


@dataclass
class Exercise:
    """One exercise: a reference, input cases (callables returning argument tuples), mistakes, hint, solution.

    `check(fn)` returns one short line (also printed): "correct", "not attempted yet", or the specific mistake.
    """
    name: str
    reference: Callable
    cases: Sequence[Callable[[], tuple]]
    mistakes: Sequence[Mistake] = field(default_factory=list)
    hint_text: str = ""
    solution_fn: Optional[Callable] = None
    atol: float = 1e-5
    diagnose: Optional[Callable] = None
    probes: Sequence[Callable] = field(default_factory=list)
    _passed: bool = False

    def _outputs(self, fn):
        outs = []
        for case in self.cases:
            args = case()
            outs.append(fn(*args))
        return outs

    def _same(self, got, want) -> bool:
        """Equal within tolerance; tuples, lists and dicts are compared item by item, numbers and tensors as
        tensors (same shape, allclose), anything else with ==."""
        if isinstance(want, (tuple, list)):
            return (isinstance(got, (tuple, list)) and len(got) == len(want)
                    and all(self._same(g, w) for g, w in zip(got, want)))
        if isinstance(want, dict):
            return (isinstance(got, dict) and set(got) == set(want)
                    and all(self._same(got[k], want[k]) for k in want))
        try:
            got = torch.as_tensor(got)
            want = torch.as_tensor(want)
            if got.shape != want.shape:
                return False
            if want.dtype == torch.bool or got.dtype == torch.bool:
                return bool(torch.equal(got.bool(), want.bool())) and got.dtype == want.dtype
            return bool(torch.allclose(got.double(), want.double(), atol=self.atol, rtol=1e-4, equal_nan=True))
        except Exception:
            try:
                return bool(got == want)
            except Exception:
                return False

    def verdict(self, fn) -> str:
        """The one-line answer for `fn` (no printing)."""
        if fn is None:
            return f"{self.name}: not attempted yet; the notebook uses the course's implementation."
        try:
            got = self._outputs(fn)
        except NotImplementedError:
            return f"{self.name}: not attempted yet; the notebook uses the course's implementation."
        except Exception as err:  # a student's error, reported in one line
            return f"{self.name}: your function raised {type(err).__name__}: {err}"
        want = self._outputs(self.reference)
        if all(self._same(g, w) for g, w in zip(got, want)):
            for probe in self.probes:
                message = probe(fn)
                if message:
                    return f"{self.name}: not yet. {message}"
            return f"{self.name}: correct."
        for mistake in self.mistakes:
            try:
                wrong = self._outputs(mistake.fn)
            except Exception:
                continue
            if all(self._same(g, w) for g, w in zip(got, wrong)):
                return f"{self.name}: not yet. {mistake.message}"
        if self.diagnose is not None:
            for case, g, w in zip(self.cases, got, want):
                if not self._same(g, w):
                    message = self.diagnose(case(), g, w)
                    if message:
                        return f"{self.name}: not yet. {message}"
        for i, (g, w) in enumerate(zip(got, want)):
            if not self._same(g, w):
                shape = tuple(torch.as_tensor(g).shape) if isinstance(g, torch.Tensor) else type(g).__name__
                return (f"{self.name}: not yet. On test case {i + 1} your result (shape {shape}) differs from the "
                        f"course's; try ex.hint().")
        return f"{self.name}: not yet."

    def check(self, fn) -> str:
        """Print and return the verdict; remember whether `fn` passed (for `use`)."""
        start = time.perf_counter()
        line = self.verdict(fn)
        self._passed = line.endswith("correct.")
        self.last_seconds = time.perf_counter() - start
        print(line)
        return line

    def use(self, fn):
        """The function the notebook continues with: the student's if it passed the check, else the course's."""
        return fn if (fn is not None and self.verdict(fn).endswith("correct.")) else self.reference

    def hint(self) -> None:
        print(self.hint_text)

    def solution(self) -> None:
        """Print the solution's source (only when asked)."""
        print(inspect.getsource(self.solution_fn) if self.solution_fn else "No solution recorded.")
