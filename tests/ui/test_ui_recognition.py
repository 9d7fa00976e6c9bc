"""The window's reading of real drawings: "not a digit", Number mode, the nearest training digits.

These use the bundled model (trained with outlier exposure): an untrained one is unsure of
everything, so it would call every drawing "not a digit"."""

import numpy as np
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


def test_number_mode_reads_a_composed_number_and_boxes_its_digits(bundled_window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QToolButton

    from mnist_desktop.model.drawings import compose_number

    w = bundled_window
    stroke(w.canvas, ONE)  # a digit on the square canvas, to find again after Number mode
    settle(w, qtbot)
    square = w.canvas.image_array()
    action = w.findChild(type(w.number_mode_action), "number_mode")
    assert action is w.number_mode_action and action.isCheckable()
    reading = w.findChild(type(w.prediction.digit), "number_reading")

    action.trigger()
    assert action.isChecked() and w.number_panel.isVisible() and not w.prediction.isVisible()
    assert w.number_panel.hint.isVisible() and not reading.isVisible()  # the number's place says what to do
    assert w.canvas.aspect > 1 and w.canvas.image_array().shape[1] > w.canvas.image_array().shape[0]
    assert not w.canvas.image_array().any()  # the wide canvas starts blank

    number = compose_number(4, seed=3)
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(number.image)
    assert reading.text() == number.text and reading.isVisible() and not w.number_panel.hint.isVisible()
    assert len(w.canvas.boxes) == 4
    assert [caption for _, caption in w.canvas.boxes] == list(number.text)
    # Each digit: its probabilities on click, and it goes to My digits with its label.
    buttons = w.number_panel.findChildren(QToolButton)
    assert [b.text() for b in buttons if b.objectName().startswith("number_digit_")] == list(number.text)
    assert w.save_my_digit(3) is None  # no digit chosen yet: the status bar says how
    assert "click a digit of the number first" in w.statusBar().currentMessage().lower()
    w.number_panel.digit_buttons[2].click()
    assert w.statusBar().currentMessage() == ""  # and takes it back once one is
    assert w.number_panel.bars.probabilities.argmax() == int(number.text[2])
    assert w.canvas.selected_box == 2
    saved = []
    monkeypatch.setattr(w.my_digits, "add", lambda drawing, label: saved.append((drawing, label)) or "id")
    w.number_panel.saveRequested.emit(1, int(number.text[1]))
    assert len(saved) == 1 and saved[0][1] == int(number.text[1]) and saved[0][0].any()
    x0, y0, x1, y1 = w.number_mode.reading.digits[1].box
    assert saved[0][0].shape[1] < w.canvas.image_array().shape[1] and saved[0][0].shape[1] >= x1 - x0  # the digit, not the number
    w.save_my_digit(7)  # "Not right? It is: 7" (Ctrl+Alt+7) saves the selected digit
    assert saved[1][1] == 7 and saved[1][0].shape[1] < w.canvas.image_array().shape[1]

    action.trigger()  # back: the square canvas with its digit, and the prediction
    assert not action.isChecked() and not reading.isVisible() and w.prediction.isVisible()
    assert w.canvas.aspect == 1 and not w.canvas.boxes
    assert (w.canvas.image_array() == square).all()
    assert w.prediction.digit.text() == "1"


def test_number_mode_hands_the_selected_digit_to_the_panels_that_look_inside(bundled_window, qtbot):
    """In Number mode the activations (and every panel that follows the session's drawing) show
    the digit clicked, not the drawing from before Number mode; none selected: no drawing; back
    to one digit: the canvas again."""
    from mnist_desktop.model import to_mnist
    from mnist_desktop.model.drawings import compose_number

    w = bundled_window
    w.docks["inspector"].raise_()
    w.prediction.saliency_toggle.setChecked(True)
    stroke(w.canvas, ONE)
    settle(w, qtbot)
    before = w.session.drawing.x28
    assert before is not None
    qtbot.waitUntil(lambda: w.inspector.saliency is not None, timeout=5000)  # the one digit's tint
    handed = []
    w.session.drawingChanged.connect(lambda d: handed.append(d))
    w.number_mode_action.trigger()
    assert w.session.drawing.x28 is None  # not the one-digit drawing any more
    assert w.inspector.saliency is None  # nor its saliency
    number = compose_number(4, seed=3)
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(number.image)
    assert w.session.drawing.x28 is None  # no digit selected yet
    w.docks["inspector"].raise_()
    assert w.inspector.stats.text() == "No image: click a digit of the number (Number mode)."
    lab = w.preprocess_lab
    w.docks["preprocess_lab"].raise_()
    qtbot.waitUntil(lambda: lab.status.text() == "Click a digit of the number (Number mode).", timeout=5000)
    assert lab.results == {}
    w.number_panel.digit_buttons[2].click()
    digit = w.number_mode.reading.digits[2]
    assert w.session.drawing.x28 is digit.x28 and w.session.drawing.probabilities is digit.probabilities
    crop = w.session.drawing.image
    assert crop.shape[1] < w.canvas.image_array().shape[1]  # the digit cut from the canvas
    np.testing.assert_allclose(to_mnist(crop), digit.x28, atol=1e-6)  # what the model read of it
    np.testing.assert_array_equal(w.activations._last_input, digit.x28)  # the activations follow
    qtbot.waitUntil(lambda: "mnist" in lab.results, timeout=5000)
    np.testing.assert_allclose(lab.results["mnist"][0], digit.x28, atol=1e-6)  # the digit's preprocessing
    w.docks["inspector"].raise_()
    np.testing.assert_array_equal(w.inspector._x28, digit.x28)
    assert w.inspector._drawing.canvas_shape == crop.shape
    assert "digit 3 of the number" in w.inspector.sample_info.text()
    assert f"digit 3 cut from the canvas <b>{crop.shape}</b>".replace(" ", "") in w.inspector.shapes.text().replace(" ", "")
    # A new reading keeps the selection: the panels show that digit of the new drawing.
    other = compose_number(4, seed=4)
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(other.image)
    assert w.session.drawing.x28 is w.number_mode.reading.digits[2].x28
    w.number_mode_action.trigger()  # back to one digit: the canvas's own drawing
    np.testing.assert_array_equal(w.session.drawing.x28, before)
    assert handed[-1] is w.session.drawing
    qtbot.waitUntil(lambda: w.inspector.saliency is not None, timeout=5000)  # and its tint again


def test_panels_built_or_rebuilt_in_number_mode_show_no_stale_drawing(bundled_window, qtbot):
    """Found by a review: a Tensor inspector first opened in Number mode copied the one-digit
    drawing's saliency tint and said "draw a digit"; a model change in Number mode with an empty
    canvas showed the Activations' placeholder tiles (black squares) again."""
    from mnist_desktop.model import Predictor

    w = bundled_window
    assert "inspector" not in w.dock_manager.panels  # built when first shown
    w.prediction.saliency_toggle.setChecked(True)
    stroke(w.canvas, ONE)
    settle(w, qtbot)
    qtbot.waitUntil(lambda: w.prediction.saliency is not None, timeout=5000)
    w.number_mode_action.trigger()
    w.docks["inspector"].raise_()
    assert w.inspector.saliency is None
    assert w.inspector.stats.text() == "No image: click a digit of the number (Number mode)."
    w.docks["activations"].raise_()
    qtbot.waitUntil(lambda: not any(v.image.isVisible() for v in w.activations.panels.values()), timeout=5000)
    w.set_predictor(Predictor.default())  # another model while the wide canvas is empty
    settle(w, qtbot)
    assert not any(v.image.isVisible() for v in w.activations.panels.values())
    w.number_mode_action.trigger()  # back: the tint is the one digit's again
    qtbot.waitUntil(lambda: w.inspector.saliency is not None and w.prediction.saliency is not None, timeout=5000)


def test_number_mode_reads_in_a_worker_and_shows_only_the_latest_drawing(bundled_window, qtbot, monkeypatch):
    """The number is read off the GUI thread, one reading at a time: a drawing changed while one
    runs is read next and the older drawing's reading is never shown; closing mid-read is clean."""
    import threading

    from mnist_desktop.model.drawings import compose_number
    from mnist_desktop.ui import number_mode

    w = bundled_window
    real, gate, entered, threads, read = number_mode.engine.read_number, threading.Event(), threading.Event(), [], []

    def gated(image, predictor):
        threads.append(threading.current_thread())
        entered.set()
        assert gate.wait(10)
        reading = real(image, predictor)
        read.append(reading.text)
        return reading

    monkeypatch.setattr(number_mode.engine, "read_number", gated)
    w.number_mode_action.trigger()
    first, second = compose_number(3, seed=1), compose_number(5, seed=2)
    assert first.text != second.text
    shown = []
    w.number_mode.readingUpdated.connect(lambda: shown.append(w.number_panel.number.text()))

    w.canvas.set_image(first.image)
    qtbot.waitUntil(entered.is_set, timeout=5000)  # the first drawing is being read, in its worker
    assert threads[0] is not threading.main_thread() and w.number_mode.is_reading()
    w.canvas.set_image(second.image)  # changed meanwhile: waits for the running reading
    qtbot.waitUntil(lambda: w.number_mode._read_again, timeout=5000)
    assert len(threads) == 1  # one reading at a time
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=10000):
        gate.set()
    assert read == [first.text, second.text]  # both read, in order...
    assert shown == [second.text]  # ...and only the latest shown: the first reading was dropped
    assert w.number_panel.number.text() == second.text and len(w.canvas.boxes) == 5
    assert all(t is not threading.main_thread() for t in threads)
    qtbot.waitUntil(lambda: w.number_mode.threads.running() == 0, timeout=5000)

    # Closing while a reading runs: it is waited for, and not shown.
    gate.clear()
    entered.clear()
    w.canvas.set_image(first.image)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    threading.Timer(0.2, gate.set).start()  # the reading ends while close() waits for it
    w.close()
    assert w.number_mode.threads.running() == 0 and not w.number_mode.is_reading()
    qtbot.wait(50)  # its queued finish, if any, arrives after the close
    assert w.number_panel.number.text() == second.text and shown == [second.text]


def test_the_number_says_question_mark_where_a_part_is_not_a_digit(qtbot):
    """The big number, the buttons and the tooltip agree: "?" where a part is not a digit (the
    engine's text keeps the best guess), the best guess on its button."""
    import numpy as np

    from mnist_desktop.model.numbers import DigitReading, NumberReading
    from mnist_desktop.ui.number_mode import NumberPanel

    panel = NumberPanel()
    qtbot.addWidget(panel)
    p = np.full(10, 0.01, np.float32)
    digits = tuple(
        DigitReading((10 * i, 0, 10 * i + 8, 20), label, np.where(np.arange(10) == label, 0.91, p), ok, np.zeros((28, 28), np.float32))
        for i, (label, ok) in enumerate([(2, True), (7, False), (4, True)])
    )
    panel.show_reading(NumberReading("274", digits))
    assert panel.number.text() == "2?4" and "'?': not a digit" in panel.number.toolTip()
    assert [b.text() for b in panel.digit_buttons] == ["2", "7?", "4"]
    assert "best guess 7" in panel.digit_buttons[1].toolTip()


def _box_centre(canvas, box):
    """The widget position of the centre of ``box`` (model-image pixels)."""
    from PySide6.QtCore import QPoint

    from mnist_desktop.ui.canvas import MODEL_SIZE

    r = canvas._square()
    x0, y0, x1, y1 = box
    to = lambda v, o: o + v / MODEL_SIZE * r.height()  # noqa: E731
    return QPoint(round(to((x0 + x1) / 2, r.x())), round(to((y0 + y1) / 2, r.y())))


def test_number_mode_says_why_a_reading_failed_and_a_good_one_takes_it_away(bundled_window, qtbot, monkeypatch):
    from mnist_desktop.model.drawings import compose_number
    from mnist_desktop.ui import number_mode

    w = bundled_window
    real = number_mode.engine.read_number

    def broken(image, predictor):
        raise RuntimeError("the model's weights are not finite")

    monkeypatch.setattr(number_mode.engine, "read_number", broken)
    w.number_mode_action.trigger()
    number = compose_number(3, seed=4)
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(number.image)
    message = w.number_panel.findChild(type(w.number_panel.hint), "number_message")
    assert message.isVisible() and "Could not read the canvas" in message.text() and "not finite" in message.text()
    assert "\n" not in message.text() and w.number_panel.number.text() == "" and not w.canvas.boxes
    assert not w.number_panel.hint.isVisible()  # the message, not "write a number…"

    monkeypatch.setattr(number_mode.engine, "read_number", real)
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(compose_number(3, seed=5).image)
    assert not message.isVisible() and w.number_panel.number.text() == compose_number(3, seed=5).text


def test_number_mode_drops_the_previous_models_reading_at_a_model_change(bundled_window, qtbot):
    """A reading holds its model's probabilities: after a change to a model with fewer classes,
    hovering a box must not read them with the new classes (it raised IndexError)."""
    import torch

    from mnist_desktop.model import Predictor, build_model
    from mnist_desktop.model.drawings import compose_number

    w = bundled_window
    w.number_mode_action.trigger()
    number = compose_number(4, seed=3)
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(number.image)
    box = w.number_mode.reading.digits[3].box
    centre = _box_centre(w.canvas, box)
    assert w.number_mode.box_tooltip(centre).startswith(f"Digit 4, read {number.text[3]} ({number.text[3]}: ")
    w.number_panel.digit_buttons[3].click()

    torch.manual_seed(0)
    meta = {
        "architecture": "mlp",
        "arch_config": {"hidden": 16},
        "task": "3v7",
        "classes": [3, 7],
        "output": "softmax",
        "normalization": {"mean": 0.1307, "std": 0.3081},
    }
    w.session.set_model(Predictor(build_model("mlp", 2, hidden=16), meta))
    # At once, before the new model's reading arrives: nothing of the old reading is left to hover.
    assert w.number_mode.box_tooltip(centre) is None and w.number_panel.number.text() == ""
    assert not w.number_panel.digit_buttons and w.number_panel.selected is None
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        pass
    reading = w.number_mode.reading
    assert reading is not None and all(len(d.probabilities) == 2 and d.label in (3, 7) for d in reading.digits)
    i = w.canvas.box_at(centre)
    assert i is not None and w.number_mode.box_tooltip(centre).startswith(f"Digit {i + 1}, read {reading.digits[i].label}")


def test_number_mode_never_shows_a_reading_of_a_drawing_changed_while_it_ran(bundled_window, qtbot, monkeypatch):
    """The pen moves while a reading runs and the reading ends before the next one is due (the
    timer still waits): the older drawing's reading is dropped; the pen lifts: the latest drawing
    is read at once and shown."""
    import threading

    from PySide6.QtWidgets import QApplication

    from mnist_desktop.model.drawings import compose_number
    from mnist_desktop.ui import number_mode
    from mnist_desktop.ui.canvas import scripted_stroke

    w = bundled_window
    real, gate, entered, read = number_mode.engine.read_number, threading.Event(), threading.Event(), []

    def gated(image, predictor):
        entered.set()
        assert gate.wait(10)
        reading = real(image, predictor)
        read.append(reading.text)
        return reading

    monkeypatch.setattr(number_mode.engine, "read_number", gated)
    monkeypatch.setattr(number_mode, "READ_INTERVAL_S", 30.0)  # the next reading is not due in this test
    w.number_mode_action.trigger()
    first = compose_number(3, seed=1)
    shown = []
    w.number_mode.readingUpdated.connect(lambda: shown.append(w.number_panel.number.text()))
    w.canvas.set_image(first.image)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    # A fourth digit, a 1 at the right, written while the first reading runs: the pen still down.
    *moving, lift = scripted_stroke(w.canvas, [(2.7, 0.2 + 0.06 * i) for i in range(11)])
    for event in moving:
        QApplication.sendEvent(w.canvas, event)
    assert w.number_mode._timer.isActive() and not w.number_mode._read_again  # changed; its reading not due yet
    gate.set()
    qtbot.waitUntil(lambda: read == [first.text], timeout=10000)
    qtbot.wait(100)  # the first reading's finish arrives: dropped, its drawing is older
    assert shown == [] and w.number_mode.reading is None and w.number_mode.threads.running() == 0
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        QApplication.sendEvent(w.canvas, lift)  # the pen lifts: read at once, not in 30 s
    assert read == [first.text, first.text + "1"] and shown == [first.text + "1"]
    assert w.number_panel.number.text() == first.text + "1" and len(w.canvas.boxes) == 4


def test_number_mode_starts_no_reading_after_the_window_closed(bundled_window, qtbot, monkeypatch):
    """The window closes while a reading of a since-changed drawing runs: close() waits for it,
    and its finish, arriving after, must not start a reading of the newer drawing (it did: a
    worker thread after shutdown)."""
    import threading

    from PySide6.QtWidgets import QApplication

    from mnist_desktop.model.drawings import compose_number
    from mnist_desktop.ui import number_mode
    from mnist_desktop.ui.canvas import scripted_stroke

    w = bundled_window
    real, gate, entered, read = number_mode.engine.read_number, threading.Event(), threading.Event(), []

    def gated(image, predictor):
        read.append(image.sum())
        entered.set()
        assert gate.wait(10)
        return real(image, predictor)

    monkeypatch.setattr(number_mode.engine, "read_number", gated)
    monkeypatch.setattr(number_mode, "READ_INTERVAL_S", 30.0)
    w.number_mode_action.trigger()
    w.canvas.set_image(compose_number(3, seed=1).image)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    *moving, _lift = scripted_stroke(w.canvas, [(2.7, 0.2 + 0.06 * i) for i in range(11)])
    for event in moving:  # the drawing changes while it is read; the pen stays down
        QApplication.sendEvent(w.canvas, event)
    threading.Timer(0.2, gate.set).start()  # the reading ends while close() waits for it
    w.close()
    qtbot.wait(200)  # its queued finish arrives after the close
    assert len(read) == 1 and w.number_mode.reading_worker is None
    assert w.number_mode.threads.running() == 0 and not w.number_mode.is_reading()


@pytest.fixture
def small_training_set(monkeypatch):
    """The nearest-digits features over the first 3,000 training digits (the full 60,000 take
    10–30 s): indices stay those of the full set. The cache is emptied before and after."""
    from mnist_desktop.model import data, neighbours
    from mnist_desktop.ui import nearest

    full = data.mnist_arrays

    def first(split, root=None, verify=True):
        images, labels = full(split, root, verify)
        return (images[:3000], labels[:3000]) if split == "train" else (images, labels)

    monkeypatch.setattr(data, "mnist_arrays", first)
    monkeypatch.setattr(nearest, "BUILD_ON_SHOW", True)
    neighbours.clear_cache()
    yield
    neighbours.clear_cache()


def test_nearest_digits_fill_after_the_features_and_click_inspects(small_training_set, qtbot, settings, bundled_predictor, monkeypatch):
    import threading

    from mnist_desktop.model import mnist_arrays
    from mnist_desktop.ui import MainWindow, nearest

    w = MainWindow(settings=settings, predictor=bundled_predictor)
    w.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    strip = w.findChild(type(w.nearest_strip), "nearest_digits")
    assert strip is w.nearest_strip
    with qtbot.waitSignal(w.nearest.featuresReady, timeout=60000):
        w.show()  # on screen: the features are built in a worker
    assert strip.caption.text() == nearest.READY_EMPTY  # nothing drawn: nothing to click yet
    assert "(the 1024 inputs of the output layer 'fc' (the last hidden layer);" in strip.caption.toolTip()
    threads, real = [], nearest.engine.nearest_training

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(nearest.engine, "nearest_training", recorded)
    stroke(w.canvas, ONE)
    qtbot.waitUntil(lambda: len(strip.indices) == 8, timeout=5000)
    qtbot.waitUntil(lambda: w.session.drawing.x28 is not None)
    _, labels = mnist_arrays("train")
    shown = [b.text() for b in strip.buttons]
    assert shown == [str(labels[i]) for i in strip.indices]
    assert shown.count("1") >= 6  # a vertical stroke resembles the training 1s
    assert all(i < 3000 for i in strip.indices)
    assert strip.caption.text() == nearest.READY

    # the query ran in a worker thread, never on the GUI thread (a scribble's takes ~150 ms)
    assert threads and all(t is not threading.main_thread() for t in threads)

    strip.buttons[0].click()
    assert w.inspector.source.currentData() == "train"
    assert w.inspector.index.value() == strip.indices[0]

    w.canvas.clear()
    qtbot.waitUntil(lambda: strip.indices == [], timeout=5000)
    assert strip.caption.text() == nearest.READY_EMPTY  # "click one" said of an empty strip was untrue
    w.close()


def test_the_window_says_not_a_digit_by_the_models_is_digit(bundled_window, qtbot, monkeypatch):
    """The prediction panel follows ``Predictor.is_digit`` (the digit head for the bundled model),
    not a top-probability threshold of its own: with the head's threshold out of reach, a clear 1
    is "not a digit", its guess still shown."""
    w = bundled_window
    monkeypatch.setattr(w.session.predictor.digit_head, "threshold", 1e6)
    stroke(w.canvas, ONE)
    settle(w, qtbot)
    assert w.prediction.is_digit is False and w.prediction.not_a_digit.isVisible()
    assert w.prediction.digit.text() == "1" and "best guess" in w.prediction.confidence.text()


def small_mlp(seed: int):
    import torch

    from mnist_desktop.model import Predictor, build_model

    torch.manual_seed(seed)
    meta = {
        "architecture": "mlp",
        "arch_config": {"hidden": 16},
        "task": "digits",
        "classes": list(range(10)),
        "output": "softmax",
        "normalization": {"mean": 0.1307, "std": 0.3081},
    }
    return Predictor(build_model("mlp", 10, hidden=16), meta)


def test_only_the_active_models_nearest_features_are_held(small_training_set, qtbot, settings, bundled_predictor):
    """The features of a model no longer active (234 MB for the bundled CNN) are dropped when the
    model changes, however many times it changes, Edit → Previous model included."""
    from mnist_desktop.model import neighbours
    from mnist_desktop.ui import MainWindow

    w = MainWindow(settings=settings, predictor=bundled_predictor)
    w.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.nearest.featuresReady, timeout=60000):
        w.show()
    assert neighbours.cached_models() == 1 and neighbours.cached_features(bundled_predictor) is not None
    others = [small_mlp(seed) for seed in (1, 2, 3)]
    for previous, p in zip([bundled_predictor, *others], others, strict=False):
        with qtbot.waitSignal(w.nearest.featuresReady, timeout=60000):
            w.session.set_model(p)
            assert neighbours.cached_features(previous) is None  # gone at once, before the new ones are built
        assert neighbours.cached_models() == 1 and neighbours.cached_features(p) is not None
    with qtbot.waitSignal(w.nearest.featuresReady, timeout=60000):
        assert w.session.previous_model().predictor is others[1]
    assert neighbours.cached_models() == 1 and neighbours.cached_features(others[1]) is not None
    assert neighbours.cached_features(others[2]) is None
    # a model change while the features are being built: the build is dropped, nothing else is held
    w.session.set_model(others[0])
    w.session.set_model(bundled_predictor)
    qtbot.waitUntil(lambda: w.nearest.ready_for is bundled_predictor, timeout=60000)
    qtbot.wait(300)
    assert neighbours.cached_models() == 1 and neighbours.cached_features(bundled_predictor) is not None
    w.close()


def test_the_nearest_features_wait_while_a_model_trains(small_training_set, qtbot, settings, bundled_predictor):
    """A build of the nearest digits' features stands still between batches while the Training
    panel trains (beside it, even at nice 10, training from the window took 3.4–3.9× headless's
    time), says so, and goes on when the run ends; closing the window while it waits ends it."""
    from mnist_desktop.model import neighbours
    from mnist_desktop.ui import MainWindow

    w = MainWindow(settings=settings, predictor=bundled_predictor)
    w.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    batches = []
    w.nearest.hold_builds(True)  # as the panel's `started` does, before the strip is on screen
    w.show()
    qtbot.waitUntil(lambda: w.nearest.worker is not None, timeout=5000)
    w.nearest.worker.progress.connect(lambda _g, payload: batches.append(payload))
    assert "waiting for the training to end" in w.nearest_strip.caption.text()
    qtbot.wait(600)
    assert len(batches) <= 1 and w.nearest.ready_for is None  # one batch may have begun before the first check
    with qtbot.waitSignal(w.nearest.featuresReady, timeout=60000):
        w.nearest.hold_builds(False)
    assert len(batches) > 1 and neighbours.cached_features(bundled_predictor) is not None
    assert "waiting" not in w.nearest_strip.caption.text()

    # the Training panel holds the builds while it runs, and lets them go when it ends
    panel = w.training
    panel.task.setCurrentIndex(panel.task.findData("digits"))
    panel.arch.setCurrentIndex(panel.arch.findData("linear"))
    panel.epochs.setValue(1)
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        panel.train_button.click()
        assert w.nearest.hold.is_set()
    assert not w.nearest.hold.is_set()

    # closing the window while a build waits: the build ends, the window closes
    neighbours.clear_cache()
    w.nearest.ready_for = None
    w.nearest.hold_builds(True)
    w.nearest.ensure_features()
    assert w.nearest.worker is not None
    w.close()
    assert w.nearest.threads.running() == 0


def test_not_a_digit_and_the_bars_say_the_models_own_test_and_temperature(bundled_window, bundled_predictor):
    """The "not a digit" tooltip said "its answer is weaker than its threshold", the bars'
    "softmax of its outputs": the bundled model's test is a digit head beside the energy, its
    threshold set on held-out digits, and its probabilities are softmax(logits / 0.66). The
    tooltips now quote the model's own figures, and the head's threshold lets through the share
    of those held-out digits (the MNIST training digits 55,000–57,499) the tooltip says."""
    import re

    from mnist_desktop.model import MNIST
    from mnist_desktop.model.numpy_forward import softmax

    p = bundled_predictor
    head = p.meta["recognition"]["digit_head"]
    tip = bundled_window.prediction.not_a_digit.toolTip()
    assert "digit head" in tip and "energy" in tip and f"{head['fitted_digits']:,} digits against {head['fitted_nondigits']:,}" in tip
    share, held = re.search(r"threshold that ([\d.]+) % of ([\d,]+) held-out digits", tip).groups()
    images, _ = MNIST.arrays("train")
    held_out = images[55000 : 55000 + int(held.replace(",", ""))]
    features, logits, pooled = p.forward_parts(held_out)
    passed = (p.digit_head.scores(features, logits, pooled) >= p.digit_head.threshold).mean()
    assert abs(100 * passed - float(share)) < 0.05

    bars = bundled_window.prediction.bars.toolTip()
    t = float(re.search(r"divided by its temperature, ([\d.]+)", bars).group(1))
    assert "softmax" in bars and t == round(p.temperature, 2) != 1.0
    x = held_out[:20]
    assert np.allclose(p.predict_batch(x), softmax(p.logits_batch(x).astype(np.float64) / p.temperature), atol=1e-5)


def test_the_not_a_digit_tooltip_follows_the_rule_is_digit_applies(qtbot):
    """Without a digit head the rule is the energy of the logits, without that the top
    probability (``PredictorBase.digit_of``): the tooltip names each with its threshold."""
    from mnist_desktop.model.numpy_forward import NumpyPredictor
    from mnist_desktop.ui.prediction import PredictionPanel

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    p = NumpyPredictor.default()
    p.digit_head = None
    panel.set_model(p)
    tip = panel.not_a_digit.toolTip()
    assert "digit head" not in tip and "energy of its logits" in tip and f"under {p.energy_threshold:.2f}" in tip
    assert "99.8 % of 5,000 held-out digits" in tip  # recognition: held_out_rejected 0.002 of 5,000
    p.energy_threshold = None
    panel.set_model(p)
    tip = panel.not_a_digit.toolTip()
    assert "energy" not in tip and f"top probability is under {100 * p.digit_threshold:.1f} %" in tip
    p.meta = {k: v for k, v in p.meta.items() if k != "recognition"}
    p.digit_threshold, p.temperature = 0.5, 1.0
    panel.set_model(p)
    assert "under 50.0 % (no threshold was fitted" in panel.not_a_digit.toolTip()
    assert "temperature" not in panel.bars.toolTip() and "softmax of its outputs." in panel.bars.toolTip()


def test_the_nearest_digits_of_a_model_without_a_hidden_layer_are_said_to_be_in_pixels(qtbot):
    """The caption's tooltip said "as the model sees it (its last hidden layer)" for every model;
    a linear model (the chapter's) has none, and its neighbours are found among the pixels."""
    from ui_helpers import make_predictor

    from mnist_desktop.model import neighbours
    from mnist_desktop.ui.nearest import NearestStrip

    strip = NearestStrip()
    qtbot.addWidget(strip)
    assert "or the pixels for a model without one" in strip.caption.toolTip()
    layers, space = neighbours._feature_layers(make_predictor("linear"))
    assert layers == [] and space.startswith("pixels")
    strip.set_ready(space)
    assert "as the model sees it (pixels (784," in strip.caption.toolTip() and "last hidden layer" not in strip.caption.toolTip()


def canvas_place(w, qtbot):
    """Where the canvas's drawing area is in the window (x, y, width, height), once the window
    has laid out what changed (the same three times running)."""
    from PySide6.QtCore import QPoint

    seen = []

    def place():
        r = w.canvas._square()
        top_left = w.canvas.mapTo(w, QPoint(0, 0))
        return (round(top_left.x() + r.x()), round(top_left.y() + r.y()), round(r.width()), round(r.height()))

    def settled():
        seen.append(place())
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    qtbot.waitUntil(settled, timeout=5000)
    return seen[-1]


@pytest.mark.parametrize("size", [(1024, 640), (1400, 920)])
def test_number_mode_keeps_the_canvas_in_place_while_writing(bundled_window, qtbot, size):
    """Found by a review: the first reading (the number in large type, the digit buttons) pushed
    the canvas 20 px down at 1024x640 (and made it larger at 1400x920), so the second stroke
    of a T landed 20 px above the first and the first digit of "2026" came out larger and lower
    than the others. The reading's widgets must never move or rescale the canvas."""
    from mnist_desktop.model.drawings import compose_number

    w = bundled_window
    w.resize(*size)
    w.reset_layout()
    w.number_mode_action.trigger()
    empty = canvas_place(w, qtbot)
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        stroke(w.canvas, line((0.3, 0.2), (0.3, 0.8)))  # the stem of a T: read as a digit
    assert w.number_panel.digit_buttons and w.number_panel.number.text()
    assert canvas_place(w, qtbot) == empty
    w.number_panel.digit_buttons[0].click()  # its bars and the title above them
    assert canvas_place(w, qtbot) == empty
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(compose_number(8, seed=5).image)  # eight digit buttons
    assert len(w.number_panel.digit_buttons) == 8
    w.number_panel.digit_buttons[7].click()
    assert canvas_place(w, qtbot) == empty
    w.number_panel.show_message("Could not read the canvas: " + "a long reason why, " * 8)
    assert canvas_place(w, qtbot) == empty
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.clear()
    assert canvas_place(w, qtbot) == empty


def test_a_digit_of_the_number_is_selected_by_a_click_on_it_and_a_click_on_the_canvas_still_draws(bundled_window, qtbot):
    """Found by a review: the README said "hover or click a digit for its probabilities", but a
    click on a boxed digit did nothing (only the small buttons selected). A click on the canvas
    is a dot, which may be part of the writing (it joins the digit it lands in), so it stays a
    dot; a click on a digit of the number in large type selects it, as its button does, and the
    box's tooltip says so."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QFontMetricsF

    from mnist_desktop.model.drawings import compose_number

    w = bundled_window
    w.number_mode_action.trigger()
    number = compose_number(4, seed=3)
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(number.image)
    label = w.number_panel.number
    assert label.isVisible() and label.text() == number.text
    fm = QFontMetricsF(label.font())
    left = (label.contentsRect().width() - fm.horizontalAdvance(label.text())) / 2 + label.contentsRect().x()
    for i in (2, 0, 3):  # the middle of the i-th character
        x = left + (fm.horizontalAdvance(label.text()[:i]) + fm.horizontalAdvance(label.text()[: i + 1])) / 2
        qtbot.mouseClick(label, Qt.MouseButton.LeftButton, pos=QPoint(round(x), label.height() // 2))
        digit = w.number_mode.reading.digits[i]
        assert w.number_panel.selected == i and w.canvas.selected_box == i
        np.testing.assert_array_equal(w.number_panel.bars.probabilities, digit.probabilities)
        assert w.session.drawing.x28 is digit.x28  # the panels that look inside show it
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton, pos=QPoint(2, label.height() // 2))  # beside the number
    assert w.number_panel.selected == 3
    # A click on the canvas inside a box draws a dot there, as before: writing is unchanged.
    centre = _box_centre(w.canvas, w.number_mode.reading.digits[1].box)
    assert w.canvas.stroke_count() == 0  # the picture only
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        qtbot.mouseClick(w.canvas, Qt.MouseButton.LeftButton, pos=centre)
    assert w.canvas.stroke_count() == 1  # a dot
    tip = w.number_mode.box_tooltip(centre)
    assert tip is not None and "Click it in the number under the canvas" in tip and "draws a dot" in tip


def shows_whole(label) -> bool:
    """``label``'s text is all on screen: on one line within its width, or wrapped to as many
    lines as it needs, inside its window."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QFontMetrics

    right = label.mapTo(label.window(), QPoint(label.width(), 0)).x()
    if right > label.window().width():
        return False
    if label.wordWrap():
        return label.height() >= label.heightForWidth(label.width())
    return QFontMetrics(label.font()).horizontalAdvance(label.text()) <= label.contentsRect().width()


@pytest.mark.parametrize("size", [(1024, 640), (1280, 720)])
def test_number_mode_texts_show_whole_in_a_small_window(bundled_window, qtbot, size):
    """Found by a review: the Tensor inspector's header read "digit 3 of the number (Number moc"
    at 1280x720 and "the dra" at 1024x640 (squeezed beside its buttons)."""
    from mnist_desktop.model.drawings import compose_number

    w = bundled_window
    w.resize(*size)
    w.reset_layout()
    w.number_mode_action.trigger()
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(compose_number(4, seed=3).image)
    w.docks["inspector"].raise_()
    info = w.inspector.sample_info
    qtbot.waitUntil(lambda: info.isVisible() and info.text().startswith("the drawing"), timeout=5000)
    canvas_place(w, qtbot)  # laid out
    assert shows_whole(info), (info.text(), info.width())
    w.number_panel.digit_buttons[2].click()
    qtbot.waitUntil(lambda: "digit 3 of the number" in info.text(), timeout=5000)
    canvas_place(w, qtbot)
    assert shows_whole(info), (info.text(), info.width())


def test_number_mode_save_hint_shows_whole_in_the_status_bar_at_1024x640(bundled_window, qtbot):
    """Found by a review: Ctrl+Alt+digit with no digit of the number selected said "... then
    press Ctrl+Alt and its right la" at 1024x640: the status bar cut it at the model's name."""
    from PySide6.QtGui import QFontMetrics

    from mnist_desktop.model.drawings import compose_number

    w = bundled_window
    w.resize(1024, 640)
    w.reset_layout()
    w.number_mode_action.trigger()
    with qtbot.waitSignal(w.number_mode.readingUpdated, timeout=5000):
        w.canvas.set_image(compose_number(4, seed=3).image)
    canvas_place(w, qtbot)
    assert w.save_my_digit(7) is None
    message = w.statusBar().currentMessage()
    assert "click a digit of the number first" in message.lower() and "Ctrl+Alt" in message
    room = w.model_label.x() - 8  # QStatusBar draws its message from x=6 to 2 px before the first permanent widget
    assert QFontMetrics(w.statusBar().font()).horizontalAdvance(message) <= room, (message, room)
