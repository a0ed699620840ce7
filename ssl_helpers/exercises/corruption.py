"""Exercises of notebook 04 (obscured and perturbed): the denoising corruption and the inpainting loss.

    noisy_images:  images (N, C, H, W) in [0, 1], sigma >= 0, a CPU torch.Generator ->
                   clip(x + sigma * eps, 0, 1) (N, C, H, W), eps = torch.randn(images.shape, generator=generator)
                   (float32, then cast to the images' dtype). Course: `ssl_helpers.pretext.noisy_images`.
    masked_mse:    prediction, target (N, C, H, W), mask (N, 1, H, W) with 1 on hidden pixels ->
                   sum m (p - t)^2 / (C * sum m), 0 when nothing is hidden. Course: `ssl_helpers.pretext.masked_mse`.
"""
from __future__ import annotations

import torch

from ssl_helpers.pretext import masked_mse as _course_masked_mse
from ssl_helpers.pretext import noisy_images as _course_noisy

from .base import Exercise, Mistake

# ----------------------------------------------------------------------------------------------------
# denoising corruption: clip(x + sigma * eps, 0, 1), eps from the given generator
# ----------------------------------------------------------------------------------------------------


def solution_noisy_images(images, sigma, generator):
    # BEGIN SOLUTION
    import torch
    eps = torch.randn(images.shape, generator=generator).to(images.dtype)     # one N(0, 1) draw per pixel
    return (images + sigma * eps).clamp(0.0, 1.0)
    # END SOLUTION


def _eps(images, generator, shape=None, dtype=None):
    return torch.randn(images.shape if shape is None else shape, generator=generator, dtype=dtype or torch.float32
                       ).to(images.dtype)


def _no_clip(images, sigma, generator):
    return images + sigma * _eps(images, generator)


def _variance(images, sigma, generator):
    return (images + sigma ** 2 * _eps(images, generator)).clamp(0, 1)


def _clip_minus_one(images, sigma, generator):
    return (images + sigma * _eps(images, generator)).clamp(-1, 1)


def _same_noise(images, sigma, generator):
    return (images + sigma * _eps(images, generator, shape=images.shape[1:])).clamp(0, 1)


def _uniform(images, sigma, generator):
    return (images + sigma * torch.rand(images.shape, generator=generator).to(images.dtype)).clamp(0, 1)


def _drawn_in_dtype(images, sigma, generator):
    return (images + sigma * _eps(images, generator, dtype=images.dtype)).clamp(0, 1)


def _noise_cases():
    def random(shape, sigma, dtype=torch.float32, seed=0):
        def make():
            images = torch.rand(shape, generator=torch.Generator().manual_seed(100 + seed), dtype=dtype)
            return images, sigma, torch.Generator().manual_seed(seed)
        return make

    def identical():                    # a batch of identical images: every image still gets its own noise
        image = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(7))
        return image.expand(3, -1, -1, -1).clone(), 0.3, torch.Generator().manual_seed(3)

    def black():                        # all-black images, large noise: half the pixels are clipped at 0
        return torch.zeros(2, 1, 3, 3), 1.0, torch.Generator().manual_seed(4)

    def no_noise():                     # sigma = 0: the images come back unchanged
        return torch.rand(2, 3, 3, 3, generator=torch.Generator().manual_seed(5)), 0.0, torch.Generator().manual_seed(5)

    return [random((2, 1, 4, 4), 0.3), random((3, 3, 5, 5), 0.5, seed=1),
            random((2, 3, 4, 4), 0.2, torch.float64, seed=2), identical, black, no_noise]


def _noise_diagnose(args, got, want):
    images, sigma, _ = args
    if not isinstance(got, torch.Tensor) or got.shape != images.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return f"The noisy images keep the input's shape {tuple(images.shape)}; yours is {shape}."
    if got.min() < 0 or got.max() > 1:
        return "Some of your pixels leave [0, 1]: clip the result with .clamp(0, 1)."
    inside = (want > 0) & (want < 1) & (got > 0) & (got < 1)
    if sigma > 0 and inside.any():
        ratio = ((got - images)[inside].double().std() / (want - images)[inside].double().std()).item()
        if 0.7 < ratio < 1.4:
            return ("Your noise has about the right size but not the course's values: draw it from the generator "
                    "given, eps = torch.randn(images.shape, generator=generator), once, in float32, then cast "
                    "to the images' dtype.")
        return f"Your noise's standard deviation is about {ratio:.2f} times sigma; it should be sigma."
    return None


noise_exercise = Exercise(
    name="denoising noise",
    reference=_course_noisy,
    cases=_noise_cases(),
    mistakes=[
        Mistake("no clip", "Your pixels leave [0, 1]: the noisy image is clipped back to the image range, "
                "clip(x + sigma * eps, 0, 1) (.clamp(0, 1)).", _no_clip),
        Mistake("sigma squared", "Your noise's standard deviation is sigma squared: sigma is the standard "
                "deviation itself, multiply eps by sigma.", _variance),
        Mistake("clip to [-1, 1]", "You clipped to [-1, 1]; the images live in [0, 1]: clamp(0, 1).",
                _clip_minus_one),
        Mistake("same noise", "Every image got the same noise (you drew one (C, H, W) tensor and broadcast it); "
                "draw a full (N, C, H, W) tensor, torch.randn(images.shape, generator=generator).", _same_noise),
        Mistake("uniform", "Your noise is uniform on [0, sigma) (torch.rand): the denoising autoencoder adds "
                "Gaussian noise, torch.randn.", _uniform),
        Mistake("dtype draw", "Right recipe, but on float64 images your draw differs: draw eps in float32 "
                "(torch.randn(images.shape, generator=generator)) and cast it with .to(images.dtype), as the "
                "course does, so the same seed gives the same noise in any dtype.", _drawn_in_dtype),
    ],
    hint_text=("eps = torch.randn(images.shape, generator=generator).to(images.dtype); "
               "return (images + sigma * eps).clamp(0, 1)."),
    solution_fn=solution_noisy_images,
    diagnose=_noise_diagnose,
)


# ----------------------------------------------------------------------------------------------------
# inpainting loss: squared error on the hidden pixels only
# ----------------------------------------------------------------------------------------------------


def solution_masked_mse(prediction, target, mask):
    # BEGIN SOLUTION
    squared = (prediction - target) ** 2 * mask                     # (N, C, H, W): 0 on the visible pixels
    count = mask.sum() * target.shape[1]                            # hidden pixels x channels
    return squared.sum() / count.clamp_min(1.0)                     # 0 (not 0 / 0) when nothing is hidden
    # END SOLUTION


def _squared(prediction, target, mask):
    return (prediction - target) ** 2 * mask


def _mean_all(prediction, target, mask):
    return _squared(prediction, target, mask).mean()


def _no_channels(prediction, target, mask):
    return _squared(prediction, target, mask).sum() / mask.sum().clamp_min(1.0)


def _visible(prediction, target, mask):
    return _course_masked_mse(prediction, target, 1 - mask)


def _everywhere(prediction, target, mask):
    return ((prediction - target) ** 2).mean()


def _unnormalised(prediction, target, mask):
    return _squared(prediction, target, mask).sum()


def _absolute(prediction, target, mask):
    return ((prediction - target).abs() * mask).sum() / (mask.sum() * target.shape[1]).clamp_min(1.0)


def _per_image(prediction, target, mask):
    per_image = _squared(prediction, target, mask).sum((1, 2, 3)) / (mask.sum((1, 2, 3)) * target.shape[1])
    return per_image.nan_to_num(0.0).mean()


def _loss_cases():
    def random(n, c, size, dtype=torch.float32, seed=0, p=0.4):
        def make():
            gen = torch.Generator().manual_seed(seed)
            prediction = torch.rand(n, c, size, size, generator=gen, dtype=dtype)
            target = torch.rand(n, c, size, size, generator=gen, dtype=dtype)
            mask = (torch.rand(n, 1, size, size, generator=gen) < p).to(dtype)
            mask[0, 0, 0, 0] = 1.0                                           # at least one hidden pixel
            return prediction, target, mask
        return make

    def boxes():                        # the notebook's masks: one square box per image, 3 channels
        from ssl_helpers.pretext import box_mask
        gen = torch.Generator().manual_seed(3)
        prediction, target = torch.rand(3, 3, 6, 6, generator=gen), torch.rand(3, 3, 6, 6, generator=gen)
        return prediction, target, box_mask(3, (6, 6), 3, gen)

    def one_empty():                    # N = 2: the second image has nothing hidden
        gen = torch.Generator().manual_seed(4)
        prediction, target = torch.rand(2, 3, 4, 4, generator=gen), torch.rand(2, 3, 4, 4, generator=gen)
        mask = torch.zeros(2, 1, 4, 4)
        mask[0, :, :2, :3] = 1.0
        return prediction, target, mask

    def nothing_hidden():               # an all-zero mask: the loss is 0, not 0 / 0
        gen = torch.Generator().manual_seed(5)
        return torch.rand(2, 1, 3, 3, generator=gen), torch.rand(2, 1, 3, 3, generator=gen), torch.zeros(2, 1, 3, 3)

    return [random(2, 1, 4), random(3, 3, 5, seed=1), random(2, 3, 4, torch.float64, seed=2), boxes, one_empty,
            nothing_hidden]


def _loss_diagnose(args, got, want):
    _, _, mask = args
    got = torch.as_tensor(got)
    if got.numel() != 1:
        return f"Return one number (a 0-d tensor) for the whole batch; yours has shape {tuple(got.shape)}."
    if mask.sum() == 0 and bool(torch.isnan(got)):
        return ("With nothing hidden your loss is 0 / 0 = nan: divide by the count clamped to at least 1 "
                "(.clamp_min(1.0)), so the loss is 0.")
    return None


masked_loss_exercise = Exercise(
    name="inpainting loss",
    reference=_course_masked_mse,
    cases=_loss_cases(),
    mistakes=[
        Mistake("mean over all", "You averaged over every pixel (.mean()), hidden or not: the visible pixels' "
                "zeros dilute the loss. Divide the masked sum by the number of hidden values, C * mask.sum().",
                _mean_all),
        Mistake("channels", "Your loss is C times too large: the mask (N, 1, H, W) counts each hidden pixel "
                "once, but the sum runs over C channels; divide by C * mask.sum().", _no_channels),
        Mistake("visible", "You scored the visible pixels (1 - mask): the loss counts the hidden box only, where "
                "mask is 1.", _visible),
        Mistake("no mask", "Your loss is the plain MSE over all pixels: multiply the squared error by the mask, "
                "so the visible pixels (which the network can copy) do not count.", _everywhere),
        Mistake("unnormalised", "Your loss is the masked SUM: divide it by the number of hidden values "
                "(C * mask.sum()), so it does not grow with the batch or the box.", _unnormalised),
        Mistake("absolute", "You used the absolute error; the loss squares it, (prediction - target) ** 2.",
                _absolute),
        Mistake("per image", "You averaged per image and then over images: when images hide different numbers "
                "of pixels that weighs them unequally; sum over the whole batch, then divide once.", _per_image),
    ],
    hint_text=("((prediction - target) ** 2 * mask).sum() / (C * mask.sum()), with the count clamped to at least 1 "
               "(mask broadcasts over the C channels)."),
    solution_fn=solution_masked_mse,
    diagnose=_loss_diagnose,
)

EXERCISES = {"04_obscured_and_perturbed": [noise_exercise, masked_loss_exercise]}
SOLUTIONS = {"noisy_images": solution_noisy_images, "masked_mse": solution_masked_mse}
