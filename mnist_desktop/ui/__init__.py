"""The Qt GUI on top of :mod:`mnist_desktop.model` (which never imports Qt)."""

import sys


def _import_pyqtgraph() -> None:
    """pyqtgraph's RawImageWidget (which this app does not use) imports cuda-python's runtime
    bindings when they are installed, as torch's CUDA wheels install them: 40 ms of every
    start-up. They are hidden while pyqtgraph imports (it then goes without, as on a machine
    without them) and are there again for torch."""
    if "pyqtgraph" in sys.modules or "cuda.bindings.runtime" in sys.modules:
        return
    sys.modules["cuda.bindings.runtime"] = None  # "from cuda.bindings import runtime": ImportError
    try:
        import pyqtgraph  # noqa: F401
    finally:
        del sys.modules["cuda.bindings.runtime"]


_import_pyqtgraph()

from .app import run  # noqa: E402
from .main_window import MainWindow  # noqa: E402

__all__ = ["MainWindow", "run"]
