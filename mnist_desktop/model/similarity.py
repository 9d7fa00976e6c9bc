"""The chapter's pixel similarity, measured two ways: L1 against L2 distance, with broadcasting.

The "ideal" 3 and 7 are the mean images of the training set's 3s and 7s. A digit is called a
3 when it is closer to the ideal 3 than to the ideal 7, and "closer" can be measured as

* **L1**, the mean absolute difference: ``(a - mean3).abs().mean((-1, -2))``;
* **L2**, the root mean squared error: ``((a - mean3) ** 2).mean((-1, -2)).sqrt()``, which
  punishes a few large differences more than many small ones.

Both are written once for one image and work unchanged for a whole stack of images:
``valid_3_tens - mean3`` subtracts the (28, 28) mean from each of the (1010, 28, 28) images
without copying it (broadcasting), and ``mean((-1, -2))`` averages the last two axes only,
giving one distance per image. :func:`pixel_similarity_lab` computes both distances'
accuracies on MNIST's test 3s and 7s (the chapter's validation set) and the shapes along the
way. numpy only: it is the chapter's torch code, line for line, on arrays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .data import mnist_arrays
from .tensor_shapes import shape_text

DISTANCES = ("l1", "l2")
DISTANCE_LABELS = {"l1": "L1: mean absolute difference", "l2": "L2: root mean squared error"}


def l1_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute difference over the last two axes: one number per 28×28 image (broadcasts)."""
    return np.abs(a - b).mean((-1, -2))


def l2_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root mean squared difference over the last two axes: one number per 28×28 image (broadcasts)."""
    return np.sqrt(((a - b) ** 2).mean((-1, -2)))


DISTANCE_FUNCTIONS = {"l1": l1_distance, "l2": l2_distance}


@dataclass(frozen=True)
class Accuracy:
    threes: float  # the fraction of the validation 3s called 3
    sevens: float  # the fraction of the validation 7s called 7
    overall: float  # the fraction of all validation 3s and 7s called right

    @property
    def chapter_mean(self) -> float:
        """The chapter's figure: the mean of the two per-digit accuracies."""
        return (self.threes + self.sevens) / 2


@dataclass(frozen=True)
class SimilarityLab:
    """Pixel similarity on 3 vs 7, by L1 and by L2. Images are float32 in [0, 1], read-only."""

    mean3: np.ndarray  # (28, 28): the ideal 3, the mean of the training 3s
    mean7: np.ndarray  # (28, 28)
    train_counts: tuple[int, int]  # how many training 3s and 7s made the means
    valid_3_tens: np.ndarray  # (1010, 28, 28): MNIST's test 3s, the chapter's validation set
    valid_7_tens: np.ndarray  # (1028, 28, 28)
    distances: dict[str, dict[str, np.ndarray]]  # "l1"/"l2" → "3s to mean3" etc. → (n,) distances
    accuracy: dict[str, Accuracy]  # "l1"/"l2" → how often each is right

    def sample_distances(self, index: int) -> dict[str, tuple[float, float]]:
        """Validation 3 number ``index``: its (distance to the ideal 3, to the ideal 7), by L1 and L2."""
        a = self.valid_3_tens[index]
        return {k: (float(f(a, self.mean3)), float(f(a, self.mean7))) for k, f in DISTANCE_FUNCTIONS.items()}

    def broadcast_steps(self) -> list[tuple[str, str]]:
        """The L1 distance of every validation 3 at once, as (code, what its shape becomes)."""
        v, m = self.valid_3_tens.shape, self.mean3.shape
        diff = np.broadcast_shapes(v, m)
        return [
            (
                "valid_3_tens - mean3",
                f"valid_3_tens: {shape_text(v)} - mean3: {shape_text(m)} → {shape_text(diff)}  "
                f"(mean3 is used for each of the {v[0]} images, never copied)",
            ),
            ("(valid_3_tens - mean3).abs()", f"{shape_text(diff)} → {shape_text(diff)}"),
            (".mean((-1, -2))", f"{shape_text(diff)} → {shape_text(diff[:-2])}  (one distance per image: the last two axes averaged)"),
            (
                "mnist_distance(valid_3_tens, mean3) < mnist_distance(valid_3_tens, mean7)",
                f"{shape_text(diff[:-2])} of True/False → .float().mean() → [] (the accuracy on the 3s)",
            ),
        ]


def pixel_similarity_lab(root: str | os.PathLike | None = None) -> SimilarityLab:
    """The ideal 3 and 7 from MNIST's training set, and how well L1 and L2 distance to them
    sort MNIST's test 3s and 7s (about a second the first time: MNIST is decoded)."""
    train_x, train_y = mnist_arrays("train", root)
    test_x, test_y = mnist_arrays("test", root)
    stacked_threes = train_x[train_y == 3].astype(np.float32) / 255
    stacked_sevens = train_x[train_y == 7].astype(np.float32) / 255
    mean3, mean7 = stacked_threes.mean(0), stacked_sevens.mean(0)
    valid_3_tens = test_x[test_y == 3].astype(np.float32) / 255
    valid_7_tens = test_x[test_y == 7].astype(np.float32) / 255
    distances, accuracy = {}, {}
    for key, f in DISTANCE_FUNCTIONS.items():
        d = {
            "3s to mean3": f(valid_3_tens, mean3),
            "3s to mean7": f(valid_3_tens, mean7),
            "7s to mean3": f(valid_7_tens, mean3),
            "7s to mean7": f(valid_7_tens, mean7),
        }
        threes_right = d["3s to mean3"] < d["3s to mean7"]
        sevens_right = d["7s to mean7"] < d["7s to mean3"]
        for a in d.values():
            a.flags.writeable = False
        distances[key] = d
        accuracy[key] = Accuracy(
            threes=float(threes_right.mean()),
            sevens=float(sevens_right.mean()),
            overall=float((threes_right.sum() + sevens_right.sum()) / (len(threes_right) + len(sevens_right))),
        )
    for a in (mean3, mean7, valid_3_tens, valid_7_tens):
        a.flags.writeable = False
    return SimilarityLab(mean3, mean7, (len(stacked_threes), len(stacked_sevens)), valid_3_tens, valid_7_tens, distances, accuracy)
