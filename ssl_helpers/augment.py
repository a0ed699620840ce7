"""Batched augmentations that draw independent random parameters for every image.

torchvision's transforms draw one set of parameters per call, so a batch passed through them gets one crop and
one colour change for all its images. Here every op takes a batch `x: (N, C, H, W)` in [0, 1] and per-image
parameters `(N, ...)`; the same code runs on CPU and GPU tensors. Each op comes in two layers:

- a pure function with explicit parameters (`resized_crop`, `adjust_brightness`, ..., `add_noise`), equal image
  by image to torchvision's functional op with the same parameters (the tests check this);
- `Augment`, a small settings object whose call draws all parameters from one `torch.Generator` and applies
  the ops in SimCLR's order: crop (+ optional small rotation and slant) -> flip -> colour jitter (prob. `jitter_p`) ->
  grayscale (prob. `grayscale_p`) -> blur (prob. `blur_p`) -> noise.

Multi-crop (DINO, Caron et al. 2021): `multi_crop(x, global_augment, local_augment, 2, 4, generator)` returns 2
large views at full size and 4 small ones at a lower resolution, every view with its own parameters.

Presets: `preset("simclr", size)` (the paper's ImageNet recipe), `preset("small", size)` (CIFAR-sized images:
no blur, milder jitter), `preset("digits", size)` (handwriting: no flip, small rotations and slant; tuned for
notebook 06).

Random parameters are drawn on the generator's device (the CPU by default) and moved to the images, so a CPU
generator with the same seed gives the same views on CPU and GPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = [
    "resized_crop",
    "crop_boxes_from_uniforms",
    "hflip",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "rgb_to_grayscale",
    "LUMA",
    "gaussian_blur",
    "add_noise",
    "sample_crop_boxes",
    "Augment",
    "PRESETS",
    "preset",
    "multi_crop",
]

LUMA = (0.2989, 0.587, 0.114)
"""ITU-R BT.601 luma weights (as torchvision rounds them): the one grayscale conversion of the course."""


def _check_batch(x: torch.Tensor, channels: Optional[int] = None) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor of shape (N, C, H, W), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"x must have {channels} channels for this op, got {x.shape[1]}")


def _per_image(value, x: torch.Tensor, name: str) -> torch.Tensor:
    """A scalar or (N,) parameter as an (N, 1, 1, 1) tensor on x's device."""
    value = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if value.ndim == 0:
        value = value.expand(x.shape[0])
    if value.shape != (x.shape[0],):
        raise ValueError(f"{name} must be a scalar or have shape ({x.shape[0]},), got {tuple(value.shape)}")
    return value.view(-1, 1, 1, 1)


# ----------------------------------------------------------------------------------------------------
# Geometry: one affine warp per image
# ----------------------------------------------------------------------------------------------------


def resized_crop(x: torch.Tensor, boxes: torch.Tensor, size: Sequence[int],
                 angles: Optional[torch.Tensor] = None, shears: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Crop box i of image i and resize it to `size` with bilinear interpolation, all images in one warp.

    x: (N, C, H, W); boxes: (N, 4) as (top, left, height, width) in pixels (may be fractional);
    size: (h, w) of the output -> (N, C, h, w). Output pixel j samples the input at
    `left + (j + 0.5) * width / w - 0.5` (the half-pixel convention of `F.interpolate`), clamped to the box's
    pixel centres, which makes it equal to torchvision's `resized_crop(..., antialias=False)` for integer boxes.
    angles, shears: optional (N,) rotations and horizontal shears (slant) in degrees about the box centre:
    in pixel units the box is mapped by R(angle) @ [[1, tan(shear)], [0, 1]]; then the clamp is the image border.
    """
    _check_batch(x)
    n, _, height, width = x.shape
    boxes = torch.as_tensor(boxes, dtype=x.dtype, device=x.device)
    if boxes.shape != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4) as (top, left, height, width), got {tuple(boxes.shape)}")
    size = (size, size) if isinstance(size, int) else tuple(size)
    top, left, box_h, box_w = boxes.unbind(1)
    # input pixel offset from the box centre = M @ (output offset in box pixels); M = identity for a plain crop
    m = torch.eye(2, dtype=x.dtype, device=x.device).repeat(n, 1, 1)
    if shears is not None:
        m[:, 0, 1] = torch.tan(_per_image(shears, x, "shears").view(-1) * (math.pi / 180))
    if angles is not None:
        radians = _per_image(angles, x, "angles").view(-1) * (math.pi / 180)
        rotation = torch.stack([radians.cos(), -radians.sin(), radians.sin(), radians.cos()], 1).view(n, 2, 2)
        m = rotation @ m
    # in normalised coordinates (align_corners=False): input = theta @ (output, 1)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, :, :2] = m * torch.stack([box_w / width, box_h / width, box_w / height, box_h / height], 1).view(n, 2, 2)
    theta[:, 0, 2], theta[:, 1, 2] = (2 * left + box_w) / width - 1, (2 * top + box_h) / height - 1
    grid = F.affine_grid(theta, [n, x.shape[1], *size], align_corners=False)
    if angles is None and shears is None:
        # pixel centres of the box, in normalised coordinates: repeat its edge like a real crop would
        lo = torch.stack([(2 * left + 1) / width - 1, (2 * top + 1) / height - 1], 1)
        hi = torch.stack([(2 * (left + box_w - 1) + 1) / width - 1, (2 * (top + box_h - 1) + 1) / height - 1], 1)
        grid = torch.maximum(torch.minimum(grid, torch.maximum(hi, lo)[:, None, None]), lo[:, None, None])
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def hflip(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images where `flip` (N,) bool is true. x: (N, C, H, W)."""
    _check_batch(x)
    flip = torch.as_tensor(flip, device=x.device, dtype=torch.bool)
    if flip.shape != (x.shape[0],):
        raise ValueError(f"flip must have shape ({x.shape[0]},), got {tuple(flip.shape)}")
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


# ----------------------------------------------------------------------------------------------------
# Colour
# ----------------------------------------------------------------------------------------------------


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """factor * x + (1 - factor) * other, clamped to [0, 1] (torchvision's `_blend`)."""
    return (factor * x + (1 - factor) * other).clamp(0.0, 1.0)


def rgb_to_grayscale(x: torch.Tensor, channels: int = 1) -> torch.Tensor:
    """Luma Y = 0.2989 R + 0.587 G + 0.114 B (`LUMA`): (N, 3, H, W) -> (N, channels, H, W), every channel Y
    (channels=3 keeps the shape an RGB encoder reads)."""
    _check_batch(x, 3)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    r, g, b = x.unbind(1)
    y = (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)
    return y.expand(-1, channels, -1, -1).contiguous() if channels == 3 else y


def adjust_brightness(x: torch.Tensor, factor) -> torch.Tensor:
    """x' = clamp(factor_i * x_i). factor: scalar or (N,), >= 0."""
    _check_batch(x)
    return _blend(x, torch.zeros_like(x), _per_image(factor, x, "factor"))


def adjust_contrast(x: torch.Tensor, factor) -> torch.Tensor:
    """x' = clamp(factor_i * x_i + (1 - factor_i) * mean(Y(x_i)), Y the luma (`rgb_to_grayscale`)), the mean over the whole image."""
    _check_batch(x, 3)
    mean = rgb_to_grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean, _per_image(factor, x, "factor"))


def adjust_saturation(x: torch.Tensor, factor) -> torch.Tensor:
    """x' = clamp(factor_i * x_i + (1 - factor_i) * Y(x_i)): 0 gives grey, 1 the image, 2 doubles colour."""
    _check_batch(x, 3)
    return _blend(x, rgb_to_grayscale(x), _per_image(factor, x, "factor"))


def adjust_hue(x: torch.Tensor, shift) -> torch.Tensor:
    """Rotate the hue: RGB -> HSV, h' = (h + shift_i) mod 1, -> RGB. shift: scalar or (N,) in [-0.5, 0.5].

    Back to RGB with the closed form  c_k = v - v s clamp(min(m_k, 4 - m_k), 0, 1),  m_k = (k + 6 h') mod 6,
    k = 5, 3, 1 for R, G, B.
    """
    _check_batch(x, 3)
    shift = _per_image(shift, x, "shift")
    value, _ = x.max(1, keepdim=True)
    minimum, _ = x.min(1, keepdim=True)
    chroma = value - minimum
    saturation = chroma / torch.where(chroma > 0, value, torch.ones_like(value))
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    r, g, b = ((value - x) / safe).unbind(1)  # distance of each channel from the max, in units of chroma
    r, g, b, max_r, max_g = r[:, None], g[:, None], b[:, None], value == x[:, :1], value == x[:, 1:2]
    hue = torch.where(max_r, b - g, torch.where(max_g, 2.0 + r - b, 4.0 + g - r))
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    hue6 = torch.remainder(hue + 6.0 * shift, 6.0)
    k = torch.tensor([5.0, 3.0, 1.0], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    m = torch.remainder(k + hue6, 6.0)
    return value - value * saturation * torch.minimum(m, 4.0 - m).clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------------------
# Blur and noise
# ----------------------------------------------------------------------------------------------------


def gaussian_blur(x: torch.Tensor, kernel_size: int, sigma) -> torch.Tensor:
    """Separable Gaussian blur with a per-image sigma and reflect padding (as torchvision's `gaussian_blur`).

    k_i(t) ∝ exp(-t^2 / (2 sigma_i^2)), t = -(K-1)/2 .. (K-1)/2. x: (N, C, H, W); sigma: scalar or (N,) > 0;
    kernel_size K: odd, at most 2 * min(H, W) - 1 (reflect padding needs it).
    """
    _check_batch(x)
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    n, c, h, w = x.shape
    if kernel_size // 2 >= min(h, w):
        raise ValueError(f"kernel_size={kernel_size} is too large for {h}x{w} images (reflect padding); "
                         f"use at most {2 * min(h, w) - 1}")
    sigma = _per_image(sigma, x, "sigma").view(n, 1)
    if (sigma <= 0).any():
        raise ValueError("sigma must be positive")
    t = torch.linspace(-(kernel_size - 1) / 2, (kernel_size - 1) / 2, kernel_size, dtype=x.dtype, device=x.device)
    kernel = torch.softmax(-0.5 * (t / sigma) ** 2, dim=1)  # (N, K): exp(...) / sum exp(...)
    kernel = kernel.repeat_interleave(c, dim=0)  # (N*C, K), one per channel of each image
    pad = kernel_size // 2
    y = F.pad(x.reshape(1, n * c, h, w), (pad, pad, pad, pad), mode="reflect")
    y = F.conv2d(y, kernel.view(n * c, 1, 1, kernel_size), groups=n * c)
    y = F.conv2d(y, kernel.view(n * c, 1, kernel_size, 1), groups=n * c)
    return y.view(n, c, h, w)


def add_noise(x: torch.Tensor, std, noise: Optional[torch.Tensor] = None,
              generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """x' = clamp(x_i + std_i * e_i), e ~ N(0, 1) per pixel (given as `noise`, or drawn from `generator`)."""
    _check_batch(x)
    if noise is None:
        noise = _randn(x.shape, generator, x)
    if noise.shape != x.shape:
        raise ValueError(f"noise must have the shape of x {tuple(x.shape)}, got {tuple(noise.shape)}")
    return (x + _per_image(std, x, "std") * noise).clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------------------
# Random parameters
# ----------------------------------------------------------------------------------------------------


def _gen_device(generator: Optional[torch.Generator], x: torch.Tensor):
    return generator.device if generator is not None else x.device


def _uniform(n: int, low: float, high: float, generator, x: torch.Tensor) -> torch.Tensor:
    u = torch.rand(n, generator=generator, device=_gen_device(generator, x))
    return (low + (high - low) * u).to(device=x.device, dtype=x.dtype)


def _coin(n: int, p: float, generator, x: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=_gen_device(generator, x)).lt(p).to(x.device)


def _randn(shape, generator, x: torch.Tensor) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=_gen_device(generator, x)).to(x.device, x.dtype)


def crop_boxes_from_uniforms(u_area: torch.Tensor, u_ratio: torch.Tensor, u_position: torch.Tensor,
                             height: int, width: int, scale: Tuple[float, float],
                             ratio: Tuple[float, float]) -> torch.Tensor:
    """Random-resized-crop boxes (N, 4) as (top, left, h, w) from given uniform draws in [0, 1) (pure maths).

    u_area, u_ratio: (N, A), one column per attempt; u_position: (N, 2) for (top, left). Attempt a of image i:
        area   = H W (s_lo + (s_hi - s_lo) u_area)                  (a fraction of the image's AREA)
        aspect = exp(log r_lo + (log r_hi - log r_lo) u_ratio)      (log-uniform, so r and 1/r are equally likely)
        w = sqrt(area * aspect),  h = sqrt(area / aspect)           (aspect = w / h)
    The first attempt with w <= W and h <= H is kept; an image with none gets the fallback: the whole image
    with its aspect ratio clamped into `ratio` (torchvision's central crop). Then the box is placed inside the
    image: top = (H - h) u_position[:, 0], left = (W - w) u_position[:, 1]. Boxes are fractional.
    """
    device = u_area.device
    n = u_area.shape[0]
    area = height * width * (scale[0] + (scale[1] - scale[0]) * u_area)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u_ratio)
    w, h = (area * aspect).sqrt(), (area / aspect).sqrt()
    fits = (w <= width) & (h <= height)
    first = torch.where(fits.any(1), fits.float().argmax(1), torch.zeros(n, dtype=torch.long, device=device))
    w, h = w.gather(1, first[:, None])[:, 0], h.gather(1, first[:, None])[:, 0]
    # fallback: whole image, aspect clamped into the ratio range (torchvision's central crop)
    in_ratio = width / height
    fb_w, fb_h = ((width, width / ratio[0]) if in_ratio < ratio[0] else
                  (height * ratio[1], height) if in_ratio > ratio[1] else (width, height))
    ok = fits.any(1)
    w = torch.where(ok, w, torch.full_like(w, fb_w))
    h = torch.where(ok, h, torch.full_like(h, fb_h))
    top, left = (height - h) * u_position[:, 0], (width - w) * u_position[:, 1]
    return torch.stack([top, left, h, w], 1)


def sample_crop_boxes(n: int, height: int, width: int, scale: Tuple[float, float], ratio: Tuple[float, float],
                      generator: Optional[torch.Generator] = None, attempts: int = 10) -> torch.Tensor:
    """Random boxes (N, 4) as (top, left, h, w), float, as in torchvision's `RandomResizedCrop.get_params`.

    Area fraction ~ U(scale), log aspect ratio ~ U(log ratio); of `attempts` draws per image the first that
    fits the image is kept; images with none get the largest centred box with the ratio clamped to `ratio`.
    Position ~ uniform over the places the box fits. Boxes are fractional (no rounding to whole pixels).
    The draws come from `generator` in this order: u_area (N, attempts), u_ratio (N, attempts),
    u_position (N, 2); the maths is `crop_boxes_from_uniforms`.
    """
    device = generator.device if generator is not None else "cpu"
    u_area = torch.rand(n, attempts, generator=generator, device=device)
    u_ratio = torch.rand(n, attempts, generator=generator, device=device)
    u_position = torch.rand(n, 2, generator=generator, device=device)
    return crop_boxes_from_uniforms(u_area, u_ratio, u_position, height, width, scale, ratio)


def _check_range(name: str, value, low: float, high: float) -> None:
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or not low <= value[0] <= value[1] <= high):
        raise ValueError(f"{name} must be a pair (min, max) with {low} <= min <= max <= {high}, got {value!r}")


def _check_prob(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True)
class Augment:
    """A random view of every image in a batch, with independent parameters per image.

    Call: `augment(x, generator=None) -> views`, x: (N, C, H, W) in [0, 1] -> (N, C, size, size).
    Colour ops need C = 3. Set a strength to 0 (or a probability to 0) to switch an op off.

    size: output side; crop_scale: area fraction range; crop_ratio: aspect range; degrees: max rotation;
    shear: max horizontal shear (slant), in degrees;
    flip_p: horizontal flip; brightness, contrast, saturation: factor ~ U(1 - s, 1 + s); hue: shift ~ U(-h, h);
    jitter_p: probability of the colour jitter (applied in the fixed order b, c, s, h); grayscale_p;
    blur_p with sigma ~ U(blur_sigma), kernel ~ 10% of `size` (odd); noise_std: max noise std, std ~ U(0, max).
    """

    size: int = 32
    crop_scale: Tuple[float, float] = (0.08, 1.0)
    crop_ratio: Tuple[float, float] = (3 / 4, 4 / 3)
    degrees: float = 0.0
    shear: float = 0.0
    flip_p: float = 0.5
    brightness: float = 0.8
    contrast: float = 0.8
    saturation: float = 0.8
    hue: float = 0.2
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: Tuple[float, float] = (0.1, 2.0)
    noise_std: float = 0.0

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"size must be a positive integer, got {self.size!r}")
        _check_range("crop_scale", self.crop_scale, 1e-6, 1.0)
        _check_range("crop_ratio", self.crop_ratio, 1e-6, float("inf"))
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p"):
            _check_prob(name, getattr(self, name))
        for name in ("brightness", "contrast", "saturation"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1] (factor ~ U(1 - s, 1 + s)), got {getattr(self, name)!r}")
        if not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {self.hue!r}")
        if not 0.0 <= self.degrees <= 180.0:
            raise ValueError(f"degrees must be in [0, 180], got {self.degrees!r}")
        if not 0.0 <= self.shear < 90.0:
            raise ValueError(f"shear must be in [0, 90) degrees, got {self.shear!r}")
        _check_range("blur_sigma", self.blur_sigma, 1e-6, float("inf"))
        if not self.noise_std >= 0.0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std!r}")

    @property
    def blur_kernel(self) -> int:
        """Odd kernel side, about 10% of the image (at least 3), as in the SimCLR paper."""
        return max(3, int(0.1 * self.size) // 2 * 2 + 1)

    def with_(self, **changes) -> "Augment":
        """A copy with some settings changed, e.g. `augment.with_(jitter_p=0.0, grayscale_p=0.0)`."""
        return replace(self, **changes)

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        _check_batch(x)
        n, c, height, width = x.shape
        colour = self.jitter_p > 0 and (self.brightness or self.contrast or self.saturation or self.hue)
        if (colour or self.grayscale_p > 0) and c != 3:
            raise ValueError(f"colour jitter and grayscale need 3-channel images, got {c} channels; "
                             f"set jitter_p=0 and grayscale_p=0 for other inputs")
        boxes = sample_crop_boxes(n, height, width, self.crop_scale, self.crop_ratio, generator)
        angles = _uniform(n, -self.degrees, self.degrees, generator, x) if self.degrees > 0 else None
        shears = _uniform(n, -self.shear, self.shear, generator, x) if self.shear > 0 else None
        x = resized_crop(x, boxes.to(x.device, x.dtype), (self.size, self.size), angles, shears)
        if self.flip_p > 0:
            x = hflip(x, _coin(n, self.flip_p, generator, x))
        if colour:
            factors = [_uniform(n, 1 - s, 1 + s, generator, x) for s in (self.brightness, self.contrast,
                                                                         self.saturation)]
            shift = _uniform(n, -self.hue, self.hue, generator, x)
            jittered = adjust_brightness(x, factors[0])
            jittered = adjust_contrast(jittered, factors[1])
            jittered = adjust_saturation(jittered, factors[2])
            if self.hue > 0:
                jittered = adjust_hue(jittered, shift)
            x = torch.where(_coin(n, self.jitter_p, generator, x).view(-1, 1, 1, 1), jittered, x)
        if self.grayscale_p > 0:
            grey = rgb_to_grayscale(x).expand_as(x)
            x = torch.where(_coin(n, self.grayscale_p, generator, x).view(-1, 1, 1, 1), grey, x)
        if self.blur_p > 0:
            sigma = _uniform(n, *self.blur_sigma, generator, x)
            blurred = gaussian_blur(x, self.blur_kernel, sigma)
            x = torch.where(_coin(n, self.blur_p, generator, x).view(-1, 1, 1, 1), blurred, x)
        if self.noise_std > 0:
            x = add_noise(x, _uniform(n, 0.0, self.noise_std, generator, x), generator=generator)
        return x


PRESETS = {
    # Chen et al. 2020, appendix A: crop 0.08-1, flip, jitter (0.8 s, 0.2 s) w.p. 0.8, grey 0.2, blur 0.5
    "simclr": dict(),
    # CIFAR-sized images: the common recipe without blur, jitter strength 0.5
    "small": dict(crop_scale=(0.2, 1.0), brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, blur_p=0.0),
    # handwritten digits: no flips (a mirrored 2 is not a 2), small rotations, slant, noise; tuned for notebook 06
    "digits": dict(crop_scale=(0.35, 1.0), crop_ratio=(0.7, 1.4), degrees=10.0, shear=20.0, flip_p=0.0,
                   brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, blur_p=0.0, noise_std=0.1),
}


def preset(name: str, size: int, **changes) -> Augment:
    """A named recipe (`PRESETS`) for `size`-pixel views, with optional changes."""
    if name not in PRESETS:
        raise ValueError(f"unknown augmentation preset {name!r}; expected one of {sorted(PRESETS)}")
    return Augment(size=size, **{**PRESETS[name], **changes})


def multi_crop(x: torch.Tensor, global_augment: Augment, local_augment: Augment, global_crops: int = 2,
               local_crops: int = 4, generator: Optional[torch.Generator] = None) -> list:
    """DINO's multi-crop (Caron et al. 2021; SwAV's idea): several views of every image at two scales.

        [g_1(x), ..., g_G(x), l_1(x), ..., l_V(x)]      G = global_crops views by `global_augment` (large crops,
                                                        e.g. 40-100% of the area, at full size), then
                                                        V = local_crops views by `local_augment` (small crops,
                                                        e.g. 10-40%, at a smaller size)

    x: (N, C, H, W) in [0, 1] -> a list of G + V tensors, (N, C, g, g) then (N, C, l, l) with g = global_augment.size
    and l = local_augment.size. Every view of every image draws its own parameters from `generator`, in list
    order. The teacher sees only the global views, the student all of them: small crops must predict what the
    teacher says about the whole image ("local-to-global correspondence").
    """
    _check_batch(x)
    for name, value in (("global_crops", global_crops), ("local_crops", local_crops)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if global_crops < 1:
        raise ValueError(f"global_crops must be at least 1 (the teacher's views), got {global_crops}")
    return ([global_augment(x, generator) for _ in range(global_crops)]
            + [local_augment(x, generator) for _ in range(local_crops)])
