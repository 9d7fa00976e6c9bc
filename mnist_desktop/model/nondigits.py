"""Things people draw that are not digits, generated: letters, symbols, scribbles, random strokes.

The bundled model is trained to be unsure of these (outlier exposure: their target is the
uniform distribution over the ten digits), so that ``Predictor.is_digit`` can say "not a
digit". Each is drawn as the canvas draws (round-capped polylines of the canvas's pen widths
on a black square, white ink) and put through ``to_mnist``: uint8 ``(N, 28, 28)`` out.

The generators here make the *training* non-digits; the measured ones (``bench_recognition``,
the tests) come from other generators, other seeds and other fonts.
"""

from __future__ import annotations

import numpy as np

from .preprocess import to_mnist

CANVAS = 140  # half the canvas's 280 pixels: to_mnist crops and scales to 20×20 anyway
# Letters that are written like a digit (O and 0, l and 1, S and 5, Z and 2, B and 8, q and 9,
# b and 6, G and 6, T and 7...) are neither taught as non-digits nor measured as such.
DIGIT_LIKE = set("OoQDIilJjSsZzBbgqGTtyAL|")
TRAINING_LETTERS = "".join(c for c in "ACEFHKMNPRUVWXYacdefhkmnpruvwxy" if c not in DIGIT_LIKE)
TRAINING_SYMBOLS = "+-=x?*#%&@<>!~^"


def _pen_width(rng: np.random.Generator) -> float:
    """The canvas's pen: 7.5 % of the side at full pressure, down to 40 % of that."""
    return float(rng.uniform(0.4, 1.0) * 0.075 * CANVAS)


def draw_strokes(strokes: list[np.ndarray], width: float, size: int = CANVAS) -> np.ndarray:
    """Round-capped polylines (each ``(K, 2)`` of x, y in pixels) of pen ``width`` on a black
    ``size``×``size`` canvas: uint8, white ink, as the canvas's QPen with round caps and joins draws."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(im)
    r = width / 2
    for s in strokes:
        pts = [tuple(map(float, p)) for p in np.asarray(s, dtype=np.float64)]
        if len(pts) > 1:
            d.line(pts, fill=255, width=max(1, round(width)), joint="curve")
        for x, y in pts[:: max(1, len(pts) - 1)] if len(pts) > 1 else pts:  # round caps
            d.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(im, dtype=np.uint8)


def _fit(strokes: list[np.ndarray], rng: np.random.Generator, size: int = CANVAS) -> list[np.ndarray]:
    """Strokes drawn in a unit square, scaled to 40–80 % of the canvas and placed anywhere on it."""
    scale = rng.uniform(0.4, 0.8) * size
    offset = rng.uniform(0.1 * size, size - scale - 0.1 * size, 2)
    return [np.asarray(s) * scale + offset for s in strokes]


def _jitter(points: np.ndarray, rng: np.random.Generator, amount: float = 0.03) -> np.ndarray:
    return np.asarray(points, dtype=np.float64) + rng.normal(0, amount, np.shape(points))


def _arc(cx, cy, r, a0, a1, n=16):
    t = np.linspace(a0, a1, n)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)


# Shapes a person might draw that are not digits, in a unit square (x right, y down).
def _shapes(rng: np.random.Generator) -> list[np.ndarray]:
    kind = int(rng.integers(0, 12))
    j = lambda p: _jitter(p, rng)  # noqa: E731
    if kind == 0:  # plus
        return [j([[0.5, 0.1], [0.5, 0.9]]), j([[0.1, 0.5], [0.9, 0.5]])]
    if kind == 1:  # times
        return [j([[0.15, 0.15], [0.85, 0.85]]), j([[0.85, 0.15], [0.15, 0.85]])]
    if kind == 2:  # equals, or three bars
        bars = int(rng.integers(2, 4))
        return [j([[0.1, y], [0.9, y]]) for y in np.linspace(0.3, 0.7, bars)]
    if kind == 3:  # minus, wide
        return [j([[0.05, 0.5], [0.95, 0.5 + rng.normal(0, 0.05)]])]
    if kind == 4:  # question mark
        return [j(np.concatenate([_arc(0.5, 0.3, 0.22, np.pi, 2.4 * np.pi, 14), [[0.5, 0.62]]])), j([[0.5, 0.88], [0.5, 0.9]])]
    if kind == 5:  # hash
        return [j([[0.35, 0.1], [0.3, 0.9]]), j([[0.7, 0.1], [0.65, 0.9]]), j([[0.1, 0.35], [0.9, 0.35]]), j([[0.1, 0.65], [0.9, 0.65]])]
    if kind == 6:  # asterisk / star of lines
        n = int(rng.integers(3, 5))
        angles = rng.uniform(0, np.pi) + np.arange(n) * np.pi / n
        return [j([[0.5 - 0.4 * np.cos(a), 0.5 - 0.4 * np.sin(a)], [0.5 + 0.4 * np.cos(a), 0.5 + 0.4 * np.sin(a)]]) for a in angles]
    if kind == 7:  # triangle or square, closed
        n = int(rng.integers(3, 5))
        a = rng.uniform(0, 2 * np.pi) + np.arange(n + 1) * 2 * np.pi / n
        return [j(np.stack([0.5 + 0.4 * np.cos(a), 0.5 + 0.4 * np.sin(a)], 1))]
    if kind == 8:  # arrow
        return [j([[0.1, 0.5], [0.9, 0.5]]), j([[0.65, 0.25], [0.9, 0.5], [0.65, 0.75]])]
    if kind == 9:  # check mark or caret
        return [j([[0.1, 0.5], [0.4, 0.85], [0.9, 0.15]])] if rng.random() < 0.5 else [j([[0.1, 0.8], [0.5, 0.2], [0.9, 0.8]])]
    if kind == 10:  # circle crossed by a line
        return [j(_arc(0.5, 0.5, 0.35, 0, 2 * np.pi, 24)), j([[0.1, 0.9], [0.9, 0.1]])]
    # zigzag or wave
    n = int(rng.integers(4, 8))
    x = np.linspace(0.05, 0.95, n)
    return [j(np.stack([x, 0.5 + 0.25 * (-1) ** np.arange(n)], 1))]


def _scribble(rng: np.random.Generator) -> list[np.ndarray]:
    """A random walk that turns a lot: a scribble."""
    n = int(rng.integers(8, 30))
    heading = rng.uniform(0, 2 * np.pi)
    p = rng.uniform(0.3, 0.7, 2)
    pts = [p]
    for _ in range(n):
        heading += rng.normal(0, 1.2)
        p = np.clip(p + 0.12 * np.array([np.cos(heading), np.sin(heading)]), 0, 1)
        pts.append(p)
    return [np.array(pts)]


def _random_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """Two to four unrelated straight or bent strokes."""
    out = []
    for _ in range(int(rng.integers(2, 5))):
        k = int(rng.integers(2, 4))
        out.append(rng.uniform(0, 1, (k, 2)))
    return out


def _letter(rng: np.random.Generator, font_size: int = 100) -> np.ndarray:
    """A letter of Pillow's own font (the same on every machine), on the canvas."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(font_size)
    ch = TRAINING_LETTERS[int(rng.integers(0, len(TRAINING_LETTERS)))]
    im = Image.new("L", (CANVAS, CANVAS), 0)
    d = ImageDraw.Draw(im)
    stroke = int(rng.integers(0, 6))
    d.text((CANVAS / 2, CANVAS / 2), ch, fill=255, font=font, anchor="mm", stroke_width=stroke, stroke_fill=255)
    return np.asarray(im, dtype=np.uint8)


GENERATORS = ("letters", "shapes", "scribbles", "strokes")


def training_nondigits(n: int, seed: int = 0) -> np.ndarray:
    """``n`` generated non-digits (letters, symbols and shapes, scribbles, random strokes in
    equal parts) as ``to_mnist`` makes them: uint8 ``(n, 28, 28)``. Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        kind = GENERATORS[i % len(GENERATORS)]
        if kind == "letters":
            canvas = _letter(rng)
        else:
            make = {"shapes": _shapes, "scribbles": _scribble, "strokes": _random_strokes}[kind]
            canvas = draw_strokes(_fit(make(rng), rng), _pen_width(rng))
        out[i] = np.round(to_mnist(canvas) * 255)
    return out


def digit_pairs(images: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` pieces of a number that are not one digit, as ``to_mnist`` makes them: two of
    ``images`` (uint8 ``(N, 28, 28)``, training digits) side by side, touching, overlapping
    or apart, the second one whole or cut to its left 30–70 % (a cut in the wrong place).
    Taught as non-digits, they make the number reader's cuts score a two-digit piece low.
    uint8 ``(n, 28, 28)``; deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    images = np.asarray(images, dtype=np.uint8)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        a, b = images[rng.integers(0, len(images), 2)]
        if rng.random() < 0.5:
            b = b.copy()
            cols = np.flatnonzero(b.max(axis=0))
            if len(cols):
                b[:, cols[0] + int(rng.uniform(0.3, 0.7) * (cols[-1] - cols[0] + 1)) :] = 0
        at = 28 + int(rng.integers(-8, 5))  # where the second starts: overlapping ink to a gap
        dy = int(rng.integers(-3, 4))
        canvas = np.zeros((36, at + 28), np.uint8)
        canvas[4 : 4 + 28, :28] = a
        canvas[4 + dy : 4 + dy + 28, at:] = np.maximum(canvas[4 + dy : 4 + dy + 28, at:], b)
        if canvas.max() == 0:
            continue
        out[i] = np.round(to_mnist(canvas) * 255)
    return out


# --- letters and symbols written with the pen, stroke by stroke --------------------------------
#
# The font letters above are printed; what people draw on the canvas is handwriting. Each
# letter and symbol below is a skeleton of pen strokes in a unit square (x right, y down),
# which ``_handwrite`` writes as a hand would: slanted, turned, narrower or wider, each stroke
# a little off where it should start and wobbling along its way.


def _ell(cx, cy, rx, ry, a0, a1, n=14):
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _cat(*parts) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in parts])


PI = np.pi
# Letters that are not written like a digit (the training letters) and symbols, as strokes.
WRITTEN: dict[str, list[np.ndarray]] = {
    "C": [_ell(0.55, 0.5, 0.4, 0.48, -0.25 * PI, -1.75 * PI)],
    "E": [_cat([[0.8, 0], [0.2, 0], [0.2, 1], [0.8, 1]]), _cat([[0.2, 0.5], [0.65, 0.5]])],
    "F": [_cat([[0.8, 0], [0.2, 0], [0.2, 1]]), _cat([[0.2, 0.5], [0.65, 0.5]])],
    "H": [_cat([[0.2, 0], [0.2, 1]]), _cat([[0.8, 0], [0.8, 1]]), _cat([[0.2, 0.5], [0.8, 0.5]])],
    "K": [_cat([[0.25, 0], [0.25, 1]]), _cat([[0.8, 0], [0.27, 0.55], [0.8, 1]])],
    "M": [_cat([[0.1, 1], [0.2, 0], [0.5, 0.7], [0.8, 0], [0.9, 1]])],
    "N": [_cat([[0.2, 1], [0.2, 0], [0.8, 1], [0.8, 0]])],
    "P": [_cat([[0.25, 1], [0.25, 0], [0.55, 0]], _ell(0.55, 0.25, 0.25, 0.25, -0.5 * PI, 0.5 * PI), [[0.25, 0.5]])],
    "R": [_cat([[0.25, 1], [0.25, 0], [0.55, 0]], _ell(0.55, 0.25, 0.25, 0.25, -0.5 * PI, 0.5 * PI), [[0.25, 0.5], [0.8, 1]])],
    "U": [_cat([[0.2, 0]], _ell(0.5, 0.6, 0.3, 0.4, PI, 0), [[0.8, 0]])],
    "V": [_cat([[0.15, 0], [0.5, 1], [0.85, 0]])],
    "W": [_cat([[0.05, 0], [0.27, 1], [0.5, 0.3], [0.73, 1], [0.95, 0]])],
    "X": [_cat([[0.15, 0], [0.85, 1]]), _cat([[0.85, 0], [0.15, 1]])],
    "Y": [_cat([[0.15, 0], [0.5, 0.5]]), _cat([[0.85, 0], [0.5, 0.5], [0.5, 1]])],
    "a": [_ell(0.45, 0.7, 0.3, 0.3, -0.2 * PI, 1.8 * PI, 18), _cat([[0.75, 0.4], [0.75, 1]])],
    "c": [_ell(0.5, 0.7, 0.3, 0.3, -0.25 * PI, -1.75 * PI)],
    "d": [_ell(0.45, 0.7, 0.3, 0.3, -0.2 * PI, 1.8 * PI, 18), _cat([[0.75, 0], [0.75, 1]])],
    "e": [_cat([[0.2, 0.7], [0.8, 0.7]], _ell(0.5, 0.7, 0.3, 0.3, 0, -1.75 * PI, 18))],
    "f": [_cat([[0.8, 0.1]], _ell(0.62, 0.18, 0.17, 0.17, -0.2 * PI, -PI, 6), [[0.45, 1]]), _cat([[0.25, 0.45], [0.7, 0.45]])],
    "h": [_cat([[0.25, 0], [0.25, 1]]), _cat([[0.25, 0.65]], _ell(0.5, 0.65, 0.25, 0.25, -PI, 0, 10), [[0.75, 1]])],
    "k": [_cat([[0.25, 0], [0.25, 1]]), _cat([[0.7, 0.4], [0.27, 0.75], [0.75, 1]])],
    "m": [
        _cat([[0.1, 0.4], [0.1, 1]]),
        _cat(_ell(0.3, 0.55, 0.2, 0.15, -PI, 0, 8), [[0.5, 1]]),
        _cat(_ell(0.7, 0.55, 0.2, 0.15, -PI, 0, 8), [[0.9, 1]]),
    ],
    "n": [_cat([[0.2, 0.4], [0.2, 1]]), _cat(_ell(0.5, 0.6, 0.3, 0.2, -PI, 0, 10), [[0.8, 1]])],
    "p": [_cat([[0.25, 0.4], [0.25, 1.4]]), _ell(0.5, 0.65, 0.25, 0.25, -PI, PI, 18)],
    "r": [_cat([[0.3, 0.4], [0.3, 1]]), _cat([[0.3, 0.65]], _ell(0.55, 0.6, 0.25, 0.18, -PI, -0.25 * PI, 8))],
    "u": [_cat([[0.2, 0.4]], _ell(0.5, 0.8, 0.3, 0.2, PI, 0, 10), [[0.8, 0.4]]), _cat([[0.8, 0.4], [0.8, 1]])],
    "v": [_cat([[0.2, 0.4], [0.5, 1], [0.8, 0.4]])],
    "w": [_cat([[0.05, 0.4], [0.27, 1], [0.5, 0.55], [0.73, 1], [0.95, 0.4]])],
    "x": [_cat([[0.2, 0.4], [0.8, 1]]), _cat([[0.8, 0.4], [0.2, 1]])],
    "+": [_cat([[0.5, 0.1], [0.5, 0.9]]), _cat([[0.1, 0.5], [0.9, 0.5]])],
    "-": [_cat([[0.1, 0.5], [0.9, 0.5]])],
    "=": [_cat([[0.1, 0.35], [0.9, 0.35]]), _cat([[0.1, 0.65], [0.9, 0.65]])],
    "×": [_cat([[0.2, 0.2], [0.8, 0.8]]), _cat([[0.8, 0.2], [0.2, 0.8]])],
    "?": [_cat(_ell(0.5, 0.27, 0.25, 0.22, -PI, 0.45 * PI, 14), [[0.5, 0.7]]), _cat([[0.5, 0.92], [0.5, 0.95]])],
    "*": [_cat([[0.5, 0.1], [0.5, 0.9]]), _cat([[0.15, 0.3], [0.85, 0.7]]), _cat([[0.85, 0.3], [0.15, 0.7]])],
    "#": [
        _cat([[0.38, 0.1], [0.32, 0.9]]),
        _cat([[0.68, 0.1], [0.62, 0.9]]),
        _cat([[0.1, 0.35], [0.9, 0.35]]),
        _cat([[0.1, 0.65], [0.9, 0.65]]),
    ],
    "<": [_cat([[0.8, 0.15], [0.2, 0.5], [0.8, 0.85]])],
    ">": [_cat([[0.2, 0.15], [0.8, 0.5], [0.2, 0.85]])],
    "~": [_cat(_ell(0.3, 0.55, 0.2, 0.15, PI, 2 * PI, 8), _ell(0.7, 0.45, 0.2, 0.15, PI, 0, 8))],
    "%": [_cat([[0.8, 0.1], [0.2, 0.9]]), _ell(0.25, 0.22, 0.13, 0.13, 0, 2 * PI, 10), _ell(0.75, 0.78, 0.13, 0.13, 0, 2 * PI, 10)],
    "@": [_cat(_ell(0.5, 0.5, 0.15, 0.18, 0, 2 * PI, 12), [[0.65, 0.65]], _ell(0.5, 0.5, 0.4, 0.42, 0.2 * PI, 1.9 * PI, 20))],
}
WRITTEN_LETTERS = "".join(c for c in WRITTEN if c.isalpha())
WRITTEN_SYMBOLS = "".join(c for c in WRITTEN if not c.isalpha())


def _wobble(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """The polyline resampled every 0.02 along its length and moved by a smooth random
    displacement (a few sines of random phase along the stroke): a hand's unsteady line."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) > 1:
        seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        if s[-1] > 0:
            t = np.linspace(0, s[-1], max(2, int(s[-1] / 0.02)))
            p = np.stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])], 1)
            u = t / max(s[-1], 1e-9)
            for _ in range(2):
                f = rng.uniform(0.5, 2.0)
                p = p + amount * np.sin(2 * PI * f * u[:, None] + rng.uniform(0, 2 * PI, 2)) / 2
    return p


def _handwrite(strokes: list[np.ndarray], rng: np.random.Generator, sym: str = "") -> list[np.ndarray]:
    """A skeleton of strokes as one hand might write it: each stroke moved a little (strokes
    that miss or cross where they should meet), stretched along itself, wobbling; then the
    whole slanted, turned and made narrower or wider. Back in a unit square."""
    out = []
    for s in strokes:
        s = np.asarray(s, dtype=np.float64)
        if sym == "=":  # the bars of an equals sign: each of its own length and place
            s = s.copy()
            s[:, 0] = 0.5 + (s[:, 0] - 0.5) * rng.uniform(0.6, 1.15) + rng.normal(0, 0.06)
            s[:, 1] = 0.5 + (s[:, 1] - 0.5) * rng.uniform(0.4, 1.5)
        centre = s.mean(axis=0)
        s = centre + (s - centre) * rng.uniform(0.85, 1.15) + rng.normal(0, 0.035, 2)
        s = s + rng.normal(0, 0.012, s.shape)
        out.append(_wobble(s, rng, rng.uniform(0.0, 0.05)))
    shear, angle, aspect = rng.uniform(-0.35, 0.35), rng.normal(0, 0.12), np.exp(rng.uniform(-0.3, 0.3))
    c, sn = np.cos(angle), np.sin(angle)
    m = np.array([[c, -sn], [sn, c]]) @ np.array([[aspect, -shear], [0, 1.0]])
    out = [(s - 0.5) @ m.T for s in out]
    lo = np.min([s.min(axis=0) for s in out], axis=0)
    hi = np.max([s.max(axis=0) for s in out], axis=0)
    scale = float(max(hi - lo)) or 1.0
    return [(s - lo) / scale for s in out]


def written_nondigits(n: int, seed: int = 0, chars: str | None = None) -> np.ndarray:
    """``n`` letters and symbols (``chars``; default every one of :data:`WRITTEN`, in turn)
    written stroke by stroke with the canvas's pen (:func:`_handwrite`), as ``to_mnist`` makes
    them: uint8 ``(n, 28, 28)``. Deterministic in ``seed``."""
    chars = chars or "".join(WRITTEN)
    unknown = sorted(set(chars) - set(WRITTEN))
    if unknown:
        raise ValueError(f"no strokes for {''.join(unknown)!r}; written are {''.join(WRITTEN)!r}")
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        ch = chars[i % len(chars)]
        strokes = _handwrite(WRITTEN[ch], rng, ch)
        out[i] = np.round(to_mnist(draw_strokes(_fit(strokes, rng), _pen_width(rng))) * 255)
    return out


def redrawn_edges(images: np.ndarray, seed: int = 0, crisp: bool = False) -> np.ndarray:
    """``images`` (uint8 ``(N, 28, 28)``, as ``to_mnist`` makes them) again through ``to_mnist``
    with other edges: soft (``crisp=False``: scaled up 2–8 times, bilinear or bicubic, as an
    opened small picture or an upscaled scan is) or crisp (scaled up 5 times and cut at an ink
    level of 35–65 %: a sharp pen's edge, as the canvas draws). For fitting the digit head on
    digits and non-digits of both kinds of edge, so that it cannot tell one from the other by
    how soft its edges are (MNIST's digits are soft, the generated non-digits crisp).
    uint8 ``(N, 28, 28)``; deterministic in ``seed``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = np.zeros((len(images), 28, 28), np.uint8)
    for i, a in enumerate(np.asarray(images, dtype=np.uint8)):
        if a.max() == 0:
            continue
        if crisp:
            big = np.asarray(Image.fromarray(a).resize((140, 140), Image.Resampling.BILINEAR))
            big = np.where(big >= rng.uniform(0.35, 0.65) * big.max(), 255, 0).astype(np.uint8)
        else:
            k = int(rng.integers(2, 9))
            how = Image.Resampling.BILINEAR if rng.random() < 0.5 else Image.Resampling.BICUBIC
            big = np.asarray(Image.fromarray(a).resize((28 * k, 28 * k), how))
        if big.max() == 0:
            continue
        out[i] = np.round(to_mnist(big) * 255)
    return out


def _hatching(rng: np.random.Generator) -> list[np.ndarray]:
    """Back and forth across a box, 6 to 14 times, at any angle: shading, a filled-in mark
    (fewer turns would write a Z or an N, which a 2 can look like)."""
    turns = int(rng.integers(6, 15))
    height = rng.uniform(0.3, 1.0)
    t = np.linspace(0, 1, turns)
    x = np.where(np.arange(turns) % 2 == 0, 0.0, 1.0) + rng.normal(0, 0.05, turns)
    pts = np.stack([x, 0.5 - height / 2 + height * t + rng.normal(0, 0.02, turns)], 1)
    a = rng.uniform(0, np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return [(pts - 0.5) @ rot.T + 0.5]


def _tangle(rng: np.random.Generator) -> list[np.ndarray]:
    """Many small loops round a centre, or a spiral: a blot written over and over."""
    n = int(rng.integers(3, 9))
    t = np.linspace(0, 2 * np.pi * n, 20 * n)
    if rng.random() < 0.5:  # loops moving round
        r = rng.uniform(0.15, 0.35)
        pts = np.stack([0.5 + r * np.cos(t) + 0.15 * np.cos(t / n), 0.5 + r * np.sin(t) + 0.15 * np.sin(t / n * 1.7)], 1)
    else:  # a spiral, in or out
        r = np.linspace(0.05, 0.45, len(t))
        pts = np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t) * rng.uniform(0.5, 1.0)], 1)
    return [pts + rng.normal(0, 0.01, pts.shape)]


def scrawls(n: int, seed: int = 0) -> np.ndarray:
    """``n`` marks that fill their box with ink: hatching (a zigzag back and forth, with the
    canvas's pen or one up to twice as thick) and tangles (loops written over and over, spirals),
    as ``to_mnist`` makes them: uint8 ``(n, 28, 28)``. Deterministic in ``seed``. Neither the
    training generators nor the pen-written letters make anything this dense."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        hatching = i % 2 == 0
        strokes = (_hatching if hatching else _tangle)(rng)
        thicker = rng.uniform(1.0, 2.0) if hatching else rng.uniform(1.0, 1.3)  # a thick blot would be a filled 0
        out[i] = np.round(to_mnist(draw_strokes(_fit(strokes, rng), _pen_width(rng) * thicker)) * 255)
    return out
