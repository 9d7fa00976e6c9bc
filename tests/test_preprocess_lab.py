"""The preprocessing lab's engine: to_mnist with one step left out at a time."""

import numpy as np
import pytest

from mnist_desktop.model import PREPROCESS_VARIANTS, EmptyImageError, load_mnist, preprocess_variants, to_mnist
from mnist_desktop.model.drawings import place_on_canvas, random_drawings

NAMES = ["naive", "mnist", "no_crop", "no_fit", "no_stretch", "no_centring"]


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist("test")
    return images[:300].numpy(), labels[:300].numpy()


def centre_of_mass(x):
    rows, cols = np.indices(x.shape)
    return (rows * x).sum() / x.sum(), (cols * x).sum() / x.sum()


def ink_box(x):
    rows, cols = np.flatnonzero(x.any(axis=1)), np.flatnonzero(x.any(axis=0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def test_the_mnist_variant_is_to_mnist_bit_for_bit(digits):
    images, _ = digits
    _, drawings = random_drawings(images, 60, seed=3, low=0.1, high=1.0)
    for image in [*drawings, *images[:40]]:
        variants = preprocess_variants(image)
        assert list(variants) == NAMES == list(PREPROCESS_VARIANTS)
        expected = to_mnist(image)
        assert variants["mnist"].dtype == expected.dtype and np.array_equal(variants["mnist"], expected)
        for name, x in variants.items():
            assert x.dtype == np.float32 and x.shape == (28, 28), name
            assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1, name


def test_each_variant_leaves_out_its_step(digits):
    """A digit drawn small (70 of 280 pixels high) in the top-left corner."""
    images, _ = digits
    canvas = place_on_canvas(images[0], 70, 10, 20)
    v = preprocess_variants(canvas)
    mnist = v["mnist"]
    assert np.abs(np.subtract(centre_of_mass(mnist), 14)).max() <= 0.5
    top, bottom, left, right = ink_box(mnist)
    assert max(bottom - top, right - left) == 20  # fitted into the 20×20 box
    # naive: the canvas shrunk as it is, so the digit stays small and in the corner
    top, bottom, left, right = ink_box(v["naive"] > 0.05)
    assert bottom <= 10 and right <= 11 and bottom - top <= 9
    # no crop: the whole canvas fitted into 20×20 (a tenth-size digit is a 5-pixel smudge), then centred
    top, bottom, left, right = ink_box(v["no_crop"])
    assert bottom - top <= 7 and right - left <= 7
    assert v["no_crop"].max() == 1  # the contrast stretch is still there
    # no fit: the ink keeps its canvas size (the digit's 50 of 280 pixels: 5 of 28), but is cropped, stretched and centred
    top, bottom, left, right = ink_box(v["no_fit"])
    assert 4 <= bottom - top <= 6 and v["no_fit"].max() == 1
    assert np.abs(np.subtract(centre_of_mass(v["no_fit"]), 14)).max() <= 0.5
    # no centring: the same 20×20 box as to_mnist, in the middle by its bounding box
    top, bottom, left, right = ink_box(v["no_centring"])
    assert (top + bottom - 28) in (-1, 0) and (left + right - 28) in (-1, 0)
    t, b, l, r = ink_box(mnist)
    np.testing.assert_array_equal(v["no_centring"][top:bottom, left:right], mnist[t:b, l:r])


def test_no_stretch_keeps_faint_strokes_grey():
    faint = np.zeros((280, 280), np.uint8)
    faint[40:240, 135:139] = 90  # a thin, light 1
    v = preprocess_variants(faint)
    assert v["mnist"].max() == 1 and v["no_stretch"].max() < 0.5
    peak = v["no_stretch"].max()
    np.testing.assert_allclose(v["no_stretch"] / peak, v["mnist"], atol=1e-6)  # the stretch is all that differs


def test_a_full_canvas_mnist_digit_is_the_same_naively(digits):
    """A MNIST digit enlarged to fill the canvas: the naive resize gives (nearly) the digit back."""
    images, _ = digits
    canvas = place_on_canvas(images[1], 280, 0, 0)
    naive = preprocess_variants(canvas)["naive"]
    assert np.corrcoef(naive.ravel(), images[1].ravel())[0, 1] > 0.97  # blurred a little by the two resizes
    assert np.abs(np.subtract(centre_of_mass(naive), centre_of_mass(images[1] / 255))).max() < 0.5


def test_empty_and_invalid_images_are_refused_like_to_mnist():
    with pytest.raises(EmptyImageError):
        preprocess_variants(np.zeros((280, 280), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        preprocess_variants(np.zeros((280, 280), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        preprocess_variants(np.zeros((3, 280, 280), np.uint8))


def test_the_bench_table_scores_every_variant():
    from mnist_desktop.bench import bench_preprocess, format_report

    r = bench_preprocess(count=100, seed=1)
    assert list(r["accuracy"]) == NAMES and r["digits"] == 100
    acc = r["accuracy"]
    # to_mnist is what makes small, off-centre drawings readable: each step it takes helps.
    assert acc["mnist"] >= 0.95 and acc["mnist"] >= r["mnist_itself"] - 0.03
    assert acc["naive"] < acc["mnist"] - 0.2 and acc["no_crop"] < acc["mnist"] - 0.2 and acc["no_fit"] < acc["mnist"] - 0.1
    report = format_report({"device": "cpu", "cpu": "x", "cpu_threads": 1, "torch": "t", "python": "p", "preprocess": r})
    assert "no_centring" in report and f"{100 * acc['naive']:5.1f} %" in report


def test_the_whole_canvas_resizes_are_the_full_resize(digits):
    """naive, no_crop and no_fit resize by a banded sum (no BLAS): the same as resize_antialiased."""
    from mnist_desktop.model.preprocess import crop, fit_box, place_by_centre_of_mass, resize_antialiased, resize_banded, stretch

    images, _ = digits
    _, drawings = random_drawings(images, 20, seed=5, low=0.1, high=1.0)
    rng = np.random.default_rng(0)
    noise = [(rng.random(shape) * 255).astype(np.uint8) for shape in ((280, 280), (100, 37), (5, 300), (30, 30))]
    for image in noise:
        for size in ((28, 28), (20, 20), (1, 20), (60, 45)):
            np.testing.assert_allclose(resize_banded(image, size), resize_antialiased(image.astype(np.float32), size), atol=1e-6)
    for image in drawings:
        full = resize_antialiased(image.astype(np.float32), (28, 28))
        np.testing.assert_allclose(resize_banded(image, (28, 28)), full, atol=1e-6)
        np.testing.assert_allclose(resize_banded(image, (20, 20)), resize_antialiased(image.astype(np.float32), (20, 20)), atol=1e-6)
        v = preprocess_variants(image)
        np.testing.assert_allclose(v["naive"], full, atol=1e-6)
        np.testing.assert_allclose(v["no_crop"], place_by_centre_of_mass(stretch(fit_box(image))), atol=1e-5)
        c = crop(image)
        small = resize_antialiased(c.astype(np.float32), (max(1, round(c.shape[0] / 10)), max(1, round(c.shape[1] / 10))))  # as 280 → 28
        np.testing.assert_allclose(v["no_fit"], place_by_centre_of_mass(stretch(small)), atol=1e-5)
