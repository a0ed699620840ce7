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
# # 2. Self-prediction: masked autoencoders (MAE)
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ssl-hands-on/ssl-hands-on/blob/main/notebooks/02_masked_autoencoding.ipynb)
#
# The first family of self-supervised learning is **self-prediction**: hide or change part of an input and ask the
# network to predict it back. The answer comes from the image itself, so no labels are needed.
#
# Here: the **masked autoencoder** (He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners", MAE; BERT's
# masked words, for pixels). Cut the image into patches, hide most of them (75%), and train an encoder and a light
# decoder to paint the hidden patches back. Three design choices made MAE matter:
#
# 1. the encoder is a **Vision Transformer that sees only the visible patches**: at 75% masking it processes a
#    quarter of the tokens, so pre-training is several times cheaper than a model over all tokens;
# 2. a **light decoder** gets the encoded visible tokens plus a shared learned **mask token** at every hidden
#    position, and predicts the pixels of every patch;
# 3. the loss counts **only the hidden patches**, on pixels normalised per patch: copying what is visible earns
#    nothing.
#
# MAE features are known to be **weak under a frozen linear probe and strong after fine-tuning** (ViT-L on ImageNet:
# 75.8% linear vs 85.9% fine-tuned). We measure both, against the older idea this notebook used to teach: grey out
# patches of the image and let a CNN repaint it all (the "context encoder" / SimMIM family), kept here as the
# baseline.
#
# **Runtime budget:** about 80 s on 2 idle CPU cores with the default settings (longer on a busy machine).

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
# `FULL_RUN = False` is the CPU tier: the embedded digits at 16 px (4 px patches: 16 tokens) and a ViT of a few
# hundred thousand parameters, with the recipe (epochs, batch size, mask ratio) chosen on the validation split by
# `scripts/tune_mae.py`: with only 16 tokens, validation chose hiding half of them over hiding 75% there (its
# docstring lists the grid: single runs, not re-printed here).
# `FULL_RUN = True` uses a GPU if there is one, CIFAR-10 at 32 px (downloaded; 4 px patches: 64 tokens), a wider and
# deeper ViT, and a CIFAR ResNet-18 for the grey-patch baseline, for longer. Every epoch is saved, so after a
# disconnect, running the notebook again resumes where it stopped. `LONGER_RUN = True` (with `FULL_RUN`) is the
# lecturer's longer setting.

# %%
FULL_RUN = False
LONGER_RUN = False  # with FULL_RUN: the lecturer's longer run

import matplotlib.pyplot as plt
import torch

from ssl_helpers import pretext
from ssl_helpers.config import full_run_settings, run_options, settings, t4_minutes
from ssl_helpers.data import load_dataset, validation_split
from ssl_helpers.mae import encoder_step_seconds
from ssl_helpers.methods import make_method, method_spec, pretrain, save_method
from ssl_helpers.models import ResNet18Cifar, SmallCNN
from ssl_helpers.plots import image_grid, plot_history, plot_label_efficiency
from ssl_helpers.seeds import run_seed
from ssl_helpers.train import pick_device, seed_everything, set_cpu_threads
from ssl_helpers.verdicts import VerdictLog

if FULL_RUN:
    FULL = full_run_settings(epochs=400 if LONGER_RUN else 100, width=96, steps=100, batch_size=256)  # smoke: tiny
    DATA, OPTIONS, DEVICE = "cifar10", dict(image_size=32, download=True), pick_device()
    mae = make_method("mae", depth=6, heads=4, decoder_dim=128, decoder_depth=2)
    MAE_EPOCHS, CNN_EPOCHS, WIDTH, STEPS = FULL["epochs"], min(60, FULL["epochs"]), FULL["width"], FULL["steps"]
    MAE_FIT = dict(batch_size=FULL["batch_size"], lr=1e-3)  # GPU recipe: not tuned or measured yet
    make_cnn = lambda: ResNet18Cifar(width=min(64, WIDTH))
    # one view per image, a quarter of the tokens: well under a SimCLR step (two views) per image
    print(f"course estimate on a T4 (not a measurement): {t4_minutes(MAE_EPOCHS + CNN_EPOCHS, relative_cost=0.5):.0f}"
          f" min of training steps (at most; the MAE encoder sees a quarter of the tokens)")
else:
    DATA, OPTIONS, DEVICE = "digits", dict(image_size=16), torch.device("cpu")
    mae = make_method("mae", mask_ratio=0.5)  # tuned on validation: 16 tokens are few to hide 75% of
    MAE_EPOCHS, CNN_EPOCHS, WIDTH, STEPS = mae.spec.recipe["epochs"], method_spec("masked").recipe["epochs"], 32, 100
    MAE_FIT = {}  # the method's CPU recipe (mae.spec.recipe)
    make_cnn = lambda: SmallCNN(width=32)
SHOTS, SEEDS = (1, 5, 10), 5  # labels per class, seeded draws (the course protocol's)
NOTEBOOK = "02_masked_autoencoding"
log = VerdictLog(NOTEBOOK)  # the verdicts this notebook prints, as a record (scripts/rerun_check.py)
set_cpu_threads()  # PyTorch's default thread count; on a busy shared machine, set SSL_THREADS=1 (help(set_cpu_threads))
_ = seed_everything(0)

# %%
# NBVAL_CHECK_OUTPUT
train, test = load_dataset(DATA, **OPTIONS)
fit, validation = validation_split(train)  # labels are drawn from `fit`; validation chose the recipe
print(train)
print(test)

# %% [markdown]
# ## Patches and random masking
#
# An image of H x W pixels becomes L = (H/p)(W/p) patches of p x p pixels: the **tokens**.
#
# ### Exercise: patchify
#
# Write `my_patchify(images, patch)`: images $(N, C, H, W)$ -> tokens $(N, L, p \cdot p \cdot C)$ with
# $L = (H/p)(W/p)$. Token $l = r \cdot (W/p) + c$ is the patch at grid row $r$, column $c$ (row by row), and its
# vector lists that patch's pixels in (y, x, channel) order, as MAE's code does. The check's cases: N = 2 or 3
# images with 1 or 3 channels, float32 and float64, p from 1 to 4 (H = W or not). The design figure below cuts a
# digit into tokens with your function if the check passes, with the course's `patchify` otherwise
# (`patchify_ex.hint()` gives a hint in three steps, idea, approach, code, one per call; `patchify_ex.solution()`).

# %%
from ssl_helpers.exercises.masking import patchify_exercise as patchify_ex


def my_patchify(images, patch):
    """images: (N, C, H, W), patch p dividing H and W -> tokens (N, L, p*p*C), L = (H/p)(W/p)."""
    raise NotImplementedError  # EXERCISE patchify: your code here


# %%
patchify_ex.check(my_patchify)
patchify_used = patchify_ex.use(my_patchify)

# %% [markdown]
# MAE hides a random `mask_ratio` of the tokens of each image **by sorting noise**: one random number per token,
# and the tokens with the smallest numbers stay visible. Sorting instead of drawing a mask directly gives a random
# permutation per image, which says both what the encoder sees and how to put every token back in place.
#
# ### Exercise: random masking from given noise
#
# Write `my_masking(noise, mask_ratio)` for noise of shape $(N, L)$ (given, so the answer is exact; the course
# draws it with `torch.rand(N, L, generator=...)`; the check's noise is float32 or float64, $N$ from 2 to 4, ties
# included). Return three tensors:
#
# - `ids_keep` $(N, K)$, integer, $K = (1 - r) L$ rounded either way (the course rounds to nearest, MAE's code
#   truncates with `int()`: both pass): the indices of the $K$ tokens with the smallest noise, in increasing order
#   of noise (any order among equal noise values); the encoder's whole input;
# - `mask` $(N, L)$, float, in image order: 1 where token $l$ is hidden, 0 where it is kept;
# - `ids_restore` $(N, L)$, integer: the inverse of the permutation that sorts the noise, so that gathering the
#   tokens sorted by noise with `ids_restore` puts token $l$ back at position $l$ (the decoder does this).
#
# The cells below print a mask and draw the design figure with your function if the check passes, with the
# course's `masking_from_noise` (in `ssl_helpers/mae.py`) otherwise (`masking_ex.hint()`, three steps;
# `masking_ex.solution()`).

# %%
from ssl_helpers.exercises.masking import masking_exercise as masking_ex


def my_masking(noise, mask_ratio):
    """noise: (N, L); mask_ratio r in [0, 1) -> ids_keep (N, K), mask (N, L), ids_restore (N, L)."""
    raise NotImplementedError  # EXERCISE random_masking: your code here


# %%
masking_ex.check(my_masking)
masking_used = masking_ex.use(my_masking)

# %%
length = (train.images.shape[-1] // mae.options.patch_size) ** 2  # tokens per image
noise = torch.rand(2, length, generator=torch.Generator().manual_seed(0))  # what random_masking draws
ids_keep, mask, ids_restore = masking_used(noise, 0.75)
print("ids_keep (the encoder's tokens):", ids_keep.tolist())
print("mask (1 = hidden), image order: ", mask.int().tolist())
print("ids_restore:                    ", ids_restore.tolist())

# %% [markdown]
# ## The design in one figure
#
# For one digit: the encoder gets only the visible patches (a short sequence, in shuffled order); the decoder gets
# those encoded tokens plus the same learned mask token (drawn as a hatched square) at every hidden position, put
# back in image order with `ids_restore`; the loss compares its output with the hidden patches only.

# %%
from ssl_helpers.mae import unpatchify

digit = test.images[:1]
p = mae.options.patch_size
grid = (digit.shape[-2] // p, digit.shape[-1] // p)
noise = torch.rand(1, grid[0] * grid[1], generator=torch.Generator().manual_seed(1))
keep_ids, hidden, _ = masking_used(noise, mae.options.mask_ratio)
patches = patchify_used(digit, p)[0]
fig, axes = plt.subplots(1, 4, figsize=(11, 3), gridspec_kw=dict(width_ratios=[1, 1.6, 1, 1]))
axes[0].imshow(image_grid(digit), interpolation="nearest")
axes[0].set_title(f"image: {grid[0] * grid[1]} patches of {p} px", fontsize=9)
strip = torch.stack([patches[i].view(p, p, -1).permute(2, 0, 1) for i in keep_ids[0].tolist()])
axes[1].imshow(image_grid(strip, ncols=len(strip), pad=1), interpolation="nearest")
axes[1].set_title(f"encoder input: {len(strip)} visible tokens", fontsize=9)
shown = patchify_used(digit, p) * (1 - hidden.unsqueeze(-1)) + 0.85 * hidden.unsqueeze(-1)
axes[2].imshow(image_grid(unpatchify(shown, p, digit.shape[1], grid)), interpolation="nearest")
for index in torch.nonzero(hidden[0]).flatten().tolist():
    row, col = divmod(index, grid[1])
    axes[2].add_patch(plt.Rectangle((col * p - 0.5, row * p - 0.5), p, p, fill=False, hatch="//", lw=0.5))
axes[2].set_title("decoder input: + mask tokens", fontsize=9)
target = patchify_used(digit, p) * hidden.unsqueeze(-1) + 0.85 * (1 - hidden.unsqueeze(-1))
axes[3].imshow(image_grid(unpatchify(target, p, digit.shape[1], grid)), interpolation="nearest")
axes[3].set_title("loss: hidden patches only", fontsize=9)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The ViT pieces MAE rests on
#
# MAE's encoder is a Vision Transformer (ViT, Dosovitskiy et al. 2021). Three of its pieces carry MAE's idea:
#
# 1. **Linear patch embedding.** Each token's $p \cdot p \cdot C$ pixels go through one linear layer shared by every
#    patch, $e_l = W x_l + b$ (a convolution with kernel and stride $p$). Nothing else looks at pixels; from here on,
#    only attention mixes patches.
# 2. **Position embeddings.** Attention treats its tokens as a *set*: shuffle them and its outputs shuffle with them.
#    So each token gets a vector saying where it sits, added to its embedding, $z_l = e_l + \mathrm{pos}_l$ (MAE: fixed
#    2-D sine-cosine vectors, half the channels for the row, half for the column). This is also how the decoder's
#    mask tokens work: **every hidden patch starts as the same learned vector**, and only the position added to it
#    says which patch to paint (measured on the trained model below).
# 3. **A high masking ratio.** BERT hides 15% of a sentence's words: words carry dense meaning, and a missing one
#    is hard to guess. Images are redundant: a hidden patch can largely be guessed from its neighbours by
#    interpolation, which needs no understanding of the image. MAE hides 75% so that interpolation is not enough.
#    The cell below measures it on the digits: how well a plain blur of the visible pixels fills hidden 4 px
#    patches, as the ratio grows. (With only 16 tokens per digit, validation chose 0.5 for this notebook's MAE:
#    75% leaves its encoder 4 tokens; see `scripts/tune_mae.py`.)

# %%
import torch.nn.functional as F

vit = mae.make_encoder(tuple(train.images.shape[1:]), width=WIDTH)  # untrained: the pieces and their shapes
tokens = patchify_used(digit, p)                                      # (1, L, p*p*C)
embedded = vit.patch_embed(tokens)                                    # one shared Linear: (1, L, D)
positions = vit.positions[0]                                          # fixed sine-cosine, (L, D)
print(f"patch embedding: tokens {tuple(tokens.shape)} -> Linear {vit.patch_embed.in_features} -> "
      f"{vit.patch_embed.out_features} -> {tuple(embedded.shape)}; positions {tuple(positions.shape)}, added")
similarity = F.normalize(positions, dim=1) @ F.normalize(positions, dim=1).T  # (L, L) cosine similarity
centre = grid[1] + 1  # the token at row 1, column 1


def fill_from_neighbours(images, mask, size=5):
    """Interpolation, no learning: each hidden pixel gets the mean of the visible pixels in a size x size window."""
    blur = lambda x: F.avg_pool2d(x, size, stride=1, padding=size // 2, count_include_pad=False)
    return blur(images * (1 - mask)) / blur(1 - mask).clamp_min(1e-6)


def hidden_mse(painted, images, mask):
    """Squared error per value over the hidden pixels only (mask (N, 1, H, W), 1 = hidden)."""
    return float(((painted - images).pow(2) * mask).sum() / (mask.sum() * images.shape[1]))


digits256 = test.images[:256]
blur_error = {}
for ratio in (0.15, 0.5, 0.75):
    _, hidden_pixels = pretext.mask_patches(digits256, ratio, p, torch.Generator().manual_seed(0))
    blur_error[ratio] = hidden_mse(fill_from_neighbours(digits256, hidden_pixels), digits256, hidden_pixels)
grey_error = hidden_mse(torch.full_like(digits256, 0.5), digits256, hidden_pixels)
print("hidden-pixel MSE of a 5x5 blur of the visible pixels, 256 test digits, 4 px patches: "
      + ", ".join(f"{100 * r:.0f}% hidden {e:.4f}" for r, e in blur_error.items())
      + f"; painting every hidden pixel grey (0.5): {grey_error:.4f}")
fig, axes = plt.subplots(1, 2, figsize=(8, 2.6), gridspec_kw=dict(width_ratios=[2.2, 1]))
axes[0].imshow(positions.T, aspect="auto", cmap="coolwarm", interpolation="nearest")
axes[0].set_xlabel("token l (row by row)"), axes[0].set_ylabel("channel")
axes[0].set_title("sine-cosine position vectors pos_l", fontsize=9)
shown = axes[1].imshow(similarity[centre].view(grid), cmap="viridis", interpolation="nearest")
axes[1].set_title(f"cosine(pos_{centre}, pos_l) on the {grid[0]}x{grid[1]} grid", fontsize=9)
axes[1].set_xticks([]), axes[1].set_yticks([])
fig.colorbar(shown, ax=axes[1], fraction=0.046)
fig.tight_layout()
plt.show()

# %% [markdown]
# Reading it: the blur's error grows with the ratio towards that of painting everything grey; at a low ratio most
# hidden pixels have visible ones close by, and interpolation already does much of the job, which a network could
# learn without learning anything about digits. Nearby positions get similar position vectors (the map), so the
# network can tell neighbours from distant patches.

# %% [markdown]
# ## The compute claim, measured
#
# The encoder's cost grows with the number of tokens it processes (linearly in its MLPs, quadratically in
# attention). One training step (forward, backward) of the same encoder on the visible quarter of the tokens against
# all of them, timed here in one process (`benchmarks/bench_mae.py` measures larger batches and 32 px images):

# %%
timing_encoder = mae.make_encoder(tuple(train.images.shape[1:]), width=WIDTH)
batch = train.images[:256]
all_tokens = encoder_step_seconds(timing_encoder, batch, mask_ratio=None)
visible_only = encoder_step_seconds(timing_encoder, batch, mask_ratio=0.75)  # MAE's ratio
print(f"one encoder step on {len(batch)} images: all {timing_encoder.num_tokens} tokens {1e3 * all_tokens:.1f} ms, "
      f"visible {round(0.25 * timing_encoder.num_tokens)} tokens (mask ratio 0.75) "
      f"{1e3 * visible_only:.1f} ms: {all_tokens / visible_only:.1f}x faster")

# %% [markdown]
# ### Exercise: the MAE forward pass and its loss
#
# The lines that make MAE, written by you with the course's pieces. Write
# `my_mae_forward(encoder, decoder, images, mask_ratio, generator)` for a `ViTEncoder` and an `MAEDecoder`
# (`ssl_helpers.mae`), images $(N, C, H, W)$ float32, a mask ratio $r$ and a CPU `torch.Generator`. Return
# `(loss, prediction, mask)`: the loss a 0-d tensor **that carries the gradient** to both networks, `prediction`
# $(N, L, p \cdot p \cdot C)$ for every token, `mask` $(N, L)$ float, 1 on the hidden patches.
#
# - Draw the mask once, first: `random_masking(N, L, r, generator)` from `ssl_helpers.mae` (your masking above, on
#   noise it draws from the generator; $L$ = `encoder.num_tokens`), so that your mask is the course's.
# - The encoder sees **only the visible tokens**: `encoder.tokens(images)` gives every patch embedded, positions
#   added, $(N, L, D)$; `encoder.transform(tokens)` runs the blocks and the final norm on any set of tokens.
# - The decoder gets the encoded visible tokens mapped to its width (`decoder.embed`), plus one copy of its learned
#   `decoder.mask_token` $(1, 1, d)$ for every hidden patch, **put back in image order** with `ids_restore`, then
#   its positions `decoder.positions` $(1, L, d)$, its `decoder.blocks` (a list), `decoder.norm` and
#   `decoder.predict`. (Calling `encoder.forward_visible` or `decoder(...)` would do these lines for you.)
# - The loss: the target is `normalize_patches(patchify(images, p))` (each patch normalised, MAE's target;
#   $p$ = `encoder.patch_size`); the squared error is averaged over each patch's $p \cdot p \cdot C$ values, then
#   over the **hidden patches only**.
#
# The check's cases: tiny networks, $N$ = 2 or 3, 1 or 3 channels, 8 px images, $(1 - r) L$ a whole number; it
# compares the loss, the prediction, the mask and the gradient of the loss. The cell after it trains a fresh
# tiny MAE for a few steps with your function if it passes (the course's `mae_forward` otherwise); `pretrain`
# below runs the course's version of the same lines. `mae_forward_ex.hint()` (three steps),
# `mae_forward_ex.solution()`.

# %%
from ssl_helpers.exercises.masking import mae_forward_exercise as mae_forward_ex


def my_mae_forward(encoder, decoder, images, mask_ratio, generator):
    """encoder: ViTEncoder; decoder: MAEDecoder; images: (N, C, H, W) float32; mask_ratio r; generator: CPU
    torch.Generator -> (loss (0-d, with gradient), prediction (N, L, p*p*C), mask (N, L), 1 = hidden)."""
    raise NotImplementedError  # EXERCISE mae_forward: your code here


# %%
mae_forward_ex.check(my_mae_forward)
mae_forward_used = mae_forward_ex.use(my_mae_forward)
mae_forward_ex.train_briefly(mae_forward_used, train.images)

# %% [markdown]
# ## Pre-training the MAE
#
# `mae` is a `lightning.LightningModule`; `pretrain` (from `ssl_helpers.methods`) trains it with the course's
# `lightning.Trainer`, whose every step is `mae.training_step`: the lines of the exercise above (the course's
# `mae_forward` in `ssl_helpers/mae.py`): mask, encode the visible tokens, append the mask tokens and unshuffle,
# decode, loss on the hidden patches. The labels of `train` are never touched. After some epochs we keep the
# prediction for the same test digits under the same mask, to watch the decoder learn.

# %%
show, snapshots = test.images[:8].to(DEVICE), {}
watch = {1, max(1, MAE_EPOCHS // 4), max(1, MAE_EPOCHS // 2), MAE_EPOCHS}


def snapshot(epoch):
    if epoch in watch:
        snapshots[epoch] = mae.reconstruct(show, torch.Generator(device=DEVICE).manual_seed(0))


seed_everything(run_seed(0))  # 0 here; other seeds in this notebook's shipped runs (ssl_helpers.seeds)
mae_encoder = mae.make_encoder(tuple(train.images.shape[1:]), width=WIDTH).to(DEVICE)
print(f"MAE: ViT encoder {mae_encoder.config}, {sum(p.numel() for p in mae_encoder.parameters()):,} parameters")
print(f"options {mae.options}; recipe {({**mae.spec.recipe, **MAE_FIT})}, {MAE_EPOCHS} epochs")
mae_encoder, mae_history = pretrain(mae, train.images, encoder=mae_encoder, epochs=MAE_EPOCHS, seed=run_seed(0),
                                    device=DEVICE, on_epoch_end=snapshot, **MAE_FIT, **run_options(mae.name, FULL_RUN))
log.measure("MAE final loss", mae_history["loss"].iloc[-1])
if MAE_EPOCHS not in snapshots:  # a resumed FULL_RUN skips the epochs it had already trained
    snapshot(MAE_EPOCHS)
print(f"decoder {sum(p.numel() for p in mae.head.parameters()):,} parameters; loss "
      f"{mae_history['loss'].iloc[0]:.3f} -> {mae_history['loss'].iloc[-1]:.3f}")
plot_history(mae_history, ["loss"])
plt.show()

# %%
masked_input = snapshots[MAE_EPOCHS][0]
borrowed = mae.reconstruct(show, torch.Generator(device=DEVICE).manual_seed(0), statistics="true")[2]
rows = [masked_input] + [snapshots[epoch][2] for epoch in sorted(snapshots)] + [borrowed, show]
titles = (["masked input"] + [f"epoch {epoch}" for epoch in sorted(snapshots)]
          + ["true mean, std\n(borrowed)", "original"])
fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.1 * len(rows)))
for ax, row, title in zip(axes, rows, titles):
    ax.imshow(image_grid(row.cpu(), ncols=8), interpolation="nearest")
    ax.set_ylabel(title, rotation=0, ha="right", va="center", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("MAE predictions over training: hidden patches predicted from the visible ones only, drawn with the\n"
             "visible patches' mean and std (norm_pix); second-last row: the hidden patches' own mean and std, "
             "borrowed", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# With per-patch normalised targets (norm_pix), the decoder predicts each hidden patch's *shape* (where the stroke
# runs) in the patch's own units, not its brightness or contrast. To draw it, those two numbers have to come from
# somewhere: the epoch rows take them from the **visible** patches of the same digit, so the picture uses nothing
# hidden and shows what the model predicts. The second-last row borrows each hidden patch's **true** mean and
# standard deviation from the answer: only the shape is predicted there, and the picture looks much better than
# the prediction is. MAE's own figures avoid the question with a model trained on raw pixels (norm_pix off).
# Scored on the hidden pixels of 256 test digits, next to the baselines of the section above:

# %%
generator = lambda: torch.Generator(device=DEVICE).manual_seed(0)
on_256 = digits256.to(DEVICE)
predicted = mae.reconstruction(on_256, generator())  # statistics="visible": nothing hidden used
hidden_pixels = predicted["mask"]
honest = predicted["masked_mse"]
borrowed_error = mae.reconstruction(on_256, generator(), statistics="true")["masked_mse"]
blur = hidden_mse(fill_from_neighbours(on_256, hidden_pixels), on_256, hidden_pixels)
grey = hidden_mse(torch.full_like(on_256, 0.5), on_256, hidden_pixels)
print(f"hidden-pixel MSE at mask ratio {mae.options.mask_ratio}, 256 test digits, the same masks for every row:")
print(f"  {honest:.4f}  MAE, drawn with the visible patches' mean and std (its prediction)")
print(f"  {borrowed_error:.4f}  MAE, drawn with each hidden patch's true mean and std (borrowed from the answer)")
print(f"  {blur:.4f}  5x5 blur of the visible pixels (no learning)")
print(f"  {grey:.4f}  every hidden pixel grey (0.5)")
print(f"as a painter, the norm_pix MAE {'beats' if honest < blur else 'does not beat'} a blur of the visible pixels; "
      f"borrowing the true statistics divides its error by {honest / borrowed_error:.0f}")

# %% [markdown]
# So the pretty picture of a norm_pix MAE owes most of its quality to statistics it never predicted. That is not a
# flaw of the method: the normalised target was chosen for the *features*, not for the picture (MAE's paper reports
# that it improves the fine-tuned accuracy), and the encoder is what we keep.
#
# **Mask tokens are told apart only by position.** Every hidden patch enters the decoder as the same learned
# `mask_token`; the decoder's position vectors are what make them differ. Remove them (set to zero, on the trained
# decoder) and every hidden patch of a digit gets the very same prediction:

# %%
from ssl_helpers.mae import random_masking

decoder = mae.head.eval()
with torch.no_grad():
    ids_keep, hidden, ids_restore = random_masking(len(show), mae_encoder.num_tokens, mae.options.mask_ratio,
                                                   torch.Generator().manual_seed(0))
    latent = mae_encoder.eval().forward_visible(show, ids_keep.to(DEVICE))
    with_positions = decoder(latent, ids_restore.to(DEVICE))
    kept = decoder.positions.clone()
    decoder.positions.zero_()
    without_positions = decoder(latent, ids_restore.to(DEVICE))
    decoder.positions.copy_(kept)


def spread_over_hidden(prediction):
    """The largest difference between the predictions of two hidden patches of the same image."""
    return max(float((out[h == 1] - out[h == 1][:1]).abs().max()) for out, h in zip(prediction.cpu(), hidden))


print(f"largest difference between two hidden patches' predictions (normalised units): with positions "
      f"{spread_over_hidden(with_positions):.3f}, without {spread_over_hidden(without_positions):.3f}")

# %% [markdown]
# ## The baseline: grey patches, a CNN repaints the whole image
#
# `MaskedTask` (from `ssl_helpers.pretext`) greys out patches and asks the course's CNN, with a small convolutional
# decoder, to repaint the image; its loss is also on hidden pixels only, but the encoder sees every position, grey
# ones included, so it pays for all tokens and learns on inputs that never occur at test time.
#
# Each batch draws its patch size from every size the mask explorer offers for a CNN (printed below), so that
# whatever `MaskExplorer(cnn_task, cnn_encoder, ...)` shows is a size the CNN was trained on.

# %%
from ssl_helpers.widgets.masking import patch_sizes

cnn_task = pretext.MaskedTask(mask_ratio=0.5, patch_size=4 if not FULL_RUN else 8,
                              patch_sizes=patch_sizes(train.images.shape[-1]))  # the explorer's slider
seed_everything(run_seed(0))
cnn_encoder = make_cnn().to(DEVICE)
cnn_encoder, cnn_history = pretrain(cnn_task, train.images, encoder=cnn_encoder, epochs=CNN_EPOCHS, seed=run_seed(0),
                                    device=DEVICE, **run_options(cnn_task.name, FULL_RUN))
log.measure("grey-patch CNN final loss", cnn_history["loss"].iloc[-1])
print(f"grey-patch CNN: mask ratio {cnn_task.mask_ratio}, patch sizes {cnn_task.trained_patch_sizes()} px (one "
      f"per batch), {CNN_EPOCHS} epochs; loss {cnn_history['loss'].iloc[0]:.4f} -> {cnn_history['loss'].iloc[-1]:.4f}")
pretext.show_predictions(cnn_task, cnn_encoder, test.images[:10].to(DEVICE), title="grey-patch CNN (test digits)")
plt.show()

# %% [markdown]
# ## Scoring: frozen linear probe and fine-tuning, against pixels, a random ViT and the same ViT from scratch
#
# The course protocol (`ssl_helpers.protocol.run_protocol`): labels drawn from the fit part of train (5 seeded
# draws, the same for every row), every setting chosen on the validation split for each row and each number of labels
# per class among the same number of candidates (7), the test split scored once:
# - **linear** / **knn**: the frozen encoder's features (C, or the number of neighbours k, chosen on validation);
# - **fine-tune** (LP-FT): the network starts as the frozen encoder plus its tuned linear probe, then encoder and head
#   train together, BatchNorm statistics frozen; the learning rate and number of steps are chosen on validation
#   among the same ones as from scratch (per architecture), and 0 steps (the probe itself) is one of the candidates,
#   so on validation fine-tuning can only tie or beat the probe. That grid takes minutes on a CPU, so the fine-tune
#   rows are read from this notebook's shipped runs (`scripts/notebook_runs.py` ran it 3 times with the same code
#   and seeds, `FULL_RUN` computes them here), not from the encoders just trained;
# - **ViT from scratch**: the same ViT, randomly initialised, trained on the same labels, its learning rate and
#   steps chosen on validation among 7 candidates too (`scripts/tune_baselines.py` trained all of them once, which
#   takes minutes, and ships the result: read here);
# - **random ViT** / **random encoder**: the same ViT and the same CNN with random weights, frozen;
# - **pixels**: logistic regression on raw pixels.

# %%
import pandas as pd
from ssl_helpers.protocol import baseline_summary, load_results, random_encoder, run_protocol
from ssl_helpers.seeds import scripted, shipped_runs, with_shipped_runs
from ssl_helpers.transfer import leaderboard

randoms = {"random ViT": random_encoder(mae_encoder.config, seed=run_seed(0)),
           "random encoder": random_encoder(cnn_encoder.config, seed=run_seed(0))}
encoders = {"mae": mae_encoder.eval(), "masked": cnn_encoder.eval()}
probed = run_protocol({**randoms, **encoders}, fit, validation, test, shots=SHOTS, seeds=SEEDS, device=DEVICE).table
probed = with_shipped_runs(probed, NOTEBOOK, "probes", shipped=not FULL_RUN)  # + the shipped runs 1 and 2
if FULL_RUN or scripted():  # fine-tuning at the full training budget (the random CNN too, for the section below)
    fine_tuned = run_protocol({**encoders, "random CNN": randoms["random encoder"]}, fit, validation, test,
                              shots=SHOTS, seeds=SEEDS, pixels=False, probes=("linear",),
                              fine_tune=["mae", "masked", "random CNN"], device=DEVICE).table
    fine_tuned = with_shipped_runs(fine_tuned, NOTEBOOK, "fine_tune", shipped=False)
else:  # runs 0, 1 and 2, as shipped (the linear rows they started from included)
    fine_tuned = shipped_runs(NOTEBOOK, "fine_tune")
fine_tuned["method"] = fine_tuned["method"].replace({"masked": "grey-patch CNN"})
if FULL_RUN:  # the shipped ViT-from-scratch table is the CPU tier's: tune and score it here
    vit_scratch = run_protocol({}, fit, validation, test, shots=SHOTS, seeds=SEEDS, pixels=False,
                               scratch={"ViT from scratch": mae_encoder.config}, device=DEVICE).table
else:
    vit_scratch = load_results("from_scratch_vit")
tuned_rows = fine_tuned[fine_tuned["probe"] == "fine-tune"]
LIVE = settings().run  # the run this execution trained: 0, or 1, 2 under scripts/notebook_runs.py
table = pd.concat([probed, tuned_rows[tuned_rows["method"] != "random CNN"], vit_scratch.assign(run=LIVE)],
                  ignore_index=True)
table["method"] = table["method"].replace({"masked": "grey-patch CNN"})
board = leaderboard(table[table["run"] == LIVE].drop(columns="run"), sort_by=SHOTS[-1])
print("test accuracy (%), mean over seeds (run 0: the encoders trained above; fine-tune rows: shipped run 0):")
print(board.to_string())
print(baseline_summary(table[table["run"] == LIVE]))
plot_label_efficiency(table[table["run"] == LIVE],
                      title="MAE vs the grey-patch CNN, pixels, a random ViT and the ViT from scratch")
plt.show()

# %% [markdown]
# Each comparison below is the course's verdict rule (`ssl_helpers.verdicts`): 3 pre-training runs of a row (the
# random ViT: 3 initialisation seeds), each averaged over the 5 draws; pixels and from scratch are constants;
# Student's t with p ≥ 0.05 is **a tie**; each line's ± says what it covers.

# %%
means = board.set_index(["method", "probe"])
verdicts = {}
for k in SHOTS:
    print(f"{k} label(s) per class:")
    for bar, probe, rows in (("ViT from scratch", "end-to-end", table), ("random ViT", "linear", table),
                             ("pixels", "linear", table), ("mae", "linear", fine_tuned)):  # the same encoders
        verdicts[(k, bar)] = log.verdict(rows, "mae", bar, "fine-tune", k, probe_b=probe, paired=bar == "mae")
        print("  ", verdicts[(k, bar)].text)
aim = [k for k in (1, 5) if k in SHOTS]
missed = {(k, bar): verdicts[(k, bar)] for k in aim for bar in ("ViT from scratch", "pixels")
          if verdicts[(k, bar)].tie or verdicts[(k, bar)].mean < 0}
if not missed:
    print(f"aim met: the fine-tuned MAE is ahead of both the ViT from scratch and the pixels, beyond the spread, at "
          f"{aim} labels per class")
else:
    print("aim not met at " + "; ".join(f"{k} labels/class against {bar} ({d.kind if d.tie else 'behind'})"
                                        for (k, bar), d in missed.items()))

# %% [markdown]
# ### The grey-patch CNN against the same CNN with random weights
#
# A CNN has locality built in: every feature looks at a small window of pixels, whatever its weights, and that
# alone may make good features for small centred digits. So the bar for the grey-patch pre-training is the **same
# CNN with random weights** (the table's "random encoder"), frozen and fine-tuned; and the **ViT with random
# weights** (no locality built in) shows what the architecture alone is worth. The table holds both frozen; this
# cell adds the random CNN fine-tuned by the same protocol (the same draws, its steps chosen on validation; shipped
# like the other fine-tune rows) and compares the rows run by run.

# %%
cnn_rows = pd.concat([table.replace({"method": {"random encoder": "random CNN"}}),
                      tuned_rows[tuned_rows["method"] == "random CNN"]], ignore_index=True)
shown = cnn_rows[cnn_rows["method"].isin(["grey-patch CNN", "random CNN", "random ViT"]) & (cnn_rows["run"] == LIVE)]
print(leaderboard(shown.drop(columns="run"), sort_by=SHOTS[-1]).to_string())
for probe in ("linear", "knn", "fine-tune"):
    print("\n".join(log.compare(cnn_rows, "grey-patch CNN", "random CNN", probe, k) for k in SHOTS))
print("\n".join(log.compare(cnn_rows, "random CNN", "random ViT", "linear", k) for k in SHOTS))

# %% [markdown]
# **Reading the numbers** (the table and the lines just above):
#
# - *What pre-training adds to the ViT.* The bars are the same ViT trained from scratch on the same labels, with
#   its learning rate and steps chosen on validation among as many candidates as every other row, and the same ViT
#   with random weights, frozen. A transformer has no built-in notion of locality, so from a handful of labelled
#   images it learns slowly; the MAE's pre-training gives it structure from unlabelled images. How much is left of
#   that against a tuned baseline is the "ahead by x ± y" or "a tie" of the lines above, per number of labels: read
#   those, not the gap of the means.
# - *Raw pixels are a strong baseline on 8x8 digits upsampled to 16 px*: the images are small, centred and clean.
#   The last line above says whether the fine-tuned MAE is ahead of both bars, beyond the spread, at 1 and 5 labels
#   per class.
# - *Linear probe vs fine-tuning.* MAE's published signature is a large gap in favour of fine-tuning (ViT-L on
#   ImageNet: about 10 points). Here fine-tuning starts from the tuned probe and its number of steps is chosen on
#   validation, 0 steps included, so it ties or beats the probe on validation by construction; the "mae (fine-tune)
#   vs mae (linear)" lines say what it gains on test. Where that is a tie, the reason is the scale: a 64-dimensional
#   ViT of 4 blocks over 16 tokens, pre-trained on the digits' train split for well under a minute, has features that
#   a linear classifier already reads about as well as a few dozen fine-tuning steps on a few labels can improve
#   them; MAE's gap comes from large ViTs (hundreds of millions of parameters, 196 tokens, hundreds of epochs on
#   ImageNet) whose pixel-level features keep far more than the class. `FULL_RUN = True` (CIFAR-10, 64 tokens, a wider
#   ViT) is the setting to look for it.
# - *The grey-patch CNN against random weights* (the section just above). Repainting grey patches added little to
#   the same CNN with random weights: frozen, the grey-patch CNN is ahead by 2 to 4 points with 1 label per class
#   (linear and kNN) and ties at 5 and 10; fine-tuned, the two tie at every count (the verdicts over 3 runs each).
#   What makes a CNN good on these digits is its architecture: with random weights it is far ahead of a ViT
#   with random weights (the last lines). The ViT has to learn its locality from data, which is what MAE's
#   pre-training gives it (its rows in the table). The grey-patch CNN
#   also pays for every token, grey ones included, and learns on inputs that never occur at test time.

# %% [markdown]
# ## Saving the encoders
#
# The transfer-learning notebook loads both checkpoints (`ssl_helpers.methods.load_or_pretrain` trains a quick one
# when a file is missing).

# %%
for name, method, encoder, epochs, label in (("mae", mae, mae_encoder, MAE_EPOCHS, "mae"),
                                             ("masked", cnn_task, cnn_encoder, CNN_EPOCHS, "grey-patch CNN")):
    metrics = {f"{probe}_{k}": float(means.loc[(label, probe), k]) for probe in ("linear", "fine-tune") for k in SHOTS}
    if settings().run == 0:  # this notebook's other runs (scripts/notebook_runs.py) leave the checkpoints alone
        path = save_method(method, metrics=metrics, extra={"epochs": epochs, "data": DATA})
        print(f"saved {path}")

# %% [markdown]
# ## Explore: the mask ratio, on the MAE and on the grey-patch CNN
#
# The error on the hidden pixels (masked MSE) on 256 test digits, three seeded masks each: the MAE (its 4 px
# patches, drawn from the visible patches only) and the grey-patch CNN (at 4 px too) by mask ratio; then the CNN,
# which was trained on every patch size its explorer offers, by patch size at its training ratio.

# %%
from ssl_helpers.widgets.masking import mask_and_reconstruct


def hidden_error(model, encoder, ratio, size, images=test.images[:256].to(DEVICE)):
    """Masked MSE (hidden pixels only) of a masked model on `images`, mean over 3 seeded masks."""
    return sum(mask_and_reconstruct(model, encoder, images, ratio, size, seed)["masked_mse"] for seed in range(3)) / 3


ratios = (0.25, 0.5, 0.75)
mae_by_ratio = {r: hidden_error(mae, mae_encoder, r, mae.options.patch_size) for r in ratios}
cnn_by_ratio = {r: hidden_error(cnn_task, cnn_encoder, r, cnn_task.patch_size) for r in ratios}
by_size = {size: hidden_error(cnn_task, cnn_encoder, cnn_task.mask_ratio, size)
           for size in cnn_task.trained_patch_sizes()}
print(f"masked MSE by mask ratio, {mae.options.patch_size} px patches:")
print("  MAE (trained at ratio {}):           ".format(mae.options.mask_ratio)
      + ", ".join(f"{r} {e:.4f}" for r, e in mae_by_ratio.items()))
print("  grey-patch CNN (trained at ratio {}): ".format(cnn_task.mask_ratio)
      + ", ".join(f"{r} {e:.4f}" for r, e in cnn_by_ratio.items()))
print(f"grey-patch CNN by patch size at ratio {cnn_task.mask_ratio}: "
      + ", ".join(f"{s} px {e:.4f}" for s, e in by_size.items())
      + f"; easiest {min(by_size, key=by_size.get)} px, hardest {max(by_size, key=by_size.get)} px")
maps = cnn_encoder.feature_maps(test.images[:1].to(DEVICE)).shape[-2:]
print(f"the CNN's decoder repaints the {test.images.shape[-1]} px image from a {maps[0]}x{maps[1]} feature map")

# %% [markdown]
# Reading the lines above: for the CNN, more hidden pixels (a higher ratio) mean a larger error. The grey-patch CNN
# paints the hidden pixels far better than the MAE's norm_pix prediction: it was trained on raw pixels, and its
# decoder sees every position, grey ones included; the MAE was trained to predict each patch's shape, not its
# brightness, which it has to borrow from the visible patches to be drawn at all (the pictures above). Painting
# well and giving features that classify well are different goals (compare the probe table). For the CNN, the
# **largest patches are the hardest**: the largest (half the image's side) hides a quarter of the digit in one
# piece, and its middle is far from any visible pixel. The smallest is not automatically the easiest: the CNN
# repaints the whole image from a coarse feature map (its size is printed), so pixel-fine detail has to squeeze
# through it; the "easiest" entry says which size wins.
#
# Move the sliders: the MAE's mask ratio and the seed of the mask (its patch size is its ViT's, so that slider is
# fixed). The rows are the masked input, the prediction (pasted into the hidden patches, the visible pixels kept)
# and the target; the picture's first line gives the masked MSE of the digits shown, the second the ratio the MAE
# was trained at. `MaskExplorer(cnn_task, cnn_encoder, test.images[:8])` explores the grey-patch CNN the same way,
# with a patch-size slider.

# %%
from ssl_helpers.widgets.masking import MaskExplorer

explorer = MaskExplorer(mae, mae_encoder, test.images[:8].to(DEVICE), mask_ratio=mae.options.mask_ratio)
explorer

# %% [markdown]
# ## Takeaways
#
# - MAE: hide most patches, encode **only the visible ones** with a ViT, let a light decoder with mask tokens
#   predict the hidden patches, score only those. Skipping the hidden tokens makes the encoder cheaper per step, by
#   the factor measured above.
# - The ViT pieces it rests on: a linear embedding of each patch, position vectors added to it (the only thing that
#   tells the decoder's identical mask tokens apart, measured above), and a high masking ratio because images are
#   redundant (a blur of the visible pixels fills a low ratio well, measured above).
# - The decoder is a throwaway tool; the encoder is the product, judged by the same protocol as every method. With
#   a per-patch normalised target, a reconstruction picture drawn with the hidden patches' true statistics is
#   borrowed from the answer: draw it from the visible patches (or train on raw pixels) to see the prediction.
# - Judge an MAE by fine-tuning as well as by a frozen probe: at scale its features are read far better fine-tuned;
#   how large that gap is for this tiny ViT, and whether it beats pixels and a ViT from scratch, is printed above.
# - Judge a pre-training against the same network with random weights: a CNN's locality is worth a lot on its own,
#   and here repainting grey patches added little to it (a few points with 1 label per class, frozen; no more).
# - Notebook 3 tries tasks that predict *what was done* to the image instead of the pixels.
