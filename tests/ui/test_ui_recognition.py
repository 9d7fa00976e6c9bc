"""The window's reading of real drawings: "not a digit", Number mode, the nearest training digits.

These use the bundled model (trained with outlier exposure): an untrained one is unsure of
everything, so it would call every drawing "not a digit"."""

import pytest
from PySide6.QtWidgets import QMessageBox
from ui_helpers import ONE, line, settle, stroke


@pytest.fixture(scope="module")
def bundled_predictor():
    from mnist_desktop.model import Predictor

    return Predictor.default()


@pytest.fixture
def bundled_window(qtbot, settings, bundled_predictor):
    from mnist_desktop.ui import MainWindow

    w = MainWindow(settings=settings, predictor=bundled_predictor)
    w.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def scribble():
    """A tight zigzag over the whole box, back and forth: ink no digit has."""
    xs = [0.2, 0.8] * 6
    points = [(x, 0.2 + 0.05 * i) for i, x in enumerate(xs)]
    return [p for a, b in zip(points, points[1:], strict=False) for p in line(a, b, 6)]


def test_not_a_digit_for_a_scribble_and_not_for_a_digit(bundled_window, qtbot):
    w = bundled_window
    label = w.prediction.not_a_digit
    assert label.objectName() == "not_a_digit"
    settle(w, qtbot)
    assert not label.isVisible()  # a blank canvas stays as it was

    stroke(w.canvas, scribble())
    settle(w, qtbot)
    qtbot.waitUntil(lambda: w.session.drawing.probabilities is not None)
    assert label.isVisible()
    assert w.prediction.digit.text() != "?"  # the best guess is still shown, greyed
    assert "best guess" in w.prediction.confidence.text()
    assert w.prediction.is_digit is False

    w.canvas.clear()
    stroke(w.canvas, ONE)
    settle(w, qtbot)
    assert not label.isVisible()
    assert w.prediction.digit.text() == "1"
    assert "sure" in w.prediction.confidence.text()
