"""A small exercise framework: `Exercise.check(fn)` runs a student's function against the course's implementation
and names the mistake; `.hint()` (three steps: concept, approach, code), `.solution()`; `.use(fn)` returns the
function the notebook goes on with.

Mistakes are recognised by behaviour: each typical mistake is a known wrong implementation (a `Mistake`), and when
the student's output matches one of them on the exercise's cases, the check prints that mistake's message.

Gradients are part of the answer. When the course's result carries a gradient back to its inputs (a loss, a
training step, a matrix a loss is built on), the check runs every case with inputs that require gradients and
compares the gradient too: a result without one (`.item()`, `.detach()`, `torch.no_grad()`, a NumPy detour) is
"no gradient: the network could not learn from it", and a right value with a wrong gradient (a missing or misplaced
stop-gradient, a frozen encoder) is named as well. Where the statement leaves freedom (rounding, tie order, buffers)
an exercise can accept by property (`accept`) instead of equality with one implementation.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, NamedTuple, Optional, Sequence

import torch
from torch import nn


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


def seeded_module(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """`build()` with its parameters drawn from torch's global generator seeded with `seed`, without changing the
    caller's random state: the same seed gives the same network every time (a case builds a fresh one per call)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def train_steps(loss_of_step: Callable[[int], torch.Tensor], parameters, steps: int, lr: float) -> List[float]:
    """`steps` Adam steps on `loss_of_step(i)`; returns the losses (what an exercise's demo prints)."""
    optimizer = torch.optim.Adam(list(parameters), lr=lr)
    losses = []
    for i in range(steps):
        loss = loss_of_step(i)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


@dataclass
class Mistake:
    """A typical mistake: a wrong implementation `fn` (same signature as the exercise) and the message naming it.

    `by_gradient`: the mistake gives the right value and a wrong gradient (a missing stop-gradient, a frozen
    encoder); it is recognised by the value and the gradient together."""
    name: str
    message: str
    fn: Callable
    by_gradient: bool = False


class Run(NamedTuple):
    """One case run through a function: the arguments it got, what it returned (detached), and the gradient of
    that result with respect to every input that requires one (None when the result carries no gradient)."""
    args: tuple
    value: Any
    grads: Optional[List[torch.Tensor]]


HINT_STEPS = ("concept", "approach", "code")

NO_GRADIENT_LOSS = ("Your loss has no gradient: the network could not learn from it. Keep it a tensor built from "
                    "the inputs by torch operations: no .item(), .detach(), torch.no_grad() or NumPy detour.")
NO_GRADIENT_RESULT = ("Your result carries no gradient back to its inputs (the course's does): a loss built on it "
                      "could not train what comes before it. Keep it a tensor made by torch operations: no .item(), "
                      ".detach(), torch.no_grad() or NumPy detour.")


def _detached(value):
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, list):
        return [_detached(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_detached(v) for v in value)
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    return value


@dataclass
class Exercise:
    """One exercise: a reference, input cases (callables returning argument tuples), mistakes, hints, solution.

    `check(fn)` returns one short line (also printed): "correct", "not attempted yet", or the specific mistake.

    hints: three steps, printed one per `hint()` call: the concept (what must be true), the approach (which
    operations), the code. gradient: None = decided by the reference (its result carries a gradient on the first
    case); grad_args: the positions of the tensor arguments that require a gradient (None: every float tensor;
    the parameters of module arguments always do). accept(args, got, want) -> bool replaces equality with the
    course's result where the statement leaves freedom. inspections: fn -> message or None, run when the result
    differs and no mistake matched, before `diagnose` (e.g. what the encoder saw, whether the draws are seeded). loss: the result is a loss (for the message).
    idea: the exercise holds the lines that carry the notebook's idea (each notebook's last exercise).
    """
    name: str
    reference: Callable
    cases: Sequence[Callable[[], tuple]]
    mistakes: Sequence[Mistake] = field(default_factory=list)
    hints: Sequence[str] = ()
    solution_fn: Optional[Callable] = None
    atol: float = 1e-5
    diagnose: Optional[Callable] = None
    probes: Sequence[Callable] = field(default_factory=list)
    accept: Optional[Callable] = None
    gradient: Optional[bool] = None
    grad_args: Optional[Sequence[int]] = None
    inspections: Sequence[Callable] = field(default_factory=list)
    loss: bool = False
    idea: bool = False
    demo: Optional[Callable] = None

    def __post_init__(self):
        self._hint_step = 0
        self._last = None

    # ------------------------------------------------------------------ running a function on the cases
    def _needs_gradient(self) -> bool:
        """Whether gradients are compared: `gradient` if set, else whether the reference's result on the first
        case carries a gradient (decided once)."""
        if self.gradient is None:
            try:
                run = self._run_case(self.reference, self.cases[0], with_grad=True)
                self.gradient = run.grads is not None
            except Exception:
                self.gradient = False
        return self.gradient

    def _prepare(self, args: tuple, with_grad: bool):
        """The arguments with every float tensor in `grad_args` replaced by a leaf copy that requires a gradient,
        and the leaves to differentiate with respect to, grouped per argument: [(position, [tensors])]."""
        if not with_grad:
            return args, []
        prepared, groups = [], []
        for i, arg in enumerate(args):
            if (isinstance(arg, torch.Tensor) and arg.is_floating_point()
                    and (self.grad_args is None or i in self.grad_args)):
                arg = arg.detach().clone().requires_grad_(True)
                groups.append((i, [arg]))
            elif isinstance(arg, nn.Module):
                params = [p for p in arg.parameters() if p.requires_grad]
                if params:
                    groups.append((i, params))
            prepared.append(arg)
        return tuple(prepared), groups

    @staticmethod
    def _differentiated(value) -> Optional[torch.Tensor]:
        """The part of a result whose gradient is compared: the result itself, or the first item of a tuple."""
        if isinstance(value, (tuple, list)) and value:
            value = value[0]
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.requires_grad:
            return value
        return None

    def _gradients(self, value, groups) -> Optional[List[torch.Tensor]]:
        target = self._differentiated(value)
        leaves = [leaf for _, group in groups for leaf in group]
        if target is None or not leaves:
            return None
        if target.numel() == 1:
            scalar = target.sum()
        else:  # a fixed random weighting of every element: sees a wrong gradient anywhere in the result
            weights = torch.randn(target.shape, generator=torch.Generator().manual_seed(1234), dtype=target.dtype)
            scalar = (target * weights.to(target.device)).sum()
        grads = torch.autograd.grad(scalar, leaves, allow_unused=True)
        return [torch.zeros_like(leaf) if g is None else g.detach() for leaf, g in zip(leaves, grads)]

    def _call(self, fn, args: tuple):
        """What `fn` returns on `args` (InPlaceExercise overrides it to return the state it changed)."""
        return fn(*args)

    def _run_case(self, fn, case, with_grad: bool) -> Run:
        args, groups = self._prepare(case(), with_grad)
        value = self._call(fn, args)
        grads = self._gradients(value, groups) if with_grad else None
        return Run(args, _detached(value), grads)

    def _outputs(self, fn) -> List[Run]:
        with_grad = self._needs_gradient()
        return [self._run_case(fn, case, with_grad) for case in self.cases]

    def _groups(self, case) -> list:
        """[(position, number of leaves)] of one case, to name the argument a gradient differs on."""
        _, groups = self._prepare(case(), True)
        return [(i, len(group)) for i, group in groups]

    # ------------------------------------------------------------------ comparing
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
            return bool(torch.allclose(got.double().cpu(), want.double().cpu(), atol=self.atol, rtol=1e-4,
                                       equal_nan=True))
        except Exception:
            try:
                return bool(got == want)
            except Exception:
                return False

    def _value_ok(self, run: Run, want: Run) -> bool:
        if self.accept is not None:
            try:
                return bool(self.accept(run.args, run.value, want.value))
            except Exception:
                return False
        return self._same(run.value, want.value)

    @staticmethod
    def _flows(run: Run) -> bool:
        """Whether a gradient reaches some input (a result whose gradient is zero everywhere, such as a loss of 0
        with nothing to score, asks nothing of the student's graph)."""
        return run.grads is not None and any(bool(g.ne(0).any()) for g in run.grads)

    def _grads_same(self, got: Run, want: Run) -> bool:
        if want.grads is None:
            return True
        if got.grads is None:
            return not self._flows(want)
        return self._same(got.grads, want.grads)

    def _argument_names(self) -> list:
        for fn in (self.solution_fn, self.reference):
            try:
                return list(inspect.signature(fn).parameters)
            except (TypeError, ValueError):
                continue
        return []

    def _gradient_message(self, got: List[Run], want: List[Run]) -> str:
        """Names the argument whose gradient differs: none reaches it, one reaches it where the course's has none,
        or a different one."""
        names = self._argument_names()
        for index, (g, w) in enumerate(zip(got, want)):
            if self._grads_same(g, w) or g.grads is None:
                continue
            start = 0
            for position, count in self._groups(self.cases[index]):
                mine, course = g.grads[start:start + count], w.grads[start:start + count]
                start += count
                if self._same(mine, course):
                    continue
                name = names[position] if position < len(names) else f"argument {position + 1}"
                if all(float(t.abs().max()) == 0 for t in mine if t.numel()):
                    return (f"Right value, but no gradient reaches `{name}`: a .detach() or torch.no_grad() cuts it "
                            f"off, so `{name}` could not learn from this loss.")
                if all(float(t.abs().max()) == 0 for t in course if t.numel()):
                    return (f"Right value, but a gradient reaches `{name}`, where the course's has none: the "
                            f"stop-gradient (.detach()) on `{name}` is missing.")
                return (f"Right value, but its gradient with respect to `{name}` differs from the course's: part of "
                        f"the computation is cut from the graph or counted twice; try ex.hint().")
        return "Right value, but its gradient differs from the course's; try ex.hint()."

    # ------------------------------------------------------------------ the verdict
    def verdict(self, fn) -> str:
        """The one-line answer for `fn` (no printing). Runs on one CPU thread: the cases are tiny, and on a busy
        machine several threads only wait for each other."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._verdict(fn)
        finally:
            torch.set_num_threads(threads)

    def _verdict(self, fn) -> str:
        if fn is None:
            return f"{self.name}: not attempted yet; the notebook uses the course's implementation."
        try:
            got = self._outputs(fn)
        except NotImplementedError:
            return f"{self.name}: not attempted yet; the notebook uses the course's implementation."
        except Exception as err:  # a student's error, reported in one line
            text = " ".join(str(err).split())
            if isinstance(err, RuntimeError) and ("leaf Variable that requires grad" in text
                                                  or "modified by an inplace operation" in text):
                return (f"{self.name}: not yet. You changed an input tensor in place (/=, +=, .add_(), "
                        f"masked_fill_, ...): the check's inputs carry gradients, as a network's outputs do, and "
                        f"autograd cannot go back through that. Make a new tensor instead (z = z / ..., "
                        f"masked_fill without _), which also leaves the caller's tensors alone.")
            return f"{self.name}: your function raised {type(err).__name__}: {text}"
        want = self._outputs(self.reference)
        no_gradient = any(g.grads is None and self._flows(w) for g, w in zip(got, want))
        if all(self._value_ok(g, w) for g, w in zip(got, want)):
            if no_gradient:
                return f"{self.name}: not yet. {NO_GRADIENT_LOSS if self.loss else NO_GRADIENT_RESULT}"
            if not all(self._grads_same(g, w) for g, w in zip(got, want)):
                return f"{self.name}: not yet. {self._gradient_mistake(got, want)}"
            for probe in self.probes:
                message = probe(fn)
                if message:
                    return f"{self.name}: not yet. {message}"
            return f"{self.name}: correct."
        for mistake in self.mistakes:
            if mistake.by_gradient:
                continue
            try:
                wrong = self._outputs(mistake.fn)
            except Exception:
                continue
            if all(self._same(g.value, w.value) for g, w in zip(got, wrong)):
                return f"{self.name}: not yet. {mistake.message}"
        if no_gradient:
            return f"{self.name}: not yet. {NO_GRADIENT_LOSS if self.loss else NO_GRADIENT_RESULT}"
        for inspection in self.inspections:
            message = inspection(fn)
            if message:
                return f"{self.name}: not yet. {message}"
        if self.diagnose is not None:
            for g, w in zip(got, want):
                if not self._value_ok(g, w):
                    message = self.diagnose(g.args, g.value, w.value)
                    if message:
                        return f"{self.name}: not yet. {message}"
        for i, (g, w) in enumerate(zip(got, want)):
            if not self._value_ok(g, w):
                value = g.value[0] if isinstance(g.value, (tuple, list)) and g.value else g.value
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                return (f"{self.name}: not yet. On test case {i + 1} your result (shape {shape}) differs from the "
                        f"course's; try ex.hint().")
        return f"{self.name}: not yet."

    def _gradient_mistake(self, got: List[Run], want: List[Run]) -> str:
        """A right value with a wrong gradient: a `by_gradient` mistake when one matches, else the argument named."""
        for mistake in self.mistakes:
            if not mistake.by_gradient:
                continue
            try:
                wrong = self._outputs(mistake.fn)
            except Exception:
                continue
            if all(self._same(g.value, w.value) and self._grads_same(g, w) for g, w in zip(got, wrong)):
                return mistake.message
        return self._gradient_message(got, want)

    def check(self, fn) -> str:
        """Print and return the verdict; remember it (for `use`)."""
        line = self.verdict(fn)
        self._last = (fn, line)
        print(line)
        return line

    def use(self, fn):
        """The function the notebook continues with: the student's if it passed the check, else the course's."""
        if fn is None:
            return self.reference
        line = self._last[1] if self._last is not None and self._last[0] is fn else self.verdict(fn)
        return fn if line.endswith("correct.") else self.reference

    def train_briefly(self, fn, *args, **kwargs) -> None:
        """Print what `fn` (the function in use) does in a short training run of a fresh tiny network: the
        exercise's demo, on one CPU thread (a few tenths of a second)."""
        if self.demo is None:
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        start = time.perf_counter()
        try:
            line = self.demo(fn, *args, **kwargs)
        finally:
            torch.set_num_threads(threads)
        print(f"{line} ({time.perf_counter() - start:.1f} s)")

    # ------------------------------------------------------------------ help on request
    @property
    def hint_text(self) -> str:
        """Every hint step, in order (the last one is code)."""
        return "\n".join(self.hints)

    def hint(self) -> None:
        """Print the next hint step: first the concept (what must be true), then the approach (which operations),
        then the code; further calls repeat the code."""
        if not self.hints:
            print("No hint recorded.")
            return
        step = min(self._hint_step, len(self.hints) - 1)
        label = HINT_STEPS[step] if step < len(HINT_STEPS) else "code"
        more = ("(ex.hint() again for the next step)" if step < len(self.hints) - 1
                else "(the last hint; ex.solution() shows the whole answer)")
        print(f"Hint {step + 1} of {len(self.hints)}, {label}: {self.hints[step]} {more}")
        self._hint_step += 1

    def solution(self) -> None:
        """Print the solution's source (only when asked)."""
        print(inspect.getsource(self.solution_fn) if self.solution_fn else "No solution recorded.")
