"""Exercises of notebook 06 (SimCLR): per-image random-resized-crop boxes, the partner accuracy of two views, and
the SimCLR training step (the notebook's idea, its last exercise).

    crop_boxes:        u_area, u_ratio (N, A), u_position (N, 2) uniforms in [0, 1); square images of side S;
                       scale (lo, hi) of the AREA, ratio (lo, hi) of w / h containing 1 -> boxes (N, 4) as
                       (top, left, h, w). Course: `ssl_helpers.augment.crop_boxes_from_uniforms`.
    partner_accuracy:  z_a, z_b (N, D) -> the fraction of the 2N views whose most cosine-similar other view is
                       their partner (strictly). Course: `ssl_helpers.evaluate.partner_accuracy`.
    simclr_step:       encoder, head, images (N, C, H, W), augment, generator, temperature -> NT-Xent of
                       head(encoder([view a; view b])) split into its halves (a scalar tensor with a gradient).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssl_helpers.augment import crop_boxes_from_uniforms
from ssl_helpers.evaluate import partner_accuracy as _course_partner_accuracy
from ssl_helpers.losses import nt_xent as _course_nt_xent
from ssl_helpers.models import ProjectionHead, SmallCNN

from .base import Exercise, Mistake, seeded_module, train_steps

# ----------------------------------------------------------------------------------------------------
# random-resized-crop boxes from given uniform draws
# ----------------------------------------------------------------------------------------------------


def course_crop_boxes(u_area, u_ratio, u_position, size, scale, ratio):
    """The course's crop maths for square images of side `size` (`crop_boxes_from_uniforms` with H = W = size)."""
    return crop_boxes_from_uniforms(u_area, u_ratio, u_position, size, size, scale, ratio)


def solution_crop_boxes(u_area, u_ratio, u_position, size, scale, ratio):
    # BEGIN SOLUTION
    import math

    import torch
    area = size * size * (scale[0] + (scale[1] - scale[0]) * u_area)                 # (N, A): a fraction of the area
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u_ratio
    aspect = torch.exp(log_r)                                                          # log-uniform w / h
    w, h = torch.sqrt(area * aspect), torch.sqrt(area / aspect)
    fits = (w <= size) & (h <= size)                                                   # (N, A)
    first = fits.float().argmax(dim=1, keepdim=True)                                   # the first attempt that fits
    w = torch.where(fits.any(1), w.gather(1, first)[:, 0], torch.full_like(w[:, 0], size))   # else: whole image
    h = torch.where(fits.any(1), h.gather(1, first)[:, 0], torch.full_like(h[:, 0], size))
    top, left = (size - h) * u_position[:, 0], (size - w) * u_position[:, 1]          # inside the image
    return torch.stack([top, left, h, w], dim=1)
    # END SOLUTION


def _sizes(u_area, u_ratio, size, scale, ratio, uniform_ratio=False, side=False):
    if side:                                            # the scale drawn for the side, not the area
        fraction = scale[0] + (scale[1] - scale[0]) * u_area
        area = (size * fraction) ** 2
    else:
        area = size * size * (scale[0] + (scale[1] - scale[0]) * u_area)
    if uniform_ratio:
        aspect = ratio[0] + (ratio[1] - ratio[0]) * u_ratio
    else:
        aspect = torch.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u_ratio)
    return (area * aspect).sqrt(), (area / aspect).sqrt()                              # w, h


def _pick(w, h, size, rule="first"):
    """Per image: the first fitting attempt ('first'), attempt 0 always ('attempt 0'), the first fitting one or
    else attempt 0 ('no fallback'); then the whole image where nothing fits (except 'attempt 0', 'no fallback')."""
    fits = (w <= size) & (h <= size)
    rows = torch.arange(len(w))
    if rule == "attempt 0":
        return w[:, 0], h[:, 0]
    index = torch.where(fits.any(1), fits.float().argmax(1), torch.zeros_like(rows))
    w_kept, h_kept = w[rows, index], h[rows, index]
    if rule == "no fallback":
        return w_kept, h_kept
    whole = torch.full_like(w_kept, float(size))
    return torch.where(fits.any(1), w_kept, whole), torch.where(fits.any(1), h_kept, whole)


def _place(w, h, u_position, size):
    return torch.stack([(size - h) * u_position[:, 0], (size - w) * u_position[:, 1], h, w], 1)


def _one_box(u_area, u_ratio, u_position, size, scale, ratio):
    n = len(u_area)
    return course_crop_boxes(u_area[:1].expand(n, -1), u_ratio[:1].expand(n, -1), u_position[:1].expand(n, -1),
                             size, scale, ratio)


def _uniform_ratio(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _pick(*_sizes(u_area, u_ratio, size, scale, ratio, uniform_ratio=True), size)
    return _place(w, h, u_position, size)


def _swapped(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _sizes(u_area, u_ratio, size, scale, ratio)
    w, h = _pick(h, w, size)
    return _place(w, h, u_position, size)


def _leaves_image(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _pick(*_sizes(u_area, u_ratio, size, scale, ratio), size)
    return torch.stack([size * u_position[:, 0], size * u_position[:, 1], h, w], 1)


def _side_scale(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _pick(*_sizes(u_area, u_ratio, size, scale, ratio, side=True), size)
    return _place(w, h, u_position, size)


def _first_attempt(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _pick(*_sizes(u_area, u_ratio, size, scale, ratio), size, rule="attempt 0")
    return _place(w, h, u_position, size)


def _no_fallback(u_area, u_ratio, u_position, size, scale, ratio):
    w, h = _pick(*_sizes(u_area, u_ratio, size, scale, ratio), size, rule="no fallback")
    return _place(w, h, u_position, size)


def _top_left_swapped(u_area, u_ratio, u_position, size, scale, ratio):
    return course_crop_boxes(u_area, u_ratio, u_position.flip(1), size, scale, ratio)


def _crop_cases():
    def random(n, attempts, size, scale, ratio, dtype=torch.float32, seed=0):
        def make():
            gen = torch.Generator().manual_seed(seed)
            u = [torch.rand(n, k, generator=gen, dtype=dtype) for k in (attempts, attempts, 2)]
            return (*u, size, scale, ratio)
        return make

    def chosen():
        """Image 0: attempt 0 too wide, attempt 1 fits; image 1: nothing fits (the whole image); image 2: attempt 0
        fits. (Area 95% with aspect 1.4 is wider than the image; area 40% with aspect 0.8 fits.)"""
        u_area = torch.tensor([[0.95, 0.1], [0.95, 0.99], [0.2, 0.99]])
        u_ratio = torch.tensor([[0.99, 0.3], [0.99, 0.0], [0.5, 0.5]])
        u_position = torch.tensor([[0.25, 0.75], [0.5, 0.5], [0.9, 0.1]])
        return u_area, u_ratio, u_position, 12, (0.3, 1.0), (0.7, 1.4)

    def identical():                    # every image with the same draws: the same box for all
        return (torch.full((3, 2), 0.3), torch.full((3, 2), 0.8), torch.full((3, 2), 0.6), 16, (0.08, 1.0),
                (0.75, 4 / 3))

    return [chosen, random(2, 1, 12, (0.35, 1.0), (0.7, 1.4)), random(6, 3, 16, (0.08, 1.0), (0.75, 4 / 3), seed=1),
            random(5, 10, 32, (0.2, 1.0), (0.5, 2.0), torch.float64, seed=2), identical]


def _crop_diagnose(args, got, want):
    u_area, _, _, size, _, _ = args
    if not isinstance(got, torch.Tensor) or got.shape != (len(u_area), 4):
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return f"Return one box per image, (N, 4) = ({len(u_area)}, 4) as (top, left, h, w); yours is {shape}."
    top, left, h, w = got.double().unbind(1)
    outside = (top < -1e-6) | (left < -1e-6) | (top + h > size + 1e-6) | (left + w > size + 1e-6)
    if outside.any():
        i = int(outside.nonzero()[0])
        return (f"Box {i} leaves the {size}x{size} image (top {top[i]:.2f}, left {left[i]:.2f}, h {h[i]:.2f}, "
                f"w {w[i]:.2f}): keep a box that fits and place it inside, top = (size - h) * u_position[:, 0].")
    if torch.allclose(got.double()[:, 2:], want.double()[:, 2:], atol=1e-5):
        return "Your box sizes are right, the positions are not: top = (size - h) * u_position[:, 0], left = " \
               "(size - w) * u_position[:, 1]."
    return None


crop_exercise = Exercise(
    name="crop boxes",
    reference=course_crop_boxes,
    cases=_crop_cases(),
    mistakes=[
        Mistake("one box", "Every image got the first image's box: each row of the draws gives its own image's "
                "box (no [0] anywhere; work on whole (N, A) tensors).", _one_box),
        Mistake("uniform ratio", "Your aspect ratio is uniform on (r_lo, r_hi); it is log-uniform, "
                "exp(log r_lo + (log r_hi - log r_lo) u), so a box and its transpose (r and 1/r) are equally "
                "likely.", _uniform_ratio),
        Mistake("h and w swapped", "Your h and w are swapped: the aspect ratio is w / h, so w = sqrt(area * aspect) "
                "and h = sqrt(area / aspect).", _swapped),
        Mistake("leaves the image", "Your boxes can stick out of the image: the top-left corner is placed where "
                "the whole box fits, top = (size - h) * u, left = (size - w) * u.", _leaves_image),
        Mistake("side scale", "You applied the scale to the side; it is a fraction of the AREA: "
                "area = size^2 * (s_lo + (s_hi - s_lo) u), then w and h are square roots.", _side_scale),
        Mistake("attempt 0", "You always keep attempt 0, even when it does not fit the image: keep the FIRST "
                "attempt with w <= size and h <= size, and the whole image when none fits.", _first_attempt),
        Mistake("no fallback", "When no attempt fits, your box is still attempt 0 (too large for the image): the "
                "fallback is the whole image, h = w = size.", _no_fallback),
        Mistake("top and left swapped", "Your top and left use each other's draw: top = (size - h) * "
                "u_position[:, 0], left = (size - w) * u_position[:, 1].", _top_left_swapped),
    ],
    hints=(
        "Each image gets its own box, from its own row of draws: a random fraction of the AREA and a log-uniform "
        "aspect ratio w / h fix the box's size; the first attempt whose box fits inside the image wins (the whole "
        "image if none does); the position draws then place the box so that it stays inside.",
        "Work on whole (N, A) tensors: area and aspect from the uniforms, w and h as square roots, a boolean "
        "'fits' per attempt, the first fitting column per row (argmax of the booleans, with a fallback where a row "
        "has none), then top and left from the room left over, (size - h) and (size - w).",
        "area = size ** 2 * (lo + (hi - lo) * u_area); aspect = torch.exp(math.log(r_lo) + (math.log(r_hi) - "
        "math.log(r_lo)) * u_ratio); w, h = torch.sqrt(area * aspect), torch.sqrt(area / aspect); "
        "fits = (w <= size) & (h <= size); first = fits.float().argmax(1, keepdim=True); ...; "
        "top = (size - h) * u_position[:, 0]",
    ),
    solution_fn=solution_crop_boxes,
    diagnose=_crop_diagnose,
    gradient=False,  # boxes are sampling parameters, never differentiated: boxes built from Python numbers are fine
)


# ----------------------------------------------------------------------------------------------------
# partner accuracy: does each of the 2N views pick out its partner?
# ----------------------------------------------------------------------------------------------------


def solution_partner_accuracy(z_a, z_b):
    # BEGIN SOLUTION
    import torch
    import torch.nn.functional as F
    n = len(z_a)
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)                  # (2N, D) unit vectors
    s = z @ z.T                                                    # (2N, 2N) cosine similarities
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])  # row i's partner: i + N, or i - N
    positive = s[torch.arange(2 * n), partner]
    others = s.clone()
    others.fill_diagonal_(float("-inf"))                           # a view is not its own candidate
    others[torch.arange(2 * n), partner] = float("-inf")
    return (positive > others.max(dim=1).values).float().mean().item()
    # END SOLUTION


def _cosine(z_a, z_b):
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    return z @ z.T


def _found(s, partner, strict=True, exclude_self=True):
    s = s.clone()
    rows = torch.arange(len(s))
    positive = s[rows, partner].clone()
    if exclude_self:
        s[rows, rows] = float("-inf")
    s[rows, partner] = float("-inf")
    best = s.max(1).values
    return positive > best if strict else positive >= best


def _partners(n):
    return (torch.arange(2 * n) + n) % (2 * n)


def _self_included(z_a, z_b):
    return float(_found(_cosine(z_a, z_b), _partners(len(z_a)), exclude_self=False).float().mean())


def _ties_count(z_a, z_b):
    return float(_found(_cosine(z_a, z_b), _partners(len(z_a)), strict=False).float().mean())


def _interleaved(z_a, z_b):
    return float(_found(_cosine(z_a, z_b), torch.arange(2 * len(z_a)) ^ 1).float().mean())


def _first_half(z_a, z_b):
    return float(_found(_cosine(z_a, z_b), _partners(len(z_a)))[:len(z_a)].float().mean())


def _dot_product(z_a, z_b):
    z = torch.cat([z_a, z_b])
    return float(_found(z @ z.T, _partners(len(z_a))).float().mean())


def _other_view_only(z_a, z_b):
    s = F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T           # (N, N): the other view's N candidates
    eye = torch.eye(len(z_a), dtype=torch.bool)
    a_found = s.diagonal() > s.masked_fill(eye, float("-inf")).max(1).values
    b_found = s.diagonal() > s.masked_fill(eye, float("-inf")).max(0).values
    return float(torch.cat([a_found, b_found]).float().mean())


def _argmax(z_a, z_b):
    s = _cosine(z_a, z_b)
    s.fill_diagonal_(float("-inf"))
    return float((s.argmax(dim=1) == _partners(len(z_a))).float().mean())


def _percent(z_a, z_b):
    return 100 * _course_partner_accuracy(z_a, z_b)


def _count(z_a, z_b):
    return float(_found(_cosine(z_a, z_b), _partners(len(z_a))).sum())


def _partner_cases():
    def views(n, d, noise, dtype=torch.float32, seed=0, scales=False):
        def make():
            gen = torch.Generator().manual_seed(seed)
            z_a = torch.randn(n, d, generator=gen, dtype=dtype)
            z_b = z_a + noise * torch.randn(n, d, generator=gen, dtype=dtype)
            if scales:                  # very different lengths: only the direction may count
                z_a = z_a * torch.logspace(-2, 2, n, dtype=dtype)[:, None]
            return z_a, z_b
        return make

    def identical():                    # a batch whose projections are all equal: every view ties, none is found
        z = torch.tensor([[3.0, 4.0]]).expand(3, 2).clone()
        return z, z.clone()

    def chosen():
        """N = 2, D = 2, by hand: a0 and b0 point one way, a1 and b1 nearly the other; b1's nearest other view
        is a0 (via cos 0.8 against cos 0.6), so 3 of the 4 views find their partner."""
        z_a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        z_b = torch.tensor([[0.9, 0.1], [0.8, 0.6]])
        return z_a, z_b

    return [chosen, views(4, 8, 0.8), views(2, 3, 0.5, seed=1), views(6, 5, 1.0, torch.float64, seed=2),
            views(8, 4, 0.7, seed=3, scales=True), views(16, 16, 1.2, seed=4), identical]


def _partner_diagnose(args, got, want):
    try:
        value = float(torch.as_tensor(got))
    except Exception:
        return (f"Return one number, the fraction of the 2N views that found their partner; yours is "
                f"{type(got).__name__}.")
    if not 0.0 <= value <= 1.0:
        return (f"Your result {value:.3g} is outside [0, 1]: return the fraction of the 2N views, not a count or "
                f"a percentage.")
    z_a, z_b = args
    z = F.normalize(torch.cat([z_a, z_b]).double(), dim=1)
    if bool(torch.allclose(z, z[:1].expand_as(z))):
        return (f"On a batch whose views are all alike (every cosine equal: a tie everywhere) you return {value:.3g}; "
                f"a view is right only when its partner is STRICTLY more similar than every other view, so a "
                f"collapsed encoder scores 0 (argmax, or >=, lets a tie count).")
    return None


partner_exercise = Exercise(
    name="partner accuracy",
    reference=_course_partner_accuracy,
    cases=_partner_cases(),
    mistakes=[
        Mistake("self included", "Each view compared itself too (the diagonal, cosine 1) and so never finds its "
                "partner: set the diagonal of the (2N, 2N) similarity matrix to -inf first.", _self_included),
        Mistake("ties count", "You counted ties as found (>=); a view finds its partner only when the partner is "
                "strictly more similar than every other view, so a collapsed encoder (all projections equal) "
                "scores 0, not 1.", _ties_count),
        Mistake("interleaved", "Your partners are neighbours (rows 2k and 2k + 1); with z = [z_a; z_b] the partner "
                "of row i is row (i + N) mod 2N.", _interleaved),
        Mistake("first half", "You scored only the N views of z_a; each of the 2N views (z_b's too) is an anchor, "
                "and the fraction is over 2N.", _first_half),
        Mistake("dot product", "You compared raw dot products; similarity is the cosine: L2-normalise the rows "
                "(F.normalize(z, dim=1)) first, so a long vector does not win by its length.", _dot_product),
        Mistake("other view only", "Your candidates are the N views of the other side only; NT-Xent's softmax, "
                "and this accuracy, are over all 2N - 1 other views, the same side's included.", _other_view_only),
        Mistake("argmax on ties", "Right wherever one view is the most similar, but on a tie argmax picks the first "
                "of the tied views, which is sometimes the partner: the statement counts a view as right only when "
                "its partner is STRICTLY more similar than every other view (compare with the best of the others "
                "using >), so that a collapsed encoder scores 0.", _argmax),
        Mistake("percent", "Right, but in percent: return the fraction in [0, 1].", _percent),
        Mistake("count", "You returned the number of views that found their partner: divide by 2N.", _count),
    ],
    hints=(
        "Each of the 2N views asks: among the 2N - 1 other views, is my partner (the other view of my image) the "
        "most similar by cosine, strictly? A tie is not a success, so a collapsed encoder, whose views are all "
        "alike, scores 0. The answer is the fraction of the 2N views that succeed.",
        "Normalise the stacked views, take every cosine with one matrix product, read each row's partner entry, "
        "then rule out the diagonal and the partner (-inf) and compare the partner's cosine with the best of the "
        "rest using a strict >.",
        "z = F.normalize(torch.cat([z_a, z_b]), dim=1); s = z @ z.T; partner = (torch.arange(2 * N) + N) % (2 * N); "
        "positive = s[torch.arange(2 * N), partner]; s.fill_diagonal_(float('-inf')); "
        "s[torch.arange(2 * N), partner] = float('-inf'); return (positive > s.max(1).values).float().mean().item()",
    ),
    solution_fn=solution_partner_accuracy,
    diagnose=_partner_diagnose,
)

# ----------------------------------------------------------------------------------------------------
# the SimCLR training step: (encoder, head, images, augment, generator, temperature) -> loss
# ----------------------------------------------------------------------------------------------------


def course_simclr_step(encoder, head, images, augment, generator, temperature):
    """The course's SimCLR step: two views drawn from `generator` (view a first), one batch of 2N through the
    encoder and the head, NT-Xent between the two halves."""
    n = images.shape[0]
    views = torch.cat([augment(images, generator), augment(images, generator)])
    z = head(encoder(views))
    return _course_nt_xent(z[:n], z[n:], temperature, gather=False)


def solution_simclr_step(encoder, head, images, augment, generator, temperature):
    # BEGIN SOLUTION
    import torch
    from ssl_helpers.losses import nt_xent
    n = images.shape[0]
    views = torch.cat([augment(images, generator), augment(images, generator)])   # (2N, C, H, W): two views
    z = head(encoder(views))                                                     # (2N, D): g(f(.)), one batch
    return nt_xent(z[:n], z[n:], temperature)                                    # view a of image i vs view b
    # END SOLUTION


def _simclr(encoder, head, images, augment, generator, temperature, views="two", use_head=True, split="halves",
            frozen=False, t=None):
    n = images.shape[0]
    if views == "two":
        x = torch.cat([augment(images, generator), augment(images, generator)])
    elif views == "same":
        one = augment(images, generator)
        x = torch.cat([one, one])
    elif views == "original":
        x = torch.cat([images, augment(images, generator)])
    else:
        x = torch.cat([images, images])
    h = encoder(x)
    if frozen:
        h = h.detach()
    z = head(h) if use_head else h
    z_a, z_b = (z[:n], z[n:]) if split == "halves" else (z[0::2], z[1::2])
    return _course_nt_xent(z_a, z_b, temperature if t is None else t, gather=False)


def _case_augment(images, generator):
    """A small per-image augmentation for the check: a random brightness, contrast and shift of each image, drawn
    as one (N, 3) uniform tensor from `generator`. Two calls on N images draw what one call on the 2N stacked
    images draws, so both ways of making the views give the same views."""
    u = torch.rand(images.shape[0], 3, generator=generator).to(images.dtype)
    contrast, brightness, shift = 0.6 + 0.8 * u[:, 0], 0.2 * u[:, 1] - 0.1, (2 * u[:, 2]).floor()
    out = images * contrast[:, None, None, None] + brightness[:, None, None, None]
    rolled = out.roll(1, dims=-1)
    keep = shift[:, None, None, None]
    return out * (1 - keep) + rolled * keep


def _simclr_cases():
    def case(n, channels, size, temperature, seed):
        def make():
            encoder = seeded_module(lambda: nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, 8),
                                                          nn.ReLU()), seed)
            head = seeded_module(lambda: nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4)), seed + 1)
            images = torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))
            return encoder, head, images, _case_augment, torch.Generator().manual_seed(seed + 2), temperature
        return make

    return [case(4, 1, 4, 0.5, 0), case(3, 3, 4, 0.1, 10), case(2, 1, 5, 1.0, 20)]


def _simclr_diagnose(args, got, want):
    value = torch.as_tensor(got) if not isinstance(got, torch.Tensor) else got
    if value.numel() != 1:
        return f"Return one number, the NT-Xent loss of the batch (a 0-d tensor); yours has shape {tuple(value.shape)}."
    return None


def _views_drawn(fn):
    """How many images the student's function asked `augment` for: 2N (two views) is right."""
    encoder, head, images, _, generator, temperature = _simclr_cases()[0]()
    drawn = []

    def counting(x, g):
        drawn.append(x.shape[0])
        return _case_augment(x, g)
    try:
        fn(encoder, head, images, counting, generator, temperature)
    except Exception:
        return None
    if sum(drawn) != 2 * len(images):
        return (f"Your function asked augment for {sum(drawn)} views of the N = {len(images)} images; SimCLR draws "
                f"two independent views of every image, 2N in all: augment(images, generator) twice (view a first), "
                f"or once on the images stacked twice.")
    return None


def _simclr_demo(fn, images, augment, temperature: float = 0.5, steps: int = 30) -> str:
    """A fresh small CNN and projection head trained for `steps` Adam steps with `fn` on 64 of `images` (CPU),
    then the partner accuracy of two fresh views of them."""
    images = images[:64].float().cpu()
    encoder = seeded_module(lambda: SmallCNN(images.shape[1], width=8), 0)
    head = seeded_module(lambda: ProjectionHead(encoder.out_dim, 64, 32), 1)
    generator = torch.Generator().manual_seed(0)
    losses = train_steps(lambda i: fn(encoder, head, images, augment, generator, temperature),
                         [*encoder.parameters(), *head.parameters()], steps, 3e-3)
    return (f"The SimCLR step in use, on a fresh small CNN: {steps} Adam steps on {len(images)} images "
            f"({2 * len(images)} views), NT-Xent {losses[0]:.3f} -> {losses[-1]:.3f} "
            f"(log(2N - 1) = {math.log(2 * len(images) - 1):.3f} when nothing is told apart)")


simclr_step_exercise = Exercise(
    name="SimCLR step",
    reference=course_simclr_step,
    cases=_simclr_cases(),
    mistakes=[
        Mistake("same view twice", "Both views are the same draw (augment called once and used twice): the positive "
                "pairs are identical and the task is trivial. Call augment twice, two independent views.",
                lambda e, h, x, a, g, t: _simclr(e, h, x, a, g, t, views="same")),
        Mistake("one view un-augmented", "One of your views is the image itself: SimCLR augments BOTH views, so the "
                "network cannot match a view to the clean image by its untouched look.",
                lambda e, h, x, a, g, t: _simclr(e, h, x, a, g, t, views="original")),
        Mistake("no augmentation", "No augmentation at all: both views are the image itself, so every positive "
                "pair is identical. The views must be augment(images, generator), twice.",
                lambda e, h, x, a, g, t: _simclr(e, h, x, a, g, t, views="none")),
        Mistake("no head", "Your loss is on the encoder's features h; SimCLR's loss is on the projections "
                "z = head(encoder(views)) (the head is dropped after pre-training, h is kept).",
                lambda e, h, x, a, g, t: _simclr(e, h, x, a, g, t, use_head=False)),
        Mistake("pairs interleaved", "Your pairs are rows 2k and 2k + 1; with views = cat([view a, view b]) the "
                "partner of row i is row i + N: split z into z[:N] and z[N:].",
                lambda e, h, x, a, g, t: _simclr(e, h, x, a, g, t, split="interleaved")),
        Mistake("temperature ignored", "The temperature given was not used (0.5 everywhere): pass it to nt_xent.",
                lambda e, h, x, a, g, t: _simclr(e, h, x, a, g, t, t=0.5)),
        Mistake("encoder frozen", "Right value, but no gradient reaches the encoder: its output is detached (or "
                "computed under torch.no_grad()), so only the head learns and the encoder, what SimCLR is for, "
                "stays random.", lambda e, h, x, a, g, t: _simclr(e, h, x, a, g, t, frozen=True), by_gradient=True),
    ],
    hints=(
        "Two different random views of every image; both go through the same encoder and head; NT-Xent then asks "
        "each view to pick out the other view of its own image among all the others. The gradient must reach "
        "the encoder, the part SimCLR trains.",
        "Call augment twice with the generator (view a, then view b), stack the views into one batch of 2N, run "
        "encoder then head on it, split the projections back into the two halves and give them to nt_xent with "
        "the temperature.",
        "views = torch.cat([augment(images, generator), augment(images, generator)]); z = head(encoder(views)); "
        "return nt_xent(z[:N], z[N:], temperature)",
    ),
    solution_fn=solution_simclr_step,
    diagnose=_simclr_diagnose,
    inspections=[_views_drawn],
    demo=_simclr_demo,
    gradient=True,
    grad_args=(),
    loss=True,
    idea=True,
)

EXERCISES = {"06_simclr": [crop_exercise, partner_exercise, simclr_step_exercise]}
SOLUTIONS = {"crop_boxes": solution_crop_boxes, "partner_accuracy": solution_partner_accuracy,
             "simclr_step": solution_simclr_step}
