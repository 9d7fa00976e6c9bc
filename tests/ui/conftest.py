"""Fixtures for the GUI tests: offscreen Qt, isolated settings, a main window."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from ui_helpers import make_predictor  # noqa: E402


@pytest.fixture(scope="session")
def cnn_predictor():
    return make_predictor("cnn")


@pytest.fixture(autouse=True)
def no_nearest_build(monkeypatch):
    """The nearest-digits strip builds features over the 60,000 training digits when shown
    (10–30 s of CPU): only the tests that look at it build them (over a subset)."""
    from mnist_desktop.ui import nearest

    monkeypatch.setattr(nearest, "BUILD_ON_SHOW", False)


@pytest.fixture
def settings(tmp_path) -> QSettings:
    """Settings of this test only: nothing leaks between tests or into the user's config."""
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings, cnn_predictor):
    from PySide6.QtWidgets import QMessageBox

    from mnist_desktop.ui import MainWindow

    w = MainWindow(settings=settings, predictor=cnn_predictor)
    # A test that leaves a trained model unsaved must not block on the quit prompt.
    w.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()  # stops any training and waits for the thread
