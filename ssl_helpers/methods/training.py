"""Pre-train any registered method with the course's one training loop, save it, and load it back.

    encoder, history = pretrain("masked", train.images)          # method.head is trained alongside
    save_method(method, encoder)                                  # -> <checkpoint dir>/masked.pt
    method, encoder, info = load_or_pretrain("masked")            # load it, or train a quick stand-in
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from ..train import CheckpointError, default_checkpoint_dir, fit, load_checkpoint, pick_device, save_checkpoint
from .base import Method

__all__ = ["pretrain", "save_method", "load_method", "load_or_pretrain"]


def _make(method) -> Method:
    from . import make_method

    return make_method(method)


def pretrain(method: Union[str, Method], train_images, *, encoder: Optional[nn.Module] = None,
             epochs: Optional[int] = None, batch_size: Optional[int] = None, lr: Optional[float] = None,
             seed: int = 0, device=None, progress: bool = True, monitor: Optional[tuple] = None,
             on_epoch_end=None, width: int = 32, **fit_options):
    """Train `encoder` (default: `method.make_encoder`) and the method's head with `ssl_helpers.train.fit`.

    train_images: (N, C, H, W) tensor or an `ImageSet` (its labels are not used). `epochs`, `batch_size`, `lr`
    default to `method.recipe`; other `fit` options (optimizer, warmup_epochs, weight_decay, ...) pass through.
    Each step calls `method.step(encoder, batch, generator)` with one generator seeded by `seed` (on the
    training device when `method.generator_on_device`, else on the CPU), then `method.after_step(encoder)`.
    monitor: optional `(train, test)` `ImageSet`s: after each epoch the history gets `knn`, the cosine kNN
    accuracy of the frozen encoder (labels only watch, they never train).
    GPU runs: `precision` ("auto": bf16 or float16 + gradient scaler by GPU), `checkpoint=path` (saved every
    epoch; a second call resumes after the last saved epoch, with the method's generator restored too) and
    `estimate=True` (prints the estimated time first) pass through to `fit`.
    Returns `(encoder, history)`; the trained head stays in `method.head`.
    """
    method = _make(method)
    images = getattr(train_images, "images", train_images)
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError("train_images must be an ImageSet or a tensor of shape (N, C, H, W)")
    recipe = {**method.recipe, **fit_options}
    recipe.update({k: v for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr).items() if v is not None})
    device = pick_device(device) if not isinstance(device, torch.device) else device
    torch.manual_seed(seed)  # the encoder's and the head's initial weights
    if encoder is None:
        encoder = method.make_encoder(tuple(images.shape[1:]), width=width)
    encoder.to(device)
    method.build_head(encoder, tuple(images.shape[1:]))
    generator = torch.Generator(device=device if method.generator_on_device else "cpu").manual_seed(seed)

    def loss_fn(batch):
        return method.step(encoder, batch[0], generator)

    def epoch_end(epoch):
        row = {}
        if monitor is not None:
            from ..evaluate import knn_monitor

            row["knn"] = knn_monitor(encoder, *monitor, device=device)
        if on_epoch_end is not None:
            row.update(on_epoch_end(epoch) or {})
        return row

    history = fit(loss_fn, [encoder, method.head], (images,), seed=seed, device=device, progress=progress,
                  on_epoch_end=epoch_end, after_step=lambda: method.after_step(encoder),
                  desc=method.title or method.name, generators=(generator,), **recipe)
    return encoder, history


def _plain(value):
    """Options as checkpoint-safe plain values (an `Augment` becomes its fields)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__dataclass__": type(value).__name__, **dataclasses.asdict(value)}
    return value


def _restore(value):
    if isinstance(value, dict) and value.get("__dataclass__") == "Augment":
        from ..augment import Augment

        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items() if k != "__dataclass__"}
        return Augment(**fields)
    return value


def save_method(method: Method, encoder: nn.Module, path=None, metrics: Optional[dict] = None,
                extra: Optional[dict] = None, image_shape=None) -> Path:
    """Save the encoder as `<checkpoint dir>/<method name>.pt` (see `ssl_helpers.train.save_checkpoint`) with the
    method's options and head, so that `load_method` rebuilds all three. image_shape (C, H, W) defaults to
    3 channels at `method.image_size`."""
    head = method._require_head()
    image_shape = tuple(image_shape or (3, method.image_size, method.image_size))
    path = Path(path) if path is not None else default_checkpoint_dir() / f"{method.name}.pt"
    payload = {"image_size": int(image_shape[-1]), **(extra or {}),
               "method_options": {k: _plain(v) for k, v in method.options.items()},
               "image_shape": list(image_shape),
               "head_state_dict": {k: v.detach().cpu() for k, v in head.state_dict().items()}}
    return save_checkpoint(path, encoder, method=method.name, metrics=metrics, extra=payload)


def load_method(name: str, path=None, device="cpu"):
    """Load what `save_method` wrote: returns `(method with its head, encoder, info)`, both in eval mode."""
    from . import make_method, method_class

    path = Path(path) if path is not None else default_checkpoint_dir() / f"{name}.pt"
    encoder, info = load_checkpoint(path, device=device)
    extra = info.get("extra") or {}
    if info.get("method") != name or "head_state_dict" not in extra:
        raise CheckpointError(f"{path} does not hold a {name!r} method with its head "
                              f"(it holds method {info.get('method')!r})")
    options = {**method_class(name).saved_before, **extra.get("method_options", {})}
    method = make_method(name, **{k: _restore(v) for k, v in options.items()})
    method.build_head(encoder, tuple(extra["image_shape"]))
    method.head.load_state_dict(extra["head_state_dict"])
    method.head.to(device).eval()
    return method, encoder, {**info, "quick": False, "path": str(path)}


def load_or_pretrain(name: str, path=None, epochs: Optional[int] = None, seed: int = 0, device="cpu",
                     verbose: bool = True, progress: bool = True):
    """The method's checkpoint if it exists; otherwise a quick pre-training on its embedded data (says so).

    Returns `(method, encoder, info)`; `info["quick"]` is True when the encoder was just trained here, and
    `info["extra"]["image_size"]` is the size it was trained at. A checkpoint that exists but does not load
    is an error (`CheckpointError`), never silently replaced.
    """
    from . import make_method

    path = Path(path) if path is not None else default_checkpoint_dir() / f"{name}.pt"
    if path.is_file():
        return load_method(name, path, device)
    from ..data import load_dataset

    method = make_method(name)
    epochs = epochs or method.quick_epochs
    if verbose:
        print(f"No checkpoint at {path}: pre-training a quick {name} encoder ({epochs} epochs on "
              f"{method.data} at {method.image_size} px) instead. Run notebook {method.notebook} for the full one.")
    train, _ = load_dataset(method.data, image_size=method.image_size)
    encoder, history = pretrain(method, train.images, epochs=epochs, seed=seed, device=device, progress=progress)
    info = {"config": dict(encoder.config), "method": name, "metrics": {}, "quick": True, "path": None,
            "extra": {"epochs": epochs, "image_size": method.image_size,
                      "final_loss": float(history["loss"].iloc[-1])}}
    return method, encoder.eval(), info
