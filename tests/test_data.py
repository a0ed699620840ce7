"""The data module: the embedded digits, the colour-nuisance variant, the fixed split, labeled subsets."""
import pytest
import torch

from ssl_helpers.data import (VALIDATION_FRACTION, ImageSet, colourise, labeled_subset, load_colour_digits,
                              load_dataset, load_digits, stratified_split, validation_split)


def test_digits_are_the_1797_real_images_in_a_fixed_split(digits):
    train, test = digits
    assert len(train) + len(test) == 1797
    assert (len(train), len(test)) == (1258, 539)
    assert train.images.shape[1:] == (3, 16, 16) and train.images.dtype == torch.float32
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) <= 1.0
    assert train.classes == [str(d) for d in range(10)]
    assert set(train.labels.tolist()) == set(range(10)) == set(test.labels.tolist())


def test_split_is_stratified_and_disjoint():
    labels = torch.arange(10).repeat_interleave(20)
    train, test = stratified_split(labels, test_fraction=0.3, seed=0)
    assert set(train.tolist()).isdisjoint(test.tolist())
    assert len(train) + len(test) == 200
    assert torch.bincount(labels[test]).tolist() == [6] * 10


def test_split_is_the_same_every_time():
    a_train, a_test = load_digits()
    b_train, b_test = load_digits()
    assert torch.equal(a_train.images, b_train.images) and torch.equal(a_test.labels, b_test.labels)


def test_validation_split_is_a_fixed_stratified_part_of_train(digits):
    train, test = digits
    fit, validation = validation_split(train)
    assert len(fit) + len(validation) == len(train) and fit.name == "digits/fit"
    expected = [round(VALIDATION_FRACTION * n) for n in torch.bincount(train.labels).tolist()]
    assert torch.bincount(validation.labels).tolist() == expected
    # disjoint and within train: every train image lands in exactly one part (the digits have no duplicates
    # within train; compare flattened images as rows)
    rows = lambda s: {tuple(x.tolist()) for x in s.images[:, 0].flatten(1)}  # noqa: E731
    assert rows(fit).isdisjoint(rows(validation)) and rows(fit) | rows(validation) == rows(train)
    assert rows(validation).isdisjoint(rows(test))
    again, _ = validation_split(train)
    assert torch.equal(again.images, fit.images) and torch.equal(again.labels, fit.labels)
    other, _ = validation_split(train, seed=1)
    assert not torch.equal(other.labels, fit.labels) or not torch.equal(other.images, fit.images)


def test_validation_split_errors(digits):
    with pytest.raises(TypeError, match="train must be an ImageSet"):
        validation_split(digits[0].images)
    with pytest.raises(ValueError, match=r"fraction \(the validation share of train\) must be in \(0, 1\), got 1.0"):
        validation_split(digits[0], fraction=1.0)


def test_image_size_is_a_choice():
    train, _ = load_digits(image_size=32)
    assert train.images.shape[1:] == (3, 32, 32)
    native, _ = load_digits(image_size=8)
    assert native.images.shape[1:] == (3, 8, 8)


def test_grey_digits_have_equal_channels(digits):
    images = digits[0].images
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])


def test_colour_digits_are_the_same_digits_in_random_colours(digits):
    train, test = load_colour_digits(seed=0)
    assert torch.equal(train.labels, digits[0].labels) and len(test) == len(digits[1])
    # colour varies between images: the per-image mean colour has a real spread
    assert train.images.mean(dim=(2, 3)).std(0).min() > 0.1
    # and the channels differ inside an image, unlike the grey digits
    assert (train.images[:, 0] - train.images[:, 1]).abs().mean() > 0.05


def test_colour_digits_are_deterministic_from_the_seed():
    a, _ = load_colour_digits(seed=3)
    b, _ = load_colour_digits(seed=3)
    c, _ = load_colour_digits(seed=4)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)


def test_colourise_paints_foreground_and_background():
    grey = torch.zeros(5, 1, 4, 4)
    grey[:, :, :2] = 1.0  # top half is "ink"
    images, foreground, background = colourise(grey, seed=1)
    assert torch.allclose(images[:, :, 0, 0], foreground) and torch.allclose(images[:, :, 3, 3], background)
    luma = torch.tensor([0.299, 0.587, 0.114])
    assert ((foreground - background) @ luma >= 0.3).all()  # the stroke stays brighter than the background
    with pytest.raises(ValueError, match=r"grey must have shape \(N, 1, H, W\)"):
        colourise(torch.zeros(5, 3, 4, 4))


@pytest.mark.parametrize("per_class", [1, 5, 10, 50])
def test_labeled_subset_has_exactly_k_per_class(digits, per_class):
    labels = digits[0].labels
    subset = labeled_subset(labels, per_class, seed=0)
    assert torch.bincount(labels[subset], minlength=10).tolist() == [per_class] * 10
    assert len(torch.unique(subset)) == len(subset)


def test_labeled_subset_is_seeded(digits):
    labels = digits[0].labels
    assert torch.equal(labeled_subset(labels, 5, seed=1), labeled_subset(labels, 5, seed=1))
    assert not torch.equal(labeled_subset(labels, 5, seed=1), labeled_subset(labels, 5, seed=2))


def test_all_labels(digits):
    labels = digits[0].labels
    assert torch.equal(labeled_subset(labels, "all"), torch.arange(len(labels)))
    assert torch.equal(labeled_subset(labels, None), torch.arange(len(labels)))


def test_labeled_subset_larger_than_a_class_is_a_clear_error(digits):
    labels = digits[0].labels
    smallest = int(torch.bincount(labels).min())
    with pytest.raises(ValueError, match=r"per_class=200 is larger than class \d, which has only \d+ examples"):
        labeled_subset(labels, 200)
    labeled_subset(labels, smallest)  # the largest possible size works


@pytest.mark.parametrize("bad", [0, -1, 2.5, "some", True])
def test_labeled_subset_rejects_bad_sizes(digits, bad):
    with pytest.raises(ValueError, match="per_class must be a positive integer or 'all'"):
        labeled_subset(digits[0].labels, bad)


def test_unknown_dataset_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown dataset name 'mnist'; expected one of \['cifar10', "):
        load_dataset("mnist")


def test_aliases_load_the_same_data():
    a, _ = load_dataset("color_digits")
    b, _ = load_dataset("colour_digits")
    assert torch.equal(a.images, b.images)


def test_image_set_checks_shapes_and_makes_subsets(digits):
    train = digits[0]
    small = train.subset([0, 5, 7])
    assert len(small) == 3 and torch.equal(small.labels, train.labels[[0, 5, 7]])
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\)"):
        ImageSet(torch.zeros(4, 16, 16), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        ImageSet(torch.zeros(4, 3, 8, 8), torch.zeros(3, dtype=torch.long))
    assert "per class" in repr(train)
