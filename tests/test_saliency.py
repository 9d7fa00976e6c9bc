"""Predictor.saliency: what the model looks at."""

import copy

import numpy as np
import pytest
import torch

from mnist_desktop.model import load_mnist

ARCHS = ["pixel-similarity", "linear", "mlp", "cnn", "mlp-3v7"]


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist("test")
    return images[:200].numpy().astype(np.float32) / 255, labels[:200].numpy()


def clear_digits(p, digits):
    """The digits ``p`` classifies right: (x28, class index)."""
    images, labels = digits
    for x, y in zip(images, labels):
        if int(y) in p.classes:
            k = int(np.argmax(p.predict(x)))
            if p.classes[k] == y:
                yield x, k


def score(p, x, k):
    """What saliency explains: the class's output against the others' (see Predictor._class_direction)."""
    _, v = p._class_direction(k, x)
    with torch.no_grad():
        return float((p.model(torch.from_numpy(p.normalize(x)).reshape(1, 1, 28, 28))[0] * v).sum())


@pytest.mark.parametrize("name", ARCHS)
def test_saliency_points_at_the_ink_of_a_clear_digit(trained, digits, name):
    p = trained[name]
    totals, shares = [], []
    for x, _k in clear_digits(p, digits):
        s = p.saliency(x)
        assert s.dtype == np.float32 and s.shape == (28, 28) and np.isfinite(s).all()
        ink = x > 0
        assert not s[~ink].any()  # against a black image: no ink, no push
        assert s[ink].any()
        totals.append(s.sum())
        shares.append(s[s > 0].sum() / np.abs(s).sum())
    assert len(totals) >= 30
    # The ink pushes towards the class the model chose, for nearly every digit it gets right.
    assert np.mean(np.asarray(totals) > 0) >= 0.9, name
    assert np.mean(shares) >= 0.6, name


@pytest.mark.parametrize("name", ARCHS)
def test_default_class_is_the_top_one_and_calls_are_deterministic(trained, digits, name):
    p = trained[name]
    x = digits[0][0]
    top = int(np.argmax(p.predict(x)))
    np.testing.assert_array_equal(p.saliency(x), p.saliency(x, top))
    np.testing.assert_array_equal(p.saliency(x, top), p.saliency(x.copy(), top))
    others = [p.saliency(x, k) for k in range(len(p.classes))]
    # Against the other classes: what pushes one class pushes the rest away, pixel by pixel.
    np.testing.assert_allclose(np.sum(others, axis=0), 0, atol=1e-5)
    assert not np.array_equal(others[0], others[1])
    for bad in (-1, len(p.classes), 1.5, "3", True):
        with pytest.raises(ValueError, match="class_index"):
            p.saliency(x, bad)
    with pytest.raises(ValueError, match="28, 28"):
        p.saliency(np.zeros((27, 28), np.float32))


@pytest.mark.parametrize("name", ["pixel-similarity", "linear"])
def test_saliency_is_exact_where_the_model_is_a_sum_over_pixels(trained, digits, name):
    """Pixel similarity (distance to the class means) and the linear model: each pixel's share
    adds up to the score's change from a black image, and switching one pixel on alone changes
    the score by exactly that pixel's share."""
    p = trained[name]
    black = np.zeros((28, 28), np.float32)
    for x, k in list(clear_digits(p, digits))[:10]:
        s = p.saliency(x, k)
        assert s.sum() == pytest.approx(score(p, x, k) - score(p, black, k), abs=2e-3)
        r, c = np.argwhere(x > 0.5)[0]
        one = black.copy()
        one[r, c] = x[r, c]
        assert s[r, c] == pytest.approx(score(p, one, k) - score(p, black, k), abs=1e-4)


def test_the_pixel_similarity_saliency_is_the_distance_to_the_class_means(trained, digits):
    """By hand: ink on pixel p pushes towards class k by how much closer it brings x to k's mean
    than to the other classes' means (the model's output is minus 50 × the mean distance)."""
    p = trained["pixel-similarity"]
    means = p.model.similarity.means.numpy().astype(np.float64)
    x = digits[0][0].astype(np.float64)
    k = 7
    closer = np.abs(means) - np.abs(x - means)  # (10, 28, 28): per pixel, how much x is nearer each mean than black is
    expected = 50 / 784 * (closer[k] - closer.mean(axis=0))
    np.testing.assert_allclose(p.saliency(x.astype(np.float32), k), expected, atol=1e-6)


def test_the_cnn_saliency_is_its_gradient_times_the_input(trained, digits):
    """Against finite differences of the model in float64: ∂score/∂x at a few ink pixels, times x."""
    p = trained["cnn"]
    x, k = next(clear_digits(p, digits))
    s = p.saliency(x, k)
    model = copy.deepcopy(p.model).double().eval()
    _, v = p._class_direction(k, x)

    def f(img):
        with torch.no_grad():
            z = model(((torch.from_numpy(img) - p._mean) / p._std).reshape(1, 1, 28, 28))
            return float((z[0] * v.double()).sum())

    h = 1e-6
    checked = 0
    for r, c in np.argwhere(x > 0.3)[::15]:
        up, down = x.astype(np.float64), x.astype(np.float64)
        up[r, c] += h
        down[r, c] -= h
        here = f(x.astype(np.float64))
        ahead, behind = (f(up) - here) / h, (here - f(down)) / h
        if abs(ahead - behind) > 1e-3 * max(1.0, abs(ahead)):
            continue  # a ReLU or max-pool kink: no derivative for a difference to check against
        grad = (ahead + behind) / 2
        # 1 %: the float32 model and its float64 copy can settle a near-tie of a max-pool
        # window differently at a pixel or two; a wrong gradient is off by far more
        assert s[r, c] == pytest.approx(grad * x[r, c], rel=1e-2, abs=1e-5)
        checked += 1
    assert checked >= 3
