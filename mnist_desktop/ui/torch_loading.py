"""Loading PyTorch behind the window without taking the event loop from the user.

``import torch`` runs for seconds in a background thread, under the GIL the GUI thread needs
for each stroke. Most of it is Python that yields the GIL every millisecond
(``sys.setswitchinterval``), but two parts do not:

* garbage collections of the hundreds of thousands of objects the import creates: off during
  the import, and what it made is frozen afterwards (:func:`import_torch_gently`);
* C calls that hold the GIL for long: the initialisation of ``torch._C`` (~200 ms, measured
  with a 10 ms probe timer), the start of ``import torch`` (~60 ms) and a few smaller ones.
  They cannot be split or made to release the GIL, so the import waits, before each module
  it imports, for :class:`UserIdleGate`: while the user presses a button, draws or types,
  and until :attr:`UserIdleGate.QUIET_S` after, the import stands still at its next module.
  Its stalls then fall in pauses, typically while the user looks at the prediction of what
  they just drew.

Measured and not used: loading torch's shared libraries first with ``ctypes.CDLL`` (dlopen of
libtorch_cpu held the GIL for 250 ms on Python 3.11, as long as the stall it was to avoid).
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
import time

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication

from .session import LOADING_PYTORCH, Session, load_predictor
from .settings import LAST_MODEL
from .workers import Worker, run_in_daemon_thread

# What the user does with the window: a stall during these is felt. Plain hovering is not
# counted: a pause in hovering is not a pause the loader could wait for.
ACTIVE_EVENTS = frozenset(
    {
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.TabletPress,
        QEvent.Type.TabletMove,
        QEvent.Type.TabletRelease,
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TouchEnd,
    }
)
PRESS = frozenset({QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.TabletPress, QEvent.Type.TouchBegin})
RELEASE = frozenset({QEvent.Type.MouseButtonRelease, QEvent.Type.TabletRelease, QEvent.Type.TouchEnd})
MOVE = frozenset({QEvent.Type.MouseMove, QEvent.Type.TabletMove, QEvent.Type.TouchUpdate})


class UserIdleGate(QObject):
    """Open while the user is idle: no button held and no input for ``QUIET_S`` seconds.

    Watches the application's input events (an application event filter, installed only while
    something waits: :meth:`close` removes it) and sets a :class:`threading.Event` that another
    thread waits on with :meth:`wait`. Create and use it on the GUI thread; ``wait`` is for the
    other thread.
    """

    QUIET_S = 0.3
    CHECK_MS = 50

    def __init__(self, app: QApplication | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._app = app or QApplication.instance()
        self._idle = threading.Event()
        self._last_input = time.monotonic()
        self._held = False
        self._app.installEventFilter(self)
        self._timer = QTimer(self, interval=self.CHECK_MS, timeout=self._check)
        self._timer.start()
        self._closed = False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind in ACTIVE_EVENTS:
            self._held = kind in PRESS or (kind not in RELEASE and self._held)
        elif kind in MOVE:
            # a drag is input, a hover is not; the buttons held also tell of a press made
            # before this gate was watching
            buttons = getattr(event, "buttons", None)
            self._held = kind != QEvent.Type.MouseMove or buttons is None or buttons() != Qt.MouseButton.NoButton
            if not self._held:
                return False
        else:
            return False
        self._last_input = time.monotonic()
        self._idle.clear()
        return False

    def _check(self) -> None:
        if not self._held and time.monotonic() - self._last_input >= self.QUIET_S:
            self._idle.set()

    def is_idle(self) -> bool:
        return self._idle.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """From another thread: block until the user is idle (or ``timeout``); True if idle."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop watching (GUI thread); waiters are released."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self._app.removeEventFilter(self)
        self._idle.set()


class _YieldToUser(importlib.abc.MetaPathFinder):
    """A finder that finds nothing: in the thread that made it, each import first waits for
    ``wait()`` (the user idle), so that the import pauses, at the next module, while the user
    draws. Other threads' imports pass straight through."""

    def __init__(self, wait):
        self._wait = wait
        self._thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() == self._thread:
            self._wait()
        return None


MAX_WAIT_S = 15.0  # a user who never pauses for this long still gets training after it


def import_torch_gently(wait_for_idle=None) -> None:
    """``import torch`` (and the engine's torch modules) from a background thread.

    ``wait_for_idle(timeout) -> bool`` (e.g. :meth:`UserIdleGate.wait`) is called before each
    module is imported: while the user draws, the import stands still; the garbage collector is off during the import and what
    it created is frozen afterwards, never scanned again, as ``tune_process`` does at start.
    """
    import gc

    if "torch" in sys.modules:
        return
    finder = None
    if wait_for_idle is not None:
        finder = _YieldToUser(lambda: wait_for_idle(MAX_WAIT_S))
        sys.meta_path.insert(0, finder)
    enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401

        from mnist_desktop.model import inference  # noqa: F401 (and through it architectures, checkpoints)
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
        if enabled:
            gc.enable()
    gc.freeze()


class TorchLoader(Worker):
    """Imports torch (:func:`import_torch_gently`) and loads the torch twin of the model in
    ``source`` (None: the bundled one); finishes with (predictor, source, error): a model that
    cannot be read gives the bundled one and the error. Fails if torch cannot be imported."""

    def __init__(self, source: str | None, wait_for_idle=None):
        super().__init__()
        self.source = source
        self.wait_for_idle = wait_for_idle

    def work(self):
        import_torch_gently(self.wait_for_idle)
        try:
            return load_predictor(self.source), self.source, None
        except Exception as e:  # noqa: BLE001 — whatever is on disk, the app starts
            if self.source is None:
                raise
            return load_predictor(None), None, e

    def failure(self, error: Exception) -> str:
        return str(error)


class TorchStartup(QObject):
    """PyTorch for one window: its thread settings, and, when the window came up before it,
    the loader that brings the torch twin of the start-up model into the session."""

    message = Signal(str, int)  # a status line and how long it shows (ms)
    deviceChanged = Signal(str)  # where training runs, in words (or why it cannot)

    def __init__(self, session: Session, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.settings = session, settings
        self.source: str | None = None  # the model the torch twin is loaded from
        self.loader: TorchLoader | None = None
        self._thread: threading.Thread | None = None
        self._idle_gate: UserIdleGate | None = None
        self._gui_threads: int | None = None  # torch's thread count before this window set it
        self._stopped = False
        if session.torch_ready:
            self._set_threads()

    def device_text(self) -> str:
        if not self.session.torch_ready:
            return LOADING_PYTORCH
        from mnist_desktop import model as engine

        try:
            device = str(engine.resolve_device("auto"))
        except (ValueError, RuntimeError):
            device = "cpu"
        return f"Device: {device.upper() if device != 'cpu' else 'CPU'}"

    def _set_threads(self) -> None:
        import torch

        from .training_worker import train_threads

        # The GUI thread predicts one 28×28 image at a time: one thread is fastest and leaves
        # the other cores to the trainer (torch's OpenMP setting is per thread; the worker
        # sets its own, taken here first). Restored by stop().
        train_threads()
        self._gui_threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def watch_user(self) -> None:
        """Watch for the user's pauses, for the import to run in (install it last: its event
        filter sees every event, tens of thousands while the window is built)."""
        if not self.session.torch_ready and self._idle_gate is None:
            self._idle_gate = UserIdleGate(parent=self)

    def start(self) -> threading.Thread:
        """Import torch and load the twin of ``source`` in a daemon thread (once)."""
        if self._thread is None:
            gate = self._idle_gate.wait if self._idle_gate is not None else None
            self.loader = TorchLoader(self.source, gate)
            self.loader.finished.connect(self._on_loaded)
            self.loader.failed.connect(self._on_failed)
            self._thread = run_in_daemon_thread(self.loader, "torch-loader")
        return self._thread

    def stop(self) -> None:
        """The window closes: what the loader still brings is dropped; torch's threads as they were."""
        self._stopped = True
        if self._gui_threads is not None:
            sys.modules["torch"].set_num_threads(self._gui_threads)

    def _ended(self) -> bool:
        """True if the window still wants what the loader brings."""
        if self._idle_gate is not None:
            self._idle_gate.close()
        return not self._stopped

    @Slot(int, str)
    def _on_failed(self, _generation: int, error: str) -> None:
        if self._ended():
            self.session.torch_failed(f"PyTorch could not be loaded ({error})")  # the panels that waited say why
            self.deviceChanged.emit("PyTorch not available")

    @Slot(int, object)
    def _on_loaded(self, _generation: int, result) -> None:
        if not self._ended():
            return
        predictor, source, error = result
        self._set_threads()
        if error is not None:
            self.message.emit(f"Could not reopen the last model: {error}", 10000)
            self.settings.remove(LAST_MODEL)
        # The same weights in torch: the probabilities agree with numpy's to ~1e-7, the bars do not move.
        self.session.torch_loaded(predictor, source)
        self.deviceChanged.emit(self.device_text())
