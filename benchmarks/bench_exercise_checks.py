"""Every exercise's check against the 1 s budget: the check of a right answer, the check of the last typical
mistake (the slowest path: every mistake is tried before it is named), and the ratio of each to a baseline measured
in the same process (the reference run once on each of the exercise's cases, the least work a check can do).

    .venv/bin/python benchmarks/bench_exercise_checks.py                  # every exercise, best of 3
    .venv/bin/python benchmarks/bench_exercise_checks.py --only NT-Xent "kNN probe" --repeats 5

A student presses shift-enter on `exercise.check(my_fn)` and waits for its line: a check should answer within
1 s on a laptop's CPU. Times are the fastest of `--repeats` runs after one warm-up (the least disturbed by other
work on a shared machine); the checks' printed verdicts are swallowed. Nothing is asserted: a busy machine is slower.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time

import torch

BUDGET_S = 1.0  # a check answers within 1 s on a CPU


def fastest(repeats: int, call, *arguments) -> float:
    """Fastest wall time of `call(*arguments)` over `repeats` runs after one warm-up; its printing swallowed."""
    times = []
    with contextlib.redirect_stdout(io.StringIO()):
        for i in range(repeats + 1):
            started = time.perf_counter()
            call(*arguments)
            if i:
                times.append(time.perf_counter() - started)
    return min(times)


def reference_once_per_case(exercise) -> None:
    """The baseline: the reference called once on each case (fresh arguments, as the check makes them)."""
    for case in exercise.cases:
        exercise.reference(*case())


def main(argv=None) -> int:
    from ssl_helpers.exercises import EXERCISES

    exercises = [exercise for notebook in EXERCISES.values() for exercise in notebook]
    names = [exercise.name for exercise in exercises]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement, after a warm-up (>= 1)")
    parser.add_argument("--only", nargs="+", choices=names, default=names, help="the exercises to time")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"argument --repeats: must be at least 1, got {args.repeats}")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fastest of {args.repeats} after a warm-up; "
          f"budget {BUDGET_S:.0f} s per check")
    print(f"{'exercise':>20} {'cases':>5} {'mistakes':>8} {'baseline ms':>11} {'right ms':>9} {'ratio':>6} "
          f"{'last mistake ms':>15} {'ratio':>6}  within budget")
    worst = 0.0
    for exercise in exercises:
        if exercise.name not in args.only:
            continue
        baseline = fastest(args.repeats, reference_once_per_case, exercise)
        right = fastest(args.repeats, exercise.check, exercise.solution_fn)
        last = fastest(args.repeats, exercise.check, exercise.mistakes[-1].fn) if exercise.mistakes else 0.0
        slowest = max(right, last)
        worst = max(worst, slowest)
        print(f"{exercise.name:>20} {len(exercise.cases):>5} {len(exercise.mistakes):>8} {1000 * baseline:>11.2f} "
              f"{1000 * right:>9.1f} {right / baseline:>6.1f} {1000 * last:>15.1f} {last / baseline:>6.1f}  "
              f"{'yes' if slowest <= BUDGET_S else 'NO'}")
    print(f"slowest check: {1000 * worst:.0f} ms ({'within' if worst <= BUDGET_S else 'OVER'} the "
          f"{BUDGET_S:.0f} s budget)")
    return 0 if worst <= BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
