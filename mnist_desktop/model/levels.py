"""Colour levels for each layer's outputs, as the window's Activations view draws them.

A layer's level is the 99.5th percentile of its outputs' magnitudes over a few reference
digits (the first 16 MNIST test digits), so that a drawing's maps are coloured on one fixed
scale per model, not stretched to each drawing. :func:`reference_levels` computes them with
one forward pass and keeps them while the model lives, for any thread that asks: the window's
trainer asks before it hands its model over, so the model swap at the end of a run does not
compute them on the GUI thread (there, under the finish's load, they took 30 ms of a stall).
Numpy only: the predictor (torch or its numpy twin) does the forward pass.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from .datasets import MNIST
from .errors import MnistDesktopError

LEVEL_QUANTILE = 0.995  # a layer's level: this quantile of |outputs| over the reference digits
REFERENCE_COUNT = 16  # the first MNIST test digits


class LayerLevel(NamedTuple):
    """One layer's outputs over the reference digits: ``shape`` of one input's output,
    ``signed`` (some output below zero: a map centred on zero) and the level ``hi`` (the map
    runs from -hi or 0 to hi)."""

    shape: tuple[int, ...]
    signed: bool
    hi: float


def level(values: np.ndarray) -> float:
    """The :data:`LEVEL_QUANTILE` quantile of ``|values|``, interpolated between the two nearest
    ranks as ``np.percentile`` does (an output layer has only 16–160 values here), from one
    partition at those two ranks: less than half the time of ``np.percentile``."""
    flat = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    position = LEVEL_QUANTILE * (flat.size - 1)
    below = int(position)
    above = min(below + 1, flat.size - 1)
    ranked = np.partition(flat, (below, above))
    return float(ranked[below] + (position - below) * (ranked[above] - ranked[below]))


def reference_digits() -> np.ndarray:
    """``(N, 28, 28)`` float32 in [0, 1]: the first :data:`REFERENCE_COUNT` MNIST test digits, or
    one drawn-like bar when MNIST cannot be read."""
    try:
        images, _ = MNIST.arrays("test")
        return images[:REFERENCE_COUNT].astype(np.float32) / np.float32(255)
    except MnistDesktopError:
        bar = np.zeros((1, 28, 28), dtype=np.float32)
        bar[0, 6:22, 12:16] = 1.0
        return bar


_levels: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # predictor -> its levels
_lock = threading.Lock()


def reference_levels(predictor) -> OrderedDict[str, LayerLevel]:
    """Each layer's :class:`LayerLevel` for ``predictor`` (a torch ``Predictor`` or a
    ``NumpyPredictor``), in order: computed on the first call (one forward pass of the reference
    digits), then the same object for as long as the predictor lives. Any thread may ask."""
    with _lock:
        known = _levels.get(predictor)
    if known is not None:
        return known
    levels: OrderedDict[str, LayerLevel] = OrderedDict()
    for name, seen in predictor.activations_batch(reference_digits()).items():
        shape = tuple(int(n) for n in np.shape(seen)[1:])
        if not np.size(seen):
            levels[name] = LayerLevel(shape, False, 1.0)
            continue
        hi = level(seen)
        hi = hi if hi > 0 else (float(np.max(np.abs(seen))) or 1.0)  # mostly zeros: the largest, or 1
        levels[name] = LayerLevel(shape, bool(np.min(seen) < 0), hi)
    with _lock:
        return _levels.setdefault(predictor, levels)
