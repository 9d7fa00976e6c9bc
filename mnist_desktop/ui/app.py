"""Starting the app: QApplication, names for QSettings, an excepthook that shows a dialog."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import threading
import traceback

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from .settings import name_application
from .theme import app_icon

_dialogs: list[QMessageBox] = []  # keeps parentless dialogs alive until they close


def install_excepthook() -> None:
    """Uncaught exceptions in slots show a dialog instead of killing the app."""
    previous = sys.excepthook

    def hook(kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(text)
        app = QApplication.instance()
        if app is None or threading.current_thread() is not threading.main_thread():
            return  # widgets belong to the GUI thread; a worker's errors arrive as signals
        box = QMessageBox(QMessageBox.Icon.Critical, "Something went wrong", f"{kind.__name__}: {value}")
        box.setInformativeText("The app keeps running. Details are below; please report them.")
        box.setDetailedText(text)
        _dialogs.append(box)
        box.finished.connect(lambda _=0, b=box: _dialogs.remove(b) if b in _dialogs else None)
        box.open()

    sys.excepthook = hook


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv if argv is None else argv)
    name_application(app)
    app.setApplicationDisplayName("mnist-desktop")
    app.setDesktopFileName("mnist-desktop")
    app.setWindowIcon(app_icon())
    follow_color_scheme(app)
    return app


def follow_color_scheme(app: QApplication) -> None:
    """Qt follows the system's light or dark scheme by itself where the platform style can;
    where the scheme is dark but the style's palette is still light, Fusion draws it dark."""
    scheme = app.styleHints().colorScheme()
    light_palette = app.palette().color(QPalette.ColorRole.Window).lightness() > 128
    if scheme == Qt.ColorScheme.Dark and light_palette:
        app.setStyle("Fusion")


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MMAP_THRESHOLD = 4 << 20  # bytes: blocks from this size get their own mapping, unmapped when freed
TRIM_THRESHOLD = 32 << 20  # bytes: free memory a thread's heap keeps at its top for the next batch


def return_freed_memory() -> bool:
    """Make the C allocator give large freed blocks back to the system at once, and keep the
    smaller ones a thread reuses batch after batch (glibc: a fixed mmap threshold of
    :data:`MMAP_THRESHOLD` and trim threshold of :data:`TRIM_THRESHOLD`); False where there is
    no glibc.

    glibc raises its mmap threshold to the largest block freed so far (up to 32 MB), so the
    tensors of a worker's batches (the nearest digits' features, an evaluation, a sweep: 5–70 MB
    each) came from that thread's heap and stayed there once freed: the window held 2.0 GB after
    start, of which 1.1 GB was freed memory no one used. Fixing the mmap threshold also fixes
    the trim threshold at its default, 128 kB: a heap whose free top passed that was given back
    at every free, and the trainer's next batch faulted the same pages in again (1.2–1.5 million
    page faults per training thread, 2–4 s of system time in a 6 s run, the window training at
    1.5–2x headless). Now up to 32 MB of free memory at the top of each heap stays for the next batch."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False


def tune_process() -> None:
    """Settings that keep the event loop responsive while a Python thread trains, and the
    process's memory bounded.

    * A shorter GIL switch interval: the GUI thread gets the GIL back from the trainer sooner.
    * ``gc.freeze()`` once start-up is done: the hundreds of thousands of objects that torch,
      Qt and pyqtgraph created at import are never scanned again, so a full collection,
      whichever thread triggers it, holds the GIL for a few ms instead of ~100 ms.
    * :func:`return_freed_memory`.
    """
    return_freed_memory()
    sys.setswitchinterval(0.001)
    gc.collect()
    gc.freeze()


def run(argv: list[str] | None = None) -> int:
    """Open the main window and run the event loop; returns the exit code.

    The window comes first and classifies with numpy; torch (seconds to import) loads in a
    thread started once the window is on screen, and the window swaps in the torch model.
    """
    app = make_app(argv)
    install_excepthook()
    from .help_texts import introduce_once
    from .main_window import MainWindow

    window = MainWindow(torch_ready="torch" in sys.modules)
    window.show()
    QTimer.singleShot(
        0, lambda: introduce_once(window, window.settings, window.tab_titles())
    )  # a first launch: the introduction, over the window
    tune_process()
    if not window.torch_ready:
        QTimer.singleShot(TORCH_LOAD_DELAY_MS, window.load_torch_in_background)
    return app.exec()


TORCH_LOAD_DELAY_MS = 50  # the window's first frames are painted before torch's import competes for the GIL
