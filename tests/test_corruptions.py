"""The local MNIST-C: every corruption changes the digits, the same way under the same seed."""

import threading

import numpy as np
import pytest

from mnist_desktop.model import CORRUPTIONS, corrupt, corruption_suite, load_mnist

# The corruptions that draw no random numbers: the same images whatever the seed.
FIXED = {"scale", "brightness", "stripe", "canny_edges"}


@pytest.fixture(scope="module")
def digits():
    x, y = load_mnist("test")
    return x.numpy()[:64], y.numpy()[:64]


def test_there_are_the_fifteen_of_mnist_c():
    assert list(CORRUPTIONS) == [
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate", "brightness",
        "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag", "canny_edges",
    ]  # fmt: skip


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_changes_the_images_deterministically(digits, name):
    x, _ = digits
    before = x.copy()
    a = corrupt(x, name, seed=0)
    assert a.dtype == np.uint8 and a.shape == x.shape
    assert np.array_equal(x, before)  # the input is left alone
    changed = (a != x).reshape(len(x), -1).any(1)
    assert changed.mean() >= 0.9, f"{name} left {int((~changed).sum())} of {len(x)} images as they were"
    assert np.array_equal(a, corrupt(x, name, seed=0))
    if name not in FIXED:
        assert not np.array_equal(a, corrupt(x, name, seed=1))


def test_what_some_corruptions_do(digits):
    x, _ = digits
    assert (corrupt(x, "brightness") >= 127).all()  # a grey background: nothing darker than 0.5
    stripe = corrupt(x, "stripe")
    assert (stripe[:, :, :4] == 255 - x[:, :, :4]).all() and (stripe[:, :, 8:20] == x[:, :, 8:20]).all()
    edges = corrupt(x, "canny_edges")
    assert set(np.unique(edges).tolist()) <= {0, 255} and (edges > 0).sum() < (x > 127).sum() * 2
    ink = x.reshape(len(x), -1).astype(float).sum(1)
    assert (corrupt(x, "scale").reshape(len(x), -1).astype(float).sum(1) < ink).all()  # shrunk: less ink
    noisy = corrupt(x, "impulse_noise")
    changed = noisy != x
    assert set(np.unique(noisy[changed]).tolist()) <= {0, 255}
    # 17 % of the pixels hit, each set to black or white with even odds: a hit changes a pixel unless it already had that value
    expected = 0.17 * (0.5 * (x != 0).mean() + 0.5 * (x != 255).mean())
    assert changed.mean() == pytest.approx(expected, rel=0.1)


def test_bad_input_is_refused(digits):
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(digits[0], "snow")
    with pytest.raises(ValueError, match="uint8"):
        corrupt(digits[0].astype(np.float32), "fog")


class Oracle:
    """Right when the image is unchanged from MNIST, wrong otherwise: the suite's bookkeeping, exposed."""

    classes = list(range(10))

    def __init__(self, images, labels):
        self.known = {im.tobytes(): int(l) for im, l in zip(images, labels)}

    def predict_batch(self, images):
        out = np.zeros((len(images), 10), np.float32)
        for i, im in enumerate(images):
            out[i, self.known.get(im.tobytes(), 0)] = 1  # unknown images: class 0
        return out


def test_corruption_suite_reports_accuracy_per_corruption_with_progress_and_stop(digits):
    x, y = digits
    seen = []
    r = corruption_suite(Oracle(x, y), x, y, subset=32, names=["brightness", "stripe"], on_progress=lambda *a: seen.append(a))
    # every image changed, so the oracle only gets the zeros right (as class 0)
    zeros = float((y[:32] == 0).mean())
    assert r == {"brightness": pytest.approx(zeros), "stripe": pytest.approx(zeros)}
    assert seen == [(1, 2, "brightness"), (2, 2, "stripe")]
    stop = threading.Event()
    r = corruption_suite(Oracle(x, y), x, y, subset=8, on_progress=lambda done, total, name: stop.set(), stop_event=stop)
    assert list(r) == ["shot_noise"]  # stopped after the first


def test_corruption_suite_counts_only_the_models_classes(digits):
    """A 3-vs-7 model is judged on the 3s and 7s, as ``evaluate`` judges it: the window's suite
    on such a model (the chapter's) raised "labels [0, 1, 2, 4, 5] are not among the model's classes"."""
    x, y = digits

    class ThreeOrSeven(Oracle):
        classes = [3, 7]

        def predict_batch(self, images):
            out = np.zeros((len(images), 2), np.float32)
            for i, im in enumerate(images):
                out[i, int(self.known.get(im.tobytes(), 3) == 7)] = 1  # unknown images: a 3
            return out

    r = corruption_suite(ThreeOrSeven(x, y), x, y, subset=64, names=["stripe"])
    ours = y[np.isin(y, [3, 7])]
    assert r == {"stripe": pytest.approx(float((ours == 3).mean()))}
    with pytest.raises(ValueError, match="none of the 5 images"):
        corruption_suite(ThreeOrSeven(x, y), x[y == 0][:5], y[y == 0][:5], names=["stripe"])
