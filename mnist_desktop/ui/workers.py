"""One-shot workers on their own QThreads, for a panel that computes in the background.

A worker is a QObject with a ``run()`` slot and a ``finished`` signal; it never touches a
widget (it emits signals). :class:`WorkerThreads` starts each in a new thread, deletes the
thread and the worker once it has finished, and :meth:`WorkerThreads.shutdown` waits for all
of them: a QThread deleted while it runs aborts the process.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread


class WorkerThreads(QObject):
    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._name = name
        self._live: dict[QThread, QObject] = {}

    def start(self, worker: QObject) -> QThread:
        """Run ``worker.run`` in a new thread (connect the worker's signals first)."""
        thread = QThread(self)
        thread.setObjectName(self._name)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        thread.finished.connect(lambda t=thread: self._on_thread_finished(t))
        self._live[thread] = worker
        thread.start()
        return thread

    def running(self) -> int:
        """How many threads have not finished yet."""
        return len(self._live)

    def shutdown(self) -> None:
        """Wait for every thread (their workers should have been told to stop)."""
        for thread in list(self._live):
            thread.quit()
            thread.wait()
        self._live.clear()

    def _on_thread_finished(self, thread: QThread) -> None:
        worker = self._live.pop(thread, None)
        if worker is not None:
            worker.deleteLater()
        thread.deleteLater()
