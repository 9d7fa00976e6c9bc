"""The training panel and the worker that runs the engine's trainer in a QThread.

The worker only wraps ``mnist_desktop.model.train``: the engine's callbacks run in the
training thread and append plain floats to a buffer, which crosses to the GUI as one
queued signal at most every ``EMIT_INTERVAL`` seconds. The panel accumulates what arrives
and redraws its plot from a QTimer, so neither the signal queue nor the plot can flood
the event loop. Stop sets a ``threading.Event`` the trainer checks every batch.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import sys
import threading
import time

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QEvent, QObject, QSettings, QSize, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import model as engine

from .theme import GRAY, palette_color, style_plot_widget

# Threads for training, taken before the GUI thread drops to one (see MainWindow): torch's
# OpenMP thread count is per thread, so the trainer keeps every core and the GUI thread's
# tiny 28×28 inferences do not wait on a team of threads the trainer keeps busy.
TRAIN_THREADS = torch.get_num_threads()
LOG_EVERY = 1  # the plot shows every batch's loss; the worker coalesces them to 20 signals/s
EMIT_INTERVAL = 0.05  # seconds between progress signals: at most 20 per second
PLOT_INTERVAL_MS = 50  # the plot redraws at most 20 times per second
SMOOTHING = 0.8  # exponential moving average of the batch loss (debiased)


class TrainingWorker(QObject):
    """Runs ``engine.train(config)`` in whatever thread it lives in; reports by signals.

    Every payload is built from plain Python floats in the training thread, so nothing
    that crosses the thread boundary is a tensor the trainer still writes to.
    """

    batches = Signal(object)  # list[tuple]: (epoch, epochs, step, total_steps, batch, batches_per_epoch, loss, lr, samples_per_s)
    epoch = Signal(object)  # dict of floats
    note = Signal(str)
    done = Signal(object)  # TrainResult (its predictor is an independent CPU copy)
    failed = Signal(str)

    def __init__(self, config, stop_event: threading.Event | None = None):
        super().__init__()
        self.config = config
        self.stop_event = stop_event or threading.Event()
        self._pending: list[tuple] = []
        self._last_emit = 0.0

    def _on_batch(self, b) -> None:
        self._pending.append(
            (
                int(b.epoch),
                int(b.epochs),
                int(b.step),
                int(b.total_steps),
                int(b.batch),
                int(b.batches_per_epoch),
                float(b.loss),
                float(b.lr),
                float(b.samples_per_s),
            )
        )
        now = time.monotonic()
        if now - self._last_emit >= EMIT_INTERVAL:
            self._flush(now)

    def _flush(self, now: float | None = None) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self.batches.emit(pending)
        self._last_emit = time.monotonic() if now is None else now

    def _on_epoch(self, e) -> None:
        self._flush()
        self.epoch.emit(
            {
                "epoch": int(e.epoch),
                "epochs": int(e.epochs),
                "train_loss": float(e.train_loss),
                "valid_loss": float(e.valid_loss),
                "valid_accuracy": float(e.valid_accuracy),
                "seconds": float(e.seconds),
            }
        )

    def _on_note(self, text: str) -> None:
        self.note.emit(str(text))

    @Slot()
    def run(self) -> None:
        try:
            _lower_this_threads_priority()
            torch.set_num_threads(TRAIN_THREADS)  # this thread's own OpenMP setting
            result = engine.train(
                self.config,
                on_batch=self._on_batch,
                on_epoch=self._on_epoch,
                on_note=self._on_note,
                stop_event=self.stop_event,
            )
        except (engine.MnistDesktopError, ValueError) as e:  # ValueError: settings the engine refuses
            self._flush()
            self.failed.emit(str(e))
        except MemoryError:
            self._flush()
            self.failed.emit("Out of memory. Try a smaller batch size or a smaller model.")
        except Exception as e:  # a bug: report it, keep the app alive
            self._flush()
            self.failed.emit(f"Training failed unexpectedly: {type(e).__name__}: {e}")
        else:
            self._flush()
            self.done.emit(result)


class _LossPlot(pg.PlotWidget):
    """A PlotWidget that asks for little height and takes whatever is left.

    PlotWidget's own size hint (480 px tall) made the dock's scroll area reserve the hint,
    not the minimum: in an 800-px window the plot's lower half sat below the fold.
    """

    def sizeHint(self) -> QSize:
        return QSize(320, 220)


TRAIN_NICENESS = 5


def _lower_this_threads_priority() -> None:
    """Let the GUI thread win the CPU whenever it has work; training still uses every idle cycle.

    On Linux the nice value is per thread, and the OpenMP threads torch starts from this
    thread inherit it. Elsewhere QThread.LowPriority (set at start) does the same job.
    """
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + TRAIN_NICENESS))
        except (OSError, AttributeError):
            pass


def _tip(widget: QWidget, text: str) -> QWidget:
    widget.setToolTip(text)
    widget.setWhatsThis(text)
    return widget


class TrainingPanel(QWidget):
    """Hyperparameters, Train / Stop, progress and the live loss plot."""

    started = Signal()
    finished = Signal(object)  # TrainResult, or None after a failure
    modelTrained = Signal(object)  # the new Predictor
    plotUpdated = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("training")
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._stop_event: threading.Event | None = None
        self._restoring = False
        self._shut_down = False
        self.last_result = None
        self._build_controls()
        self._build_plot()
        self._reset_series()
        self._timer = QTimer(self)
        self._timer.setInterval(PLOT_INTERVAL_MS)
        self._timer.timeout.connect(self._refresh)
        self.set_config(engine.recommended_config())  # the default recipe: a CNN on all digits

    # ------------------------------------------------------------------ building
    def _build_controls(self) -> None:
        self.task = QComboBox(objectName="task")
        for t in engine.TASKS.values():
            self.task.addItem(t.label, t.name)
        _tip(self.task, "Which digits to learn: the chapter's first problem (3 vs 7) or all ten digits.")
        self.arch = QComboBox(objectName="arch")
        for a in engine.ARCHITECTURES.values():
            self.arch.addItem(a.label, a.name)
            self.arch.setItemData(self.arch.count() - 1, a.description, Qt.ItemDataRole.ToolTipRole)
        _tip(self.arch, "The model: pixel similarity (mean images, no SGD), a linear model, a small MLP, or a CNN.")
        self.arch_note = QLabel(wordWrap=True)
        self.loss = QComboBox(objectName="loss")
        for l in engine.LOSSES.values():
            self.loss.addItem(l.label, l.name)
            self.loss.setItemData(self.loss.count() - 1, l.description, Qt.ItemDataRole.ToolTipRole)
        _tip(self.loss, "What SGD minimises. mnist_loss works for two classes only; accuracy shows why a loss needs a gradient.")
        self.loss_note = QLabel(wordWrap=True, objectName="loss_note")
        self.lr = QDoubleSpinBox(objectName="lr", decimals=4, minimum=0.0001, maximum=10.0, singleStep=0.01)
        self.lr.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        _tip(self.lr, "SGD learning rate: how far each step moves the weights along the negative gradient.")
        self.momentum = QDoubleSpinBox(objectName="momentum", decimals=2, minimum=0.0, maximum=0.99, singleStep=0.05)
        _tip(self.momentum, "SGD momentum: how much of the previous step is added to the next (0 = plain SGD).")
        self.batch_size = QSpinBox(objectName="batch_size", minimum=0, maximum=60000, singleStep=32)
        self.batch_size.setSpecialValueText("Full batch (gradient descent)")
        _tip(self.batch_size, "Images per SGD step. 0 = the whole training set in one step: plain gradient descent.")
        self.epochs = QSpinBox(objectName="epochs", minimum=1, maximum=100)
        _tip(self.epochs, "How many times training goes through the whole training set.")
        self.device = QComboBox(objectName="device")
        self.device.addItem("Auto", "auto")
        for d in engine.available_devices():
            self.device.addItem(d.upper() if d != "cpu" else "CPU", d)
        _tip(self.device, "Where training runs. Auto picks the fastest device this machine has.")

        self.train_button = QPushButton("Train", objectName="train_button")
        _tip(self.train_button, "Train a new model with these settings; it becomes the active model when done.")
        self.stop_button = QPushButton("Stop", objectName="stop_button", enabled=False)
        _tip(self.stop_button, "Stop training after the current batch; the model so far becomes active.")
        self.progress = QProgressBar(objectName="train_progress", minimum=0, maximum=1, value=0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Not training")
        _tip(self.progress, "Epoch, batch, training speed (samples per second) and the estimated time left.")
        self.message = QLabel(wordWrap=True, objectName="train_message")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        for combo in (self.task, self.arch):
            combo.currentIndexChanged.connect(self._on_task_or_arch_changed)
        self.loss.currentIndexChanged.connect(self._on_loss_changed)
        self.train_button.clicked.connect(self.train)
        self.stop_button.clicked.connect(self.stop)

        form = QFormLayout()
        form.addRow("Task", self.task)
        form.addRow("Architecture", self.arch)
        form.addRow("", self.arch_note)
        form.addRow("Loss", self.loss)
        form.addRow("", self.loss_note)
        form.addRow("Learning rate", self.lr)
        form.addRow("Momentum", self.momentum)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("Device", self.device)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        self._layout = QVBoxLayout(self)
        self._layout.addLayout(form)
        self._layout.addLayout(buttons)
        self._layout.addWidget(self.progress)
        self._layout.addWidget(self.message)

    def _build_plot(self) -> None:
        self.plot = _LossPlot()
        self.plot.setObjectName("loss_plot")
        self.plot.setMinimumHeight(160)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.plot.setToolTip(
            "Training loss per logged batch (faint: raw, bold: smoothed), validation loss (circles)\n"
            "and validation accuracy (squares, right axis) per epoch. x: epochs."
        )
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "epoch")
        for axis in ("bottom", "left"):  # plain numbers, not "epoch (x0.001)"
            item.getAxis(axis).enableAutoSIPrefix(False)
        item.setLabel("left", "loss")
        # No grid: pyqtgraph's grid costs ~5 ms a repaint, a third of a frame (see bench).
        item.addLegend(offset=(-10, 10))
        item.setMenuEnabled(False)
        item.setClipToView(True)
        self.raw_curve = item.plot(name="batch loss")
        self.smooth_curve = item.plot(name="smoothed")
        self.valid_curve = item.plot(name="valid loss", symbol="o", symbolSize=7)
        # Accuracy on a second y axis (0–1) on the right.
        self.acc_view = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(self.acc_view)
        item.getAxis("right").linkToView(self.acc_view)
        item.getAxis("right").setLabel("valid accuracy")
        self.acc_view.setXLink(item)
        self.acc_view.setYRange(0, 1, padding=0.02)
        self.acc_view.setMouseEnabled(False, False)
        self.acc_curve = pg.PlotDataItem(symbol="s", symbolSize=7, name="valid accuracy")
        self.acc_view.addItem(self.acc_curve)
        item.legend.addItem(self.acc_curve, "valid accuracy")
        item.vb.sigResized.connect(self._sync_views)
        self._style_plot()
        self._layout.addWidget(self.plot, 1)

        # Pixel similarity: the mean images it "learned".
        self.means_title = QLabel("Mean images: the ideal digit of each class, the model's only parameters")
        self.means_title.setWordWrap(True)
        self.means_view = pg.GraphicsLayoutWidget()
        self.means_view.setObjectName("means_view")
        self.means_view.setFixedHeight(90)
        self.means_box = self.means_view.addViewBox(lockAspect=True, enableMouse=False, invertY=True)
        self.means_image = pg.ImageItem(axisOrder="row-major")
        self.means_image.setLookupTable(GRAY)
        self.means_box.addItem(self.means_image)
        self.means_view.setBackground(palette_color(self, QPalette.ColorRole.Base))
        self._layout.addWidget(self.means_title)
        self._layout.addWidget(self.means_view)
        self.means_title.hide()
        self.means_view.hide()

    def _sync_views(self) -> None:
        vb = self.plot.getPlotItem().vb
        self.acc_view.setGeometry(vb.sceneBoundingRect())
        self.acc_view.linkedViewChanged(vb, self.acc_view.XAxis)

    def _style_plot(self) -> None:
        style_plot_widget(self.plot, self)
        text = palette_color(self, QPalette.ColorRole.Text, 70)
        self.raw_curve.setPen(pg.mkPen(text, width=1))
        self.smooth_curve.setPen(pg.mkPen(palette_color(self, QPalette.ColorRole.Highlight), width=2.5))
        orange, green = pg.mkColor(230, 120, 20), pg.mkColor(40, 160, 70)
        self.valid_curve.setPen(pg.mkPen(orange, width=2))
        self.valid_curve.setSymbolBrush(orange)
        self.valid_curve.setSymbolPen(orange)
        self.acc_curve.setPen(pg.mkPen(green, width=2, style=Qt.PenStyle.DashLine))
        self.acc_curve.setSymbolBrush(green)
        self.acc_curve.setSymbolPen(green)
        if hasattr(self, "means_view"):
            self.means_view.setBackground(palette_color(self, QPalette.ColorRole.Base))

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "plot"):
            self._style_plot()
        super().changeEvent(event)

    # ------------------------------------------------------------------ settings
    def config(self):
        """The TrainConfig the controls describe (not validated)."""
        base = engine.recommended_config(self.task.currentData(), self.arch.currentData())
        return dataclasses.replace(
            base,
            task=self.task.currentData(),
            arch=self.arch.currentData(),
            loss=self.loss.currentData(),
            lr=float(self.lr.value()),
            momentum=float(self.momentum.value()),
            batch_size=int(self.batch_size.value()),
            epochs=int(self.epochs.value()),
            device=self.device.currentData(),
            log_every=LOG_EVERY,
        )

    def set_config(self, config) -> None:
        """Show ``config`` in the controls."""
        self._restoring = True
        try:
            _select(self.task, config.task)
            _select(self.arch, config.arch)
            self._update_enabled()
            _select(self.loss, config.loss)
            self.lr.setValue(config.lr)
            self.momentum.setValue(config.momentum)
            self.batch_size.setValue(config.batch_size)
            self.epochs.setValue(config.epochs)
            _select(self.device, config.device)
        finally:
            self._restoring = False
        self._update_enabled()
        self._on_loss_changed()

    def save_settings(self, s: QSettings) -> None:
        c = self.config()
        s.beginGroup("training")
        for key in ("task", "arch", "loss", "lr", "momentum", "batch_size", "epochs", "device"):
            s.setValue(key, getattr(c, key))
        s.endGroup()

    def restore_settings(self, s: QSettings) -> None:
        s.beginGroup("training")
        try:
            task, arch = s.value("task"), s.value("arch")
            if task not in engine.TASKS or arch not in engine.ARCHITECTURES:
                return
            c = engine.recommended_config(task, arch)
            kinds = {"loss": str, "lr": float, "momentum": float, "batch_size": int, "epochs": int, "device": str}
            values = {}
            for key, kind in kinds.items():
                v = s.value(key)
                if v is not None:
                    try:
                        values[key] = kind(v)
                    except (TypeError, ValueError):
                        pass
            self.set_config(dataclasses.replace(c, **values))
        finally:
            s.endGroup()

    def _on_task_or_arch_changed(self) -> None:
        self._update_enabled()
        if not self._restoring:  # the recipe for this task and model, on the device the user chose
            recipe = engine.recommended_config(self.task.currentData(), self.arch.currentData())
            self.set_config(dataclasses.replace(recipe, device=self.device.currentData() or recipe.device))

    def _update_enabled(self) -> None:
        arch = engine.ARCHITECTURES[self.arch.currentData()]
        self.arch_note.setText(arch.description)
        binary = len(engine.TASKS[self.task.currentData()].classes) == 2
        model = self.loss.model()
        for i in range(self.loss.count()):
            loss = engine.LOSSES[self.loss.itemData(i)]
            item = model.item(i)
            item.setEnabled(binary or not loss.binary_only)
        if not binary and engine.LOSSES[self.loss.currentData()].binary_only:
            _select(self.loss, "cross-entropy")
        sgd = arch.trainable
        for w in (self.loss, self.lr, self.momentum, self.batch_size, self.epochs):
            w.setEnabled(sgd and not self.is_training())
        for w in (self.task, self.arch, self.device):
            w.setEnabled(not self.is_training())

    def _on_loss_changed(self) -> None:
        name = self.loss.currentData()
        if name is None:
            return
        text = engine.LOSSES[name].description
        if name == "accuracy":
            text = "⚠ " + text
        self.loss_note.setText(text)

    # ------------------------------------------------------------------ training
    def is_training(self) -> bool:
        return self._thread is not None

    @Slot()
    def train(self) -> None:
        """Train with the settings in the controls (the Train button)."""
        self.start()

    def start(self, config=None) -> bool:
        """Start training ``config`` (default: the controls). False if it could not start."""
        if self.is_training():
            return False
        config = config if config is not None else self.config()
        try:
            config.validate()
        except ValueError as e:
            self.show_message(str(e), error=True)
            return False
        self._reset_series()
        self.last_result = None
        self._config = config
        self._stop_event = threading.Event()
        self._thread = QThread(self)
        self._thread.setObjectName("training-thread")
        self._worker = TrainingWorker(config, self._stop_event)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.batches.connect(self._on_batches)
        self._worker.epoch.connect(self._on_epoch)
        self._worker.note.connect(self._on_note)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._worker.done.connect(self._thread.quit)
        self._worker.failed.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)
        self.train_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._update_enabled()
        self.progress.setRange(0, 0)  # busy until the first batch tells the total
        self.progress.setFormat("Loading data…")
        self.show_message("")
        self._started_at = time.monotonic()
        self._thread.start(QThread.Priority.LowPriority)
        self._timer.start()
        self.started.emit()
        return True

    @Slot()
    def stop(self) -> None:
        if self._stop_event is not None and not self._stop_event.is_set():
            self._stop_event.set()
            self.stop_button.setEnabled(False)
            self.progress.setFormat(self.progress.format() + " — stopping…")

    def shutdown(self) -> None:
        """Stop training and wait for the thread (call before the window goes away)."""
        self._shut_down = True  # signals still queued from the worker are ignored from now on
        if self._thread is None:
            return
        self._stop_event.set()
        self._thread.quit()
        self._thread.wait()
        self._timer.stop()
        self._cleanup_thread()

    def _cleanup_thread(self) -> None:
        if self._thread is None:
            return
        self._worker.deleteLater()  # its connections go with it
        self._thread.deleteLater()
        self._worker = self._thread = self._stop_event = None

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._shut_down:
            return
        self._cleanup_thread()
        self._timer.stop()
        self._refresh(force=True)
        self.train_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self._update_enabled()
        # Emitted once the thread is gone, so listeners see the panel ready to train again.
        self.finished.emit(self.last_result)

    @Slot(object)
    def _on_batches(self, rows: list) -> None:
        if self._shut_down:
            return
        for epoch, epochs, step, total, batch, per_epoch, loss, lr, sps in rows:
            x = (epoch - 1) + batch / max(1, per_epoch) if epoch >= 1 else step / max(1, per_epoch)
            self._x.append(x)
            self._loss.append(loss)
            self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * loss
            self._ema_n += 1
            self._smooth.append(self._ema / (1 - SMOOTHING**self._ema_n))
            self._speeds.append(sps)
        self._last_batch = rows[-1]
        self._dirty = True

    @Slot(object)
    def _on_epoch(self, info: dict) -> None:
        if self._shut_down:
            return
        self._epochs.append(info)
        self._dirty = True

    @Slot(str)
    def _on_note(self, text: str) -> None:
        if self._shut_down:
            return
        self.show_message(text)

    @Slot(object)
    def _on_done(self, result) -> None:
        if self._shut_down:
            return
        self.last_result = result
        if result.stopped and not result.history:
            self.show_message("Stopped before the first batch: the active model is unchanged.")
            return
        acc = (result.metrics or {}).get("valid_accuracy")
        text = "Stopped" if result.stopped else "Done"
        if isinstance(acc, float) and math.isfinite(acc):
            text += f": validation accuracy {100 * acc:.2f} %"
        text += ". The new model is active (File → Save model keeps it)."
        self.show_message("\n".join([text, *(result.notes or [])]))
        self._show_means(result.predictor)
        self.modelTrained.emit(result.predictor)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._shut_down:
            return
        self.last_result = None
        self._failed = True
        self.show_message(message, error=True)
        self.progress.setFormat("Failed")

    def show_message(self, text: str, error: bool = False) -> None:
        if error and text:
            text = "⚠ " + text
        f = self.message.font()
        f.setBold(error)
        self.message.setFont(f)
        self.message.setText(text)
        self.message.setProperty("error", error)

    def _show_means(self, predictor) -> None:
        means = None
        if predictor is not None and predictor.arch == "pixel-similarity":
            for w in predictor.layer_weights().values():
                if np.ndim(w) == 3 and tuple(np.shape(w)[1:]) == (28, 28):
                    means = w
        show = means is not None
        if show:
            means = np.asarray(means, dtype=np.float32)
            tiles = [np.pad(m, 1) for m in means]
            mosaic = np.ascontiguousarray(np.concatenate(tiles, axis=1))
            self.means_image.setImage(mosaic, levels=(0.0, 1.0), autoLevels=False)
            self.means_box.autoRange(padding=0)
            labels = ", ".join(str(c) for c in predictor.classes)
            self.means_title.setText(f"Mean images of {labels}: the ideal digits, the model's only parameters")
        self.means_title.setVisible(show)
        self.means_view.setVisible(show)

    # ------------------------------------------------------------------ display
    def _reset_series(self) -> None:
        self._failed = False
        self._x: list[float] = []
        self._loss: list[float] = []
        self._smooth: list[float] = []
        self._ema, self._ema_n = 0.0, 0
        self._speeds: collections.deque[float] = collections.deque(maxlen=50)  # one batch's speed is noisy
        self._epochs: list[dict] = []
        self._last_batch = None
        self._dirty = True
        self._refresh(force=True)

    @Slot()
    def _refresh(self, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        x = np.asarray(self._x, dtype=np.float64)
        self.raw_curve.setData(x, np.asarray(self._loss, dtype=np.float64))
        self.smooth_curve.setData(x, np.asarray(self._smooth, dtype=np.float64))
        ex = np.asarray([e["epoch"] for e in self._epochs], dtype=np.float64)
        self.valid_curve.setData(ex, np.asarray([e["valid_loss"] for e in self._epochs], dtype=np.float64))
        self.acc_curve.setData(ex, np.asarray([e["valid_accuracy"] for e in self._epochs], dtype=np.float64))
        self._update_progress()
        self.plotUpdated.emit()

    def _update_progress(self) -> None:
        b = self._last_batch
        if b is None:
            if not self.is_training():
                self.progress.setRange(0, 1)
                done = self.last_result is not None and not self.last_result.stopped
                self.progress.setValue(1 if done else 0)
                self.progress.setFormat("Failed" if self._failed else "Done" if done else "Stopped" if self.last_result else "Not training")
            return
        epoch, epochs, step, total, batch, per_epoch, loss, lr, _ = b
        sps = float(np.median(self._speeds)) if self._speeds else float("nan")
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(step, total))
        if self.is_training():
            elapsed = time.monotonic() - self._started_at
            left = elapsed * (total - step) / step if step > 0 else float("nan")
            eta = _duration(left)
            stopping = " — stopping…" if self._stop_event is not None and self._stop_event.is_set() else ""
            self.progress.setFormat(
                f"Epoch {epoch}/{epochs} · batch {batch}/{per_epoch} · {sps:,.0f} samples/s · {eta} left{stopping}"
            )
        else:
            state = "Stopped" if self.last_result is not None and self.last_result.stopped else "Done"
            if self._failed:
                state = "Failed"
            elif self.last_result is None:
                state = "Ended"
            self.progress.setFormat(f"{state} · epoch {epoch}/{epochs} · batch {batch}/{per_epoch} · {sps:,.0f} samples/s")

    # series, for tests and the bench
    def batch_losses(self) -> list[float]:
        return list(self._loss)

    def epoch_results(self) -> list[dict]:
        return list(self._epochs)


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _select(combo: QComboBox, data) -> None:
    i = combo.findData(data)
    if i >= 0:
        combo.setCurrentIndex(i)
