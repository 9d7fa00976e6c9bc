"""Where a model goes wrong: accuracy, per-class accuracy, the confusion matrix and the most
confident mistakes ("top losses", as fastai's ``plot_top_losses`` shows them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Evaluation:
    """A model's verdict on a set of digits. Classes are digit values (for 3v7: 3 and 7)."""

    classes: tuple[int, ...]
    accuracy: float
    per_class: np.ndarray  # (K,) accuracy of each class (NaN for a class with no image)
    confusion: np.ndarray  # int64 (K, K): rows the true class, columns the predicted one
    probabilities: np.ndarray  # (N, K) for the images that count
    predicted: np.ndarray  # (N,) digit values
    labels: np.ndarray  # (N,) digit values
    indices: np.ndarray  # (N,) where each row came from in the images given
    top_losses: np.ndarray  # positions in ``indices`` of the wrong predictions, most confident first

    def as_dict(self) -> dict:
        """Plain numbers, for JSON."""
        return {
            "classes": list(self.classes),
            "samples": int(len(self.labels)),
            "accuracy": self.accuracy,
            "per_class_accuracy": {str(c): float(a) for c, a in zip(self.classes, self.per_class)},
            "confusion_matrix": self.confusion.tolist(),
        }


def evaluate(predictor, images, labels) -> Evaluation:
    """Evaluate ``predictor`` on uint8 ``(N, 28, 28)`` ``images`` with digit ``labels``.

    Only the images of the model's classes count (a 3v7 model sees only the 3s and 7s).
    """
    images = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    labels = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(f"expected uint8 images (N, 28, 28) and N labels, got {images.shape} and {labels.shape}")
    classes = tuple(int(c) for c in predictor.classes)
    keep = np.flatnonzero(np.isin(labels, classes))
    probabilities = predictor.predict_batch(np.ascontiguousarray(images[keep])) if len(keep) else np.zeros((0, len(classes)), np.float32)
    truth = (
        np.searchsorted(classes, labels[keep]) if list(classes) == sorted(classes) else np.array([classes.index(v) for v in labels[keep]])
    )
    guess = probabilities.argmax(1)
    k = len(classes)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth, guess), 1)
    totals = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(totals > 0, confusion.diagonal() / np.maximum(totals, 1), np.nan)
    wrong = np.flatnonzero(guess != truth)
    top_losses = wrong[np.argsort(-probabilities[wrong, guess[wrong]], kind="stable")]
    return Evaluation(
        classes=classes,
        accuracy=float((guess == truth).mean()) if len(keep) else float("nan"),
        per_class=per_class,
        confusion=confusion,
        probabilities=probabilities,
        predicted=np.asarray(classes)[guess] if len(keep) else np.zeros(0, np.int64),
        labels=labels[keep].astype(np.int64),
        indices=keep,
        top_losses=top_losses,
    )
