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
# 3. **Transfer**: reuse the pre-trained encoder with few labels: linear probe, kNN, fine-tuning (notebook 8).
#
# This notebook sets the stage: the data, the one evaluation protocol every method is scored with, and the
# baselines that a self-supervised encoder has to beat.
#
# **Runtime budget:** about 45 s on 2 CPU cores with the default settings (the baselines train 25 small networks).

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
SEEDS = 5                      # draws of each labeled subset
SHOTS = (1, 5, 10, 50, "all")  # labels per class
DEVICE = pick_device()         # CUDA, then Apple's MPS, then the CPU
set_cpu_threads(1)  # tiny models: one CPU thread is about as fast as two, and far faster on a busy machine
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
# 2. Draw a **labeled subset** of *k* images per class from the training split, with a seed.
# 3. Fit a probe on those *k × 10* labeled features and score it on the whole test split:
#    - **linear probe**: logistic regression on the standardised features;
#    - **kNN**: the test image takes the (similarity-weighted) vote of its nearest labeled neighbours by cosine
#      similarity.
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
# Fairness also needs the same tuning budget: the baselines below get as many candidate settings, chosen on the
# same validation split, as the self-supervised methods do (`scripts/tune_simclr.py` prints both).

# %%
# NBVAL_CHECK_OUTPUT
from ssl_helpers.data import validation_split

fit, validation = validation_split(train)
print(fit)
print(validation)

# %% [markdown]
# The few lines that carry the protocol (`ssl_helpers.evaluate` has the rest):

# %%
# NBVAL_CHECK_OUTPUT
from ssl_helpers.evaluate import linear_probe_accuracy, standardize

pixels_train, pixels_test = standardize(train.images.flatten(1), test.images.flatten(1))
subset = labeled_subset(train.labels, 10, seed=0)          # 10 labels per class, 100 in all
print(f"{len(subset)} labeled images, per class: {torch.bincount(train.labels[subset]).tolist()}")
accuracy = linear_probe_accuracy(pixels_train[subset], train.labels[subset], pixels_test, test.labels)
print(f"logistic regression on raw pixels, 10 labels per class: {accuracy:.1%}")

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
# First, each baseline's settings are chosen on **validation**, with the same budget as the self-supervised
# methods: the linear probe's C among the same candidates for pixels and the random encoder as for every encoder
# in notebook 08, and for supervised from scratch 6 (learning rate, steps) candidates, as many as SimCLR's recipe
# got (the grid comes from `scripts/tune_simclr.py`, which ships it with the package).

# %%
from ssl_helpers.evaluate import chosen_setting, embed, pixel_features, tune_probe_C, tuning_grid
from ssl_helpers.models import build_encoder

seed_everything(0)  # the random encoder of baseline_table: the same seed, the same weights
random_encoder = build_encoder(ENCODER)
probe_grid, PROBE_C = tune_probe_C({"pixels": pixel_features(fit, validation),
                                    "random encoder": (embed(random_encoder, fit.images, device=DEVICE),
                                                       embed(random_encoder, validation.images, device=DEVICE))},
                                   fit.labels, validation.labels, seeds=SEEDS)
display(probe_grid.round(3))
scratch_grid = tuning_grid("from_scratch")
display(scratch_grid.round(3))
SCRATCH = chosen_setting(scratch_grid, ["steps", "lr"])
if FULL_RUN:  # the grid was tuned on the digits; CIFAR-10 gets more steps, not tuned on its validation split
    SCRATCH["steps"] = SUPERVISED_STEPS
print("chosen on validation: linear probe C", PROBE_C, "| supervised from scratch", SCRATCH)

# %% [markdown]
# Then the test split is scored, once. `baseline_table` runs all three baselines over every *k* and seed (labels
# drawn from fit) and returns a tidy table (one row per method, probe, *k* and seed); `summarize` turns it into
# mean ± std.

# %%
import time
from ssl_helpers.evaluate import baseline_table, summarize

started = time.perf_counter()
baselines = baseline_table(fit, test, ENCODER, shots=SHOTS, seeds=SEEDS, supervised_steps=SCRATCH["steps"],
                           supervised_lr=SCRATCH["lr"], probe_C=PROBE_C, device=DEVICE)
print(f"{len(baselines)} scores in {time.perf_counter() - started:.0f} s")
summarize(baselines)

# %%
from ssl_helpers.plots import plot_label_efficiency

plot_label_efficiency(baselines, title=f"Baselines on {DATASET} (mean ± std over {SEEDS} draws)");

# %% [markdown]
# ## What the numbers say
#
# The table above is measured, so its exact values are the ones to read; the summary below is computed from it.

# %%
from ssl_helpers.evaluate import mean_accuracy

means = mean_accuracy(baselines)
for k in (1, 10):
    method, probe = means[k].idxmax()
    print(f"best baseline with {k:>2} label(s) per class: {method} ({probe}), {means[k].max():.1%}")
scratch_minus_pixels = 100 * (means.loc[("supervised from scratch", "end-to-end")] - means.loc[("pixels", "linear")])
print("supervised from scratch minus pixels, in points:",
      ", ".join(f"{k}: {gap:+.1f}" for k, gap in scratch_minus_pixels.items()))
print(f"with all labels, supervised from scratch reaches {means.loc[('supervised from scratch', 'end-to-end'), 'all']:.1%}")

# %% [markdown]
# ## Takeaways
#
# - With **all** labels, every baseline is strong: digits are an easy task when labels are plentiful.
# - With **one or a few labels per class**, accuracy falls steeply, and training the network from scratch does
#   worse than a linear model on pixels at 1 and 5 labels per class (the differences printed above): a network
#   cannot learn good features from ten or fifty images. It only pulls ahead once there are 10 or more labels
#   per class.
# - The spread over draws is large at 1 label per class: *which* ten images you label matters. That is why every
#   number in this course is a mean over several seeded draws.
#
# **The question the rest of the course answers:** can the unlabeled training images, used without their labels,
# give an encoder whose features beat these baselines when only 1, 5 or 10 labels per class are available?
# Notebooks 2-4 try self-prediction, 5-7 contrastive and non-contrastive learning, and notebook 8 puts every method
# on one leaderboard.
