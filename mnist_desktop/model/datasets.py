"""Datasets as one spec: MNIST and My digits answer the same questions.

A :class:`Dataset` says what it is on the class (``name``, ``label``, ``classes``,
``normalization``, ``splits``), so a menu or a row of buttons can ask for the classes before
anything is read, and loads on the instance: ``arrays(split)`` (uint8 images ``(N, 28, 28)``
and integer labels ``(N,)``), ``counts(split)`` (images per class) and ``size(split)``.

No torch and no Qt here: the window's panels read MNIST through :data:`MNIST` while PyTorch
is still loading.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from . import data
from .config import MNIST_MEAN, MNIST_STD

if TYPE_CHECKING:
    from .mydigits import MyDigits

DIGITS = tuple(range(10))


class Dataset:
    """What every dataset says about itself and how its images are read."""

    name: ClassVar[str]
    label: ClassVar[str]  # what a person reads: "MNIST", "My digits"
    classes: ClassVar[tuple[int, ...]]  # the labels its images may carry, in order
    # The pixel statistics (mean, std) a model trained on it is fed with.
    normalization: ClassVar[tuple[float, float]]
    splits: ClassVar[tuple[str, ...]]

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """uint8 images ``(N, 28, 28)`` and integer labels ``(N,)`` of ``split`` (read-only where shared)."""
        raise NotImplementedError

    def check_split(self, split: str) -> str:
        if split not in self.splits:
            raise ValueError(f"{self.label} has no split {split!r}; choose one of: {', '.join(self.splits)}")
        return split

    def counts(self, split: str) -> np.ndarray:
        """int64 ``(len(classes),)``: how many images of each class ``split`` holds."""
        _, labels = self.arrays(split)
        return np.array([np.count_nonzero(labels == c) for c in self.classes], dtype=np.int64)

    def size(self, split: str) -> int:
        """How many images ``split`` holds."""
        return len(self.arrays(split)[1])


class MnistDataset(Dataset):
    """The MNIST database: the bundled copy, or the four IDX files in ``root``."""

    name = "mnist"
    label = "MNIST"
    classes = DIGITS
    normalization = (MNIST_MEAN, MNIST_STD)
    splits = ("train", "test")

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = root

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The process's one decoded copy (``data.mnist_arrays``): read-only, shared, never copied."""
        return data.mnist_arrays(self.check_split(split), self.root)

    def summary(self, split: str) -> data.DatasetSummary:
        """Counts, indices and mean image of each digit (cached: ``data.dataset_summary``)."""
        return data.dataset_summary(self.check_split(split), self.root)

    def counts(self, split: str) -> np.ndarray:
        return self.summary(split).counts


class MyDigitsDataset(Dataset):
    """The digits a person drew and labelled (``mydigits.MyDigits``), as a dataset of one split.

    Each is stored as ``to_mnist`` made it: an MNIST-like 28×28 digit, fed to a model with
    MNIST's statistics.
    """

    name = "my-digits"
    label = "My digits"
    classes = DIGITS
    normalization = (MNIST_MEAN, MNIST_STD)
    splits = ("all",)

    def __init__(self, store: MyDigits):
        self.store = store

    def arrays(self, split: str = "all") -> tuple[np.ndarray, np.ndarray]:
        self.check_split(split)
        return self.store.images(), self.store.labels()

    def size(self, split: str = "all") -> int:
        self.check_split(split)
        return len(self.store)


# Every dataset by name.
DATASETS: dict[str, type[Dataset]] = {d.name: d for d in (MnistDataset, MyDigitsDataset)}
# The bundled MNIST: what the panels show and the model is measured on.
MNIST = MnistDataset()
