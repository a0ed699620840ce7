"""Copy the executed notebooks' CPU-tier checkpoints into the package (`ssl_helpers/checkpoints/`), each with the
figure its test reproduces (`shipped_knn`, see `ssl_helpers.methods.training.shipped_score`), in float16
(`ssl_helpers.methods.training.ship_method`: half the bytes, loaded back as float32; the figure is scored on the
rounded weights, so it is the one a loaded copy reproduces).

    .venv/bin/python scripts/execute_notebooks.py      # writes notebooks/checkpoints/<method>.pt
    .venv/bin/python scripts/ship_checkpoints.py       # -> ssl_helpers/checkpoints/<method>.pt

`load_or_pretrain` falls back to these when the student's own checkpoint is missing, so a notebook opened alone
(a Colab badge, a fresh Binder) starts at once. Methods without a notebook checkpoint are skipped (and listed).
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ssl_helpers.methods import load_method, method_names  # noqa: E402
from ssl_helpers.methods.training import SHIPPED_DIR, ship_method  # noqa: E402


def main() -> int:
    torch.set_num_threads(1)
    source = ROOT / "notebooks" / "checkpoints"
    SHIPPED_DIR.mkdir(exist_ok=True)
    missing = []
    for name in method_names():
        path = source / f"{name}.pt"
        if not path.is_file():
            missing.append(name)
            continue
        method, encoder, info = load_method(name, path)
        out, score = ship_method(method, SHIPPED_DIR / f"{name}.pt", metrics=info["metrics"],
                                 extra={k: v for k, v in (info["extra"] or {}).items()
                                        if k not in ("method_options", "image_shape", "head_state_dict")})
        print(f"{name:13s} kNN {100 * score:5.1f}%  {out.stat().st_size / 1024:6.0f} KiB  -> {out.relative_to(ROOT)}")
    if missing:
        print("no notebook checkpoint (skipped):", ", ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
