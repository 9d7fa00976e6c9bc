"""Start-up before PyTorch: the window classifies with numpy, then swaps in the torch model without a jump."""

import subprocess
import sys
import time

import numpy as np
from PySide6.QtWidgets import QMessageBox
from ui_helpers import SEVEN_DOWN, SEVEN_TOP, settle, stroke

from mnist_desktop.model import Predictor
from mnist_desktop.model.numpy_forward import NumpyPredictor


def test_strokes_are_classified_before_torch_and_the_torch_model_gives_the_same_bars(qtbot, settings):
    from mnist_desktop.ui import MainWindow

    w = MainWindow(settings=settings, torch_ready=False)
    w.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        assert isinstance(w.predictor, NumpyPredictor)
        # What needs torch waits for it, and says so.
        assert not w.training.train_button.isEnabled() and not w.train_action.isEnabled()
        assert not w.open_model_action.isEnabled() and not w.save_model_action.isEnabled()
        assert not w.training.start() and "Loading PyTorch" in w.training.message.text()
        assert "Loading PyTorch" in w.device_label.text()
        stroke(w.canvas, SEVEN_TOP)
        stroke(w.canvas, SEVEN_DOWN)
        settle(w, qtbot)
        before = w.probabilities.copy()
        shown = (w.prediction.digit.text(), w.prediction.confidence.text())
        assert shown[0] == "7"
        assert w.activations.panels  # numpy gives the activations too

        with qtbot.waitSignal(w.torchReady, timeout=60000):
            w.load_torch_in_background()
        assert isinstance(w.predictor, Predictor) and w.predictor.describe() == NumpyPredictor.default().describe()
        # The first prediction after launch is what the torch model gives: no visible jump.
        np.testing.assert_allclose(w.probabilities, before, atol=1e-6, rtol=0)
        assert (w.prediction.digit.text(), w.prediction.confidence.text()) == shown
        np.testing.assert_allclose(Predictor.default().predict(w.x28), before, atol=1e-6, rtol=0)
        assert w.training.train_button.isEnabled() and w.open_model_action.isEnabled() and w.save_model_action.isEnabled()
        assert w.training.message.text() == "" and w.device_label.text().startswith("Device:")
        assert not w.previous_model_action.isEnabled()  # the swap is not a model change to undo
    finally:
        w.close()


def test_a_last_model_numpy_cannot_read_is_opened_once_torch_has_loaded(qtbot, settings, tmp_path):
    import torch

    from mnist_desktop.ui import MainWindow
    from mnist_desktop.ui.settings import LAST_MODEL

    path = tmp_path / "linear.pt"
    torch.save({"fc.weight": torch.zeros(10, 784), "fc.bias": torch.zeros(10)}, path)
    settings.setValue(LAST_MODEL, str(path))
    w = MainWindow(settings=settings, torch_ready=False)
    qtbot.addWidget(w)
    try:
        assert w.predictor.arch == "cnn"  # the bundled model meanwhile
        with qtbot.waitSignal(w.torchReady, timeout=60000):
            w.load_torch_in_background()
        assert w.predictor.arch == "linear" and w.model_source == str(path)
    finally:
        w.close()


WINDOW_WITHOUT_TORCH = """
import sys
from PySide6.QtCore import QSettings
from mnist_desktop.ui.app import make_app
from mnist_desktop.ui.main_window import MainWindow
import numpy as np
app = make_app(["x"])
w = MainWindow(settings=QSettings(sys.argv[1], QSettings.Format.IniFormat), torch_ready=False)
w.show()
app.processEvents()
one = np.zeros((280, 280), np.uint8); one[40:240, 130:150] = 255
w.canvas.set_image(one)
w.classify()
print(w.prediction.digit.text(), 'torch' in sys.modules)
"""


def test_the_window_shows_and_classifies_without_importing_torch(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", WINDOW_WITHOUT_TORCH, str(tmp_path / "s.ini")], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["1", "False"]


def test_the_idle_gate_opens_only_after_the_user_pauses(qtbot):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QWidget

    from mnist_desktop.ui.torch_loading import UserIdleGate

    target = QWidget()
    qtbot.addWidget(target)
    target.show()
    gate = UserIdleGate()
    try:
        gate.QUIET_S = 0.1
        qtbot.waitUntil(gate.is_idle, timeout=2000)
        QTest.mousePress(target, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
        pressed = time.monotonic()
        assert not gate.is_idle()
        # a button held down is not a pause, however long: the gate's checks after twice its quiet time
        checks = []
        gate._timer.timeout.connect(lambda: time.monotonic() - pressed > 2 * gate.QUIET_S and checks.append(gate.is_idle()))
        qtbot.waitUntil(lambda: len(checks) >= 2, timeout=5000)
        assert checks[:2] == [False, False] and not gate.is_idle()
        QTest.mouseRelease(target, Qt.MouseButton.LeftButton, pos=QPoint(6, 6))
        assert not gate.is_idle()
        qtbot.waitUntil(gate.is_idle, timeout=2000)
        QTest.keyClick(target, Qt.Key.Key_A)
        assert not gate.is_idle()
    finally:
        gate.close()
    assert gate.is_idle()  # closing releases whoever waits


HELD_IMPORT = """
import sys, threading
from mnist_desktop.ui.torch_loading import import_torch_gently
go, waiting, calls = threading.Event(), threading.Event(), []
def wait(timeout):
    calls.append(timeout)
    waiting.set()
    return go.wait(timeout)
t = threading.Thread(target=import_torch_gently, args=(wait,))
t.start()
waiting.wait(60)
t.join(0.5)
held = t.is_alive() and 'torch' not in sys.modules
go.set()
t.join(120)
print(held, 'torch._C' in sys.modules, 'mnist_desktop.model.inference' in sys.modules, len(calls) > 100)
"""


def test_the_torch_import_stands_still_while_the_user_is_busy():
    out = subprocess.run([sys.executable, "-c", HELD_IMPORT], capture_output=True, text=True, check=True, timeout=180)
    assert out.stdout.split() == ["True", "True", "True", "True"]


def test_a_failed_torch_load_says_so_in_every_panel_that_waited(qtbot, settings, monkeypatch):
    from mnist_desktop.ui import MainWindow, torch_loading

    def broken(_wait=None):
        raise RuntimeError("libtorch_cpu.so: cannot open shared object file")

    monkeypatch.setattr(torch_loading, "import_torch_gently", broken)
    w = MainWindow(settings=settings, torch_ready=False)
    qtbot.addWidget(w)
    try:
        w.load_torch_in_background()
        qtbot.waitUntil(lambda: "not available" in w.device_label.text(), timeout=5000)
        for text in (w.training.message.text(), w.training.stepper.message.text(), w.nudge.status.text(), w.evaluation.status.text()):
            assert "could not be loaded" in text and "libtorch_cpu" in text and "Loading" not in text
        assert not w.torch_ready and w.prediction.digit.text()  # the numpy model keeps classifying
    finally:
        w.close()
