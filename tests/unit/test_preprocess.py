"""Photo -> network input as posenet 2.x does it, and back to photo coordinates."""
import cv2
import numpy as np
import pytest
import tensorflow as tf
from helpers import photo_paths, require_compiled

from posenet_port.inference.preprocess import (
    RESIZER,
    ImageError,
    js_round,
    letterbox_for,
    load_image,
    preprocess,
    resize_bilinear,
    resize_bilinear_numpy,
    to_rgb,
)


def test_js_round_rounds_halves_up():
    assert [js_round(v) for v in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999)] == [1, 2, 3, 0, -1, 2]
    assert [round(v) for v in (0.5, 2.5)] == [0, 2]  # why we need it: Python rounds halves to even


def test_resize_matches_tensorflow_legacy_bilinear():
    image = np.random.default_rng(0).integers(0, 256, (97, 143, 3)).astype(np.uint8)
    for height, width in [(257, 257), (33, 65), (353, 120)]:
        ours = resize_bilinear(image, height, width)
        theirs = tf.compat.v1.image.resize_bilinear(image[None].astype(np.float32), (height, width)).numpy()[0]
        assert np.abs(ours - theirs).max() < 1e-2  # TF computes the weights in float32, tfjs in float64


@pytest.mark.parametrize("seed", range(6))
def test_compiled_resize_gives_the_numpy_resize_exactly(seed):
    """Any photo size, output size and padding (sometimes wider than the photo), either channel order."""
    require_compiled(RESIZER, "_resize.c")
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (int(rng.integers(1, 700)), int(rng.integers(1, 700)), 3)).astype(np.uint8)
    size = (int(rng.integers(1, 600)), int(rng.integers(1, 600)))
    padding = tuple(int(p) for p in rng.integers(0, 400, 4) * (seed % 2))
    expected = resize_bilinear_numpy(image, *size, padding)
    np.testing.assert_array_equal(resize_bilinear(image, *size, padding), expected)
    np.testing.assert_array_equal(resize_bilinear(image, *size, padding, reverse_channels=True), expected[:, :, ::-1])


def test_letterbox_pads_the_short_side_like_posenet():
    wide = letterbox_for(922, 2048, 257, 257, stretch=False)
    assert (wide.pad_top, wide.pad_bottom, wide.pad_left, wide.pad_right) == (563, 563, 0, 0)  # round(0.5*(2048-922))
    tall = letterbox_for(600, 401, 257, 257, stretch=False)
    assert (tall.pad_left, tall.pad_right) == (100, 100)  # Math.round(99.5) = 100, where numpy would give 100 too
    assert letterbox_for(600, 400, 257, 257, stretch=True).pad_left == 0


def test_letterbox_maps_input_coordinates_back_to_the_photo():
    box = letterbox_for(922, 2048, 257, 257, stretch=False)
    # The input's corners are the padded photo's corners.
    y, x = box.to_image(np.array([0.0, 257.0]), np.array([0.0, 257.0]))
    np.testing.assert_allclose(y, [-563, 922 + 563])
    np.testing.assert_allclose(x, [0, 2048])


def test_any_colour_layout_gives_the_same_input():
    rgb = load_image(photo_paths()[0])
    expected, _ = preprocess(rgb, 257)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(preprocess(bgr, 257, color_order="bgr")[0], expected)
    np.testing.assert_array_equal(preprocess(rgba, 257)[0], expected)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    batch, _ = preprocess(gray, 257)
    assert batch.shape == (1, 257, 257, 3) and np.array_equal(batch[..., 0], batch[..., 2])
    assert -1.0 <= expected.min() and expected.max() <= 1.0


def test_images_that_cannot_be_inputs_are_refused():
    with pytest.raises(ImageError, match=r"image of shape \(4, 4, 2\)"):
        to_rgb(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageError, match="is empty"):
        to_rgb(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(ImageError, match="dtype float64"):
        to_rgb(np.zeros((4, 4, 3)))
    with pytest.raises(ImageError, match="color order 'hsv'"):
        to_rgb(np.zeros((4, 4, 3), np.uint8), "hsv")


def test_unreadable_photo_files_are_refused(tmp_path):
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="file is empty"):
        load_image(tmp_path / "empty.jpg")
    (tmp_path / "text.jpg").write_text("not a jpeg")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(tmp_path / "text.jpg")
