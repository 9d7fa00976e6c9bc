"""Helpers for the GUI tests: real mouse strokes, untrained predictors, waiting for the live prediction."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mnist_desktop.model import Predictor, build_model
from mnist_desktop.model.architectures import get_architecture
from mnist_desktop.model.checkpoints import make_metadata
from mnist_desktop.ui.canvas import scripted_stroke


def make_predictor(arch: str = "cnn", task: str = "digits", seed: int = 0) -> Predictor:
    """An untrained model (fixed seed): enough to check plumbing, instantly."""
    import torch

    torch.manual_seed(seed)
    classes = 10 if task == "digits" else 2
    model = build_model(arch, classes)
    meta = make_metadata(arch, {}, task, "softmax", get_architecture(arch).normalization, metrics={"test_accuracy": 0.5})
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
    qtbot.waitUntil(lambda: not window._classify_timer.isActive(), timeout=5000)
