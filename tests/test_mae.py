"""The masked autoencoder (ssl_helpers/mae.py, methods/mae.py): masking, what the encoder sees, the loss, the target."""
import pytest
import torch

from ssl_helpers.mae import (
    MAEDecoder,
    ViTEncoder,
    mae_forward,
    mae_loss,
    normalize_patches,
    patchify,
    random_masking,
    sincos_positions,
    unpatchify,
    visible_tokens,
)
from ssl_helpers.methods import make_method
from ssl_helpers.models import build_encoder


def images(n=4, channels=3, size=16, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def tiny_mae(size=16, patch=4, dim=16):
    torch.manual_seed(0)
    encoder = ViTEncoder(in_channels=3, image_size=size, patch_size=patch, dim=dim, depth=1, heads=2)
    decoder = MAEDecoder(dim, patch * patch * 3, encoder.grid, dim=16, depth=1, heads=2)
    return encoder, decoder


# ---- patches --------------------------------------------------------------------------------------------------

def test_patchify_matches_a_slow_loop_over_patches_and_unpatchify_inverts_it():
    x = images(2, size=8)
    patches = patchify(x, 4)
    assert patches.shape == (2, 4, 4 * 4 * 3)
    for n in range(2):
        for r in range(2):
            for c in range(2):
                block = x[n, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4]           # (C, p, p)
                torch.testing.assert_close(patches[n, 2 * r + c], block.permute(1, 2, 0).reshape(-1))
    torch.testing.assert_close(unpatchify(patches, 4, 3, (2, 2)), x)


def test_patchify_rejects_a_patch_size_that_does_not_divide_the_image():
    with pytest.raises(ValueError, match="patch_size=5"):
        patchify(images(size=16), 5)


# ---- random masking -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ratio, length", [(0.75, 16), (0.5, 16), (0.75, 64), (0.6, 10), (0.0, 9)])
def test_masking_keeps_round_of_one_minus_ratio_times_L_tokens_per_image(ratio, length):
    keep = round((1 - ratio) * length)
    ids_keep, mask, ids_restore = random_masking(5, length, ratio, torch.Generator().manual_seed(1))
    assert ids_keep.shape == (5, keep) and mask.shape == ids_restore.shape == (5, length)
    assert (mask.sum(1) == length - keep).all()
    for n in range(5):  # the kept ids are exactly the unmasked positions, without repeats
        assert sorted(ids_keep[n].tolist()) == torch.nonzero(mask[n] == 0).flatten().tolist()


def test_ids_restore_inverts_the_shuffle():
    generator = torch.Generator().manual_seed(2)
    n, length = 3, 16
    ids_keep, _, ids_restore = random_masking(n, length, 0.75, generator)
    tokens = torch.arange(length).float().repeat(n, 1).unsqueeze(-1)       # token l holds the value l
    shuffled = tokens.gather(1, ids_restore.argsort(1).unsqueeze(-1))     # ids_shuffle = argsort(ids_restore)
    restored = shuffled.gather(1, ids_restore.unsqueeze(-1))
    torch.testing.assert_close(restored, tokens)
    torch.testing.assert_close(shuffled[:, :ids_keep.shape[1]], visible_tokens(tokens, ids_keep))


def test_masking_matches_a_slow_loop_over_the_same_noise():
    n, length, ratio = 4, 16, 0.75
    ids_keep, mask, ids_restore = random_masking(n, length, ratio, torch.Generator().manual_seed(3))
    noise = torch.rand(n, length, generator=torch.Generator().manual_seed(3))
    keep = round((1 - ratio) * length)
    for i in range(n):
        order = sorted(range(length), key=lambda t: noise[i, t].item())   # positions from smallest noise up
        assert ids_keep[i].tolist() == order[:keep]
        assert mask[i].tolist() == [0.0 if t in order[:keep] else 1.0 for t in range(length)]
        assert [order.index(t) for t in range(length)] == ids_restore[i].tolist()


def test_masking_rejects_a_ratio_that_hides_everything():
    with pytest.raises(ValueError, match="mask_ratio"):
        random_masking(2, 16, 1.0)
    with pytest.raises(ValueError, match="no visible token"):
        random_masking(2, 4, 0.9)


# ---- the encoder sees only the visible tokens -----------------------------------------------------------------

def test_the_encoder_receives_exactly_the_visible_tokens_per_image():
    encoder, decoder = tiny_mae()
    seen = []
    hook = encoder.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    mae_forward(encoder, decoder, images(5), 0.75, torch.Generator().manual_seed(0))
    hook.remove()
    assert seen == [torch.Size([5, round(0.25 * 16), 16])]


def test_the_visible_tokens_are_encoded_as_the_patches_at_their_positions():
    encoder, _ = tiny_mae()
    x = images(2)
    ids_keep, _, _ = random_masking(2, 16, 0.75, torch.Generator().manual_seed(0))
    tokens = encoder.tokens(x)
    for n in range(2):
        for k, t in enumerate(ids_keep[n].tolist()):  # token t = embedded patch t plus position t
            expected = encoder.patch_embed(patchify(x, 4)[n, t]) + encoder.positions[0, t]
            torch.testing.assert_close(visible_tokens(tokens, ids_keep)[n, k], expected)


def test_forward_on_full_images_gives_pooled_features_and_the_config_rebuilds_it():
    encoder, _ = tiny_mae()
    x = images(3)
    features = encoder(x)
    assert features.shape == (3, encoder.out_dim)
    rebuilt = build_encoder(encoder.config)
    rebuilt.load_state_dict(encoder.state_dict())
    torch.testing.assert_close(rebuilt.eval()(x), encoder.eval()(x))


# ---- the loss ------------------------------------------------------------------------------------------------

def test_the_loss_ignores_visible_patches():
    encoder, decoder = tiny_mae()
    x = images(4)
    ids_keep, mask, ids_restore = random_masking(4, 16, 0.75, torch.Generator().manual_seed(5))
    prediction = decoder(encoder.forward_visible(x, ids_keep), ids_restore)
    patches = patchify(x, 4)
    changed = torch.where(mask.unsqueeze(-1).bool(), patches, torch.rand_like(patches))  # visible ones redrawn
    changed_prediction = torch.where(mask.unsqueeze(-1).bool(), prediction, prediction + 5.0)
    for norm_pix in (False, True):
        reference = mae_loss(prediction, patches, mask, norm_pix)
        torch.testing.assert_close(mae_loss(changed_prediction, changed, mask, norm_pix), reference)


def test_the_loss_is_the_mean_squared_error_over_hidden_patches_by_a_loop():
    generator = torch.Generator().manual_seed(6)
    prediction, patches = torch.randn(3, 16, 12, generator=generator), torch.rand(3, 16, 12, generator=generator)
    _, mask, _ = random_masking(3, 16, 0.5, generator)
    total, count = 0.0, 0
    for n in range(3):
        for t in range(16):
            if mask[n, t] == 1:
                total += sum((prediction[n, t, d].item() - patches[n, t, d].item()) ** 2 for d in range(12)) / 12
                count += 1
    assert mae_loss(prediction, patches, mask, norm_pix=False).item() == pytest.approx(total / count, rel=1e-5)


def test_per_patch_normalisation_matches_its_equation():
    patches = torch.rand(2, 5, 48, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    normalised = normalize_patches(patches)
    for n in range(2):
        for t in range(5):
            values = patches[n, t].tolist()
            mean = sum(values) / 48
            var = sum((v - mean) ** 2 for v in values) / (48 - 1)
            expected = [(v - mean) / (var + 1e-6) ** 0.5 for v in values]
            assert normalised[n, t].tolist() == pytest.approx(expected, rel=1e-9)
    flat = torch.full((1, 1, 48), 0.3, dtype=torch.float64)  # a constant patch: zeros, not a division by zero
    assert torch.equal(normalize_patches(flat), torch.zeros_like(flat))


def test_mae_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        mae_loss(torch.zeros(2, 16, 12), torch.zeros(2, 16, 10), torch.zeros(2, 16))


def test_sincos_positions_are_distinct_per_token_and_need_a_multiple_of_four():
    positions = sincos_positions(4, 4, 16)
    assert positions.shape == (16, 16)
    assert torch.cdist(positions, positions).add(torch.eye(16)).min() > 0
    with pytest.raises(ValueError, match="multiple of 4"):
        sincos_positions(4, 4, 18)


# ---- the method ------------------------------------------------------------------------------------------------

def test_the_method_reduces_its_loss_on_a_fixed_batch():
    method = make_method("mae", depth=1, decoder_dim=16, heads=2, norm_pix=False)
    x = images(16)
    method.build(tuple(x.shape[1:]), width=8)
    optimizer = torch.optim.Adam(method.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        method.generator = torch.Generator().manual_seed(0)  # the same mask every step
        loss = method.step(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_reconstruct_keeps_the_visible_patches_and_greys_the_hidden_ones():
    method = make_method("mae", depth=1, decoder_dim=16, heads=2, norm_pix=False)
    x = images(2)
    method.build(tuple(x.shape[1:]), width=8)
    masked, reconstruction, pasted = method.reconstruct(x, torch.Generator().manual_seed(0))
    _, mask, _ = random_masking(2, 16, 0.75, torch.Generator().manual_seed(0))
    pixel_mask = unpatchify(mask.unsqueeze(-1).expand(-1, -1, 48), 4, 3, (4, 4))
    torch.testing.assert_close(masked, torch.where(pixel_mask.bool(), torch.full_like(x, 0.5), x))
    torch.testing.assert_close(pasted[pixel_mask == 0], x[pixel_mask == 0])
    assert reconstruction.shape == x.shape


def test_the_method_needs_a_vit_encoder():
    from ssl_helpers.models import SmallCNN

    with pytest.raises(ValueError, match="needs a ViTEncoder"):
        make_method("mae").build((3, 16, 16), SmallCNN(width=8))


def test_reconstruction_with_visible_statistics_uses_nothing_hidden():
    """The default picture is a prediction: changing the hidden pixels changes nothing in it. Borrowing the true
    statistics ("true") reads the hidden patches, so the picture follows them."""
    torch.manual_seed(0)
    method = make_method("mae", depth=1, decoder_dim=16, heads=2, mask_ratio=0.5)
    x = images(3)
    method.build(tuple(x.shape[1:]), width=8)
    views = method.reconstruction(x, torch.Generator().manual_seed(0))
    hidden = views["mask"].expand_as(x).bool()
    changed = torch.where(hidden, 1 - x, x)
    again = method.reconstruction(changed, torch.Generator().manual_seed(0))
    torch.testing.assert_close(again["pasted"], views["pasted"])
    assert torch.equal(again["mask"], views["mask"]) and float(views["mask"].mean()) == pytest.approx(0.5)
    expected = ((views["pasted"] - x).pow(2) * views["mask"]).sum() / (views["mask"].sum() * 3)
    assert views["masked_mse"] == pytest.approx(float(expected), rel=1e-5)
    true = method.reconstruction(x, torch.Generator().manual_seed(0), statistics="true")["pasted"]
    true_changed = method.reconstruction(changed, torch.Generator().manual_seed(0), statistics="true")["pasted"]
    assert not torch.allclose(true[hidden], true_changed[hidden])
    masked, _, pasted = method.reconstruct(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(pasted, views["pasted"])
    torch.testing.assert_close(masked, views["masked"])
    with pytest.raises(ValueError, match="statistics must be 'visible'"):
        method.reconstruction(x, statistics="target")
