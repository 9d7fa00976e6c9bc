"""The window as a new user meets it (issue #10): what a loaded picture looks like, the
inspector's first view, the plots' ranges, and the theme."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette
from ui_helpers import line, settle, stroke

from mnist_desktop.model import mnist_arrays


# ---------------------------------------------------------------------------- item 1: pictures
def screen_ink(canvas) -> np.ndarray:
    """How much ink a grab of the canvas shows, 0 (paper) to 1 (ink), as 28×28 cells."""
    r = canvas._square().toRect().adjusted(2, 2, -2, -2)  # inside the frame line
    grab = canvas.grab(r).toImage().scaled(28, 28, mode=Qt.TransformationMode.SmoothTransformation)
    grab = grab.convertToFormat(QImage.Format.Format_RGB32)
    rgb = np.frombuffer(grab.constBits(), np.uint8).reshape(28, grab.bytesPerLine() // 4, 4)[:, :28, :3].astype(float)
    lum = rgb.mean(axis=2)
    paper = np.mean(canvas.palette().color(QPalette.ColorRole.Base).getRgb()[:3])
    ink = np.mean(canvas.palette().color(QPalette.ColorRole.Text).getRgb()[:3])
    return np.clip((lum - paper) / (ink - paper), 0, 1)


def model_ink(canvas) -> np.ndarray:
    """What the model gets, 0 (black) to 1 (white ink), as 28×28 cells."""
    return canvas.image_array().reshape(28, 10, 28, 10).mean(axis=(1, 3)) / 255.0


def dark(canvas) -> None:
    pal = QPalette(canvas.palette())
    pal.setColor(QPalette.ColorRole.Base, QColor(30, 30, 30))
    pal.setColor(QPalette.ColorRole.Text, QColor(235, 235, 235))
    pal.setColor(QPalette.ColorRole.Window, QColor(45, 45, 45))
    canvas.setPalette(pal)


def check_put_on_canvas_looks_like_a_drawing(window, qtbot):
    c = window.canvas
    inspector = window.inspector
    inspector.show_sample("test", 4)  # a 4
    sample = mnist_arrays("test")[0][4]
    with qtbot.waitSignal(window.predictionUpdated, timeout=5000):
        inspector.canvas_button.click()
    seen = screen_ink(c)
    assert (seen < 0.2).mean() > 0.7, "a grab of the canvas must be mostly paper, not ink"
    # the user sees what the model gets: the same picture, the same amount of ink
    assert np.corrcoef(seen.ravel(), model_ink(c).ravel())[0, 1] > 0.95
    assert np.abs(seen - model_ink(c)).mean() < 0.05
    assert np.corrcoef(seen.ravel(), sample.ravel())[0, 1] > 0.9

    # erasing across it: the model's input and the screen lose the ink there, alike
    before = model_ink(c)
    band = (slice(13, 15), slice(4, 24))  # the eraser is 21 px = 2 cells wide
    assert before[band].max() > 0.5  # the 4 has ink across the middle
    stroke(c, line((0.1, 0.5), (0.9, 0.5), 30), button=Qt.MouseButton.RightButton)
    settle(window, qtbot)
    after, seen = model_ink(c), screen_ink(c)
    assert after[band].max() < 0.1 and seen[band].max() < 0.1
    assert np.corrcoef(seen.ravel(), after.ravel())[0, 1] > 0.95

    # drawing on it: new ink in both
    top = (slice(1, 3), slice(8, 20))
    assert after[top].max() < 0.1
    stroke(c, line((0.3, 0.07), (0.7, 0.07), 20))
    settle(window, qtbot)
    after, seen = model_ink(c), screen_ink(c)
    assert after[top].mean() > 0.5 and seen[top].mean() > 0.5
    assert np.abs(seen - after).mean() < 0.05


def test_put_on_canvas_looks_like_a_drawing_light(window, qtbot):
    check_put_on_canvas_looks_like_a_drawing(window, qtbot)


def test_put_on_canvas_looks_like_a_drawing_dark(window, qtbot):
    dark(window.canvas)
    assert window.canvas.palette().color(QPalette.ColorRole.Base).lightness() < 50
    check_put_on_canvas_looks_like_a_drawing(window, qtbot)
