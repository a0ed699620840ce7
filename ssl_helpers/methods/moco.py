"""MoCo v2 (He et al. 2020; Chen et al. 2020): a momentum encoder makes the keys, a queue keeps the last K of them.

    q = g(f(v)),  k = g_t(f_t(v'))  (momentum copies f_t, g_t; no gradient),  L = moco_loss(q, k, queue, T)
    after each step: f_t, g_t <- m (f_t, g_t) + (1 - m) (f, g);  queue <- the batch's keys (first in, first out)

The number of negatives is the queue size K, not the batch size: MoCo works with small batches. Here the loss is
symmetrised (each view is once the query, once the key), and both views' keys are queued.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..losses import moco_loss
from ..models import ProjectionHead
from .two_view import KeyQueue, TwoViewMethod, frozen_copy, momentum_update

__all__ = ["MoCoMethod"]


class MoCoMethod(TwoViewMethod):
    """MoCo v2. Options: queue_size K, momentum m, temperature T, hidden_dim, out_dim, augment.

    Head: projector g, target_encoder f_t, target_projector g_t (momentum copies), queue (`KeyQueue`).
    """

    name = "moco"
    title = "MoCo v2"
    family = "contrastive"
    recipe = dict(epochs=20, batch_size=64, lr=2e-3)

    def __init__(self, queue_size: int = 1024, momentum: float = 0.99, temperature: float = 0.2,
                 hidden_dim: int = 128, out_dim: int = 64, augment="digits"):
        super().__init__(augment=augment, queue_size=queue_size, momentum=momentum, temperature=temperature,
                         hidden_dim=hidden_dim, out_dim=out_dim)
        self._keys: Optional[torch.Tensor] = None

    def build_modules(self, encoder, image_shape):
        o = self.options
        projector = ProjectionHead(encoder.out_dim, o["hidden_dim"], o["out_dim"])
        return {"projector": projector, "target_encoder": frozen_copy(encoder),
                "target_projector": frozen_copy(projector),
                "queue": KeyQueue(o["queue_size"], o["out_dim"], torch.Generator().manual_seed(0))}

    def step(self, encoder: nn.Module, images: torch.Tensor, generator: Optional[torch.Generator] = None):
        head = self._require_head()
        n = images.shape[0]
        views = self.views(images, generator)
        q = head["projector"](encoder(views)).float()
        with torch.no_grad():
            k = head["target_projector"](head["target_encoder"](views)).float()
        queue, t = head["queue"].keys, self.options["temperature"]
        loss = (moco_loss(q[:n], k[n:], queue, t) + moco_loss(q[n:], k[:n], queue, t)) / 2
        self._keys = k
        return loss

    def after_step(self, encoder: nn.Module) -> None:
        head = self._require_head()
        m = self.options["momentum"]
        momentum_update(head["target_encoder"], encoder, m)
        momentum_update(head["target_projector"], head["projector"], m)
        if self._keys is not None:
            head["queue"].enqueue(torch.nn.functional.normalize(self._keys, dim=1))
            self._keys = None
