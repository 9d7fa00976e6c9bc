"""The Dataset spec: MNIST and My digits answer the same questions (name, classes, arrays,
normalisation, counts)."""

import subprocess
import sys

import numpy as np
import pytest

from mnist_desktop.model import DATASETS, MNIST, DataError, MyDigits, MyDigitsDataset, mnist_arrays
from mnist_desktop.model.config import MNIST_MEAN, MNIST_STD
from mnist_desktop.model.datasets import Dataset, MnistDataset


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_describes_itself_before_reading_anything(name):
    cls = DATASETS[name]
    assert issubclass(cls, Dataset) and cls.name == name and cls.label
    assert cls.classes and all(type(c) is int for c in cls.classes) and len(set(cls.classes)) == len(cls.classes)
    mean, std = cls.normalization
    assert isinstance(mean, float) and isinstance(std, float) and std > 0
    assert cls.splits and all(isinstance(s, str) for s in cls.splits)


def test_mnist_is_the_shared_copy_with_its_counts():
    assert (MNIST.classes, MNIST.normalization, MNIST.splits) == (tuple(range(10)), (MNIST_MEAN, MNIST_STD), ("train", "test"))
    for split, size in (("train", 60000), ("test", 10000)):
        images, labels = MNIST.arrays(split)
        assert images is mnist_arrays(split)[0] and not images.flags.writeable  # one decoded copy, not a copy of it
        assert images.shape == (size, 28, 28) and MNIST.size(split) == size
        counts = MNIST.counts(split)
        np.testing.assert_array_equal(counts, np.bincount(labels, minlength=10))
        np.testing.assert_array_equal(counts, Dataset.counts(MNIST, split))  # the summary's counts are the generic ones
    with pytest.raises(ValueError, match="MNIST has no split 'valid'"):
        MNIST.arrays("valid")


def test_mnist_in_another_folder_is_read_from_there(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        MnistDataset(tmp_path / "nowhere").arrays("test")


def test_my_digits_is_a_dataset_of_one_split(tmp_path):
    store = MyDigits(tmp_path / "digits")
    data = MyDigitsDataset(store)
    assert data.size() == 0 and data.arrays()[0].shape == (0, 28, 28)
    np.testing.assert_array_equal(data.counts("all"), np.zeros(10))
    images, _ = mnist_arrays("test")
    for i, label in ((0, 7), (1, 2), (2, 7)):
        store.add(np.kron(images[i], np.ones((4, 4), np.uint8)), label)
    x, y = data.arrays("all")
    np.testing.assert_array_equal(x, store.images())
    assert sorted(y.tolist()) == [2, 7, 7] and data.size() == 3
    assert data.counts("all").tolist() == [0, 0, 1, 0, 0, 0, 0, 2, 0, 0]
    with pytest.raises(ValueError, match="My digits has no split 'train'"):
        data.arrays("train")


def test_the_dataset_and_layer_specs_import_without_torch():
    """The panels read MNIST through ``datasets.MNIST`` while PyTorch is still loading."""
    code = "import sys, mnist_desktop.model.datasets, mnist_desktop.model.layers; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
