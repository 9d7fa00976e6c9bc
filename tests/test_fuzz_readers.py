"""Readers that nothing can break: random and mutated files end in the project's own error.

Every reader of outside data (IDX files, checkpoints, ``.pt`` state dicts, images) is fed
random bytes, valid files with bytes flipped, cut or appended, and hostile metadata. Each call
must either succeed with a usable result or raise a :class:`MnistDesktopError` whose message
names the file: never another exception type, never a hang (``faulthandler_timeout``), never
an unpickle. Each property runs 50-100 small examples here; ``test_long_fuzz`` (marked slow)
runs them all longer.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from mnist_desktop.model import (  # noqa: E402
    MnistDesktopError,
    Predictor,
    build_model,
    checkpoints,  # noqa: E402
    load_digit_image,
    load_mnist,
)
from mnist_desktop.model.architectures import get_architecture  # noqa: E402
from mnist_desktop.model.data import IMAGE_MAGIC, LABEL_MAGIC, read_idx  # noqa: E402
from mnist_desktop.model.errors import CheckpointError, DataError, EmptyImageError  # noqa: E402
from mnist_desktop.model.training import continue_config  # noqa: E402

# test_long_fuzz runs this file again with a larger factor.
FACTOR = int(os.environ.get("MNIST_DESKTOP_FUZZ_FACTOR", "1"))


def fuzz(examples: int):
    return settings(
        max_examples=examples * FACTOR,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder per test module; each example writes its own file into a fresh sub-folder."""
    return tmp_path_factory.mktemp("fuzz")


_counter = iter(range(10**9))


def fresh(folder: Path) -> Path:
    path = folder / f"ex{next(_counter)}"
    path.mkdir()
    return path


def refused(call, path: Path, errors=(MnistDesktopError,)):
    """Run ``call``; it may succeed. If it raises, it must be one of ours, naming ``path``."""
    try:
        return call()
    except errors as e:
        message = str(e)
        assert str(path) in message or path.name in message, message
        assert "\n" not in message.strip(), message
        assert "Traceback" not in message, message
        return None


# Edits to a valid file: a few bytes overwritten, then cut or extended.
edits = st.tuples(
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.floats(0, 1)),
    st.binary(max_size=64),
)


def mutate(data: bytes, edit, protect: int = 0) -> bytes:
    """``data`` with ``edit`` applied (positions as fractions, so that shrinking stays meaningful)."""
    changes, cut, tail = edit
    out = bytearray(data)
    for where, value in changes:
        i = protect + int(where * (len(out) - protect)) if len(out) > protect else 0
        if i < len(out):
            out[i] = value
    if cut is not None:
        out = out[: int(cut * len(out))]
    return bytes(out) + tail


# ---------------------------------------------------------------- IDX files (MNIST data)


def idx_bytes(magic: int, dims: list[int], body: bytes | None = None) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + (body if body is not None else bytes(int(np.prod(dims)) % 256 for _ in range(int(np.prod(dims)))))


def small_idx(kind: str, count: int = 3) -> bytes:
    if kind == "images":
        return idx_bytes(IMAGE_MAGIC, [count, 28, 28], bytes(range(256)) * (count * 784 // 256) + bytes(count * 784 % 256))
    return idx_bytes(LABEL_MAGIC, [count], bytes(i % 10 for i in range(count)))


@fuzz(100)
@given(data=st.binary(max_size=4096), gz=st.booleans(), kind=st.sampled_from(["images", "labels"]))
def test_idx_random_bytes(folder, data, gz, kind):
    path = fresh(folder) / ("fuzz-idx.gz" if gz else "fuzz-idx")
    path.write_bytes(gzip.compress(data) if gz else data)
    magic = IMAGE_MAGIC if kind == "images" else LABEL_MAGIC
    array = refused(lambda: read_idx(path, magic), path)
    if array is not None:
        assert array.dtype == np.uint8 and array.ndim == (3 if kind == "images" else 1)


@fuzz(100)
@given(
    kind=st.sampled_from(["images", "labels"]),
    edit=edits,
    gz=st.booleans(),
    gz_edit=st.booleans(),
    magic=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    dims=st.one_of(st.none(), st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3)),
)
def test_idx_mutated(folder, kind, edit, gz, gz_edit, magic, dims):
    """Wrong magic numbers and counts, flipped bytes and truncations of a valid IDX file."""
    raw = bytearray(small_idx(kind))
    if magic is not None:
        raw[:4] = magic.to_bytes(4, "big")
    for i, d in enumerate(dims or []):
        raw[4 + 4 * i : 8 + 4 * i] = d.to_bytes(4, "big")
    raw = bytes(raw)
    data = mutate(gzip.compress(raw), edit) if gz and gz_edit else gzip.compress(mutate(raw, edit)) if gz else mutate(raw, edit)
    path = fresh(folder) / ("x-idx.gz" if gz else "x-idx")
    path.write_bytes(data)
    refused(lambda: read_idx(path, IMAGE_MAGIC if kind == "images" else LABEL_MAGIC), path)


@fuzz(50)
@given(images=st.binary(max_size=3000), labels=st.binary(max_size=64), edit=edits, valid=st.booleans())
def test_load_mnist_from_a_folder_of_hostile_files(folder, images, labels, edit, valid):
    root = fresh(folder)
    if valid:  # valid files with one of them damaged
        images, labels = small_idx("images", 3), mutate(small_idx("labels", 3), edit)
    (root / "t10k-images-idx3-ubyte").write_bytes(images)
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    for verify in (True, False):
        try:
            x, y = load_mnist("test", root, verify=verify)
        except DataError as e:
            assert str(root) in str(e), e
        else:
            assert not verify and len(x) == len(y) and x.shape[1:] == (28, 28)


@pytest.mark.parametrize("name", ["t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "other-idx3-ubyte.gz"])
def test_gzip_bomb_is_refused_after_reading_its_limit(tmp_path, name):
    """A gzip of more zeros than the file may hold: a few KB on disk, read up to the limit only."""
    from mnist_desktop.model.data import MAX_IDX_BYTES, SIZES

    limit = SIZES.get(name.removesuffix(".gz"), MAX_IDX_BYTES)
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)  # the gzip container
    path = tmp_path / name
    with open(path, "wb") as f:
        chunk = bytes(2**20)
        for _ in range(limit // len(chunk) + 8):  # 8 MB more than allowed, streamed: the test stays small too
            f.write(bomb.compress(chunk))
        f.write(bomb.flush())
    assert path.stat().st_size < 2**20
    with pytest.raises(DataError, match=rf"{name}: is larger than an MNIST file should be .* decompressed"):
        read_idx(path, IMAGE_MAGIC if "idx3" in name else LABEL_MAGIC)


# ---------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid small checkpoint (linear, 31 KB) and its parts: header JSON, metadata, body."""
    torch.manual_seed(0)
    model = build_model("linear", 10)
    meta = checkpoints.make_metadata(
        "linear",
        {},
        "digits",
        "softmax",
        get_architecture("linear").normalization,
        training={"loss": "cross-entropy", "epochs": 1},
        metrics={"test_accuracy": 0.9},
    )
    path = checkpoints.save_checkpoint(tmp_path_factory.mktemp("saved") / "linear.safetensors", model, meta)
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    return Saved(bytes=data, header=header, meta=json.loads(header["__metadata__"][checkpoints.METADATA_KEY]), body=data[8 + n :])


class Saved(dict):
    """The fixture's parts, with a short repr: Hypothesis prints the fixture beside a failing example."""

    def __repr__(self) -> str:
        return f"<linear checkpoint, {len(self['bytes'])} bytes>"


def assemble(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def use(predictor: Predictor) -> None:
    """What the app does with a loaded model: every step must work."""
    probs = predictor.predict(np.zeros((28, 28), np.float32))
    assert probs.shape == (len(predictor.classes),) and np.isfinite(probs).all()
    predictor.describe()
    continue_config(predictor)
    predictor.activations(np.zeros((28, 28), np.float32))
    predictor.layer_weights()


def load_and_use(path: Path) -> None:
    p = refused(lambda: Predictor.load(path), path, CheckpointError)
    if p is not None:
        use(p)


@fuzz(100)
@given(data=st.binary(max_size=2048), prefix=st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02", b"\x10\x00\x00\x00\x00\x00\x00\x00{"]))
def test_checkpoint_random_bytes(folder, data, prefix):
    for name in ("x.safetensors", "x.pt"):
        path = fresh(folder) / name
        path.write_bytes(prefix + data)
        load_and_use(path)


@fuzz(100)
@given(edit=edits, in_header=st.booleans())
def test_checkpoint_mutated_bytes(folder, saved, edit, in_header):
    data = saved["bytes"]
    n = 8 + int.from_bytes(data[:8], "little")
    mutated = mutate(data[:n], edit) + data[n:] if in_header else data[:n] + mutate(data[n:], edit)
    path = fresh(folder) / "m.safetensors"
    path.write_bytes(mutated)
    load_and_use(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
META_KEYS = [
    "format",
    "format_version",
    "architecture",
    "arch_config",
    "task",
    "classes",
    "output",
    "normalization",
    "training",
    "metrics",
    "versions",
    "created",
]


@fuzz(100)
@given(
    changes=st.dictionaries(st.sampled_from(META_KEYS), json_values, min_size=1, max_size=3),
    delete=st.lists(st.sampled_from(META_KEYS), max_size=2),
)
def test_checkpoint_metadata_of_any_json_type(folder, saved, changes, delete):
    meta = dict(saved["meta"], **changes)
    for key in delete:
        meta.pop(key, None)
    header = json.loads(json.dumps(saved["header"]))
    header["__metadata__"][checkpoints.METADATA_KEY] = json.dumps(meta)
    path = fresh(folder) / "meta.safetensors"
    path.write_bytes(assemble(header, saved["body"]))
    load_and_use(path)


@fuzz(100)
@given(
    inner=st.dictionaries(
        st.sampled_from(["normalization", "training", "metrics", "arch_config"]),
        st.dictionaries(
            st.sampled_from(["mean", "std", "loss", "epochs", "epochs_total", "test_accuracy", "hidden"]), json_values, max_size=3
        ),
        min_size=1,
        max_size=2,
    )
)
def test_checkpoint_metadata_values_of_any_json_type(folder, saved, inner):
    """The keys inside the mappings the app reads: normalisation numbers, training, metrics."""
    meta = json.loads(json.dumps(saved["meta"]))
    for key, values in inner.items():
        meta[key] = dict(meta.get(key) or {}, **values)
    header = json.loads(json.dumps(saved["header"]))
    header["__metadata__"][checkpoints.METADATA_KEY] = json.dumps(meta)
    path = fresh(folder) / "values.safetensors"
    path.write_bytes(assemble(header, saved["body"]))
    load_and_use(path)


tensor_entries = st.fixed_dictionaries(
    {},
    optional={
        "dtype": st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "C64", "F8_E4M3", "X", ""]) | json_values,
        "shape": st.lists(st.integers(-2, 2**40) | st.sampled_from([10, 784]), max_size=4) | json_values,
        "data_offsets": st.lists(st.integers(-1, 2**40) | st.sampled_from([0, 40, 31360, 31400]), max_size=3) | json_values,
    },
)


@fuzz(100)
@given(
    entries=st.dictionaries(
        st.sampled_from(["fc.weight", "fc.bias", "other", "__metadata__"]), tensor_entries | json_values, min_size=1, max_size=2
    ),
    body_cut=st.one_of(st.none(), st.integers(0, 31400)),
)
def test_checkpoint_header_entries_of_any_shape_and_dtype(folder, saved, entries, body_cut):
    """Found by the long run: a dtype string holding a newline came back inside safetensors'
    error, so the message was two lines; every message that quotes outside text is one line."""
    header = json.loads(json.dumps(saved["header"]))
    for name, entry in entries.items():
        if isinstance(entry, dict) and isinstance(header.get(name), dict):
            header[name] = dict(header[name], **entry)
        else:
            header[name] = entry
    path = fresh(folder) / "entries.safetensors"
    path.write_bytes(assemble(header, saved["body"][:body_cut]))
    load_and_use(path)


KEYS = [
    "fc.weight",
    "fc.bias",
    "fc1.weight",
    "fc1.bias",
    "fc2.weight",
    "fc2.bias",
    "similarity.means",
    "conv1.weight",
    "conv2.weight",
    "state_dict",
    "model",
    "x",
]
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.uint8, torch.bool, torch.complex64]


@fuzz(100)
@given(
    spec=st.dictionaries(
        st.sampled_from(KEYS),
        st.tuples(
            # at most 784 * 10 * 3 elements: the test itself stays small
            st.lists(st.sampled_from([0, 1, 2, 3, 10, 784]), max_size=4).filter(lambda shape: int(np.prod(shape)) <= 23520),
            st.sampled_from(DTYPES),
            st.sampled_from([0.0, 1.0, float("nan")]),
        ),
        min_size=1,
        max_size=4,
    ),
    wrap=st.sampled_from([None, "state_dict", "model", "list"]),
)
def test_pt_state_dicts_of_any_shape_and_dtype(folder, spec, wrap):
    """``torch.load(weights_only=True)`` of tensors of any shape (0-d included) and dtype."""
    state = {
        k: torch.full(shape, fill).to(dtype) if dtype.is_floating_point or dtype.is_complex else torch.zeros(shape, dtype=dtype)
        for k, (shape, dtype, fill) in spec.items()
    }
    obj = {wrap: state} if wrap in ("state_dict", "model") else list(state.values()) if wrap == "list" else state
    path = fresh(folder) / "w.pt"
    torch.save(obj, path)
    load_and_use(path)


@fuzz(60)
@given(edit=edits)
def test_pt_mutated_bytes(folder, edit, tmp_path_factory):
    buf = io.BytesIO()
    torch.save({"fc.weight": torch.zeros(10, 784), "fc.bias": torch.zeros(10)}, buf)
    path = fresh(folder) / "m.pt"
    path.write_bytes(mutate(buf.getvalue(), edit))
    load_and_use(path)


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


def _dtype_with_a_newline(saved) -> bytes:
    header = json.loads(json.dumps(saved["header"]))
    header["fc.weight"]["dtype"] = "\n"
    return assemble(header, saved["body"])


def _safetensors_then_zip(saved) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(Boom()))
    return saved["bytes"] + buf.getvalue()


def _multi_disk_zip(saved) -> bytes:
    """A zip end record with a zip64 locator claiming two disks: zipfile.is_zipfile raises
    BadZipFile for it (Python 3.11) instead of answering; found by CI's long fuzz."""
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 2)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0, 0, 0, 0, 0)
    return b"not a checkpoint" + locator + end


def _torch_zip_of(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda s: pickle.dumps(Boom()), "not a safe checkpoint"),
        (lambda s: (40).to_bytes(8, "little") + pickle.dumps(Boom()), "not a readable safetensors checkpoint"),
        (lambda s: _torch_zip_of({"x": Boom()}), "not a safe checkpoint"),
        (lambda s: _torch_zip_of({"zzz": torch.zeros(3)}), "match none of the architectures"),
        (lambda s: _torch_zip_of({"fc.weight": torch.tensor(1.0), "fc.bias": torch.tensor(0.0)}), "fc.weight has shape \\(\\), expected 2"),
        (lambda s: _torch_zip_of({"fc.weight": torch.zeros(10, 784, dtype=torch.int64), "fc.bias": torch.zeros(10)}), "stored as int64"),
        (
            lambda s: _torch_zip_of({"fc.weight": torch.zeros(10, 784, dtype=torch.complex64), "fc.bias": torch.zeros(10)}),
            "stored as complex64",
        ),
        (_safetensors_then_zip, "not a readable safetensors checkpoint"),
        (lambda s: b"", "header too small"),
        (_dtype_with_a_newline, "unknown variant ` `, expected one of"),
        (_multi_disk_zip, "not a safe checkpoint"),
    ],
    ids=[
        "pickle",
        "header-is-a-pickle",
        "torch-zip-with-objects",
        "only-an-unknown-key",
        "0-d-weights",
        "int-weights",
        "complex-weights",
        "safetensors-then-zip",
        "empty",
        "dtype-with-a-newline",
        "zip-on-two-disks",
    ],
)
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_hostile_checkpoint_files(tmp_path, saved, make, message, suffix):
    path = tmp_path / f"hostile{suffix}"
    path.write_bytes(make(saved))
    with pytest.raises(CheckpointError, match=message) as info:
        Predictor.load(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


HOSTILE_META = {
    "architecture-dict": {"architecture": {"a": 1}},
    "architecture-list": {"architecture": ["linear"]},
    "architecture-unknown": {"architecture": "transformer"},
    "classes-int": {"classes": 10},
    "classes-null": {"classes": None},
    "classes-bools": {"classes": [False, True, 2, 3, 4, 5, 6, 7, 8, 9]},
    "metrics-int": {"metrics": 3},
    "metrics-list": {"metrics": [1, 2]},
    "metrics-null": {"metrics": None},
    "task-list": {"task": ["digits"]},
    "training-list": {"training": ["cross-entropy"]},
    "training-loss-list": {"training": {"loss": ["x"]}},
    "sigmoid-for-ten-classes": {"output": "sigmoid"},
    "std-tiny": {"normalization": {"mean": 0.1, "std": 1e-300}},
}


@pytest.mark.parametrize("changes", HOSTILE_META.values(), ids=HOSTILE_META.keys())
def test_hostile_metadata_values(tmp_path, saved, changes):
    header = json.loads(json.dumps(saved["header"]))
    header["__metadata__"][checkpoints.METADATA_KEY] = json.dumps(dict(saved["meta"], **changes))
    path = tmp_path / "meta.safetensors"
    path.write_bytes(assemble(header, saved["body"]))
    with pytest.raises(CheckpointError) as info:
        Predictor.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param('{"normalization": {"mean": 0, "std": 1' + "0" * 400 + "}}", "bad normalisation", id="std-too-large-for-a-float"),
        pytest.param('{"normalization": {"mean": 0, "std": 1e999}}', "bad normalisation", id="std-overflows-to-inf"),
        pytest.param("[" * 100_000 + "]" * 100_000, "not valid JSON", id="nested-100000-deep"),
        pytest.param('{"format_version": ' + "7" * 5000 + "}", "not valid JSON", id="integer-of-5000-digits"),
        pytest.param('{"metrics": {"seconds": NaN}, "normalization": {"mean": NaN, "std": 1}}', "bad normalisation", id="NaN-mean"),
    ],
)
def test_hostile_metadata_text(tmp_path, saved, text, message):
    meta = json.dumps(saved["meta"])
    if text.startswith("{"):  # merge into the valid metadata, as text: the values do not survive json.loads
        meta = meta[:-1] + ", " + text[1:]
    else:
        meta = text
    header = json.loads(json.dumps(saved["header"]))
    header["__metadata__"][checkpoints.METADATA_KEY] = meta
    path = tmp_path / "text.safetensors"
    path.write_bytes(assemble(header, saved["body"]))
    with pytest.raises(CheckpointError, match=message) as info:
        Predictor.load(path)
    assert str(path) in str(info.value) and len(str(info.value)) < 600


def test_nan_weights_and_huge_config(tmp_path, saved):
    body = np.frombuffer(saved["body"], dtype=np.uint8).copy()
    body[:4] = np.frombuffer(np.float32(np.nan).tobytes(), np.uint8)
    path = tmp_path / "nan.safetensors"
    path.write_bytes(assemble(saved["header"], body.tobytes()))
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        Predictor.load(path)
    header = json.loads(json.dumps(saved["header"]))
    header["__metadata__"][checkpoints.METADATA_KEY] = json.dumps(dict(saved["meta"], architecture="mlp", arch_config={"hidden": 2**62}))
    path.write_bytes(assemble(header, saved["body"]))
    with pytest.raises(CheckpointError, match="hidden must be an integer from 1 to 8192"):
        Predictor.load(path)


# ---------------------------------------------------------------- images

MODES = {  # every mode Pillow reads, with a format that stores it
    "1": "PNG",
    "L": "PNG",
    "LA": "PNG",
    "P": "PNG",
    "RGB": "PNG",
    "RGBA": "PNG",
    "I;16": "PNG",
    "I": "TIFF",
    "F": "TIFF",
    "CMYK": "TIFF",
    "YCbCr": "JPEG",
}
FORMATS = ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"]


def _image(mode: str, values: np.ndarray) -> Image.Image:
    if mode == "F":
        return Image.fromarray(values.astype(np.float32) / 255)
    if mode == "I":
        return Image.fromarray(values.astype(np.int32) * 1000 - 5000)
    if mode == "I;16":
        return Image.fromarray(values.astype(np.uint16) * 257)
    return Image.fromarray(values.astype(np.uint8)).convert(mode)


def read_image(path: Path):
    out = refused(lambda: load_digit_image(path), path, (DataError, EmptyImageError))
    if out is not None:
        assert out.dtype == np.uint8 and out.ndim == 2 and max(out.shape) <= 1024


@fuzz(100)
@given(
    mode=st.sampled_from(list(MODES)),
    shape=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["noise", "blank", "stripe"]),
)
def test_images_of_every_mode(folder, mode, shape, seed, kind):
    rng = np.random.default_rng(seed)
    values = {"noise": rng.integers(0, 256, shape), "blank": np.full(shape, rng.integers(0, 256))}.get(kind)
    if values is None:
        values = np.zeros(shape)
        values[shape[0] // 2] = 255
    path = fresh(folder) / f"img.{MODES[mode].lower()}"
    _image(mode, values).save(path, MODES[mode])
    read_image(path)


@pytest.fixture(scope="module")
def valid_images(tmp_path_factory):
    """One small valid file per (format, mode) pair that Pillow can write."""
    rng = np.random.default_rng(0)
    values = rng.integers(0, 256, (16, 16))
    out = {}
    for fmt in FORMATS:
        for mode in MODES:
            buf = io.BytesIO()
            try:
                _image(mode, values).save(buf, fmt)
            except (OSError, ValueError, KeyError):
                continue  # the format cannot store the mode
            out[f"{fmt}-{mode}"] = buf.getvalue()
    frames = [Image.fromarray(values.astype(np.uint8)), Image.new("L", (16, 16), 255)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    out["GIF-animated"] = buf.getvalue()
    return out


@fuzz(100)
@given(data=st.data(), edit=edits)
def test_images_mutated_bytes(folder, valid_images, data, edit):
    name = data.draw(st.sampled_from(sorted(valid_images)))
    path = fresh(folder) / f"m.{name.split('-')[0].lower()}"
    path.write_bytes(mutate(valid_images[name], edit, protect=4))  # keep the signature: reach the decoder
    read_image(path)


SIGNATURES = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"BM", b"GIF89a", b"II*\x00", b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b""]


@fuzz(100)
@given(signature=st.sampled_from(SIGNATURES), data=st.binary(max_size=512))
def test_images_random_bytes(folder, signature, data):
    path = fresh(folder) / "r.png"
    path.write_bytes(signature + data)
    read_image(path)


def _png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header that claims ``width``×``height``, with a tiny body that is not
    compressed data: no claimed size decodes. (A body of 1,000 compressed zero bytes decoded into
    a real image for small claims, e.g. a blank 28×28 that My digits rightly keeps, and the fuzz
    failed when it drew one.)"""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"not zlib data"
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )


@pytest.mark.parametrize("size", [(100_000, 100_000), (2**31 - 1, 2**31 - 1), (1, 200_000_000), (9000, 9000)])
def test_images_claiming_huge_dimensions_are_refused_before_decoding(tmp_path, size):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_claiming(*size))
    with pytest.raises(DataError, match=r"huge\.png: (too many pixels to open safely|not a readable image)"):
        load_digit_image(path)


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "BMP"])
def test_decompression_bombs_of_other_formats(tmp_path, fmt):
    """Big blank pictures that compress to little: refused from their header."""
    from mnist_desktop.model.preprocess import MAX_IMAGE_PIXELS

    side = int(MAX_IMAGE_PIXELS**0.5) + 8
    path = tmp_path / f"bomb.{fmt.lower()}"
    Image.new("1" if fmt != "GIF" else "P", (side, side), 0).save(path, fmt, **({"compression": "group4"} if fmt == "TIFF" else {}))
    if path.stat().st_size > 64 * 2**20:
        pytest.skip("this format does not compress a blank picture")
    with pytest.raises(DataError, match="too many pixels"):
        load_digit_image(path)


# ---------------------------------------------------------------- My digits folders and zips

# JSON of any shape, nested up to far past the parser's recursion limit.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=20,
)


def _my_digits_folder(folder: Path, count: int = 2):
    from mnist_desktop.model import MyDigits

    where = fresh(folder)
    digits = MyDigits(where)
    for k in range(count):
        drawing = np.zeros((60, 60), np.uint8)
        drawing[10:50, 20 + 5 * k : 30 + 5 * k] = 255
        digits.add(drawing, k)
    return where, digits.ids()


@fuzz(30)
@given(value=json_values, depth=st.integers(0, 200_000), opener=st.sampled_from(["[", '{"a":']))
def test_my_digits_index_of_any_json_and_any_depth(folder, value, depth, opener):
    """Whatever the index holds, nested however deep: the folder opens, the digits come back from their files."""
    from mnist_desktop.model import MyDigits

    where, ids = _my_digits_folder(folder)
    text = opener * depth + json.dumps(value) + ("]" if opener == "[" else "}") * depth
    (where / "index.json").write_text(text)
    digits = MyDigits(where)
    assert sorted(digits.ids()) == sorted(ids)  # recovered from the 28×28 files' labels
    if depth > 2000:
        assert any("damaged" in n for n in digits.notes)


@fuzz(40)
@given(
    width=st.integers(1, 2**31 - 1),
    height=st.integers(1, 2**31 - 1),
    tail=st.binary(max_size=200),
    where=st.sampled_from(["28x28", "drawings", "zip"]),
)
def test_my_digits_png_headers_claiming_any_size(folder, width, height, tail, where):
    """A PNG whose header claims any size (a header-only bomb): skipped with a note, or refused by
    the zip import, never decoded into memory."""
    from mnist_desktop.model import MyDigits

    folder_, ids = _my_digits_folder(folder)
    bomb = _png_claiming(width, height) + tail
    if where == "zip":
        archive = folder_ / "in.zip"
        ident = "d" * 32
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr(
                "index.json", json.dumps({"format": "mnist-desktop-my-digits", "version": 1, "digits": [{"id": ident, "label": 3}]})
            )
            zf.writestr(f"drawings/{ident}.png", bomb)
        digits = MyDigits(folder_)
        refused(lambda: digits.import_zip(archive), archive)
        assert sorted(digits.ids()) == sorted(ids)
        return
    (folder_ / where / f"{ids[0]}.png").write_bytes(bomb)
    digits = MyDigits(folder_)
    if where == "28x28":
        assert digits.ids() == ids[1:] and any(ids[0] in n for n in digits.notes)
    else:
        assert digits.ids() == ids
        refused(lambda: digits.drawing(ids[0]), folder_ / where / f"{ids[0]}.png")


# ---------------------------------------------------------------- longer runs


@pytest.mark.slow
def test_long_fuzz(tmp_path):
    """Every property above again with 10× the examples, in a fresh process (under a minute)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, MNIST_DESKTOP_FUZZ_FACTOR="10", QT_QPA_PLATFORM="offscreen")
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider", __file__],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=Path(__file__).parents[1],
    )
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
