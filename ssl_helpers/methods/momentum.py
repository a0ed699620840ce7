"""Momentum (EMA) targets, written once for BYOL, MoCo, DINO and I-JEPA.

    theta_target <- m_t theta_target + (1 - m_t) theta_online        after every optimiser step (`momentum_update`)
    m_t = m_0                                                         momentum_schedule="constant" (the default)
    m_t = 1 - (1 - m_0) (cos(pi t / T) + 1) / 2                       momentum_schedule="cosine" (BYOL, DINO)

t: the optimiser step just taken (0, 1, ..., T - 1), T: the run's number of steps; the cosine schedule starts at
m_0 and rises to 1 at the end of the run. A method lists its (target, online) pairs (`momentum_pairs`) and takes
the options `momentum` (m_0) and `momentum_schedule` (`momentum_options`); `MomentumTargets.on_train_batch_end`
(Lightning's hook after each optimiser step) moves every target.
"""
from __future__ import annotations

import copy
import math
from typing import List, Tuple

import torch
from torch import nn

from ..train import run_steps
from .options import option, unit_interval

__all__ = ["MomentumTargets", "momentum_update", "frozen_copy", "scheduled_momentum", "MOMENTUM_SCHEDULES",
           "momentum_option", "momentum_schedule_option"]

MOMENTUM_SCHEDULES = ("constant", "cosine")


@torch.no_grad()
def momentum_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """theta_target <- m theta_target + (1 - m) theta_online for every parameter, in place (BYOL eq. 1, MoCo eq. 2).

    Buffers (BatchNorm's running statistics) are copied from the online network. target and online must have the
    same architecture. momentum m in [0, 1]: 1 keeps the target fixed, 0 copies the online network.
    """
    if not 0.0 <= float(momentum) <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    target_params, online_params = list(target.parameters()), list(online.parameters())
    if [p.shape for p in target_params] != [p.shape for p in online_params]:
        raise ValueError("target and online must have the same architecture (the same parameter shapes)")
    for t, o in zip(target_params, online_params):
        t.mul_(momentum).add_(o.detach(), alpha=1.0 - momentum)
    for t, o in zip(target.buffers(), online.buffers()):
        t.copy_(o)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of `module` whose parameters do not require gradients (a momentum target)."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


def scheduled_momentum(momentum: float, schedule: str, step: int, total: int) -> float:
    """m_t of `schedule` ("constant": `momentum` itself; "cosine": 1 - (1 - m_0) (cos(pi t / T) + 1) / 2, m_0 at
    t = 0 and 1 at t = T) for step t = `step` of T = `total` (t clipped to [0, T])."""
    if schedule == "constant":
        return momentum
    if schedule != "cosine":
        raise ValueError(f"momentum_schedule must be one of {list(MOMENTUM_SCHEDULES)}, got {schedule!r}")
    t = min(max(int(step), 0), max(int(total), 1)) / max(int(total), 1)
    return 1.0 - (1.0 - momentum) * (math.cos(math.pi * t) + 1.0) / 2.0


def momentum_option(default: float, target: str = "target"):
    """The `momentum` option m_0 of a method with momentum targets (checked: in [0, 1])."""
    return option(default, check=unit_interval, help=f"momentum m of the {target}'s moving average (1: frozen)")


def momentum_schedule_option():
    """The `momentum_schedule` option: "constant" (m_t = m) or "cosine" (from m up to 1 over the run)."""
    return option("constant", choices=MOMENTUM_SCHEDULES,
                  help="constant: m at every step; cosine: from m up to 1 over the run (BYOL, DINO)")


class MomentumTargets:
    """Mixin of a `Method` with momentum targets: list the (target, online) pairs in `momentum_pairs`; after each
    optimiser step every target moves towards its online network by `momentum_now()` (see the module docstring).
    Options: `momentum` (m_0) and `momentum_schedule`."""

    def momentum_pairs(self) -> List[Tuple[nn.Module, nn.Module]]:
        raise NotImplementedError

    def momentum_now(self) -> float:
        """This step's momentum m_t; outside a Trainer (no run, no step count) the schedule's start m_0."""
        o = self.options
        if o.momentum_schedule == "constant":
            return o.momentum
        trainer = self._trainer
        if trainer is None:
            return scheduled_momentum(o.momentum, o.momentum_schedule, 0, 1)
        # Lightning counts the optimiser step before this hook: global_step - 1 is the step just taken
        return scheduled_momentum(o.momentum, o.momentum_schedule, trainer.global_step - 1, run_steps(self)[0])

    def on_train_batch_end(self, outputs, batch, batch_idx):
        momentum = self.momentum_now()
        for target, online in self.momentum_pairs():
            momentum_update(target, online, momentum)
