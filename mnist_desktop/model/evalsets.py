"""The sets the recognizer is measured on, none of them used in training.

* real handwriting that is not MNIST: the UCI optdigits test set (1,797 digits of 43 writers,
  8×8, as scikit-learn's ``load_digits`` holds it), shipped in ``resources/eval``;
* digits, letters and symbols written in handwriting fonts (``scripts/make_eval_sets.py``);
* MNIST test digits redrawn as canvas drawings: small, large, off-centre, thin or fat;
* scribbles and random strokes drawn as on the canvas, by generators and seeds that the
  training non-digits (``nondigits``) do not use.

Every image comes out as ``to_mnist`` makes it: uint8 ``(N, 28, 28)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .nondigits import CANVAS, draw_strokes
from .paths import RESOURCES
from .preprocess import to_mnist

EVAL = RESOURCES / "eval"


def _load(name: str) -> dict[str, np.ndarray]:
    with np.load(EVAL / name, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _u8(x28: np.ndarray) -> np.ndarray:
    return np.round(x28 * 255).astype(np.uint8)


@lru_cache(maxsize=1)
def optdigits() -> tuple[np.ndarray, np.ndarray]:
    """UCI optdigits (scikit-learn's ``load_digits``): each 8×8 digit (0–16) scaled up
    to 64×64 (Pillow's bicubic) and put through ``to_mnist``. ``(images, labels)``."""
    from PIL import Image

    d = _load("optdigits_8x8.npz")
    out = []
    for im in d["images"]:
        big = Image.fromarray((im.astype(np.float32) * (255 / 16)).round().astype(np.uint8)).resize((64, 64), Image.Resampling.BICUBIC)
        out.append(_u8(to_mnist(np.asarray(big))))
    return np.stack(out), d["labels"].astype(np.int64)


@lru_cache(maxsize=1)
def font_glyphs() -> dict[str, np.ndarray]:
    """Digits (``digits``, ``digit_labels``), non-digit-like letters (``letters``), symbols
    + − = × ? (``symbols``) and digit-like letters O l I S Z B (``digit_like``) in 17
    handwriting fonts, as ``to_mnist`` makes them."""
    d = _load("font_glyphs.npz")
    d["digit_labels"] = d["digit_labels"].astype(np.int64)
    return d


def redrawn_mnist(count: int = 600, seed: int = 1, images=None, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits (or ``images``, ``labels``: uint8 ``(N, 28, 28)`` and their digits)
    drawn on the 280-pixel canvas at 30–90 % of its height, anywhere, with strokes thinner, as
    they are, or fatter, then put through ``to_mnist`` (the redraw of ``tests/test_inference.py``)."""
    import torch
    import torch.nn.functional as F

    from .data import load_mnist
    from .drawings import place_on_canvas

    if images is None:
        images, labels = load_mnist("test")
    images, labels = torch.as_tensor(np.asarray(images)), torch.as_tensor(np.asarray(labels))
    rng = np.random.default_rng(seed)
    index = rng.choice(len(images), count, replace=False)
    out = []
    for i in index:
        height = int(rng.uniform(0.3, 0.9) * 280)
        top, left = rng.integers(0, 280 - height + 1, 2)
        canvas = place_on_canvas(images[i], height, top, left)
        radius = int(rng.choice([-0.35, 0, 0.6]) * height / 28)
        if radius:
            x = torch.from_numpy(canvas).float()[None, None]
            k = 2 * abs(radius) + 1
            x = F.max_pool2d(x, k, 1, abs(radius)) if radius > 0 else -F.max_pool2d(-x, k, 1, abs(radius))
            canvas = x[0, 0].to(torch.uint8).numpy()
        out.append(_u8(to_mnist(canvas)))
    return np.stack(out), labels[index].numpy().astype(np.int64)


def _bezier(p: np.ndarray, n: int = 24) -> np.ndarray:
    """A cubic Bézier curve through control points ``p`` (4, 2)."""
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t**2 * p[2] + t**3 * p[3]


def _measured(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "scribbles":  # a chain of three to six Bézier curves through random points: a tangle
        pts = rng.uniform(0.1, 0.9, (3 * int(rng.integers(3, 7)) + 1, 2))
        strokes = [np.concatenate([_bezier(pts[i : i + 4]) for i in range(0, len(pts) - 3, 3)])]
    else:  # random strokes: two or three separate curved strokes, anywhere
        strokes = [_bezier(rng.uniform(0, 1, (4, 2)), 16) for _ in range(int(rng.integers(2, 4)))]
    size = rng.uniform(0.35, 0.85) * CANVAS
    offset = rng.uniform(0.05 * CANVAS, 0.95 * CANVAS - size, 2)
    width = rng.uniform(0.4, 1.0) * 0.075 * CANVAS
    return _u8(to_mnist(draw_strokes([s * size + offset for s in strokes], width)))


def measured_nondigits(kind: str, count: int = 500, seed: int = 12345) -> np.ndarray:
    """``count`` scribbles (``kind="scribbles"``) or random strokes (``"strokes"``) drawn as on
    the canvas, by Bézier-curve generators the training non-digits do not use."""
    if kind not in ("scribbles", "strokes"):
        raise ValueError(f"kind must be 'scribbles' or 'strokes', not {kind!r}")
    rng = np.random.default_rng([seed, kind == "strokes"])
    return np.stack([_measured(kind, rng) for _ in range(count)])
