"""The from-scratch baselines through the course's protocol, once: tuned on validation, scored on test, shipped.

Training a network from scratch on every labelled draw for each of its 7 candidate settings (the untrained network,
then 3 learning rates x 2 lengths: `ssl_helpers.protocol.SCRATCH_GRID`; `VIT_SCRATCH_GRID` for the ViT) costs minutes
on 2 cores, more than a notebook's budget, and the result depends only on the split, the draws and the
architecture. So this script runs `ssl_helpers.protocol.run_protocol` for the two architectures of the course and
writes, in `ssl_helpers/tuning/`:

- `from_scratch_cnn_validation.csv`, `from_scratch_vit_validation.csv`: every candidate's mean validation accuracy
  per labels-per-class count, and the chosen one (read by notebooks 01, 02 and the transfer notebook through
  `run_protocol(tuned=load_tuning(...))`, so that each trains only the chosen setting, or by `load_results`);
- `from_scratch_cnn_test.csv`, `from_scratch_vit_test.csv`: the test accuracy of the chosen setting on every draw.

    nohup .venv/bin/python scripts/tune_baselines.py > tune_baselines.log 2>&1 &

NT sets torch's threads (default 1, so that runs can share 2 cores).
"""
import argparse
import os
import time

import torch

from ssl_helpers.data import load_dataset, validation_split
from ssl_helpers.evaluate import SHOTS
from ssl_helpers.methods import make_method
from ssl_helpers.protocol import SEEDS, run_protocol, save_results, save_tuning

CNN = {"arch": "small_cnn", "in_channels": 3, "width": 32}


def vit_config(image_size: int = 16, width: int = 32) -> dict:
    """The ViT of notebook 02 (the MAE's encoder on the CPU tier)."""
    return dict(make_method("mae").make_encoder((3, image_size, image_size), width=width).config)


def main(argv=None):
    torch.set_num_threads(int(os.environ.get("NT", "1")))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=["cnn", "vit"], default=None, help="one architecture only")
    a = p.parse_args(argv)
    train, test = load_dataset("digits", image_size=16)
    fit, validation = validation_split(train)
    jobs = {"cnn": ("from scratch", CNN, SHOTS), "vit": ("ViT from scratch", vit_config(), (1, 5, 10))}
    for key, (name, config, shots) in jobs.items():
        if a.only not in (None, key):
            continue
        started = time.process_time()
        result = run_protocol({}, fit, validation, test, shots=shots, seeds=SEEDS, pixels=False, probes=(),
                              scratch={name: config}, verbose=True)
        print(f"{name} ({config}): {time.process_time() - started:.0f} s CPU")
        print(result.tuning[result.tuning["chosen"]].to_string(index=False))
        print(f"wrote {save_tuning(result.tuning, f'from_scratch_{key}')} and "
              f"{save_results(result.table, f'from_scratch_{key}')}", flush=True)


if __name__ == "__main__":
    main()
