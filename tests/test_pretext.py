"""The pretext tasks: each corruption's shape and determinism, the masked loss, invertible labels, errors."""
import pytest
import torch

from ssl_helpers import pretext as P
from ssl_helpers.methods import (load_method, load_or_pretrain, make_method, method_class, method_names, pretrain,
                                 save_method)
from ssl_helpers.models import SmallCNN


def images(n=6, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# the corrupt -> predict -> compare tasks (the MAE, also self-prediction, has its own tests in test_mae.py)
PRETEXT_TASKS = [name for name in method_names("self-prediction") if issubclass(method_class(name), P.PretextTask)]
ALL_TASKS = {name: make_method(name) for name in PRETEXT_TASKS}


@pytest.mark.parametrize("name", PRETEXT_TASKS)
def test_every_corruption_has_the_right_shapes_and_repeats_under_a_seed(name):
    task, x = ALL_TASKS[name], images()
    inputs, targets, mask = task.corrupt(x, gen(3))
    assert inputs.shape == x.shape
    if isinstance(task, P.ClassificationTask):
        assert targets.shape == (6,) and targets.dtype == torch.long and mask is None
        assert 0 <= int(targets.min()) and int(targets.max()) < task.num_classes
    else:
        assert targets.shape == x.shape
        assert mask is None or mask.shape == (6, 1, 16, 16)
    again = task.corrupt(x, gen(3))
    assert torch.equal(inputs, again.inputs) and torch.equal(targets, again.targets)
    if name != "colorization":  # colorization has no randomness
        other = task.corrupt(x, gen(4))
        assert not (torch.equal(inputs, other.inputs) and torch.equal(targets, other.targets))


@pytest.mark.parametrize("name", PRETEXT_TASKS)
def test_every_task_trains_one_step_and_its_head_fits_small_cnn(name):
    task = make_method(name).build((3, 16, 16), SmallCNN(width=8))
    task.generator = gen()
    loss = task.step(images(8))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in task.head.parameters())
    assert task.predict(images(2)).shape[0] == 2


def test_patch_mask_hides_exactly_the_ratio_in_whole_patches():
    mask = P.patch_mask(5, (16, 16), mask_ratio=0.75, patch_size=4, generator=gen())
    assert mask.shape == (5, 1, 16, 16)
    per_patch = mask.view(5, 4, 4, 4, 4).permute(0, 1, 3, 2, 4).reshape(5, 16, 16)
    assert torch.all(per_patch.amin(-1) == per_patch.amax(-1))  # a patch is hidden whole or not at all
    assert torch.all(per_patch[:, :, 0].sum(1) == 12)  # round(0.75 * 16) patches per image
    masked, same_mask = P.mask_patches(images(5), 0.75, 4, gen())
    assert torch.equal(same_mask, mask)
    assert torch.all(masked[mask.expand(-1, 3, -1, -1) == 1] == 0.5)


def test_masked_loss_is_zero_exactly_when_the_hidden_patches_are_right_and_ignores_the_visible_ones():
    x = images()
    masked, mask = P.mask_patches(x, 0.5, 4, gen())
    visible_garbage = torch.where(mask.bool(), x, torch.rand_like(x))  # right where hidden, wrong elsewhere
    assert P.masked_mse(visible_garbage, x, mask) == 0
    wrong_hidden = torch.where(mask.bool(), x + 0.1, x)  # exact where visible, off by 0.1 where hidden
    assert P.masked_mse(wrong_hidden, x, mask).item() == pytest.approx(0.01, rel=1e-4)
    # the mean over hidden pixels only: a reference computation
    prediction = torch.rand_like(x)
    hidden = mask.expand_as(x).bool()
    assert P.masked_mse(prediction, x, mask).item() == pytest.approx(((prediction - x)[hidden] ** 2).mean().item())


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.2, 1.5, True])
def test_mask_ratio_outside_the_open_interval_is_refused(ratio):
    with pytest.raises(ValueError, match="mask_ratio must be a number strictly between 0 and 1"):
        P.mask_patches(images(), ratio, 4)
    with pytest.raises(ValueError, match="mask_ratio"):
        P.MaskedTask(mask_ratio=ratio)


def test_patch_size_that_does_not_divide_the_image_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"patch_size=5 does not divide the image size 16x16; use one of \[1, 2, 4, 8, 16\]"):
        P.mask_patches(images(), 0.5, 5)
    with pytest.raises(ValueError, match="patch_size must be a positive integer"):
        P.MaskedTask(patch_size=0)
    with pytest.raises(ValueError, match="single patch"):
        P.mask_patches(images(), 0.5, 16)


def test_rotation_labels_invert_the_rotation():
    x = images(8)
    rotated, k = P.random_rotation(x, gen(1))
    assert torch.equal(P.rotate(rotated, -k), x)
    assert set(k.tolist()) <= {0, 1, 2, 3}
    arrow = torch.zeros(1, 1, 2, 2)
    arrow[0, 0, 0, 1] = 1  # top right
    assert P.rotate(arrow, 1)[0, 0, 0, 0] == 1  # a quarter turn counter-clockwise moves it to top left
    assert torch.equal(P.rotate(x, 4), x)


def test_jigsaw_permutations_are_a_fixed_set_of_distinct_permutations():
    every = P.jigsaw_permutations(2)
    assert every.shape == (24, 4) and torch.equal(every[0], torch.arange(4))
    chosen = P.jigsaw_permutations(3, count=10, seed=0)
    assert chosen.shape == (10, 9) and len({tuple(p) for p in chosen.tolist()}) == 10
    assert torch.equal(chosen, P.jigsaw_permutations(3, count=10, seed=0))
    assert torch.all(torch.sort(chosen, dim=1).values == torch.arange(9))
    with pytest.raises(ValueError, match="grid must be an integer >= 2"):
        P.jigsaw_permutations(1)


def test_jigsaw_labels_invert_the_shuffle():
    task, x = P.JigsawTask(grid=2), images(8)
    shuffled, labels, _ = task.corrupt(x, gen(2))
    assert torch.equal(P.unshuffle_tiles(shuffled, task.permutations[labels]), x)
    # output tile t is input tile perm[t]: swap the two top tiles
    swapped = P.shuffle_tiles(x[:1], torch.tensor([[1, 0, 2, 3]]))
    assert torch.equal(swapped[..., :8, :8], x[:1, :, :8, 8:]) and torch.equal(swapped[..., 8:, :], x[:1, :, 8:, :])
    with pytest.raises(ValueError, match="grid=3 does not divide"):
        P.shuffle_tiles(x, P.jigsaw_permutations(3, count=4)[:1].expand(8, -1))


def test_inpainting_box_is_one_square_of_the_asked_size_inside_the_image():
    hidden, mask = P.hide_box(images(), box_size=5, generator=gen())
    assert torch.all(mask.sum((1, 2, 3)) == 25)
    rows, cols = mask[:, 0].amax(2), mask[:, 0].amax(1)
    assert torch.all(rows.sum(1) == 5) and torch.all(cols.sum(1) == 5)  # one 5 x 5 square
    assert torch.all(hidden[mask.expand(-1, 3, -1, -1) == 1] == 0.5)
    with pytest.raises(ValueError, match="box_size must be an integer from 1 to 16"):
        P.hide_box(images(), box_size=17)


def test_colorization_sees_luminance_only():
    x = images()
    grey = P.ColorizationTask().corrupt(x).inputs
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    expected = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    torch.testing.assert_close(grey[:, 0], expected)
    with pytest.raises(ValueError, match="3 channels|RGB|channels"):
        P.ColorizationTask().corrupt(torch.rand(2, 1, 8, 8))


def test_noise_has_the_asked_level_and_level_zero_changes_nothing():
    x = torch.full((4, 3, 32, 32), 0.5)
    task = P.DenoisingTask(noise_level=0.1)
    noisy = task.corrupt(x, gen()).inputs
    assert (noisy - x).std().item() == pytest.approx(0.1, rel=0.05)
    assert torch.equal(task.corrupt(x, gen(), noise_level=0.0).inputs, x)
    strong = task.corrupt(x, gen(), noise_level=5.0).inputs
    assert strong.min() >= 0 and strong.max() <= 1
    with pytest.raises(ValueError, match="noise_level must be a number >= 0"):
        P.DenoisingTask(noise_level=-0.1)


def test_shared_channel_noise_keeps_a_grey_image_grey():
    """One noise value per pixel for every channel: no free "average the channels" cue on grey images."""
    x = torch.rand(4, 1, 16, 16).expand(-1, 3, -1, -1).contiguous()  # grey: R = G = B
    task = P.DenoisingTask(noise_level=0.3, shared_channels=True)
    noisy = task.corrupt(x, gen()).inputs
    assert torch.equal(noisy[:, 0], noisy[:, 1]) and torch.equal(noisy[:, 1], noisy[:, 2])
    assert (noisy - x).abs().mean() > 0.1
    each = P.DenoisingTask(noise_level=0.3).corrupt(x, gen()).inputs  # the default: independent per channel
    assert not torch.equal(each[:, 0], each[:, 1])
    averaged = each.mean(1, keepdim=True).expand_as(x)
    assert (averaged - x).pow(2).mean() < 0.6 * (each - x).pow(2).mean()  # the cue: averaging removes noise
    torch.testing.assert_close(noisy, P.noisy_images(x, 0.3, gen(), shared_channels=True))


def test_bad_task_names_and_inputs_are_refused():
    with pytest.raises(ValueError, match="unknown method 'no-such-method'"):
        make_method("no-such-method")
    with pytest.raises(ValueError, match=r"images must be a tensor of shape \(N, C, H, W\)"):
        P.mask_patches(torch.rand(3, 16, 16))
    with pytest.raises(RuntimeError, match="has no encoder and head yet"):
        make_method("rotation").step(images())
    with pytest.raises(RuntimeError, match="has no encoder and head yet"):
        P.predictions(make_method("rotation"), None, images())


def test_pretrain_uses_the_shared_loop_repeats_under_a_seed_and_round_trips_a_checkpoint(tmp_path):
    x = images(32)
    runs = []
    for _ in range(2):
        task = make_method("denoising", noise_level=0.2)
        encoder, history = pretrain(task, x, epochs=2, batch_size=16, seed=1, device="cpu", progress=False,
                                    width=8)
        runs.append((task, encoder, history))
    assert list(runs[0][2]["epoch"]) == [1, 2]
    assert runs[0][2]["loss"].tolist() == runs[1][2]["loss"].tolist()
    task, encoder, _ = runs[0]
    path = save_method(task, tmp_path / "denoising.pt", metrics={"loss": 0.1})
    loaded_task, loaded_encoder, info = load_method("denoising", path)
    assert info["method"] == "denoising" and loaded_task.noise_level == 0.2
    probe = images(2, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(loaded_task.predict(probe), task.eval().predict(probe))
    assert loaded_task.encoder is loaded_encoder and task.encoder is encoder
    same_task, _, same_info = load_or_pretrain("denoising", path)
    assert same_info["quick"] is False


def test_load_or_pretrain_trains_a_quick_one_when_the_checkpoint_is_missing(tmp_path, capsys):
    task, encoder, info = load_or_pretrain("rotation", tmp_path / "missing.pt", epochs=1, progress=False,
                                          shipped=False)
    assert info["quick"] and "No checkpoint at" in capsys.readouterr().out
    assert encoder(images(2)).shape == (2, encoder.out_dim) and task.head is not None


def _baseline_table(shift: dict, runs: dict, draws=5):
    """A synthetic protocol table: methods with their runs and a mean accuracy per labels-per-class count."""
    import numpy as np
    import pandas as pd

    noise = np.random.default_rng(0)
    return pd.DataFrame([{"method": method, "probe": "linear", "labels_per_class": k, "run": run, "seed": seed,
                          "accuracy": mean + k / 100 + noise.normal(0, 0.01)}
                         for method, mean in shift.items() for run in range(runs[method])
                         for k in (1, 5) for seed in range(draws)])


def test_compare_to_baselines_says_each_verdict_of_the_course_rule_and_records_it(tmp_path):
    from ssl_helpers.verdicts import VerdictLog, verdict

    means = {"pixels": 0.6, "random encoder": 0.55, "enc": 0.45, "close": 0.555}
    table = _baseline_table(means, {"pixels": 1, "random encoder": 3, "enc": 3, "close": 3})
    log = VerdictLog("test_nb", folder=tmp_path)
    differences, sentences = P.compare_to_baselines(table, log=log)
    assert list(differences.index) == [("enc", "vs pixels"), ("enc", "vs random encoder"),
                                       ("close", "vs pixels"), ("close", "vs random encoder")]
    for method in ("enc", "close"):
        for baseline in ("pixels", "random encoder"):
            for k in (1, 5):  # the numbers are the rule's, not a rule of its own
                v = verdict(table, method, baseline, "linear", k)
                assert differences.loc[(method, f"vs {baseline}"), k] == round(v.mean, 1)
                if v.kind == "ahead":
                    assert f"{'ahead' if v.mean > 0 else 'behind'} at " in sentences[method]
    assert sentences["enc"].startswith("enc vs pixels: behind at 1 (-")
    assert "| vs random encoder: behind at 1 (" in sentences["enc"]
    assert "a tie at" in sentences["close"].split("| vs random encoder")[1]
    assert sentences["enc"].endswith("(at k labels per class, in points; ± over 3 pre-training runs of enc and 3 "
                                     "initialisation seeds of the random encoder)")
    assert len(log.records) == 8 and {r["b"] for r in log.records} == {"pixels", "random encoder"}
    assert (tmp_path / "test_nb.json").is_file()

    one_run = table[table["run"] == 0]  # one pre-training run: no verdict, never "ahead" or "a tie"
    _, said = P.compare_to_baselines(one_run)
    assert "no verdict at 1 (" in said["enc"] and "behind" not in said["enc"] and "a tie" not in said["enc"]
    with pytest.raises(ValueError, match="baselines"):
        P.compare_to_baselines(table[table["method"] != "pixels"])


def test_score_against_baselines_draws_the_random_encoder_from_the_seed_given():
    from ssl_helpers.data import load_dataset
    from ssl_helpers.protocol import random_encoder

    train, test = load_dataset("digits", image_size=8)
    train, test = train.subset(torch.arange(300)), test.subset(torch.arange(100))
    torch.manual_seed(0)
    encoders = {"enc": SmallCNN(width=4).eval()}
    live = P.score_against_baselines(encoders, train, test, shots=(1,), seeds=2)
    other = P.score_against_baselines(encoders, train, test, shots=(1,), seeds=2, random_seed=1000)
    assert list(dict.fromkeys(live["method"])) == ["pixels", "random encoder", "enc"]
    same = ["pixels", "enc"]
    assert live[live["method"].isin(same)].equals(other[other["method"].isin(same)])
    first, second = random_encoder(encoders["enc"].config, seed=0), random_encoder(encoders["enc"].config, seed=1000)
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
