import numpy as np
import pytest
from PIL import Image

from mnist_desktop.model import EmptyImageError, load_digit_image, load_mnist, to_mnist
from mnist_desktop.model.drawings import place_on_canvas


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist("test")
    return images[:200].numpy(), labels[:200].numpy()


place = place_on_canvas


def test_mnist_digits_are_fixed_points(digits):
    """MNIST was made this way, so to_mnist leaves MNIST digits as they are (up to the
    contrast stretch: a tenth of MNIST peaks at 254, not 255)."""
    images, _ = digits
    out = np.stack([to_mnist(im) for im in images])
    assert out.dtype == np.float32 and out.shape == (200, 28, 28)
    np.testing.assert_allclose(out, images / images.max(axis=(1, 2), keepdims=True), atol=1e-6)
    assert np.abs(out - images / 255.0).max() <= 1 / 255 + 1e-6


def test_faint_strokes_are_stretched_to_full_white():
    faint = np.zeros((100, 100), np.uint8)
    faint[20:80, 48:52] = 60
    assert to_mnist(faint).max() == pytest.approx(1.0)


def test_output_has_mnist_properties(digits):
    images, _ = digits
    for im in images[:50]:
        x = to_mnist(place(im, 150, 100, 10))
        assert x.min() >= 0 and x.max() <= 1
        rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
        assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == 20  # fitted into the 20×20 box
        cy = (x.sum(1) @ np.arange(28)) / x.sum()
        cx = (x.sum(0) @ np.arange(28)) / x.sum()
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5  # centre of mass at the centre


@pytest.mark.parametrize("height,top,left", [(84, 0, 0), (252, 28, 28), (120, 160, 150), (200, 40, 80)])
def test_invariant_to_position_and_scale(digits, height, top, left):
    images, _ = digits
    diffs = [np.abs(to_mnist(place(im, height, top, left)) - to_mnist(place(im, 168, 56, 56))).mean() for im in images[:30]]
    # Resampling differs a little with scale, and the centre of mass can round to the next
    # pixel; a digit left where it was drawn would differ by ~0.2.
    assert np.mean(diffs) < 0.015 and max(diffs) < 0.08


def test_aspect_ratio_is_kept():
    bar = np.zeros((100, 100), np.uint8)
    bar[10:90, 45:55] = 255  # a tall "1", 80 × 10
    x = to_mnist(bar)
    rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 in (2, 3)


def test_empty_and_invalid_images():
    with pytest.raises(EmptyImageError):
        to_mnist(np.zeros((280, 280), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        to_mnist(np.ones((28, 28), np.float64))
    with pytest.raises(ValueError, match="2-D"):
        to_mnist(np.ones((28, 28, 3), np.uint8))


def test_image_files_in_either_polarity(tmp_path, digits):
    images, _ = digits
    drawing = place(images[0], 120, 30, 40, size=200)
    Image.fromarray(drawing).save(tmp_path / "white_on_black.png")
    Image.fromarray(255 - drawing).save(tmp_path / "black_on_white.png")
    a = load_digit_image(tmp_path / "white_on_black.png")
    b = load_digit_image(tmp_path / "black_on_white.png")
    np.testing.assert_allclose(to_mnist(a), to_mnist(b), atol=0.02)
    Image.new("L", (50, 50), 200).save(tmp_path / "blank.png")
    with pytest.raises(EmptyImageError):
        load_digit_image(tmp_path / "blank.png")


def test_a_named_pipe_as_image_is_refused_without_blocking(tmp_path):
    import os
    import threading

    from mnist_desktop.model import DataError

    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)
    outcome = []
    t = threading.Thread(target=lambda: outcome.append(_error_of(lambda: load_digit_image(fifo))), daemon=True)
    t.start()
    t.join(10)
    blocked = t.is_alive()
    if blocked:  # stuck in open(): let it go before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert not blocked, "load_digit_image blocked on a FIFO"
    assert isinstance(outcome[0], DataError) and "named pipe" in str(outcome[0])


def _error_of(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001
        return e
    return None


def test_a_file_larger_than_any_image_is_refused(tmp_path):
    from mnist_desktop.model import DataError
    from mnist_desktop.model.preprocess import MAX_IMAGE_BYTES

    path = tmp_path / "huge.png"
    with open(path, "wb") as f:
        f.truncate(MAX_IMAGE_BYTES + 1)  # sparse
    with pytest.raises(DataError, match="larger than any image"):
        load_digit_image(path)


def test_only_raster_formats_are_opened(tmp_path, digits):
    from mnist_desktop.model import DataError

    Image.fromarray(digits[0][0]).save(tmp_path / "digit.ppm")  # a format Pillow reads, not on the list
    eps = tmp_path / "digit.png"  # the name does not matter, the bytes do
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nshowpage\n")
    for path in (tmp_path / "digit.ppm", eps):
        with pytest.raises(DataError, match=r"accepted formats: PNG, JPEG, BMP, GIF, TIFF, WEBP"):
            load_digit_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_huge_images_are_scaled_down_on_load(tmp_path, digits, fmt):
    from mnist_desktop.model.preprocess import MAX_IMAGE_SIDE

    small = place(digits[0][0], 200, 20, 40, size=250)
    big = Image.fromarray(255 - small).resize((5000, 5000), Image.Resampling.BILINEAR)  # dark ink on paper
    path = tmp_path / f"big.{fmt.lower()}"
    big.save(path, fmt)
    out = load_digit_image(path)
    assert out.dtype == np.uint8 and max(out.shape) == MAX_IMAGE_SIDE
    reference = to_mnist(load_digit_image(_saved(tmp_path, Image.fromarray(255 - small))))
    assert np.abs(to_mnist(out) - reference).mean() < 0.03  # the same digit, just fewer pixels


def _saved(tmp_path, image):
    path = tmp_path / "small.png"
    image.save(path)
    return path


def test_the_decompression_bomb_limit_stays_on(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    from mnist_desktop.model import DataError

    Image.new("L", (100, 100), 0).save(tmp_path / "many.png")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels: over twice the limit
    with pytest.raises(DataError, match="many.png: too many pixels to open safely"):
        load_digit_image(tmp_path / "many.png")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 6000)  # between once and twice: a warning, silenced
    with pytest.raises(EmptyImageError):  # decoded (and found blank), no DecompressionBombWarning raised as error
        load_digit_image(tmp_path / "many.png")
