"""Notebook 04's exercises: the denoising corruption, the inpainting loss and the inpainting step. A correct student
written differently passes; each typical mistake, written here again as its own wrong implementation, is named."""

import pytest
import torch

from ssl_helpers.exercises.corruption import inpainting_step_exercise, masked_loss_exercise, noise_exercise
from ssl_helpers.pretext import DenoisingTask, masked_mse, noisy_images


def test_reference_noise_is_the_denoising_tasks_corruption():
    """The exercise's reference is what the course trains with: DenoisingTask.corrupt, bit for bit."""
    images = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    corrupted = DenoisingTask(noise_level=0.3).corrupt(images, torch.Generator().manual_seed(1))
    assert torch.equal(corrupted.inputs, noisy_images(images, 0.3, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="noise_level"):
        noisy_images(images, -0.1, torch.Generator())


# ---------------------------------------------------------------------------- denoising noise


def student_noise(images, sigma, generator):
    """Right, written differently: noise drawn flat and reshaped, clipped with minimum/maximum."""
    eps = torch.randn(images.numel(), generator=generator).reshape(images.shape).to(images.dtype)
    return torch.minimum(torch.maximum(images + eps * sigma, torch.zeros(())), torch.ones(()))


def wrong_no_clip(images, sigma, generator):
    return images + sigma * torch.randn(images.shape, generator=generator).to(images.dtype)


def wrong_sigma_squared(images, sigma, generator):
    noise = torch.randn(images.shape, generator=generator).to(images.dtype) * sigma * sigma
    return torch.clamp(images + noise, 0, 1)


def wrong_clip_minus_one(images, sigma, generator):
    return torch.clamp(images + sigma * torch.randn(images.shape, generator=generator).to(images.dtype), -1, 1)


def wrong_one_noise_per_batch(images, sigma, generator):
    noise = torch.randn(images.shape[1:], generator=generator).to(images.dtype)
    return (images + sigma * noise[None]).clamp(0, 1)


def wrong_uniform(images, sigma, generator):
    return (images + sigma * torch.rand(images.shape, generator=generator).to(images.dtype)).clamp(0, 1)


def wrong_float64_draw(images, sigma, generator):
    return (images + sigma * torch.randn(images.shape, generator=generator, dtype=images.dtype)).clamp(0, 1)


NOISE_WRONG = {
    "clipped back to the image range": wrong_no_clip,
    "sigma squared": wrong_sigma_squared,
    "[-1, 1]": wrong_clip_minus_one,
    "Every image got the same noise": wrong_one_noise_per_batch,
    "uniform": wrong_uniform,
    "float32": wrong_float64_draw,
}


def test_noise_correct_student_passes_and_is_used():
    assert noise_exercise.check(student_noise) == "denoising noise: correct."
    assert noise_exercise.use(student_noise) is student_noise


@pytest.mark.parametrize("phrase", sorted(NOISE_WRONG))
def test_each_noise_mistake_is_named(phrase):
    line = noise_exercise.check(NOISE_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert noise_exercise.use(NOISE_WRONG[phrase]) is noise_exercise.reference


def test_noise_not_from_the_generator_is_named():
    """Global-RNG noise: the right size, but not the values the seed fixes."""
    def global_rng(images, sigma, generator):
        return (images + sigma * torch.randn(images.shape).to(images.dtype)).clamp(0, 1)

    line = noise_exercise.check(global_rng)
    assert "draw it from the generator given" in line, line


def test_noise_of_the_wrong_size_is_measured():
    def half(images, sigma, generator):
        return (images + sigma / 2 * torch.randn(images.shape, generator=generator).to(images.dtype)).clamp(0, 1)

    line = noise_exercise.check(half)
    assert "0.50 times sigma" in line, line


def test_noise_unattempted_and_raising_students():
    def stub(images, sigma, generator):
        raise NotImplementedError

    def broken(images, sigma, generator):
        return images + sigma * torch.randn(images.shape[0], generator=generator)

    assert "not attempted yet" in noise_exercise.check(stub)
    assert noise_exercise.use(stub) is noise_exercise.reference
    line = noise_exercise.check(broken)
    assert line.startswith("denoising noise: your function raised RuntimeError") and "\n" not in line


# ---------------------------------------------------------------------------- inpainting loss


def student_loss(prediction, target, mask):
    """Right, written differently: select the hidden values with a boolean index, mean of those."""
    hidden = mask.expand_as(target).bool()
    if not hidden.any():
        return torch.zeros((), dtype=target.dtype)
    return ((prediction - target)[hidden] ** 2).mean()


def wrong_mean_all(prediction, target, mask):
    return (mask * (prediction - target) ** 2).mean()


def wrong_no_channels(prediction, target, mask):
    return (mask * (prediction - target) ** 2).sum() / max(float(mask.sum()), 1.0)


def wrong_visible(prediction, target, mask):
    visible = 1 - mask
    return (visible * (prediction - target) ** 2).sum() / max(float(visible.sum()) * target.shape[1], 1.0)


def wrong_plain_mse(prediction, target, mask):
    return torch.nn.functional.mse_loss(prediction, target)


def wrong_sum(prediction, target, mask):
    return torch.sum(mask * (prediction - target) ** 2)


def wrong_l1(prediction, target, mask):
    return (mask * (prediction - target).abs()).sum() / (mask.sum() * target.shape[1]).clamp_min(1)


def wrong_per_image(prediction, target, mask):
    losses = []
    for p, t, m in zip(prediction, target, mask):
        count = m.sum() * t.shape[0]
        losses.append((m * (p - t) ** 2).sum() / count if count > 0 else torch.zeros(()))
    return torch.stack(losses).mean()


LOSS_WRONG = {
    "dilute": wrong_mean_all,
    "C times too large": wrong_no_channels,
    "visible pixels (1 - mask)": wrong_visible,
    "plain MSE": wrong_plain_mse,
    "masked SUM": wrong_sum,
    "absolute error": wrong_l1,
    "per image": wrong_per_image,
}


def test_loss_correct_student_passes_and_is_used():
    assert masked_loss_exercise.check(student_loss) == "inpainting loss: correct."
    assert masked_loss_exercise.use(student_loss) is student_loss


@pytest.mark.parametrize("phrase", sorted(LOSS_WRONG))
def test_each_loss_mistake_is_named(phrase):
    line = masked_loss_exercise.check(LOSS_WRONG[phrase])
    assert "not yet" in line and phrase in line, line


def test_nothing_hidden_nan_is_named():
    def zero_over_zero(prediction, target, mask):
        return (mask * (prediction - target) ** 2).sum() / (mask.sum() * target.shape[1])

    line = masked_loss_exercise.check(zero_over_zero)
    assert "0 / 0 = nan" in line, line


def test_loss_known_answer():
    """Two hidden pixels of a 1-channel image, errors 1 and 3: (1 + 9) / 2 = 5; the visible error is ignored."""
    target = torch.zeros(1, 1, 2, 2)
    prediction = torch.tensor([[[[1.0, 3.0], [100.0, 0.0]]]])
    mask = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    assert masked_mse(prediction, target, mask).item() == 5.0


def test_loss_returned_as_a_number_has_no_gradient():
    """A .item() (or float()) loss is right in value and useless for training: named, not called correct."""
    line = masked_loss_exercise.check(lambda p, t, m: masked_mse(p, t, m).item())
    assert "not yet" in line and "no gradient: the network could not learn from it" in line


# ---------------------------------------------------------------------------- the inpainting step


def student_step(network, images, mask):
    """Right, written differently: torch.where for the grey box, the hidden values picked by a boolean index."""
    hidden = torch.where(mask.bool(), torch.full_like(images, 0.5), images)
    prediction = network(hidden)
    box = mask.expand_as(images).bool()
    return ((prediction - images)[box] ** 2).mean()


def _wrong_step(network, images, mask, change):
    fill = 0.0 if change == "black" else 0.5
    hidden = images * (1 - mask) + fill * mask
    shown = {"clean": images, "inverted": images * mask + 0.5 * (1 - mask)}.get(change, hidden)
    prediction = network(shown)
    target = hidden if change == "hidden target" else images
    if change == "everywhere":
        return torch.nn.functional.mse_loss(prediction, target)
    return masked_mse(prediction, target, 1 - mask if change == "visible" else mask)


STEP_WRONG = {
    "saw the clean image": "clean",
    "paint grey": "hidden target",
    "averages over every pixel": "everywhere",
    "scored the visible pixels": "visible",
    "filled the box with 0": "black",
    "hid everything except the box": "inverted",
}


def test_inpainting_step_correct_student_passes_and_is_used():
    assert inpainting_step_exercise.check(student_step) == "inpainting step: correct."
    assert inpainting_step_exercise.use(student_step) is student_step


@pytest.mark.parametrize("phrase", sorted(STEP_WRONG))
def test_each_inpainting_step_mistake_is_named(phrase):
    change = STEP_WRONG[phrase]
    line = inpainting_step_exercise.check(lambda f, x, m: _wrong_step(f, x, m, change))
    assert "not yet" in line and phrase in line, line


def test_inpainting_step_without_gradient_is_rejected():
    def frozen(network, images, mask):
        with torch.no_grad():
            return student_step(network, images, mask)
    assert "no gradient: the network could not learn from it" in inpainting_step_exercise.check(frozen)
