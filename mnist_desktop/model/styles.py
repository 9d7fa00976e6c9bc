"""How much of the world writes 1 and 7, which MNIST's American writers rarely do: a 1 with a
flag at its top (and often a foot), a 7 with a bar across its stem.

``european_digits`` redraws a share of a set's 1s and 7s that way, for training
(``TrainConfig.european_digits``) and for measuring (``scripts/sweep_bundled_model.py``, the
tests), each with its own seed. The strokes are added to the digit itself, at four times
MNIST's resolution, in its own stroke width, and the result is put through ``to_mnist`` as a
drawing is.
"""

from __future__ import annotations

import numpy as np

from .preprocess import to_mnist

SCALE = 4  # the digit is redrawn at 112×112
FLAG_LENGTH = (0.25, 0.45)  # a 1's flag, in digit heights
FLAG_ANGLE = (30.0, 60.0)  # degrees from the vertical, going down to the left
FOOT_SHARE = 0.5  # of the 1s with a flag, this share also get a foot
FOOT_HALF = (0.15, 0.3)  # the foot reaches this far to each side of the stem, in digit heights
BAR_HALF = (0.2, 0.35)  # a 7's bar reaches this far to each side of the stem, in digit widths
BAR_HEIGHT = (0.45, 0.62)  # where the bar crosses the stem, from the top, in digit heights


def stroke_width(ink: np.ndarray) -> float:
    """The width of the strokes of ``ink`` (bool, 2-D) in pixels: twice the area over the
    perimeter (a stroke of width w and length L has area wL and a perimeter of about 2L)."""
    inner = ink.copy()
    inner[1:] &= ink[:-1]
    inner[:-1] &= ink[1:]
    inner[:, 1:] &= ink[:, :-1]
    inner[:, :-1] &= ink[:, 1:]
    edge = np.count_nonzero(ink & ~inner)
    return 2.0 * np.count_nonzero(ink) / max(1, edge)


def restyle(image: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray | None:
    """``image`` (uint8 28×28, white ink on black) of a 1 or a 7 written the European way, as
    ``to_mnist`` makes it (float32 28×28 in [0, 1]); None for another label or an image it
    cannot place the strokes on."""
    from PIL import Image, ImageDraw

    if label not in (1, 7):
        return None
    big = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BILINEAR)
    ink = np.asarray(big) > 127
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(rows) < 8:
        return None
    top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
    height = bottom - top
    width = max(1, round(stroke_width(ink) * (0.8 if label == 1 else 0.6)))
    draw = ImageDraw.Draw(big)
    u = rng.uniform
    if label == 1:
        x = float(np.flatnonzero(ink[top + 1]).mean() if ink[top + 1].any() else np.flatnonzero(ink[top]).mean())
        length, angle = height * u(*FLAG_LENGTH), np.radians(u(*FLAG_ANGLE))
        draw.line([(x, top + width / 2), (x - length * np.sin(angle), top + width / 2 + length * np.cos(angle))], fill=255, width=width)
        if rng.random() < FOOT_SHARE:
            x = float(np.flatnonzero(ink[bottom - 1]).mean() if ink[bottom - 1].any() else np.flatnonzero(ink[bottom]).mean())
            half = height * u(*FOOT_HALF)
            draw.line([(x - half, bottom - width / 2), (x + half, bottom - width / 2)], fill=255, width=width)
    else:
        y = int(top + height * u(*BAR_HEIGHT))
        if not ink[y].any():
            return None
        x = float(np.flatnonzero(ink[y]).mean())
        half = (right - left) * u(*BAR_HALF)
        draw.line([(x - half, y), (x + half, y)], fill=255, width=width)
    return to_mnist(np.asarray(big))


def european_digits(images: np.ndarray, labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images, indices)``: a ``share`` (0–1) of the 1s and 7s of ``images`` (uint8
    ``(N, 28, 28)``) with ``labels`` ``(N,)``, picked at random with ``seed``, redrawn by
    :func:`restyle` (uint8 ``(M, 28, 28)``), and where each came from in ``images`` ``(M,)``."""
    if not 0 <= share <= 1:
        raise ValueError(f"the share of 1s and 7s to redraw must be in [0, 1], not {share}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero((labels == 1) | (labels == 7))
    chosen = np.sort(rng.choice(candidates, size=int(round(share * len(candidates))), replace=False))
    out, where = [], []
    for i in chosen:
        x = restyle(images[i], int(labels[i]), rng)
        if x is not None:
            out.append(np.round(x * 255).astype(np.uint8))
            where.append(i)
    return (np.stack(out) if out else np.zeros((0, 28, 28), np.uint8)), np.array(where, dtype=np.int64)
