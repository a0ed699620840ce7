"""Notebook 08's exercises (I-JEPA's target-block loss, DINO's loss): the published implementations get the verdict
the statements imply; each typical mistake, written here again as its own wrong implementation, is named."""
import pytest
import torch
import torch.nn.functional as F

from ssl_helpers.exercises.representations import dino_exercise, ijepa_exercise
from ssl_helpers.losses import dino_loss, ijepa_loss
from ssl_helpers.methods.ijepa import gather_tokens

# ---------------------------------------------------------------------------- I-JEPA's target-block loss


def student_ijepa(predicted, target_tokens, target_ids):
    """Right, written differently: a loop over the images, the layer norm by hand."""
    rows = []
    for n in range(len(predicted)):
        s_y = target_tokens[n].detach()[target_ids[n]]                    # (M, T, D)
        mean = s_y.mean(-1, keepdim=True)
        var = ((s_y - mean) ** 2).mean(-1, keepdim=True)
        rows.append(((predicted[n] - (s_y - mean) / torch.sqrt(var + 1e-5)) ** 2).reshape(-1))
    return torch.cat(rows).mean()


def course_style_ijepa(predicted, target_tokens, target_ids):
    """The course's own pieces: `gather_tokens` (methods/ijepa.py) and `ijepa_loss` (losses/masked.py)."""
    return ijepa_loss(predicted.flatten(1, 2), gather_tokens(target_tokens, target_ids).flatten(1, 2))


def ijepa_official_smooth_l1(predicted, target_tokens, target_ids):
    """facebookresearch/ijepa, src/train.py: h = F.layer_norm(h, (h.size(-1),)); loss = F.smooth_l1_loss(z, h)."""
    h = F.layer_norm(target_tokens.detach(), (target_tokens.size(-1),))
    h = gather_tokens(h, target_ids)
    return F.smooth_l1_loss(predicted, h)


def _blocks(target_tokens, target_ids, stop=True):
    tokens = target_tokens.detach() if stop else target_tokens
    return gather_tokens(tokens, target_ids)


IJEPA_WRONG = {
    "a gradient flows into the target": lambda p, t, i: F.mse_loss(p, F.layer_norm(_blocks(t, i, stop=False),
                                                                                   (t.shape[-1],))),
    "not layer-normalised": lambda p, t, i: F.mse_loss(p, _blocks(t, i)),
    "across the tokens": lambda p, t, i: F.mse_loss(p, (_blocks(t, i) - _blocks(t, i).mean(-2, keepdim=True))
                                                    / (_blocks(t, i).var(-2, unbiased=False, keepdim=True)
                                                       + 1e-5).sqrt()),
    "normalised the prediction too": lambda p, t, i: F.mse_loss(F.layer_norm(p, (p.shape[-1],)),
                                                                F.layer_norm(_blocks(t, i), (t.shape[-1],))),
    "first M*T tokens": lambda p, t, i: F.mse_loss(p, F.layer_norm(t.detach()[:, :i.shape[1] * i.shape[2]]
                                                                   .reshape(p.shape), (t.shape[-1],))),
    "smooth L1 loss of the authors' code": ijepa_official_smooth_l1,
    "absolute error": lambda p, t, i: F.l1_loss(p, F.layer_norm(_blocks(t, i), (t.shape[-1],))),
    "summed over the D features": lambda p, t, i: (p - F.layer_norm(_blocks(t, i), (t.shape[-1],))).pow(2)
    .sum(-1).mean(),
    "The squared error is summed": lambda p, t, i: F.mse_loss(p, F.layer_norm(_blocks(t, i), (t.shape[-1],)),
                                                              reduction="sum"),
    "unbiased variance": lambda p, t, i: F.mse_loss(p, (_blocks(t, i) - _blocks(t, i).mean(-1, keepdim=True))
                                                    / (_blocks(t, i).var(-1, keepdim=True) + 1e-5).sqrt()),
}


@pytest.mark.parametrize("right", [student_ijepa, course_style_ijepa], ids=lambda f: f.__name__)
def test_ijepa_right_answers_pass_and_are_used(right):
    assert ijepa_exercise.check(right) == "I-JEPA loss: correct."
    assert ijepa_exercise.use(right) is right


@pytest.mark.parametrize("phrase", sorted(IJEPA_WRONG))
def test_each_ijepa_mistake_is_named(phrase):
    line = ijepa_exercise.check(IJEPA_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert ijepa_exercise.use(IJEPA_WRONG[phrase]) is ijepa_exercise.reference


def test_ijepa_known_answer_a_perfect_prediction_scores_zero():
    g = torch.Generator().manual_seed(0)
    tokens = 3 * torch.randn(2, 9, 4, generator=g) + 1
    ids = torch.tensor([[[0, 1], [4, 5]], [[7, 8], [2, 3]]])
    perfect = F.layer_norm(gather_tokens(tokens, ids), (4,))
    assert ijepa_exercise.reference(perfect, tokens, ids).item() == pytest.approx(0.0, abs=1e-10)
    assert ijepa_exercise.reference(perfect + 1, tokens, ids).item() == pytest.approx(1.0)


# ---------------------------------------------------------------------------- DINO's loss


def official_dino_loss(student, teacher, center, student_temperature, teacher_temperature):
    """facebookresearch/dino, main_dino.py, DINOLoss.forward (one epoch's teacher temperature), ported to stacked
    views: the teacher's centred, sharpened softmax detached; every pair of different views; the mean over pairs."""
    student_out = (torch.cat(list(student)) / student_temperature).chunk(len(student))
    teacher_out = F.softmax((torch.cat(list(teacher)) - center) / teacher_temperature, dim=-1).detach()
    teacher_out = teacher_out.chunk(len(teacher))
    total_loss, n_loss_terms = 0, 0
    for iq, q in enumerate(teacher_out):
        for v in range(len(student_out)):
            if v == iq:
                continue
            loss = torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1)
            total_loss += loss.mean()
            n_loss_terms += 1
    return total_loss / n_loss_terms


def student_dino(student, teacher, center, student_temperature, teacher_temperature):
    """Right, written with a mask over the (G, V) pairs."""
    p_t = ((teacher - center) / teacher_temperature).softmax(-1).detach()             # (G, N, K)
    log_p_s = (student / student_temperature).log_softmax(-1)                          # (V, N, K)
    cross = -torch.einsum("gnk,vnk->gvn", p_t, log_p_s).mean(-1)                       # (G, V)
    keep = ~torch.eye(len(teacher), len(student), dtype=torch.bool)
    return cross[keep].mean()


def _p(t, c, temperature):
    return ((t - c) / temperature).softmax(-1).detach()


def _pairs(p_t, log_p_s, skip=True):
    return [-(p_t[i] * log_p_s[j]).sum(-1) for i in range(len(p_t)) for j in range(len(log_p_s))
            if not (skip and i == j)]


DINO_WRONG = {
    "a gradient flows into the teacher": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(((t - c) / tt).softmax(-1), (s / ts).log_softmax(-1))]).mean(),
    "not centred": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(_p(t, 0, tt), (s / ts).log_softmax(-1))]).mean(),
    "from the STUDENT": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(_p(t, 0, tt), ((s - c) / ts).log_softmax(-1))]).mean(),
    "after the softmax": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(_p(t, 0, tt) - c, (s / ts).log_softmax(-1))]).mean(),
    "swapped": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(_p(t, c, ts), (s / tt).log_softmax(-1))]).mean(),
    "nothing sharpens it": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(_p(t, c, ts), (s / ts).log_softmax(-1))]).mean(),
    "against itself": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(_p(t, c, tt), (s / ts).log_softmax(-1), skip=False)]).mean(),
    "wrong way": lambda s, t, c, ts, tt: torch.stack(
        [-(((s[j] / ts).softmax(-1)) * _p(t, c, tt)[i].clamp_min(1e-30).log()).sum(-1).mean()
         for i in range(len(t)) for j in range(len(s)) if i != j]).mean(),
    "over the batch": lambda s, t, c, ts, tt: torch.stack(
        [-(((t[i] - c) / tt).softmax(0).detach() * (s[j] / ts).log_softmax(0)).sum(-1).mean()
         for i in range(len(t)) for j in range(len(s)) if i != j]).mean(),
    "summed over the N images": lambda s, t, c, ts, tt: torch.stack(
        [x.sum() for x in _pairs(_p(t, c, tt), (s / ts).log_softmax(-1))]).mean(),
    "are added": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(_p(t, c, tt), (s / ts).log_softmax(-1))]).sum(),
    "number of student views": lambda s, t, c, ts, tt: torch.stack(
        [x.mean() for x in _pairs(_p(t, c, tt), (s / ts).log_softmax(-1))]).sum() / len(s),
}


@pytest.mark.parametrize("right", [official_dino_loss, student_dino], ids=lambda f: f.__name__)
def test_dino_right_answers_the_official_code_included_pass(right):
    assert dino_exercise.check(right) == "DINO loss: correct."
    assert dino_exercise.use(right) is right


@pytest.mark.parametrize("phrase", sorted(DINO_WRONG))
def test_each_dino_mistake_is_named(phrase):
    line = dino_exercise.check(DINO_WRONG[phrase])
    assert "not yet" in line and phrase in line, line
    assert dino_exercise.use(DINO_WRONG[phrase]) is dino_exercise.reference


def test_dino_reference_is_the_course_loss_on_stacked_views():
    g = torch.Generator().manual_seed(1)
    student, teacher, center = torch.randn(5, 3, 6, generator=g), torch.randn(2, 3, 6, generator=g), torch.randn(6)
    expected = dino_loss(list(student), list(teacher), center, 0.1, 0.04)
    assert dino_exercise.reference(student, teacher, center, 0.1, 0.04).item() == pytest.approx(expected.item())
