"""MoCo v2 (He et al. 2020; Chen et al. 2020): a momentum encoder makes the keys, a queue keeps the last K of them.

    q = g(f(v)),  k = g_t(f_t(v'))  (momentum copies f_t, g_t; no gradient),  L = moco_loss(q, k, queue, T)
    after each step: f_t, g_t <- m (f_t, g_t) + (1 - m) (f, g);  queue <- the batch's keys (first in, first out)

The number of negatives is the queue size K, not the batch size: MoCo works with small batches. Here the loss is
symmetrised (each view is once the query, once the key), and both views' keys are queued. In a DDP run the keys
of every process are gathered before they are queued, so every process holds the same queue.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import torch
import torch.nn.functional as F

from ..losses import distributed_world, moco_loss
from .two_view import KeyQueue, TwoViewMethod, TwoViewOptions, frozen_copy, momentum_update

__all__ = ["MoCoMethod", "MoCoOptions", "gather_keys"]


@dataclasses.dataclass
class MoCoOptions(TwoViewOptions):
    queue_size: int = 1024
    momentum: float = 0.99
    temperature: float = 0.2


def gather_keys(keys: torch.Tensor) -> torch.Tensor:
    """keys (B, D) of this process -> (world * B, D), every process's keys in rank order (no gradient)."""
    world, _ = distributed_world()
    if world == 1:
        return keys
    gathered = [torch.empty_like(keys) for _ in range(world)]
    torch.distributed.all_gather(gathered, keys.contiguous())
    return torch.cat(gathered)


class MoCoMethod(TwoViewMethod):
    """MoCo v2. Head: projector g, target_encoder f_t, target_projector g_t (momentum copies), queue (`KeyQueue`)."""

    name = "moco"
    title = "MoCo v2"
    family = "contrastive"
    recipe = dict(epochs=20, batch_size=64, lr=2e-3)
    Options = MoCoOptions

    def __init__(self, **options):
        super().__init__(**options)
        self._keys: Optional[torch.Tensor] = None

    def make_modules(self, image_shape):
        o = self.options
        projector = self.projector()
        return {"projector": projector, "target_encoder": frozen_copy(self.encoder),
                "target_projector": frozen_copy(projector),
                "queue": KeyQueue(o.queue_size, o.out_dim, torch.Generator().manual_seed(0))}

    def training_step(self, batch, batch_idx):
        (images,), head, n = batch, self.head, len(batch[0])
        views = self.views(images)
        q = head["projector"](self.encoder(views)).float()
        with torch.no_grad():
            k = head["target_projector"](head["target_encoder"](views)).float()
        queue, t = head["queue"].keys, self.options.temperature
        self._keys = k
        return (moco_loss(q[:n], k[n:], queue, t) + moco_loss(q[n:], k[:n], queue, t)) / 2

    def on_train_batch_end(self, outputs, batch, batch_idx):
        m = self.options.momentum
        momentum_update(self.head["target_encoder"], self.encoder, m)
        momentum_update(self.head["target_projector"], self.head["projector"], m)
        if self._keys is not None:
            self.head["queue"].enqueue(gather_keys(F.normalize(self._keys, dim=1)))
            self._keys = None
