"""The image readers under any input: arrays of any shape, content, layout and dtype, and files.

``to_mnist``, ``read_number``, the predictors' ``predict`` / ``is_digit`` and the command line's
``predict`` and ``read`` (the same path as the window's Open image: ``load_digit_image``) are
fed odd shapes (1×1, 1×N, N×1, tall, wide, up to 3000 pixels a side), blank, full, one lit
pixel, checkerboards, noise, views (transposed, reversed, strided, read-only), wrong dtypes
(floats with NaN, bool, int64, objects) and files: empty, truncated, text named .png, 16-bit,
palette and alpha images, headers claiming huge sizes. Each input gives a valid result
(probabilities finite and summing to 1, boxes inside the image) or one of the project's clear
errors (ValueError, EmptyImageError, DataError), on one line.

Two halves: a fixed corpus of every odd shape × every pattern (and of the odd files), which
Hypothesis at a few dozen examples would rarely draw, then Hypothesis' own mixes of them.
Deterministic (``derandomize``); ``MNIST_DESKTOP_FUZZ_FACTOR=10`` runs ten times the examples.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from PIL import Image  # noqa: E402

from mnist_desktop.cli import main  # noqa: E402
from mnist_desktop.model import EmptyImageError, Predictor, read_number, to_mnist  # noqa: E402
from mnist_desktop.model.numpy_forward import NumpyPredictor  # noqa: E402

FACTOR = int(os.environ.get("MNIST_DESKTOP_FUZZ_FACTOR", "1"))


def fuzz(examples: int):
    return settings(
        max_examples=examples * FACTOR,
        deadline=None,
        derandomize=True,  # the same examples every run: CI cannot flake
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )


@pytest.fixture(scope="module")
def predictors():
    """Both predictors, torch on one thread: one image's pass took 85 ms instead of 1 on two
    threads of a busy two-core machine (its threads wait for each other), most of these tests' time."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {"torch": Predictor.default(), "numpy": NumpyPredictor.default()}
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- arrays

PATTERNS = ["zeros", "full", "pixel", "corner", "checker", "noise", "sparse", "block", "stripes", "line"]
ODD_SHAPES = [(1, 1), (1, 3000), (3000, 1), (2, 2), (3, 3000), (3000, 2), (28, 28), (40, 1000), (1000, 40), (600, 600)]
LAYOUTS = ["plain", "transposed", "reversed", "strided", "fortran", "read-only"]


def pattern(name: str, h: int, w: int, value: int = 255, seed: int = 0, where=(0.5, 0.5), step: int = 3) -> np.ndarray:
    """A uint8 ``(h, w)`` array holding ``name``'s pattern of ``value``."""
    rng = np.random.default_rng(seed)
    y, x = min(h - 1, int(where[0] * h)), min(w - 1, int(where[1] * w))
    a = np.zeros((h, w), np.uint8)
    if name == "full":
        a[:] = value
    elif name == "pixel":
        a[y, x] = value
    elif name == "corner":
        a[-1, -1] = value
    elif name == "checker":
        a[((np.arange(h)[:, None] // (step // 3 + 1) + np.arange(w) // (step // 3 + 1)) % 2) == 1] = value
    elif name == "noise":
        a[:] = rng.integers(0, 256, (h, w))
    elif name == "sparse":
        a[rng.random((h, w)) < 0.01] = value
    elif name == "block":
        a[y : y + 1 + h // 3, x : x + 1 + w // 5] = value
    elif name == "stripes":
        a[:, ::step] = value
    elif name == "line":
        a[y] = value
    return a


def laid_out(a: np.ndarray, layout: str) -> np.ndarray:
    """``a`` as a view or copy of another layout (its shape may change: any shape will do)."""
    if layout == "transposed":
        return a.T
    if layout == "reversed":
        return a[::-1, ::-1]
    if layout == "strided" and min(a.shape) > 1:
        return a[::2, 1::2]
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "read-only":
        a = a.copy()
        a.flags.writeable = False
    return a


def corpus(name: str):
    """Every odd shape of pattern ``name``, in turn plain and in each other layout."""
    for i, (h, w) in enumerate(ODD_SHAPES):
        yield laid_out(pattern(name, h, w, seed=i), LAYOUTS[i % len(LAYOUTS)])


@st.composite
def canvases(draw, max_pixels: int = 2_000_000) -> np.ndarray:
    """A uint8 2-D array: any pattern, shape, value and layout."""
    side = st.one_of(st.integers(1, 40), st.sampled_from([1, 2, 3, 28, 97, 300, 1000, 3000]))
    h, w = draw(st.tuples(side, side).filter(lambda s: s[0] * s[1] <= max_pixels))
    where = draw(st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)))
    a = pattern(
        draw(st.sampled_from(PATTERNS)),
        h,
        w,
        value=draw(st.integers(1, 255)),
        seed=draw(st.integers(0, 2**32 - 1)),
        where=where,
        step=draw(st.integers(1, 9)),
    )
    return laid_out(a, draw(st.sampled_from(LAYOUTS)))


def one_line(error: BaseException) -> None:
    text = str(error)
    assert text and "\n" not in text and "Traceback" not in text, text


def check_probabilities(p, classes) -> None:
    p = np.asarray(p, dtype=np.float64)
    assert p.shape == (len(classes),) and np.isfinite(p).all() and (p >= 0).all(), p
    assert abs(p.sum() - 1) < 1e-4, p.sum()


def check_to_mnist_and_predict(predictors, image: np.ndarray) -> None:
    """Blank: EmptyImageError. Any ink: 28×28 in [0, 1] peaking at 1 with the ink in a 20×20
    box, which both predictors read as finite probabilities summing to 1 (the numpy twin is
    what the command line's predict uses)."""
    before = image.copy()
    try:
        x = to_mnist(image)
    except EmptyImageError as e:
        one_line(e)
        assert not image.any()
        return
    np.testing.assert_array_equal(image, before)  # the input is not changed
    assert image.any()
    assert x.shape == (28, 28) and x.dtype == np.float32 and np.isfinite(x).all()
    assert x.min() >= 0 and x.max() == 1
    rows, cols = np.flatnonzero(x.any(axis=1)), np.flatnonzero(x.any(axis=0))
    assert rows[-1] - rows[0] < 20 and cols[-1] - cols[0] < 20
    p, digit = predictors["numpy"].predict_checked(x)
    check_probabilities(p, predictors["numpy"].classes)
    predictor = predictors["torch"]
    p, digit = predictor.predict_checked(x)
    check_probabilities(p, predictor.classes)
    np.testing.assert_allclose(predictor.predict(x), p, atol=1e-6)
    assert predictor.is_digit(x) == digit and isinstance(digit, bool)


def check_read_number(predictor, image: np.ndarray) -> None:
    """A reading whose boxes hold ink inside the image, left to right; EmptyImageError for a
    blank; or the clear refusal of noise ("too many separate marks")."""
    try:
        reading = read_number(image, predictor)
    except EmptyImageError as e:
        one_line(e)
        assert not image.any()
        return
    except ValueError as e:
        one_line(e)
        assert "separate marks: too many to read as a number" in str(e), e
        return
    h, w = image.shape
    assert reading.digits, "ink, yet no digit"
    centres = [(d.box[0] + d.box[2]) / 2 for d in reading.digits]
    assert centres == sorted(centres)
    assert reading.text == "".join(str(d.label) for d in reading.digits)
    for d in reading.digits:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (d.box, image.shape)
        assert image[y0:y1, x0:x1].any()  # the box holds ink
        check_probabilities(d.probabilities, predictor.classes)
        assert d.label == predictor.classes[int(np.argmax(d.probabilities))] and isinstance(d.is_digit, bool)
        assert d.x28.shape == (28, 28) and np.isfinite(d.x28).all()


@pytest.mark.parametrize("name", PATTERNS)
def test_to_mnist_and_predict_of_every_odd_shape(predictors, name):
    for image in corpus(name):
        check_to_mnist_and_predict(predictors, image)


@pytest.mark.parametrize("name", PATTERNS)
def test_read_number_of_every_odd_shape(predictors, name):
    for image in corpus(name):
        check_read_number(predictors["torch"], image)


@fuzz(100)
@given(image=canvases())
def test_to_mnist_and_predict_of_any_uint8_canvas(predictors, image):
    check_to_mnist_and_predict(predictors, image)


@fuzz(60)
@given(image=canvases())
def test_read_number_of_any_uint8_canvas(predictors, image):
    check_read_number(predictors["torch"], image)


WRONG = ["float64", "float32", "float16", "nan", "bool", "int64", "int8", "uint16", "object", "complex"]
WRONG += ["rgb", "one-channel", "stack", "1-D", "0-D", "list"]


def wrongly(image: np.ndarray, how: str):
    if how == "nan":
        out = image.astype(np.float64)
        out.flat[0] = np.nan
        return out
    if how == "rgb":
        return np.stack([image] * 3, axis=-1)
    if how == "one-channel":
        return image[..., None]
    if how == "stack":
        return image[None]
    if how == "1-D":
        return image.ravel()
    if how == "0-D":
        return image[0, 0]
    if how == "list":
        return image.tolist()
    return image.astype({"complex": np.complex64, "object": object}.get(how, how))


@fuzz(60)
@given(image=canvases(max_pixels=20_000), how=st.sampled_from(WRONG))
def test_images_of_a_wrong_dtype_or_shape_are_refused_in_one_line(predictors, image, how):
    """Not a 2-D uint8 array: ValueError saying which ("2-D", "uint8"), from both readers."""
    bad = wrongly(image, how)
    for read in (to_mnist, lambda x: read_number(x, predictors["torch"])):
        with pytest.raises(ValueError, match="2-D|uint8") as info:
            read(bad)
        one_line(info.value)


@fuzz(100)
@given(
    x=st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.uint8, np.bool_]).flatmap(
        lambda dtype: hnp.arrays(dtype, st.sampled_from([(28, 28), (28, 28), (28, 28), (28, 27), (1, 28, 28), (784,)]))
    ),
    view=st.sampled_from(["plain", "transposed", "reversed"]),
)
def test_predict_and_is_digit_of_any_28x28_array(predictors, x, view):
    """Any 28×28 array of numbers is read as finite probabilities, or refused in one line:
    another shape, NaN or infinity, or values so large (1e30 and more) that they overflow."""
    x = {"plain": x, "transposed": x.T, "reversed": x[::-1]}[view]
    values = x.astype(np.float64)
    sane = x.shape == (28, 28) and np.isfinite(values).all() and np.abs(values).max() < 1e30
    for predictor in predictors.values():
        for what in ("predict", "predict_checked", "is_digit"):
            try:
                answer = getattr(predictor, what)(x)
            except ValueError as e:
                one_line(e)
                assert not sane, (e, x)
                continue
            if what == "is_digit":
                assert isinstance(answer, bool)
            else:
                check_probabilities(answer[0] if what == "predict_checked" else answer, predictor.classes)


# ---------------------------------------------------------------- files, through the command line


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# PNG (colour type, bit depth) pairs the format allows
PNG_KINDS = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 8), (4, 8), (4, 16), (6, 8), (6, 16)]


def png_claiming(width: int, height: int, kind: tuple[int, int], body: bytes, end: bool = True, extra: bytes = b"") -> bytes:
    """A PNG whose header claims ``width``×``height`` with a real zlib stream of ``body``: a
    decompression bomb's header, a truncated picture, or (with the right body) a valid one."""
    ctype, depth = kind
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, 0))
    if ctype == 3:
        out += _chunk(b"PLTE", bytes(range(48)))
    out += extra + _chunk(b"IDAT", zlib.compress(body))
    return out + (_chunk(b"IEND", b"") if end else b"")


def png_rows(a: np.ndarray) -> bytes:
    """The scanlines of ``a`` (rows of big-endian samples), each with filter byte 0."""
    return b"".join(b"\x00" + row.tobytes() for row in a)


MODES = ["L", "1", "P", "P-transparent", "LA", "RGBA", "RGB", "I;16", "I;16-transparent", "I", "F", "F-nan", "CMYK"]
SAVE_AS = {"I": "TIFF", "F": "TIFF", "F-nan": "TIFF", "CMYK": "JPEG"}


def picture(values: np.ndarray, mode: str, dark_ink: bool) -> tuple[Image.Image, dict]:
    """``values`` (white ink on black) as a Pillow image of ``mode``, and the options to save it."""
    values = 255 - values if dark_ink else values
    if mode.startswith("I;16"):
        im = Image.fromarray(values.astype(np.uint16) * 257)
        return im, ({"transparency": int(values[0, 0]) * 257} if mode.endswith("transparent") else {})
    if mode == "I":
        return Image.fromarray(values.astype(np.int32) * 1000 - 70000), {}
    if mode.startswith("F"):
        f = values.astype(np.float32) / 255
        if mode == "F-nan":
            f[::3, ::2] = np.nan
        return Image.fromarray(f), {}
    if mode in ("LA", "RGBA"):  # the ink opaque, the paper transparent
        grey = np.full_like(values, 0 if dark_ink else 255)
        alpha = (255 - values) if dark_ink else values
        bands = [grey, alpha] if mode == "LA" else [grey, grey, grey, alpha]
        return Image.fromarray(np.stack(bands, axis=-1), mode), {}
    if mode.startswith("P"):
        im = Image.fromarray(values).convert("P")
        return im, ({"transparency": int(im.getpixel((0, 0)))} if mode.endswith("transparent") else {})
    return Image.fromarray(values).convert(mode), {}


def encoded(values: np.ndarray, mode: str, fmt: str, dark_ink: bool = False) -> tuple[bytes, str]:
    """``values`` saved in ``mode`` as ``fmt`` (or as PNG or TIFF where ``fmt`` cannot store it)."""
    im, options = picture(np.ascontiguousarray(values), mode, dark_ink)
    buf = io.BytesIO()
    try:
        im.save(buf, fmt, **options)
    except (OSError, ValueError, KeyError):
        buf, fmt = io.BytesIO(), "TIFF" if mode.startswith("F") or mode == "I" else "PNG"
        im.save(buf, fmt, **options)
    return buf.getvalue(), fmt


def _digit() -> np.ndarray:
    """A 1 with a flag, 60×40, white on black."""
    a = np.zeros((60, 40), np.uint8)
    a[8:52, 18:24] = 255
    a[8:16, 10:20] = 255
    return a


def _odd_files() -> dict[str, tuple[bytes, str | None]]:
    """name → (bytes, the start of the error every command gives, or None for an answer)."""
    digit = _digit()
    png = encoded(digit, "L", "PNG")[0]
    g16 = digit.astype(">u2") * 257
    rgba16 = np.stack([g16, g16, g16, np.full_like(g16, 65535)], axis=-1).astype(">u2")
    la16 = np.stack([g16, np.full_like(g16, 65535)], axis=-1).astype(">u2")
    blank_bomb = io.BytesIO()
    Image.new("1", (9000, 9000), 0).save(blank_bomb, "PNG")  # 81 M pixels in 10 KB
    frames = io.BytesIO()
    Image.fromarray(digit).convert("P").save(frames, "GIF", save_all=True, append_images=[Image.new("P", (40, 60))], loop=0)
    unreadable, not_ours = "not a readable image", "not an image this app reads"
    return {
        "empty.png": (b"", "the file is empty (0 bytes)"),
        "text.png": (b"a digit, honestly\n" * 20, not_ours),
        "png-header-only.png": (png[:8], not_ours),
        "truncated-in-header.png": (png[:20], unreadable),
        "truncated-in-data.png": (png[: len(png) // 2], unreadable),
        "truncated-end.png": (png[:-12], None),  # no IEND: the picture is whole
        "16-bit.png": (encoded(digit, "I;16", "PNG")[0], None),
        "16-bit-dark-ink.png": (encoded(digit, "I;16", "PNG", dark_ink=True)[0], None),
        "16-bit-transparent-paper.png": (encoded(digit, "I;16-transparent", "PNG", dark_ink=True)[0], None),
        "16-bit-rgba.png": (png_claiming(40, 60, (6, 16), png_rows(rgba16)), None),
        "16-bit-grey-alpha.png": (png_claiming(40, 60, (4, 16), png_rows(la16)), None),
        "palette.png": (encoded(digit, "P", "PNG")[0], None),
        "palette-transparent.png": (encoded(digit, "P-transparent", "PNG")[0], None),
        "palette-index-past-its-end.png": (png_claiming(40, 60, (3, 8), png_rows((digit > 0).astype(np.uint8) * 200)), "no digit found"),
        "grey-alpha.png": (encoded(digit, "LA", "PNG")[0], None),
        "rgba-ink-on-transparent.png": (encoded(digit, "RGBA", "PNG", dark_ink=True)[0], None),
        "all-transparent.png": (png_claiming(40, 60, (4, 8), png_rows(np.stack([digit, 0 * digit], axis=-1))), "no digit found"),
        "1x1.png": (encoded(np.full((1, 1), 255, np.uint8), "L", "PNG")[0], "no digit found"),
        "1x3000-dashes.png": (encoded(pattern("stripes", 1, 3000, step=50), "L", "PNG")[0], None),
        "3000x2.png": (encoded(pattern("block", 3000, 2), "L", "PNG")[0], None),
        "animated.gif": (frames.getvalue(), None),
        "float-with-nan.tif": (encoded(digit, "F-nan", "TIFF")[0], None),
        "claims-100000x100000.png": (png_claiming(100_000, 100_000, (0, 8), bytes(4096)), "too many pixels to open safely"),
        "claims-2147483647x1.png": (png_claiming(2**31 - 1, 1, (0, 1), bytes(64)), "too many pixels to open safely"),
        "claims-8192x8192-16-bit-rgba.png": (png_claiming(8192, 8192, (6, 16), bytes(4096)), unreadable),
        "blank-9000x9000.png": (blank_bomb.getvalue(), "too many pixels to open safely"),
        "dots.png": (encoded(255 * (np.indices((280, 600)) % 2 == 0).all(axis=0).astype(np.uint8), "L", "PNG")[0], None),
    }


ODD_FILES = _odd_files()
# where `read` says otherwise than `predict`: thousands of dots are no number
READ_ERRORS = {"dots.png": "42000 separate marks: too many to read as a number"}


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def command_result(command: str, path: Path) -> tuple[dict | None, str | None]:
    """``(its JSON answer, None)`` or ``(None, its one-line error)`` of ``mnist-desktop
    command path --json``, checked: an answer of finite probabilities summing to 1 (boxes inside
    the image), or one line on stderr naming the file; never a traceback."""
    code, out, err = run([command, str(path), "--json"])
    if code:
        assert code == 1 and out == "", (code, out)
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"mnist-desktop: error: {path}: "), err
        return None, lines[0].removeprefix(f"mnist-desktop: error: {path}: ")
    answer = json.loads(out)
    if command == "predict":
        top = [t["probability"] for t in answer["top"]]
        assert len(top) == 3 and isinstance(answer["is_digit"], bool)
        assert all(np.isfinite(top)) and all(0 <= p <= 1 for p in top) and top == sorted(top, reverse=True)
    else:
        width, height = answer["size"]
        assert answer["digits"] and answer["text"] == "".join(str(d["label"]) for d in answer["digits"])
        for d in answer["digits"]:
            x0, y0, x1, y1 = d["box"]
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, (d["box"], answer["size"])
            p = np.array(list(d["probabilities"].values()))
            assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-4
    return answer, None


@pytest.mark.parametrize("name", ODD_FILES)
def test_predict_and_read_commands_of_odd_files(tmp_path, name):
    data, error = ODD_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    for command in ("predict", "read"):
        answer, said = command_result(command, path)
        error = READ_ERRORS.get(name, error) if command == "read" else error
        if error is None:
            assert answer is not None, said
        else:
            assert said is not None and said.startswith(error), said


class File(tuple):
    """(a file name, its bytes, how it was made), with a short repr: Hypothesis prints a failing
    example, and the repr of 50 KB of bytes is a warning (an error here) that hides the failure."""

    def __repr__(self) -> str:
        return f"<{self[0]}: {self[2]}, {len(self[1])} bytes>"


@st.composite
def image_files(draw) -> File:
    """A picture of any canvas in any mode and format, cut or whole, or a PNG header claiming
    any size over a little real data."""
    if draw(st.integers(0, 4)) == 0:
        side = st.one_of(st.integers(1, 64), st.integers(1, 2**31 - 1), st.sampled_from([8192, 20_000, 65_535]))
        width, height, png_kind = draw(side), draw(side), draw(st.sampled_from(PNG_KINDS))
        body = bytes(draw(st.sampled_from([0, 1, 100, 4096])))
        end = draw(st.booleans())
        return File(("claims.png", png_claiming(width, height, png_kind, body, end), f"claims {width}×{height} {png_kind}"))
    mode = draw(st.sampled_from(MODES))
    fmt = SAVE_AS.get(mode) or draw(st.sampled_from(["PNG", "BMP", "GIF", "TIFF", "WEBP", "JPEG"]))
    canvas = draw(canvases(max_pixels=250_000))
    data, fmt = encoded(canvas, mode, fmt, draw(st.booleans()))
    how = f"{canvas.shape} {mode} {fmt}"
    if draw(st.booleans()):
        cut = draw(st.floats(0, 1, exclude_max=True))
        data, how = data[: int(cut * len(data))], f"{how} cut at {cut:.3f}"
    name = "digit.png" if draw(st.booleans()) else f"digit.{fmt.lower()}"  # a name need not say the format
    return File((name, data, how))


_counter = iter(range(10**9))


@fuzz(60)
@given(file=image_files())
def test_predict_and_read_commands_of_any_image_file(tmp_path, file):
    name, data, _ = file
    path = tmp_path / f"ex{next(_counter)}" / name
    path.parent.mkdir()
    path.write_bytes(data)
    for command in ("predict", "read"):
        command_result(command, path)
