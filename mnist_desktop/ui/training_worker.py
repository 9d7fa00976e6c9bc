"""The worker that runs the engine's trainer in a worker thread and reports by signals.

It only wraps ``mnist_desktop.model.train``, on the one worker base (:class:`~.workers.Worker`):
the engine's callbacks run in the training thread, and their frozen :class:`BatchInfo`
reports (plain numbers) are collected and cross to the GUI as one queued ``progress`` signal
at most every ``EMIT_INTERVAL`` seconds. Each ``progress`` payload is a :class:`Report`: the
batches since the last one, an epoch's figures, a weight snapshot or a note. Stop (the
worker's ``cancel``) and pause are ``threading.Event``s the trainer checks between batches: a
busy worker never runs queued slots, so they cannot be slots.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from mnist_desktop import model as engine

from .workers import Worker

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


@dataclass(frozen=True)
class Report:
    """One ``progress`` payload of a run: ``kind`` says what ``value`` is: "batches" (the
    BatchInfo list since the last report), "epoch" (an EpochInfo), "weights" (a WeightSnapshot:
    copies of each layer's weights, at the start and after each epoch; they belong to the
    receiver) or "note" (a line to show)."""

    kind: Literal["batches", "epoch", "weights", "note"]
    value: Any


class TrainingWorker(Worker):
    """Runs ``engine.train(config, init=init)`` in its worker thread, or ``task``: any callable
    ``task(on_batch, on_epoch, on_note, stop_event, pause_event) -> TrainResult`` (fine-tuning
    on My digits), with the same reports, stop and pause. ``finished`` carries the TrainResult
    (its predictor is an independent CPU copy); ``failed`` what to tell a person."""

    def __init__(self, config, pause_event: threading.Event, init=None, task=None, generation: int = 0):
        from mnist_desktop.model.training import StopEvent  # torch is loaded: the worker only exists then

        super().__init__(generation, StopEvent())  # closing the window abandons the run: no last validation
        self.config = config
        self.task = task
        self.init = init
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
            self.report(Report("batches", pending))
        self._last_emit = time.monotonic() if now is None else now

    def _on_epoch(self, info) -> None:
        self._flush()
        self.report(Report("epoch", info))

    def _on_weights(self, snap) -> None:
        self.report(Report("weights", snap))  # once per epoch

    def _on_note(self, text: str) -> None:
        self.report(Report("note", text))

    def work(self):
        import torch

        torch.set_num_threads(train_threads())  # this thread's own OpenMP setting
        try:
            if self.task is not None:
                result = self.task(self._on_batch, self._on_epoch, self._on_note, self.cancel_event, self.pause_event)
            else:
                result = engine.train(
                    self.config,
                    on_batch=self._on_batch,
                    on_epoch=self._on_epoch,
                    on_note=self._on_note,
                    on_weights=self._on_weights,
                    stop_event=self.cancel_event,
                    pause_event=self.pause_event,
                    init=self.init,
                )
        finally:
            self._flush()  # the last batches before the result or the failure
        if not self.cancelled():  # a stopped run (or the window closing) is not shown at once
            prepare_for_window(result)
        return result

    def failure(self, error: Exception) -> str:
        return failure_message(error)


def prepare_for_window(result) -> None:
    """What the window computes when a model becomes active, computed here in the trainer's
    thread while the model is not yet shown: its Activations colour levels (the engine keeps
    them with the model), which took ~30 ms of the GUI thread at the end of every run. Best
    effort: if it fails, the panel computes them when it shows the model, as for any other."""
    predictor = getattr(result, "predictor", None)
    if predictor is None:
        return
    try:
        engine.reference_levels(predictor)
    except Exception:  # noqa: BLE001 — the run succeeded; the panel computes the levels later
        pass


def failure_message(error: BaseException) -> str:
    """What to tell a person about a run that failed with ``error``."""
    if isinstance(error, (engine.MnistDesktopError, ValueError)):  # ValueError: settings the engine refuses
        return str(error)
    if isinstance(error, MemoryError):
        return "Out of memory. Try a smaller batch size or a smaller model."
    return f"Training failed unexpectedly: {type(error).__name__}: {error}"
