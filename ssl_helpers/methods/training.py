"""Pre-train any registered method with the course's `lightning.Trainer`, save it, and load it back.

    encoder, history = pretrain("masked", train.images)          # the method's head is trained alongside
    save_method(method)                                           # -> <checkpoint dir>/masked.pt
    method, encoder, info = load_or_pretrain("masked")            # load it, or train a quick stand-in
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from .. import config
from ..data import load_dataset
from ..evaluate import knn_monitor
from ..models import build_encoder
from ..train import Schedule, CheckpointError, default_checkpoint_dir, load_checkpoint, pick_device, save_checkpoint
from ..train import process_rank, train_module
from .base import Method, make_method, method_class
from .registry import method_spec

__all__ = ["pretrain", "save_method", "load_method", "load_or_pretrain", "shipped_path", "shipped_score",
           "round_to_half", "ship_method", "SHIPPED_DIR", "EQUAL_BUDGET_DIR", "RECIPE_KEYS", "pretrain_like",
           "recipe_used", "train_at_budget", "load_or_pretrain_like"]

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
"""The course's CPU-tier checkpoints, installed with the package (written by `scripts/ship_checkpoints.py` from the
executed notebooks): a notebook opened alone (Colab, a fresh Binder) starts from them instead of training. Stored in
float16 with their heads (`ship_method`), loaded back as float32."""

EQUAL_BUDGET_DIR = SHIPPED_DIR / "equal_budget"
"""Every method pre-trained again with its notebook's recipe at one budget (`scripts/equal_budget.py`): the
transfer notebook's main leaderboard compares these."""

RECIPE_KEYS = ("batch_size", "lr", "weight_decay", "warmup_epochs")
"""The schedule fields a checkpoint's `extra` may record; `pretrain_like` reuses them (absent ones: the method's
recipe in its `MethodSpec`)."""

TRAINER_OPTIONS = ("precision", "checkpoint", "estimate", "devices", "strategy", "num_nodes", "drop_last")


def _make(method, **options) -> Method:
    return make_method(method, **options)


def _split_options(method: Union[str, Method], options: dict):
    """`pretrain`'s keyword options -> (the method's options, the schedule's and the Trainer's options)."""
    cls = method_class(method) if isinstance(method, str) else type(method)
    method_fields = set(cls.Options.__dataclass_fields__)
    run_fields = {"epochs", "batch_size", *Schedule.__dataclass_fields__, *TRAINER_OPTIONS}
    unknown = set(options) - method_fields - run_fields
    if unknown:
        raise ValueError(f"unknown pretrain options {sorted(unknown)}; expected the {cls.name} method's options "
                         f"({', '.join(cls.Options.__dataclass_fields__) or 'none'}), the schedule's (epochs, "
                         f"batch_size, {', '.join(Schedule.__dataclass_fields__)}) or the Trainer's "
                         f"({', '.join(TRAINER_OPTIONS)})")
    method_options = {k: v for k, v in options.items() if k in method_fields and k not in run_fields}
    if method_options and not isinstance(method, str):
        raise ValueError(f"method options {sorted(method_options)} can only be given with a method name, not with "
                         f"a method object: make_method({cls.name!r}, ...) or pretrain({cls.name!r}, ...)")
    return method_options, {k: v for k, v in options.items() if k not in method_options}


def pretrain(method: Union[str, Method], train_images, *, encoder: Optional[nn.Module] = None,
             epochs: Optional[int] = None, batch_size: Optional[int] = None, lr: Optional[float] = None,
             seed: int = 0, device=None, progress: bool = True, monitor: Optional[tuple] = None,
             on_epoch_end=None, width: int = 32, **options):
    """Build the method (`encoder`, default `method.make_encoder`, and a new head) and train it with the course's
    `lightning.Trainer` (`ssl_helpers.train.train_module`).

    method: a `Method`, or a registered name; with a name, the method's options can be given here by name too
    (`pretrain("simclr", images, temperature=0.2)`). train_images: (N, C, H, W) tensor or an `ImageSet` (its labels
    are not used). `epochs`, `batch_size`, `lr` default to the method's recipe (`method.spec.recipe`); the other
    `Schedule` fields (optimizer, warmup_epochs, weight_decay, schedule) and
    the Trainer's options pass through: `precision` ("auto": bf16 or float16 + gradient scaler by GPU),
    `checkpoint=folder` (saved every epoch; a second call resumes after the last saved epoch, the method's
    generator restored too), `estimate=True` (prints the estimated time), `devices`/`strategy`/`num_nodes` (DDP:
    several GPUs or nodes; `batch_size` is then per process).
    The initial weights and the method's generator (`method.generator`: views, masks, corruptions; on the training
    device when `method.generator_on_device`) are seeded by `seed` (+ 1000 x the process rank); the global RNG is
    left as it was. monitor: optional `(train, test)` `ImageSet`s: after each epoch the history gets `knn`, the
    cosine kNN accuracy of the frozen encoder (labels only watch, they never train).
    Returns `(encoder, history)`; the trained method keeps both (`method.encoder`, `method.head`).
    """
    method_options, run_options = _split_options(method, options)
    method = _make(method, **method_options)
    images = getattr(train_images, "images", train_images)
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError("train_images must be an ImageSet or a tensor of shape (N, C, H, W)")
    recipe = {**method.spec.recipe, **run_options}
    recipe.update({k: v for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr).items() if v is not None})
    trainer_options = {k: recipe.pop(k) for k in TRAINER_OPTIONS if k in recipe}
    run_epochs, run_batch = recipe.pop("epochs"), recipe.pop("batch_size")
    limits = config.settings()
    if limits.smoke:  # the FULL_RUN smoke test (SSL_SMOKE=1): every pre-training the same code, a few steps
        run_epochs = min(run_epochs, limits.smoke_limits["epochs"])
        trainer_options["batches_per_epoch"] = limits.smoke_limits["batches_per_epoch"]
    method.schedule = Schedule(**recipe)
    device = pick_device(device) if not isinstance(device, torch.device) else device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the encoder's and the head's initial weights
        method.build(tuple(images.shape[1:]), encoder, width)
    method.to(device)
    devices = trainer_options.get("devices")
    rank = process_rank(devices if isinstance(devices, int) else 1)
    method.generator = torch.Generator(device=device if method.generator_on_device else "cpu")
    method.generator.manual_seed(seed + 1000 * rank)

    def epoch_end(epoch):
        row = {}
        if monitor is not None:
            row["knn"] = knn_monitor(method.encoder, *monitor, device=device)
        if on_epoch_end is not None:
            row.update(on_epoch_end(epoch) or {})
        return row

    settings = {"method": method.name, **dataclasses.asdict(method.schedule),
                "options": repr(method), "parameters": sum(p.numel() for p in method.parameters())}
    history = train_module(method, (images,), epochs=run_epochs, batch_size=run_batch, seed=seed, device=device,
                           generators=(method.generator,), settings=settings, on_epoch_end=epoch_end,
                           progress=progress, desc=method.spec.title or method.name, **trainer_options)
    return method.encoder, history


def save_method(method: Method, path=None, metrics: Optional[dict] = None, extra: Optional[dict] = None,
                half: bool = False) -> Path:
    """Save the method's encoder as `<checkpoint dir>/<method name>.pt` (see `ssl_helpers.train.save_checkpoint`)
    with the method's options and head, so that `load_method` rebuilds all three.

    half: store the encoder's and the head's floating-point tensors as float16 (half the bytes; `load_method`
    gives them back in float32). The package's shipped checkpoints are saved so (`scripts/ship_checkpoints.py`,
    `scripts/equal_budget.py`); a student's own checkpoint keeps float32 (the default)."""
    if method.encoder is None or method.head is None:
        raise ValueError(f"the {method.name} method has not been built or trained: nothing to save")
    image_shape = tuple(method.image_shape)
    path = Path(path) if path is not None else default_checkpoint_dir() / f"{method.name}.pt"
    payload = {"image_size": int(image_shape[-1]), **(extra or {}),
               "method_options": dataclasses.asdict(method.options),
               "image_shape": list(image_shape),
               "head_state_dict": {k: v.detach().cpu() for k, v in method.head.state_dict().items()}}
    return save_checkpoint(path, method.encoder, method=method.name, metrics=metrics, extra=payload,
                           dtype=torch.float16 if half else None)


def load_method(name: str, path=None, device="cpu"):
    """Load what `save_method` wrote: returns `(method with its encoder and head, encoder, info)`, in eval mode."""
    path = Path(path) if path is not None else default_checkpoint_dir() / f"{name}.pt"
    encoder, info = load_checkpoint(path, device=device)
    extra = info.get("extra") or {}
    if info.get("method") != name or "head_state_dict" not in extra:
        raise CheckpointError(f"{path} does not hold a {name!r} method with its head "
                              f"(it holds method {info.get('method')!r})")
    options = {**method_class(name).saved_before, **extra.get("method_options", {})}
    method = make_method(name, **options)
    method.build(tuple(extra["image_shape"]), encoder)
    method.head.load_state_dict(extra["head_state_dict"])
    method.to(device).eval()
    return method, encoder, {**info, "quick": False, "path": str(path)}


def shipped_path(name: str) -> Path:
    """Where the package keeps the course's CPU-tier checkpoint of method `name`."""
    return SHIPPED_DIR / f"{name}.pt"


def shipped_score(method: Method, encoder: nn.Module) -> float:
    """The figure a shipped checkpoint records and its test reproduces: the cosine kNN accuracy (k = 20, every
    train label) of the frozen encoder on the method's embedded data at its image size."""
    train, test = load_dataset(method.spec.data, image_size=method.spec.image_size)
    return knn_monitor(encoder, train, test, device="cpu")


def round_to_half(*modules: nn.Module) -> None:
    """Round every floating-point parameter and buffer of `modules` to float16's precision, in place (they stay
    float32): the weights a checkpoint saved with `half=True` gives back when it is loaded."""
    with torch.no_grad():
        for module in modules:
            for tensor in module.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(tensor.to(torch.float16).to(tensor.dtype))


def ship_method(method: Method, path, metrics: Optional[dict] = None, extra: Optional[dict] = None):
    """Save a method as the package ships it: its encoder and head rounded to float16 (in place) and stored so,
    with `metrics["shipped_knn"]` scored on those rounded weights (`shipped_score`), so that the figure is the one
    a loaded copy reproduces. Returns `(path, score)`."""
    round_to_half(method.encoder, method.head)
    score = shipped_score(method, method.encoder)
    path = save_method(method, path, metrics={**(metrics or {}), "shipped_knn": score}, extra=extra, half=True)
    return path, score


def load_or_pretrain(name: str, path=None, epochs: Optional[int] = None, seed: int = 0, device="cpu",
                     verbose: bool = True, progress: bool = True, shipped: bool = True):
    """The method's checkpoint if it exists; else the course's checkpoint shipped with the package (`shipped`);
    else a quick pre-training on its embedded data. Says which.

    Returns `(method, encoder, info)`; `info["quick"]` is True when the encoder was just trained here,
    `info["shipped"]` when it is the package's, and `info["extra"]["image_size"]` is the size it was trained at.
    A checkpoint that exists but does not load is an error (`CheckpointError`), never silently replaced.
    """
    spec = method_spec(name)
    path = Path(path) if path is not None else default_checkpoint_dir() / f"{name}.pt"
    if path.is_file():
        method, encoder, info = load_method(name, path, device)
        return method, encoder, {**info, "shipped": False}
    if shipped and shipped_path(name).is_file():
        if verbose:
            print(f"No checkpoint at {path}: using the course's {name} checkpoint shipped with ssl_helpers "
                  f"(run notebook {spec.notebook} to train your own).")
        method, encoder, info = load_method(name, shipped_path(name), device)
        return method, encoder, {**info, "shipped": True}
    method = make_method(name)
    epochs = epochs or spec.quick_epochs
    if verbose:
        print(f"No checkpoint at {path}: pre-training a quick {name} encoder ({epochs} epochs on "
              f"{spec.data} at {spec.image_size} px) instead. Run notebook {spec.notebook} for the full one.")
    train, _ = load_dataset(spec.data, image_size=spec.image_size)
    encoder, history = pretrain(method, train.images, epochs=epochs, seed=seed, device=device, progress=progress)
    info = {"config": dict(encoder.config), "method": name, "metrics": {}, "quick": True, "shipped": False,
            "path": None,
            "extra": {"epochs": epochs, "image_size": spec.image_size,
                      "final_loss": float(history["loss"].iloc[-1])}}
    return method, encoder.eval(), info


def pretrain_like(name: str, info: dict, train_images, epochs: int, *, seed: int = 0, device=None,
                  progress: bool = True, **trainer_options):
    """Pre-train method `name` again, from new random weights, with the recipe its checkpoint recorded (`info`
    from `load_method`/`load_or_pretrain`): the same encoder architecture (`info["config"]`), the method's options,
    and the batch size, learning rate and schedule of `RECIPE_KEYS` where recorded, else the method's recipe; for
    `epochs` epochs: the same method at another budget. train_images: (N, C, H, W) at the size the checkpoint was
    trained at. Returns `(method, history)`."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    extra = info.get("extra") or {}
    options = {**method_class(name).saved_before, **extra.get("method_options", {})}
    method = make_method(name, **options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the new encoder's initial weights
        encoder = build_encoder(dict(info["config"]))
    _, history = pretrain(method, train_images, encoder=encoder, epochs=epochs, seed=seed, device=device,
                          progress=progress, **recipe_used(name, info), **trainer_options)
    return method, history


def recipe_used(name: str, info: dict) -> dict:
    """The batch size, learning rate and schedule `pretrain_like` trains method `name` with, given `info`."""
    extra = info.get("extra") or {}
    recipe = {**dataclasses.asdict(Schedule()), **method_spec(name).recipe}
    return {key: extra.get(key, recipe.get(key)) for key in RECIPE_KEYS}


def train_at_budget(name: str, info: dict, epochs: int, *, data: Optional[str] = None,
                    data_options: Optional[dict] = None, seed: int = 0, device="cpu", progress: bool = True,
                    verbose: bool = True):
    """`pretrain_like` on the dataset `data` (with `data_options`; by default the one `info["extra"]` records) at
    the image size `info["extra"]` records, timed. Returns `(method, extra)`: the trained method and what to save
    with it (`save_method(method, path, extra=extra)`): epochs, data, training seconds, final loss and the recipe."""
    extra = info.get("extra") or {}
    data = data or extra.get("data") or method_spec(name).data
    train, _ = load_dataset(data, image_size=int(extra["image_size"]), **(data_options or {}))
    if verbose:
        print(f"pre-training {name} for {epochs} epochs with its notebook's recipe "
              f"({data} at {extra['image_size']} px)")
    started = time.perf_counter()
    method, history = pretrain_like(name, info, train.images, epochs, seed=seed, device=device, progress=progress)
    seconds = time.perf_counter() - started
    method.eval()
    return method, {"epochs": epochs, "data": data, "train_seconds": seconds,
                    "final_loss": float(history["loss"].iloc[-1]), **recipe_used(name, info)}


def load_or_pretrain_like(name: str, info: dict, folder, epochs: int, *, data: Optional[str] = None,
                          data_options: Optional[dict] = None, seed: int = 0, device="cpu", progress: bool = True,
                          verbose: bool = True):
    """Method `name` at a budget of `epochs` epochs: `<folder>/<name>.pt` when it holds that budget, else trained
    now (`train_at_budget`: the recipe of `info`, on `data`) and saved there, then loaded. Returns
    `(method, encoder, info)` with `info["extra"]["epochs"]` and `["train_seconds"]`."""
    path = Path(folder) / f"{name}.pt"
    if path.is_file():
        method, encoder, saved = load_method(name, path, device)
        if (saved.get("extra") or {}).get("epochs") == epochs:
            return method, encoder, {**saved, "shipped": False}
        if verbose:
            print(f"{path} holds {saved['extra'].get('epochs')} epochs, not {epochs}: pre-training again")
    method, extra = train_at_budget(name, info, epochs, data=data, data_options=data_options, seed=seed,
                                    device=device, progress=progress, verbose=verbose)
    Path(folder).mkdir(parents=True, exist_ok=True)
    save_method(method, path, extra=extra)
    method, encoder, saved = load_method(name, path, device)  # exactly what a later call loads
    return method, encoder, {**saved, "shipped": False}
