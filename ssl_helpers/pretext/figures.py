"""Showing a pretext task at work: corrupted inputs, the model's predictions and the targets, side by side."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..plots import image_grid
from ..methods.pretext_task import ClassificationTask

__all__ = ["predictions", "show_predictions", "check_built"]


def check_built(task, encoder=None):
    """The task, in eval mode, once it is ready to predict: built (`task.build(image_shape, encoder)` or trained
    by `pretrain`) and, if `encoder` is given, predicting through that very encoder (`task.encoder`)."""
    if task.encoder is None or task.head is None:
        raise RuntimeError(f"the {task.name} task has no encoder and head yet: call task.build(image_shape, "
                           f"encoder) or train it with ssl_helpers.methods.pretrain")
    if encoder is not None and encoder is not task.encoder:
        raise ValueError(f"encoder is not the {task.name} task's own encoder (task.encoder): a task predicts "
                         f"through the encoder it was built with; pass task.encoder or call task.build(image_shape, "
                         f"encoder)")
    return task.eval()


@torch.no_grad()
def predictions(task, encoder, images: torch.Tensor, seed: int = 0, **corrupt_options) -> dict:
    """Corrupt `images` (N, C, H, W) (seeded; options such as `mask_ratio` go to `task.corrupt`) and predict with
    the built task (`task.predict`, through `task.encoder`; `encoder` must be that encoder, or None).

    Returns {"inputs", "targets", "mask", "prediction", "loss"}. For reconstruction tasks with a mask,
    "shown" is the prediction inside the mask with the visible pixels pasted back (as in the MAE paper's
    figures), else the prediction itself; for classification tasks "prediction" holds the predicted classes.
    """
    check_built(task, encoder)
    inputs, targets, mask = task.corrupt(images, torch.Generator().manual_seed(seed), **corrupt_options)
    output = task.predict(inputs)
    result = {"inputs": inputs, "targets": targets, "mask": mask, "loss": float(task.loss(output, targets, mask))}
    if isinstance(task, ClassificationTask):
        result["prediction"] = output.argmax(1)
    else:
        result["prediction"] = output
        result["shown"] = output if mask is None else mask * output + (1 - mask) * targets
    return result


def show_predictions(task, encoder, images: torch.Tensor, seed: int = 0, title: str = "", class_names=None):
    """A figure of what the task asks and what the model answers, for a few images.

    Reconstruction: three rows, the corrupted input, the model's output, the target. Classification: the
    transformed inputs titled "true -> predicted" (class names from `class_names`, default the index).
    """
    result = predictions(task, encoder, images, seed)
    n = len(images)
    if isinstance(task, ClassificationTask):
        names = class_names or [str(i) for i in range(task.num_classes)]
        fig, axes = plt.subplots(1, n, figsize=(1.3 * n, 1.7), squeeze=False)
        for axis, image, true, guess in zip(axes[0], result["inputs"], result["targets"], result["prediction"]):
            axis.imshow(image.permute(1, 2, 0).clamp(0, 1).cpu().numpy(), interpolation="nearest")
            axis.set_title(f"{names[int(true)]} -> {names[int(guess)]}", fontsize=8,
                           color="green" if int(true) == int(guess) else "red")
            axis.axis("off")
        accuracy = float((result["prediction"] == result["targets"]).float().mean())
        fig.suptitle(f"{title}  (true -> predicted; {100 * accuracy:.0f}% right here)", fontsize=10)
    else:
        rows = torch.cat([result["inputs"], result["shown"], result["targets"]]).cpu()
        fig, axis = plt.subplots(figsize=(1.1 * n, 3.6))
        axis.imshow(image_grid(rows, ncols=n), interpolation="nearest")
        h = images.shape[-2] + 1
        axis.set_yticks([h * 0.5, h * 1.5, h * 2.5], ["input", "output", "target"])
        axis.set_xticks([])
        axis.set_title(f"{title}  (loss on these: {result['loss']:.4f})", fontsize=10)
    fig.tight_layout()
    return fig
