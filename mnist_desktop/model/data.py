"""MNIST as tensors: reading and verifying the IDX files that ship in ``mnist_desktop/resources/mnist``.

The four files are the original MNIST database (LeCun, Cortes, Burges; CC BY-SA 3.0),
gzipped. Each file's decompressed content is checked against its SHA-256 before use, so
a truncated or tampered copy is reported by name instead of training on garbage.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import TASKS, Task, get_task  # noqa: F401 (re-exported)
from .errors import DataError, brief
from .files import check_regular_file
from .paths import RESOURCES

if TYPE_CHECKING:
    import torch

DEFAULT_ROOT = RESOURCES / "mnist"

# SHA-256 of the decompressed original files (see mnist_desktop/resources/mnist/SHA256SUMS.raw).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
# The decompressed size of each file (IDX header + one byte per pixel or label). Nothing is
# read past it: a small gzip can expand to gigabytes, and ``/dev/zero`` never ends.
SIZES = {
    name: (16 + count * 28 * 28 if name.endswith("idx3-ubyte") else 8 + count)
    for images, labels, count in FILES.values()
    for name in (images, labels)
}
MAX_IDX_BYTES = max(SIZES.values())  # an IDX file of another name: no bigger than MNIST's largest
GZIP_SLACK = 2**20  # a gzip of incompressible data is a little larger than the data


def find_idx_file(root: Path, name: str) -> Path:
    """The IDX file ``name`` (raw or .gz) in ``root``, or in torchvision's ``MNIST/raw`` layout."""
    for folder in (root, root / "raw", root / "MNIST" / "raw"):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.exists():  # not is_file(): a pipe or folder of that name is reported, not skipped
                return candidate
    raise DataError(
        f"{name}(.gz) not found in {root} (also looked in raw/ and MNIST/raw/). Point to a folder that holds the four MNIST IDX files."
    )


def read_idx(path: Path, magic: int, count: int | None = None, verify: bool = True) -> np.ndarray:
    """Read one IDX file, checking gzip integrity, magic number, size and (for MNIST) checksum."""
    name = path.name.removesuffix(".gz")
    limit = SIZES.get(name, MAX_IDX_BYTES)
    check_regular_file(path, "MNIST data", limit + GZIP_SLACK, DataError)
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
            f.seek(0)
            if gzipped:  # stream-decompress at most one byte more than the file may hold
                with gzip.GzipFile(fileobj=f) as z:
                    raw = z.read(limit + 1)
            else:
                raw = f.read(limit + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot be read or decompressed ({brief(e)}). Replace the file with a good copy.") from None
    if len(raw) > limit:
        raise DataError(
            f"{path}: is larger than an MNIST file should be (more than {limit:,} bytes"
            f"{' decompressed' if gzipped else ''}). Replace it with a good copy."
        )
    if verify and name in SHA256 and hashlib.sha256(raw).hexdigest() != SHA256[name]:
        raise DataError(
            f"{path}: checksum mismatch, the file is corrupt or was modified "
            f"(expected SHA-256 {SHA256[name][:16]}… of the decompressed content). Replace it with a good copy."
        )
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated ({len(raw)} bytes), not even an IDX header.")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        kind = "image" if magic == IMAGE_MAGIC else "label"
        raise DataError(f"{path}: not an IDX {kind} file (magic number {got}, expected {magic}).")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if ndim == 3 and dims[1:] != [28, 28]:
        raise DataError(f"{path}: images are {dims[1]}×{dims[2]}, expected 28×28.")
    if count is not None and dims[0] != count:
        raise DataError(f"{path}: holds {dims[0]} items, expected {count}.")
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path}: truncated or padded ({len(raw)} bytes, expected {expected} for shape {tuple(dims)}).")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and array.max(initial=0) > 9:
        raise DataError(f"{path}: labels must be digits 0–9, found {int(array.max())}.")
    return array


@lru_cache(maxsize=4)
def _load(split: str, root: Path, verify: bool) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name, count = FILES[split]
    images = read_idx(find_idx_file(root, images_name), IMAGE_MAGIC, None, verify)
    labels = read_idx(find_idx_file(root, labels_name), LABEL_MAGIC, None, verify)
    if len(images) != len(labels):
        raise DataError(f"{root}: {len(images)} {split} images but {len(labels)} labels.")
    return images, labels


def load_mnist(split: str, root: str | os.PathLike | None = None, verify: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` ("train" or "test") as ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    ``root`` defaults to the bundled copy. The result is a fresh tensor each call (the
    decoded files are cached), so callers may modify it freely.
    """
    import torch  # here, not at the top: the inspector's mnist_arrays is used before torch has loaded

    images, labels = mnist_arrays(split, root, verify)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def mnist_arrays(split: str, root: str | os.PathLike | None = None, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` as the process's one decoded copy: read-only uint8 images ``(N, 28, 28)``
    and uint8 labels ``(N,)``, shared by every caller (the trainer, the inspector's browser)."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    root = Path(root).expanduser().resolve() if root is not None else DEFAULT_ROOT
    if not root.is_dir():
        if root.exists():
            raise DataError(f"{root} is a file, not a folder: point to the folder that holds the four MNIST IDX files.")
        raise DataError(f"MNIST folder {root} does not exist.")
    images, labels = _load(split, root, verify)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def task_subset(images: torch.Tensor, labels: torch.Tensor, task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the task's classes; labels become class indices (for 3v7: 3 → 0, 7 → 1)."""
    import torch

    classes = get_task(task).classes
    if classes == tuple(range(10)):
        return images, labels
    keep = torch.isin(labels, torch.tensor(classes))
    index = torch.full((10,), -1, dtype=torch.int64)
    index[list(classes)] = torch.arange(len(classes))
    return images[keep], index[labels[keep]]


@dataclass(frozen=True)
class DatasetSummary:
    """What a split holds, per digit: how many images, which ones, and their mean image."""

    split: str
    counts: np.ndarray  # int64 (10,): images labelled 0 … 9
    means: np.ndarray  # float32 (10, 28, 28) in [0, 1]: the mean image of each digit (the chapter's "ideal 3")
    indices: tuple[np.ndarray, ...]  # ten int64 arrays: the split's indices of each digit, in order

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def dataset_summary(split: str, root: str | os.PathLike | None = None) -> DatasetSummary:
    """Counts, indices and mean image of each digit in MNIST ``split`` (no torch needed).

    Computed once per split and folder (about 0.1 s for the training set), then cached; the
    arrays are read-only.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    return _summary(split, Path(root).expanduser().resolve() if root is not None else DEFAULT_ROOT)


@lru_cache(maxsize=4)
def _summary(split: str, root: Path) -> DatasetSummary:
    images, labels = mnist_arrays(split, root)
    flat = images.reshape(len(images), -1)
    indices, means = [], np.zeros((10, 28 * 28), np.float32)
    for d in range(10):
        rows = np.flatnonzero(labels == d)
        indices.append(rows)
        if len(rows):
            means[d] = flat[rows].mean(axis=0, dtype=np.float64) / 255.0
    counts = np.array([len(r) for r in indices], dtype=np.int64)
    for a in (counts, means, *indices):
        a.flags.writeable = False
    return DatasetSummary(split, counts, means.reshape(10, 28, 28), tuple(indices))
