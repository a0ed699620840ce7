"""ssl_helpers.augment: every batched op equals torchvision's functional op image by image, with the same
per-image parameters; random draws are reproducible from a generator and independent across images."""
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from ssl_helpers import augment as A

ATOL = 1e-5


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 3, 12, 14, generator=g)


def per_image(reference, x, params):
    """Apply torchvision's op to each image with its own parameters and stack."""
    return torch.stack([reference(image, p) for image, p in zip(x, params)])


def test_resized_crop_matches_torchvision_for_integer_boxes(batch):
    boxes = torch.tensor([[0, 0, 12, 14], [2, 3, 5, 7], [1, 6, 10, 8], [4, 0, 8, 4], [0, 9, 3, 5], [5, 5, 7, 9]],
                         dtype=torch.float32)
    ours = A.resized_crop(batch, boxes, (9, 11))
    ref = per_image(lambda im, b: TF.resized_crop(im, *[int(v) for v in b], size=[9, 11], antialias=False),
                    batch, boxes)
    torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


def test_resized_crop_rotation_and_shear():
    x = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    full = torch.tensor([[0.0, 0.0, 10.0, 10.0]]).expand(2, 4)
    torch.testing.assert_close(A.resized_crop(x, full, 10, angles=torch.zeros(2), shears=torch.zeros(2)), x,
                               atol=ATOL, rtol=0)
    quarter_turns = A.resized_crop(x, full, 10, angles=torch.tensor([90.0, -90.0]))
    torch.testing.assert_close(quarter_turns[0], torch.rot90(x[0], 1, (1, 2)), atol=ATOL, rtol=0)
    torch.testing.assert_close(quarter_turns[1], torch.rot90(x[1], -1, (1, 2)), atol=ATOL, rtol=0)
    # a 45-degree slant samples row r (counted from the centre row) r pixels to the right
    y = torch.rand(1, 3, 9, 9, generator=torch.Generator().manual_seed(1))
    slanted = A.resized_crop(y, torch.tensor([[0.0, 0.0, 9.0, 9.0]]), 9, shears=torch.tensor([45.0]))
    torch.testing.assert_close(slanted[..., 4, :], y[..., 4, :], atol=ATOL, rtol=0)
    torch.testing.assert_close(slanted[..., 6, :7], y[..., 6, 2:], atol=ATOL, rtol=0)
    torch.testing.assert_close(slanted[..., 1, 3:], y[..., 1, :6], atol=ATOL, rtol=0)


def test_hflip_only_where_asked(batch):
    flip = torch.tensor([True, False, True, False, False, True])
    ours = A.hflip(batch, flip)
    ref = torch.stack([TF.horizontal_flip(im) if f else im for im, f in zip(batch, flip)])
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("ours, reference, params", [
    (A.adjust_brightness, TF.adjust_brightness, [0.2, 0.9, 1.0, 1.3, 1.8, 0.0]),
    (A.adjust_contrast, TF.adjust_contrast, [0.2, 0.9, 1.0, 1.3, 1.8, 0.0]),
    (A.adjust_saturation, TF.adjust_saturation, [0.2, 0.9, 1.0, 1.3, 1.8, 0.0]),
    (A.adjust_hue, TF.adjust_hue, [-0.5, -0.2, 0.0, 0.05, 0.3, 0.5]),
])
def test_colour_ops_match_torchvision(batch, ours, reference, params):
    out = ours(batch, torch.tensor(params))
    torch.testing.assert_close(out, per_image(reference, batch, params), atol=ATOL, rtol=0)


def test_hue_on_grey_pixels_and_pure_colours_is_exact():
    x = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [0, 0, 0]]).T.reshape(1, 3, 1, 5)
    torch.testing.assert_close(A.adjust_hue(x, 1 / 3), TF.adjust_hue(x[0], 1 / 3)[None], atol=ATOL, rtol=0)


def test_grayscale_matches_torchvision(batch):
    torch.testing.assert_close(A.rgb_to_grayscale(batch), TF.rgb_to_grayscale(batch), atol=ATOL, rtol=0)


def test_gaussian_blur_matches_torchvision_per_image_sigma(batch):
    sigmas = [0.1, 0.5, 1.0, 1.5, 2.0, 3.0]
    ours = A.gaussian_blur(batch, 5, torch.tensor(sigmas))
    ref = per_image(lambda im, s: TF.gaussian_blur(im, [5, 5], [s, s]), batch, sigmas)
    torch.testing.assert_close(ours, ref, atol=ATOL, rtol=0)


def test_noise_matches_torchvision_with_the_same_draw(batch):
    stds = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]
    ref = []
    for image, s in zip(batch, stds):
        torch.manual_seed(7)
        ref.append(TF.gaussian_noise(image, sigma=s))
    noise = []
    for image in batch:
        torch.manual_seed(7)
        noise.append(torch.randn_like(image))
    ours = A.add_noise(batch, torch.tensor(stds), noise=torch.stack(noise))
    torch.testing.assert_close(ours, torch.stack(ref), atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", sorted(A.PRESETS))
def test_presets_are_reproducible_from_a_generator(batch, name):
    augment = A.preset(name, 10)
    one = augment(batch, torch.Generator().manual_seed(3))
    two = augment(batch, torch.Generator().manual_seed(3))
    other = augment(batch, torch.Generator().manual_seed(4))
    assert one.shape == (6, 3, 10, 10)
    assert torch.equal(one, two)
    assert not torch.equal(one, other)
    assert one.min() >= 0 and one.max() <= 1


def test_parameters_are_drawn_independently_per_image():
    """The same image repeated 64 times gives 64 different views, unlike one torchvision call on the batch."""
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)).expand(64, -1, -1, -1)
    views = A.preset("simclr", 16)(image, torch.Generator().manual_seed(0)).flatten(1)
    distance = (views[:, None] - views[None]).abs().amax(-1)
    assert (distance + torch.eye(64)).min() > 1e-4  # every pair of distinct views differs
    boxes = A.sample_crop_boxes(1000, 32, 32, (0.08, 1.0), (3 / 4, 4 / 3), torch.Generator().manual_seed(0))
    area = boxes[:, 2] * boxes[:, 3] / 32 ** 2
    assert 0.08 - 1e-6 <= area.min() and area.max() <= 1 + 1e-6 and area.std() > 0.2
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 32 + 1e-4).all()


def test_probabilities_zero_and_one():
    x = torch.rand(8, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    identity = A.Augment(size=8, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0,
                         grayscale_p=0.0, blur_p=0.0)
    torch.testing.assert_close(identity(x, torch.Generator().manual_seed(0)), x, atol=ATOL, rtol=0)
    gray = identity.with_(grayscale_p=1.0)(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(gray, A.rgb_to_grayscale(x).expand_as(x), atol=ATOL, rtol=0)
    flipped = identity.with_(flip_p=1.0)(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(flipped, x.flip(-1), atol=ATOL, rtol=0)


def test_cpu_and_gpu_give_the_same_views_from_a_cpu_generator(batch):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    augment = A.preset("simclr", 10, noise_std=0.1)
    cpu = augment(batch, torch.Generator().manual_seed(0))
    gpu = augment(batch.cuda(), torch.Generator().manual_seed(0)).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=0)


@pytest.mark.parametrize("make, message", [
    (lambda: A.Augment(size=0), "size"),
    (lambda: A.Augment(crop_scale=(0.9, 0.1)), "crop_scale"),
    (lambda: A.Augment(jitter_p=1.5), "jitter_p"),
    (lambda: A.Augment(hue=0.7), "hue"),
    (lambda: A.Augment(brightness=-0.1), "brightness"),
    (lambda: A.preset("imagenet", 32), "unknown augmentation preset"),
    (lambda: A.resized_crop(torch.rand(2, 3, 8, 8), torch.zeros(3, 4), 4), "boxes"),
    (lambda: A.gaussian_blur(torch.rand(2, 3, 8, 8), 4, 1.0), "kernel_size"),
    (lambda: A.gaussian_blur(torch.rand(2, 3, 4, 4), 9, 1.0), "too large"),
    (lambda: A.adjust_brightness(torch.rand(2, 3, 8, 8), torch.ones(3)), "factor"),
    (lambda: A.adjust_hue(torch.rand(2, 1, 8, 8), 0.1), "3 channels"),
    (lambda: A.hflip(torch.rand(3, 8, 8), torch.ones(3, dtype=torch.bool)), "shape \\(N, C, H, W\\)"),
    (lambda: A.preset("simclr", 8)(torch.rand(2, 1, 8, 8)), "3-channel"),
])
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
