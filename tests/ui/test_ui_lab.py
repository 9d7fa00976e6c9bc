"""The chapter-4 lab in the window: the preprocessing lab dock and the saliency overlay."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDockWidget, QToolButton, QWidget
from ui_helpers import ONE, SEVEN_DOWN, SEVEN_TOP, line, settle, stroke

from mnist_desktop.model import Predictor, preprocess_variants, to_mnist
from mnist_desktop.model.numpy_forward import NumpyPredictor

CORNER = line((0.08, 0.06), (0.08, 0.3))  # a small 1 in the top-left corner


@pytest.fixture(scope="module")
def bundled():
    return Predictor.default()


def lab(window):
    window.preprocess_lab  # noqa: B018 — built when asked for: its dock is behind Activations
    return window.findChild(QWidget, "preprocess_lab"), window.findChild(QDockWidget, "preprocess_lab_dock")


def test_the_lab_shows_every_recipe_live_and_only_while_on_screen(window, qtbot, bundled):
    window.set_predictor(bundled)
    panel, dock = lab(window)
    assert panel is window.preprocess_lab and dock is window.docks["preprocess_lab"]
    assert dock in window.tabifiedDockWidgets(window.docks["activations"])  # a tab at the bottom
    stroke(window.canvas, CORNER)
    settle(window, qtbot)  # classified: the lab was told, and neither computed nor scheduled anything behind its tab
    assert panel.updates == 0 and panel.results == {} and not panel._timer.isActive()

    dock.raise_()
    qtbot.waitUntil(lambda: len(panel.results) == 6, timeout=5000)
    expected = preprocess_variants(window.canvas.image_array())
    for name, (x, label, prob) in panel.results.items():
        np.testing.assert_array_equal(x, expected[name])
        p = bundled.predict(expected[name])
        assert label == int(np.argmax(p)) and prob == pytest.approx(float(p.max()), abs=1e-5)
        assert window.findChild(QWidget, f"preprocess_lab_{name}_prediction").text() == f"{label} · {100 * prob:.1f} %"
    np.testing.assert_array_equal(panel.results["mnist"][0], window.x28)  # what the model sees
    assert str(panel.results["mnist"][1]) == window.prediction.digit.text()

    # Live: the next stroke updates it (coalesced), and a cleared canvas empties it.
    before = panel.updates
    stroke(window.canvas, line((0.08, 0.06), (0.25, 0.06)))
    qtbot.waitUntil(lambda: panel.updates > before and np.array_equal(panel.results["mnist"][0], window.x28), timeout=5000)
    window.canvas.clear()
    qtbot.waitUntil(lambda: panel.results == {}, timeout=5000)
    assert "Draw a digit" in panel.status.text()

    # Hidden again (another tab raised): strokes cost nothing.
    window.docks["activations"].raise_()
    qtbot.waitUntil(lambda: not panel._on_screen, timeout=2000)
    count = panel.updates
    stroke(window.canvas, ONE)
    settle(window, qtbot)
    assert panel.updates == count and not panel._timer.isActive()


def test_the_lab_follows_the_active_model(window, qtbot, bundled):
    panel, dock = lab(window)
    dock.raise_()
    stroke(window.canvas, ONE)
    qtbot.waitUntil(lambda: len(panel.results) == 6, timeout=5000)
    window.set_predictor(bundled)
    x = panel.results["mnist"][0]
    qtbot.waitUntil(lambda: panel.results["mnist"][2] == pytest.approx(float(bundled.predict(x).max()), abs=1e-5), timeout=5000)


def bar_centre(bars, index) -> QPoint:
    row = bars.height() / len(bars.classes)
    return QPoint(bars.width() // 2, int((index + 0.5) * row))


def test_saliency_overlay_toggle_and_class_chosen_by_clicking_a_bar(window, qtbot, bundled):
    window.set_predictor(bundled)
    toggle = window.findChild(QToolButton, "saliency_toggle")
    assert toggle is not None and toggle.isEnabled() and not toggle.isChecked()
    stroke(window.canvas, SEVEN_TOP)
    stroke(window.canvas, SEVEN_DOWN)
    settle(window, qtbot)
    assert window.prediction.saliency is None and not window.inspector.saliency_overlay.isVisible()

    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.prediction.saliency is not None, timeout=5000)
    top = int(np.argmax(window.probabilities))
    np.testing.assert_array_equal(window.prediction.saliency, bundled.saliency(window.x28, top))
    assert window.prediction.saliency_class == bundled.classes[top]
    assert toggle.text() == f"Saliency: {bundled.classes[top]}"
    # The inspector shows the same overlay over the drawing's cells.
    window.docks["inspector"].raise_()
    qtbot.waitUntil(lambda: window.inspector.saliency_overlay.isVisible(), timeout=5000)
    np.testing.assert_array_equal(window.inspector.saliency_overlay.saliency, window.prediction.saliency)
    # Red where the ink pushes towards the class, on "what the model sees".
    s = window.prediction.saliency
    image = window.prediction.preview.pixmap().toImage()
    r, c = np.unravel_index(np.argmax(s), s.shape)
    red = image.pixelColor(int(c) * 4 + 1, int(r) * 4 + 1)
    assert red.red() > red.blue() + 40
    if s.min() < 0:
        r, c = np.unravel_index(np.argmin(s), s.shape)
        blue = image.pixelColor(int(c) * 4 + 1, int(r) * 4 + 1)
        assert blue.blue() > blue.red()

    # Another class: click its bar; clicking it again goes back to the top class.
    other = (top + 3) % 10
    qtbot.mouseClick(window.prediction.bars, Qt.MouseButton.LeftButton, pos=bar_centre(window.prediction.bars, other))
    qtbot.waitUntil(lambda: window.prediction.saliency_class == bundled.classes[other], timeout=5000)
    np.testing.assert_array_equal(window.prediction.saliency, bundled.saliency(window.x28, other))
    np.testing.assert_array_equal(window.inspector.saliency_overlay.saliency, window.prediction.saliency)
    qtbot.mouseClick(window.prediction.bars, Qt.MouseButton.LeftButton, pos=bar_centre(window.prediction.bars, other))
    qtbot.waitUntil(lambda: window.prediction.saliency_class == bundled.classes[top], timeout=5000)

    # Off: no overlay anywhere.
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.prediction.saliency is None, timeout=5000)
    assert not window.inspector.saliency_overlay.isVisible()
    # Clicking a bar turns it on, for that class.
    qtbot.mouseClick(window.prediction.bars, Qt.MouseButton.LeftButton, pos=bar_centre(window.prediction.bars, other))
    qtbot.waitUntil(lambda: window.prediction.saliency_class == bundled.classes[other], timeout=5000)
    assert toggle.isChecked()

    # A class chosen for one drawing is not kept for the next: after Clear, the new drawing's top class.
    window.clear_action.trigger()
    settle(window, qtbot)
    assert window.prediction.bars.selected is None
    stroke(window.canvas, ONE)
    qtbot.waitUntil(lambda: window.prediction.saliency is not None, timeout=5000)
    top = int(np.argmax(window.probabilities))
    qtbot.waitUntil(lambda: window.prediction.saliency_class == bundled.classes[top], timeout=5000)
    assert toggle.text() == f"Saliency: {bundled.classes[top]}"


def test_saliency_follows_the_drawing_a_frame_after_the_prediction(window, qtbot, bundled):
    window.set_predictor(bundled)
    window.prediction.saliency_toggle.setChecked(True)
    stroke(window.canvas, ONE)
    settle(window, qtbot)
    calls = []
    real = bundled.saliency
    window.predictor.saliency = lambda x28, k=None: calls.append(window.prediction.top_class) or real(x28, k)
    try:
        stroke(window.canvas, line((0.3, 0.25), (0.7, 0.25)))
        window.classify()  # the prediction is on the panel when classify returns; saliency waits for the next turn
        assert calls == [] and window.live._saliency_timer.isActive()
        assert window.prediction.top_class == bundled.classes[int(np.argmax(window.probabilities))]
        qtbot.waitUntil(lambda: len(calls) >= 1 and not window.live._saliency_timer.isActive(), timeout=5000)
        np.testing.assert_array_equal(window.prediction.saliency, real(window.x28, int(np.argmax(window.probabilities))))
    finally:
        del window.predictor.saliency
    window.canvas.clear()
    qtbot.waitUntil(lambda: window.prediction.saliency is None, timeout=5000)


def test_saliency_waits_for_torch_with_the_numpy_model(window, qtbot):
    window.prediction.saliency_toggle.setChecked(True)
    stroke(window.canvas, ONE)
    qtbot.waitUntil(lambda: window.prediction.saliency is not None, timeout=5000)
    window.set_predictor(NumpyPredictor.default())
    toggle = window.prediction.saliency_toggle
    assert not toggle.isEnabled() and "PyTorch" in toggle.statusTip()
    assert window.prediction.saliency is None and not window.inspector.saliency_overlay.isVisible()
    settle(window, qtbot)
    assert window.prediction.saliency is None and not window.live._saliency_timer.isActive()  # nothing computed, nothing failed
    window.previous_model()
    assert toggle.isEnabled()
    qtbot.waitUntil(lambda: window.prediction.saliency is not None, timeout=5000)


def test_an_off_centre_drawing_is_misread_only_without_preprocessing(window, qtbot, bundled):
    """The lab's lesson with MNIST digits drawn small in a corner: to_mnist reads them, the naive resize does not."""
    from mnist_desktop.model import load_mnist
    from mnist_desktop.model.drawings import place_on_canvas

    images, labels = load_mnist("test")
    drawn = [(place_on_canvas(images[i].numpy(), 90, 180, 10), int(labels[i])) for i in range(40)]
    mnist_right = [bundled.predict(to_mnist(c)).argmax() == y for c, y in drawn]
    naive_right = [bundled.predict(preprocess_variants(c)["naive"]).argmax() == y for c, y in drawn]
    assert np.mean(mnist_right) >= 0.9 and np.mean(naive_right) <= 0.5
    canvas, label = next(d for d, m, n in zip(drawn, mnist_right, naive_right) if m and not n)
    window.set_predictor(bundled)
    panel, dock = lab(window)
    dock.raise_()
    window.canvas.set_image(canvas)
    qtbot.waitUntil(lambda: len(panel.results) == 6 and np.array_equal(panel.results["mnist"][0], to_mnist(canvas)), timeout=5000)
    assert panel.results["mnist"][1] == label and panel.results["naive"][1] != label
    assert "Naive resize" in panel.status.text()
    assert panel.tiles["naive"].answer.styleSheet() and not panel.tiles["mnist"].answer.styleSheet()  # the misreading stands out


def test_the_saliency_toggle_is_enabled_once_torch_has_loaded(qtbot, settings):
    from PySide6.QtWidgets import QMessageBox

    from mnist_desktop.ui import MainWindow

    w = MainWindow(settings=settings, torch_ready=False)
    w.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        toggle = w.findChild(QToolButton, "saliency_toggle")
        assert isinstance(w.predictor, NumpyPredictor) and not toggle.isEnabled()
        qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
        assert not toggle.isChecked()
        with qtbot.waitSignal(w.torchReady, timeout=60000):
            w.load_torch_in_background()
        assert toggle.isEnabled()
        stroke(w.canvas, ONE)
        qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: w.prediction.saliency is not None, timeout=5000)
        np.testing.assert_array_equal(w.prediction.saliency, w.predictor.saliency(w.x28))
    finally:
        w.close()


def test_saliency_uses_the_weight_images_red_and_blue(qtbot):
    from mnist_desktop.ui.nudge import WeightPicker
    from mnist_desktop.ui.overlay import saliency_rgba
    from mnist_desktop.ui.theme import DIVERGING

    rgba = saliency_rgba(np.array([[2.0, -2.0, 0.0]]))
    assert rgba[0, 0, :3].tolist() == DIVERGING[-1].tolist() and rgba[0, 1, :3].tolist() == DIVERGING[0].tolist()
    # A weight image's strongest positive and negative weights: the same two colours.
    picker = WeightPicker()
    qtbot.addWidget(picker)
    w = np.zeros(784)
    w[0], w[1] = 1.0, -1.0
    picker.set_weights(w)
    red, blue = picker._image.pixelColor(0, 0), picker._image.pixelColor(1, 0)
    assert (red.red(), red.green(), red.blue()) == tuple(rgba[0, 0, :3])
    assert (blue.red(), blue.green(), blue.blue()) == tuple(rgba[0, 1, :3])
