"""What a live view of training shows, computed without Qt: the loss curve (raw and smoothed,
bounded in size), the speed as a moving average over seconds, and the time left.

The training panel feeds it the trainer's :class:`BatchInfo` and :class:`EpochInfo` reports
and draws what it holds; a test feeds it numbers.
"""

from __future__ import annotations

import collections
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: the training panel is built before torch has loaded
    from .training import BatchInfo, EpochInfo


class BoundedSeries:
    """Points for a live plot, never more than ``capacity``.

    Every point is kept until the series is full; then neighbours are merged in pairs (the
    mean of their x and of their y), and from then on each plotted point stands for twice as
    many reports. A run of millions of steps costs the same per redraw at its end as at its
    start; the run's whole history stays in the trainer's reports, not in the plot.
    """

    def __init__(self, capacity: int = 2000):
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self.per_point = 1  # reports averaged into each stored point
        self._x: list[float] = []
        self._y: list[float] = []
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0

    def append(self, x: float, y: float) -> None:
        self._acc_x += x
        self._acc_y += y
        self._acc_n += 1
        if self._acc_n < self.per_point:
            return
        self._x.append(self._acc_x / self._acc_n)
        self._y.append(self._acc_y / self._acc_n)
        self._acc_x = self._acc_y = 0.0
        self._acc_n = 0
        if len(self._x) >= self.capacity:
            self._x = [(a + b) / 2 for a, b in zip(self._x[::2], self._x[1::2])] + self._x[len(self._x) // 2 * 2 :]
            self._y = [(a + b) / 2 for a, b in zip(self._y[::2], self._y[1::2])] + self._y[len(self._y) // 2 * 2 :]
            self.per_point *= 2

    def __len__(self) -> int:
        return len(self._x) + (1 if self._acc_n else 0)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y as float64 arrays, the partly filled last point included."""
        x, y = list(self._x), list(self._y)
        if self._acc_n:
            x.append(self._acc_x / self._acc_n)
            y.append(self._acc_y / self._acc_n)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


class TrainingProgress:
    """The state of one run as a person watches it.

    * ``loss`` and ``smoothed``: the reported batch losses against epochs (x = epochs done),
      and their exponential moving average (debiased, as fastai's ``SmoothenValue``);
    * ``speed()``: samples per second over the last ``window`` seconds of training (pauses
      are not training: the trainer's own per-report speed leaves them out);
    * ``seconds_left()``: the samples still to go at that speed.
    """

    def __init__(self, smoothing: float = 0.8, window: float = 5.0, capacity: int = 2000):
        self.smoothing = smoothing
        self.window = window
        self.loss = BoundedSeries(capacity)
        self.smoothed = BoundedSeries(capacity)
        self.epochs: list[EpochInfo] = []
        self.epoch_x: list[float] = []  # where each evaluation goes on the x axis (epochs done)
        self.last: BatchInfo | None = None
        self._ema, self._ema_n = 0.0, 0
        self._reports: collections.deque[tuple[float, float]] = collections.deque()  # (samples, seconds)
        self._window_seconds = 0.0

    def add_batch(self, info: BatchInfo) -> None:
        per_epoch = max(1, info.batches_per_epoch)
        x = (info.epoch - 1) + info.batch / per_epoch
        self.loss.append(x, info.loss)
        self._ema_n += 1
        self._ema = self.smoothing * self._ema + (1 - self.smoothing) * info.loss
        self.smoothed.append(x, self._ema / (1 - self.smoothing**self._ema_n))
        samples = info.samples - (self.last.samples if self.last is not None else 0)
        if samples > 0 and info.samples_per_s > 0 and math.isfinite(info.samples_per_s):
            seconds = samples / info.samples_per_s
            self._reports.append((samples, seconds))
            self._window_seconds += seconds
            while len(self._reports) > 1 and self._window_seconds - self._reports[0][1] >= self.window:
                self._window_seconds -= self._reports.popleft()[1]
        self.last = info

    def add_epoch(self, info: EpochInfo) -> None:
        """An evaluation: at the end of its epoch, or where the run stopped within it."""
        self.epochs.append(info)
        b = self.last
        partial = b is not None and b.epoch == info.epoch and b.batch < b.batches_per_epoch
        self.epoch_x.append((b.epoch - 1) + b.batch / max(1, b.batches_per_epoch) if partial else float(info.epoch))

    @property
    def measured_seconds(self) -> float:
        """Seconds of training in the current speed window (0 before any report)."""
        return self._window_seconds

    def speed(self) -> float:
        """Samples per second over the last ``window`` seconds of training (NaN before any)."""
        if not self._reports or self._window_seconds <= 0:
            return float("nan")
        return sum(s for s, _ in self._reports) / self._window_seconds

    def seconds_left(self) -> float:
        b = self.last
        if b is None or b.step <= 0:
            return float("nan")
        per_step = b.samples / b.step
        return (b.total_steps - b.step) * per_step / self.speed()


ACC_PADDING = 0.002  # an accuracy axis shows at least ±0.2 % around its values


def accuracy_range(accuracies) -> tuple[float, float]:
    """An axis range for these accuracies (fractions): their span, padded, within 0–1, so
    that 98.6 % and 99.2 % lie far apart. (0, 1) when there are none."""
    a = np.asarray(accuracies, dtype=np.float64)
    a = a[np.isfinite(a)]
    if not len(a):
        return 0.0, 1.0
    lo, hi = float(a.min()), float(a.max())
    pad = max(ACC_PADDING, 0.15 * (hi - lo))
    return max(0.0, lo - pad), min(1.0, hi + pad)


PARTIAL_MARK = "*"  # after the epoch of a row whose epoch was stopped part-way; partial_note() says how far


def epoch_table(epochs, losses: bool = True) -> list[tuple[str, ...]]:
    """The per-epoch figures as rows of text, a header first: epoch, train and valid loss
    (left out with ``losses=False``: a model that minimises no loss), valid accuracy, time.

    An epoch stopped part-way is marked ``2/2*``, a cell as narrow as the others (the table's
    cells do not wrap: "2/2 (stopped: 277/469 batches)" made it wider than the Training dock);
    :func:`partial_note` gives the footnote that says how many batches ran."""
    header = ("epoch", "train loss", "valid loss", "valid accuracy", "time") if losses else ("epoch", "valid accuracy", "time")
    rows = [header]
    for e in epochs:
        acc = f"{100 * e.valid_accuracy:.2f} %" if math.isfinite(e.valid_accuracy) else "–"
        seconds = f"{e.seconds:.1f} s"
        epoch = f"{e.epoch}/{e.epochs}" + (PARTIAL_MARK if getattr(e, "partial", False) else "")
        if losses:
            rows.append((epoch, f"{e.train_loss:.4f}", f"{e.valid_loss:.4f}", acc, seconds))
        else:
            rows.append((epoch, acc, seconds))
    return rows


def partial_note(epochs) -> str | None:
    """The footnote of :func:`epoch_table` for its epochs: how much of an epoch stopped part-way
    was trained (only a run's last epoch can be); None when every epoch is whole."""
    e = epochs[-1] if len(epochs) else None
    if e is None or not getattr(e, "partial", False):
        return None
    return (
        f"{PARTIAL_MARK} Stopped in epoch {e.epoch} after {e.batches_done:,} of its {e.batches:,} batches: "
        "its figures are of those batches."
    )


def format_duration(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``); ``?`` for a time not known yet."""
    if not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(round(max(seconds, 0.0))), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


SLOW = 0.5  # a run at under half this machine's usual speed for the same model is worth a word
USUAL_WEIGHT = 0.3  # how much the latest complete run moves the usual speed (a moving average)


def usual_speed(previous: float | None, measured: float) -> float:
    """This machine's usual speed for a model and batch size after one more run at ``measured``."""
    if previous is None or not math.isfinite(previous) or previous <= 0:
        return measured
    return (1 - USUAL_WEIGHT) * previous + USUAL_WEIGHT * measured


def speed_note(speed: float, usual: float | None, load: float | None = None, cores: int | None = None) -> str | None:
    """A sentence for a run that goes at under half ``usual`` (samples/s of earlier runs of the
    same model and batch size on this machine), with the likely reason; None otherwise. ``load``
    (the 1-minute load average) and ``cores``, when known, say whether other programs are busy."""
    if usual is None or not (math.isfinite(speed) and math.isfinite(usual)) or usual <= 0 or speed >= SLOW * usual:
        return None
    text = f"Training runs at {100 * speed / usual:.0f} % of this machine's usual speed for this model ({speed:,.0f} vs {usual:,.0f} samples/s)"
    if load is not None and cores and load > cores:
        return text + f": the processor is busy (load {load:.1f} on {cores} cores), other programs are probably using it."
    return text + ": another program may be using the processor, or the computer is saving power."
