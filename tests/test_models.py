"""Encoders and heads: output shapes, the out_dim attribute, rebuilding from a config."""
import pytest
import torch

from ssl_helpers.models import LinearClassifier, ProjectionHead, ResNet18Cifar, SmallCNN, build_encoder


@pytest.mark.parametrize("size", [8, 16, 32])
def test_small_cnn_maps_images_to_out_dim_features(size):
    encoder = SmallCNN(in_channels=3, width=8)
    assert encoder.out_dim == 32
    assert encoder(torch.rand(5, 3, size, size)).shape == (5, 32)
    assert encoder.feature_maps(torch.rand(2, 3, 16, 16)).shape == (2, 32, 4, 4)


def test_resnet18_cifar_has_the_cifar_stem_and_512_features():
    encoder = ResNet18Cifar()
    assert encoder.out_dim == 512
    stem = encoder.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in encoder.modules())
    assert encoder(torch.rand(2, 3, 32, 32)).shape == (2, 512)
    assert sum(p.numel() for p in encoder.parameters()) == pytest.approx(11.17e6, rel=0.01)


def test_narrow_resnet_for_quick_runs():
    encoder = ResNet18Cifar(width=8)
    assert encoder.out_dim == 64 and encoder(torch.rand(2, 3, 16, 16)).shape == (2, 64)


def test_projection_head_and_linear_classifier():
    head = ProjectionHead(32, hidden_dim=16, out_dim=8)
    assert head.out_dim == 8 and head(torch.rand(4, 32)).shape == (4, 8)
    classifier = LinearClassifier(SmallCNN(width=4), num_classes=10)
    assert classifier.out_dim == 10 and classifier(torch.rand(3, 3, 16, 16)).shape == (3, 10)


def test_build_encoder_rebuilds_the_same_architecture():
    original = SmallCNN(in_channels=1, width=4)
    rebuilt = build_encoder(original.config)
    assert rebuilt.config == original.config
    rebuilt.load_state_dict(original.state_dict())  # same parameter names and shapes


def test_build_encoder_rejects_bad_configs():
    with pytest.raises(ValueError, match="unknown encoder arch 'transformer'"):
        build_encoder({"arch": "transformer"})
    with pytest.raises(ValueError, match="config must be a dict with an 'arch' key"):
        build_encoder({"width": 3})
    with pytest.raises(ValueError, match="in_channels and width must be positive"):
        SmallCNN(width=0)
