"""Pre-trained weights from elsewhere: torchvision's ImageNet ResNet-18, the supervised pre-training reference.

The weights come from torchvision's model hub (downloaded once into `$TORCH_HOME/hub/checkpoints`, about
45 MB). Offline and not cached, `imagenet_resnet18` raises `PretrainedUnavailableError` with the reason, so a
notebook can say it skipped this comparison and carry on.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PretrainedUnavailableError", "ImageNetResNet18", "imagenet_resnet18"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PretrainedUnavailableError(RuntimeError):
    """Pre-trained weights could not be loaded (offline and not cached, or a corrupt file)."""


class ImageNetResNet18(nn.Module):
    """torchvision's ResNet-18 up to its average pool, for small images.

    x: (N, 3, H, W) in [0, 1] -> resized to `input_size`, normalised with ImageNet's mean and std ->
    h: (N, 512). `config` records what it is; it is not rebuilt by `build_encoder` (its weights come from the hub).
    """

    def __init__(self, network: nn.Module, input_size: int = 64):
        super().__init__()
        network.fc = nn.Identity()
        self.network = network
        self.input_size = input_size
        self.out_dim = 512
        self.config = {"arch": "imagenet_resnet18", "input_size": input_size}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        return self.network((x - self.mean) / self.std)


def imagenet_resnet18(input_size: int = 64, progress: bool = False) -> ImageNetResNet18:
    """torchvision's ImageNet-1k ResNet-18 (weights IMAGENET1K_V1) as a frozen-feature encoder.

    Raises `PretrainedUnavailableError` when the weights are neither cached nor downloadable.
    """
    from torchvision.models import ResNet18_Weights, resnet18

    try:
        network = resnet18(weights=ResNet18_Weights.IMAGENET1K_V1, progress=progress)
    except Exception as error:  # URLError, socket errors, a corrupt cached file
        raise PretrainedUnavailableError(
            f"could not load torchvision's ImageNet ResNet-18 weights ({type(error).__name__}: {error}). "
            f"They download once from download.pytorch.org into $TORCH_HOME/hub/checkpoints; offline, "
            f"this comparison is skipped."
        ) from error
    return ImageNetResNet18(network, input_size).eval()
