"""`ssl-pretrain` / `ssl-simclr`: pre-train any registered method from the command line.

    ssl-pretrain --dataset digits                                     # CPU: SimCLR, small CNN, digits recipe
    ssl-pretrain --method vicreg --help                               # VICReg's options: flags, types, defaults
    ssl-pretrain --method vicreg --dataset digits --variance-weight 0 # any method of ssl_helpers.methods
    ssl-simclr --dataset cifar10 --download                           # GPU: ResNet-18, 100 epochs, batch 512
    ssl-pretrain --method byol --dataset cifar10 --devices 4          # 4 GPUs, DDP launched by Lightning
    torchrun --nproc_per_node 4 -m ssl_helpers.cli --dataset cifar10  # 4 GPUs (any method), global batch 512

The flags come in two kinds. The common ones (data, encoder, schedule, devices, checkpoint) are the same for every
method. A method's own options are generated from the fields of its `Options` dataclass (`method_flags`): the
parser reads `--method` first, then adds one flag per field, with the field's `metadata["help"]`, type and
default (bool -> `--flag/--no-flag`, int/float/str -> typed, `Optional[...]` -> the type or `none`, tuples ->
several values, a preset-name field such as `augment` -> the preset's name). A field the command line has no type
for is listed in the help and set with `--option NAME=VALUE` (a Python literal), which also sets any field.
`ssl-simclr` is `ssl-pretrain` with `--method simclr` as the default.

Defaults follow the dataset: the embedded digits get the method's CPU-tier recipe (a small CNN at the method's
image size: minutes on a laptop); CIFAR-10, STL-10 and image folders get a CIFAR ResNet-18, 100 epochs and batch
512 (and, for a method with these options, the dataset's `augment` preset and a 512/128 projector). Every bad
value is a one-line usage error (exit status 2) before anything trains, a method's own checks included (its
`Options` reject the value; the error names the flag), and an existing checkpoint is never replaced without
`--overwrite`.

Every run trains through `ssl_helpers.methods.pretrain`, that is the method's LightningModule in the course's
`lightning.Trainer` (a progress bar, mixed precision on CUDA via `ssl_helpers.train.pick_precision`). With
`--devices N` (Lightning launches the processes) or under `torchrun`/SLURM (`--num-nodes` for several nodes),
the Trainer's DDP strategy trains any method: each process takes its own batches of one shared shuffle,
`nt_xent` gathers the projections of all processes (each view meets the whole global batch's negatives) and MoCo
gathers every process's keys into its queue (SyncBatchNorm on CUDA makes BatchNorm global too). Rank 0 prints a
kNN accuracy after each epoch and writes the checkpoint, which `ssl_helpers.methods.load_method(method, path)`
reads back.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import re
import sys
import textwrap
import types
import typing
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import torch

from . import methods
from .augment import PRESETS
from .data import DatasetUnavailableError, load_dataset
from .losses import distributed_world
from .methods import Method, make_method, method_class, method_names, save_method
from .models import build_encoder
from .train import default_checkpoint_dir, pick_device, process_rank

__all__ = [
    "OptionFlag",
    "build_parser",
    "init_distributed",
    "main",
    "main_simclr",
    "method_flags",
    "method_recipe",
    "parse_args",
    "train_from_args",
]

DEFAULT_METHOD = "simclr"
EMBEDDED = ("digits", "colour_digits")
DATASET_CHOICES = ("digits", "colour_digits", "cifar10", "stl10", "folder")
ARCH_CHOICES = ("small_cnn", "resnet18_cifar")
GPU_DEFAULTS = {"arch": "resnet18_cifar", "width": 64, "epochs": 100, "batch_size": 512}
# Method options whose default follows --dataset, for every method whose Options have them.
DEFAULT_AUGMENT = {"digits": "digits", "colour_digits": "digits", "cifar10": "small", "stl10": "simclr"}  # else simclr
GPU_OPTIONS = {"hidden_dim": 512, "out_dim": 128}  # real datasets (cifar10, stl10, folder)
DATASET_NOTES = {"augment": "by --dataset: digits on digits/colour_digits, small on cifar10, simclr on stl10/folder",
                 "hidden_dim": "512 on cifar10/stl10/folder", "out_dim": "128 on cifar10/stl10/folder"}
OPTION_DEST = "method_option:"  # namespace attributes of the generated flags (popped into `method_options`)

EPILOG = """\
examples:
  CPU (a laptop, minutes): SimCLR on the embedded digits with a small CNN
    %(prog)s --dataset digits
  CPU, another method, a shorter run, one of its options:
    %(prog)s --method vicreg --dataset digits --epochs 4 --variance-weight 0
  a method's own options (generated from its Options dataclass), with their types and defaults:
    %(prog)s --method vicreg --help
  GPU (one GPU): SimCLR on CIFAR-10 with a ResNet-18, 100 epochs, batch 512, mixed precision
    %(prog)s --dataset cifar10 --download
  several GPUs (any method): %(prog)s --method byol --dataset cifar10 --devices 4
    or: torchrun --nproc_per_node 4 -m ssl_helpers.cli --method byol --dataset cifar10 --download

Defaults by dataset: digits -> the method's CPU recipe (small CNN, its epochs, batch and lr);
cifar10/stl10/folder -> resnet18_cifar width 64, 100 epochs, batch 512. The checkpoint goes to
checkpoints/<method>_<dataset>.pt ($SSL_CHECKPOINTS) unless --out; an existing one needs --overwrite.
"""


def _method_names() -> list:
    return method_names()


def method_recipe(name: str) -> tuple:
    """`(recipe, image_size)`: the method's CPU-tier `pretrain` defaults (epochs, batch_size, lr, ...) and the image
    size it trains at on the digits. The one place the command line reads the registry's metadata."""
    spec = methods.method_spec(name)
    return dict(spec.recipe), spec.image_size


# -- flags generated from a method's Options dataclass ------------------------------------------------------


@dataclasses.dataclass
class OptionFlag:
    """How one field of a method's `Options` dataclass reaches the command line."""

    field: str             # the option's name: the keyword of `make_method(name, **options)`
    flag: str | None    # its flag, e.g. "--variance-weight"; None when the command line has no type for it
    type_name: str         # the field's type as the help prints it
    kwargs: dict           # `add_argument`'s keywords (type, nargs, choices, action, metavar, help)

    @property
    def flags(self) -> set:
        """Every spelling of the flag (`--no-...` too for a bool)."""
        if self.flag is None:
            return set()
        if self.kwargs.get("action") is argparse.BooleanOptionalAction:
            return {self.flag, "--no-" + self.flag[2:]}
        return {self.flag}


def _type_name(tp) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "").replace("NoneType", "None")


def _without_none(tp):
    """`(X, True)` for `Optional[X]` (`X | None`), else `(tp, False)`."""
    if typing.get_origin(tp) in (typing.Union, getattr(types, "UnionType", typing.Union)):  # X | None: 3.10+
        rest = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(rest) == 1 and len(rest) < len(typing.get_args(tp)):
            return rest[0], True
    return tp, False


def _or_none(convert):
    """`convert`, with the word `none` giving None (for an `Optional` field); argparse's errors keep its name."""

    def parse(text: str):
        return None if text.lower() == "none" else convert(text)

    parse.__name__ = convert.__name__
    parse.__wrapped__ = convert
    return parse


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _argparse_kwargs(field: dataclasses.Field, tp) -> dict | None:
    """`add_argument`'s keywords for a field of type `tp`, or None when the command line has no type for it."""
    base, optional = _without_none(tp)
    default = _default(field)
    if base is bool:
        return {"action": argparse.BooleanOptionalAction}
    if base in (int, float, str):
        return {"type": _or_none(base) if optional else base, "metavar": base.__name__.upper()}
    if typing.get_origin(base) is typing.Literal:
        values = typing.get_args(base)
        if values and len({type(value) for value in values}) == 1 and type(values[0]) in (int, float, str):
            return {"type": type(values[0]), "choices": list(values)}
        return None
    if base is tuple or typing.get_origin(base) is tuple:
        items = typing.get_args(base)
        if len(items) == 2 and items[1] is Ellipsis:
            item, nargs = items[0], "+"
        elif items and all(arg is items[0] for arg in items):
            item, nargs = items[0], len(items)
        elif not items and isinstance(default, tuple) and default and len({type(v) for v in default}) == 1:
            item, nargs = type(default[0]), "+"  # a bare `tuple`: the type of its default's items
        else:
            return None
        if item not in (int, float, str):
            return None
        return {"type": _or_none(item) if optional else item, "nargs": nargs, "metavar": item.__name__.upper()}
    if isinstance(default, str):  # a type argparse cannot express (Any, an Augment or a name): the preset's name
        if field.name == "augment":
            return {"type": str, "choices": sorted(PRESETS)}
        return {"type": str, "metavar": "NAME"}
    return None


def _by_name(field: dataclasses.Field, tp) -> bool:
    """Whether the command line gives this field by name (a type it cannot express, a str default)."""
    base = _without_none(tp)[0]
    return (base not in (bool, int, float, str, tuple) and typing.get_origin(base) not in (tuple, typing.Literal)
            and isinstance(_default(field), str))


def _help(field: dataclasses.Field, type_name: str, kwargs: dict | None) -> str:
    """The field's `metadata["help"]` (else its name), then its type, its default and how to set it."""
    text = field.metadata.get("help") or field.name.replace("_", " ")
    default = _default(field)
    shown = "required" if default is dataclasses.MISSING else f"default: {default!r}"
    if kwargs is not None and getattr(kwargs.get("type"), "__wrapped__", None):
        shown += "; 'none' for None"
    settable = kwargs is not None
    if field.name in DATASET_NOTES:
        shown += f"; {DATASET_NOTES[field.name]}"
    if not settable:
        shown += f"; no flag: set it with --option {field.name}=VALUE, a Python literal"
    return f"{' '.join(str(text).split())} ({type_name}, {shown})".replace("%", "%%")


def method_flags(name: str, taken: frozenset = frozenset()) -> list[OptionFlag]:
    """One `OptionFlag` per field of `method_class(name).Options`, in field order.

    The flag is `--field-name`; where that is one of the common flags (`taken`, e.g. a method's `seed` and the
    run's `--seed`) it is `--<method>-field-name`. Help: the field's `metadata["help"]` (else its name), its type,
    its default.
    """
    options = method_class(name).Options
    try:
        hints = typing.get_type_hints(options)
    except (NameError, TypeError):  # an annotation that does not resolve: the field's own (maybe a string)
        hints = {}
    flags = []
    for field in dataclasses.fields(options):
        tp = hints.get(field.name, field.type)
        kwargs = _argparse_kwargs(field, tp)
        choices = field.metadata.get("choices")
        if kwargs is not None and choices and kwargs.get("type") in (int, float, str):
            kwargs = {"type": kwargs["type"], "choices": list(choices)}  # the option's own choices
        type_name = _type_name(tp)
        if kwargs is not None and _by_name(field, tp):
            type_name += ": a preset name" if field.name == "augment" else ": a name"
        flag = None
        if kwargs is not None:
            flag = "--" + field.name.replace("_", "-")
            spellings = {flag, "--no-" + flag[2:]} if kwargs.get("action") else {flag}
            if spellings & taken:
                flag = f"--{name}-{field.name}".replace("_", "-")
            kwargs["help"] = _help(field, type_name, kwargs)
        flags.append(OptionFlag(field.name, flag, type_name,
                                kwargs if kwargs is not None else {"help": _help(field, type_name, None)}))
    return flags


def _add_method_options(p: argparse.ArgumentParser, name: str) -> None:
    """The group of `name`'s own flags, generated from its Options dataclass."""
    flags = method_flags(name, p.common_flags)
    text = (f"Generated from the fields of {method_class(name).Options.__name__} (`--method NAME --help` lists "
            f"another method's); unset, a field keeps its default.")
    if not flags:
        text = f"The {name} method has no options."
    skipped = [flag for flag in flags if flag.flag is None]
    if skipped:
        text += (" No flag for " + ", ".join(f"{flag.field} ({flag.type_name})" for flag in skipped)
                 + ": the command line has no type for it; set it with --option NAME=VALUE (a Python literal).")
    group = p.add_argument_group(f"options of the {name} method", textwrap.fill(text, 100))
    for flag in flags:
        if flag.flag is not None:
            group.add_argument(flag.flag, dest=OPTION_DEST + flag.field, default=argparse.SUPPRESS, **flag.kwargs)


# -- the parser ---------------------------------------------------------------------------------------------


def build_parser(prog: str = "ssl-pretrain", method: str | None = None,
                 default: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: the common flags, then the flags of `method` (default simclr), generated from its
    `Options` dataclass. `default`: the default of `--method` (default `method`; `ssl-simclr`: "simclr")."""
    method = method or default or DEFAULT_METHOD
    p = argparse.ArgumentParser(prog=prog, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Self-supervised pre-training of any course method, on one device or "
                                            "several (--devices, torchrun).\n`--method NAME --help` lists that "
                                            "method's own options.")
    p.add_argument("--method", default=default or method, choices=_method_names(),
                   help="the registered method to train (default: %(default)s)")
    p.add_argument("--dataset", default="digits", choices=DATASET_CHOICES, help="default: %(default)s")
    p.add_argument("--data-root", default=None, help="where cifar10/stl10 live (required for 'folder')")
    p.add_argument("--download", action="store_true", help="download cifar10/stl10 if missing (needs internet)")
    p.add_argument("--image-size", type=int, default=None,
                   help="resize images (default: digits at the method's size, real datasets native)")
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT training images")
    p.add_argument("--arch", default=None, choices=ARCH_CHOICES,
                   help="encoder (default: digits small_cnn, real datasets resnet18_cifar)")
    p.add_argument("--width", type=int, default=None, help="encoder width (default: small CNN 32, ResNet 64)")
    p.add_argument("--epochs", type=int, default=None, help="default: digits the method's recipe, else 100")
    p.add_argument("--batch-size", type=int, default=None,
                   help="global batch, split over processes (default: digits the method's recipe, else 512)")
    p.add_argument("--lr", type=float, default=None,
                   help="default: digits the method's recipe, else 1e-3 * batch / 256")
    p.add_argument("--optimizer", default=None, choices=["adamw", "adam", "sgd"],
                   help="default: digits the method's recipe, else adamw")
    p.add_argument("--weight-decay", type=float, default=None, help="default: digits the method's recipe, else 1e-4")
    p.add_argument("--warmup-epochs", type=int, default=None,
                   help="default: digits the method's recipe, else 10 if epochs >= 50, else 0")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="any option of the method's constructor as a Python literal, e.g. --option "
                        "patch_sizes=(2,4) (repeatable; for the options without a flag)")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    p.add_argument("--no-amp", action="store_true", help="turn off mixed precision (bf16, or float16 on GPUs "
                                                        "before compute capability 8.0) + channels-last on CUDA")
    p.add_argument("--monitor", type=int, default=None,
                   help="images of train and test for the per-epoch kNN monitor (0: none; default 5000)")
    p.add_argument("--devices", type=int, default=None,
                   help="processes (GPUs) on this node, DDP (default: 1, or torchrun's --nproc_per_node)")
    p.add_argument("--strategy", default=None, help="Lightning strategy (default: ddp with several processes)")
    p.add_argument("--num-nodes", type=int, default=1, help="nodes of a multi-node run (torchrun or SLURM)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="checkpoint path (default: checkpoints/<method>_<dataset>.pt)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint at --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.common_flags = frozenset(flag for action in p._actions for flag in action.option_strings)
    if method in _method_names():
        _add_method_options(p, method)
    return p


def _prog() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith("ssl-") else "ssl-pretrain"


def _chosen_method(argv: Sequence[str] | None, prog: str, default: str | None) -> str:
    """The first stage: `--method` alone (its flags depend on it); everything else waits for the second."""
    first = argparse.ArgumentParser(prog=prog, add_help=False)
    first.add_argument("--method", default=default or DEFAULT_METHOD)
    known, _ = first.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    return known.method


def _unrecognized(p: argparse.ArgumentParser, method: str, extras: list) -> None:
    """A usage error for arguments the chosen method's parser does not know, naming the methods that have them."""
    for extra in extras:
        flag = extra.split("=", 1)[0]
        owners = {name: option for name in _method_names() for option in method_flags(name, p.common_flags)
                  if flag.startswith("--") and flag in option.flags}
        if owners:
            mine = [option.field for option in method_flags(method, p.common_flags)]
            p.error(f"argument {flag}: the {method} method has no {next(iter(owners.values())).field!r} option "
                    f"(its options: {', '.join(mine) or 'none'}); {flag} is an option of {', '.join(owners)}")
    p.error(f"unrecognized arguments: {' '.join(extras)}")


def _method_options(p: argparse.ArgumentParser, args) -> dict:
    """The options given for the method's constructor: its generated flags and `--option KEY=VALUE`."""
    flags = {option.field: option for option in method_flags(args.method, p.common_flags)}
    given = {}
    for dest in sorted(dest for dest in vars(args) if dest.startswith(OPTION_DEST)):
        value = vars(args).pop(dest)
        if isinstance(value, list):  # several values: a tuple, or None (`--patch-sizes none`)
            value = None if None in value else tuple(value)
        given[dest[len(OPTION_DEST):]] = value
    by_flag = set(given)
    for item in args.option:
        key, sep, text = item.partition("=")
        if not sep or not key:
            p.error(f"argument --option: expected KEY=VALUE, got {item!r}")
        if key not in flags:
            p.error(f"argument --option: the {args.method} method has no {key!r} option "
                    f"(its options: {', '.join(flags) or 'none'})")
        if key in by_flag:
            p.error(f"argument --option: {key} is also given by {flags[key].flag}; give it once")
        try:
            given[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            given[key] = text  # a plain word, e.g. a preset name
    return given


def _check_method_options(p: argparse.ArgumentParser, method: str, options: dict) -> None:
    """The method's `Options` check the values (as `make_method` would); a rejection names the flag."""
    try:
        method_class(method).Options(**options)
    except (TypeError, ValueError) as error:
        message = " ".join(str(error).split())
        named = []
        for option in method_flags(method, p.common_flags):
            found = re.search(rf"(?<!\w){re.escape(option.field)}(?!\w)", message)
            if found:
                named.append((option.field not in options, found.start(), option))
        if not named:
            p.error(f"the {method} method's options: {message}")
        option = min(named, key=lambda item: item[:2])[2]  # a given option first, then the first named
        p.error(f"argument {option.flag or '--option'}: {message}")


def _check_device(p: argparse.ArgumentParser, name: str) -> None:
    if name == "auto":
        return
    try:
        device = torch.device(name)
    except RuntimeError:
        p.error(f"argument --device: unknown device {name!r} (expected auto, cpu, cuda, cuda:N or mps)")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            p.error(f"argument --device: {name!r} was asked for, but CUDA is not available on this machine; "
                    f"use --device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            p.error(f"argument --device: {name!r} does not exist (this machine has "
                    f"{torch.cuda.device_count()} CUDA device(s))")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            p.error(f"argument --device: {name!r} was asked for, but Apple's MPS is not available here; "
                    f"use --device cpu (or auto)")
    if device.type not in ("cpu", "cuda", "mps"):
        p.error(f"argument --device: {name!r} is not supported (expected auto, cpu, cuda, cuda:N or mps)")


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None,
               method: str | None = None) -> argparse.Namespace:
    """Parse and check `argv` in two stages (`--method`, then the common flags and that method's own), fill the
    dataset's defaults; any bad value exits with a one-line usage error. `method`: the default of `--method`.

    Adds `method_options` (for `make_method(args.method, **args.method_options)`) and `out` (the checkpoint path)
    to the namespace.
    """
    prog = prog or _prog()
    p = build_parser(prog, _chosen_method(argv, prog, method), default=method or DEFAULT_METHOD)
    args, extras = p.parse_known_args(argv)
    if extras:
        _unrecognized(p, args.method, extras)
    args.prog = p.prog
    given = _method_options(p, args)
    for flag, value, low in [("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 2),
                             ("--width", args.width, 1), ("--image-size", args.image_size, 4),
                             ("--limit", args.limit, 2), ("--monitor", args.monitor, 0),
                             ("--warmup-epochs", args.warmup_epochs, 0)]:
        if value is not None and value < low:
            p.error(f"argument {flag}: must be at least {low}, got {value}")
    if args.lr is not None and not args.lr > 0:
        p.error(f"argument --lr: must be greater than 0, got {args.lr}")
    if args.weight_decay is not None and args.weight_decay < 0:
        p.error(f"argument --weight-decay: must be at least 0, got {args.weight_decay}")
    if args.dataset == "folder" and not args.data_root:
        p.error("argument --data-root: required with --dataset folder (a folder of class sub-folders)")
    if args.download and args.dataset not in ("cifar10", "stl10"):
        p.error(f"argument --download: only cifar10 and stl10 are downloaded; {args.dataset} needs no download")
    _check_device(p, args.device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.devices is not None and args.devices < 1:
        p.error(f"argument --devices: must be a positive integer, got {args.devices}")
    if args.num_nodes < 1:
        p.error(f"argument --num-nodes: must be a positive integer, got {args.num_nodes}")
    world = max(world, (args.devices or 1) * args.num_nodes)

    # Defaults that fit the dataset: the method's CPU recipe on the digits, the GPU recipe otherwise.
    warmup_given = args.warmup_epochs is not None
    if args.dataset in EMBEDDED:
        recipe, image_size = method_recipe(args.method)
        args.epochs = args.epochs or recipe.get("epochs", 8)
        args.batch_size = args.batch_size or recipe.get("batch_size", 128)
        args.lr = args.lr or recipe.get("lr")
        args.image_size = args.image_size or image_size
        for key in ("optimizer", "weight_decay", "warmup_epochs"):
            if getattr(args, key) is None and key in recipe:
                setattr(args, key, recipe[key])
        if args.warmup_epochs is None:
            args.warmup_epochs = 0
    else:
        args.epochs = args.epochs or GPU_DEFAULTS["epochs"]
        args.batch_size = args.batch_size or GPU_DEFAULTS["batch_size"]
    if args.lr is None:
        args.lr = 1e-3 * args.batch_size / 256
    args.optimizer = args.optimizer or "adamw"
    args.weight_decay = 1e-4 if args.weight_decay is None else args.weight_decay
    if args.warmup_epochs is None:
        args.warmup_epochs = 10 if args.epochs >= 50 else 0
    if not warmup_given:  # a recipe's warm-up never outlasts a shorter run asked for with --epochs
        args.warmup_epochs = min(args.warmup_epochs, args.epochs - 1)
    if args.warmup_epochs >= args.epochs and args.warmup_epochs > 0:
        p.error(f"argument --warmup-epochs: must be fewer than --epochs ({args.epochs}), got {args.warmup_epochs}")
    if args.monitor is None:
        args.monitor = 5000
    if args.batch_size % world:
        p.error(f"argument --batch-size: {args.batch_size} must be divisible by the {world} processes")

    # The method's options: the dataset's defaults (for a method that has the option), then the flags given.
    fields = {field.name for field in dataclasses.fields(method_class(args.method).Options)}
    by_dataset = {"augment": DEFAULT_AUGMENT.get(args.dataset, "simclr"),
                  **(GPU_OPTIONS if args.dataset not in EMBEDDED else {})}
    args.method_options = {k: v for k, v in by_dataset.items() if k in fields} | given
    _check_method_options(p, args.method, args.method_options)

    args.out = Path(args.out) if args.out else default_checkpoint_dir() / f"{args.method}_{args.dataset}.pt"
    if args.out.is_dir():
        p.error(f"argument --out: {args.out} is a folder; give a file path such as {args.out / 'encoder.pt'}")
    if args.out.exists() and not args.overwrite:
        p.error(f"argument --out: {args.out} exists; pass --overwrite to replace it, or --out another path")
    return args


def usage_error(args: argparse.Namespace, message: str) -> None:
    """Exit with a one-line usage error found after parsing (e.g. once the data is loaded)."""
    build_parser(args.prog, args.method).error(message)


def init_distributed(device: str = "auto"):
    """Join the `torchrun` process group if there is one: returns `(world, rank, device)`.

    Under torchrun (WORLD_SIZE > 1): NCCL with one GPU per process (`cuda:LOCAL_RANK`), or gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 or "RANK" not in os.environ:  # one process, or a process Lightning launched (it joins the group)
        return 1, process_rank(), pick_device(device)
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(minutes=10))
    world, rank = distributed_world()
    return world, rank, torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def _load(args, world: int, rank: int):
    """The dataset's (train, test); under torchrun rank 0 loads (and downloads) first, the others after it.

    A dataset that is missing or cannot be downloaded is a one-line usage error.
    """
    options = {"image_size": args.image_size}
    if args.dataset in ("cifar10", "stl10"):
        options.update(root=args.data_root, download=args.download)
    if args.dataset == "folder":
        options["root"] = args.data_root
    grouped = torch.distributed.is_available() and torch.distributed.is_initialized()
    if grouped and rank > 0:  # under torchrun: rank 0 downloads first (with --devices, download beforehand)
        torch.distributed.barrier()
    try:
        train, test = load_dataset(args.dataset, **options)
    except (DatasetUnavailableError, FileNotFoundError) as error:
        hint = " (here: --dataset digits needs no download)" if args.dataset in ("cifar10", "stl10") else ""
        usage_error(args, f"argument --dataset: {' '.join(str(error).split())}{hint}")
    if grouped and rank == 0:
        torch.distributed.barrier()
    return train, test


def _encoder(args, method, image_shape):
    """--arch if given; else the method's own encoder on the digits, a CIFAR ResNet-18 on real datasets."""
    arch = args.arch
    if arch is None and (args.dataset in EMBEDDED or type(method).make_encoder is not Method.make_encoder):
        return method.make_encoder(image_shape, width=args.width or 32)
    arch = arch or GPU_DEFAULTS["arch"]
    width = args.width or (GPU_DEFAULTS["width"] if arch == "resnet18_cifar" else 32)
    return build_encoder({"arch": arch, "in_channels": image_shape[0], "width": width})


def _settings(args, world: int) -> dict:
    """What the checkpoint records about the run (plain values only)."""
    skip = {"prog", "method_options", "option", "overwrite", "quiet"}
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                if v is not None and k not in skip}
    return settings | {"world_size": world, "method_options": dict(args.method_options)}


def train_from_args(argv: Sequence[str] | None = None, prog: str | None = None,
                    method: str | None = None) -> dict:
    """Parse `argv`, train, save (rank 0).

    Returns {"history", "method", "encoder", "checkpoint" (rank 0)}.
    """
    args = parse_args(argv, prog, method)
    world, rank, device = init_distributed(args.device)
    world = max(world, (args.devices or 1) * args.num_nodes)  # --devices: Lightning launches the other processes
    train, test = _load(args, world, rank)
    images = train.images[:args.limit] if args.limit else train.images
    per_process = len(images) // world
    if args.batch_size // world > per_process:
        where = f"{len(images)} training images" + (f" over {world} processes" if world > 1 else "")
        usage_error(args, f"argument --batch-size: {args.batch_size} is larger than the {where}; "
                          f"use --batch-size {per_process * world} or less")
    image_shape = tuple(images.shape[1:])
    monitor = None
    if rank == 0 and args.monitor:
        monitor = (train.subset(range(min(args.monitor, len(train)))),
                   test.subset(range(min(args.monitor, len(test)))))
    amp = device.type == "cuda" and not args.no_amp
    progress = rank == 0 and not args.quiet
    trained = make_method(args.method, **args.method_options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        encoder = _encoder(args, trained, image_shape)
    distributed = {}
    if world > 1:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", args.devices or world // args.num_nodes))
        distributed = {"devices": local, "num_nodes": args.num_nodes, "strategy": args.strategy or "ddp"}
    elif args.strategy:
        distributed = {"strategy": args.strategy}
    encoder, history = methods.pretrain(trained, images, encoder=encoder, monitor=monitor, epochs=args.epochs,
                                batch_size=args.batch_size // world, lr=args.lr, weight_decay=args.weight_decay,
                                optimizer=args.optimizer, warmup_epochs=args.warmup_epochs, seed=args.seed,
                                device=device, progress=progress, precision="auto" if amp else "float32",
                                **distributed)
    result = {"history": history, "method": trained, "encoder": encoder}
    if rank == 0:
        metrics = {"knn": float(history["knn"].iloc[-1])} if "knn" in history else {}
        out = save_method(trained, args.out, metrics=metrics, extra=_settings(args, world))
        print(history.to_string(index=False))
        print(f"saved the {args.method} encoder to {out} "
              f"(load it with ssl_helpers.methods.load_method({args.method!r}, {str(out)!r}))")
        result["checkpoint"] = out
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """The `ssl-pretrain` entry point (`--method`, default simclr)."""
    train_from_args(argv)


def main_simclr(argv: Sequence[str] | None = None) -> None:
    """The `ssl-simclr` entry point: `ssl-pretrain` with `--method simclr` as the default."""
    train_from_args(argv, prog="ssl-simclr", method="simclr")


if __name__ == "__main__":
    main()
