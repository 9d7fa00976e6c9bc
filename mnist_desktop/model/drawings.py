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
