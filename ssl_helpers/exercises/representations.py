"""Exercises of notebook 08 (predicting representations): I-JEPA's target-block loss, and DINO's loss with its
centering and sharpening (the notebook's idea, its last exercise).

    I-JEPA target-block loss:  s_y = target_tokens[n, target_ids[n, m, t]]   (N, M, T, D): the target encoder's
                               tokens of each target block;  L = mean over n, m, t, d of
                               (predicted - LN(sg(s_y)))^2, LN the layer norm over the D features without affine
                               (variance with 1/D, eps 1e-5), sg the stop-gradient.
                               The course's: `ssl_helpers.losses.ijepa_loss` (after `models.gather_tokens`).
    DINO loss:                 P_t^i = softmax((t_i - c) / T_t) (centred, sharpened, no gradient), log P_s^j =
                               log_softmax(s_j / T_s);  L = mean over the G (V - 1) pairs i != j of
                               -(1/N) sum_n sum_k P_t^i[n, k] log P_s^j[n, k].  The course's:
                               `ssl_helpers.losses.dino_loss` (views given as lists; here stacked tensors).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_helpers.losses import dino_loss as _course_dino_loss
from ssl_helpers.losses import ijepa_loss as _course_ijepa_loss
from ssl_helpers.models import gather_tokens

from .base import Exercise, Mistake

# ----------------------------------------------------------------------------------------------------
# I-JEPA: fn(predicted (N, M, T, D), target_tokens (N, L, D), target_ids (N, M, T)) -> loss
# ----------------------------------------------------------------------------------------------------


def course_ijepa_block_loss(predicted, target_tokens, target_ids):
    """The course's I-JEPA loss on the target blocks: gather the blocks' tokens, then `ijepa_loss`."""
    return _course_ijepa_loss(predicted.flatten(1, 2), gather_tokens(target_tokens, target_ids).flatten(1, 2))


def solution_ijepa_block_loss(predicted, target_tokens, target_ids):
    # BEGIN SOLUTION
    import torch.nn.functional as F

    n, d = target_tokens.shape[0], target_tokens.shape[-1]
    index = target_ids.reshape(n, -1, 1).expand(-1, -1, d)                  # (N, M*T, D)
    s_y = target_tokens.detach().gather(1, index).reshape(predicted.shape)   # the blocks' tokens, no gradient
    s_y = F.layer_norm(s_y, (d,))                                            # over the D features, no affine
    return F.mse_loss(predicted, s_y)                                        # mean over N, M, T and D
    # END SOLUTION


def _ijepa(predicted, target_tokens, target_ids, norm="features", stop=True, distance="squared", reduce="mean",
           positions="blocks", normalise_prediction=False, unbiased=False):
    tokens = target_tokens.detach() if stop else target_tokens
    if positions == "blocks":
        s_y = gather_tokens(tokens, target_ids)
    elif positions == "first":                                  # the first T*M tokens, whatever the ids say
        n, m, t = target_ids.shape
        s_y = tokens[:, :m * t].reshape(n, m, t, -1)
    else:                                                       # the ids used along the feature axis
        s_y = tokens.gather(2, target_ids.reshape(target_ids.shape[0], 1, -1)[..., :tokens.shape[2]]
                            .expand(-1, tokens.shape[1], -1) % tokens.shape[2])
        s_y = s_y[:, :target_ids.shape[1] * target_ids.shape[2]].reshape(predicted.shape)
    if norm == "features":
        if unbiased:
            s_y = (s_y - s_y.mean(-1, keepdim=True)) / (s_y.var(-1, keepdim=True, unbiased=True) + 1e-5).sqrt()
        else:
            s_y = F.layer_norm(s_y, (s_y.shape[-1],))
    elif norm == "tokens":
        s_y = (s_y - s_y.mean(-2, keepdim=True)) / (s_y.var(-2, keepdim=True, unbiased=False) + 1e-5).sqrt()
    if normalise_prediction:
        predicted = F.layer_norm(predicted, (predicted.shape[-1],))
    if distance == "squared":
        error = (predicted - s_y).pow(2)
    elif distance == "smooth_l1":
        error = F.smooth_l1_loss(predicted, s_y, reduction="none")
    else:
        error = (predicted - s_y).abs()
    if reduce == "mean":
        return error.mean()
    if reduce == "sum_features":
        return error.sum(-1).mean()
    return error.sum()


def _ijepa_cases():
    def random(n, m, t, length, d, dtype=torch.float32, seed=0, scale=1.0, shift=0.0):
        def make():
            g = torch.Generator().manual_seed(seed)
            tokens = scale * torch.randn(n, length, d, generator=g, dtype=dtype) + shift
            ids = torch.stack([torch.stack([torch.randperm(length, generator=g)[:t].sort().values
                                            for _ in range(m)]) for _ in range(n)])
            predicted = torch.randn(n, m, t, d, generator=g, dtype=dtype)
            return predicted, tokens, ids
        return make

    return [random(2, 4, 3, 16, 8), random(3, 2, 4, 36, 6, torch.float64, seed=1, scale=5.0, shift=2.0),
            random(1, 1, 2, 9, 5, seed=2, scale=0.1, shift=-3.0), random(4, 3, 2, 12, 4, seed=3)]


ijepa_exercise = Exercise(
    name="I-JEPA loss",
    reference=course_ijepa_block_loss,
    cases=_ijepa_cases(),
    mistakes=[
        Mistake("no stop-gradient", "Right value, but a gradient flows into the target encoder's tokens: detach "
                "them (the target encoder is the EMA of the context encoder and is never trained by gradients).",
                lambda *a: _ijepa(*a, stop=False), by_gradient=True),
        Mistake("no layer norm", "The targets are not layer-normalised: normalise each target token over its D "
                "features (F.layer_norm(s_y, (D,)), no affine) before comparing.", lambda *a: _ijepa(*a, norm=None)),
        Mistake("normalised over tokens", "You normalised each feature across the tokens; I-JEPA normalises each "
                "token across its D features (the last axis), as a layer norm does.",
                lambda *a: _ijepa(*a, norm="tokens")),
        Mistake("prediction normalised", "You layer-normalised the prediction too: only the TARGET is normalised; "
                "the predictor learns to output normalised features itself.",
                lambda *a: _ijepa(*a, normalise_prediction=True)),
        Mistake("wrong tokens", "You compared the prediction with the first M*T tokens of the image, not with the "
                "target blocks' tokens: pick each image's tokens at target_ids (gather along the token axis).",
                lambda *a: _ijepa(*a, positions="first")),
        Mistake("smooth L1", "That is the smooth L1 loss of the authors' code; the statement asks for the squared "
                "error of the paper's equation (F.mse_loss).", lambda *a: _ijepa(*a, distance="smooth_l1")),
        Mistake("L1", "That is the absolute error; the loss is the SQUARED error.", lambda *a: _ijepa(*a, distance="l1")),
        Mistake("summed over features", "The squared error is summed over the D features: the loss is its mean over "
                "N, M, T and D, so that its scale does not grow with D.",
                lambda *a: _ijepa(*a, reduce="sum_features")),
        Mistake("summed", "The squared error is summed: take the mean over every element.",
                lambda *a: _ijepa(*a, reduce="sum")),
        Mistake("unbiased variance", "Your layer norm divides by the unbiased variance (1/(D - 1), torch's default "
                "for .var() and .std()); a layer norm uses 1/D (unbiased=False, or F.layer_norm).",
                lambda *a: _ijepa(*a, unbiased=True)),
    ],
    hints=(
        "The predictor guesses what the target encoder says about each hidden token. So the target of each "
        "prediction is the target encoder's token at the same place, normalised over its features (a layer norm "
        "without learned scale), and it is a fixed target: no gradient may reach the target encoder. The loss is "
        "the mean squared difference over every image, block, token and feature.",
        "Cut target_tokens from the graph with .detach(), gather each image's tokens at target_ids along the token "
        "axis (flatten the M blocks of T ids to M*T, expand the index over D, reshape back to (N, M, T, D)), apply "
        "F.layer_norm over the last axis, then F.mse_loss against predicted.",
        "index = target_ids.reshape(N, -1, 1).expand(-1, -1, D); s_y = target_tokens.detach().gather(1, index)"
        ".reshape(predicted.shape); return F.mse_loss(predicted, F.layer_norm(s_y, (D,)))",
    ),
    solution_fn=solution_ijepa_block_loss,
    loss=True,
)


# ----------------------------------------------------------------------------------------------------
# DINO: fn(student (V, N, K), teacher (G, N, K), center (K,), student_temperature, teacher_temperature) -> loss
# ----------------------------------------------------------------------------------------------------


def course_dino_loss(student, teacher, center, student_temperature, teacher_temperature):
    """The course's `dino_loss` on stacked views: student (V, N, K), teacher (G, N, K), the G global views first."""
    return _course_dino_loss(list(student), list(teacher), center, student_temperature, teacher_temperature)


def solution_dino_loss(student, teacher, center, student_temperature, teacher_temperature):
    # BEGIN SOLUTION
    import torch

    p_t = torch.softmax((teacher - center).detach() / teacher_temperature, dim=-1)   # (G, N, K): centred, sharp
    log_p_s = torch.log_softmax(student / student_temperature, dim=-1)               # (V, N, K)
    total, pairs = 0.0, 0
    for i in range(len(p_t)):                          # teacher view i (a global crop)
        for j in range(len(log_p_s)):                  # student view j (any crop)
            if i == j:                                 # the same crop: nothing to predict
                continue
            total = total - (p_t[i] * log_p_s[j]).sum(dim=-1).mean()
            pairs += 1
    return total / pairs
    # END SOLUTION


def _dino(student, teacher, center, ts, tt, centre="teacher", teacher_t=None, student_t=None, skip_same=True,
          direction="teacher", softmax_dim=-1, reduce="mean", stop=True, normaliser="pairs", subtract_after=False):
    teacher_t = tt if teacher_t is None else teacher_t
    student_t = ts if student_t is None else student_t
    t = teacher.detach() if stop else teacher
    c = center.detach() if stop else center
    if centre == "teacher":
        t = t - c
    s = student - c if centre == "student" else student
    p_t = torch.softmax(t / teacher_t, dim=softmax_dim)
    if subtract_after:
        p_t = torch.softmax(teacher.detach() / teacher_t, dim=softmax_dim) - c
    log_p_s = torch.log_softmax(s / student_t, dim=softmax_dim)
    total, pairs = 0.0, 0
    for i in range(len(p_t)):
        for j in range(len(log_p_s)):
            if skip_same and i == j:
                continue
            if direction == "teacher":
                cross = -(p_t[i] * log_p_s[j]).sum(dim=-1)
            else:                                           # the student's distribution as the target
                cross = -(log_p_s[j].exp() * torch.log(p_t[i].clamp_min(1e-30))).sum(dim=-1)
            total = total + (cross.mean() if reduce == "mean" else cross.sum())
            pairs += 1
    if normaliser == "pairs":
        return total / pairs
    if normaliser == "views":
        return total / len(log_p_s)
    return total


def _dino_cases():
    def random(g_views, v_views, n, k, dtype=torch.float32, seed=0, scale=1.0, centred=True):
        def make():
            g = torch.Generator().manual_seed(seed)
            student = scale * torch.randn(v_views, n, k, generator=g, dtype=dtype)
            teacher = scale * torch.randn(g_views, n, k, generator=g, dtype=dtype)
            center = (0.5 * torch.randn(k, generator=g, dtype=dtype) if centred else torch.zeros(k, dtype=dtype))
            return student, teacher, center, 0.1, 0.04
        return make

    def temperatures(ts, tt, seed):
        def make():
            student, teacher, center, _, _ = random(2, 3, 4, 5, seed=seed)()
            return student, teacher, center, ts, tt
        return make

    return [random(2, 6, 4, 8), random(2, 2, 3, 5, torch.float64, seed=1), random(1, 3, 5, 4, seed=2, scale=0.3),
            temperatures(0.5, 0.2, 3), temperatures(1.0, 1.0, 4)]


dino_exercise = Exercise(
    name="DINO loss",
    reference=course_dino_loss,
    cases=_dino_cases(),
    mistakes=[
        Mistake("no stop-gradient", "Right value, but a gradient flows into the teacher (or the center): detach "
                "them. The teacher is the EMA of the student and learns no other way.",
                lambda *a: _dino(*a, stop=False), by_gradient=True),
        Mistake("no centering", "The teacher is not centred: subtract the center c from the teacher's logits "
                "before its softmax, softmax((t - c) / T_t).", lambda *a: _dino(*a, centre=None)),
        Mistake("student centred", "You subtracted the center from the STUDENT's logits: centering is applied to "
                "the teacher only.", lambda *a: _dino(*a, centre="student")),
        Mistake("centred after the softmax", "You subtracted the center after the softmax: c is a mean of "
                "LOGITS, subtracted from the teacher's logits before the softmax.",
                lambda *a: _dino(*a, subtract_after=True)),
        Mistake("temperatures swapped", "The temperatures are swapped: the teacher is divided by T_t (the low one, "
                "sharpening it), the student by T_s.",
                lambda s, t, c, ts, tt: _dino(s, t, c, ts, tt, teacher_t=ts, student_t=tt)),
        Mistake("no sharpening", "The teacher is divided by the student's temperature: without the teacher's own "
                "lower T_t nothing sharpens it.", lambda s, t, c, ts, tt: _dino(s, t, c, ts, tt, teacher_t=ts)),
        Mistake("same view", "You also scored each global view against itself (student view i = teacher view i): "
                "skip the pairs i == j.", lambda *a: _dino(*a, skip_same=False)),
        Mistake("direction", "The cross-entropy goes the wrong way: the teacher's distribution P_t is the target, "
                "-sum_k P_t log P_s, not the student's.", lambda *a: _dino(*a, direction="student")),
        Mistake("softmax over the batch", "The softmax runs over the batch (dim=0 of a view): DINO's distributions "
                "are over the K prototypes, the last axis.", lambda *a: _dino(*a, softmax_dim=-2)),
        Mistake("summed over the batch", "The cross-entropy is summed over the N images: take its mean.",
                lambda *a: _dino(*a, reduce="sum")),
        Mistake("not averaged over pairs", "The pairs' cross-entropies are added: divide by the number of pairs, "
                "G (V - 1).", lambda *a: _dino(*a, normaliser=None)),
        Mistake("averaged over views", "You divided by the number of student views V: the mean is over the "
                "G (V - 1) pairs.", lambda *a: _dino(*a, normaliser="views")),
    ],
    hints=(
        "The teacher turns each global view into a distribution over the K prototypes: its logits minus the running "
        "center (centering), divided by a LOW temperature (sharpening), through a softmax; it is a fixed target, so "
        "no gradient reaches the teacher or the center. The student's distribution for every OTHER view (global or "
        "local) should match it: a cross-entropy, averaged over the images and over every pair of different views.",
        "Teacher probabilities: softmax over the last axis of (teacher - center) / T_t, detached; student "
        "log-probabilities: log_softmax of student / T_s. Loop over teacher views i and student views j, skip "
        "i == j, add minus the mean over N of the sum over K of P_t[i] * log P_s[j], and divide by the number of "
        "pairs.",
        "p_t = torch.softmax((teacher - center).detach() / teacher_temperature, -1); log_p_s = "
        "torch.log_softmax(student / student_temperature, -1); sum over i != j of "
        "-(p_t[i] * log_p_s[j]).sum(-1).mean(), divided by the number of pairs",
    ),
    solution_fn=solution_dino_loss,
    loss=True,
    idea=True,
)

EXERCISES = {"08_predicting_representations": [ijepa_exercise, dino_exercise]}
SOLUTIONS = {"ijepa_block_loss": solution_ijepa_block_loss, "dino_loss": solution_dino_loss}
