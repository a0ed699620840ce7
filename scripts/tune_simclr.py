"""One SimCLR tuning run on the digits, as used to choose notebook 06's recipe. Prints training time and the
linear-probe / kNN accuracy at 1, 5, 10 labels per class (mean over 5 draws of the labeled subset).

    NT=1 .venv/bin/python scripts/tune_simclr.py --size 12 --epochs 90 --aug '{"shear": 20, "degrees": 10}'

`--aug` changes the "digits" preset (JSON of `Augment` fields); NT sets torch's threads (default 1, so that two
runs can share 2 cores). The runs behind the table in the notebook are listed in its markdown.
"""
import argparse
import json
import os
import time

import torch

from ssl_helpers.augment import preset
from ssl_helpers.data import load_dataset
from ssl_helpers.evaluate import evaluate_encoder, mean_accuracy
from ssl_helpers.models import SmallCNN
from ssl_helpers.simclr import SimCLR, train_simclr

torch.set_num_threads(int(os.environ.get("NT", "1")))
p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=12)
p.add_argument("--width", type=int, default=32)
p.add_argument("--epochs", type=int, default=90)
p.add_argument("--bs", type=int, default=256)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--T", type=float, default=0.5)
p.add_argument("--hidden", type=int, default=128)
p.add_argument("--out", type=int, default=64)
p.add_argument("--aug", default="{}")
p.add_argument("--data", default="digits")
a = p.parse_args()

train, test = load_dataset(a.data, image_size=a.size)
torch.manual_seed(0)
model = SimCLR(SmallCNN(width=a.width), a.hidden, a.out)
augment = preset("digits", a.size, **json.loads(a.aug))
wall, cpu = time.time(), time.process_time()
train_simclr(model, train.images, augment, epochs=a.epochs, batch_size=a.bs, lr=a.lr, temperature=a.T,
             progress=False, device="cpu")
wall, cpu = time.time() - wall, time.process_time() - cpu
scores = mean_accuracy(evaluate_encoder(model.encoder, train, test, "simclr", shots=(1, 5, 10), seeds=5))
linear, knn = (100 * scores.loc[("simclr", probe)].values for probe in ("linear", "knn"))
print(f"{vars(a)} train {wall:.0f} s wall, {cpu:.0f} s cpu; linear {linear.round(1)} knn {knn.round(1)}")
