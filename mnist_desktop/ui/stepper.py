"""Step mode: SGD one phase at a time, the chapter's seven steps drawn as they happen.

The engine's :class:`~mnist_desktop.model.stepper.Stepper` does the work in a
:class:`StepperWorker` per request, in a worker thread (building it loads the data; a CNN's
batch may take longer than a frame), so the GUI thread only draws the :class:`StepState` snapshots that
come back: the phase strip, the batch with its predictions, the loss, the loss plot (a
point per batch) and, for the linear model, each class's weights and gradient as 28×28
heatmaps before and after the step.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import model as engine
from mnist_desktop.model.config import ARCHITECTURE_SPECS, LOSS_SPECS, TASKS, recommended_config

from .batch_shapes import BatchShapesView
from .captions import count_of
from .gallery import THUMB, Gallery
from .session import LOADING_PYTORCH
from .sigmoid_view import SigmoidView
from .theme import DIVERGING, labelled_plot, mouse_only, palette_color, set_message, style_plot_widget
from .training_worker import EMIT_INTERVAL, failure_message
from .workers import Worker, WorkerThreads

SEVEN_STEPS = ("init", "predict", "loss", "gradient", "step", "repeat", "stop")  # as engine.stepper.SEVEN_STEPS (torch-free here)
STEP_TIPS = {
    "init": "Initialise the weights at random.",
    "predict": "Predict: run the batch through the model.",
    "loss": "Loss: how wrong the predictions are, one number.",
    "gradient": "Gradient: how the loss changes as each weight changes (backward).",
    "step": "Step: move each weight against its gradient, by the learning rate times the gradient "
    "(with momentum and weight decay, where the settings have them).",
    "repeat": "Repeat: the next batch, from predict.",
    "stop": "Stop: the epochs are done (or the loss diverged).",
}
THUMBS = 512  # at most this many images of a batch are shown
# One OpenMP thread for stepping. A step is small (the chapter's batch is 256 × 784) and each
# phase ends in numpy copies, so a thread team spends more on waking and waiting than it saves
# and takes the cores the GUI thread needs: measured here (2 cores, busy), the CNN's 100
# batches to the end of an epoch took 2.3–3.5 s with one thread and 39–56 s with two, and the
# chapter's linear epoch 0.1 s against 0.4–1.9 s, with event-loop stalls of up to 130 ms.
STEP_THREADS = 1
DRAW_INTERVAL_MS = 90  # while running to the end of the epoch, the view redraws at most ~11 times a second
LOADING_TORCH = f"{LOADING_PYTORCH} Stepping starts as soon as it has loaded."


def chapter_config():
    """The chapter's setting: 3 vs 7, the linear model, mnist_loss, plain SGD at lr 1."""
    return recommended_config("3v7", "linear")


class StepperWorker(Worker):
    """One request, ``what`` ("phase", "batch" or "epoch"), on the engine's ``stepper`` (None:
    built first, from ``config``: the data is loaded then). ``finished`` carries (the Stepper,
    the StepState the request ended on); ``progress`` the StepStates of whole batches since the
    last one, while it runs to the end of the epoch. One request runs at a time: the Stepper
    goes from one worker's thread to the next, never used by two at once."""

    def __init__(self, generation: int, what: str, stepper, config, cancel_event: threading.Event):
        super().__init__(generation, cancel_event)
        self.what, self.stepper, self.config = what, stepper, config
        self._pending: list = []
        self._last_emit = 0.0

    def failure(self, error: Exception) -> str:
        return failure_message(error)

    def work(self):
        import torch

        torch.set_num_threads(STEP_THREADS)  # this thread's own OpenMP setting
        stepper = self.stepper if self.stepper is not None else engine.Stepper(self.config)
        if self.what == "phase":
            state = stepper.advance()
        elif self.what == "batch":
            state = stepper.finish_batch()
        else:
            self._last_emit = time.monotonic()
            state = stepper.finish_epoch(on_batch=self._on_batch, stop_event=self.cancel_event)
            self._flush()
        return stepper, state

    def _on_batch(self, state) -> None:
        self._pending.append(state)
        if time.monotonic() - self._last_emit >= EMIT_INTERVAL:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self.report(pending)
        self._last_emit = time.monotonic()


class StepperWidget(QWidget):
    """The training panel's Step mode (objectName ``stepper``)."""

    modelTrained = Signal(object)  # "Use this model": a Predictor of the model as it is now
    panelConfigRequested = Signal()  # "Settings from Train": the owner answers with set_config
    stateShown = Signal(object)  # a StepState was drawn (tests wait on it)

    def __init__(self, parent: QWidget | None = None, torch_ready: bool = True):
        super().__init__(parent)
        self.setObjectName("stepper")
        self.torch_ready = torch_ready
        self.config = chapter_config()
        self.state = None  # the StepState shown
        self.busy = False
        self._threads = WorkerThreads("stepper-thread", self)
        self._stepper = None  # the engine's Stepper of this run, while no request runs on it; None: from init
        self._stop_event = threading.Event()
        self._loss_x: list[float] = []
        self._loss_y: list[float] = []
        self._shown_batch = None  # the x array the gallery shows
        self._generation = 0  # a new one at each start over: what the worker sends of an older run is dropped
        self._pending = None  # the latest state of a run to the end of the epoch, not drawn yet
        self._timer = QTimer(self, interval=DRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._draw_pending)
        self._build()
        self._show_config()
        self._update_enabled()
        if not torch_ready:
            self.show_message(LOADING_TORCH)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.settings_label = QLabel(wordWrap=True, objectName="stepper_settings")
        self.lr = QDoubleSpinBox(objectName="stepper_lr", decimals=5, minimum=0.00001, maximum=1e7, singleStep=0.1)
        self.lr.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.lr.setToolTip("The learning rate. Changing it starts again from init. Try 1e6 with cross-entropy to see SGD diverge.")
        self.batch_size = QSpinBox(objectName="stepper_batch_size", minimum=0, maximum=60000, singleStep=32)
        self.batch_size.setSpecialValueText("Full batch")
        self.batch_size.setToolTip("Images per step (0: all of them: gradient descent). Changing it starts again from init.")
        self.from_panel_button = QPushButton("Settings from Train", objectName="stepper_from_panel")
        self.from_panel_button.setToolTip("Step through the settings of the Train mode (task, model, loss, optimiser).")
        self.chapter_button = QPushButton("The chapter's setting", objectName="stepper_chapter")
        self.chapter_button.setToolTip("3 vs 7, the linear model, mnist_loss, plain SGD with learning rate 1, batches of 256.")
        form = QFormLayout()
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch size", self.batch_size)
        presets = QHBoxLayout()
        presets.addWidget(self.chapter_button)
        presets.addWidget(self.from_panel_button)

        # The seven steps, the current one lit.
        self.strip = QWidget(objectName="step_strip")
        strip = QHBoxLayout(self.strip)
        strip.setContentsMargins(0, 0, 0, 0)
        strip.setSpacing(2)
        self.phase_labels: dict[str, QLabel] = {}
        for name in SEVEN_STEPS:
            label = QLabel(name, objectName=f"phase_{name}", alignment=Qt.AlignmentFlag.AlignCenter)
            label.setToolTip(STEP_TIPS[name])
            label.setProperty("lit", False)
            label.setMargin(3)
            self.phase_labels[name] = label
            strip.addWidget(label, 1)
        self._style_strip()

        self.phase_button = QPushButton("Next phase", objectName="step_phase")
        self.phase_button.setToolTip("Do the next of the seven steps (Space).")
        self.batch_button = QPushButton("Whole batch", objectName="step_batch")
        self.batch_button.setToolTip("Go on to the end of this batch's step.")
        self.epoch_button = QPushButton("To end of epoch", objectName="step_epoch")
        self.epoch_button.setToolTip("Whole batches to the end of this epoch, in the background (Stop ends it).")
        self.stop_button = QPushButton("Stop", objectName="step_stop")
        self.reset_button = QPushButton("Start over", objectName="step_reset")
        self.reset_button.setToolTip("Back to init: new random weights (the same seed), the first batch.")
        self.use_button = QPushButton("Use this model", objectName="step_use")
        self.use_button.setToolTip("Make the model as it is now the active model (Edit → Previous model undoes).")
        buttons = QGridLayout()
        for i, b in enumerate(
            (self.phase_button, self.batch_button, self.epoch_button, self.stop_button, self.reset_button, self.use_button)
        ):
            buttons.addWidget(b, i // 3, i % 3)
        self.shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.shortcut.setWhatsThis("Step mode: next phase")
        self.shortcut.activated.connect(self.step_phase)

        self.progress = QProgressBar(objectName="step_progress", minimum=0, maximum=1, value=0)
        self.progress.setTextVisible(True)
        self.loss_label = QLabel(objectName="step_loss")
        f = self.loss_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.3)
        f.setBold(True)
        self.loss_label.setFont(f)
        self.message = QLabel(wordWrap=True, objectName="step_message")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.batch_title = QLabel(objectName="step_batch_title", wordWrap=True)
        self.gallery = Gallery(caption_lines=1, canvas_action=False)
        self.gallery.setObjectName("step_gallery")
        line = self.gallery.fontMetrics().height()
        self.gallery.setGridSize(QSize(THUMB + 18, THUMB + 8 + line))  # captions are short: more per row
        self.gallery.setFixedHeight(2 * (THUMB + 8 + line) + 12)

        self.shapes = BatchShapesView()  # the chapter's stack / view / xb @ w + b, with this batch's shapes
        self.sigmoid = SigmoidView()  # the predictions before and after mnist_loss's sigmoid
        self.weights_title = QLabel(wordWrap=True, objectName="step_weights_title")
        self.weights_view = mouse_only(pg.GraphicsLayoutWidget())
        self.weights_view.setObjectName("step_weights")
        self.heatmaps: dict[str, pg.ImageItem] = {}
        self._boxes: list[pg.ViewBox] = []
        self._arranged = None
        self._arrange(1)

        self.plot, item = labelled_plot("step_loss_plot", "batch", "loss")
        self.plot.setMinimumHeight(140)
        self.loss_curve = item.plot(symbol="o", symbolSize=4)
        self._style_plots()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.settings_label)
        layout.addLayout(form)
        layout.addLayout(presets)
        layout.addWidget(self.strip)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.loss_label)
        layout.addWidget(self.message)
        layout.addWidget(self.batch_title)
        layout.addWidget(self.gallery, 1)
        layout.addWidget(self.shapes)
        layout.addWidget(self.sigmoid)
        layout.addWidget(self.weights_title)
        layout.addWidget(self.weights_view)
        layout.addWidget(self.plot, 1)

        self.lr.valueChanged.connect(self._on_setting_changed)
        self.batch_size.valueChanged.connect(self._on_setting_changed)
        self.chapter_button.clicked.connect(lambda: self.set_config(chapter_config()))
        self.from_panel_button.clicked.connect(self.panelConfigRequested)
        self.phase_button.clicked.connect(self.step_phase)
        self.batch_button.clicked.connect(self.step_batch)
        self.epoch_button.clicked.connect(self.step_epoch)
        self.stop_button.clicked.connect(self.stop)
        self.reset_button.clicked.connect(self.reset)
        self.use_button.clicked.connect(self.use_model)

    def _arrange(self, classes: int) -> None:
        """Weights, gradient and weights after the step: side by side for one output (the
        chapter's 3-vs-7 model), one above the other for a tile per class."""
        if self._arranged == classes:
            return
        self._arranged = classes
        self.weights_view.clear()
        self.heatmaps.clear()
        self._boxes.clear()
        titles = (("before", "weights"), ("gradient", "gradient"), ("after", "after the step"))
        for i, (key, title) in enumerate(titles):
            if classes == 1:
                self.weights_view.addLabel(title, row=0, col=i)
                box = self.weights_view.addViewBox(row=1, col=i, lockAspect=True, enableMouse=False, invertY=True)
            else:
                self.weights_view.addLabel(title, row=i, col=0, angle=-90)
                box = self.weights_view.addViewBox(row=i, col=1, lockAspect=True, enableMouse=False, invertY=True)
            image = pg.ImageItem(axisOrder="row-major")
            image.setLookupTable(DIVERGING)
            box.addItem(image)
            self.heatmaps[key] = image
            self._boxes.append(box)
        self.weights_view.setFixedHeight(160 if classes == 1 else 200)

    def _style_strip(self) -> None:
        self.strip.setStyleSheet(
            "QLabel { border: 1px solid palette(mid); border-radius: 3px; }"
            'QLabel[lit="true"] { background: palette(highlight); color: palette(highlighted-text); font-weight: bold; }'
            'QLabel[next="true"] { border: 1px dashed palette(highlight); }'
        )

    def _style_plots(self) -> None:
        style_plot_widget(self.plot, self)
        self.loss_curve.setPen(pg.mkPen(palette_color(self, QPalette.ColorRole.Highlight), width=2))
        self.loss_curve.setSymbolBrush(palette_color(self, QPalette.ColorRole.Highlight))
        self.weights_view.setBackground(palette_color(self, QPalette.ColorRole.Base))

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "loss_curve"):
            self._style_plots()
        super().changeEvent(event)

    # ------------------------------------------------------------------ settings
    def set_config(self, config) -> bool:
        """Step through ``config`` (a TrainConfig) from init. Settings that cannot be stepped
        get one message and change nothing (False)."""
        try:
            config.validate()
            if not ARCHITECTURE_SPECS[config.arch].trainable:
                raise ValueError(f"{ARCHITECTURE_SPECS[config.arch].label} has no SGD to step through: choose linear, MLP or CNN.")
        except ValueError as e:
            self.show_message(str(e), error=True)
            return False
        self.config = dataclasses.replace(config)
        self._show_config()
        self.reset()
        return True

    def _show_config(self) -> None:
        c = self.config
        for w, value in ((self.lr, c.lr), (self.batch_size, c.batch_size)):
            w.blockSignals(True)
            w.setValue(value)
            w.blockSignals(False)
        optimiser = "plain SGD" if c.momentum == 0 else f"momentum {c.momentum:g}" + (" (Nesterov)" if c.nesterov else "")
        if c.weight_decay:
            optimiser += f", weight decay {c.weight_decay:g}"
        schedule = "constant learning rate" if c.schedule == "constant" else "one-cycle schedule"
        spec = ARCHITECTURE_SPECS[c.arch]
        model = spec.label + (f" ({c.hidden} hidden)" if "hidden" in spec.settings else "")
        self.settings_label.setText(
            f"{model} on {TASKS[c.task].label}, {LOSS_SPECS[c.loss].label} loss, {optimiser}, {schedule}, "
            f"{c.epochs} epoch{'s' if c.epochs != 1 else ''}, seed {c.seed}"
        )

    @Slot()
    def _on_setting_changed(self) -> None:
        self.set_config(dataclasses.replace(self.config, lr=float(self.lr.value()), batch_size=int(self.batch_size.value())))

    def set_torch_ready(self) -> None:
        self.torch_ready = True
        if self.message.text() == LOADING_TORCH:
            self.show_message("")
        self._update_enabled()

    # ------------------------------------------------------------------ stepping
    def _request(self, what: str) -> bool:
        if self.busy or not self.torch_ready or self.done():
            return False
        self._stop_event = threading.Event()
        worker = StepperWorker(self._generation, what, self._stepper, self.config, self._stop_event)
        self._stepper = None  # the worker's until it has finished
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_done)
        worker.failed.connect(self._on_failed)
        self.busy = True
        if self.state is None:  # the worker builds the run first: the data, the model at init
            self.show_message("Loading the training data…")
        self._update_enabled()
        self._threads.start(worker)
        return True

    @Slot()
    def step_phase(self) -> bool:
        """One phase (Space)."""
        return self._request("phase")

    @Slot()
    def step_batch(self) -> bool:
        """On to the end of this batch's step."""
        return self._request("batch")

    @Slot()
    def step_epoch(self) -> bool:
        """Whole batches to the end of the epoch, in the background."""
        started = self._request("epoch")
        if started:
            self.progress.setFormat("Stepping to the end of the epoch…")
        return started

    @Slot()
    def stop(self) -> None:
        self._stop_event.set()
        self._update_enabled()

    @Slot()
    def reset(self) -> None:
        """Back to init (what is running stops after its batch)."""
        self._stop_event.set()
        self._generation += 1
        self.state = self._pending = None
        self._loss_x, self._loss_y = [], []
        self.loss_curve.setData([], [])
        self._shown_batch = None
        self.gallery.clear()
        self.shapes.clear_shapes()
        self.sigmoid.clear_batch()
        for image in self.heatmaps.values():
            image.clear()
        self.loss_label.setText("")
        self.batch_title.setText("")
        self.weights_title.setText("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Press Next phase (Space) to begin")
        self._light(None)
        self._stepper = None  # the next request starts from init; a running one's result is dropped
        if self.torch_ready:
            self.show_message("")
        self._update_enabled()

    def done(self) -> bool:
        return self.state is not None and self.state.phase == "stop"

    @Slot()
    def use_model(self) -> None:
        if self.busy or self.state is None or self._stepper is None:
            return
        predictor = self._stepper.predictor()  # no request runs: nothing changes the model meanwhile
        self.show_message(f"The model after {count_of(self.state.step, 'step')} is active (Edit → Previous model brings the old one back).")
        self.modelTrained.emit(predictor)

    def shutdown(self) -> None:
        """Stop stepping and wait for the thread (call before the window goes away)."""
        self._threads.shutdown()

    @Slot(int, object)
    def _on_progress(self, generation: int, states: list) -> None:
        """Batches of a run to the end of the epoch: kept, drawn by the timer."""
        if generation != self._generation:
            return
        for s in states:
            self._add_point(s, draw=False)
        self._pending = states[-1]
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def _draw_pending(self) -> None:
        state, self._pending = self._pending, None
        if state is None:
            self._timer.stop()
        else:
            self.show_state(state)

    @Slot(int, object)
    def _on_done(self, generation: int, result) -> None:
        self.busy = False
        self._pending = None
        if generation != self._generation:  # started over while it ran: the result is of the old run
            self._update_enabled()
            return
        self._stepper, state = result
        if self.message.text() == "Loading the training data…":
            self.show_message("")
        self.show_state(state)
        self._update_enabled()

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        self.busy = False
        if generation != self._generation:
            self._update_enabled()
            return
        self.reset()  # the worker's stepper may be half-way through a phase: start again from init
        self.show_message(message, error=True)

    def _update_enabled(self) -> None:
        can = self.torch_ready and not self.busy and not self.done()
        for b in (self.phase_button, self.batch_button, self.epoch_button):
            b.setEnabled(can)
        self.stop_button.setEnabled(self.busy and not self._stop_event.is_set())
        self.use_button.setEnabled(not self.busy and self.state is not None)
        for w in (self.lr, self.batch_size, self.chapter_button, self.from_panel_button, self.reset_button):
            w.setEnabled(not self.busy)

    # ------------------------------------------------------------------ drawing
    def _add_point(self, state, draw: bool = True) -> None:
        if state.loss is None:
            return
        k = state.step if state.phase == "step" else state.step + 1  # this batch's number, from 1
        if self._loss_x and self._loss_x[-1] >= k:
            return
        self._loss_x.append(k)
        self._loss_y.append(state.loss)
        if draw:
            self.loss_curve.setData(np.asarray(self._loss_x, dtype=np.float64), np.asarray(self._loss_y, dtype=np.float64))

    def show_state(self, state) -> None:
        """Draw ``state`` (a StepState)."""
        self.state = state
        self._add_point(state, draw=False)
        self.loss_curve.setData(np.asarray(self._loss_x, dtype=np.float64), np.asarray(self._loss_y, dtype=np.float64))
        self._light(state)
        self.progress.setRange(0, max(1, state.total_steps))
        self.progress.setValue(state.step)
        where = (
            f"epoch {state.epoch}/{state.epochs} · batch {state.batch}/{state.batches_per_epoch}"
            if state.epoch
            else "before the first batch"
        )
        self.progress.setFormat(f"{state.phase} · {where} · {count_of(state.step, 'step')} · lr {state.lr:.4g}")
        if state.loss is not None:
            self.loss_label.setText(f"loss {state.loss:.4f}")
        elif state.phase == "predict":
            self.loss_label.setText("loss: not computed yet")
        else:
            self.loss_label.setText("")
        if state.phase == "stop":
            self.show_message(state.message, error=state.diverged)
        self._show_batch(state)
        self.shapes.show_state(state, self.config.arch, self.config)
        self.sigmoid.show_state(state, self.config.loss)
        self._show_weights(state)
        self.stateShown.emit(state)

    def _light(self, state) -> None:
        lit = set()
        nxt = set()
        if state is not None:
            lit.add(state.phase)
            if state.phase == "predict" and state.step > 0:
                lit.add("repeat")
            if state.phase == "step":
                nxt.add("stop" if state.step >= state.total_steps else "repeat")
        for name, label in self.phase_labels.items():
            if label.property("lit") != (name in lit) or label.property("next") != (name in nxt):
                label.setProperty("lit", name in lit)
                label.setProperty("next", name in nxt)
                label.style().unpolish(label)
                label.style().polish(label)

    def _show_batch(self, state) -> None:
        if state.x is None:
            self.batch_title.setText("The batch appears at predict.")
            return
        n = len(state.x)
        shown = min(n, THUMBS)
        predicted = state.predicted()
        if self._shown_batch is not state.x:  # a new batch (its predictions come with it): new thumbnails
            self._shown_batch = state.x
            mean, std = ARCHITECTURE_SPECS[self.config.arch].normalization
            pixels = np.clip(np.asarray(state.x[:shown, 0], dtype=np.float32) * std + mean, 0, 1)
            classes = state.classes
            captions = [
                f"{classes[t]} → {classes[p]}" + ("" if p == t else " ✗")
                for t, p in zip(state.y[:shown].tolist(), predicted[:shown].tolist())
            ]
            self.gallery.set_items((pixels * 255).round().astype(np.uint8), np.arange(shown), list(range(shown)), captions)
        right = int((predicted == state.y).sum())
        more = f" (the first {shown} shown)" if shown < n else ""
        self.batch_title.setText(
            f"Batch {state.batch} of epoch {state.epoch}: {n} images{more}, label → prediction; {right} of {n} right "
            f"({100 * right / n:.1f} %) before this step."
        )

    def _show_weights(self, state) -> None:
        linear = ARCHITECTURE_SPECS[self.config.arch].weights_are_templates and "fc.weight" in state.parameters
        self.weights_view.setVisible(linear)
        if not linear:
            self.weights_title.setText("Weight heatmaps are drawn for the linear model.")
            return
        before = state.parameters_before if state.parameters_before is not None else state.parameters
        after = state.parameters if state.parameters_before is not None else None
        self._arrange(len(before["fc.weight"]))
        w = _tiles(before["fc.weight"])
        scale = float(np.abs(before["fc.weight"]).max())
        if after is not None:
            scale = max(scale, float(np.abs(after["fc.weight"]).max()))
        scale = scale or 1.0
        self.heatmaps["before"].setImage(w, levels=(-scale, scale), autoLevels=False)
        if after is not None:
            self.heatmaps["after"].setImage(_tiles(after["fc.weight"]), levels=(-scale, scale), autoLevels=False)
        else:
            self.heatmaps["after"].clear()
        if state.gradients is not None:
            g = state.gradients["fc.weight"]
            gs = float(np.abs(g).max()) or 1.0
            self.heatmaps["gradient"].setImage(_tiles(g), levels=(-gs, gs), autoLevels=False)
        else:
            self.heatmaps["gradient"].clear()
        for box in self._boxes:
            box.autoRange(padding=0)
        classes = state.classes
        who = (
            f"{classes[1]} vs {classes[0]} (red: evidence for {classes[1]})"
            if len(before["fc.weight"]) == 1
            else ", ".join(map(str, classes))
        )
        self.weights_title.setText(
            f"Weights of each class ({who}); blue negative, red positive. The step moves them by {step_words(self.config)} "
            f"(lr {state.lr:.4g}). Weights share one scale (±{scale:.3g})."
        )

    def show_message(self, text: str, error: bool = False) -> None:
        set_message(self.message, text, error)

    # for tests
    def loss_points(self) -> list[tuple[float, float]]:
        return list(zip(self._loss_x, self._loss_y))

    def shown_captions(self) -> list[str]:
        return self.gallery.captions()


def step_words(config) -> str:
    """What a step of ``config``'s SGD moves the weights by, in words: −lr × gradient for the
    chapter's plain SGD; with momentum or weight decay, what they add."""
    extra = []
    if config.weight_decay:
        extra.append(f"weight decay {config.weight_decay:g} × the weight added to it")
    if config.momentum:
        extra.append(
            f"momentum {config.momentum:g}{' (Nesterov)' if config.nesterov else ''}: past gradients carried along, × {config.momentum:g} a step"
        )
    return "−lr × gradient" if not extra else f"−lr × (the gradient with {' and '.join(extra)})"


def _tiles(weight: np.ndarray) -> np.ndarray:
    """Rows of a (classes, 784) weight as 28×28 tiles side by side, one pixel apart (float32)."""
    tiles = [np.pad(np.asarray(row, dtype=np.float32).reshape(28, 28), ((0, 0), (0, 1))) for row in weight]
    return np.ascontiguousarray(np.concatenate(tiles, axis=1)[:, :-1])
