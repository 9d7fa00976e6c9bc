"""The worker that runs the engine's trainer in a QThread and reports by signals.

It only wraps ``mnist_desktop.model.train``: the engine's callbacks run in the training
thread, and their frozen :class:`BatchInfo` reports (plain numbers) are collected and cross
to the GUI as one queued signal at most every ``EMIT_INTERVAL`` seconds. Stop and pause are
``threading.Event``s the trainer checks between batches: a busy worker never runs queued
slots, so they cannot be slots.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from mnist_desktop import model as engine

_train_threads: list[int] = []


def train_threads() -> int:
    """Threads for training, taken the first time this is called: before the GUI thread drops
    to one (see MainWindow). torch's OpenMP thread count is per thread, so the trainer keeps
    every core and the GUI thread's tiny 28×28 inferences do not wait on a team of threads
    the trainer keeps busy. A function, not a constant, so that importing this module does
    not import torch (the window is shown before torch has loaded)."""
    if not _train_threads:
        import torch

        _train_threads.append(torch.get_num_threads())
    return _train_threads[0]


EMIT_INTERVAL = 0.05  # seconds between progress signals: at most 20 per second


class TrainingWorker(QObject):
    """Runs ``engine.train(config, init=init)`` in whatever thread it lives in, or ``task``:
    any callable ``task(on_batch, on_epoch, on_note, stop_event, pause_event) -> TrainResult``
    (fine-tuning on My digits), with the same reports, stop and pause."""

    progress = Signal(object)  # list[BatchInfo] since the last signal
    epoch = Signal(object)  # EpochInfo
    weights = Signal(object)  # WeightSnapshot: copies of each layer's weights, at the start and after each epoch
    note = Signal(str)
    done = Signal(object)  # TrainResult (its predictor is an independent CPU copy)
    errored = Signal(object)  # the exception; str() of it is the message to show

    def __init__(self, config, stop_event: threading.Event, pause_event: threading.Event, init=None, task=None):
        super().__init__()
        self.config = config
        self.task = task
        self.init = init
        self.stop_event = stop_event
        self.pause_event = pause_event
        self._pending: list = []
        self._last_emit = 0.0

    def _on_batch(self, info) -> None:
        self._pending.append(info)
        now = time.monotonic()
        if now - self._last_emit >= EMIT_INTERVAL:
            self._flush(now)

    def _flush(self, now: float | None = None) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self.progress.emit(pending)
        self._last_emit = time.monotonic() if now is None else now

    def _on_epoch(self, info) -> None:
        self._flush()
        self.epoch.emit(info)

    def _on_weights(self, snap) -> None:
        self.weights.emit(snap)  # once per epoch; the copies belong to the receiver

    @Slot()
    def run(self) -> None:
        import torch

        torch.set_num_threads(train_threads())  # this thread's own OpenMP setting
        try:
            if self.task is not None:
                result = self.task(self._on_batch, self._on_epoch, self.note.emit, self.stop_event, self.pause_event)
            else:
                result = engine.train(
                    self.config,
                    on_batch=self._on_batch,
                    on_epoch=self._on_epoch,
                    on_note=self.note.emit,
                    on_weights=self._on_weights,
                    stop_event=self.stop_event,
                    pause_event=self.pause_event,
                    init=self.init,
                )
        except Exception as e:  # every failure reaches the panel; the app keeps running
            self._flush()
            self.errored.emit(e)
        else:
            self._flush()
            self.done.emit(result)


def failure_message(error: BaseException) -> str:
    """What to tell a person about a run that failed with ``error``."""
    if isinstance(error, (engine.MnistDesktopError, ValueError)):  # ValueError: settings the engine refuses
        return str(error)
    if isinstance(error, MemoryError):
        return "Out of memory. Try a smaller batch size or a smaller model."
    return f"Training failed unexpectedly: {type(error).__name__}: {error}"
