import gzip
import shutil

import pytest
import torch

from mnist_desktop.model import DataError, load_mnist, task_subset
from mnist_desktop.model.data import DEFAULT_ROOT


def test_bundled_mnist_shapes_dtypes_and_labels():
    images, labels = load_mnist("train")
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60000,) and labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_images, test_labels = load_mnist("test")
    assert test_images.shape == (10000, 28, 28) and test_labels.shape == (10000,)
    assert images.float().mean().item() / 255 == pytest.approx(0.1307, abs=1e-4)  # MNIST's well-known mean


def test_load_returns_independent_tensors():
    a, _ = load_mnist("test")
    a.zero_()
    b, _ = load_mnist("test")
    assert b.sum() > 0


def test_3v7_keeps_only_threes_and_sevens_as_class_indices():
    images, labels = load_mnist("test")
    x, y = task_subset(images, labels, "3v7")
    assert len(x) == int((labels == 3).sum() + (labels == 7).sum()) == 2038
    assert set(y.tolist()) == {0, 1}
    assert torch.equal(x[y == 0], images[labels == 3])


@pytest.fixture
def mnist_copy(tmp_path):
    for f in DEFAULT_ROOT.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_raw_files_in_torchvision_layout_load(mnist_copy, tmp_path):
    raw = tmp_path / "tv" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(gzip.decompress((mnist_copy / f"{name}.gz").read_bytes()))
    images, labels = load_mnist("test", root=tmp_path / "tv")
    ref_images, ref_labels = load_mnist("test")
    assert torch.equal(images, ref_images) and torch.equal(labels, ref_labels)


def test_tampered_file_fails_its_checksum_and_is_named(mnist_copy):
    path = mnist_copy / "t10k-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[5000] ^= 0xFF  # one pixel changed
    path.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: checksum mismatch"):
        load_mnist("test", root=mnist_copy)


def test_truncated_gzip_is_reported_by_name(mnist_copy):
    path = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: cannot be read or decompressed"):
        load_mnist("test", root=mnist_copy)


def test_wrong_magic_and_truncation_are_explained_without_checksums(mnist_copy):
    images = mnist_copy / "t10k-images-idx3-ubyte.gz"
    labels = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    shutil.copy(labels, images)  # a label file where the images should be
    with pytest.raises(DataError, match="not an IDX image file"):
        load_mnist("test", root=mnist_copy, verify=False)
    shutil.copy(DEFAULT_ROOT / images.name, images)
    data = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(data[:-784]))
    with pytest.raises(DataError, match="truncated"):
        load_mnist("test", root=mnist_copy, verify=False)


def test_missing_file_and_folder(mnist_copy, tmp_path):
    (mnist_copy / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        load_mnist("train", root=mnist_copy)
    with pytest.raises(DataError, match="does not exist"):
        load_mnist("train", root=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


def test_a_gzip_bomb_is_refused_without_decompressing_it(mnist_copy):
    import tracemalloc
    import zlib

    path = mnist_copy / "t10k-images-idx3-ubyte.gz"
    z = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip container
    with open(path, "wb") as f:
        chunk = bytes(2**20)
        for _ in range(50):  # 50 MB of zeros, about 200 KB on disk
            f.write(z.compress(chunk))
        f.write(z.flush())
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        for verify in (True, False):
            with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: is larger than an MNIST file should be"):
                load_mnist("test", root=mnist_copy, verify=verify)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # at most the 7.8 MB the file may hold, never the 50 MB


def test_a_raw_file_too_large_is_refused(mnist_copy):
    raw = mnist_copy / "t10k-labels-idx1-ubyte"
    (mnist_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    raw.write_bytes(bytes(20_000))
    with pytest.raises(DataError, match="is larger than an MNIST file should be"):
        load_mnist("test", root=mnist_copy, verify=False)


def test_a_named_pipe_or_folder_as_data_file_is_refused(mnist_copy):
    import os

    labels = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    labels.unlink()
    os.mkfifo(labels)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: is a named pipe"):
        load_mnist("test", root=mnist_copy)
    labels.unlink()
    labels.mkdir()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: is a folder, not a file; choose an MNIST data file\."):
        load_mnist("test", root=mnist_copy)


def test_a_file_given_as_the_data_folder_is_named_as_a_file(tmp_path):
    image = tmp_path / "digit.png"
    image.write_bytes(b"png")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_mnist("test", root=image)


def test_mnist_arrays_is_one_shared_read_only_copy():
    import numpy as np

    from mnist_desktop.model import load_mnist, mnist_arrays

    a, la = mnist_arrays("test")
    b, _ = mnist_arrays("test")
    assert a is b and not a.flags.writeable and not la.flags.writeable
    images, labels = load_mnist("test")  # a fresh copy the caller may change
    images[0] = 0
    assert np.array_equal(images[1:].numpy(), a[1:]) and a[0].any()


def test_dataset_summary_counts_and_mean_images_match_the_data():
    from mnist_desktop.model import dataset_summary

    for split in ("train", "test"):
        images, labels = load_mnist(split)
        s = dataset_summary(split)
        assert s.split == split and s.total == len(labels)
        assert s.counts.tolist() == torch.bincount(labels, minlength=10).tolist()
        for d in range(10):
            assert s.indices[d].tolist() == torch.nonzero(labels == d).flatten().tolist()
            expected = images[labels == d].double().mean(dim=0).numpy() / 255
            assert abs(s.means[d] - expected).max() < 1e-6
        assert dataset_summary(split) is s  # cached: the Data view opens at once the second time
        assert not s.means.flags.writeable and not s.counts.flags.writeable


def test_dataset_summary_refuses_an_unknown_split():
    from mnist_desktop.model import dataset_summary

    with pytest.raises(ValueError, match="split must be"):
        dataset_summary("valid")
