"""Exercises of notebook 04 (obscured and perturbed): the denoising corruption, the inpainting loss, and the
inpainting step (the notebook's idea, its last exercise).

    noisy_images:  images (N, C, H, W) in [0, 1], sigma >= 0, a CPU torch.Generator ->
                   clip(x + sigma * eps, 0, 1) (N, C, H, W), eps = torch.randn(images.shape, generator=generator)
                   (float32, then cast to the images' dtype). Course: `ssl_helpers.pretext.noisy_images`.
    masked_mse:    prediction, target (N, C, H, W), mask (N, 1, H, W) with 1 on hidden pixels ->
                   sum m (p - t)^2 / (C * sum m), 0 when nothing is hidden. Course: `ssl_helpers.losses.masked_mse`.
    inpainting_step:  network, images (N, C, H, W), mask (N, 1, H, W) -> masked_mse(network(hidden), images, mask)
                   with hidden = images * (1 - mask) + 0.5 * mask (`hide_box`'s grey fill).
"""
from __future__ import annotations

import torch
from torch import nn

from ssl_helpers.losses import masked_mse as _course_masked_mse
from ssl_helpers.models import SmallCNN
from ssl_helpers.pretext import ConvDecoder, box_mask
from ssl_helpers.pretext import noisy_images as _course_noisy

from .base import Exercise, Mistake, seeded_module, train_steps

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


def _noise_from_the_generator(fn):
    """Two calls with identically seeded generators must give the same noise: else it came from elsewhere."""
    args = _noise_cases()[0]
    try:
        first, second = fn(*args()), fn(*args())
    except Exception:
        return None
    if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and first.shape == second.shape \
            and not torch.equal(first, second):
        return ("Two calls with identically seeded generators gave different noise: draw it from the generator "
                "given, in one draw of the images' shape (generator=generator), so that a seed fixes it.")
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
    hints=(
        "Every pixel of every image gets its own independent Gaussian draw with standard deviation sigma, taken "
        "from the generator given (so a seed fixes the noise), and the noisy image stays a valid image in [0, 1].",
        "Draw standard normal noise of the images' full shape from the generator (in float32, the default), cast it "
        "to the images' dtype, scale it by sigma, add it, and clip the sum to [0, 1].",
        "eps = torch.randn(images.shape, generator=generator).to(images.dtype); "
        "return (images + sigma * eps).clamp(0, 1)",
    ),
    solution_fn=solution_noisy_images,
    diagnose=_noise_diagnose,
    inspections=[_noise_from_the_generator],
    grad_args=(0,),
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
    hints=(
        "Only the hidden pixels count, each channel of each hidden pixel once: the loss is the average squared error "
        "over exactly those values, and 0 (not 0 / 0) when nothing is hidden.",
        "Multiply the squared error by the mask (it broadcasts over the C channels), sum everything, and divide by "
        "the number of hidden values, C times the mask's sum, kept at least 1.",
        "squared = (prediction - target) ** 2 * mask; "
        "return squared.sum() / (mask.sum() * target.shape[1]).clamp_min(1.0)",
    ),
    solution_fn=solution_masked_mse,
    diagnose=_loss_diagnose,
    grad_args=(0,),  # the gradient that matters: the prediction's (the mask and the target are data)
    loss=True,
)

# ----------------------------------------------------------------------------------------------------
# the inpainting step: (network, images, mask) -> loss, the network sees the hidden box filled with grey
# ----------------------------------------------------------------------------------------------------
FILL = 0.5   # the grey the course fills the hidden box with (`pretext.hide_box`)


def course_inpainting_step(network, images, mask):
    """The course's inpainting step for a given box mask: hide the box (grey fill, `hide_box`'s), predict the
    image from what is left, score the prediction on the box only (`masked_mse`)."""
    hidden = images * (1 - mask) + FILL * mask
    return _course_masked_mse(network(hidden), images, mask)


def solution_inpainting_step(network, images, mask):
    # BEGIN SOLUTION
    from ssl_helpers.losses import masked_mse
    hidden = images * (1 - mask) + 0.5 * mask          # the box filled with grey: the network cannot see it
    prediction = network(hidden)                       # (N, C, H, W): the whole image, painted back
    return masked_mse(prediction, images, mask)        # scored on the box only, against the clean image
    # END SOLUTION


def _inpaint(network, images, mask, shown="hidden", fill=FILL, target="clean", scored="box"):
    hidden = images * (1 - mask) + fill * mask
    x = {"hidden": hidden, "clean": images, "inverted": images * mask + fill * (1 - mask)}[shown]
    prediction = network(x)
    goal = {"clean": images, "hidden": hidden}[target]
    if scored == "all":
        return ((prediction - goal) ** 2).mean()
    return _course_masked_mse(prediction, goal, 1 - mask if scored == "visible" else mask)


def _small_painter(channels: int) -> nn.Module:
    """A tiny image-to-image network: conv, ReLU, conv, sigmoid."""
    return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, channels, 3, padding=1),
                         nn.Sigmoid())


def _inpainting_cases():
    def case(n, channels, size, box, seed):
        def make():
            network = seeded_module(lambda: _small_painter(channels), seed)
            images = torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))
            mask = box_mask(n, (size, size), box, torch.Generator().manual_seed(seed + 1))
            return network, images, mask
        return make

    return [case(2, 1, 6, 3, 0), case(3, 3, 8, 4, 10), case(2, 3, 5, 2, 20)]


class _Painter(nn.Module):
    """The course's inpainter in one module: SmallCNN feature maps, then `ConvDecoder` back to pixels."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.encoder = SmallCNN(channels, width=8)
        scale = size // self.encoder.feature_maps(torch.zeros(1, channels, size, size)).shape[-1]
        self.decoder = ConvDecoder(self.encoder.out_dim, channels, upsample=scale, hidden=32)

    def forward(self, x):
        return self.decoder(self.encoder.feature_maps(x))


def _inpainting_demo(fn, images, steps: int = 30) -> str:
    """A fresh small inpainter trained for `steps` Adam steps with `fn` on 64 of `images` (CPU), a new box each
    step."""
    images = images[:64].float().cpu()
    size = images.shape[-1]
    network = seeded_module(lambda: _Painter(images.shape[1], size), 0)
    generator = torch.Generator().manual_seed(0)
    losses = train_steps(lambda i: fn(network, images, box_mask(len(images), (size, size), size // 2, generator)),
                         network.parameters(), steps, 3e-3)
    return (f"The inpainting step in use, on a fresh small CNN and decoder: {steps} Adam steps on {len(images)} "
            f"images, squared error in the box {losses[0]:.4f} -> {losses[-1]:.4f}")


inpainting_step_exercise = Exercise(
    name="inpainting step",
    reference=course_inpainting_step,
    cases=_inpainting_cases(),
    mistakes=[
        Mistake("saw the answer", "The network saw the clean image, box included: it can copy the answer and learns "
                "nothing. Hide the box first, images * (1 - mask) + 0.5 * mask, and predict from that.",
                lambda f, x, m: _inpaint(f, x, m, shown="clean")),
        Mistake("target is the hidden image", "Your target is the image with the grey box: that teaches the network "
                "to paint grey. The target is the clean image.", lambda f, x, m: _inpaint(f, x, m, target="hidden")),
        Mistake("whole image", "Your loss averages over every pixel; the visible ones can simply be copied from the "
                "input and dilute the loss. Score the box only: masked_mse(prediction, images, mask).",
                lambda f, x, m: _inpaint(f, x, m, scored="all")),
        Mistake("visible pixels", "You scored the visible pixels (1 - mask), the ones the network can copy; the "
                "loss counts the hidden box, where mask is 1.", lambda f, x, m: _inpaint(f, x, m, scored="visible")),
        Mistake("black fill", "You filled the box with 0 (black); the statement fills it with grey, 0.5, as the "
                "course's hide_box does (black is also the digits' background, so the hole would look like "
                "background).", lambda f, x, m: _inpaint(f, x, m, fill=0.0)),
        Mistake("inverted hole", "You hid everything except the box (images * mask + 0.5 * (1 - mask)): the mask is "
                "1 INSIDE the box, the part to hide.", lambda f, x, m: _inpaint(f, x, m, shown="inverted")),
    ],
    hints=(
        "The network must never see what it is asked to paint: it gets the image with the box hidden, and its "
        "painting is compared with the clean image where the box was, and only there (the rest it could copy).",
        "Blend the grey fill into the box with the mask (1 inside), run the network on that, and score its output "
        "against the clean images with the masked squared error of the previous exercise.",
        "hidden = images * (1 - mask) + 0.5 * mask; return masked_mse(network(hidden), images, mask)",
    ),
    solution_fn=solution_inpainting_step,
    diagnose=_loss_diagnose,
    demo=_inpainting_demo,
    gradient=True,
    grad_args=(),
    loss=True,
    idea=True,
)

EXERCISES = {"04_obscured_and_perturbed": [noise_exercise, masked_loss_exercise, inpainting_step_exercise]}
SOLUTIONS = {"noisy_images": solution_noisy_images, "masked_mse": solution_masked_mse,
             "inpainting_step": solution_inpainting_step}
