"""ImageNet weights from torchvision's hub: loaded from the cache when present, a clear error when offline."""
import pytest
import torch
from torchvision.models import ResNet18_Weights, resnet18

from ssl_helpers.pretrained import PretrainedUnavailableError, imagenet_resnet18


def test_offline_without_cache_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    # make any download attempt fail immediately, as it does offline
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    with pytest.raises(PretrainedUnavailableError, match="could not load torchvision's ImageNet ResNet-18.*skipped"):
        imagenet_resnet18()


def test_cached_weights_are_loaded_and_give_512_features(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    reference = resnet18()  # stands in for the real weights: the test writes the cached file itself
    filename = ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(reference.state_dict(), cache / filename)
    encoder = imagenet_resnet18(input_size=32)
    assert torch.equal(encoder.network.conv1.weight, reference.conv1.weight)
    assert encoder.out_dim == 512 and encoder(torch.rand(2, 3, 16, 16)).shape == (2, 512)
    assert encoder(torch.rand(2, 1, 16, 16)).shape == (2, 512)  # grey input is repeated to 3 channels
