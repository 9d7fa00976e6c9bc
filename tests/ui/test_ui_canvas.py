"""Drawing with mouse events: prediction, undo / redo / clear, images, shortcuts."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDoubleSpinBox
from ui_helpers import ONE, SEVEN_DOWN, SEVEN_TOP, settle, stroke

from mnist_desktop.model import to_mnist


def test_stroke_produces_prediction(window, qtbot):
    assert window.prediction.top_class is None  # empty canvas invites drawing
    assert "Draw" in window.prediction.confidence.text()
    with qtbot.waitSignal(window.predictionUpdated, timeout=5000):
        stroke(window.canvas, ONE)
    assert window.canvas.stroke_count() == 1
    settle(window, qtbot)
    image = window.canvas.image_array()
    assert image.dtype == np.uint8 and image.max() == 255
    expected = window.predictor.predict(to_mnist(image))
    assert window.prediction.top_class == window.predictor.classes[int(np.argmax(expected))]
    np.testing.assert_allclose(window.probabilities, expected, rtol=1e-5)
    np.testing.assert_allclose(window.prediction.bars.probabilities, expected, rtol=1e-5)
    assert len(window.prediction.bars.classes) == 10
    assert window.prediction.preview.pixmap() is not None and not window.prediction.preview.pixmap().isNull()


def test_live_prediction_during_stroke(window, qtbot):
    """The prediction updates while the stroke is still being drawn, not only on release."""
    from PySide6.QtWidgets import QApplication

    from mnist_desktop.ui.canvas import scripted_stroke

    c = window.canvas
    press, move, release = scripted_stroke(c, [(0.5, 0.2), (0.5, 0.7)])
    QApplication.sendEvent(c, press)
    with qtbot.waitSignal(window.predictionUpdated, timeout=5000):
        QApplication.sendEvent(c, move)
    assert window.prediction.top_class is not None
    assert c.stroke_count() == 0  # still drawing
    QApplication.sendEvent(c, release)
    assert c.stroke_count() == 1


def test_edited_fires_once_an_edit_is_whole_and_changed_at_every_move(window):
    """Number mode reads at once on ``edited`` (the pen lifted) and at intervals on ``changed``."""
    from PySide6.QtWidgets import QApplication

    from mnist_desktop.ui.canvas import scripted_stroke

    canvas, changed, edited = window.canvas, [], []
    canvas.changed.connect(lambda: changed.append(1))
    canvas.edited.connect(lambda: edited.append(1))
    *moving, lift = scripted_stroke(canvas, ONE)
    for event in moving:
        QApplication.sendEvent(canvas, event)
    assert len(changed) >= len(ONE) - 1 and edited == []  # the pen is still down
    QApplication.sendEvent(canvas, lift)
    assert edited == [1]
    for edit in (canvas.undo, canvas.redo, canvas.clear):
        edit()
    assert len(edited) == 4


def test_undo_redo_clear(window, qtbot):
    c = window.canvas
    stroke(c, SEVEN_TOP)
    one = c.image_array()
    stroke(c, SEVEN_DOWN)
    two = c.image_array()
    assert c.stroke_count() == 2 and (two != one).any()
    assert window.undo_action.isEnabled() and not window.redo_action.isEnabled()

    window.undo_action.trigger()
    assert c.stroke_count() == 1
    np.testing.assert_array_equal(c.image_array(), one)
    assert window.redo_action.isEnabled()
    window.redo_action.trigger()
    np.testing.assert_array_equal(c.image_array(), two)

    with qtbot.waitSignal(window.predictionUpdated, timeout=2000):
        window.clear_action.trigger()
    assert c.is_empty() and c.stroke_count() == 0
    assert window.prediction.top_class is None
    window.undo_action.trigger()  # clearing is undoable
    np.testing.assert_array_equal(c.image_array(), two)


def test_shortcuts(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    c = window.canvas
    stroke(c, SEVEN_TOP)
    stroke(c, SEVEN_DOWN)
    QTest.keySequence(window, QKeySequence(QKeySequence.StandardKey.Undo))
    assert c.stroke_count() == 1
    QTest.keySequence(window, QKeySequence(QKeySequence.StandardKey.Redo))
    assert c.stroke_count() == 2
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert c.is_empty()
    window.undo_action.trigger()
    QTest.keyClick(window, Qt.Key.Key_Delete)
    assert c.is_empty()


def test_escape_in_a_field_leaves_the_drawing_alone(window, qtbot):
    """Esc pressed to leave an edit (the learning rate here) is the field's, not Clear drawing's."""
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    c = window.canvas
    stroke(c, ONE)
    lr = window.findChild(QDoubleSpinBox, "lr")
    window.dock_manager.raise_("training")
    lr.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is lr)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert not c.is_empty()
    window.canvas.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    QTest.keyClick(window.canvas, Qt.Key.Key_Escape)  # elsewhere Esc still clears
    assert c.is_empty()


def test_a_message_about_the_drawing_goes_when_the_drawing_changes(window, qtbot):
    """ "Nothing to save: draw a digit first." said over a drawn digit was untrue: it goes at the
    first stroke. A message about something else stays its time."""
    bar = window.statusBar()
    assert window.save_my_digit(3) is None
    assert bar.currentMessage() == "Nothing to save: draw a digit first."
    stroke(window.canvas, ONE)
    assert bar.currentMessage() == ""
    bar.showMessage("Model saved.", 5000)
    stroke(window.canvas, SEVEN_TOP)
    assert bar.currentMessage() == "Model saved."


def test_eraser_removes_ink(window):
    c = window.canvas
    stroke(c, ONE)
    before = int(c.image_array().astype(int).sum())
    stroke(c, ONE, button=Qt.MouseButton.RightButton)  # the right button erases
    assert int(c.image_array().astype(int).sum()) < before // 10


def test_open_image(window, qtbot, tmp_path):
    # A dark 7 on white paper, like a scan: it lands white-on-black on the canvas.
    a = np.full((120, 120), 255, np.uint8)
    a[20:30, 30:90] = 0
    a[30:100, 70:80] = 0
    img = QImage(a.data, 120, 120, 120, QImage.Format.Format_Grayscale8).copy()
    path = tmp_path / "seven.png"
    assert img.save(str(path))
    with qtbot.waitSignals([window.canvas.imageLoaded, window.predictionUpdated], timeout=5000):
        window.canvas.open_image(str(path))
    drawn = window.canvas.image_array()
    assert drawn[0, 0] == 0 and drawn.max() > 200
    assert window.prediction.top_class is not None

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with qtbot.waitSignal(window.canvas.imageRejected, timeout=2000) as blocker:
        window.canvas.open_image(str(bad))
    assert "bad.png" in blocker.args[0]


def test_pictures_keep_their_aspect_ratio(window):
    wide = np.zeros((50, 200), np.uint8)
    wide[10:40, 20:180] = 255  # a 30 × 160 bar
    window.canvas.set_image(wide)
    drawn = window.canvas.image_array()
    rows, cols = np.flatnonzero(drawn.any(1)), np.flatnonzero(drawn.any(0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert abs(width / height - 160 / 30) < 0.5
    assert abs((rows[0] + rows[-1]) / 2 - 139.5) < 3  # centred vertically


def test_a_huge_picture_is_kept_at_canvas_resolution(window):
    from mnist_desktop.ui.canvas import PICTURE_SIDE, Picture

    c = window.canvas
    huge = np.zeros((3000, 4000), np.uint8)
    huge[500:2500, 1800:2200] = 255  # a 1
    c.set_image(huge)
    stored = c._items[-1]
    assert isinstance(stored, Picture) and stored.image.shape == (768, PICTURE_SIDE)
    small = np.zeros((300, 400), np.uint8)
    small[50:250, 180:220] = 255
    c.set_image(small)
    reference = c.image_array()
    c.undo()
    assert np.abs(c.image_array().astype(int) - reference).mean() < 2  # the same drawing, fewer pixels kept
    huge[:] = 0  # the caller's array is not the history
    c.redo()
    c.undo()
    assert c.image_array().max() == 255


def test_undo_history_of_pictures_is_bounded(window):
    from mnist_desktop.ui.canvas import MAX_HISTORY_BYTES, PICTURE_SIDE, Picture

    c = window.canvas
    for k in range(40):
        picture = np.zeros((PICTURE_SIDE, PICTURE_SIDE), np.uint8)
        picture[100:900, 20 * k : 20 * k + 100] = 255
        c.set_image(picture)
        if k % 2:
            c.clear()  # a Clear keeps the picture for undo: it counts too
    held = sum(i.image.nbytes for i in c._items + c._redo if isinstance(i, Picture))
    assert held <= MAX_HISTORY_BYTES
    assert c.is_empty()
    c.undo()  # the latest picture comes back
    assert c.image_array().any()
    undos = 0
    while c.can_undo():
        c.undo()
        undos += 1
    assert 10 <= undos < 80  # recent history kept, old history dropped


def test_a_large_image_is_decoded_off_the_gui_thread(window, qtbot, tmp_path, monkeypatch):
    import threading

    import mnist_desktop.model as engine

    threads = []
    real = engine.load_digit_image

    def spy(path):
        threads.append(threading.current_thread())
        return real(path)

    monkeypatch.setattr(engine, "load_digit_image", spy)
    a = np.full((3000, 3000), 255, np.uint8)
    a[600:2400, 1300:1700] = 0  # a 1
    path = tmp_path / "big.png"
    assert QImage(a.data, 3000, 3000, 3000, QImage.Format.Format_Grayscale8).copy().save(str(path))
    with qtbot.waitSignal(window.canvas.imageLoaded, timeout=20_000):
        window.canvas.open_image(str(path))
    assert threads and threads[0] is not threading.main_thread()
    assert max(window.canvas.image_array().shape) <= 1024
