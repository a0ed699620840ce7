"""MoCo v2 (He et al. 2020; Chen et al. 2020): a momentum encoder makes the keys, a queue keeps the last K of them.

    q = g(f(v)),  k = g_t(f_t(v'))  (momentum copies f_t, g_t; no gradient),  L = moco_loss(q, k, queue, T)
    then: queue <- the batch's keys (first in, first out);  after each step: f_t, g_t <- m (f_t, g_t) + (1 - m) (f, g)

The number of negatives is the queue size K, not the batch size: MoCo works with small batches. Here the loss is
symmetrised (each view is once the query, once the key), and both views' keys are queued. In a DDP run the keys
of every process are gathered before they are queued, so every process holds the same queue. The keys are queued
in `training_step` once the loss is computed (against a copy of the queue, as MoCo's code does), so nothing is
kept between hooks; the momentum update is `MomentumTargets`'s, after the optimiser step.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..losses import distributed_world, moco_loss
from .momentum import MomentumTargets, frozen_copy, momentum_option, momentum_schedule_option
from .options import option, positive_int, positive_number
from .two_view import KeyQueue, TwoViewMethod, TwoViewOptions

__all__ = ["MoCoMethod", "MoCoOptions", "gather_keys"]


@dataclasses.dataclass
class MoCoOptions(TwoViewOptions):
    queue_size: int = option(1024, check=positive_int, help="K, the number of keys the queue keeps (the negatives)")
    momentum: float = momentum_option(0.99, "key encoder")
    momentum_schedule: str = momentum_schedule_option()
    temperature: float = option(0.2, check=positive_number, help="temperature T of the InfoNCE loss")


def gather_keys(keys: torch.Tensor, gather: bool = False) -> torch.Tensor:
    """keys (B, D) of this process -> with `gather`, (world * B, D): every process's keys in rank order (no
    gradient); without it (the default, as `nt_xent`'s), `keys` unchanged."""
    if not isinstance(gather, bool):
        raise TypeError(f"gather must be True or False, got {gather!r}")
    world, _ = distributed_world()
    if not gather or world == 1:
        return keys
    gathered = [torch.empty_like(keys) for _ in range(world)]
    torch.distributed.all_gather(gathered, keys.contiguous())
    return torch.cat(gathered)


class MoCoMethod(MomentumTargets, TwoViewMethod):
    """MoCo v2. Head: projector g, target_encoder f_t, target_projector g_t (momentum copies), queue (`KeyQueue`)."""

    name = "moco"
    Options = MoCoOptions

    def make_modules(self, image_shape):
        o = self.options
        projector = self.projector()
        return {"projector": projector, "target_encoder": frozen_copy(self.encoder),
                "target_projector": frozen_copy(projector),
                "queue": KeyQueue(o.queue_size, o.out_dim, torch.Generator().manual_seed(0))}

    def momentum_pairs(self):
        return [(self.head["target_encoder"], self.encoder), (self.head["target_projector"], self.head["projector"])]

    def training_step(self, batch, batch_idx):
        (images,), head, n = batch, self.head, len(batch[0])
        views = self.views(images)
        q = head["projector"](self.encoder(views)).float()
        with torch.no_grad():
            k = head["target_projector"](head["target_encoder"](views)).float()
        queue, t = head["queue"].keys.clone(), self.options.temperature  # a copy: the keys are queued below
        loss = (moco_loss(q[:n], k[n:], queue, t) + moco_loss(q[n:], k[:n], queue, t)) / 2
        head["queue"].enqueue(gather_keys(F.normalize(k, dim=1), self.distributed()))  # the next step's negatives (no gradient)
        return loss
