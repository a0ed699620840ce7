"""Cells the three self-prediction notebooks (02, 03, 04) share: settings, data, scoring, saving."""
from __future__ import annotations


from notebook_tools import code, md


def settings(epochs: int) -> list:
    return [
        md("## Settings\n\n`FULL_RUN = False` is the CPU tier: the embedded digits at 16 px and the small CNN, "
           "trained for a few epochs. `FULL_RUN = True` uses a GPU if there is one, CIFAR-10 at 32 px "
           "(downloaded) and a CIFAR ResNet-18, for longer."),
        code(f'''FULL_RUN = False

import matplotlib.pyplot as plt
import torch

from ssl_helpers.data import load_dataset
from ssl_helpers.evaluate import summarize
from ssl_helpers.models import ResNet18Cifar, SmallCNN
from ssl_helpers.plots import plot_history, plot_label_efficiency
from ssl_helpers.train import default_checkpoint_dir, pick_device, seed_everything, set_cpu_threads
from ssl_helpers import pretext

if FULL_RUN:
    DATA, OPTIONS, EPOCHS, DEVICE = "cifar10", dict(image_size=32, download=True), 50, pick_device()
    make_encoder = lambda: ResNet18Cifar()
else:
    DATA, OPTIONS, EPOCHS, DEVICE = "digits", dict(image_size=16), {epochs}, torch.device("cpu")
    make_encoder = lambda: SmallCNN(width=32)
SHOTS, SEEDS = (1, 5, 10), 5  # the course protocol: linear probe with 1, 5, 10 labels per class, 5 draws
set_cpu_threads(1)  # tiny models: one CPU thread is about as fast as two, and far faster on a busy machine
_ = seed_everything(0)'''),
        code('''# NBVAL_CHECK_OUTPUT
train, test = load_dataset(DATA, **OPTIONS)
print(train)
print(test)'''),
    ]


def score(names: str, title: str) -> list:
    """Score the encoders named in `names` (a Python expression of a dict) next to the baselines."""
    return [
        md("## Scoring the encoders with the course protocol\n\n"
           "Frozen features, logistic regression on 1, 5 and 10 labelled digits per class (5 seeded draws), "
           "scored on the whole test split; next to the same probe on raw **pixels** and on a **random "
           "encoder** (the same network, untrained). A pretext task has taught the encoder something useful "
           "for digits only if it beats both."),
        code(f'''table = pretext.score_against_baselines({names}, train, test, shots=SHOTS, seeds=SEEDS)
plot_label_efficiency(table, title="{title}")
plt.show()
summarize(table)'''),
        code('''differences, verdicts = pretext.compare_to_baselines(table)
print("accuracy points above (+) or below (-) each baseline, mean over 5 seeds:")
print(differences.to_string())
print()
print("\\n".join(verdicts.values()))'''),
    ]


def save(names: str) -> list:
    return [
        md("## Saving the encoders\n\nThe transfer-learning notebook loads these checkpoints (with "
           "`ssl_helpers.pretext.load_or_pretrain`, which trains a quick one when a file is missing)."),
        code(f'''from ssl_helpers.evaluate import mean_accuracy

means = mean_accuracy(table[table.probe == "linear"]).droplevel("probe")
for name, (task, encoder) in {names}.items():
    metrics = {{f"linear_{{k}}": float(means.loc[name, k]) for k in SHOTS}}
    path = pretext.save_pretext(task, encoder, metrics=metrics, image_shape=tuple(train.images.shape[1:]),
                                extra={{"epochs": EPOCHS, "data": DATA}})
    print(f"saved {{path}}")'''),
    ]
