"""The Qt GUI on top of :mod:`mnist_desktop.model` (which never imports Qt)."""

from .app import run
from .main_window import MainWindow

__all__ = ["MainWindow", "run"]
