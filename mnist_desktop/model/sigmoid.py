"""The sigmoid, and what it does to a batch's predictions before ``mnist_loss``.

A linear model's output can be any number, −40 or 12. ``mnist_loss`` first squashes each
one into (0, 1) with ``sigmoid(x) = 1 / (1 + exp(−x))``, then takes how far it is from the
right answer: ``1 − p`` for a target 1, ``p`` for a target 0, and the mean of those.
:func:`sigmoid_batch` does that on a Step-mode batch in numpy (a test checks it against the
engine's torch ``mnist_loss``). No Qt, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sigmoid(x) -> np.ndarray:
    """``1 / (1 + exp(−x))``, computed without overflow for large |x| (float64)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@dataclass(frozen=True)
class SigmoidBatch:
    """A batch's one-output predictions before and after the sigmoid, and mnist_loss's terms."""

    raw: np.ndarray  # (B,): the model's outputs, any real number
    squashed: np.ndarray  # (B,): sigmoid(raw), in (0, 1): how sure the model is of class 1
    targets: np.ndarray  # (B,): 1 for the second class (a 7 in 3 vs 7), 0 for the first
    terms: np.ndarray  # (B,): each image's share of the loss: 1 − p where the target is 1, else p

    @property
    def loss(self) -> float:
        """mnist_loss: the mean of the terms."""
        return float(self.terms.mean())

    @property
    def right(self) -> int:
        """How many are on the right side of 0.5."""
        return int(((self.squashed > 0.5) == (self.targets == 1)).sum())


def sigmoid_batch(predictions: np.ndarray, targets: np.ndarray) -> SigmoidBatch:
    """``predictions`` (B, 1) raw outputs, ``targets`` (B,) class indices 0/1."""
    predictions = np.asarray(predictions)
    if predictions.ndim != 2 or predictions.shape[1] != 1:
        raise ValueError(f"the sigmoid of mnist_loss needs one output per image, not predictions of shape {predictions.shape}")
    raw = predictions[:, 0].astype(np.float64)
    targets = np.asarray(targets).reshape(-1)
    p = sigmoid(raw)
    terms = np.where(targets == 1, 1 - p, p)
    return SigmoidBatch(raw, p, targets, terms)
