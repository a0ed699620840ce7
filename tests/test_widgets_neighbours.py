"""The neighbour explorer: nearest neighbours against a brute-force loop, label agreement, the picture's size and
marks, the widget redrawing on every change (its speed: benchmarks/bench_widgets.py), and every bad argument
rejected with its valid range or choices."""
import io

import numpy as np
import pytest
import torch
from torch import nn

from ssl_helpers.data import ImageSet
from ssl_helpers.widgets.common import MIN_TEXT_PX
from ssl_helpers.widgets.neighbours import (MAX_K, MAX_WIDTH, OTHER, SAME, TEXT_PX, LABEL_PX, NeighbourExplorer,
                                            agreement_matrix, embedding_bank, label_agreement, nearest_neighbours,
                                            neighbour_rows, render_neighbours, separating_query)


def images_with_labels(n, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 8, 8, generator=generator), torch.arange(n) % 4


@pytest.fixture(scope="module")
def splits():
    train_x, train_y = images_with_labels(40, 0)
    test_x, test_y = images_with_labels(12, 1)
    return ImageSet(train_x, train_y, name="toy/train"), ImageSet(test_x, test_y, name="toy/test")


@pytest.fixture(scope="module")
def encoders():
    torch.manual_seed(0)
    return {"pixels": nn.Flatten(), "random": nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, 8))}


def brute_force(query, bank, k):
    """The reference: cosine with every bank row in a Python loop, sorted by (-cosine, index)."""
    scores = [(-float(torch.dot(query, row) / (query.norm() * row.norm())), j) for j, row in enumerate(bank)]
    ranked = sorted(scores)[:k]
    return [j for _, j in ranked], [-s for s, _ in ranked]


def test_embedding_bank_rows_have_norm_one_and_pixels_are_the_flattened_images(splits):
    train, _ = splits
    bank = embedding_bank(nn.Flatten(), train.images, batch_size=7)  # batches that do not divide N
    assert bank.shape == (40, 3 * 8 * 8) and bank.dtype == torch.float32
    assert torch.allclose(bank.norm(dim=1), torch.ones(40), atol=1e-5)
    assert torch.allclose(bank, torch.nn.functional.normalize(train.images.flatten(1), dim=1), atol=1e-6)


def test_embedding_bank_runs_in_eval_mode_and_restores_training():
    module = nn.Sequential(nn.Flatten(), nn.Dropout(0.9))
    module.train()
    images = torch.rand(5, 1, 4, 4)
    bank = embedding_bank(module, images)
    assert torch.allclose(bank, torch.nn.functional.normalize(images.flatten(1), dim=1))  # dropout was off
    assert module.training


def test_nearest_neighbours_match_a_brute_force_loop(splits, encoders):
    train, test = splits
    for encoder in encoders.values():
        bank, queries = embedding_bank(encoder, train.images), embedding_bank(encoder, test.images)
        for q in range(len(queries)):
            indices, cosine = nearest_neighbours(queries[q], bank, k=6)
            expected_indices, expected_cosine = brute_force(queries[q], bank, 6)
            assert indices.tolist() == expected_indices
            assert cosine.numpy() == pytest.approx(expected_cosine, abs=1e-5)
        batched, _ = nearest_neighbours(queries, bank, k=6)  # (M, D) queries: one row each
        assert batched.shape == (len(queries), 6)
        assert batched[3].tolist() == nearest_neighbours(queries[3], bank, 6)[0].tolist()


def test_ties_go_to_the_smaller_index():
    bank = torch.nn.functional.normalize(torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0], [1.0, 0.0]]), dim=1)
    indices, cosine = nearest_neighbours(torch.tensor([1.0, 0.0]), bank, k=3)
    assert indices.tolist() == [1, 3, 0] and cosine.tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_no_self_match_the_query_comes_from_test_and_the_bank_from_train(splits):
    train, test = splits
    bank = embedding_bank(nn.Flatten(), train.images)
    query = embedding_bank(nn.Flatten(), test.images)[0]
    _, cosine = nearest_neighbours(query, bank, k=1)
    assert cosine.item() < 0.999  # a self-match would be cosine 1: the test image is not in the train bank
    bank_with_query = torch.cat([bank, query[None]])  # were it there, it would be found first
    assert nearest_neighbours(query, bank_with_query, k=1)[0].item() == len(bank)


def test_nearest_neighbours_reject_k_out_of_range_and_bad_shapes():
    bank = torch.eye(3)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\], got 4"):
        nearest_neighbours(bank[0], bank, k=4)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\], got 0"):
        nearest_neighbours(bank[0], bank, k=0)
    with pytest.raises(ValueError, match=r"query must have shape \(D,\) or \(M, D\) with D = 3"):
        nearest_neighbours(torch.ones(4), bank, k=1)


def test_label_agreement_known_answer():
    neighbour_labels = torch.tensor([[1, 1, 2, 1], [0, 0, 0, 0], [3, 2, 2, 2]])
    assert label_agreement(neighbour_labels, torch.tensor([1, 5, 3])).tolist() == [0.75, 0.0, 0.25]
    with pytest.raises(ValueError, match="neighbour_labels"):
        label_agreement(neighbour_labels, torch.tensor([1, 2]))


def test_agreement_matrix_is_label_agreement_per_representation(splits, encoders):
    train, test = splits
    banks = {name: (embedding_bank(e, train.images), embedding_bank(e, test.images)) for name, e in encoders.items()}
    matrix = agreement_matrix(banks, train.labels, test.labels, k=3, names=["random", "pixels"])
    assert matrix.shape == (2, len(test))
    for r, name in enumerate(["random", "pixels"]):
        for i in range(len(test)):
            row = neighbour_rows(banks, train.labels, int(test.labels[i]), i, 3, [name])[0]
            assert matrix[r, i].item() == pytest.approx(row.agreement)
    with pytest.raises(ValueError, match="representation must be one of"):
        agreement_matrix(banks, train.labels, test.labels, k=3, names=["simclr"])


def test_separating_query_picks_the_widest_disagreement_then_the_smaller_index():
    agreement = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.6],
                              [1.0, 0.0, 1.0, 1.0, 0.4],
                              [1.0, 1.0, 0.0, 0.0, 0.5]])
    # columns 1 and 2: one representation wrong (std 0.471); column 3: two wrong, one right (std 0.471) as well;
    # equal spread and range: the smaller index wins
    assert separating_query(agreement) == 1
    agreement[:, 4] = torch.tensor([1.0, 0.0, 0.5])     # std 0.408 < 0.471: still column 1
    assert separating_query(agreement) == 1
    four = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])  # half right, half wrong beats one outlier
    assert separating_query(four) == 0
    assert separating_query(torch.ones(3, 4)) == 0       # no disagreement anywhere: the first image
    for bad in (torch.ones(1, 4), torch.ones(4), torch.ones(2, 0)):
        with pytest.raises(ValueError, match="agreement must have shape"):
            separating_query(bad)


def test_neighbour_rows_one_per_representation_with_labels_and_agreement(splits, encoders):
    train, test = splits
    banks = {name: (embedding_bank(e, train.images), embedding_bank(e, test.images)) for name, e in encoders.items()}
    label = int(test.labels[2])
    rows = neighbour_rows(banks, train.labels, label, index=2, k=5, names=["random", "pixels"])
    assert [row.name for row in rows] == ["random", "pixels"]
    for row in rows:
        expected, _ = nearest_neighbours(banks[row.name][1][2], banks[row.name][0], 5)
        assert row.indices.tolist() == expected.tolist()
        assert row.labels.tolist() == train.labels[expected].tolist()
        assert row.same.tolist() == [lab == label for lab in row.labels.tolist()]
        assert row.agreement == pytest.approx(row.same.mean())
    with pytest.raises(ValueError, match=r"representation must be one of \['pixels', 'random'\], got 'simclr'"):
        neighbour_rows(banks, train.labels, label, index=2, k=5, names=["simclr"])
    with pytest.raises(ValueError, match=r"index must be an integer in \[0, 11\], got 12"):
        neighbour_rows(banks, train.labels, label, index=12, k=5)


def test_render_is_at_most_840_px_wide_with_text_of_16_px_and_coloured_frames(splits, encoders):
    train, test = splits
    banks = {name: (embedding_bank(e, train.images), embedding_bank(e, test.images)) for name, e in encoders.items()}
    label = int(test.labels[0])
    rows = neighbour_rows(banks, train.labels, label, index=0, k=MAX_K)
    picture = render_neighbours(rows, test.images[0], label, train.images)
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    assert picture.shape[1] <= MAX_WIDTH and picture.shape[0] < 600
    assert min(TEXT_PX, LABEL_PX) >= MIN_TEXT_PX
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    same = any(row.same.any() for row in rows)
    other = any((~row.same).any() for row in rows)
    assert (SAME in colours) == same and (OTHER in colours) == other
    assert render_neighbours(rows[:1], test.images[0], label, train.images).shape[0] < picture.shape[0]
    assert render_neighbours([], test.images[0], label, train.images, k=3).shape[1] < picture.shape[1]


def test_explorer_redraws_on_every_control_and_shows_its_picture_and_caption(splits, encoders):
    train, test = splits
    explorer = NeighbourExplorer(encoders, train, test, index=1, k=3)
    assert [row.name for row in explorer.last_drawn] == ["pixels", "random"]
    assert all(len(row.indices) == 3 for row in explorer.last_drawn)
    explorer.k.value = 7
    assert all(len(row.indices) == 7 for row in explorer.last_drawn)
    explorer.checkboxes["pixels"].value = False
    assert [row.name for row in explorer.last_drawn] == ["random"]
    before = explorer.last_drawn[0].indices.tolist()
    explorer.index.value = 5
    assert explorer.last_drawn[0].indices.tolist() != before or test.labels[5] == test.labels[1]
    picked = explorer.pick_random()
    assert explorer.index.value == picked and 0 <= picked < len(test)
    bundle = explorer._repr_mimebundle_()
    assert "image/png" in bundle and bundle["text/plain"] == explorer.caption_text
    assert "nearest" in explorer.caption_text and "same label" in explorer.caption_text
    from PIL import Image
    assert Image.open(io.BytesIO(explorer.image.value)).size[0] <= MAX_WIDTH


def test_explorer_reuses_given_banks_and_redraws_on_every_change(splits, encoders):
    train, test = splits
    banks = {"pixels": (embedding_bank(nn.Flatten(), train.images), embedding_bank(nn.Flatten(), test.images))}
    explorer = NeighbourExplorer({"random": encoders["random"]}, train, test, banks=banks, k=MAX_K)
    assert list(explorer.banks) == ["random", "pixels"] and explorer.banks["pixels"] is banks["pixels"]
    drawn = []
    for index in range(10):
        explorer.index.value = index + 1
        drawn.append(bytes(explorer.image.value))
    assert len(set(drawn)) == 10                                    # every change drew a new picture


@pytest.mark.parametrize("options, message", [
    ({"index": 12}, r"index must be an integer in \[0, 11\], got 12"),
    ({"index": -1}, r"index must be an integer in \[0, 11\], got -1"),
    ({"k": 0}, r"k must be an integer in \[1, 10\], got 0"),
    ({"k": 11}, r"k must be an integer in \[1, 10\], got 11"),
    ({"k": 2.5}, r"k must be an integer in \[1, 10\], got 2.5"),
    ({"shown": ["pixels", "simclr"]}, r"shown must be one of \['pixels', 'random'\], got 'simclr'"),
])
def test_explorer_rejects_bad_arguments_with_the_valid_range(splits, encoders, options, message):
    train, test = splits
    with pytest.raises(ValueError, match=message):
        NeighbourExplorer(encoders, train, test, **options)


def test_explorer_needs_a_representation(splits):
    train, test = splits
    with pytest.raises(ValueError, match="encoders must name at least one representation"):
        NeighbourExplorer({}, train, test)


def test_the_longest_course_name_at_k_10_fits_and_the_header_is_never_cut(splits):
    train, test = splits
    bank = embedding_bank(nn.Flatten(), train.images), embedding_bank(nn.Flatten(), test.images)
    banks = {"barlow_twins": bank, "colorization": bank}
    label = int(test.labels[0])
    wide = render_neighbours(neighbour_rows(banks, train.labels, label, 0, MAX_K), test.images[0], label,
                             train.images)
    assert wide.shape[1] <= MAX_WIDTH
    narrow = render_neighbours(neighbour_rows(banks, train.labels, label, 0, 1), test.images[0], label, train.images)
    header = narrow[:LABEL_PX + 12]  # the header line, above the first row
    ink = np.nonzero((header < 250).any(axis=2).any(axis=0))[0]  # its columns holding anything but white
    assert ink.max() < narrow.shape[1] - 3, "the header text runs to the picture's right edge"
