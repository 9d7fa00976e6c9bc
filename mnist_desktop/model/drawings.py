"""MNIST digits redrawn as canvas drawings: the inverse of ``to_mnist``, for the tests, the
benchmark and any view that shows how preprocessing copes with a small or off-centre digit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def place_on_canvas(digit, height: int, top: int, left: int, size: int = 280) -> np.ndarray:
    """A uint8 28×28 ``digit`` scaled (bilinear) to ``height``×``height`` pixels and put at
    (``top``, ``left``) on a black ``size``×``size`` canvas, as white ink: what the canvas sends."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(np.asarray(digit)).float()[None, None]
    big = F.interpolate(x, size=(height, height), mode="bilinear", align_corners=False)
    canvas = np.zeros((size, size), np.uint8)
    canvas[top : top + height, left : left + height] = big[0, 0].clamp(0, 255).to(torch.uint8).numpy()
    return canvas


def random_drawings(images, count: int, size: int = 280, seed: int = 0, low: float = 0.3, high: float = 0.9):
    """``count`` of ``images`` (uint8 (N, 28, 28)), each redrawn at ``low``–``high`` of the canvas
    height, anywhere on it: ``(indices, drawings)``."""
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(images), count, replace=False)
    drawings = []
    for i in indices:
        height = int(rng.uniform(low, high) * size)
        top, left = rng.integers(0, size - height + 1, 2)
        drawings.append(place_on_canvas(images[i], height, top, left, size))
    return indices, drawings


def sample_drawings(count: int = 50, size: int = 280, seed: int = 0) -> list[np.ndarray]:
    """Canvas-sized drawings made from MNIST test digits: scaled to 30–90 % height, placed anywhere."""
    from .data import load_mnist

    images, _ = load_mnist("test")
    return random_drawings(images.numpy(), count, size, seed)[1]


def thick_shifted(images):
    """MNIST digits in another hand: strokes about a pixel fatter on each side, and the digit
    3 pixels right and 3 down of where MNIST centres it. uint8 ``(N, 28, 28)`` in and out.

    The bundled CNN reads the MNIST test set drawn this way at 93.9 % (99.3 % as it is): the
    style the fine-tuning tests and ``bench`` use for "my digits".
    """
    import torch
    import torch.nn.functional as F

    x = images.float()[:, None] / 255
    x = F.pad(x, (3, 0, 3, 0))[:, :, :28, :28]  # 3 right, 3 down (MNIST's 4-pixel border keeps the ink)
    up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    x = F.avg_pool2d(F.max_pool2d(up, 5, 1, 2), 2)  # grey dilation at twice the resolution: ~1 pixel fatter
    x = x / x.amax((2, 3), keepdim=True).clamp_min(1e-6)
    return (x[:, 0].clamp(0, 1) * 255).round().to(torch.uint8)


def style_sets(per_digit: int = 20, held_out: int = 5000):
    """(tune images, tune labels, held-out images, held-out labels) of :func:`thick_shifted` MNIST
    test digits: the first ``per_digit`` of each digit to fine-tune on, and the last
    ``held_out`` test images (none of them among the first) to measure on."""
    import torch

    from .data import load_mnist

    images, labels = load_mnist("test")
    tune = torch.cat([torch.nonzero(labels == d)[:per_digit, 0] for d in range(10)])
    held = torch.arange(len(labels) - held_out, len(labels))
    if set(tune.tolist()) & set(held.tolist()):
        raise ValueError("the tuning and held-out digits overlap: fewer per digit or a smaller held-out set")
    styled = thick_shifted(images)
    return styled[tune], labels[tune], styled[held], labels[held]


@dataclass(frozen=True)
class ComposedNumber:
    """A number written with MNIST digits on a wide canvas, and where each digit is."""

    image: np.ndarray = field(compare=False)  # uint8 (height, width), white ink on black
    text: str  # the digits, e.g. "2026"
    boxes: tuple[tuple[int, int, int, int], ...]  # each digit's ink box (x0, y0, x1, y1), x1 and y1 exclusive
    indices: tuple[int, ...]  # which of the images each digit is
    touching: tuple[bool, ...]  # for each pair of neighbours, whether their ink touches


TOUCH_TRIES = 50
MAX_BOX_OVERLAP = 0.08
TOUCH_INK = 64  # ink for "touching": what read_number's segmentation counts as ink (a quarter of white)


def _morph(x: np.ndarray, steps: int) -> np.ndarray:
    """Grey dilation (``steps`` > 0) or erosion (< 0) by a 3×3 square, ``abs(steps)`` times."""
    op = np.maximum if steps > 0 else np.minimum
    for _ in range(abs(steps)):
        p = np.pad(x, 1, mode="constant", constant_values=0)
        x = op.reduce([p[i : i + x.shape[0], j : j + x.shape[1]] for i in range(3) for j in range(3)])
    return x


def _draw_digit(rng, images, height: int) -> tuple[int, np.ndarray, int]:
    """One random digit of ``images`` as :func:`compose_number` draws it: ``(index, ink cropped, top)``."""
    from .preprocess import resize_antialiased

    i = int(rng.integers(len(images)))
    digit = np.asarray(images[i])
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    digit = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h = round(rng.uniform(0.45, 0.7) * height)
    w = max(1, round(digit.shape[1] * h / digit.shape[0]))
    plain = (resize_antialiased(digit, (h, w)) * 255).round().astype(np.uint8)
    big = _morph(np.pad(plain, 4), int(rng.integers(-2, 5)))
    if not big.any():  # eroded away: as it was
        big = plain
    rows, cols = np.flatnonzero(big.any(axis=1)), np.flatnonzero(big.any(axis=0))
    big = big[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    top = int(np.clip(round((height - big.shape[0]) / 2 + rng.uniform(-0.08, 0.08) * height), 0, height - big.shape[0]))
    return i, big, top


def compose_number(
    length: int,
    seed,
    *,
    touching: bool = False,
    height: int = 280,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> ComposedNumber:
    """``length`` random MNIST digits written left to right on a ``height``-pixel-high canvas.

    Each digit is cropped to its ink, scaled to 45–70 % of the height, moved up or down by up to
    8 % of it, drawn thinner or fatter (grey erosion or dilation by up to 2 or 4 pixels) and put
    after the previous one with a gap of 5–30 % of the height. With ``touching``, each pair of
    neighbours touches with probability one half (at least one pair does): the right digit is
    moved left until its ink meets its neighbour's and then 1–4 pixels further, so they overlap;
    a digit that would reach more than 8 % of the height under its neighbour's box before
    touching it (interleaved, not touching) is drawn again.
    ``images``/``labels`` default to the MNIST test set (never trained on). Same seed, same number.
    """
    if images is None or labels is None:
        from .data import mnist_arrays

        images, labels = mnist_arrays("test")
    if length < 1:
        raise ValueError(f"length must be at least 1, not {length}")
    rng = np.random.default_rng(seed)
    touch = rng.random(length - 1) < 0.5 if touching else np.zeros(length - 1, bool)
    if touching and length > 1 and not touch.any():
        touch[rng.integers(length - 1)] = True
    margin = height // 10
    canvas = np.zeros((height, 2 * margin + length * 2 * height), np.uint8)
    boxes, indices, touched = [], [], []
    right_edge: np.ndarray | None = None  # the previous digit's rightmost ink column per canvas row (-1: none)
    x = margin
    for k in range(length):
        i, big, top = _draw_digit(rng, images, height)
        h, w = big.shape
        if k and touch[k - 1]:
            # Another digit until one touches its neighbour without reaching far under it (boxes
            # overlapping by at most MAX_BOX_OVERLAP of the height): touching, not interleaved.
            for _ in range(TOUCH_TRIES):
                ink = big >= TOUCH_INK
                left = np.where(ink.any(axis=1), ink.argmax(axis=1), -1)  # leftmost ink per row of the digit
                common = [(r, c) for r, c in enumerate(left) if c >= 0 and right_edge[top + r] >= 0]
                if common:
                    x = max(int(right_edge[top + r]) + 1 - c for r, c in common) - int(rng.integers(1, 5))
                    if boxes[-1][2] - x <= MAX_BOX_OVERLAP * height:
                        break
                i, big, top = _draw_digit(rng, images, height)
                h, w = big.shape
            else:
                x = boxes[-1][2] - int(rng.integers(1, 5))
        elif k:
            x = boxes[-1][2] + round(rng.uniform(0.05, 0.3) * height)
        region = canvas[top : top + h, x : x + w]
        np.maximum(region, big, out=region)
        if k:
            ink = big >= TOUCH_INK
            left = np.where(ink.any(axis=1), ink.argmax(axis=1), -1)
            touched.append(bool(any(c >= 0 and right_edge[top + r] >= x + c - 1 for r, c in enumerate(left))))
        ink = big >= TOUCH_INK
        right_edge = np.full(height, -1)
        right_edge[top : top + h] = np.where(ink.any(axis=1), x + w - 1 - ink[:, ::-1].argmax(axis=1), -1)
        boxes.append((x, top, x + w, top + h))
        indices.append(i)
    canvas = canvas[:, : boxes[-1][2] + margin] if boxes[-1][2] + margin <= canvas.shape[1] else canvas
    text = "".join(str(int(labels[i])) for i in indices)
    return ComposedNumber(np.ascontiguousarray(canvas), text, tuple(boxes), tuple(indices), tuple(touched))


def composed_numbers(count: int, seed: int = 0, lengths=range(2, 9), touching: bool = False, height: int = 280) -> list[ComposedNumber]:
    """``count`` numbers from :func:`compose_number`, their lengths cycling through ``lengths``:
    number ``n`` is ``compose_number(lengths[n % len], seed=(seed, n), ...)``."""
    from .data import mnist_arrays

    images, labels = mnist_arrays("test")
    lengths = list(lengths)
    return [
        compose_number(lengths[n % len(lengths)], (seed, n), touching=touching, height=height, images=images, labels=labels)
        for n in range(count)
    ]
