"""``mnist-desktop read IMAGE``: a number in an image file, as text or JSON; bad input is one error line."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from mnist_desktop.cli import main
from mnist_desktop.model import Predictor, compose_number, load_digit_image, read_number


@pytest.fixture(scope="module")
def number():
    return compose_number(4, seed=21)


@pytest.mark.parametrize("invert", [False, True])
def test_read_json_in_either_polarity(tmp_path, capsys, number, invert):
    path = tmp_path / "number.png"
    Image.fromarray(255 - number.image if invert else number.image).save(path)
    assert main(["read", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = read_number(load_digit_image(path), Predictor.default())
    assert out["text"] == expected.text and len(expected.text) == 4
    assert out["size"] == [number.image.shape[1], number.image.shape[0]]
    assert [d["box"] for d in out["digits"]] == [list(d.box) for d in expected.digits]
    for d, e in zip(out["digits"], expected.digits):
        assert d["label"] == e.label and d["probability"] == pytest.approx(float(e.probabilities.max()))
        assert set(d["probabilities"]) == {str(c) for c in range(10)} and isinstance(d["is_digit"], bool)
    # the boxes are where the digits were written (less the faint edge load_digit_image takes for paper)
    for (x0, y0, x1, y1), (a0, b0, a1, b1) in zip([d["box"] for d in out["digits"]], number.boxes):
        assert a0 <= x0 < x1 <= a1 and b0 <= y0 < y1 <= b1 and (x1 - x0) * (y1 - y0) > 0.8 * (a1 - a0) * (b1 - b0)


def test_read_plain(tmp_path, capsys, number):
    path = tmp_path / "number.png"
    Image.fromarray(number.image).save(path)
    assert main(["read", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = read_number(load_digit_image(path), Predictor.default())
    assert lines[0] == expected.text == expected.marked and len(lines) == 1 + len(expected.digits)
    image = load_digit_image(path)
    for line, d in zip(lines[1:], expected.digits):
        x0, y0, x1, y1 = d.box  # x1 and y1 exclusive
        assert line.startswith(f"{d.label}  ") and "%" in line
        # the text's ranges are the first and last pixel ("x 10–50" took the exclusive end 50 in)
        shown = re.search(r"box x (\d+)–(\d+), y (\d+)–(\d+)", line).groups()
        first_x, last_x, first_y, last_y = map(int, shown)
        assert (first_x, last_x + 1, first_y, last_y + 1) == (x0, x1, y0, y1)
        ink = image[first_y : last_y + 1, first_x : last_x + 1]  # white on black, as compose_number draws
        assert ink[:, 0].max() > 0 and ink[:, -1].max() > 0 and ink[0].max() > 0 and ink[-1].max() > 0  # ink on every edge


def test_read_plain_marks_what_is_not_a_digit(tmp_path, capsys, number):
    """The number's line has "?" where a part is not a digit (the window's number too); its line
    below keeps the best guess. Here: the number, then a grid of lines to its right."""
    import numpy as np

    h, w = number.image.shape
    image = np.zeros((h, w + 220), np.uint8)
    image[:, :w] = number.image
    for k in range(5):
        image[60 + 30 * k : 66 + 30 * k, w + 40 : w + 200] = 255
        image[60:186, w + 40 + 35 * k : w + 46 + 35 * k] = 255
    path = tmp_path / "number-and-dot.png"
    Image.fromarray(image).save(path)
    assert main(["read", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = read_number(load_digit_image(path), Predictor.default())
    assert [d.is_digit for d in expected.digits] == [True] * 4 + [False]  # the case this checks
    assert lines[0] == number.text + "?" == expected.marked and expected.text[:4] == number.text
    assert lines[-1].startswith(f"{expected.digits[-1].label}  ") and lines[-1].endswith("(not a digit?)")


def test_read_with_another_model(tmp_path, capsys, number):
    path = tmp_path / "number.png"
    Image.fromarray(number.image).save(path)
    model = tmp_path / "m.safetensors"
    Predictor.default().save(model)
    assert main(["read", str(path), "--model", str(model), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["text"]) == 4


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: Image.new("L", (300, 100), 255).save(p), "no digit found"),
        (lambda p: p.write_bytes(b"not an image"), "not an image this app reads"),
        (None, "no such file"),
        # Dark dots on white paper, one every other pixel: 21,000 marks (it took minutes).
        (
            lambda p: Image.fromarray(np.where((np.indices((280, 600)) % 2 == 0).all(axis=0), 0, 255).astype(np.uint8)).save(p),
            "too many to read",
        ),
    ],
)
def test_read_errors_are_one_line(tmp_path, capsys, make, message):
    path = tmp_path / "x.png"
    if make is not None:
        make(path)
    assert main(["read", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mnist-desktop: error:") and message in err[0]
    # which file: the dots' "too many to read" did not say (found by the image readers' fuzz)
    assert err[0].startswith(f"mnist-desktop: error: {path}: "), err[0]


def test_read_with_a_missing_model_is_one_line(tmp_path, capsys, number):
    path = tmp_path / "number.png"
    Image.fromarray(number.image).save(path)
    assert main(["read", str(path), "--model", str(tmp_path / "none.safetensors")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mnist-desktop: error:")
