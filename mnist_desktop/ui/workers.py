"""The one base for background jobs, and the threads they run in.

A :class:`Worker` is a QObject whose :meth:`Worker.work` runs in its own thread; it never
touches a widget, it emits signals, all with one set of names: ``started``, ``progress``,
``finished`` (work's result) or ``failed`` (a message). Each carries the worker's
``generation``, so that a panel that started a newer job drops what an older one still sends.
``cancel()`` sets a :class:`threading.Event` that ``work`` checks between steps (a busy worker
never runs queued slots, so a ``stop()`` slot would never be called).

:class:`WorkerThreads` starts each worker in a new thread, deletes the thread and the worker
once it has finished, and :meth:`WorkerThreads.shutdown` cancels and waits for all of them: a
QThread deleted while it runs aborts the process.

A worker whose ``nice`` is above 0 runs below the GUI thread's priority (:func:`lower_this_thread`):
a long computation in the background (the nearest digits' features: tens of seconds of a core)
then takes the CPU only when the GUI thread does not want it, instead of an equal share. On two
busy cores an equal share stalled drawing 50–200 ms a frame.

Python's cycle collector runs only in the GUI thread once a worker has started
(:func:`collect_garbage_in_gui_thread`): left automatic, it runs in whichever thread allocates,
and a worker that allocates (a model being built) then finalises whatever Qt objects were
waiting in cycles, destroying widgets outside the GUI thread. Seen in the test suite: the
training thread hung for good in ``QObject::~QObject``, waiting for the GIL it held.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

# How often the GUI thread looks whether a collection is due (see GuiThreadCollector).
COLLECT_INTERVAL_MS = 200


def lower_this_thread(nice: int) -> bool:
    """Lower the calling thread's scheduling priority by ``nice`` (1–19); True if it was.

    On Linux a nice value belongs to each thread (``setpriority`` with the thread's id), and the
    threads it starts later (torch's OpenMP team) inherit it; unprivileged processes may lower,
    never raise, it. Elsewhere a QThread's own priority (Windows and macOS honour it)."""
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        except OSError:
            return False
        return True
    thread = QThread.currentThread()
    if thread is None or not thread.isRunning():
        return False
    thread.setPriority(QThread.Priority.LowestPriority)
    return True


class GuiThreadCollector(QObject):
    """Python's cycle collector, turned off and run by a timer in the GUI thread instead.

    Each tick collects the young generation if anything was allocated since the last one (a
    worker's allocations may be freed again before the tick, so the net count that triggers
    automatic collection need not be high then), and the older ones as automatic collection
    would, when their counts pass ``gc.get_threshold()``: with the default thresholds a full
    collection every 11 × 11 ticks (about 24 s) at most. Since start-up's objects are frozen
    (``app.tune_process``) a full one scans little (under 0.1 ms on the window just started).
    Code that pauses the collector (``gc.disable()`` … ``gc.enable()`` if it was enabled) keeps
    working: it finds it disabled and leaves it so."""

    NAME = "gui_thread_collector"

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.setObjectName(self.NAME)
        self._timer = QTimer(self)
        self._timer.setInterval(COLLECT_INTERVAL_MS)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start()
        gc.disable()

    @Slot()
    def collect_if_due(self) -> int:
        """Collect the young generation if anything was allocated, and with it the older ones
        whose counts are past their thresholds; returns the oldest generation collected, or -1
        when none was due."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        due = 0 if counts[0] > 0 else -1
        for generation in (1, 2):
            if due == generation - 1 and counts[generation] > thresholds[generation]:
                due = generation
        if due >= 0:
            gc.collect(due)
        return due


def collect_garbage_in_gui_thread() -> GuiThreadCollector | None:
    """Make Python's cycle collector run only in the GUI thread, from now on (see
    :class:`GuiThreadCollector`); the one collector of the application, made on the first call.
    Called before any worker starts; None outside the GUI thread or without an application."""
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return None
    collector = app.findChild(QObject, GuiThreadCollector.NAME)
    if collector is None:
        collector = GuiThreadCollector(app)
    return collector


class Worker(QObject):
    # How much below the GUI thread the work runs (0: as the GUI thread); see lower_this_thread.
    nice = 0

    started = Signal(int)  # generation
    progress = Signal(int, object)  # generation, what the job reports (its own payload)
    finished = Signal(int, object)  # generation, work()'s result
    failed = Signal(int, str)  # generation, what went wrong, in words

    def __init__(self, generation: int = 0, cancel_event: threading.Event | None = None):
        super().__init__()
        self.generation = generation
        self.cancel_event = cancel_event if cancel_event is not None else threading.Event()

    def work(self):
        """The job, in the worker's thread: report with :meth:`report`, check :meth:`cancelled`
        between steps, return the result or raise."""
        raise NotImplementedError

    def failure(self, error: Exception) -> str:
        """``error`` in words, for ``failed``."""
        return f"{type(error).__name__}: {error}"

    def report(self, payload) -> None:
        self.progress.emit(self.generation, payload)

    def cancel(self) -> None:
        """From any thread: ask ``work`` to stop at its next check."""
        self.cancel_event.set()

    def abandon(self) -> None:
        """From any thread: stop, and nobody will read the result (the window is closing): a
        worker may skip what only its result needs. By default the same as :meth:`cancel`."""
        abandon = getattr(self.cancel_event, "abandon", None)
        abandon() if abandon is not None else self.cancel()

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    @Slot()
    def run(self) -> None:
        if self.nice > 0:
            lower_this_thread(self.nice)
        self.started.emit(self.generation)
        try:
            result = self.work()
        except Exception as e:  # noqa: BLE001 — reported to the panel; the app keeps running
            self.failed.emit(self.generation, self.failure(e))
        else:
            self.finished.emit(self.generation, result)


class WorkerThreads(QObject):
    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._name = name
        self._live: dict[QThread, QObject] = {}

    def start(self, worker: QObject) -> QThread:
        """Run ``worker.run`` in a new thread (connect the worker's signals first). A worker
        ends with ``finished`` or ``failed``."""
        collect_garbage_in_gui_thread()
        thread = QThread(self)
        thread.setObjectName(self._name)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        worker.failed.connect(thread.quit)
        thread.finished.connect(lambda t=thread: self._on_thread_finished(t))
        self._live[thread] = worker
        thread.start()
        return thread

    def running(self) -> int:
        """How many threads have not finished yet."""
        return len(self._live)

    def shutdown(self) -> None:
        """Cancel every worker and wait for its thread."""
        for thread, worker in list(self._live.items()):
            if isinstance(worker, Worker):
                worker.abandon()
            thread.quit()
            thread.wait()
        self._live.clear()

    def _on_thread_finished(self, thread: QThread) -> None:
        worker = self._live.pop(thread, None)
        if worker is not None:
            worker.deleteLater()
        thread.deleteLater()


def run_in_daemon_thread(worker: Worker, name: str) -> threading.Thread:
    """Run ``worker`` in a daemon thread, for a job the app need not wait for at close (an
    import, a read): the process may end while it runs. The worker stays alive as long as
    the thread; its signals to objects deleted meanwhile go nowhere."""
    collect_garbage_in_gui_thread()
    thread = threading.Thread(target=worker.run, name=name, daemon=True)
    thread.start()
    return thread
