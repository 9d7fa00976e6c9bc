"""MNIST digits redrawn as canvas drawings: the inverse of ``to_mnist``, for the tests, the
benchmark and any view that shows how preprocessing copes with a small or off-centre digit."""

from __future__ import annotations

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
