"""The European 1 and 7 (``styles``): what they add to a digit, which digits they touch, and
that training records and checks the option."""

import numpy as np
import pytest

from mnist_desktop.model import load_mnist, to_mnist
from mnist_desktop.model.styles import european_digits, restyle, stroke_width


@pytest.fixture(scope="module")
def digits():
    x, y = load_mnist("test")
    return x[:600].numpy(), y[:600].numpy()


def test_stroke_width_of_drawn_bars():
    for w in (2, 3, 5, 8):
        ink = np.zeros((100, 100), bool)
        ink[10:90, 40 : 40 + w] = True
        assert stroke_width(ink) == pytest.approx(w, rel=0.15)


def _ink_in(x28: np.ndarray, rows: slice, cols: slice) -> float:
    return float(x28[rows, cols].sum())


def test_a_flag_goes_on_top_left_of_a_1_and_a_bar_across_the_middle_of_a_7(digits):
    x, y = digits
    rng = np.random.default_rng(0)
    ones, sevens = x[y == 1][:40], x[y == 7][:40]
    flagged = [restyle(im, 1, rng) for im in ones]
    crossed = [restyle(im, 7, rng) for im in sevens]
    assert all(f is not None and f.shape == (28, 28) and f.dtype == np.float32 for f in flagged)
    plain1 = [to_mnist(im) for im in ones]
    plain7 = [to_mnist(im) for im in sevens]

    def left_of_ink(x28, rows):  # ink in the given rows left of the digit's own middle column
        cols = np.flatnonzero(x28.any(axis=0))
        middle = (cols[0] + cols[-1]) // 2
        return _ink_in(x28, rows, slice(0, middle))

    # the flag: more ink in the upper third, left of the middle (to_mnist refits the digit, so
    # compare shares of the digit's ink)
    share = lambda images, f: np.median([f(im) / im.sum() for im in images])  # noqa: E731
    assert share(flagged, lambda im: left_of_ink(im, slice(4, 13))) > 1.5 * share(plain1, lambda im: left_of_ink(im, slice(4, 13)))
    # the bar: some row below the 7's top (rows 12-21 of 28) is much wider than it was
    spans = lambda im: np.array([np.ptp(np.flatnonzero(r > 0.2)) + 1 if (r > 0.2).any() else 0 for r in im[12:22]])  # noqa: E731
    kept = [(c, p) for c, p in zip(crossed, plain7) if c is not None]
    assert len(kept) >= 36
    assert np.median([(spans(c) - spans(p)).max() for c, p in kept]) >= 3
    assert restyle(x[y == 3][0], 3, rng) is None


def test_european_digits_redraws_the_share_of_1s_and_7s_only_and_is_reproducible(digits):
    x, y = digits
    images, where = european_digits(x, y, 0.5, seed=3)
    n = int(np.isin(y, (1, 7)).sum())
    assert images.dtype == np.uint8 and images.shape == (len(where), 28, 28)
    assert abs(len(where) - n / 2) <= 3 and np.isin(y[where], (1, 7)).all()
    again, where_again = european_digits(x, y, 0.5, seed=3)
    assert np.array_equal(again, images) and np.array_equal(where, where_again)
    other, _ = european_digits(x, y, 0.5, seed=4)
    assert not np.array_equal(other[: min(len(other), len(images))], images[: min(len(other), len(images))])
    # each is its own digit with strokes added: most of the original's ink is still there
    for im, i in zip(images[:20], where[:20]):
        plain = to_mnist(x[i])
        assert (im[plain > 0.5] > 64).mean() > 0.5
    assert len(european_digits(x, y, 0.0, seed=3)[1]) == 0
    with pytest.raises(ValueError, match="share of 1s and 7s"):
        european_digits(x, y, 1.5, seed=3)


def test_training_redraws_the_share_asked_and_records_it():
    from mnist_desktop.model import TrainConfig, train

    with pytest.raises(ValueError, match="share of 1s and 7s"):
        TrainConfig(european_digits=-0.2).validate()
    notes = []
    config = TrainConfig(subset=600, epochs=1, batch_size=64, device="cpu", european_digits=0.5)
    predictor = train(config, on_note=notes.append).predictor
    assert predictor.meta["training"]["european_digits"] == 0.5
    x, y = load_mnist("train")
    n = int(np.isin(y[:600].numpy(), (1, 7)).sum())
    said = [t for t in notes if "European way" in t]
    assert len(said) == 1 and abs(int(said[0].split()[1]) - n / 2) <= 3, said
