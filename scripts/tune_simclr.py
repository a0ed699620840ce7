"""Tune on the validation split, never on test: SimCLR's recipe, fine-tuning, and the from-scratch baseline,
each with the same number of candidates (6), on the digits.

The protocol (`ssl_helpers.data.validation_split`): train = fit + validation (20% of each class). A candidate
trains on fit only (pre-training on fit's images, without labels; supervised runs on labels drawn from fit) and is
scored on validation: mean accuracy over 1, 5 and 10 labels per class and 5 draws (`evaluate.tune_on_validation`).
The test split is not loaded. Results go to `ssl_helpers/tuning/*.csv`:

- `simclr_validation.csv` (read by notebook 06, `evaluate.tuning_grid("simclr")`): learning rate x temperature at
  `--epochs` (`make_method("simclr")` trained by `pretrain`: SmallCNN width 32, 12 px, batch 256, the "digits"
  augmentation), frozen linear probe on validation;
- `fine_tune_validation.csv`: steps x encoder learning rate for fine-tuning (LP-FT, head lr 1e-2) the chosen
  SimCLR candidate's encoder; steps are capped by notebook 09's time budget (15 encoders x 15 runs);
- `from_scratch_validation.csv`: learning rate x steps for the same network trained on the labels alone.
The last two are a record of this script's runs only, not committed: nothing in the course reads them, since the
protocol tunes fine-tuning and from-scratch training itself, among the same candidates
(`ssl_helpers.protocol.training_grid_for`: `SCRATCH_GRID`, whose from-scratch tuning `scripts/tune_baselines.py`
ships).

The frozen probes' regularisation C is cheap to tune, so the course's protocol tunes it on validation for every
encoder and for pixels alike (`ssl_helpers.protocol.run_protocol`, C among `PROBE_CS`).

    nohup .venv/bin/python scripts/tune_simclr.py --epochs 30 > tune.log 2>&1 &

NT sets torch's threads (default 1, so that runs can share 2 cores).
"""
import argparse
import copy
import os
import time
from pathlib import Path

import torch

from ssl_helpers.data import load_dataset, validation_split
from ssl_helpers.evaluate import TUNING_SHOTS, chosen_setting, end_to_end_table, evaluate_encoder, tune_on_validation
from ssl_helpers.methods import make_method, pretrain
from ssl_helpers.methods.simclr import DIGITS_IMAGE_SIZE
from ssl_helpers.models import SmallCNN, build_encoder

torch.set_num_threads(int(os.environ.get("NT", "1")))
p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--epochs", type=int, default=30, help="SimCLR epochs per candidate (the recipe's 90 / 3)")
p.add_argument("--seeds", type=int, default=5, help="draws of each labeled subset")
p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "ssl_helpers" / "tuning"))
p.add_argument("--only", choices=["simclr", "scratch"], default=None, help="run one part only")
a = p.parse_args()
out = Path(a.out)
out.mkdir(parents=True, exist_ok=True)
shots, seeds = TUNING_SHOTS, a.seeds


def save(grid, name):
    grid.to_csv(out / name, index=False, float_format="%.4f")
    print(f"{out / name}:\n{grid.to_string(index=False)}\nchosen: {chosen_setting(grid)}\n", flush=True)


if a.only in (None, "simclr"):
    train, _ = load_dataset("digits", image_size=DIGITS_IMAGE_SIZE)
    fit_set, validation = validation_split(train)
    encoders = {}

    def simclr_candidate(lr, temperature, epochs):
        method = make_method("simclr", temperature=temperature, augment="digits", hidden_dim=128, out_dim=64)
        started = time.process_time()
        encoder, _ = pretrain(method, fit_set.images, epochs=epochs, batch_size=256, lr=lr, width=32, seed=0,
                              progress=False, device="cpu")
        print(f"simclr lr={lr} T={temperature}: {time.process_time() - started:.0f} s cpu", flush=True)
        encoders[(lr, temperature)] = encoder
        return evaluate_encoder(encoder, fit_set, validation, "simclr", shots, seeds, probes=("linear",))

    candidates = [{"lr": lr, "temperature": t, "epochs": a.epochs} for lr in (1e-3, 2e-3, 4e-3) for t in (0.3, 0.5)]
    grid = tune_on_validation(candidates, simclr_candidate)
    save(grid, "simclr_validation.csv")
    best = chosen_setting(grid)
    pretrained = encoders[(best["lr"], best["temperature"])]

    def fine_tune_candidate(steps, encoder_lr):
        return end_to_end_table(lambda: copy.deepcopy(pretrained), fit_set, validation, "simclr", shots, seeds,
                                probe="fine-tune", steps=steps, lr=1e-2, encoder_lr=encoder_lr, probe_first=True,
                                device="cpu")

    candidates = [{"steps": s, "encoder_lr": e} for s in (10, 20, 40) for e in (1e-4, 1e-3)]
    save(tune_on_validation(candidates, fine_tune_candidate), "fine_tune_validation.csv")

if a.only in (None, "scratch"):
    train, _ = load_dataset("digits", image_size=16)
    fit_set, validation = validation_split(train)
    config = SmallCNN(width=32).config

    def scratch_candidate(lr, steps):
        return end_to_end_table(lambda: build_encoder(config), fit_set, validation, "from scratch", shots, seeds,
                                steps=steps, lr=lr, device="cpu")

    candidates = [{"lr": lr, "steps": s} for lr in (1e-3, 3e-3, 1e-2) for s in (50, 100)]
    save(tune_on_validation(candidates, scratch_candidate), "from_scratch_validation.csv")
