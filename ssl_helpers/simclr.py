"""SimCLR (Chen et al. 2020): two random views of each image, pulled together by NT-Xent.

    x -> two views t(x), t'(x) -> encoder f -> h (the representation we keep) -> head g -> z -> NT-Xent(z, z')

- `SimCLR`: encoder f plus `ProjectionHead` g; `model(x)` gives z, `model.encoder(x)` gives h.
- `simclr_loss`: one step's loss on two batches of views (both views go through the network in one batch,
  so BatchNorm sees all 2N views); inside a `torch.distributed` process group, `nt_xent` gathers the views
  of every process, so each view has the negatives of the whole global batch.
- `SimCLRMethod`: SimCLR as a registered course method (`make_method("simclr")`), trained by
  `ssl_helpers.methods.pretrain` like every other method.
- `train_simclr`: for the `ssl-simclr` command (a model that may be wrapped in DistributedDataParallel): the shared loop `ssl_helpers.train.fit` with batched augmentation on the training device,
  mixed precision by GPU (`pick_precision`) and channels-last on CUDA, and an online kNN accuracy after every epoch.
"""
from __future__ import annotations

from typing import Optional

import pandas as pd
import torch
from torch import nn

from .augment import Augment
from .evaluate import knn_monitor
from .losses import distributed_world, nt_xent
from .methods.base import Method
from .methods.two_view import augment_for, two_views
from .models import ProjectionHead
from .train import Precision, fit, pick_device, pick_precision

__all__ = ["SimCLR", "SimCLRMethod", "simclr_loss", "train_simclr", "DIGITS_IMAGE_SIZE",
           "DIGITS_RECIPE"]

DIGITS_IMAGE_SIZE = 12
"""The CPU tier's SimCLR trains on the digits at 12 px (no less detail than 16 px, cheaper epochs)."""
DIGITS_RECIPE = dict(epochs=90, batch_size=256, lr=4e-3, temperature=0.5)
"""`train_simclr` settings for the digits (with `augment.preset("digits", 12)`): lr and temperature chosen on the
validation split by `scripts/tune_simclr.py` (`ssl_helpers/tuning/simclr_validation.csv`, shown in notebook 06)."""


class SimCLRMethod(Method):
    """SimCLR behind the course's method interface: two augmented views, encoder f, head g, NT-Xent.

        x (N, C, H, W) -> views v = t(x), v' = t'(x) -> z = g(f(v)), z' = g(f(v')) (N, out_dim) -> NT-Xent(z, z', T)

    Options: temperature T; augment, a preset name of `ssl_helpers.augment` (views at the image size) or an
    `Augment`; hidden_dim, out_dim of the `ProjectionHead`; projection=False puts the loss on h = f(x) itself.
    The views are drawn on the training device (`generator_on_device`), so a GPU is not starved by the CPU.
    """

    name = "simclr"
    title = "SimCLR"
    family = "contrastive"
    notebook = "06_simclr"
    image_size = DIGITS_IMAGE_SIZE
    recipe = {k: v for k, v in DIGITS_RECIPE.items() if k != "temperature"}
    quick_epochs = 20
    generator_on_device = True

    def __init__(self, temperature: float = DIGITS_RECIPE["temperature"], augment="digits", hidden_dim: int = 128,
                 out_dim: int = 64, projection: bool = True):
        super().__init__(temperature=temperature, augment=augment, hidden_dim=hidden_dim, out_dim=out_dim,
                         projection=projection)
        self.augment: Optional[Augment] = augment if isinstance(augment, Augment) else None

    def build_head(self, encoder: nn.Module, image_shape) -> nn.Module:
        if self.augment is None:
            self.augment = augment_for(self.options["augment"], image_shape[-1])
        device = next(encoder.parameters()).device
        o = self.options
        self.head = (ProjectionHead(encoder.out_dim, o["hidden_dim"], o["out_dim"]) if o["projection"]
                     else nn.Identity()).to(device)
        return self.head

    def step(self, encoder: nn.Module, images: torch.Tensor, generator: Optional[torch.Generator] = None):
        head = self._require_head()
        n = images.shape[0]
        z = head(encoder(two_views(self.augment, images, generator))).float()
        return nt_xent(z[:n], z[n:], self.options["temperature"])


class SimCLR(nn.Module):
    """Encoder f and projection head g: x (N, C, H, W) -> z = g(f(x)) (N, out_dim).

    With `head=False` the head is the identity and the loss acts on h = f(x) directly (an ablation).
    """

    def __init__(self, encoder: nn.Module, hidden_dim: int = 128, out_dim: int = 64, head: bool = True):
        super().__init__()
        self.encoder = encoder
        self.head = ProjectionHead(encoder.out_dim, hidden_dim, out_dim) if head else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def simclr_loss(model: nn.Module, x_a: torch.Tensor, x_b: torch.Tensor, temperature: float = 0.5,
                amp: bool = False) -> torch.Tensor:
    """NT-Xent of the projections of two batches of views: x_a, x_b (N, C, H, W) -> scalar.

    `amp`: channels-last memory and autocast to the device's mixed precision (`ssl_helpers.train.pick_precision`:
    bf16 on CUDA >= 8.0, float16 on older GPUs such as the T4, which then need `fit`'s gradient scaler; nothing
    on the CPU); the loss itself is computed in float32.
    """
    n = x_a.shape[0]
    x = torch.cat([x_a, x_b])
    precision = pick_precision(x.device) if amp else Precision(None, None)
    if amp:
        x = x.contiguous(memory_format=torch.channels_last)
    with precision.autocast(x.device.type):
        z = model(x)
    return nt_xent(z[:n].float(), z[n:].float(), temperature)


def train_simclr(model: SimCLR, images: torch.Tensor, augment: Augment, *, epochs: int = 30,
                 batch_size: int = 256, lr: float = 1e-3, temperature: float = 0.5, weight_decay: float = 1e-4,
                 optimizer: str = "adamw", warmup_epochs: int = 0, monitor: Optional[tuple] = None,
                 seed: int = 0, device=None, amp: Optional[bool] = None, progress: bool = True,
                 desc: str = "SimCLR", **fit_options) -> pd.DataFrame:
    """Pre-train `model` with SimCLR on `images` (N, C, H, W) in [0, 1] (no labels) through `fit`.

    Each step draws two views of the batch with `augment` on the training device (one seeded generator per
    process), and minimises `simclr_loss`. `model` may be wrapped in DistributedDataParallel (see `cli`).
    monitor: optional `(train, test)` `ImageSet`s; after each epoch the history gets `knn`, the kNN accuracy
    of `model.encoder` (the hidden labels are used only to watch).
    fit_options (e.g. `checkpoint=path` to resume, `estimate=True`) pass through to `ssl_helpers.train.fit`.
    amp: mixed precision (`pick_precision`: bf16, or float16 with a gradient scaler on GPUs before compute
    capability 8.0) plus channels-last; default on for CUDA. Returns `fit`'s per-epoch history.
    """
    device = pick_device(device) if not isinstance(device, torch.device) else device
    amp = device.type == "cuda" if amp is None else amp
    core = getattr(model, "module", model)  # the SimCLR inside a DistributedDataParallel wrapper
    if amp and core is model:
        model.to(memory_format=torch.channels_last)
    _, rank = distributed_world()
    generator = torch.Generator(device=device).manual_seed(seed + 1000 * rank)  # other views on each process

    def loss_fn(batch):
        (x,) = batch
        return simclr_loss(model, augment(x, generator), augment(x, generator), temperature, amp)

    def on_epoch_end(epoch):
        return {"knn": knn_monitor(core.encoder, *monitor, device=device)} if monitor else {}

    return fit(loss_fn, model, (images,), epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
               optimizer=optimizer, warmup_epochs=warmup_epochs, seed=seed, device=device,
               on_epoch_end=on_epoch_end, progress=progress, desc=desc,
               precision="auto" if amp else "float32", generators=(generator,), **fit_options)
