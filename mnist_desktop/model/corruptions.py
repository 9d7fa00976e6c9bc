"""MNIST-C, made here: the 15 corruptions of Mu & Gilmer (2019), generated with fixed seeds.

Each corruption takes uint8 MNIST images ``(N, 28, 28)`` and a numpy ``Generator`` and returns
new uint8 images of the same shape; :func:`corrupt` seeds it per corruption, so the same call
gives the same images on every run. No download, no OpenCV or scikit-image: numpy and torch
(for resampling and convolution). The severities are MNIST-C's (its published generator's
defaults), re-implemented: fog's clouds, glass blur's pixel swaps and Canny's hysteresis are
close to, not bit-identical with, the originals.

:func:`corruption_suite` measures a predictor's accuracy on MNIST test under each of them.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Callable

import numpy as np


def _torch():
    import torch
    import torch.nn.functional as F

    return torch, F


def _f(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, dtype=np.float32) / 255.0


def _u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)


def _conv(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Each image ``x[i]`` (N, H, W) convolved with its own kernel ``kernels[i]`` (N, k, k), zero padding."""
    torch, F = _torch()
    k = kernels.shape[-1]
    out = F.conv2d(
        torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None],
        torch.from_numpy(np.ascontiguousarray(kernels[:, None], dtype=np.float32)),
        padding=k // 2,
        groups=len(x),
    )
    return out[0].numpy()


def _gaussian_kernel(sigma: float, radius: int | None = None) -> np.ndarray:
    radius = radius or max(1, math.ceil(3 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(t**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    k = _gaussian_kernel(sigma)
    return _conv(x, np.broadcast_to(k, (len(x), *k.shape)))


def _affine(x: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Each image resampled (bilinear) through its own 2×3 matrix, which maps output pixel
    coordinates centred on the image centre to input ones."""
    torch, F = _torch()
    t = torch.from_numpy(x[:, None].astype(np.float32))
    theta = torch.from_numpy(matrices.astype(np.float32))
    grid = F.affine_grid(theta, list(t.shape), align_corners=False)
    return F.grid_sample(t, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0].numpy()


def _signed(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    return rng.uniform(low, high, n) * rng.choice([-1.0, 1.0], n)


# --- the corruptions, at MNIST-C's severities ---------------------------------------------


def _centred_affine(images, matrices: np.ndarray) -> np.ndarray:
    """Each image through its 2×2 matrix ``matrices[i]`` about its centre (output → input coordinates)."""
    m = np.zeros((len(images), 2, 3))
    m[:, :, :2] = matrices
    return _u8(_affine(_f(images), m))


def shot_noise(images, rng):
    """Photon noise: each pixel a Poisson count of 60 × its brightness, scaled back."""
    return _u8(rng.poisson(_f(images) * 60) / 60)


def impulse_noise(images, rng):
    """Salt and pepper: 17 % of the pixels set to black or white."""
    x = _f(images).copy()
    hit = rng.random(x.shape) < 0.17
    x[hit] = rng.random(int(hit.sum())) < 0.5
    return _u8(x)


def glass_blur(images, rng):
    """Frosted glass: a Gaussian blur (σ 0.7), then twice over each pixel, with even odds,
    takes the value of its neighbour up and/or left, then the blur again."""
    x = _blur(_f(images), 0.7)
    n, h, w = x.shape
    for _ in range(2):
        move = rng.random((n, h, w)) < 0.5
        dy, dx = rng.integers(-1, 1, (2, n, h, w)) * move
        rows = np.clip(np.arange(h)[None, :, None] + dy, 0, h - 1)
        cols = np.clip(np.arange(w)[None, None, :] + dx, 0, w - 1)
        x = x[np.arange(n)[:, None, None], rows, cols]
    return _u8(_blur(x, 0.7))


def motion_blur(images, rng):
    """A camera shake: each pixel smeared back along a random direction within 45° of the
    horizontal, up to 10 pixels, with Gaussian weights (σ 3), as ImageMagick's motion blur."""
    x = _f(images)
    n, r = len(x), 10
    kernels = np.zeros((n, 2 * r + 1, 2 * r + 1), np.float32)
    t = np.arange(0, r + 1)
    weight = np.exp(-(t**2) / (2 * 3.0**2))
    for i in range(n):
        angle = math.radians(rng.uniform(-45, 45))
        rows = np.round(r - t * math.sin(angle)).astype(int)
        cols = np.round(r - t * math.cos(angle)).astype(int)
        np.add.at(kernels[i], (rows, cols), weight)
        kernels[i] /= kernels[i].sum()
    return _u8(_conv(x, kernels[:, ::-1, ::-1]))


def shear(images, rng):
    """Slanted: a horizontal shear by 0.4 radians, one way or the other."""
    c = 0.4 * rng.choice([-1.0, 1.0], len(images))
    one, zero = np.ones_like(c), np.zeros_like(c)
    return _centred_affine(images, np.stack([np.stack([one, -np.sin(c)], 1), np.stack([zero, np.cos(c)], 1)], 1))


def scale(images, rng):
    """Smaller: shrunk to 70 % about the centre."""
    return _centred_affine(images, np.broadcast_to(np.eye(2) / 0.7, (len(images), 2, 2)))


def rotate(images, rng):
    """Turned by 0.4 radians (23°), one way or the other."""
    c = 0.4 * rng.choice([-1.0, 1.0], len(images))
    return _centred_affine(images, np.stack([np.stack([np.cos(c), -np.sin(c)], 1), np.stack([np.sin(c), np.cos(c)], 1)], 1))


def brightness(images, rng):
    """A grey background: every pixel 0.5 brighter (white stays white)."""
    return _u8(_f(images) + 0.5)


def translate(images, rng):
    """Off-centre: moved 3 pixels across and 3 up or down (ink may leave the field)."""
    x = _f(images)
    out = np.zeros_like(x)
    for i, (dy, dx) in enumerate(3 * rng.choice([-1, 1], (len(x), 2))):
        out[i, max(0, dy) : 28 + min(0, dy), max(0, dx) : 28 + min(0, dx)] = x[
            i, max(0, -dy) : 28 - max(0, dy), max(0, -dx) : 28 - max(0, dx)
        ]
    return _u8(out)


def stripe(images, rng):
    """The seven columns at each side inverted: two white bands."""
    x = _f(images).copy()
    x[:, :, :7] = 1 - x[:, :, :7]
    x[:, :, 21:] = 1 - x[:, :, 21:]
    return _u8(x)


def _plasma(rng: np.random.Generator, n: int, size: int = 28, decay: float = 1.4) -> np.ndarray:
    """Clouds in [0, 1]: octaves of random noise, each twice as fine and ``decay`` times weaker
    (the diamond-square fractal's spectrum, cut to the image)."""
    torch, F = _torch()
    total = np.zeros((n, size, size), np.float32)
    for octave, cells in enumerate((2, 4, 7, 14, 28)):
        noise = torch.from_numpy(rng.uniform(-1, 1, (n, 1, cells, cells)).astype(np.float32))
        total += decay**-octave * F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()
    lo, hi = total.min(axis=(1, 2), keepdims=True), total.max(axis=(1, 2), keepdims=True)
    return (total - lo) / np.maximum(hi - lo, 1e-6)


def fog(images, rng):
    """Thick fog: 3 × clouds added, then scaled back so the brightest ink keeps its value."""
    x = _f(images)
    peak = x.max(axis=(1, 2), keepdims=True)
    return _u8((x + 3.0 * _plasma(rng, len(x))) * peak / (peak + 3.0))


def spatter(images, rng):
    """Mud: blobs (thresholded blurred noise) laid over the image in dark grey, hiding the ink under them."""
    x = _f(images)
    liquid = _blur(rng.normal(0.65, 0.3, x.shape).astype(np.float32), 1.0)
    m = _blur((liquid > 0.65).astype(np.float32), 1.5)
    m[m < 0.8] = 0
    return _u8(x * (1 - m) + 63 / 255 * m)


def _line(n: int, c0, r0, c1, r1) -> np.ndarray:
    """A soft line ``(n, 28, 28)`` between columns ``c0`` and ``c1`` through (c0, r0) and (c1, r1):
    full ink on it, fading to nothing 2.3 pixels away (vertically)."""
    cc, rr = np.meshgrid(np.arange(28.0), np.arange(28.0))
    c0, r0, c1, r1 = (np.asarray(v, dtype=np.float64).reshape(-1, 1, 1) * np.ones((n, 1, 1)) for v in (c0, r0, c1, r1))
    slope = (r1 - r0) / np.where(c1 == c0, 1e-9, c1 - c0)
    dist = np.clip(np.abs(rr - (slope * (cc - c0) + r0)), 0, 2.3 - 1e-9)
    ink = np.clip(np.log(1 - dist / 2.3) + 1, 0, 1)
    ink[(cc < np.floor(c0)) | (cc >= np.ceil(c1))] = 0
    return ink.astype(np.float32)


def dotted_line(images, rng):
    """A dashed line across the image, left edge to right, two columns on, two off."""
    x = _f(images)
    n = len(x)
    r0, r1 = rng.integers(0, 27, (2, n))
    ink = _line(n, 0, r0, 27, r1)
    ink[:, :, (np.arange(28) // 2) % 2 == 0] = 0
    return _u8(x + ink)


def zigzag(images, rng):
    """A zigzag line across the image (teeth 2 pixels long, 2 high), tilted up to 10°."""
    x = _f(images)
    n = len(x)
    out = x.copy()
    for i in range(n):
        r0 = int(rng.integers(0, 27))
        r1 = r0 + int(rng.integers(-5, 5))
        theta = math.atan((r1 - r0) / 23)
        length = 23 / math.cos(theta)
        # from (0, 0), the teeth's tips at 2, 6, 10... along the line, 2 pixels either side of it
        cs = np.concatenate([[0.0], np.arange(2.0, length, 4.0), [length]])
        rs = np.concatenate([[0.0], 2.0 * (-1.0) ** np.arange(len(cs) - 2), [0.0]])
        c = 2 + cs * math.cos(theta) - rs * math.sin(theta)
        r = r0 + cs * math.sin(theta) + rs * math.cos(theta)
        for k in range(1, len(c)):
            a, b = (k - 1, k) if c[k - 1] <= c[k] else (k, k - 1)
            out[i] = np.clip(out[i] + _line(1, c[a], r[a], c[b], r[b])[0], 0, 1)
    return _u8(out)


def canny_edges(images, rng):
    """Only the outlines, found as Canny does: Gaussian blur (σ 1), Sobel gradient, thinned to
    its ridge across the edge, kept above 0.2 and, where connected to that, above 0.1."""
    x = _blur(_f(images), 1.0)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    gx = _conv(x, np.broadcast_to(sobel[::-1, ::-1], (len(x), 3, 3)))
    gy = _conv(x, np.broadcast_to(sobel.T[::-1, ::-1], (len(x), 3, 3)))
    mag = np.hypot(gx, gy)
    # the direction across the edge, to the nearest of 0°, 45°, 90°, 135°
    sector = (np.round(np.arctan2(gy, gx) / (math.pi / 4)) % 4).astype(int)
    steps = np.array([[0, 1], [1, 1], [1, 0], [1, -1]])
    pad = np.pad(mag, ((0, 0), (1, 1), (1, 1)))
    h, w = mag.shape[1:]
    ridge = np.ones_like(mag, dtype=bool)
    for s, (dy, dx) in enumerate(steps):
        ahead = pad[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        behind = pad[:, 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
        ridge &= (sector != s) | ((mag >= ahead) & (mag >= behind))
    weak, edges = ridge & (mag > 0.1), ridge & (mag > 0.2)
    for _ in range(28):  # hysteresis: grow the strong edges along the weak ones
        grown = np.pad(edges, ((0, 0), (1, 1), (1, 1)))
        near = np.zeros_like(edges)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                near |= grown[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        new = edges | (near & weak)
        if (new == edges).all():
            break
        edges = new
    edges[:, 0, :] = edges[:, -1, :] = edges[:, :, 0] = edges[:, :, -1] = False
    return _u8(edges.astype(np.float32))


CORRUPTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "shear": shear,
    "scale": scale,
    "rotate": rotate,
    "brightness": brightness,
    "translate": translate,
    "stripe": stripe,
    "fog": fog,
    "spatter": spatter,
    "dotted_line": dotted_line,
    "zigzag": zigzag,
    "canny_edges": canny_edges,
}


def corrupt(images, name: str, seed: int = 0) -> np.ndarray:
    """``images`` (uint8 ``(N, 28, 28)``) under corruption ``name``: new uint8 images, the same
    for the same images, name and seed."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose one of: {', '.join(CORRUPTIONS)}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    out = CORRUPTIONS[name](images, rng)
    assert out.shape == images.shape and out.dtype == np.uint8
    return out


def corruption_suite(
    predictor,
    images=None,
    labels=None,
    *,
    subset: int = 0,
    seed: int = 0,
    names=None,
    on_progress: Callable[[int, int, str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> dict[str, float]:
    """Accuracy of ``predictor`` on MNIST test (or ``images``, ``labels``) under each corruption:
    name → accuracy in [0, 1], in the order of :data:`CORRUPTIONS` (or ``names``). Only the images
    of the model's classes count, as in ``evaluation.evaluate`` (a 3-vs-7 model is judged on the
    3s and 7s; the other digits raised an error); ValueError if there are none.

    ``subset``: the first N images only (0 = all), before the other classes are left out.
    ``on_progress(done, total, name)`` is called after each corruption; with ``stop_event`` set
    it returns at once with the corruptions measured so far. Call from any thread. ValueError
    for an empty set (an accuracy of nothing), a negative ``subset``, or not one label per image.
    """
    from .recognition import _labels_to_indices

    if images is None:
        from .data import load_mnist

        x, y = load_mnist("test")
        images, labels = x.numpy(), y.numpy()
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim == 0 or labels.ndim != 1 or len(images) != len(labels):  # was an IndexError, or (with subset) no error
        raise ValueError(
            f"expected one label per image, got {len(images) if images.ndim else 0} images and "
            + (f"{len(labels)} labels" if labels.ndim == 1 else f"labels of shape {labels.shape}")
        )
    if isinstance(subset, bool) or not isinstance(subset, (int, np.integer)) or subset < 0:
        raise ValueError(f"subset must be a count of images (0 for all), not {subset!r}")
    if subset:
        images, labels = images[:subset], labels[:subset]
    if not len(labels):
        raise ValueError("there are no digits to measure the corruptions on: the set is empty")
    known = np.isin(labels, np.asarray(predictor.classes))
    if not known.any():
        raise ValueError(f"none of the {len(labels)} images is of the model's classes {list(predictor.classes)}")
    images, labels = images[known], labels[known]
    names = list(CORRUPTIONS) if names is None else list(names)
    targets = _labels_to_indices(predictor, labels, "measure the corruptions")
    out: dict[str, float] = {}
    for i, name in enumerate(names):
        if stop_event is not None and stop_event.is_set():
            break
        probabilities = predictor.predict_batch(corrupt(images, name, seed))
        out[name] = float((probabilities.argmax(axis=1) == targets).mean())
        if on_progress:
            on_progress(i + 1, len(names), name)
    return out
