"""Builds notebooks/03_augmented_rotation_jigsaw.ipynb. Run: .venv/bin/python notebooks/src/build_03_augmented_rotation_jigsaw.py"""
from notebook_tools import code, md, new_notebook, save
import pretext_cells

FILENAME = "03_augmented_rotation_jigsaw.ipynb"
nb = new_notebook(
    FILENAME,
    "3. Self-prediction: which transformation? Rotation and jigsaw",
    budget="about 60 s on 2 CPU cores with the default settings (two short pre-trainings and the probes)",
    intro="""
Notebook 2 predicted hidden *pixels*. Here the network predicts **what was done to the image**, a label that
costs nothing because we did it ourselves:

- **Rotation** (Gidaris et al. 2018): turn the image by 0, 90, 180 or 270 degrees; predict which (4 classes).
  To know which way is up, the network has to know what an upright object looks like.
- **Jigsaw** (Noroozi & Favaro 2016): cut the image into tiles, shuffle them by one of a fixed set of
  permutations, predict which permutation (here 2 x 2 tiles: all 24 orders). To put parts in order, the
  network has to know the parts.

No decoder: the head is one linear layer on the encoder's pooled features, trained with cross-entropy.
""",
)
nb.cells += pretext_cells.settings(epochs=6)
nb.cells += [
    md("""## The corruptions, and why their labels are free

`rotate(images, k)` turns each image by `90 * k` degrees counter-clockwise (`torch.rot90`); `random_rotation`
draws `k` in 0..3 per image and returns it as the label. `shuffle_tiles(images, permutations)` rearranges the
tiles so that output tile `t` is input tile `perm[t]`; `random_jigsaw` draws one of the fixed permutations per
image and returns its index. Both are invertible, which the tests check: `rotate(rotated, -k)` and
`unshuffle_tiles(shuffled, permutations[label])` give back the original."""),
    code('''rotation, jigsaw = pretext.RotationTask(), pretext.JigsawTask(grid=2)
print("jigsaw classes:", jigsaw.num_classes, "permutations, e.g.", jigsaw.permutations[:4].tolist())
examples = test.images[:8]
generator = torch.Generator().manual_seed(0)
rotated, k = pretext.random_rotation(examples, generator)
shuffled, which = pretext.random_jigsaw(examples, jigsaw.permutations, generator)
fig, axes = plt.subplots(3, 8, figsize=(9, 3.6))
for i in range(8):
    for row, (image, title) in enumerate([(examples[i], "original"), (rotated[i], f"{90 * int(k[i])} deg"),
                                          (shuffled[i], f"perm {int(which[i])}")]):
        axes[row, i].imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[row, i].set_title(title, fontsize=8)
        axes[row, i].axis("off")
fig.tight_layout()
plt.show()'''),
    md("""## Before training: guessing

An untrained head guesses: about 1 in 4 rotations and 1 in 24 permutations right (titles: true -> predicted)."""),
    code('''encoders = {}
for task in (rotation, jigsaw):
    seed_everything(0)
    encoders[task.name] = make_encoder().to(DEVICE)
    task.build_head(encoders[task.name], tuple(train.images.shape[1:]))
    pretext.show_predictions(task, encoders[task.name], test.images[:8].to(DEVICE), title=f"{task.name}, before")
plt.show()'''),
    md("""## Pre-training both with the course's training loop

Each step: corrupt a batch (a random rotation or permutation per image), predict the label, cross-entropy. The
same `pretext.pretrain` as in notebook 2 calls `ssl_helpers.train.fit`."""),
    code('''histories = {}
for task in (rotation, jigsaw):
    encoders[task.name], histories[task.name] = pretext.pretrain(
        task, train.images, encoder=encoders[task.name], epochs=EPOCHS, seed=0, device=DEVICE, progress=False)
    print(task.name, "loss per epoch:", histories[task.name]["loss"].round(3).tolist())'''),
    code('''for task in (rotation, jigsaw):
    pretext.show_predictions(task, encoders[task.name], test.images[:8].to(DEVICE), title=f"{task.name}, after")
plt.show()
with torch.no_grad():  # pretext accuracy on the whole test split
    for task in (rotation, jigsaw):
        result = pretext.predictions(task, encoders[task.name], test.images.to(DEVICE), seed=1)
        accuracy = (result["prediction"] == result["targets"]).float().mean().item()
        print(f"{task.name}: pretext accuracy on test digits {100 * accuracy:.1f}% (chance {100 / task.num_classes:.1f}%)")'''),
    md("""Both tasks are learned well above chance, so the encoders did learn *something* about digits."""),
]
nb.cells += pretext_cells.score('{name: encoder.cpu() for name, encoder in encoders.items()}',
                                "Rotation and jigsaw vs baselines (linear probe)")
nb.cells += [
    md("""**Reading the numbers.** Both tasks are solved far above chance, yet their features are clearly *worse*
for telling digits apart than a random network's or the raw pixels (the verdicts above). Why, on this data:

- *The pretext label is not the class.* The last layer learns what the task needs: for rotation, which way the
  strokes lean; for jigsaw, whether tile borders line up. Two different digits rotated the same way look alike
  to it. With 128 pooled features and a few epochs, the encoder throws away what does not help the pretext task.
- *Shortcuts.* A CNN that sees the whole shuffled image can solve jigsaw from low-level seams between tiles
  (Noroozi & Favaro leave gaps between tiles for this reason), and some digits (0, 1, 8) look much the same upside
  down, so rotation cannot be decided from the digit's identity for them anyway.
- *A random CNN is a strong baseline here*: at 16 px its features are nearly as good as pixels, and pre-training
  has to beat that, not zero.

On natural images (CIFAR-10, ImageNet) with deep networks and long training, rotation prediction does beat random
features by a wide margin: "which way is up" is a much stronger cue for a photo of a dog than for a digit."""),
]
nb.cells += pretext_cells.save('{name: (task, encoders[name]) for name, task in (("rotation", rotation), ("jigsaw", jigsaw))}')
nb.cells += [
    md("""## Takeaways

- Predicting *what was done* to an image needs no decoder: a linear head and cross-entropy.
- The label is free, and the task is learnable, but being good at the pretext task is not the same as having
  features that separate classes: here both tasks give features below the baselines (table above).
- A pretext task helps only if solving it requires the information the downstream task needs, and has no
  shortcut. Notebook 4 tries obscured and perturbed inputs; notebook 5 changes the question altogether: which
  images belong together?"""),
]
save(nb, FILENAME)
print("wrote", FILENAME)
