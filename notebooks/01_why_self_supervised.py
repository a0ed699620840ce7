# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Why self-supervised learning?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ssl-hands-on/ssl-hands-on/blob/main/notebooks/01_why_self_supervised.ipynb)
#
# Labels are expensive; images are not. A hospital has millions of scans and a few hundred with a diagnosis; a
# phone has thousands of photos and none with a caption. **Self-supervised learning** uses the unlabeled images to
# pre-train a network on a task whose answer comes from the data itself, then **transfers** what it learned to the
# real task, where only a few labels exist.
#
# This course builds it up one concept per notebook:
#
# 1. **Self-prediction**: hide or change part of an input and predict it back: *masked* patches (notebook 2),
#    *augmented* inputs: which rotation, which jigsaw order (notebook 3), *obscured* regions and colours, and
#    *perturbed* (noisy) inputs (notebook 4).
# 2. **Contrastive learning**: pull the embeddings of similar inputs together and push dissimilar ones apart
#    (notebook 5); SimCLR as the classic example (notebook 6); then beyond negatives: MoCo, BYOL, SimSiam, Barlow
#    Twins, VICReg (notebook 7).
# 3. **Prediction in representation space**: predict the representation of hidden blocks (I-JEPA) or a momentum
#    teacher's answer for another crop (DINO): where the two families meet (notebook 8).
# 4. **Transfer**: reuse the pre-trained encoder with few labels: linear probe, kNN, fine-tuning (notebook 9).
#
# This notebook sets the stage: the data, the one evaluation protocol every method is scored with, and the
# baselines that a self-supervised encoder has to beat.
#
# **Runtime budget:** about 80 s on 2 CPU cores with the default settings (the baselines choose each setting among
# 7 candidates on validation, then train 21 small networks).

# %%
# Colab only: install the course helpers from the repository, alone (`--no-deps` keeps Colab's own torch,
# torchvision and ipywidgets), then Lightning, the training loop (its torch>=2.1 is Colab's torch, which pip keeps).
# Does nothing anywhere else.
import sys
if "google.colab" in sys.modules:
    get_ipython().run_line_magic("pip", "install -q --no-deps ssl_helpers@git+https://github.com/ssl-hands-on/ssl-hands-on")
    get_ipython().run_line_magic("pip", 'install -q "lightning>=2.2"')

# %% [markdown]
# ## Settings
#
# `FULL_RUN = False` is the CPU tier: the embedded digits, a small CNN, seconds of training. Set it to `True` for
# the full-size run: CIFAR-10 (downloaded once, needs internet), a CIFAR-style ResNet-18, the GPU if there is one.

# %%
FULL_RUN = False  # True: CIFAR-10 + ResNet-18 on the GPU (downloads CIFAR-10 once; slow on a CPU)

import torch
from ssl_helpers.train import pick_device, seed_everything, set_cpu_threads
from ssl_helpers.config import full_run_settings

if FULL_RUN:
    FULL = full_run_settings(width=64, steps=2000)  # SSL_SMOKE=1 (tests) shrinks the sizes
    DATASET, IMAGE_SIZE, DATA_OPTIONS = "cifar10", 32, {"download": True}
    ENCODER = {"arch": "resnet18_cifar", "in_channels": 3, "width": FULL["width"]}
    SUPERVISED_STEPS = FULL["steps"]
else:
    DATASET, IMAGE_SIZE, DATA_OPTIONS = "digits", 16, {}
    ENCODER = {"arch": "small_cnn", "in_channels": 3, "width": 32}
    SUPERVISED_STEPS = 100
NOTEBOOK = "01_why_self_supervised"
SEEDS = 5                      # draws of each labeled subset
SHOTS = (1, 5, 10, 50, "all")  # labels per class
DEVICE = pick_device()         # CUDA, then Apple's MPS, then the CPU
set_cpu_threads()  # PyTorch's default thread count; on a busy shared machine, set SSL_THREADS=1 (help(set_cpu_threads))
seed_everything(0)
print("device:", DEVICE.type)

# %% [markdown]
# ## The data
#
# The default data ship with scikit-learn, so everything runs offline: 1,797 real handwritten digits, 8x8 pixels,
# upsampled here to 16x16 and stored as 3-channel images in [0, 1] so that every model in the course also takes
# colour images. One fixed split is used everywhere: 70% for training (its labels are *hidden* during
# pre-training), 30% for testing.

# %%
# NBVAL_CHECK_OUTPUT
from ssl_helpers.data import labeled_subset, load_dataset

train, test = load_dataset(DATASET, image_size=IMAGE_SIZE, **DATA_OPTIONS)
print(train)
print(test)

# %%
from ssl_helpers.plots import plot_ssl_overview, show_images

one_per_class = labeled_subset(train.labels, 1, seed=0)
one_per_class = one_per_class[train.labels[one_per_class].argsort()]
plot_ssl_overview(train.images[:40], train.images[one_per_class],
                  [train.classes[i] for i in train.labels[one_per_class]]);

# %% [markdown]
# A second embedded set paints each digit with a random foreground and background colour (deterministic from a
# seed). Colour says nothing about the class: it is a **nuisance**. A method that learns to recognise colour
# instead of shape will show it in the probe; SimCLR (notebook 6) teaches why its colour augmentation matters, and
# colourisation (notebook 4) uses the colours as its target.

# %%
colour_train, _ = load_dataset("colour_digits", image_size=IMAGE_SIZE, seed=0)
show_images(colour_train.images[:20], [colour_train.classes[i] for i in colour_train.labels[:20]],
            title="colour digits: the same digits, colour as a nuisance");

# %% [markdown]
# ## One evaluation protocol for everything
#
# Whatever taught an encoder, it is scored the same way, so the numbers compare across the course:
#
# 1. **Freeze** the encoder and embed the training and test images: `h = f(x)`.
# 2. Draw a **labeled subset** of *k* images per class from the training split (its **fit** part, below), with a
#    seed: the same draws for every encoder and baseline.
# 3. Fit a probe on those *k × 10* labeled features and score it on the whole test split:
#    - **linear probe**: logistic regression on the standardised features;
#    - **kNN**: the test image takes the (similarity-weighted) vote of its nearest labeled neighbours by cosine
#      similarity;
#
#    each with its setting (C, the number of neighbours k) chosen on the validation split below.
# 4. Repeat for *k* = 1, 5, 10, 50 and all labels, over 5 seeded draws, and report mean ± standard deviation: the
#    **label-efficiency curve**.
#
# ### Why a validation split: tune on validation, score test once
#
# Every method has knobs: a learning rate, a number of epochs, a temperature, the probe's regularisation. If we
# turned them while watching the test accuracy, the test split would become part of the training: we would keep
# whatever happened to fit *those* test images best, and the reported number would be optimistic, by more the
# more knobs we turn, and unequally so for methods tuned more than others. So the protocol carves a fixed,
# stratified **validation** split out of train (`validation_split`), once. Every tuning decision in the course
# (SimCLR's recipe, fine-tuning steps and learning rates, the probe's C) trains on labels drawn from the rest of
# train (**fit**) and is scored on validation; the **test** split is scored once, at the end, for the tables.
# Fairness also needs the same tuning budget: every row of every table (the baselines below, and every
# self-supervised encoder later, fine-tuning included) gets the same number of candidate settings, chosen on the
# same validation split (`ssl_helpers.protocol`).

# %%
# NBVAL_CHECK_OUTPUT
from ssl_helpers.data import validation_split

fit, validation = validation_split(train)
print(fit)
print(validation)

# %% [markdown]
# The few lines that carry the protocol (`ssl_helpers.evaluate` and `ssl_helpers.protocol` have the rest):

# %%
# NBVAL_CHECK_OUTPUT
from ssl_helpers.evaluate import linear_probe_accuracy, standardize

pixels_fit, pixels_test = standardize(fit.images.flatten(1), test.images.flatten(1))
subset = labeled_subset(fit.labels, 10, seed=0)            # 10 labels per class from fit, 100 in all
print(f"{len(subset)} labeled images, per class: {torch.bincount(fit.labels[subset]).tolist()}")
accuracy = linear_probe_accuracy(pixels_fit[subset], fit.labels[subset], pixels_test, test.labels, C=0.1)
print(f"logistic regression on raw pixels, 10 labels per class, draw 0, C = 0.1 (not yet chosen on validation): "
      f"{accuracy:.1%}")

# %% [markdown]
# ## The baselines
#
# A self-supervised encoder is only worth its pre-training if it beats what we could do without it, on the same
# split with the same labels:
#
# - **pixels**: logistic regression on the raw pixels;
# - **random encoder**: the course's encoder with random weights, frozen, probed like any other (random
#   convolutions are a surprisingly decent feature extractor);
# - **supervised from scratch**: the same encoder trained end to end with cross-entropy on the few labels only.
#
# Every setting of every row is chosen on **validation**, separately for each number of labels per class, among
# the same number of candidates (7) for every row, so that no row is tuned harder than another: the linear probe's
# C, kNN's k, and for supervised from scratch the learning rate and the number of steps (3 x 2, and the untrained
# network: 0 steps). The self-supervised encoders of the later notebooks get the same (their fine-tuning the same
# learning rates and steps as from scratch). Training the network from scratch on every
# draw for all 7 candidates takes minutes, so `scripts/tune_baselines.py` ran that tuning once with the same code
# (`ssl_helpers.protocol.run_protocol`) and ships it; here only the chosen setting is trained.

# %%
from ssl_helpers.protocol import CANDIDATES, KNN_KS, PROBE_CS, SCRATCH_GRID, load_tuning

print(f"{CANDIDATES} candidates for every row: linear probe C in {PROBE_CS}; kNN k in {KNN_KS}; from scratch (lr, "
      f"steps) in {[(s.lr, s.steps) for s in SCRATCH_GRID]}")
SCRATCH_TUNED = None if FULL_RUN else load_tuning("from_scratch_cnn")  # FULL_RUN: tuned here, on CIFAR-10
if SCRATCH_TUNED is not None:
    print("from scratch: validation accuracy (%) of each candidate, mean over the draws (shipped tuning):")
    display((100 * SCRATCH_TUNED.pivot(index="setting", columns="labels_per_class", values="validation")).round(1))

# %% [markdown]
# Then the test split is scored, once, for the chosen settings. `run_protocol` runs all three baselines through
# the protocol (labels drawn from fit, the same 5 seeded draws for every row) and returns the tidy test table (one
# row per method, probe, *k* and seed) and every candidate's validation score; `summarize` turns the table into
# mean ± std. The last line is the one every notebook prints for the baselines: the same numbers everywhere.

# %%
import time
from ssl_helpers.evaluate import summarize
from ssl_helpers.protocol import baseline_summary, parse_setting, random_encoder, run_protocol
from ssl_helpers.seeds import run_seed

started = time.perf_counter()
baselines, tuning = run_protocol({"random encoder": random_encoder(ENCODER, seed=run_seed(0))}, fit, validation,
                                 test, shots=SHOTS, seeds=SEEDS, scratch={"from scratch": ENCODER},
                                 tuned=SCRATCH_TUNED, device=DEVICE)
print(f"{len(baselines)} test scores in {time.perf_counter() - started:.0f} s")
chosen = tuning[tuning["chosen"]].assign(setting=lambda t: t["setting"].map(lambda s: str(parse_setting(s))))
print("chosen on validation:")
display(chosen.pivot(index=["method", "probe"], columns="labels_per_class", values="setting"))
print(baseline_summary(baselines))
summarize(baselines)

# %%
from ssl_helpers.plots import plot_label_efficiency

plot_label_efficiency(baselines, title=f"Baselines on {DATASET} (mean ± std over {SEEDS} draws)");

# %% [markdown]
# ## What the numbers say
#
# The table above is measured, so its exact values are the ones to read; the lines below are computed from it with
# the course's one verdict rule (`ssl_helpers.verdicts`; each line says what its ± covers). From scratch and pixels
# have no pre-training: compared draw by draw. The random encoder is 3 initialisation seeds (two from this
# notebook's shipped runs) against the pixels' mean. p ≥ 0.05 is **a tie**. From scratch with all labels: one
# draw, no verdict.

# %%
import pandas as pd
from ssl_helpers.evaluate import mean_accuracy
from ssl_helpers.seeds import with_shipped_runs
from ssl_helpers.verdicts import VerdictLog

log = VerdictLog(NOTEBOOK)  # the verdicts below, as a record (scripts/rerun_check.py compares two executions')
means = mean_accuracy(baselines)
log.measure("from scratch, mean test accuracy", means.loc[("from scratch", "end-to-end")].mean())
random_runs = with_shipped_runs(baselines[baselines["method"] == "random encoder"], NOTEBOOK, "random_encoder",
                                shipped=not FULL_RUN)  # this seed, and seeds 1000 and 2000 (shipped)
rows = pd.concat([baselines[baselines["method"] != "random encoder"], random_runs], ignore_index=True)
for k in (1, 10):
    method, probe = means[k].idxmax()
    print(f"highest mean with {k:>2} label(s) per class: {method} ({probe}), {means[k].max():.1%}")
print("\nsupervised from scratch against logistic regression on pixels:")
for k in [k for k in SHOTS if k != "all"]:
    print(" ", log.compare(rows, "from scratch", "pixels", "end-to-end", k, probe_b="linear"))
print("\nthe random encoder's linear probe against pixels:")
for k in SHOTS:
    print(" ", log.compare(rows, "random encoder", "pixels", "linear", k))
print(f"\nwith all labels, supervised from scratch reaches {means.loc[('from scratch', 'end-to-end'), 'all']:.1%}")

# %% [markdown]
# ## Takeaways
#
# - With **all** labels, every baseline is strong: digits are an easy task when labels are plentiful.
# - With **one or a few labels per class**, accuracy falls steeply. Whether training the network from scratch beats a
#   linear model on the pixels, ties with it or trails it at each count is printed above: a network trained on ten
#   or fifty images has little to learn its features from, and a tie is not a win for either.
# - The spread over draws is large at 1 label per class: *which* ten images you label matters. That is why every
#   number in this course is a mean over several seeded draws.
#
# **The question the rest of the course answers:** can the unlabeled training images, used without their labels,
# give an encoder whose features beat these baselines when only 1, 5 or 10 labels per class are available?
# Notebooks 2-4 try self-prediction, 5-7 contrastive and non-contrastive learning, 8 prediction in representation
# space, and notebook 9 puts every method on one leaderboard.
