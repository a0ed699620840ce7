"""I-JEPA's multi-block masks (`ssl_helpers.pretext.blocks`) and DINO's multi-crop (`ssl_helpers.augment.multi_crop`):
the rules of the paper hold on every image of a batch, the index tensors agree with the masks, the same seed gives
the same masks, and bad settings are refused with a message naming them."""
import math

import pytest
import torch

from ssl_helpers import augment as A
from ssl_helpers.pretext.blocks import (IJEPA_MASKING, block_overlay, block_size, multi_block_masks,
                                        place_blocks)


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def as_grid(mask, grid):
    return mask.view(*grid)


def bounding_box(mask2d):
    rows = mask2d.any(1).nonzero().flatten()
    cols = mask2d.any(0).nonzero().flatten()
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


# ---------------------------------------------------------------------------- block sizes


def test_block_size_follows_the_papers_formula():
    """keep = int(s * L), h = round(sqrt(keep * a)), w = round(sqrt(keep / a)): on a 14 x 14 grid (ViT-H/14 at
    224 px) the extremes of the target range are 5 x 6 and 8 x 5 blocks, 15-20% of the image."""
    assert block_size((14, 14), (0.15, 0.2), (0.75, 1.5), 0.0, 0.0) == (5, 6)      # keep 29: 4.66, 6.22
    assert block_size((14, 14), (0.15, 0.2), (0.75, 1.5), 0.999, 0.999) == (8, 5)  # keep 39: 7.65, 5.10
    assert block_size((6, 6), (0.85, 1.0), (1.0, 1.0), 0.999, 0.0) == (6, 6)       # keep 35: a whole-grid block
    assert block_size((6, 6), (0.15, 0.2), (0.75, 1.5), 0.5, 0.5) == (3, 2)        # keep 6, a = 1.125: 2.60, 2.31


def test_block_size_is_clamped_to_the_grid_and_to_one_token():
    assert block_size((3, 8), (0.9, 1.0), (4.0, 4.0), 0.5, 0.5) == (3, 2)
    assert block_size((4, 4), (0.01, 0.01), (1.0, 1.0), 0.0, 0.0) == (1, 1)


def test_place_blocks_puts_every_block_inside_the_grid_with_its_size():
    blocks = place_blocks(50, 3, (6, 7), (2, 3), generator())
    assert blocks.shape == (50, 3, 6, 7) and blocks.dtype == torch.bool
    assert (blocks.sum(dim=(2, 3)) == 6).all()
    for mask in blocks.flatten(0, 1):
        top, bottom, left, right = bounding_box(mask)
        assert (bottom - top, right - left) == (2, 3)


def test_every_position_is_reachable_the_last_row_and_column_included():
    blocks = place_blocks(400, 1, (4, 4), (2, 2), generator())[:, 0]
    corners = {bounding_box(mask)[0::2] for mask in blocks}
    assert corners == {(r, c) for r in range(3) for c in range(3)}


# ---------------------------------------------------------------------------- multi-block masks


@pytest.mark.parametrize("grid", [(6, 6), (8, 8), (14, 14), (5, 7)])
def test_context_never_sees_a_target_and_every_target_is_one_block_of_the_batch_size(grid):
    masks = multi_block_masks(32, grid, generator(1), **IJEPA_MASKING)
    n, length = 32, grid[0] * grid[1]
    assert masks.context.shape == (n, length) and masks.targets.shape == (n, 4, length)
    assert not (masks.context & masks.targets.any(dim=1)).any(), "a context token inside a target block"
    sizes = masks.targets.sum(dim=2)
    assert (sizes == sizes[0, 0]).all(), "one target size per batch"
    for mask in masks.targets.flatten(0, 1):
        top, bottom, left, right = bounding_box(as_grid(mask, grid))
        assert (bottom - top) * (right - left) == int(mask.sum()), "a target is a solid rectangle"
    fraction = sizes[0, 0].item() / length
    assert 0.08 <= fraction <= 0.3, fraction                  # about 15-20%, rounded to whole tokens


def test_index_tensors_list_the_masks_tokens_in_increasing_order():
    masks = multi_block_masks(16, (8, 8), generator(2))
    k, t = masks.context_ids.shape[1], masks.target_ids.shape[2]
    assert masks.context_ids.shape == (16, k) and masks.target_ids.shape == (16, 4, t)
    assert (masks.context.sum(dim=1) == k).all(), "every image keeps the same number of context tokens"
    assert (masks.context_ids.diff(dim=1) > 0).all() and (masks.target_ids.diff(dim=2) > 0).all()
    rebuilt = torch.zeros(16, 64, dtype=torch.bool).scatter_(1, masks.context_ids, True)
    assert torch.equal(rebuilt, masks.context)
    rebuilt = torch.zeros(16, 4, 64, dtype=torch.bool).scatter_(2, masks.target_ids, True)
    assert torch.equal(rebuilt, masks.targets)


def test_the_context_comes_from_one_large_block():
    """Before the targets are cut out, the context block covers 85-100% of the grid: its tokens all lie inside a
    square of at least round(sqrt(0.85 * L)) tokens a side."""
    masks = multi_block_masks(64, (8, 8), generator(3))
    for mask in masks.context:
        top, bottom, left, right = bounding_box(as_grid(mask, (8, 8)))
        assert bottom - top <= 8 and right - left <= 8
    assert masks.context.sum(dim=1).min() >= 4


def test_same_seed_same_masks_and_another_seed_other_masks():
    a, b = multi_block_masks(8, (6, 6), generator(5)), multi_block_masks(8, (6, 6), generator(5))
    c = multi_block_masks(8, (6, 6), generator(6))
    assert all(torch.equal(x, y) for x, y in zip(a[:4], b[:4]))
    assert not torch.equal(a.targets, c.targets)


def test_a_tiny_context_is_drawn_again_then_relaxed_but_never_below_min_context():
    """On a 4 x 4 grid four 2 x 2 targets can cover everything; the context still keeps min_context tokens."""
    masks = multi_block_masks(64, (4, 4), generator(7), target_scale=(0.25, 0.25), target_aspect=(1.0, 1.0),
                              min_context=3)
    assert (masks.context.sum(dim=1) >= 3).all()


def test_bad_settings_are_refused_with_their_name():
    with pytest.raises(ValueError, match="grid must be"):
        multi_block_masks(4, (6,))
    with pytest.raises(ValueError, match="scale must be a pair"):
        multi_block_masks(4, (6, 6), target_scale=(0.3, 0.2))
    with pytest.raises(ValueError, match="num_targets must be"):
        multi_block_masks(4, (6, 6), num_targets=0)
    with pytest.raises(ValueError, match="fewer than min_context"):
        multi_block_masks(4, (3, 3), context_scale=(0.1, 0.1), min_context=4)
    with pytest.raises(ValueError, match="does not fit the grid"):
        place_blocks(2, 1, (4, 4), (5, 1))


def test_block_overlay_dims_the_hidden_tokens_and_tints_the_targets():
    image = torch.ones(1, 12, 12)
    masks = multi_block_masks(1, (6, 6), generator(8))
    rgb = block_overlay(image[0:1].expand(3, -1, -1), masks.context[0], masks.targets[0], (6, 6))
    assert rgb.shape == (3, 12, 12)
    seen = masks.context[0].view(6, 6).repeat_interleave(2, 0).repeat_interleave(2, 1)
    hidden = ~seen & ~masks.targets[0].any(0).view(6, 6).repeat_interleave(2, 0).repeat_interleave(2, 1)
    assert torch.allclose(rgb[:, seen], torch.ones(1)) and torch.allclose(rgb[:, hidden], torch.tensor(0.25))
    tinted = masks.targets[0].any(0).view(6, 6).repeat_interleave(2, 0).repeat_interleave(2, 1)
    assert not torch.allclose(rgb[:, tinted], torch.ones(1))


# ---------------------------------------------------------------------------- multi-crop


def test_multi_crop_gives_global_views_then_local_views_at_their_sizes():
    x = torch.rand(5, 3, 12, 12, generator=generator())
    big = A.preset("digits", 12, crop_scale=(0.4, 1.0))
    small = A.preset("digits", 6, crop_scale=(0.1, 0.4))
    views = A.multi_crop(x, big, small, 2, 4, generator(1))
    assert [tuple(v.shape) for v in views] == [(5, 3, 12, 12)] * 2 + [(5, 3, 6, 6)] * 4
    assert not torch.equal(views[0], views[1]), "each view draws its own parameters"
    again = A.multi_crop(x, big, small, 2, 4, generator(1))
    assert all(torch.equal(a, b) for a, b in zip(views, again))


def test_multi_crop_draws_in_list_order_from_one_generator():
    x = torch.rand(3, 3, 12, 12, generator=generator())
    big, small = A.preset("digits", 12), A.preset("digits", 6)
    g = generator(2)
    expected = [big(x, g), big(x, g), small(x, g)]
    got = A.multi_crop(x, big, small, 2, 1, generator(2))
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_multi_crop_refuses_no_global_view_and_bad_counts():
    x = torch.rand(2, 3, 8, 8)
    aug = A.preset("digits", 8)
    with pytest.raises(ValueError, match="global_crops must be at least 1"):
        A.multi_crop(x, aug, aug, 0, 2)
    with pytest.raises(ValueError, match="local_crops must be a non-negative integer"):
        A.multi_crop(x, aug, aug, 2, -1)
    assert len(A.multi_crop(x, aug, aug, 2, 0)) == 2
    assert math.isclose(len(A.multi_crop(x, aug, aug, 1, 3)), 4)
