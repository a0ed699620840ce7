"""The mask explorer and the corruption explorer: pure functions, pictures drawn at the size they are shown with
their labels inside, rejected arguments, and widgets redrawing what they compute (their speed against the 0.2 s
budget: benchmarks/bench_widgets.py)."""
import html
import io

import numpy as np
import pytest
import torch
from IPython.core.formatters import DisplayFormatter
from PIL import Image

from ssl_helpers.methods import make_method
from ssl_helpers.models import SmallCNN
from ssl_helpers.pretext.masked import PATCH_SIZES
from ssl_helpers.widgets import corruption as C
from ssl_helpers.widgets import masking as M
from ssl_helpers.widgets.common import MIN_TEXT_PX, array_to_png


def untrained(name, **options):
    torch.manual_seed(0)
    task = make_method(name, **options).build((3, 16, 16), SmallCNN(width=8))
    return task, task.encoder.eval()


def png_size(data: bytes) -> tuple:
    return Image.open(io.BytesIO(data)).size


def dark_rows(region: np.ndarray) -> int:
    """How many pixel rows of an (H, W, 3) uint8 region hold dark (text) pixels."""
    return int((region.min(axis=2) < 100).any(axis=1).sum())


@pytest.fixture(scope="module")
def digits8(digits):
    return digits[1].images[:8]


@pytest.fixture(scope="module")
def corruption_models():
    return {name: untrained(name) for name in C.MODEL_NAMES}


# ---------------------------------------------------------------- mask explorer: pure functions


def test_patch_sizes_leave_at_least_four_patches_and_are_what_the_masked_task_trains_on():
    assert M.patch_sizes(16) == [1, 2, 4, 8]
    assert tuple(M.patch_sizes(16)) == PATCH_SIZES == make_method("masked").trained_patch_sizes()
    assert make_method("masked", patch_sizes=None).trained_patch_sizes() == (4,)


def test_mask_and_reconstruct_keeps_visible_pixels(digits8):
    task, encoder = untrained("masked")
    views = M.mask_and_reconstruct(task, encoder, digits8, 0.5, 4, seed=1)
    visible = views["mask"].expand_as(digits8) == 0
    assert torch.equal(views["reconstruction"][visible], digits8[visible])
    assert float(views["mask"].mean()) == pytest.approx(0.5)
    hidden = views["mask"].expand_as(digits8) == 1
    expected = float(((views["reconstruction"] - digits8)[hidden] ** 2).mean())
    assert views["masked_mse"] == pytest.approx(expected, rel=1e-4)


def test_render_masking_labels_each_row_inside_a_picture_at_most_840_px_wide(digits8):
    task, encoder = untrained("masked")
    views = M.mask_and_reconstruct(task, encoder, digits8, 0.5, 4)
    picture = M.render_masking(views, ["a header line"])
    scale = M.fit_scale(8, 16)
    assert scale == 5 and picture.dtype == np.uint8
    height, width, _ = picture.shape
    assert width <= M.MAX_WIDTH and M.TEXT_PX >= MIN_TEXT_PX
    label_w = width - 2 * M.MARGIN - 8 * 16 * scale - 7 * M.GAP  # the label column at the left
    assert label_w >= 100
    top = M.MARGIN + (M.TEXT_PX + 6) + M.GAP  # one header line
    tile = 16 * scale
    for row in range(3):  # each row's label is drawn in the picture, beside its row, text >= 12 px tall
        band = picture[top + row * (tile + M.GAP):top + row * (tile + M.GAP) + tile, M.MARGIN:M.MARGIN + label_w - 8]
        assert dark_rows(band) >= 12, M.ROWS[row]
    assert dark_rows(picture[M.MARGIN:top - M.GAP, :]) >= 12  # the header
    assert picture.shape[0] == top + 3 * tile + 2 * M.GAP + M.MARGIN
    # the images are pasted at `scale` x, nearest neighbour: the target row holds the enlarged digit
    left = M.MARGIN + label_w
    target = picture[top + 2 * (tile + M.GAP):top + 2 * (tile + M.GAP) + tile, left:left + tile]
    expected = (digits8[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(target[::scale, ::scale], expected)
    assert M.render_masking(views, scale=2).shape[1] < width
    with pytest.raises(ValueError, match=r"scale must be an integer in \[1, 5\], got 6"):
        M.render_masking(views, scale=6)


def test_render_masking_widens_for_a_long_header(digits8):
    task, encoder = untrained("masked")
    views = M.mask_and_reconstruct(task, encoder, digits8[:1], 0.5, 4)
    header = ["8 px patches, 50% of pixels hidden: masked MSE 0.0123"]
    picture = M.render_masking(views, header)
    assert picture.shape[1] >= M.font(M.TEXT_PX).getlength(header[0]) + 2 * M.MARGIN
    assert dark_rows(picture[:, -M.MARGIN - 40:-M.MARGIN]) > 0  # the end of the header is inside the picture


# ---------------------------------------------------------------- mask explorer: widget


def test_mask_explorer_redraws_on_every_slider(digits8):
    task, encoder = untrained("masked")
    explorer = M.MaskExplorer(task, encoder, digits8, mask_ratio=0.5, patch_size=4)
    first = explorer.last_drawn
    assert first[:4] == b"\x89PNG" and explorer.image.value == first
    assert explorer.header(explorer.last_views)[0].startswith("4 px patches, 50% of pixels hidden: masked MSE")
    assert explorer.header(explorer.last_views)[1] == "the model was trained on 1, 2, 4, 8 px patches"

    explorer.mask_ratio.value = 0.75
    assert explorer.last_drawn != first
    views = M.mask_and_reconstruct(task, encoder, digits8, 0.75, 4, seed=0)
    assert explorer.last_drawn == array_to_png(M.render_masking(views, explorer.header(views)))
    assert "75% of pixels hidden" in explorer.header(explorer.last_views)[0]
    assert "75% of the pixels hidden" in explorer.caption_text  # the caption follows (the browser test reads it)

    for control, value in [(explorer.patch_size, 2), (explorer.seed, 3), (explorer.patch_size, 1),
                           (explorer.mask_ratio, 0.25), (explorer.patch_size, 8)]:
        before = explorer.last_drawn
        control.value = value
        assert explorer.last_drawn != before, control.description


def test_mask_explorer_picture_caption_and_static_display(digits8):
    task, encoder = untrained("masked")
    explorer = M.MaskExplorer(task, encoder, digits8)
    width, height = png_size(explorer.last_drawn)
    assert width <= M.MAX_WIDTH
    picture = M.render_masking(explorer.last_views, explorer.header(explorer.last_views))
    assert (height, width) == picture.shape[:2]  # drawn at the size it is shown: PNG = picture, 1:1
    layout = explorer.image.layout
    assert (layout.width, layout.height, layout.object_fit) == ("auto", "auto", "contain")  # aspect kept
    assert "repaints the grey patches" in explorer.caption_text and "50% of the pixels hidden" in explorer.caption_text
    assert html.escape(explorer.caption_text) in explorer.caption.value
    bundle, _ = DisplayFormatter().format(explorer)  # what IPython puts in the notebook's output
    assert "image/png" in bundle and bundle["text/plain"] == explorer.caption_text
    assert explorer.mask_ratio.style.description_width == "initial"


def test_mask_explorer_says_when_a_patch_size_was_not_trained_on(digits8):
    task, encoder = untrained("masked", patch_sizes=None)  # 4 px only
    explorer = M.MaskExplorer(task, encoder, digits8, patch_size=2)
    assert explorer.header(explorer.last_views)[1] == "2 px is NOT a size the model was trained on (4 px)"
    explorer.patch_size.value = 4
    assert explorer.header(explorer.last_views)[1] == "the model was trained on 4 px patches"


@pytest.mark.parametrize("options, message", [
    ({"mask_ratio": 1.5}, r"mask_ratio must be a number in \[0.05, 0.95\], got 1.5"),
    ({"mask_ratio": 0.0}, r"mask_ratio must be a number in \[0.05, 0.95\], got 0.0"),
    ({"patch_size": 5}, r"patch_size must be one of \[1, 2, 4, 8\], got 5"),
    ({"patch_size": 16}, r"patch_size must be one of \[1, 2, 4, 8\], got 16"),
    ({"seed": 51}, r"seed must be an integer in \[0, 50\], got 51"),
    ({"seed": -1}, r"seed must be an integer in \[0, 50\], got -1"),
    ({"seed": 1.5}, r"seed must be an integer in \[0, 50\], got 1.5"),
    ({"scale": 9}, r"scale must be an integer in \[1, 5\], got 9"),
])
def test_mask_explorer_rejects_bad_arguments_with_the_valid_range(digits8, options, message):
    task, encoder = untrained("masked")
    with pytest.raises(ValueError, match=message):
        M.MaskExplorer(task, encoder, digits8, **options)


def test_mask_explorer_rejects_too_many_or_badly_shaped_images(digits):
    task, encoder = untrained("masked")
    with pytest.raises(ValueError, match=r"number of images must be an integer in \[1, 12\], got 13"):
        M.MaskExplorer(task, encoder, digits[1].images[:13])
    with pytest.raises(ValueError, match=r"images must be a tensor of shape \(N, C, H, W\)"):
        M.MaskExplorer(task, encoder, digits[1].images[0])


def untrained_mae(**options):
    torch.manual_seed(0)
    method = make_method("mae", depth=1, heads=2, decoder_dim=16, mask_ratio=0.5, **options)
    method.build((3, 16, 16), width=8)
    return method, method.encoder.eval()


def test_mask_and_reconstruct_explores_the_mae_from_its_visible_patches_only(digits8):
    mae, encoder = untrained_mae()
    views = M.mask_and_reconstruct(mae, encoder, digits8, 0.75, 4, seed=2)
    assert float(views["mask"].mean()) == pytest.approx(0.75)
    visible = views["mask"].expand_as(digits8) == 0
    torch.testing.assert_close(views["reconstruction"][visible], digits8[visible])
    torch.testing.assert_close(views["masked"][~visible], torch.full_like(digits8[~visible], 0.5))
    hidden = views["mask"].expand_as(digits8)
    expected = ((views["reconstruction"] - digits8).pow(2) * hidden).sum() / hidden.sum()
    assert views["masked_mse"] == pytest.approx(float(expected), rel=1e-5)
    changed = torch.where(hidden.bool(), 1 - digits8, digits8)  # nothing hidden reaches the picture
    again = M.mask_and_reconstruct(mae, encoder, changed, 0.75, 4, seed=2)
    torch.testing.assert_close(again["reconstruction"][~visible], views["reconstruction"][~visible])
    assert M.model_patch_sizes(mae) == (4,) and M.is_mae(mae) and not M.is_mae(untrained("masked")[0])
    with pytest.raises(ValueError, match=r"an MAE cuts images into its ViT's 4 px patches: patch_size must be 4, "
                                         r"got 2"):
        M.mask_and_reconstruct(mae, encoder, digits8, 0.5, 2)
    with pytest.raises(ValueError, match="not the MAE's own encoder"):
        M.mask_and_reconstruct(mae, untrained_mae()[1], digits8, 0.5, 4)


def test_mask_explorer_explores_the_mae(digits8):
    mae, encoder = untrained_mae()
    explorer = M.MaskExplorer(mae, encoder, digits8)
    assert list(explorer.patch_size.options) == [4] and explorer.patch_size.disabled
    header = explorer.header(explorer.last_views)
    assert header[0].startswith("4 px patches, 50% of pixels hidden: masked MSE")
    assert header[1] == "MAE: a ViT on 4 px patches, trained at mask ratio 0.5"
    assert "from the visible ones only" in explorer.caption_text and "50% of the pixels hidden" in explorer.caption_text
    width, height = png_size(explorer.last_drawn)
    assert width <= M.MAX_WIDTH
    assert (height, width) == M.render_masking(explorer.last_views, header).shape[:2]
    for control, value in [(explorer.mask_ratio, 0.75), (explorer.seed, 3), (explorer.mask_ratio, 0.25)]:
        before = explorer.last_drawn
        control.value = value
        assert explorer.last_drawn != before, control.description
    views = M.mask_and_reconstruct(mae, encoder, digits8, 0.25, 4, seed=3)
    assert explorer.last_drawn == array_to_png(M.render_masking(views, explorer.header(views)))
    with pytest.raises(ValueError, match=r"patch_size must be one of \[4\], got 8"):
        M.MaskExplorer(mae, encoder, digits8, patch_size=8)


# ---------------------------------------------------------------- corruption explorer: pure functions


def test_corrupt_image_on_a_digit_and_a_photo():
    digit = C.explorer_source("digits", 0)
    views = C.corrupt_image(digit, noise_level=0.0, box_fraction=0.5, rotation=180, seed=0)
    assert torch.equal(views["noisy"], digit[None])
    assert views["mask"].sum() == 64  # an 8 x 8 box on 16 px
    assert torch.equal(views["rotated"], torch.rot90(digit[None], 2, dims=(-2, -1)))
    assert torch.equal(C.corrupt_image(digit, 0.3, 0.0)["hidden"], digit[None])
    photo = C.explorer_source("chelsea")
    assert C.corrupt_image(photo, 0.2, 0.25)["mask"].sum() == 16 * 16
    with pytest.raises(ValueError, match="rotation must be one of"):
        C.corrupt_image(digit, rotation=45)
    with pytest.raises(ValueError, match="source must be one of"):
        C.explorer_source("lena")


def test_model_answers_and_columns_titled_inside_the_picture(corruption_models):
    views = C.corrupt_image(C.explorer_source("digits", 2), 0.3, 0.5, 90)
    answers = C.model_answers(views, corruption_models)
    assert answers["denoised"].shape == (1, 3, 16, 16) and answers["rotation"] in C.ROTATIONS
    outside = views["mask"].expand_as(views["hidden"]) == 0
    assert torch.equal(answers["inpainted"][outside], views["hidden"][outside])
    picture, titles = C.render_corruptions(views, answers, ["header"])
    assert titles == ["original", "noisy", "denoised", "hidden box", "inpainted", "rotated"]
    height, width, _ = picture.shape
    assert width <= C.MAX_WIDTH and picture.dtype == np.uint8
    line = C.TEXT_PX + 6
    assert height == C.MARGIN + 2 * line + C.TILE + C.MARGIN  # header, titles, 128 px images
    cell = (width - 2 * C.MARGIN - 5 * C.COLUMN_GAP) // 6
    titles_band = picture[C.MARGIN + line:C.MARGIN + 2 * line]
    for c in range(6):  # a title over every column, inside the picture, text >= 12 px tall
        x = C.MARGIN + c * (cell + C.COLUMN_GAP)
        assert dark_rows(titles_band[:, x:x + cell]) >= 12, titles[c]
    # the digit is shown 8x with crisp pixels: the first column is the enlarged original
    original = picture[C.MARGIN + 2 * line:C.MARGIN + 2 * line + C.TILE, C.MARGIN:C.MARGIN + C.TILE]
    expected = (views["original"][0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(original[::8, ::8], expected)
    assert C.render_corruptions(views)[1] == ["original", "noisy", "hidden box", "rotated"]
    with pytest.raises(ValueError, match="models may hold"):
        C.model_answers(views, {"jigsaw": untrained("jigsaw")})
    task, _ = corruption_models["denoising"]
    with pytest.raises(ValueError, match="not the denoising task's own encoder"):
        C.model_answers(views, {"denoising": (task, SmallCNN(width=8))})
    with pytest.raises(RuntimeError, match="no encoder and head yet"):
        C.model_answers(views, {"denoising": (make_method("denoising"), SmallCNN(width=8))})


def test_photos_are_drawn_at_the_same_tile_size():
    views = C.corrupt_image(C.explorer_source("astronaut"), 0.3, 0.5, 90)
    picture, _ = C.render_corruptions(views)
    assert picture.shape[0] == C.MARGIN + (C.TEXT_PX + 6) + 2 * 64 + C.MARGIN  # the 64 px photo shown 2x


# ---------------------------------------------------------------- corruption explorer: widget


def test_corruption_explorer_redraws_on_every_control(corruption_models):
    explorer = C.CorruptionExplorer(corruption_models)
    drawn = [explorer.last_drawn]
    assert drawn[0][:4] == b"\x89PNG"
    assert explorer.header(explorer.last_answers)[0].startswith("rotation model says: turned")
    for control, value in [(explorer.noise_level, 0.8), (explorer.box_fraction, 0.25), (explorer.rotation, 270),
                           (explorer.seed, 5), (explorer.index, 7), (explorer.source, "astronaut")]:
        control.value = value
        assert explorer.last_drawn != drawn[-1], control.description
        drawn.append(explorer.last_drawn)
    header = explorer.header(explorer.last_answers)
    assert explorer.index.disabled and header[0].endswith("truth: 270°")
    assert header[1] == "models trained on 16 px digits: a photo is far from their data"
    array, _, _ = explorer.picture()
    assert explorer.last_drawn == array_to_png(array)
    assert png_size(explorer.last_drawn) == (array.shape[1], array.shape[0])  # shown at its natural size
    assert png_size(explorer.last_drawn)[0] <= C.MAX_WIDTH


def test_corruption_explorer_caption_controls_and_static_display(corruption_models):
    explorer = C.CorruptionExplorer(corruption_models)
    bundle, _ = DisplayFormatter().format(explorer)  # what IPython puts in the notebook's output
    assert "image/png" in bundle and bundle["text/plain"] == explorer.caption_text
    assert "original" in explorer.caption_text and html.escape(explorer.caption_text) in explorer.caption.value
    first, second = explorer.widget.children[0].children  # two control columns
    assert len(first.children) == 3 and len(second.children) == 3
    for control in (*first.children, *second.children):
        assert control.style.description_width == "initial", control.description
    assert explorer.widget.children[0].layout.flex_flow == "row wrap"  # a narrow window wraps, never clips
    assert C.CorruptionExplorer().header({}) == []  # no models: no header lines


@pytest.mark.parametrize("options, message", [
    ({"noise_level": 1.5}, r"noise_level must be a number in \[0.0, 1.0\], got 1.5"),
    ({"noise_level": -0.1}, r"noise_level must be a number in \[0.0, 1.0\], got -0.1"),
    ({"box_fraction": 2}, r"box_fraction must be a number in \[0.0, 1.0\], got 2"),
    ({"rotation": 45}, r"rotation must be one of \[0, 90, 180, 270\], got 45"),
    ({"source": "digitz"}, r"source must be one of \['digits', 'astronaut', 'chelsea', 'coffee', 'rocket'\], "
                           r"got 'digitz'"),
    ({"index": 5000}, r"index must be an integer in \[0, \d+\], got 5000"),
    ({"index": -1}, r"index must be an integer in \[0, \d+\], got -1"),
    ({"seed": 99}, r"seed must be an integer in \[0, 50\], got 99"),
    ({"models": {"jigsaw": None}}, r"models key must be one of \['denoising', 'inpainting', 'rotation'\], "
                                   r"got 'jigsaw'"),
])
def test_corruption_explorer_rejects_bad_arguments_with_the_valid_range(options, message):
    with pytest.raises(ValueError, match=message):
        C.CorruptionExplorer(**options)
