"""Helpers for the GUI tests: real mouse strokes, untrained predictors, waiting for the live prediction."""

import textwrap

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mnist_desktop.model import Predictor, build_model
from mnist_desktop.model.architectures import get_architecture
from mnist_desktop.model.checkpoints import make_metadata
from mnist_desktop.ui.canvas import scripted_stroke


def make_predictor(arch: str = "cnn", task: str = "digits", seed: int = 0, **arch_config) -> Predictor:
    """An untrained model (fixed seed): enough to check plumbing, instantly."""
    import torch

    torch.manual_seed(seed)
    classes = 10 if task == "digits" else 2
    model = build_model(arch, classes, **arch_config)
    meta = make_metadata(arch, arch_config, task, "softmax", get_architecture(arch).normalization, metrics={"test_accuracy": 0.5})
    return Predictor(model, meta)


def stroke(canvas, points, button=Qt.MouseButton.LeftButton) -> None:
    """A real mouse stroke on ``canvas`` through ``points`` given in unit coordinates (0..1)."""
    for event in scripted_stroke(canvas, points, button):
        QApplication.sendEvent(canvas, event)


def line(a, b, n: int = 12):
    return [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for t in np.linspace(0, 1, n)]


SEVEN_TOP = line((0.3, 0.25), (0.7, 0.25))
SEVEN_DOWN = line((0.7, 0.25), (0.45, 0.8))
ONE = line((0.5, 0.2), (0.5, 0.8))


def settle(window, qtbot) -> None:
    """Wait until the coalesced classification of the latest drawing has run."""
    qtbot.waitUntil(lambda: not window.live._classify_timer.isActive(), timeout=5000)


# ``run()`` in a fresh process: train the CNN, print the time, close the window mid-training.
CLOSE_WHILE_TRAINING = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QTimer
    from mnist_desktop.ui import MainWindow, run
    from mnist_desktop.ui.app import make_app

    app = make_app([])

    def window():
        return next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))

    def start():
        if not window().torch_ready:  # run() shows the window before torch; training waits for it
            QTimer.singleShot(50, start)
            return
        window().training.epochs.setValue(20)
        window().training.start()
        QTimer.singleShot(50, check)

    def check():
        if window().training.batch_losses():
            print(f"closing {time.time()!r}", flush=True)
            window().close()
        else:
            QTimer.singleShot(50, check)

    QTimer.singleShot(0, start)
    QTimer.singleShot(90_000, lambda: sys.exit(3))
    sys.exit(run())
    """
)
