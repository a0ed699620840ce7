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
# # 8. Predicting representations: I-JEPA and DINO
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ssl-hands-on/ssl-hands-on/blob/main/notebooks/08_predicting_representations.ipynb)
#
# The course has met two families. **Self-prediction** (notebooks 2-4) hides part of an image and predicts it
# back: its target is the data itself (pixels, a rotation), so nothing can collapse, but it spends its capacity on
# pixel detail. **Joint embeddings** (notebooks 5-7) make two views of an image agree: the target is another
# embedding, so the features can drop pixel detail, but a constant embedding agrees perfectly, and every method
# needs something against that collapse (negatives, a predictor, a momentum target, decorrelation).
#
# This notebook is where the two meet: methods that **predict a representation**.
#
# - **I-JEPA** (Assran et al. 2023) hides blocks of the image, like a masked autoencoder, but predicts the
#   *representations* of the hidden blocks, made by a momentum (EMA) copy of the encoder, instead of their pixels.
# - **DINO** (Caron et al. 2021) predicts, from any crop of an image, the *distribution over K prototypes* that a
#   momentum teacher gives to the large crops of the same image, with two tricks that keep that teacher from
#   collapsing: **centering** and **sharpening**.
#
# Every claim below is a number printed by the code; the last section puts all fifteen methods of the course on one
# map: what each predicts, what keeps it from collapsing, what it needs, how well it did here.
#
# **Runtime budget:** within the course's 120 s on 2 CPU cores (three main pre-trainings, two short ablation runs,
# the probes: each run prints its time, the last cell the notebook's); the README's budgets table has the measured
# time.

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
# `FULL_RUN = False` is the CPU tier: the embedded digits at 12 px. I-JEPA and the MAE it is compared with use the
# course's small ViT (`ssl_helpers.mae.ViTEncoder`, width 64, depth 4) over 2 px patches: a 6 x 6 grid of tokens;
# DINO uses the course's small CNN, as the methods of notebook 7. Each method's CPU recipe is `method.spec.recipe`.
# `FULL_RUN = True` trains the same methods on CIFAR-10 (downloaded) on the GPU that `pick_device()` finds: the ViTs
# over 4 px patches of 32 px images (an 8 x 8 grid), DINO with a CIFAR-style ResNet-18 and local crops of 16 px;
# every main run saves each epoch, so running the notebook again after a disconnect resumes it.

# %%
FULL_RUN = False
SEED = 0

import time
NOTEBOOK_STARTED = time.perf_counter()
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator
import torch
import torch.nn.functional as F
from ssl_helpers.config import full_run_settings, run_options, settings, t4_minutes
from ssl_helpers.data import load_dataset, validation_split
from ssl_helpers.evaluate import embed, mean_accuracy
from ssl_helpers.methods import make_method, method_names, method_spec, pretrain, save_method
from ssl_helpers.models import ResNet18Cifar, SmallCNN
from ssl_helpers.protocol import random_encoder, run_protocol
from ssl_helpers.seeds import run_seed, with_shipped_runs
from ssl_helpers.train import default_checkpoint_dir, pick_device, seed_everything, set_cpu_threads
from ssl_helpers.verdicts import VerdictLog

set_cpu_threads()  # PyTorch's default thread count; on a busy shared machine, set SSL_THREADS=1 (help(set_cpu_threads))
NOTEBOOK = "08_predicting_representations"
log = VerdictLog(NOTEBOOK)  # the verdicts printed below, kept as a record (scripts/rerun_check.py)
PRETRAIN_SEED = run_seed(SEED)  # SEED in this live run; runs 1 and 2 (their scores shipped) use other seeds
if FULL_RUN:
    DEVICE = pick_device()
    train, test = load_dataset("cifar10", download=True)
    IMAGE_SIZE, PATCH, LOCAL_SIZE, AUGMENT = 32, 4, 16, "small"
    WIDTH = full_run_settings(width=64)["width"]                   # ViT width 2 * WIDTH; ResNet-18 width WIDTH
    make_cnn = lambda: ResNet18Cifar(width=WIDTH)
    RECIPE = {"ijepa": full_run_settings(epochs=30, batch_size=256, lr=1e-3, weight_decay=0.04, warmup_epochs=3),
              "dino": full_run_settings(epochs=30, batch_size=256, lr=2e-3, weight_decay=0.04, warmup_epochs=3)}
    SHORT = full_run_settings(epochs=5, batch_size=256)           # the ablations' short runs
    print(f"course estimate on a T4 (not a measurement) for DINO: "
          f"{t4_minutes(RECIPE['dino']['epochs'], len(train), relative_cost=1.8):.0f} min (2 global + 4 local crops, "
          f"about 1.8 SimCLR steps); the ViTs' time is printed by their timed warm-up")
else:
    DEVICE = torch.device("cpu")
    train, test = load_dataset("digits", image_size=12)
    IMAGE_SIZE, PATCH, LOCAL_SIZE, AUGMENT = 12, 2, 6, "digits"
    WIDTH = 32
    make_cnn = lambda: SmallCNN(width=WIDTH)
    RECIPE = {name: dict(method_spec(name).recipe) for name in ("ijepa", "dino")}
    SHORT = dict(RECIPE["dino"], epochs=4)
RECIPE["mae"] = dict(RECIPE["ijepa"])  # the same pre-training budget: epochs (images seen), batch, schedule
fit, validation = validation_split(train)  # the protocol draws labels from fit and chooses C and k on validation
print(train, test, sep="\n")
print("recipes:", RECIPE, "\nablations:", SHORT)


def train_method(name, settings, watch=None, save_as=None, encoder=None, **options):
    """Pre-train a registered method on the train images; returns (method, encoder, history, seconds).

    watch: a function (method) -> dict evaluated after every epoch (the history gets its columns);
    save_as: a name for a resumable FULL_RUN (per-epoch checkpoint, time estimate)."""
    seed_everything(PRETRAIN_SEED)
    method = make_method(name, **options)
    started = time.perf_counter()
    encoder, history = pretrain(method, train.images, encoder=encoder, seed=PRETRAIN_SEED, device=DEVICE,
                                progress=False, width=WIDTH,
                                on_epoch_end=(lambda epoch: watch(method)) if watch else None,
                                **settings, **run_options(save_as or name, bool(FULL_RUN and save_as)))
    return method, encoder, history, time.perf_counter() - started


def probe_table(encoders, key, shots=(1, 5, 10), pixels=False):
    """The course's protocol (`run_protocol`: 5 seeded draws of labels from fit, C or k chosen on validation, the
    test split scored once; linear probe and kNN) on frozen encoders {name: encoder}, joined with runs 1 and 2 of
    the same rows (other pre-training seeds, scores shipped under `key`). Tidy: method, probe, labels_per_class,
    run, seed, accuracy."""
    table = run_protocol(encoders, fit, validation, test, shots=shots, pixels=pixels, device=DEVICE).table
    return with_shipped_runs(table, NOTEBOOK, key, shipped=not FULL_RUN)


def means(table):
    """Mean test accuracy (%) per (method, probe) and labels per class, over the pre-training runs and label draws."""
    return mean_accuracy(table).mul(100).round(1)


PROBE = test.images[:256].to(DEVICE)  # the images the per-epoch diagnostics look at

# %% [markdown]
# ## 1. I-JEPA: predict the representation of a hidden block
#
# I-JEPA cuts the image into the ViT's tokens and draws, for every image:
#
# - **target blocks**: 4 rectangles, each 15-20% of the image, aspect ratio 0.75-1.5 (one size per batch, a place
#   per image);
# - a **context block**: one square of 85-100% of the image, **minus every target block**, so the context never
#   contains what it must predict.
#
# The context encoder sees only the context tokens. A **momentum target encoder** (an exponential moving average of
# the context encoder, as BYOL's target) sees the whole image. A narrow **predictor** gets the context tokens plus
# one **mask token per hidden position** (the same learned vector, with that position's embedding added) and must
# output what the target encoder says at those positions. The loss is in representation space:
#
# $$L = \frac{1}{M\,T\,D} \sum_{m, t} \big\| \hat s_{m,t} - \mathrm{LN}(s_{m,t}) \big\|^2,
# \qquad \hat s = g\big(f(x_{\text{context}}),\ \text{positions of block } m\big),\quad s = \bar f(x)[\text{block } m]$$
#
# with LN a layer norm over the D features (no learned scale) and no gradient into $\bar f$. The masks come from
# `ssl_helpers.pretext.blocks.multi_block_masks`; here they are on 8 test digits (bright: the context, each colour a
# target block, dark: tokens neither sees):

# %%
from ssl_helpers.pretext.blocks import IJEPA_MASKING, block_overlay, multi_block_masks

ijepa_preview = make_method("ijepa")
grid = (IMAGE_SIZE // PATCH, IMAGE_SIZE // PATCH)
masks = multi_block_masks(8, grid, torch.Generator().manual_seed(SEED), min_context=ijepa_preview.options.min_context,
                          **IJEPA_MASKING)
fig, axes = plt.subplots(1, 8, figsize=(11, 1.8))
for i, ax in enumerate(axes):
    ax.imshow(block_overlay(test.images[i], masks.context[i], masks.targets[i], grid).permute(1, 2, 0).numpy(),
              interpolation="nearest")
    ax.set_xticks([]); ax.set_yticks([])
fig.suptitle(f"I-JEPA's multi-block masks on a {grid[0]} x {grid[1]} token grid", y=1.02)
plt.show()
target_tokens, context_tokens = masks.target_ids.shape[2], masks.context_ids.shape[1]
covered = masks.targets.any(dim=1).float().mean().item()
print(f"{grid[0] * grid[1]} tokens per image; each target block: {target_tokens} tokens "
      f"({100 * target_tokens / (grid[0] * grid[1]):.0f}% of the image), the 4 together cover "
      f"{100 * covered:.0f}% on average; the context keeps {context_tokens} tokens "
      f"({100 * context_tokens / (grid[0] * grid[1]):.0f}%) in every image of this batch")

# %% [markdown]
# The blocks are whole tokens, so at 36 tokens a "15-20%" block is 4-6 tokens; the paper's 14 x 14 grid gives
# 29-39. Every image of a batch keeps the same number of context tokens (the batch's smallest count, the tokens
# kept drawn at random), so the context is one tensor (N, K).
#
# One training step (`ssl_helpers/methods/ijepa.py`):
#
# ```python
# masks = multi_block_masks(N, grid, generator)                        # context ids (N, K), target ids (N, M, T)
# with torch.no_grad():
#     s_y = gather_tokens(target_encoder.transform(target_encoder.tokens(x)), masks.target_ids)  # whole image
# s_x = encoder.forward_visible(x, masks.context_ids)                  # the context tokens only
# s_hat = predictor(s_x, masks.context_ids, masks.target_ids)          # (N, M, T, D)
# loss = ijepa_loss(s_hat, s_y)                                        # your exercise below
# # after the optimiser step: momentum_update(target_encoder, encoder, m)
# ```
#
# ### Exercise: the target-block loss
#
# Write `my_ijepa_block_loss(predicted, target_tokens, target_ids)`: `predicted` $(N, M, T, D)$ is the predictor's
# output for the T tokens of each of the M target blocks of N images; `target_tokens` $(N, L, D)$ is the target
# encoder's output for all L tokens of each image; `target_ids` $(N, M, T)$ (torch.long) the token indices of each
# block. Pick each block's target tokens, layer-normalise each one over its D features (mean 0, variance 1 with
# $1/D$, $\epsilon = 10^{-5}$, no learned scale or shift), and return the mean squared error over N, M, T and D, a
# 0-d tensor that carries the gradient to `predicted` and **none** to `target_tokens` (the target encoder moves
# only by its moving average). The check's cases: float32 and float64, $L$ from 9 to 36, $D$ from 4 to 8, targets
# of very different scales and offsets. `ijepa_ex.hint()` gives a hint in three steps (idea, approach, code; one
# per call), `ijepa_ex.solution()` the solution.

# %%
from ssl_helpers.exercises.representations import ijepa_exercise as ijepa_ex


def my_ijepa_block_loss(predicted, target_tokens, target_ids):
    """predicted: (N, M, T, D); target_tokens: (N, L, D); target_ids: (N, M, T) int64 -> 0-d loss."""
    raise NotImplementedError  # EXERCISE ijepa_block_loss: your code here


# %%
ijepa_ex.check(my_ijepa_block_loss)
ijepa_block_loss_used = ijepa_ex.use(my_ijepa_block_loss)

# %% [markdown]
# **Experiment (a): I-JEPA against MAE, the same ViT, the same budget.** The paper's claim: predicting in
# representation space gives features that are good *frozen* (a linear probe, kNN), where MAE's pixel targets give
# features that need fine-tuning, and I-JEPA gets there with less pre-training. We train I-JEPA and a masked
# autoencoder (notebook 2's method, mask ratio 0.75) with the same ViT for the same number of images seen, and
# probe both frozen; the same ViT with random weights is the floor. After every epoch we also record how much of
# each encoder's token variance is **about the image** (varies between images at a fixed position) rather than
# about the position (the same for every image): a representation whose targets carry nothing about the image is
# easy to predict and useless to probe.

# %%
def image_share(encoder):
    """Variance of the layer-normalised tokens between images (at each position and feature) over their variance
    across all tokens of all images: 1 = everything about the image, 0 = only the position."""
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        tokens = F.layer_norm(encoder.transform(encoder.tokens(PROBE)).float(), (encoder.out_dim,))
    encoder.train(was_training)
    return float(tokens.var(dim=0).mean() / tokens.flatten(0, 1).var(dim=0).mean())


def watch_vit(method):
    row = {"image share, encoder": image_share(method.encoder)}
    if isinstance(method.head, torch.nn.ModuleDict) and "target_encoder" in method.head:
        row["image share, target"] = image_share(method.head["target_encoder"])
    return row


ijepa, ijepa_encoder, ijepa_history, ijepa_seconds = train_method("ijepa", RECIPE["ijepa"], watch=watch_vit,
                                                                  save_as="ijepa", patch_size=PATCH)
mae, mae_encoder, mae_history, mae_seconds = train_method("mae", RECIPE["mae"], watch=watch_vit,
                                                          save_as="mae_same_budget", patch_size=PATCH,
                                                          mask_ratio=0.75)
random_vit = random_encoder(ijepa_encoder.config, seed=PRETRAIN_SEED).to(DEVICE)  # the same ViT, untrained
print(f"the same ViT for both: {ijepa_encoder.config}")
print(f"I-JEPA: {RECIPE['ijepa']['epochs']} epochs in {ijepa_seconds:.0f} s, loss "
      f"{ijepa_history['loss'].iloc[0]:.3f} -> {ijepa_history['loss'].iloc[-1]:.3f}; "
      f"MAE: {RECIPE['mae']['epochs']} epochs in {mae_seconds:.0f} s, loss {mae_history['loss'].iloc[0]:.3f} -> "
      f"{log.measure('MAE final loss', mae_history['loss'].iloc[-1]):.3f} ({RECIPE['ijepa']['epochs'] * len(train)} "
      "images seen each)")
print(f"image share of the tokens: random ViT {image_share(random_vit):.3f}; after training, I-JEPA's target "
      f"encoder {ijepa_history['image share, target'].iloc[-1]:.3f}, its context encoder "
      f"{ijepa_history['image share, encoder'].iloc[-1]:.3f}, MAE's encoder "
      f"{mae_history['image share, encoder'].iloc[-1]:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for label, history in {"I-JEPA": ijepa_history, "MAE": mae_history}.items():
    axes[0].plot(history["epoch"], history["loss"] / history["loss"].iloc[0], marker=".", label=label)
    axes[1].plot(history["epoch"], history["image share, encoder"], marker=".", label=f"{label}, encoder")
axes[1].plot(ijepa_history["epoch"], ijepa_history["image share, target"], marker=".", ls="--",
             label="I-JEPA, target encoder")
axes[1].axhline(image_share(random_vit), color="grey", ls=":", label="random ViT")
axes[0].set_title("loss / its first epoch"); axes[1].set_title("image share of the token variance")
axes[0].set_ylim(0, 1.05); axes[1].set_ylim(0, 0.5)
for ax in axes:
    ax.set_xlabel("epoch"); ax.grid(alpha=0.3); ax.legend(fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
plt.show()

# %% [markdown]
# Your loss at work: on 256 test digits, the loss of the trained predictor (with the loss in use: yours if it
# passed), against a predictor that knows only **where** each hidden token is (the mean layer-normalised target
# at that position over the same digits, which is exactly what a representation with no image content would
# allow):

# %%
from ssl_helpers.methods.ijepa import gather_tokens

with torch.no_grad():
    ijepa.eval()
    held_out = ijepa.masks(len(PROBE))
    context_ids, target_ids = held_out.context_ids.to(DEVICE), held_out.target_ids.to(DEVICE)
    target_encoder = ijepa.head["target_encoder"]
    tokens = target_encoder.transform(target_encoder.tokens(PROBE)).float()
    predicted = ijepa.head["predictor"](ijepa_encoder.forward_visible(PROBE, context_ids), context_ids, target_ids)
    where_only = F.layer_norm(tokens, (tokens.shape[-1],)).mean(dim=0, keepdim=True).expand_as(tokens)
    trained_loss = float(ijepa_block_loss_used(predicted.float(), tokens, target_ids))
    position_loss = float(ijepa_block_loss_used(gather_tokens(where_only, target_ids), tokens, target_ids))
print(f"held-out I-JEPA loss: the trained predictor {trained_loss:.4f}, the position-only prediction "
      f"{position_loss:.4f}: the predictor is {'better' if trained_loss < position_loss else 'worse'} than knowing only "
      f"where each hidden token is ({trained_loss / position_loss:.2f} x its loss)")

# %% [markdown]
# The probes: linear and kNN at 1, 5 and 10 labels per class, C and k chosen on validation; each row is 3
# pre-training runs (initialisation seeds for the random ViT), each scored on the same 5 draws of labels. A verdict
# compares the runs' means (`ssl_helpers.verdicts`: Student's t, "a tie" unless p < 0.05).

# %%
vit_table = probe_table({"I-JEPA": ijepa_encoder, "I-JEPA, target encoder": ijepa.head["target_encoder"],
                         "MAE": mae_encoder, "ViT, random weights": random_vit}, "vit")
print(f"test accuracy (%), mean over {vit_table['run'].nunique()} runs x 5 draws:")
display(means(vit_table))
for k in (1, 5, 10):
    for other in ("MAE", "ViT, random weights"):
        print(log.compare(vit_table, "I-JEPA", other, "linear", k))

# %% [markdown]
# ## 2. DINO: self-distillation, centering and sharpening
#
# DINO trains a **student** to give the same answer as a **teacher** with the same architecture. The answer is a
# distribution over K "prototypes": the head maps a representation to K logits (here the cosine between its
# output and K learned directions) and a softmax at a temperature turns them into probabilities. The teacher is
# the student's exponential moving average, and it only sees the two **global crops** (large, 40-100% of the
# image); the student sees those and several **local crops** (small, 20-50%, at a lower resolution) and must
# predict, from each crop, the teacher's distribution for the *other* crops:
#
# $$L = \frac{1}{G(V-1)} \sum_{i < G}\ \sum_{j \ne i} H\big(P_t^{i}, P_s^{j}\big),\qquad
# P_t^i = \mathrm{softmax}\!\Big(\frac{t_i - c}{T_t}\Big),\quad P_s^j = \mathrm{softmax}\!\Big(\frac{s_j}{T_s}\Big)$$
#
# With nothing else, the teacher can collapse in two ways: every image onto **one prototype** (a confident,
# constant answer), or every image onto the **uniform distribution** (no answer at all). DINO's two tricks pull
# in opposite directions: **centering** subtracts $c$, a running mean of the teacher's logits
# ($c \leftarrow 0.9\,c + 0.1\,\bar t$), so no prototype can win for every image (it pushes towards uniform);
# **sharpening**, a teacher temperature $T_t = 0.04$ below the student's $T_s = 0.1$, makes the teacher's answers
# confident (it pushes towards one prototype). Together they balance. Multi-crop, on 4 test digits (2 global crops
# at 12 px, 4 local at 6 px, each drawn with its own parameters by `ssl_helpers.augment.multi_crop`):

# %%
from ssl_helpers.augment import multi_crop, preset

dino_preview = make_method("dino", augment=AUGMENT, local_size=LOCAL_SIZE)
o = dino_preview.options
crops = multi_crop(test.images[:4], preset(AUGMENT, IMAGE_SIZE, crop_scale=o.global_scale),
                   preset(AUGMENT, LOCAL_SIZE, crop_scale=o.local_scale), o.global_crops, o.local_crops,
                   torch.Generator().manual_seed(SEED))
fig, axes = plt.subplots(4, 1 + len(crops), figsize=(1.25 * (1 + len(crops)), 5.2))
for row in range(4):
    for col, image in enumerate([test.images[row]] + [view[row] for view in crops]):
        axes[row, col].imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        axes[row, col].set_xticks([]); axes[row, col].set_yticks([])
        if row == 0:
            axes[row, col].set_title("image" if col == 0 else f"global {col}" if col <= o.global_crops
                                     else f"local {col - o.global_crops}", fontsize=9)
plt.show()
print(f"global crops: {o.global_crops} at {IMAGE_SIZE} px, area {o.global_scale}; local crops: {o.local_crops} at "
      f"{LOCAL_SIZE} px, area {o.local_scale}; pairs scored per image: {o.global_crops * (o.global_crops + o.local_crops - 1)}")

# %% [markdown]
# ### Exercise: DINO's loss, with centering and sharpening
#
# Write `my_dino_loss(student, teacher, center, student_temperature, teacher_temperature)`: `student` $(V, N, K)$
# holds the student's logits for V views of N images (the G global views first), `teacher` $(G, N, K)$ the
# teacher's logits for the G global views (teacher view i is the same crop as student view i), `center` $(K,)$ the
# running center. Return the loss $L$ above as a 0-d tensor: the teacher's distribution centred and sharpened
# ($T_t$), the student's at $T_s$, the cross-entropy from teacher view i to student view j averaged over the N
# images, for every pair with $j \ne i$, averaged over the $G(V-1)$ pairs. No gradient may reach the teacher or
# the center; the student's logits get the gradient. The check's cases: float32 and float64, $G$ = 1 or 2 and
# $V$ = 2 to 6, $K$ from 4 to 8, temperatures (0.1, 0.04), (0.5, 0.2) and (1, 1). The notebook then scores the
# collapse experiment below with the loss you wrote. `dino_ex.hint()` (three steps), `dino_ex.solution()`.

# %%
from ssl_helpers.exercises.representations import dino_exercise as dino_ex


def my_dino_loss(student, teacher, center, student_temperature, teacher_temperature):
    """student: (V, N, K); teacher: (G, N, K), G <= V; center: (K,); temperatures > 0 -> 0-d loss."""
    raise NotImplementedError  # EXERCISE dino_loss: your code here


# %%
dino_ex.check(my_dino_loss)
dino_loss_used = dino_ex.use(my_dino_loss)

# %% [markdown]
# The main DINO run (its recipe: K = 256 prototypes, $T_s = 0.1$, $T_t = 0.04$, center momentum 0.9, teacher
# momentum 0.99), recording after every epoch the two collapse diagnostics of the teacher on global crops of the
# same 256 test digits: its **entropy** (in nats: $\log K$ = uniform, 0 = one prototype with certainty) and the
# **largest prototype's share** (the fraction of images whose most likely prototype is the most popular one:
# 1 = every image gets the same answer).

# %%
def watch_teacher(method):
    return method.teacher_diagnostics(PROBE, torch.Generator(device=DEVICE).manual_seed(SEED))


dino, dino_encoder, dino_history, dino_seconds = train_method("dino", RECIPE["dino"], watch=watch_teacher,
                                                              save_as="dino", encoder=make_cnn(), augment=AUGMENT,
                                                              local_size=LOCAL_SIZE)
print(f"DINO: {RECIPE['dino']['epochs']} epochs in {dino_seconds:.0f} s, loss {dino_history['loss'].iloc[0]:.3f} -> "
      f"{log.measure('DINO final loss', dino_history['loss'].iloc[-1]):.3f} "
      f"(log K = {dino_history['log K'].iloc[0]:.3f})")

# %% [markdown]
# **Experiment (b): switch off centering, then sharpening.** Two short runs with the main recipe's settings
# (fewer epochs), one without centering (the center stays 0) and one without sharpening (the teacher at the
# student's temperature, $T_t = T_s = 0.1$), against the main run's first epochs (the same seed and views; its
# learning rate decays over all its epochs, the short runs' over theirs):

# %%
started = time.perf_counter()
ablations = {"DINO": dino_history[dino_history["epoch"] <= SHORT["epochs"]]}
ablation_runs = {}
for label, options in {"without centering": dict(centering=False),
                       "without sharpening (T_t = T_s)": dict(teacher_temperature=0.1)}.items():
    ablation_runs[label] = train_method("dino", SHORT, watch=watch_teacher, encoder=make_cnn(), augment=AUGMENT,
                                        local_size=LOCAL_SIZE, **options)
    ablations[label] = ablation_runs[label][2]
print(f"{len(ablation_runs)} short runs in {time.perf_counter() - started:.0f} s")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for label, history in ablations.items():
    axes[0].plot(history["epoch"], history["teacher entropy"], marker=".", label=label)
    axes[1].plot(history["epoch"], history["largest prototype share"], marker=".", label=label)
axes[0].axhline(dino_history["log K"].iloc[0], color="grey", ls=":", label="log K (uniform)")
axes[0].set_title("teacher entropy (nats)"); axes[1].set_title("largest prototype's share")
for ax in axes:
    ax.set_xlabel("epoch"); ax.grid(alpha=0.3); ax.xaxis.set_major_locator(MaxNLocator(integer=True))
axes[0].legend(fontsize=8)
plt.show()
collapse = pd.DataFrame({label: history.set_index("epoch")["teacher entropy"] for label, history in ablations.items()})
share = pd.DataFrame({label: history.set_index("epoch")["largest prototype share"]
                      for label, history in ablations.items()})
print("teacher entropy per epoch (nats; log K = {:.2f}):".format(dino_history["log K"].iloc[0]))
print(collapse.round(2).to_string())
print("largest prototype's share per epoch:")
print(share.round(2).to_string())

# %% [markdown]
# Read the two panels together. A teacher whose entropy sits near log K answers "uniform" for every image: that is
# the run without sharpening, and its largest share means nothing (every prototype is almost equally likely, so
# the argmax follows noise). A teacher with a low entropy and a share near 1 gives one confident answer to every
# image: the run without centering. Even the working run starts with one prototype winning for most images (its
# share in the first epochs); centering then spreads the answers over the prototypes while sharpening keeps them
# confident, and its entropy stays between the two failures.
#
# Your loss on what each teacher asks for: on global and local crops of the 256 test digits, each run's student
# against its own teacher and center, with the loss in use (log K is the loss of a uniform student and teacher):

# %%
def loss_on_probe(method):
    o = method.options
    method.eval()
    with torch.no_grad():
        views = multi_crop(PROBE, method.global_augment, method.local_augment, o.global_crops, o.local_crops,
                           torch.Generator(device=DEVICE).manual_seed(SEED + 1))
        student = torch.stack(method.student(views))
        teacher = torch.stack(method.teacher(views[:o.global_crops]))
        center = method.head["center"].value.reshape(-1)
        return float(dino_loss_used(student, teacher, center, o.student_temperature, o.teacher_temperature))


runs = {"DINO": dino, **{label: run[0] for label, run in ablation_runs.items()}}
for label, method in runs.items():
    print(f"{label:>31}: loss {loss_on_probe(method):.3f}, teacher entropy "
          f"{ablations[label]['teacher entropy'].iloc[-1]:.2f}, largest share "
          f"{ablations[label]['largest prototype share'].iloc[-1]:.2f} after epoch {ablations[label]['epoch'].iloc[-1]}")

# %% [markdown]
# **Experiment (c): what DINO considers similar.** The 5 nearest train digits (cosine similarity of the frozen
# features) of 6 test digits, under DINO's encoder and under raw pixels; the number left of each group of 5 says
# how many of them share the test digit's class.

# %%
from ssl_helpers.widgets.neighbours import label_agreement, nearest_neighbours

QUERIES, K_SHOWN = 6, 5
banks = {}
for label, encoder in {"DINO": dino_encoder, "pixels": torch.nn.Flatten()}.items():
    bank = F.normalize(embed(encoder, train.images, device=DEVICE).float(), dim=1)
    queries = F.normalize(embed(encoder, test.images, device=DEVICE).float(), dim=1)
    banks[label] = nearest_neighbours(queries, bank, K_SHOWN)[0]
columns = [None, "gap"] + [("DINO", j) for j in range(K_SHOWN)] + ["gap"] + [("pixels", j) for j in range(K_SHOWN)]
fig, axes = plt.subplots(QUERIES, len(columns), figsize=(0.85 * len(columns), 0.95 * QUERIES),
                         gridspec_kw={"width_ratios": [0.45 if c == "gap" else 1 for c in columns]})
for q in range(QUERIES):
    for col, column in enumerate(columns):
        ax = axes[q, col]
        ax.set_xticks([]); ax.set_yticks([])
        if column == "gap":
            ax.axis("off")
            continue
        image = test.images[q] if column is None else train.images[banks[column[0]][q, column[1]]]
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        if column is not None and column[1] == 0:
            agree = int((train.labels[banks[column[0]][q]] == test.labels[q]).sum())
            ax.set_ylabel(f"{agree}/{K_SHOWN}", fontsize=8, rotation=0, ha="right", va="center")
axes[0, 0].set_title("test", fontsize=9)
axes[0, 2 + K_SHOWN // 2].set_title("nearest train digits: DINO", fontsize=9)
axes[0, 3 + K_SHOWN + K_SHOWN // 2].set_title("nearest train digits: pixels", fontsize=9)
plt.show()
for label, indices in banks.items():
    share_right = 100 * label_agreement(train.labels[indices], test.labels).mean().item()
    print(f"{label:>6}: {share_right:.1f}% of the {K_SHOWN} nearest train digits share the test digit's class "
          f"(all {len(test)} test digits)")

# %% [markdown]
# ## Both methods scored with the course's protocol, and saved
#
# I-JEPA and DINO with the protocol of section 1 at 1 and 10 labels per class, with logistic regression on the
# pixels (at 12 px, no pre-training: one number per draw) as the floor. Both are saved (`checkpoints/ijepa.pt`,
# `checkpoints/dino.pt`) with this run's numbers and pre-training time, for notebook 9's leaderboard and the map below.

# %%
protocol_table = pd.concat([vit_table[(vit_table["method"] == "I-JEPA") & vit_table["labels_per_class"].isin([1, 10])]
                            .replace({"method": {"I-JEPA": "ijepa"}}),
                            probe_table({"dino": dino_encoder}, "dino", shots=(1, 10), pixels=True)], ignore_index=True)
if settings().run == 0:  # this run's encoders are saved with this run's scores (runs 1 and 2 leave them alone)
    live = mean_accuracy(protocol_table[protocol_table["run"] == 0])
    for name, method, seconds in (("ijepa", ijepa, ijepa_seconds), ("dino", dino, dino_seconds)):
        metrics = {f"{probe}@{k}": float(live.loc[(name, probe), k]) for probe in ("linear", "knn") for k in (1, 10)}
        path = save_method(method, metrics=metrics, extra={**RECIPE[name], "train_seconds": seconds})
        print(f"saved {path}: " + ", ".join(f"{key} {100 * value:.1f}%" for key, value in metrics.items())
              + f"; pre-trained in {seconds:.0f} s")
for k in (1, 10):
    print(log.compare(protocol_table, "dino", "pixels", "linear", k))

# %% [markdown]
# ## 3. The course on one page: a map of the families
#
# Every registered method of the course: what it predicts, what keeps it from collapsing, and what it needs. The
# "needs" columns are read from the methods themselves (a method needs momentum when its head holds a momentum
# target, a predictor when it holds one, centering when it holds a running center, negatives when it contrasts
# against other images); the accuracy and the pre-training time are what each method's notebook measured and saved
# with its checkpoint (`ssl_helpers.transfer.recorded_results`: the linear probe on the test split, mean over that
# notebook's seeded label draws; "—" where the checkpoint is missing or did not record it). Notebook 9 ranks them
# all again under one protocol, with validation-tuned probes and fine-tuning.

# %%
from ssl_helpers.transfer import recorded_results

PREDICTS = {  # what the network must output, in words
    "masked": "the pixels of hidden patches (a grey-patch CNN)", "mae": "the pixels of hidden patches (a ViT)",
    "rotation": "which rotation was applied", "jigsaw": "which permutation shuffled the tiles",
    "inpainting": "the pixels of a hidden square", "colorization": "the colours of a grey image",
    "denoising": "the clean image", "simclr": "which image of the batch is the other view",
    "moco": "which key (of a queue) is the other view", "byol": "the other view's embedding",
    "simsiam": "the other view's embedding", "barlow_twins": "the other view's embedding, dimension by dimension",
    "vicreg": "the other view's embedding", "ijepa": "a hidden block's representation",
    "dino": "the teacher's distribution over prototypes for another crop",
}
AGAINST_COLLAPSE = {  # what keeps the representation from collapsing, in words
    "self-prediction": "nothing needed: the target is the data", "contrastive": "negatives push other images away",
    "byol": "predictor + momentum target", "simsiam": "predictor + stop-gradient",
    "barlow_twins": "decorrelated dimensions", "vicreg": "variance hinge + covariance penalty",
    "ijepa": "predictor + momentum target", "dino": "centering + sharpening",
}


def needs(name):
    """What the method's own modules say it needs: built tiny (width 8) at its own image size."""
    size = method_spec(name).image_size
    method = make_method(name).build((3, size, size), width=8)
    parts = set(method.head.keys()) if isinstance(method.head, torch.nn.ModuleDict) else set()
    return {"negatives": method.spec.family == "contrastive" or "queue" in parts,
            "momentum": "target_encoder" in parts, "predictor": "predictor" in parts, "centering": "center" in parts}


recorded = recorded_results(default_checkpoint_dir()).set_index("method")
family_map = pd.DataFrame([{
    "family": recorded.loc[name, "family"], "method": recorded.loc[name, "title"], "predicts": PREDICTS[name],
    "against collapse": AGAINST_COLLAPSE.get(name, AGAINST_COLLAPSE.get(recorded.loc[name, "family"], "")),
    **{key: "yes" if value else "" for key, value in needs(name).items()},
    "linear @1 (%)": recorded.loc[name, "linear @1 (%)"], "linear @10 (%)": recorded.loc[name, "linear @10 (%)"],
    "pre-training (s)": recorded.loc[name, "pre-training (s)"], "notebook": recorded.loc[name, "notebook"][:2],
} for name in method_names()]).set_index(["family", "method"])
missing = [name for name in method_names() if recorded.loc[name, "source"] == "missing"]
print(f"{len(family_map)} methods; checkpoints read from {default_checkpoint_dir()}"
      + (f"; not run yet (no checkpoint): {', '.join(missing)}" if missing else "")
      + "; pre-training time recorded by notebooks "
      + ", ".join(sorted({recorded.loc[n, 'notebook'][:2] for n in recorded.index
                          if recorded.loc[n, 'pre-training (s)'] == recorded.loc[n, 'pre-training (s)']})))
family_map.style.format({"linear @1 (%)": "{:.1f}", "linear @10 (%)": "{:.1f}", "pre-training (s)": "{:.0f}"},
                        na_rep="—")

# %% [markdown]
# ## Takeaways
#
# Each point is read off the numbers printed above (re-run the notebook and they are recomputed):
#
# - **A falling loss is not learning.** I-JEPA's loss falls several-fold in a few epochs, because most
#   of what its targets vary with is the token's *position*, not the image (the image share printed in
#   experiment (a), already as low for a random ViT): a predictor that knew only where each hidden token is would
#   score lower still (the held-out comparison). On 36-token digits and a few seconds of CPU, its features stay
#   about where a random ViT's are (the printed comparisons over 3 runs: a tie with the random ViT at 1, 5 and 10
#   labels per class), and MAE at the same budget ties with I-JEPA at every count too: read these as "neither has
#   learned much yet", not as a verdict on the paper's
#   claim, which is measured on ImageNet (hundreds of epochs, 196-256 tokens, large ViTs). The `FULL_RUN` branch
#   (CIFAR-10, 64 tokens) is the place to look for it; this notebook does not reproduce it.
# - **DINO's two tricks each collapse alone, differently.** Without centering the teacher's entropy falls and one
#   prototype takes most images (the largest share goes towards 1); without sharpening its entropy climbs to log K,
#   the uniform answer, which teaches nothing. The main run keeps the entropy between the two, with the answers
#   spread over many prototypes.
# - **DINO on the CPU tier**: its probes are printed against the pixels' (a tie is a tie) and sit in the map next to
#   notebook 7's methods, trained for longer; on 12 px digits raw pixels are a strong neighbour finder (the
#   experiment (c) percentages), which a few seconds of self-distillation do not beat.
# - **The map**: self-prediction needs no defence against collapse because its targets are the data; every method
#   whose target is an embedding needs one: negatives (SimCLR, MoCo), a predictor with a stop-gradient or a
#   momentum target (BYOL, SimSiam, I-JEPA), a term on the statistics of the batch (Barlow Twins, VICReg), or
#   centering with sharpening (DINO).

# %%
print(f"notebook run time: {time.perf_counter() - NOTEBOOK_STARTED:.0f} s")
