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
# # 3. Self-prediction: which transformation? Rotation and jigsaw
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ssl-hands-on/ssl-hands-on/blob/main/notebooks/03_augmented_rotation_jigsaw.ipynb)
#
# Notebook 2 predicted hidden *pixels*. Here the network predicts **what was done to the image**, a label that
# costs nothing because we did it ourselves:
#
# - **Rotation** (Gidaris et al. 2018): turn the image by 0, 90, 180 or 270 degrees; predict which (4 classes).
#   To know which way is up, the network has to know what an upright object looks like.
# - **Jigsaw** (Noroozi & Favaro 2016): cut the image into tiles, shuffle them by one of a fixed set of
#   permutations, predict which permutation (here 2 x 2 tiles: all 24 orders). To put parts in order, the
#   network has to know the parts.
#
# No decoder: the head is one linear layer on the encoder's pooled features, trained with cross-entropy.
#
# **Runtime budget:** about 60 s on 2 CPU cores with the default settings (two short pre-trainings and the probes).

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
# `FULL_RUN = False` is the CPU tier: the embedded digits at 16 px and the small CNN, trained for a few epochs. `FULL_RUN = True` uses a GPU if there is one, CIFAR-10 at 32 px (downloaded) and a CIFAR ResNet-18, for longer.
# The full run is sized for a free Colab session on a T4: the cell prints the course's estimate for a T4 (scaled from
# another GPU's measurement, not measured), and each training prints the estimate timed on your GPU first. Every
# epoch is saved, so after a disconnect, running the notebook again resumes where it stopped. `LONGER_RUN = True`
# (with `FULL_RUN`) is the lecturer's longer setting.

# %%
FULL_RUN = False
LONGER_RUN = False  # with FULL_RUN: the lecturer's longer run

import matplotlib.pyplot as plt
import torch

from ssl_helpers.data import load_dataset
from ssl_helpers.evaluate import summarize
from ssl_helpers.plots import plot_label_efficiency
from ssl_helpers.train import seed_everything, set_cpu_threads
from ssl_helpers.config import pretext_tier, run_options
from ssl_helpers import pretext
from ssl_helpers.methods import pretrain, save_method

# the two tiers (ssl_helpers.config.pretext_tier): digits + small CNN on the CPU, or CIFAR-10 + ResNet-18 on the GPU
DATA, OPTIONS, EPOCHS, DEVICE, make_encoder = pretext_tier(FULL_RUN, cpu_epochs=6, gpu_epochs=100 if LONGER_RUN else 30, tasks=2)
SHOTS, SEEDS = (1, 5, 10), 5  # the course protocol: linear probe with 1, 5, 10 labels per class, 5 draws
set_cpu_threads(1)  # tiny models: one CPU thread is about as fast as two, and far faster on a busy machine
_ = seed_everything(0)

# %%
# NBVAL_CHECK_OUTPUT
train, test = load_dataset(DATA, **OPTIONS)
print(train)
print(test)

# %% [markdown]
# ## The corruptions, and why their labels are free
#
# `rotate(images, k)` turns each image by `90 * k` degrees counter-clockwise (`torch.rot90`); `random_rotation`
# draws `k` in 0..3 per image and returns it as the label. `shuffle_tiles(images, permutations)` rearranges the
# tiles so that output tile `t` is input tile `perm[t]`; `random_jigsaw` draws one of the fixed permutations per
# image and returns its index. Both are invertible, which the tests check: `rotate(rotated, -k)` and
# `unshuffle_tiles(shuffled, permutations[label])` give back the original.

# %% [markdown]
# ### Exercise: shuffle the tiles
#
# Write `my_shuffle_tiles(images, permutations)`: images $(N, C, H, W)$ and one permutation per image,
# `permutations` $(N, T)$ with $T = g^2$ tiles numbered row by row (tile $t$ = grid row $t // g$, column $t \% g$,
# each $H/g \times W/g$ pixels). Return the shuffled images $(N, C, H, W)$ where **output tile $t$ is input tile
# `perm[t]`** of the same image. The check's cases: $N$ from 2 to 4, 1 or 3 channels, float32 and float64 images,
# $g$ = 2 or 3, `permutations` torch.long. The figure below shuffles the digits with your function if the check
# passes, with the course's `shuffle_tiles` otherwise (`jigsaw_ex.hint()` gives a hint in three steps, idea,
# approach, code, one per call; `jigsaw_ex.solution()`).

# %%
from ssl_helpers.exercises.pretext import jigsaw_exercise as jigsaw_ex


def my_shuffle_tiles(images, permutations):
    """images: (N, C, H, W); permutations: (N, T) long, T = g*g -> (N, C, H, W); out tile t = in tile perm[t]."""
    raise NotImplementedError  # EXERCISE jigsaw_tiles: your code here


# %%
jigsaw_ex.check(my_shuffle_tiles)
shuffle_used = jigsaw_ex.use(my_shuffle_tiles)

# %%
rotation, jigsaw = pretext.RotationTask(), pretext.JigsawTask(grid=2)
print("jigsaw classes:", jigsaw.num_classes, "permutations, e.g.", jigsaw.permutations[:4].tolist())
examples = test.images[:8]
generator = torch.Generator().manual_seed(0)
rotated, k = pretext.random_rotation(examples, generator)
which = torch.randint(0, jigsaw.num_classes, (len(examples),), generator=generator)  # as random_jigsaw draws
shuffled = shuffle_used(examples, jigsaw.permutations[which])
fig, axes = plt.subplots(3, 8, figsize=(9, 3.6))
for i in range(8):
    for row, (image, title) in enumerate([(examples[i], "original"), (rotated[i], f"{90 * int(k[i])} deg"),
                                          (shuffled[i], f"perm {int(which[i])}")]):
        axes[row, i].imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[row, i].set_title(title, fontsize=8)
        axes[row, i].axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Before training: guessing
#
# An untrained head guesses: about 1 in 4 rotations and 1 in 24 permutations right (titles: true -> predicted).

# %%
encoders = {}
for task in (rotation, jigsaw):
    seed_everything(0)
    encoders[task.name] = make_encoder().to(DEVICE)
    task.build(tuple(train.images.shape[1:]), encoders[task.name])
    pretext.show_predictions(task, encoders[task.name], test.images[:8].to(DEVICE), title=f"{task.name}, before")
plt.show()

# %% [markdown]
# ## Pre-training both with the course's Trainer
#
# Each step: corrupt a batch (a random rotation or permutation per image), predict the label, cross-entropy. The
# same `pretrain` (from `ssl_helpers.methods`) as in notebook 2 trains the task, a `lightning.LightningModule`, with the
# course's `lightning.Trainer`.

# %%
histories = {}
for task in (rotation, jigsaw):
    encoders[task.name], histories[task.name] = pretrain(
        task, train.images, encoder=encoders[task.name], epochs=EPOCHS, seed=0, device=DEVICE,
        **run_options(task.name, FULL_RUN))
    print(task.name, "loss per epoch:", histories[task.name]["loss"].round(3).tolist())

# %%
for task in (rotation, jigsaw):
    pretext.show_predictions(task, encoders[task.name], test.images[:8].to(DEVICE), title=f"{task.name}, after")
plt.show()
with torch.no_grad():  # pretext accuracy on the whole test split
    for task in (rotation, jigsaw):
        result = pretext.predictions(task, encoders[task.name], test.images.to(DEVICE), seed=1)
        accuracy = (result["prediction"] == result["targets"]).float().mean().item()
        print(f"{task.name}: pretext accuracy on test digits {100 * accuracy:.1f}% (chance {100 / task.num_classes:.1f}%)")

# %% [markdown]
# Both tasks are learned well above chance, so the encoders did learn *something* about digits.

# %% [markdown]
# ### Exercise: every image at all four angles
#
# Training draws one angle per image; Gidaris et al. feed all four copies of each image. Write
# `my_all_rotations(images)`: images $(N, C, H, W)$ with $H = W$ -> `(rotated, labels)`, `rotated` $(4N, C, H, W)$
# and `labels` $(4N,)$ (`torch.long`): block $k = 0, 1, 2, 3$ (rows $kN$ to $kN + N - 1$) holds all $N$ images
# turned **counter-clockwise** by $90k$ degrees, each labelled $k$. The check's cases: $N$ = 2 or 3, 1 to 3
# channels, float32 and float64 images. The next cell scores the trained rotation encoder on every test digit at
# every angle with your function if the check passes, with the course's `all_rotations` otherwise
# (`rotations_ex.hint()`, three steps; `rotations_ex.solution()`).

# %%
from ssl_helpers.exercises.pretext import rotations_exercise as rotations_ex


def my_all_rotations(images):
    """images: (N, C, H, W), H == W -> rotated (4N, C, H, W) angle by angle, labels (4N,) long in 0..3."""
    raise NotImplementedError  # EXERCISE all_rotations: your code here


# %%
rotations_ex.check(my_all_rotations)
rotations_used = rotations_ex.use(my_all_rotations)

# %%
every_angle, angle = rotations_used(test.images)
with torch.no_grad():
    rotation.head.eval()
    guessed = rotation.eval().predict(every_angle.to(DEVICE)).argmax(1).cpu()
per_angle = {90 * k: 100 * (guessed[angle == k] == k).float().mean().item() for k in range(4)}
print(f"rotation accuracy on all {len(test.images)} test digits at each angle:",
      ", ".join(f"{degrees} deg {accuracy:.1f}%" for degrees, accuracy in per_angle.items()))
hardest = min(per_angle, key=per_angle.get)
print(f"hardest angle: {hardest} deg; easiest: {max(per_angle, key=per_angle.get)} deg")
at_hardest = guessed[angle == hardest // 90]
mistaken = at_hardest[at_hardest != hardest // 90]
if len(mistaken):
    most = int(mistaken.mode().values)
    print(f"at {hardest} deg, {100 * len(mistaken) / len(at_hardest):.1f}% wrong, most often guessed as {90 * most} deg")
digit_accuracy = [(guessed[angle == hardest // 90][test.labels == d] == hardest // 90).float().mean().item()
                  for d in range(test.num_classes)]
worst = sorted(range(test.num_classes), key=lambda d: digit_accuracy[d])[:3]
print(f"digits hardest to orient at {hardest} deg:",
      ", ".join(f"{test.classes[d]} ({100 * digit_accuracy[d]:.0f}%)" for d in worst))

# %% [markdown]
# The angles are not equally hard (the lines above name the hardest angle, what it is mistaken for, and the digits
# hardest to orient there). A digit that looks much the same turned by 180 degrees gives its 0 and 180 degree
# copies the same appearance, and no encoder can tell those apart from the digit alone: compare the digits named
# above with the ones you would call symmetric.

# %% [markdown]
# ### Exercise: the rotation pretext step
#
# The lines the training above repeated at every step, for Gidaris et al.'s version that shows the network every
# image at all four angles. Write `my_rotation_step(encoder, head, images)`: images $(N, C, H, W)$ float32 with
# $H = W$; `encoder` maps $(M, C, H, W)$ to features $(M, D)$ and `head` maps those to 4 logits $(M, 4)$. Turn
# the batch into its $4N$ rotated copies with their angle labels (your `all_rotations` above, or the course's
# `pretext.all_rotations`), send all $4N$ copies through the encoder and the head, and return the mean
# cross-entropy of the logits against the labels: a 0-d tensor **that carries the gradient** to the encoder and
# the head. The check's cases: tiny networks without BatchNorm, $N$ from 2 to 4, 1 or 3 channels; it compares the
# loss and its gradient. The cell after it trains a fresh small CNN for a few steps with your function if it passes
# (the course's version otherwise). `rotation_step_ex.hint()` (three steps), `rotation_step_ex.solution()`.

# %%
from ssl_helpers.exercises.pretext import rotation_step_exercise as rotation_step_ex


def my_rotation_step(encoder, head, images):
    """encoder: (M, C, H, W) -> (M, D); head: (M, D) -> (M, 4); images: (N, C, H, W) float32 -> 0-d loss."""
    raise NotImplementedError  # EXERCISE rotation_step: your code here


# %%
rotation_step_ex.check(my_rotation_step)
rotation_step_used = rotation_step_ex.use(my_rotation_step)
rotation_step_ex.train_briefly(rotation_step_used, train.images)

# %% [markdown]
# ## Scoring the encoders with the course protocol
#
# Frozen features, logistic regression on 1, 5 and 10 labelled digits per class (5 seeded draws), scored on the whole test split; next to the same probe on raw **pixels** and on a **random encoder** (the same network, untrained). A pretext task has taught the encoder something useful for digits only if it beats both.

# %%
table = pretext.score_against_baselines({name: encoder.cpu() for name, encoder in encoders.items()}, train, test, shots=SHOTS, seeds=SEEDS)
plot_label_efficiency(table, title="Rotation and jigsaw vs baselines (linear probe)")
plt.show()
summarize(table)

# %%
differences, verdicts = pretext.compare_to_baselines(table)
print("accuracy points above (+) or below (-) each baseline, mean over 5 seeds:")
print(differences.to_string())
print()
print("\n".join(verdicts.values()))

# %% [markdown]
# **Reading the numbers.** Both tasks are solved far above chance, yet their features are clearly *worse*
# for telling digits apart than a random network's or the raw pixels (the verdicts above). Why, on this data:
#
# - *The pretext label is not the class.* The last layer learns what the task needs: for rotation, which way the
#   strokes lean; for jigsaw, whether tile borders line up. Two different digits rotated the same way look alike
#   to it. With 128 pooled features and a few epochs, the encoder throws away what does not help the pretext task.
# - *Shortcuts.* A CNN that sees the whole shuffled image can solve jigsaw from low-level seams between tiles
#   (Noroozi & Favaro leave gaps between tiles for this reason), and some digits (0, 1, 8) look much the same upside
#   down, so rotation cannot be decided from the digit's identity for them anyway.
# - *A random CNN is a strong baseline here*: at 16 px its features are nearly as good as pixels, and pre-training
#   has to beat that, not zero.
#
# On natural images (CIFAR-10, ImageNet) with deep networks and long training, rotation prediction does beat random
# features by a wide margin: "which way is up" is a much stronger cue for a photo of a dog than for a digit.

# %% [markdown]
# ## Saving the encoders
#
# The transfer-learning notebook loads these checkpoints (with `ssl_helpers.methods.load_or_pretrain`, which trains a quick one when a file is missing).

# %%
from ssl_helpers.evaluate import mean_accuracy

means = mean_accuracy(table[table.probe == "linear"]).droplevel("probe")
for name, (task, encoder) in {name: (task, encoders[name]) for name, task in (("rotation", rotation), ("jigsaw", jigsaw))}.items():
    metrics = {f"linear_{k}": float(means.loc[name, k]) for k in SHOTS}
    path = save_method(task, metrics=metrics,
                                extra={"epochs": EPOCHS, "data": DATA})
    print(f"saved {path}")

# %% [markdown]
# ## Takeaways
#
# - Predicting *what was done* to an image needs no decoder: a linear head and cross-entropy.
# - The label is free, and the task is learnable, but being good at the pretext task is not the same as having
#   features that separate classes: here both tasks give features below the baselines (table above).
# - A pretext task helps only if solving it requires the information the downstream task needs, and has no
#   shortcut. Notebook 4 tries obscured and perturbed inputs; notebook 5 changes the question altogether: which
#   images belong together?
