"""The training panel: hyperparameters, Train / Pause / Stop / One more epoch, progress and
the live loss plot.

The run itself happens in :class:`~.training_worker.TrainingWorker` in a worker thread. What
arrives is accumulated in a Qt-free :class:`~mnist_desktop.model.progress.TrainingProgress`
and drawn from a QTimer at most ``PLOT_INTERVAL_MS`` apart, so neither the signal queue nor
the plot can flood the event loop. The panel never changes the active model by itself: a
finished run is offered through ``modelTrained``, a stopped one waits for "Use the stopped
model".
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QSettings, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QBoxLayout,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import model as engine
from mnist_desktop.model.config import ARCHITECTURE_SPECS as ARCHITECTURES
from mnist_desktop.model.config import DEVICES, SCHEDULES
from mnist_desktop.model.config import LOSS_SPECS as LOSSES
from mnist_desktop.model.progress import TrainingProgress, epoch_table, format_duration, partial_note, speed_note, usual_speed

from .loss_plot import LossPlot
from .panel import DockEntry
from .session import LOADING_PYTORCH, Session, is_torch_model
from .settings import TRAINING_GROUP, parse_bool, parse_setting
from .stepper import StepperWidget
from .theme import GRAY, mouse_only, palette_color, set_message
from .training_worker import Report, TrainingWorker
from .workers import WorkerThreads

LOADING_TORCH = f"{LOADING_PYTORCH} Training starts as soon as it has loaded."
TWO_COLUMNS_FROM = 600  # the panel's width (px) from which the settings sit in two columns
LOG_EVERY = engine.TrainConfig().log_every  # as headless: the trainer reads the loss every N steps
PLOT_INTERVAL_MS = 90  # the plot and the progress text redraw at most ~11 times per second
FINISH_DELAY_MS = 5  # the end of a run: the panel's last update this long after its thread ends (_on_thread_finished)
FIGURE_ROWS = 10  # the per-epoch figures under the plot: the last this many epochs
FIGURES_TIP = "The figures of each epoch: the loss on the training and validation sets, and the validation accuracy."
SCHEDULE_LABELS = {"onecycle": "One-cycle (warm up, then anneal)", "constant": "Constant"}
# What the settings file may hold for each control, and the labels used when a preset changes them.
FIELD_LABELS = {
    "loss": "loss",
    "lr": "learning rate",
    "momentum": "momentum",
    "batch_size": "batch size",
    "epochs": "epochs",
    "weight_decay": "weight decay",
    "schedule": "schedule",
    "hidden": "hidden width",
    "nesterov": "Nesterov",
    "augment": "augmentation",
    "seed": "seed",
}


def _tip(widget: QWidget, text: str) -> QWidget:
    widget.setToolTip(text)
    widget.setWhatsThis(text)
    widget.setStatusTip(text)
    return widget


class TrainingPanel(QWidget):
    """Hyperparameters, the run's controls, progress and the live loss plot."""

    started = Signal()
    finished = Signal(object)  # TrainResult, or None after a failure
    modelTrained = Signal(object)  # a Predictor to make active: a finished run, or the stopped one on request
    saveRequested = Signal(object)  # a Predictor to save (the stopped model's Save…)
    plotUpdated = Signal()
    weightsReported = Signal(object)  # a WeightSnapshot of the run: epoch 0 (its start), then after each epoch

    dock = DockEntry("training", "Training", "side", help="Train a model: choose what to learn and how, then watch the loss fall.")

    def __init__(self, parent: QWidget | None = None, torch_ready: bool = True):
        super().__init__(parent)
        self.setObjectName("training")
        self._run_has_loss = True  # the current or last run trains weights (pixel similarity has no loss)
        # False while PyTorch is still loading (the window is up before it): the controls can be
        # set, Train and One more epoch wait for set_torch_ready().
        self.torch_ready = torch_ready
        self._threads = WorkerThreads("training-thread", self)
        self._thread: QThread | None = None  # the running run's thread, until it has finished
        self._finishing = False  # its thread has ended, the panel's last update is queued (_finish_run)
        self._worker: TrainingWorker | None = None
        self._generation = 0  # one per run: what an older run's worker still sends is dropped
        self._stop_event: threading.Event | None = None
        self._pause_event: threading.Event | None = None
        # Called when a run finishes: true if the active model changed meanwhile, so that the
        # new model is offered (as a stopped run's is) instead of made active (fine-tuning).
        self._offer_if: Callable[[], bool] | None = None
        self.offered = False  # the last run's model was offered for that reason
        self._restoring = False
        self._shut_down = False
        self._failed = False
        self._dirty = True
        self.active_predictor = None  # the window's model, for "One more epoch"
        self.last_result = None
        self.stopped_result = None  # a stopped run's model, offered but not active
        self.progress_state = TrainingProgress()
        # samples/s of earlier complete runs on this machine, per model and batch size ("cnn/64"),
        # so that a run far slower than usual can say so (a busy machine: 7 s became 146 s)
        self.usual_speeds: dict[str, float] = {}
        self._speed_key: str | None = None
        self.speed_said: str | None = None
        self._message_model = None  # the model the message line calls active, while it is
        # The dock's view during a run: moved by the user since the run's start (then the end of
        # the run does not scroll), the scroll bar watched, and whether a move is the panel's own.
        self.view_moved = False
        self._watched_bar = None
        self._scrolling = False
        # The top of a scroll asked for while the dock was behind another tab, done when it comes
        # to the front (_keep_in_view); None: none waits.
        self._pending_scroll: QWidget | None = None
        self._users_config = None  # the user's settings while the controls show a run's own (start)
        # Built below; a palette change while they are being built restyles nothing yet.
        self.means_view: pg.GraphicsLayoutWidget | None = None
        self.mode_buttons: dict[str, QPushButton] = {}
        self._build_controls()
        self._build_plot()
        self._build_modes()
        self._timer = QTimer(self)
        self._timer.setInterval(PLOT_INTERVAL_MS)
        self._timer.timeout.connect(self._refresh)
        self.set_config(engine.recommended_config())  # the default recipe: a CNN on all digits
        self._refresh(force=True)
        if not torch_ready:
            self.show_message(LOADING_TORCH)

    # ------------------------------------------------------------------ building
    def _build_controls(self) -> None:
        self.task = _tip(QComboBox(objectName="task"), "Which digits to learn: the chapter's first problem (3 vs 7) or all ten digits.")
        for t in engine.TASKS.values():
            self.task.addItem(t.label, t.name)
        self.arch = _tip(
            QComboBox(objectName="arch"), "The model: pixel similarity (mean images, no SGD), a linear model, a small MLP, or a CNN."
        )
        for a in ARCHITECTURES.values():
            self.arch.addItem(a.label, a.name)
            self.arch.setItemData(self.arch.count() - 1, a.description, Qt.ItemDataRole.ToolTipRole)
        self.arch_note = QLabel(wordWrap=True)
        self.loss = _tip(
            QComboBox(objectName="loss"),
            "What SGD minimises. The MNIST loss works for two classes only; accuracy shows why a loss needs a gradient.",
        )
        for l in LOSSES.values():
            self.loss.addItem(l.label, l.name)
            self.loss.setItemData(self.loss.count() - 1, l.description, Qt.ItemDataRole.ToolTipRole)
        self.loss_note = QLabel(wordWrap=True, objectName="loss_note")
        # The range the engine accepts: a learning rate that diverges is a lesson, not an error.
        self.lr = _tip(
            QDoubleSpinBox(objectName="lr", decimals=5, minimum=0.00001, maximum=1000.0, singleStep=0.01),
            "SGD learning rate: how far each step moves the weights along the negative gradient. Too high and the loss explodes.",
        )
        self.lr.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.momentum = _tip(
            QDoubleSpinBox(objectName="momentum", decimals=2, minimum=0.0, maximum=0.99, singleStep=0.05),
            "SGD momentum: how much of the previous step is added to the next (0 = plain SGD).",
        )
        self.batch_size = _tip(
            QSpinBox(objectName="batch_size", minimum=0, maximum=60000, singleStep=32),
            "Images per SGD step. 0 = the whole training set in one step: plain gradient descent.",
        )
        self.batch_size.setSpecialValueText("Full batch (gradient descent)")
        self.epochs = _tip(
            QSpinBox(objectName="epochs", minimum=1, maximum=100), "How many times training goes through the whole training set."
        )
        self.device = _tip(QComboBox(objectName="device"), "Where training runs. Auto picks the fastest device this machine has.")
        self.device.addItem("Auto", "auto")
        # Which devices exist takes torch to know: until it has loaded, every device is listed
        # (so that a saved choice is kept), and set_torch_ready() removes those this machine lacks.
        for d in engine.available_devices() if self.torch_ready else [d for d in DEVICES if d != "auto"]:
            self.device.addItem(d.upper() if d != "cpu" else "CPU", d)

        # Advanced: what the command line has besides the above.
        self.advanced_toggle = QToolButton(objectName="advanced_toggle", text="Advanced", checkable=True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        _tip(self.advanced_toggle, "Weight decay, learning-rate schedule, Nesterov momentum, hidden width, augmentation and seed.")
        self.weight_decay = _tip(
            QDoubleSpinBox(objectName="weight_decay", decimals=5, minimum=0.0, maximum=1.0, singleStep=0.0001),
            "Weight decay (L2): each step also shrinks every weight towards zero by lr × this × the weight.",
        )
        self.schedule = _tip(
            QComboBox(objectName="schedule"),
            "How the learning rate changes during the run: one-cycle warms up then anneals; constant keeps it.",
        )
        for name in SCHEDULES:
            self.schedule.addItem(SCHEDULE_LABELS.get(name, name), name)
        self.nesterov = _tip(
            QCheckBox("Nesterov momentum", objectName="nesterov"),
            "Look ahead along the momentum before taking the gradient (needs momentum > 0).",
        )
        self.hidden = _tip(
            QSpinBox(objectName="hidden", minimum=1, maximum=8192), "Units in the MLP's hidden layer (the chapter's simple_net has 30)."
        )
        self.augment = _tip(
            QCheckBox("Shift and re-stroke the training images", objectName="augment"),
            "Move each training image by up to 2 pixels and make its strokes thinner or fatter: a model that reads more pens.",
        )
        self.seed = _tip(
            QSpinBox(objectName="seed", minimum=0, maximum=2**31 - 1), "Random seed: the same seed and settings give the same model."
        )
        self.advanced = QWidget(objectName="advanced")
        adv = QFormLayout(self.advanced)
        adv.setContentsMargins(0, 0, 0, 0)
        adv.addRow("Weight decay", self.weight_decay)
        adv.addRow("Schedule", self.schedule)
        adv.addRow("", self.nesterov)
        adv.addRow("Hidden width", self.hidden)
        adv.addRow("", self.augment)
        adv.addRow("Seed", self.seed)
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self._show_advanced)

        self.train_button = _tip(
            QPushButton("Train", objectName="train_button"), "Train a new model with these settings; it becomes the active model when done."
        )
        self.pause_button = _tip(
            QPushButton("Pause", objectName="pause_button", enabled=False, checkable=True),
            "Pause training after this batch; press again to go on from the same step.",
        )
        self.stop_button = _tip(
            QPushButton("Stop", objectName="stop_button", enabled=False),
            "Stop training after this batch. The active model stays; the stopped one is offered.",
        )
        self.more_button = _tip(
            QPushButton("One more epoch", objectName="more_button", enabled=False),
            "Train the active model for one more epoch with these optimiser settings (its architecture and task stay).",
        )
        self.progress = _tip(
            QProgressBar(objectName="train_progress", minimum=0, maximum=1, value=0),
            "Epoch, batch, training speed (samples per second, over the last seconds) and the estimated time left.",
        )
        self.progress.setTextVisible(True)
        self.message = QLabel(wordWrap=True, objectName="train_message")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()  # shown with a message (show_message)
        self.use_stopped_button = QPushButton(objectName="use_stopped_button")
        _tip(
            self.use_stopped_button,
            "Make the model of the stopped run the active model (the current one stays one click away: Edit → Previous model).",
        )
        self.save_stopped_button = _tip(
            QPushButton("Save…", objectName="save_stopped_button"), "Save the stopped run's model without making it active."
        )
        self.stopped_row = QWidget(objectName="stopped_row")
        row = QHBoxLayout(self.stopped_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.use_stopped_button, 1)
        row.addWidget(self.save_stopped_button)
        self.stopped_row.setVisible(False)

        for combo in (self.task, self.arch):
            combo.currentIndexChanged.connect(self._on_task_or_arch_changed)
        self.loss.currentIndexChanged.connect(self._on_loss_changed)
        self.momentum.valueChanged.connect(lambda _v: self._update_enabled())
        self.train_button.clicked.connect(self.train)
        self.pause_button.toggled.connect(self.set_paused)
        self.stop_button.clicked.connect(self.stop)
        self.more_button.clicked.connect(self.one_more_epoch)
        self.use_stopped_button.clicked.connect(self.use_stopped_model)
        self.save_stopped_button.clicked.connect(lambda: self.stopped_result and self.saveRequested.emit(self.stopped_result.predictor))

        # What to learn beside how: two columns when the panel is wide (a dock that has the
        # window's height to itself on a small screen), so that the loss plot keeps the height.
        what, how = QFormLayout(), QFormLayout()
        what.addRow("Task", self.task)
        what.addRow("Architecture", self.arch)
        what.addRow("", self.arch_note)
        what.addRow("Loss", self.loss)
        what.addRow("", self.loss_note)
        how.addRow("Learning rate", self.lr)
        how.addRow("Momentum", self.momentum)
        how.addRow("Batch size", self.batch_size)
        how.addRow("Epochs", self.epochs)
        how.addRow("Device", self.device)
        how.addRow(self.advanced_toggle)  # its settings open below both columns
        self._form_row = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        self._form_row.addLayout(what, 1)
        self._form_row.addLayout(how, 1)
        buttons = QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.stop_button, self.more_button):
            buttons.addWidget(b)
        self.train_page = QWidget(objectName="train_page")  # the Train mode; Step mode is the stepper
        self._layout = QVBoxLayout(self.train_page)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addLayout(self._form_row)
        self._layout.addWidget(self.advanced)
        self._layout.addLayout(buttons)
        self._layout.addWidget(self.progress)
        self._layout.addWidget(self.message)
        self._layout.addWidget(self.stopped_row)

    def _build_plot(self) -> None:
        self.log_scale = _tip(
            QCheckBox("Log-scale loss", objectName="loss_log_scale", checked=True),
            "A logarithmic loss axis: the first losses, many times the last ones, no longer flatten the rest of the curve.",
        )
        self.plot = LossPlot()
        self.plot.set_log_loss(True)
        self.log_scale.toggled.connect(self.plot.set_log_loss)
        self.epoch_figures = QLabel(objectName="epoch_figures")
        self.epoch_figures.setTextFormat(Qt.TextFormat.RichText)
        self.epoch_figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.epoch_figures.setToolTip(FIGURES_TIP)
        self._figures_key: tuple = ()
        self.figure_rows: list[tuple[str, ...]] = []
        # Under the table, wrapped: how much of an epoch stopped part-way ran (its row is "2/2*";
        # the cells of the table cannot wrap, and the detail in one made it wider than the dock).
        self.epoch_note = QLabel(wordWrap=True, objectName="epoch_figures_note")
        self.epoch_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.epoch_note.hide()
        self._layout.addWidget(self.log_scale)
        self._layout.addWidget(self.plot, 1)
        self._layout.addWidget(self.epoch_figures)
        self._layout.addWidget(self.epoch_note)
        # Pixel similarity: the mean images it "learned".
        self.means_title = QLabel("Mean images: the ideal digit of each class, the model's only parameters")
        self.means_title.setWordWrap(True)
        self.means_view = mouse_only(pg.GraphicsLayoutWidget())
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

    def resizeEvent(self, event) -> None:
        wide = event.size().width() >= TWO_COLUMNS_FROM
        self._form_row.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)
        super().resizeEvent(event)

    # ------------------------------------------------------------------ modes: Train, Step
    MODES = ("train", "step")

    def _build_modes(self) -> None:
        """Train (the run with its live plot) or Step (SGD one phase at a time), chosen by a
        segmented pair of buttons above both."""
        self.stepper = StepperWidget(torch_ready=self.torch_ready)
        self.stepper.modelTrained.connect(self.modelTrained)
        self.stepper.panelConfigRequested.connect(lambda: self.stepper.set_config(self.users_config()))
        bar = QHBoxLayout()
        bar.setSpacing(0)
        group = QButtonGroup(self)
        for mode, text, tip in (
            ("train", "Train", "Train a model with a live loss plot."),
            ("step", "Step", "SGD one phase at a time: init, predict, loss, gradient, step, repeat, stop."),
        ):
            button = _tip(QPushButton(text, objectName=f"mode_{mode}", checkable=True), tip)
            group.addButton(button)
            button.clicked.connect(lambda _c=False, m=mode: self.set_mode(m))
            bar.addWidget(button)
            self.mode_buttons[mode] = button
        # One page shown, the other hidden (not a QStackedWidget: its height for a width is the
        # tallest page's, and the stepper's would push the loss plot out of the dock's view)
        self.modes = QWidget(objectName="training_modes")
        self._pages = QVBoxLayout(self.modes)
        self._pages.setContentsMargins(0, 0, 0, 0)
        self._pages.addWidget(self.train_page)
        self._pages.addWidget(self.stepper)
        outer = QVBoxLayout(self)
        outer.addLayout(bar)
        outer.addWidget(self.modes, 1)
        self._style_mode_buttons()
        self.set_mode("train")

    def _style_mode_buttons(self) -> None:
        """The chosen mode in the palette's highlight: a checked push button in the dark palette
        was drawn nearly as an unchecked one, so the Train/Step pair did not say which was on."""
        pal = self.palette()
        on, text = pal.color(QPalette.ColorRole.Highlight).name(), pal.color(QPalette.ColorRole.HighlightedText).name()
        for button in self.mode_buttons.values():
            button.setStyleSheet(
                f"QPushButton:checked {{ background-color: {on}; color: {text}; border: 1px solid {on}; padding: 4px 12px; }}"
            )

    def set_up(self, config, mode: str) -> None:
        """``config`` in the controls and mode ``mode`` ("train", or "step" with the stepper
        set to ``config`` too): what a stage of the chapter asks for."""
        self.set_config(config)
        self.set_mode(mode)
        if mode == "step":
            self.stepper.set_config(config)

    def use_stepped_model(self) -> int | None:
        """Step mode's model made active ("Use this model"): the steps it took; None if it
        took none or is busy."""
        state = self.stepper.state
        if state is None or state.step == 0 or self.stepper.busy:
            return None
        self.stepper.use_model()
        return state.step

    def set_mode(self, mode: str) -> None:
        """Show the Train mode ("train") or the Step mode ("step")."""
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, not {mode!r}")
        self.stepper.setVisible(mode == "step")
        self.train_page.setVisible(mode == "train")
        self._mode = mode
        self.mode_buttons[mode].setChecked(True)

    def mode(self) -> str:
        return self._mode

    @Slot(bool)
    def _show_advanced(self, show: bool) -> None:
        self.advanced.setVisible(show)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if show else Qt.ArrowType.RightArrow)

    # ------------------------------------------------------------------ settings
    def config(self):
        """The TrainConfig the controls describe (not validated)."""
        return engine.TrainConfig(
            task=self.task.currentData(),
            arch=self.arch.currentData(),
            loss=self.loss.currentData(),
            lr=float(self.lr.value()),
            momentum=float(self.momentum.value()),
            nesterov=self.nesterov.isChecked(),
            weight_decay=float(self.weight_decay.value()),
            batch_size=int(self.batch_size.value()),
            epochs=int(self.epochs.value()),
            schedule=self.schedule.currentData(),
            seed=int(self.seed.value()),
            device=self.device.currentData(),
            hidden=int(self.hidden.value()),
            augment=self.augment.isChecked(),
            log_every=LOG_EVERY,
        )

    def set_config(self, config) -> None:
        """Show ``config`` in the controls; while the controls show a run's own settings (see
        start), it is what they show once that run has ended."""
        if self._users_config is not None:
            self._users_config = config
            return
        self._show_config(config)

    def _show_config(self, config) -> None:
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
            self.weight_decay.setValue(config.weight_decay)
            _select(self.schedule, config.schedule)
            self.nesterov.setChecked(config.nesterov)
            self.hidden.setValue(config.hidden)
            self.augment.setChecked(config.augment)
            self.seed.setValue(config.seed)
        finally:
            self._restoring = False
        self._update_enabled()
        self._on_loss_changed()

    def users_config(self):
        """The user's own settings: the controls', or while a run that trains with others shows
        its own in them (a fine-tune, One more epoch), those they had before it."""
        return self._users_config if self._users_config is not None else self.config()

    def save_settings(self, s: QSettings) -> None:
        c = self.users_config()
        s.beginGroup(TRAINING_GROUP)
        for key in ("task", "arch", *FIELD_LABELS, "device"):
            s.setValue(key, getattr(c, key))
        s.setValue("advanced_open", self.advanced_toggle.isChecked())
        s.setValue("loss_log_scale", self.log_scale.isChecked())
        for key, speed in self.usual_speeds.items():
            s.setValue(f"usual_speed/{key}", speed)
        s.endGroup()

    def restore_settings(self, s: QSettings) -> list[str]:
        """Show the saved settings. A value that is missing, of the wrong type or out of range
        keeps its default; the names of those that were refused are returned."""
        refused: list[str] = []
        s.beginGroup(TRAINING_GROUP)
        try:
            s.beginGroup("usual_speed")
            for key in s.childKeys():
                try:
                    speed = float(s.value(key))
                except (TypeError, ValueError):
                    speed = float("nan")
                if math.isfinite(speed) and 0 < speed < 1e12:
                    self.usual_speeds[key] = speed
                else:
                    refused.append(f"training/usual_speed/{key}")
            s.endGroup()
            raw = s.value("loss_log_scale")
            if raw is not None:
                log_scale = parse_bool(raw)
                if log_scale is None:
                    refused.append("training/loss_log_scale")
                else:
                    self.log_scale.setChecked(log_scale)
            task, arch = s.value("task"), s.value("arch")
            if task is None and arch is None:
                return refused
            if not (isinstance(task, str) and task in engine.TASKS and isinstance(arch, str) and arch in ARCHITECTURES):
                return ["training/task", "training/arch"]
            values = {}
            for key, widget in self._value_widgets().items():
                raw = s.value(key)
                if raw is None:
                    continue
                value = parse_setting(raw, widget)
                if value is None:
                    refused.append(f"training/{key}")
                else:
                    values[key] = value
            config = dataclasses.replace(engine.recommended_config(task, arch), **values)
            try:
                config.validate()
            except ValueError:  # e.g. a two-class loss saved with the ten-digit task
                refused.append("training/loss")
                config = dataclasses.replace(config, loss=engine.recommended_config(task, arch).loss)
            self.set_config(config)
            open_ = parse_bool(s.value("advanced_open", False))
            self.advanced_toggle.setChecked(bool(open_))
        finally:
            s.endGroup()
        return refused

    def _value_widgets(self) -> dict[str, QWidget]:
        return {
            "loss": self.loss,
            "lr": self.lr,
            "momentum": self.momentum,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "device": self.device,
            "weight_decay": self.weight_decay,
            "schedule": self.schedule,
            "nesterov": self.nesterov,
            "hidden": self.hidden,
            "augment": self.augment,
            "seed": self.seed,
        }

    def _on_task_or_arch_changed(self) -> None:
        self._update_enabled()
        if self._restoring:
            return
        # The recipe for this task and model, on the device the user chose; say what changed.
        before = self.config()
        recipe = dataclasses.replace(
            engine.recommended_config(self.task.currentData(), self.arch.currentData()),
            device=self.device.currentData() or "auto",
        )
        self.set_config(recipe)
        changed = [
            f"{label} {_show(key, getattr(before, key))} → {_show(key, getattr(recipe, key))}"
            for key, label in FIELD_LABELS.items()
            if getattr(before, key) != getattr(recipe, key) and self._value_widgets()[key].isEnabled()
        ]
        if changed and not self.is_training():
            self.show_message(
                f"Recommended settings for {self.arch.currentText()} on {self.task.currentText()}: " + ", ".join(changed) + "."
            )

    def _update_enabled(self) -> None:
        arch = ARCHITECTURES[self.arch.currentData()]
        self.arch_note.setText(arch.description)
        binary = len(engine.TASKS[self.task.currentData()].classes) == 2
        model = self.loss.model()
        for i in range(self.loss.count()):
            model.item(i).setEnabled(binary or not LOSSES[self.loss.itemData(i)].binary_only)
        if not binary and LOSSES[self.loss.currentData()].binary_only:
            _select(self.loss, "cross-entropy")
        training = self.is_training()
        sgd = arch.trainable and not training
        for w in (
            self.loss,
            self.lr,
            self.momentum,
            self.batch_size,
            self.epochs,
            self.weight_decay,
            self.schedule,
            self.augment,
            self.seed,
        ):
            w.setEnabled(sgd)
        self.nesterov.setEnabled(sgd and self.momentum.value() > 0)
        self.hidden.setEnabled(not training and "hidden" in arch.settings)
        for w in (self.task, self.arch, self.device):
            w.setEnabled(not training)
        self.train_button.setEnabled(not training and self.torch_ready)
        self.pause_button.setEnabled(training and self._stop_event is not None and not self._stop_event.is_set())
        self.stop_button.setEnabled(training and self._stop_event is not None and not self._stop_event.is_set())
        self.more_button.setEnabled(not training and self.torch_ready and self._can_continue(self.active_predictor))

    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        session.modelChanged.connect(self.set_active_predictor)
        session.torchReady.connect(self.set_torch_ready)
        session.torchFailed.connect(self.torch_failed)

    def set_on_screen(self, shown: bool) -> None:
        """A run's scroll asked for while the dock was behind another tab is done now that it is
        in front (the loss plot refreshes from its timer while a run goes on), once the event
        loop has given the dock its size."""
        if shown and self._pending_scroll is not None:
            QTimer.singleShot(0, self, self._scroll_pending)

    def _scroll_pending(self) -> None:
        top, self._pending_scroll = self._pending_scroll, None
        if top is not None and not self.view_moved and not self._shut_down:  # the user's own view stays
            self._keep_in_view(top)

    @Slot(str)
    def torch_failed(self, why: str) -> None:
        """PyTorch could not be loaded: training and stepping say why they are not available."""
        self.show_message(f"{why}: training is not available.", error=True)
        self.stepper.show_message(f"{why}: stepping is not available.", error=True)

    def set_torch_ready(self) -> None:
        """PyTorch has loaded: list the devices this machine has, and let training start."""
        available = set(engine.available_devices())
        for i in reversed(range(self.device.count())):
            if self.device.itemData(i) not in available | {"auto"}:
                self.device.removeItem(i)  # a removed current item leaves the combo on "Auto"
        self.torch_ready = True
        self.stepper.set_torch_ready()
        if self.message.text() == LOADING_TORCH:
            self.show_message("")
        self._update_enabled()

    def _on_loss_changed(self) -> None:
        name = self.loss.currentData()
        if name is None:
            return
        text = LOSSES[name].description
        self.loss_note.setText(("⚠ " if name == "accuracy" else "") + text)

    # ------------------------------------------------------------------ the active model
    def set_active_predictor(self, predictor) -> None:
        """The window's model: what "One more epoch" trains further. A message that says a model
        of this panel is active goes once another model is (Edit → Previous model, Open…)."""
        self.active_predictor = predictor
        if self._message_model is not None and predictor is not self._message_model:
            self._message_model = None
            self.show_message("")
        self._update_enabled()

    @staticmethod
    def _can_continue(predictor) -> bool:
        """Whether "One more epoch" can train ``predictor`` further: a torch model that has SGD."""
        arch = ARCHITECTURES.get(predictor.arch) if is_torch_model(predictor) else None
        return arch is not None and arch.trainable and predictor.task in engine.TASKS

    # ------------------------------------------------------------------ training
    def is_training(self) -> bool:
        return self._thread is not None or self._finishing

    def is_paused(self) -> bool:
        return self._pause_event is not None and self._pause_event.is_set()

    @Slot()
    def train(self) -> None:
        """Train with the settings in the controls (the Train button)."""
        self.start()

    @Slot()
    def one_more_epoch(self) -> bool:
        """Train the active model one more epoch with the panel's optimiser settings."""
        predictor = self.active_predictor
        if self.is_training() or not self._can_continue(predictor):
            return False
        config = engine.continue_config(predictor, self.config(), epochs=1)
        return self.start(config, init=predictor)

    def start(self, config=None, init=None, task=None, message: str = "", offer_if: Callable[[], bool] | None = None) -> bool:
        """Start training ``config`` (default: the controls), from ``init`` (a Predictor) if
        given; or run ``task`` (see :class:`TrainingWorker`), with ``config`` giving the
        epochs for the plot. ``offer_if()`` true when the run finishes: its model is offered
        (as a stopped run's is), not made active; by default, when the active model is no longer
        the one that was active at the start (another was opened or brought back meanwhile: the
        user's later choice is not replaced). False if it could not start."""
        if self.is_training() or not self.torch_ready:
            return False
        config = config if config is not None else self.config()
        try:
            config.validate()
        except ValueError as e:
            self.show_message(str(e), error=True)
            return False
        self.progress_state = TrainingProgress()
        started_with = self.active_predictor
        self._offer_if = offer_if if offer_if is not None else (lambda: self.active_predictor is not started_with)
        self.offered = False
        self.view_moved = False
        self._speed_key = f"{config.arch}-{config.batch_size}" if task is None else None  # fine-tuning mixes other work in
        self.speed_said = None
        self._failed = False
        self.last_result = None
        self._drop_stopped()
        self._generation += 1
        self._pause_event = threading.Event()
        self._worker = TrainingWorker(config, self._pause_event, init, task, generation=self._generation)
        self._stop_event = self._worker.cancel_event
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self.pause_button.setChecked(False)
        self._show_runs_config(config)
        trainable = ARCHITECTURES[config.arch].trainable
        self.plot.set_epochs(config.epochs if trainable else None)
        # A model that minimises no loss (pixel similarity) has no curve to show: its
        # accuracy (the figures) and its class means (once done) take the plot's place.
        self._run_has_loss = trainable
        self.plot.setVisible(trainable)
        self.log_scale.setVisible(trainable)
        if trainable:
            self._show_means(None)
        self.progress.setRange(0, 0)  # busy until the first batch tells the total
        self.progress.setFormat("Loading data…")
        self.show_message(message or ("Training one more epoch of the active model…" if init is not None else ""))
        self._thread = self._threads.start(self._worker)
        self._thread.finished.connect(self._on_thread_finished)  # the worker ends the thread through this event loop: not yet
        self._update_enabled()
        self._timer.start()
        self._refresh(force=True)
        # Pause and Stop, the progress and the plot in view; once the event loop has laid out a
        # dock brought to the front with the run (the toolbar's Train, a fine-tune)
        QTimer.singleShot(0, self, self._show_the_run)
        self.started.emit()
        return True

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        """Pause after the current batch, or go on from the same step."""
        if self._pause_event is None or self._thread is None:  # no run, or its thread has ended
            return
        if paused:
            self._pause_event.set()
        else:
            self._pause_event.clear()
        self.pause_button.setText("Resume" if paused else "Pause")
        if self.pause_button.isChecked() != paused:
            self.pause_button.setChecked(paused)
        self._refresh(force=True)

    @Slot()
    def stop(self) -> None:
        if self._thread is not None and self._stop_event is not None and not self._stop_event.is_set():
            self._stop_event.set()
            self._update_enabled()
            self._refresh(force=True)

    def shutdown(self) -> None:
        """Stop training and wait for the thread (call before the window goes away)."""
        self._shut_down = True  # signals still queued from the worker are ignored from now on
        self._timer.stop()
        self.stepper.shutdown()
        self._threads.shutdown()  # cancels the run (its stop event) and waits for its thread
        self._worker = self._thread = None
        self._finishing = False

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._shut_down:
            return
        self._worker = self._thread = None  # WorkerThreads deletes both
        self._timer.stop()
        self.stop_button.setEnabled(False)  # nothing left to stop or pause
        self.pause_button.setEnabled(False)
        # The rest a few ms later, as a timer: the plot's last redraw (10-15 ms), chained after
        # the new model's swap (_on_done) and its repaint as queued events, made the finish of a
        # run the window's one stall over 50 ms; a timer lets the event loop take what waits in
        # between (measured with bench gui, not guaranteed by Qt; a 0 ms single shot is itself a
        # queued event in Qt 6 and stayed in the chain). Until then the panel counts as training.
        self._finishing = True
        QTimer.singleShot(FINISH_DELAY_MS, self, self._finish_run)

    def _finish_run(self) -> None:
        self._finishing = False
        if self._shut_down:
            return
        self._show_users_config()
        self.pause_button.setChecked(False)
        self._update_enabled()
        self._refresh(force=True)
        if not self.view_moved:  # the user scrolled during the run: their view stays
            # down to the figures, in a turn of its own: the layouts it activates (10-20 ms) after
            # the plot's last redraw made the finish a stall over 50 ms again (bench gui)
            QTimer.singleShot(FINISH_DELAY_MS, self, self._scroll_to_the_end)
        # Emitted once the thread is gone, so listeners see the panel ready to train again.
        self.finished.emit(self.last_result)

    def _scroll_to_the_end(self) -> None:
        if not self._shut_down and not self.is_training():
            self._keep_in_view(self.message if self.message.isVisibleTo(self) else self.progress)

    def _show_runs_config(self, config) -> None:
        """The controls, greyed while a run goes on, show what it trains with: a fine-tune (4
        epochs, a 0.03 peak one-cycle rate, batches of 64) or One more epoch (1 epoch, the active
        model's architecture) showed the user's own settings as if they were the run's. Theirs
        are kept and come back when the run ends (_show_users_config)."""
        users = self.config()
        if _form_fields(config) != _form_fields(users):
            self._show_config(config)
        # Kept for every run, not only one with other settings: a preset chosen meanwhile (a
        # chapter stage) is held until the run ends instead of rewriting the greyed form.
        self._users_config = users

    def _show_users_config(self) -> None:
        users, self._users_config = self._users_config, None
        if users is not None and users != self.config():  # unchanged: nothing to redo at the finish
            self._show_config(users)

    def _show_the_run(self) -> None:
        """The start of a run: Stop, the progress and the plot in view; from then on, a move of
        the view that is not the panel's own is the user's (see _on_view_moved)."""
        self._keep_in_view(self.train_button)
        area = self._scroll_area()
        bar = area.verticalScrollBar() if area is not None else None
        if bar is not None and bar is not self._watched_bar:
            self._watched_bar = bar
            # The user's own moves only (a wheel, a drag, a click on the bar, its keys): not a
            # value clamped when the panel's height changes, nor the panel's own scrolls.
            bar.actionTriggered.connect(self._on_view_moved)
        self.view_moved = False

    @Slot(int)
    def _on_view_moved(self, _action: int) -> None:
        """The user moved the dock's view during a run: the end of the run leaves it where they
        put it, as one who scrolled up to read the settings would want."""
        if not self._scrolling and self.is_training():
            self.view_moved = True

    def _keep_in_view(self, top: QWidget) -> None:
        """Scroll the dock (where the panel is taller than it) so that the run shows from ``top``
        down to its last figures, ``top`` first if not all fit. A run that ends adds its message,
        the Use row and the epoch figures under the plot: at 1400×900 and below they pushed the
        plot's axes and legend, and the figures, below the fold, where nobody was looking."""
        area = self._scroll_area()
        if area is None or not self.train_page.isVisibleTo(self):
            return  # not in a scroll area, or in Step mode
        if self.visibleRegion().isEmpty():
            # Behind another tab: its dock keeps the size it had when last in front (a window
            # resized since made the scroll miss), so it scrolls when it comes to the front.
            self._pending_scroll = top
            return
        self._pending_scroll = None
        # The heights of what was just shown, from the page up (each level's layout request is
        # posted as the one below is done), then the panel's height for them, which the scroll
        # area sets on a request of its own: the line of the last epoch, added just before,
        # came under the fold after the scroll.
        self._scrolling = True  # the panel's new height may move the view: not the user
        try:
            for layout in (self.train_page.layout(), self.modes.layout(), self.layout()):
                layout.activate()
            QApplication.sendEvent(area, QEvent(QEvent.Type.LayoutRequest))
        finally:
            self._scrolling = False
        # Points, not ensureWidgetVisible: it takes the plot's and the figures' input-method cursor
        # (their top left corner) for the part to show.
        bottom = [w for w in (self.progress, self.plot, self.epoch_figures, self.epoch_note, self.means_view) if w.isVisibleTo(self)][-1]
        self._scrolling = True
        try:
            area.ensureVisible(0, bottom.mapTo(self, QPoint(0, bottom.height())).y(), 0, 0)
            area.ensureVisible(0, top.mapTo(self, QPoint(0, 0)).y(), 0, 0)
        finally:
            self._scrolling = False

    def _current(self, generation: int) -> bool:
        """Whether what the worker of run ``generation`` sends is still to be shown."""
        return not self._shut_down and generation == self._generation

    @Slot(int, object)
    def _on_progress(self, generation: int, report: Report) -> None:
        if not self._current(generation):
            return
        if report.kind == "batches":
            for info in report.value:
                self.progress_state.add_batch(info)
            self._dirty = True
        elif report.kind == "epoch":
            self.progress_state.add_epoch(report.value)
            self._dirty = True
        elif report.kind == "weights":
            self.weightsReported.emit(report.value)
        else:
            self.show_message(report.value)

    @Slot(int, object)
    def _on_done(self, generation: int, result) -> None:
        if not self._current(generation):
            return
        self.last_result = result
        self._remember_speed(result)
        acc = (result.metrics or {}).get("valid_accuracy")
        acc_text = f"{100 * acc:.2f} %" if isinstance(acc, float) and math.isfinite(acc) else "not measured"
        offer = not result.stopped and self._offer_if is not None and self._offer_if()
        if offer:
            self.offered = True
            self.show_message(
                "\n".join(
                    [
                        f"Done: validation accuracy {acc_text}. The active model changed while this ran, so the new model is offered, not made active.",
                        *(result.notes or []),
                    ]
                )
            )
            self.stopped_result = result
            self.use_stopped_button.setText(f"Use the new model (accuracy {acc_text})")
            self.stopped_row.setVisible(True)
            return
        if result.stopped:
            if not result.history:
                self.show_message("Stopped before the first batch: the active model is unchanged.")
                return
            b = self.progress_state.last
            where = f" at epoch {b.epoch}, batch {b.batch}/{b.batches_per_epoch}" if b is not None else ""
            self.show_message("\n".join([f"Stopped{where}. The active model is unchanged.", *(result.notes or [])]))
            self.stopped_result = result
            self.use_stopped_button.setText(f"Use the stopped model (accuracy {acc_text})")
            self.stopped_row.setVisible(True)
            return
        text = f"Done: validation accuracy {acc_text}. The new model is active (File → Save model keeps it; Edit → Previous model brings the old one back)."
        self.show_message("\n".join([text, *(result.notes or [])]))
        self._message_model = result.predictor
        self._show_means(result.predictor)
        self.modelTrained.emit(result.predictor)

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if not self._current(generation):
            return
        self.last_result = None
        self._failed = True
        self.show_message(message, error=True)

    @Slot()
    def use_stopped_model(self) -> None:
        if self.stopped_result is None:
            return
        predictor = self.stopped_result.predictor
        self._drop_stopped()
        self.show_message("The stopped model is active (File → Save model keeps it; Edit → Previous model brings the old one back).")
        self._message_model = predictor
        self._show_means(predictor)
        self.modelTrained.emit(predictor)

    def _drop_stopped(self) -> None:
        self.stopped_result = None
        self.stopped_row.setVisible(False)

    def show_message(self, text: str, error: bool = False) -> None:
        set_message(self.message, text, error)
        self.message.setVisible(bool(text))  # an empty line would take the loss plot's height

    def _show_means(self, predictor) -> None:
        means = None
        spec = ARCHITECTURES.get(predictor.arch) if predictor is not None else None
        if spec is not None and spec.has_class_means:
            for w in predictor.layer_weights().values():
                if np.ndim(w) == 3 and tuple(np.shape(w)[1:]) == (28, 28):
                    means = w
        show = means is not None
        if show:
            tiles = [np.pad(m, 1) for m in np.asarray(means, dtype=np.float32)]
            self.means_image.setImage(np.ascontiguousarray(np.concatenate(tiles, axis=1)), levels=(0.0, 1.0), autoLevels=False)
            self.means_box.autoRange(padding=0)
            labels = ", ".join(str(c) for c in predictor.classes)
            self.means_title.setText(f"Mean images of {labels}: the ideal digits, the model's only parameters")
        self.means_title.setVisible(show)
        self.means_view.setVisible(show)

    def _scroll_area(self) -> QScrollArea | None:
        """The dock's scroll area holding the panel, if it is in one."""
        area = self.parentWidget().parentWidget() if self.parentWidget() is not None else None
        return area if isinstance(area, QScrollArea) and area.widget() is self else None

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and self.means_view is not None:
            self.means_view.setBackground(palette_color(self, QPalette.ColorRole.Base))
        if event.type() == QEvent.Type.PaletteChange and self.mode_buttons:
            self._style_mode_buttons()
        super().changeEvent(event)

    # ------------------------------------------------------------------ display
    @Slot()
    def _refresh(self, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        self.plot.show_progress(self.progress_state)
        self._update_figures()
        self._update_progress()
        self.plotUpdated.emit()

    def _update_figures(self) -> None:
        """The per-epoch figures under the plot (redrawn only when an epoch was added)."""
        epochs = self.progress_state.epochs
        losses = self._run_has_loss
        key = (id(self.progress_state), len(epochs), losses)
        if key == self._figures_key:
            return
        self._figures_key = key
        note = partial_note(epochs)
        self.epoch_note.setText(note or "")
        self.epoch_note.setVisible(note is not None)
        self.epoch_figures.setToolTip(FIGURES_TIP + (f"\n{note}" if note else ""))
        if not epochs:
            self.figure_rows = []
            self.epoch_figures.setText("")
            self.epoch_figures.hide()  # no empty line under the plot
            return
        header, *rows = epoch_table(epochs, losses=losses)
        skipped = max(0, len(rows) - FIGURE_ROWS)
        self.figure_rows = [header, *rows[skipped:]]  # what the label shows, for tests
        cells = "".join(f"<th align='right'>&nbsp;{h}&nbsp;</th>" for h in header)
        html = [f"<table cellspacing='0'><tr>{cells}</tr>"]
        for row in rows[skipped:]:
            html.append("<tr>" + "".join(f"<td align='right'>&nbsp;{c}&nbsp;</td>" for c in row) + "</tr>")
        html.append("</table>")
        if skipped:
            html.insert(0, f"<i>{skipped} earlier epoch{'s' if skipped > 1 else ''} not shown</i>")
        self.epoch_figures.setText("".join(html))
        self.epoch_figures.show()

    def _update_progress(self) -> None:
        p = self.progress_state
        b = p.last
        if b is None:
            if self.is_training():
                return  # "Loading data…", busy
            self.progress.setRange(0, 1)
            done = self.last_result is not None and not self.last_result.stopped
            self.progress.setValue(1 if done else 0)
            self.progress.setFormat("Failed" if self._failed else "Done" if done else "Stopped" if self.last_result else "Not training")
            return
        self.progress.setRange(0, max(1, b.total_steps))
        self.progress.setValue(min(b.step, b.total_steps))
        where = f"epoch {b.epoch}/{b.epochs} · batch {b.batch}/{b.batches_per_epoch} · {p.speed():,.0f} samples/s"
        if self.is_training():
            if self._stop_event is not None and self._stop_event.is_set():
                state = "Stopping… · "
            elif self.is_paused():
                state = "Paused · "
            else:
                state = ""
            self.progress.setFormat(f"{state}{where[0].upper()}{where[1:]} · {format_duration(p.seconds_left())} left")
            self._say_if_slow()
        else:
            state = "Failed" if self._failed else "Ended" if self.last_result is None else "Stopped" if self.last_result.stopped else "Done"
            self.progress.setFormat(f"{state} · {where}")

    MEASURED_S = 3.0  # seconds of training before a run's speed is compared with the usual

    def _say_if_slow(self) -> None:
        p = self.progress_state
        if self.speed_said is not None or self._speed_key is None or p.measured_seconds < self.MEASURED_S or self.is_paused():
            return
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        note = speed_note(p.speed(), self.usual_speeds.get(self._speed_key), load, os.cpu_count())
        if note:
            self.speed_said = note
            self.show_message(note)

    def _remember_speed(self, result) -> None:
        """A complete run's speed becomes part of this machine's usual speed for its model."""
        p = self.progress_state
        if self._speed_key is None or result.stopped or p.measured_seconds < self.MEASURED_S or not math.isfinite(p.speed()):
            return
        self.usual_speeds[self._speed_key] = usual_speed(self.usual_speeds.get(self._speed_key), p.speed())

    # series, for tests and the bench
    def batch_losses(self) -> list[float]:
        return list(self.progress_state.loss.arrays()[1])


def _show(key: str, value) -> str:
    """A setting's value as the controls show it."""
    if key == "loss":
        return LOSSES[value].label
    if key == "schedule":
        return SCHEDULE_LABELS.get(value, value).split(" (")[0]
    if key == "batch_size" and value == 0:
        return "full batch"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


FORM_FIELDS = ("task", "arch", "device", *FIELD_LABELS)  # what the controls show of a TrainConfig


def _form_fields(config) -> tuple:
    return tuple(getattr(config, key) for key in FORM_FIELDS)


def _select(combo: QComboBox, data) -> None:
    i = combo.findData(data)
    if i >= 0:
        combo.setCurrentIndex(i)
