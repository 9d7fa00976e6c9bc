"""The "Accuracy vs loss" dock: why accuracy cannot be a loss, by nudging weights.

Pick one weight (for a model whose first layer sees the 784 pixels: click a pixel of its
weight image) or all weights along the loss gradient, and a range of nudges ε: the plot
(objectName ``nudge_plot``) shows the loss, a smooth curve, above the accuracy, a staircase.
The engine (``mnist_desktop.model.nudging``) measures, in a worker thread on a private copy
of the model, cancellable, with progress; this panel only shows what it reports.
"""

from __future__ import annotations

import copy
import threading

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPalette
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
from mnist_desktop.model import nudging
from mnist_desktop.model.datasets import MNIST

from .panel import DockEntry
from .session import LOADING_PYTORCH, Session, is_torch_model
from .theme import DIVERGING, mouse_only, palette_color, set_up_plot, style_plot_widget
from .training_worker import train_threads
from .workers import Worker, WorkerThreads

STEPS = {"batch": 41, "valid": 21}  # nudges per sweep, 0 among them: a CNN takes seconds per ε on 10,000 digits
SPANS = {"weight": 3.0, "gradient": 0.1}  # the default range ±ε of each kind of nudge
LOADING = f"{LOADING_PYTORCH} nudging starts when it is ready."
PIXELS = 784


def loss_axis_label(loss_name: str) -> str:
    """The loss axis's label: the loss's short name ("loss: mnist-loss"). Its long label, in
    brackets after "loss", ran past the end of the axis ("NIST loss (sigmoid distance))")."""
    return f"loss: {loss_name}"


class NudgeWorker(Worker):
    """Runs one :func:`~mnist_desktop.model.nudge` sweep: reports (done, total), finishes with
    the Nudge (None if cancelled); never touches a widget."""

    def __init__(self, generation: int, predictor, data: str, epsilons, parameter, index, cancel_event: threading.Event):
        super().__init__(generation, cancel_event)
        self.predictor = predictor  # a private copy
        self.data = data
        self.epsilons = epsilons
        self.parameter = parameter
        self.index = index

    def failure(self, error: Exception) -> str:
        return str(error) if isinstance(error, (engine.MnistDesktopError, ValueError)) else super().failure(error)

    def work(self):
        import torch

        torch.set_num_threads(train_threads())
        images, labels = nudging.nudge_data(self.predictor.classes, self.data)
        self.report((0, len(self.epsilons)))
        r = engine.nudge(
            self.predictor,
            images,
            labels,
            self.epsilons,
            self.parameter,
            self.index,
            on_progress=lambda done, total: self.report((done, total)),
            stop_event=self.cancel_event,
        )
        return None if r.stopped else r


class WeightPicker(QWidget):
    """One row of a (rows, 784) weight matrix as a 28×28 image (blue negative, red positive);
    click a pixel to pick its weight. The picked pixel is outlined."""

    pixelClicked = Signal(int)  # the pixel, 0..783 (row * 28 + column)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("nudge_weight_image")
        self.setMinimumSize(112, 112)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip(
            "This output's weight for each pixel (red: ink there pushes the output up, blue: down). Click a pixel to nudge its weight."
        )
        self._image: QImage | None = None
        self.selected: int | None = None

    def sizeHint(self) -> QSize:
        return QSize(168, 168)

    def set_weights(self, weights: np.ndarray | None) -> None:
        if weights is None:
            self._image = None
        else:
            w = np.asarray(weights, dtype=np.float64).reshape(28, 28)
            top = float(np.abs(w).max()) or 1.0
            rgb = np.ascontiguousarray(DIVERGING[np.round((w / top + 1) * 127.5).astype(np.intp)])
            self._image = QImage(rgb.data, 28, 28, 28 * 3, QImage.Format.Format_RGB888).copy()
        self.update()

    def pixel_rect(self, pixel: int) -> QRectF:
        side = min(self.width(), self.height()) / 28
        return QRectF((pixel % 28) * side, (pixel // 28) * side, side, side)

    def pixel_at(self, pos: QPointF) -> int | None:
        side = min(self.width(), self.height()) / 28
        row, col = int(pos.y() // side), int(pos.x() // side)
        return row * 28 + col if 0 <= row < 28 and 0 <= col < 28 and pos.x() >= 0 and pos.y() >= 0 else None

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        side = min(self.width(), self.height())
        if self._image is None:
            p.setPen(palette_color(self, QPalette.ColorRole.WindowText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, "No weight image")
        else:
            p.drawImage(QRectF(0, 0, side, side), self._image)
            if self.selected is not None:
                p.setPen(QColor(0, 0, 0))
                p.drawRect(self.pixel_rect(self.selected))
        p.end()

    def mousePressEvent(self, e: QMouseEvent) -> None:
        pixel = self.pixel_at(e.position())
        if pixel is not None and self._image is not None and e.button() == Qt.MouseButton.LeftButton:
            self.pixelClicked.emit(pixel)
        super().mousePressEvent(e)


class NudgePanel(QWidget):
    """The "Accuracy vs loss" dock's contents (objectName ``nudge``)."""

    nudged = Signal(object)  # a Nudge on screen
    idle = Signal()  # no sweep running any more
    trainWithAccuracyRequested = Signal()

    dock = DockEntry(
        "nudge",
        "Accuracy vs loss",
        "side",
        help="Move the model's weights a little and watch loss and accuracy: why accuracy cannot be a loss.",
        short="Acc/loss",
    )

    def __init__(self, parent: QWidget | None = None, torch_ready: bool = True):
        super().__init__(parent)
        self.setObjectName("nudge")
        self.predictor = None
        self.result: nudging.Nudge | None = None
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._generation = 0
        self._stop: threading.Event | None = None
        self._threads = WorkerThreads("nudge-thread", self)
        self._shut_down = False
        self._waiting = not torch_ready

        intro = QLabel(
            "Move one weight, or all of them along the gradient, by a small ε and watch what happens to the loss "
            "and to the accuracy. A loss must change smoothly for SGD to follow it.",
            wordWrap=True,
        )
        self.status = QLabel(objectName="nudge_status", wordWrap=True)

        self.direction = QComboBox(objectName="nudge_direction")
        self.direction.addItem("One weight", "weight")
        self.direction.addItem("All weights, along the loss gradient", "gradient")
        self.direction.setToolTip("Nudge one weight by ε, or every weight a step of length ε along the gradient (ε < 0: an SGD step).")
        self.parameter = QComboBox(objectName="nudge_parameter")
        self.parameter.setToolTip("Which of the model's weight tensors the weight belongs to.")
        self.row = QComboBox(objectName="nudge_row")
        self.row.setToolTip("Which output (or hidden unit) the weight image belongs to.")
        self.index = QSpinBox(objectName="nudge_index", minimum=0, maximum=0)
        self.index.setToolTip("The weight's position in the tensor, counted row by row.")
        self.picker = WeightPicker()
        self.data = QComboBox(objectName="nudge_data")
        self.data.addItem("One batch (64 training digits)", "batch")
        self.data.addItem("The validation set (10,000 digits)", "valid")
        self.data.setToolTip("The digits the loss and the accuracy are measured on.")
        self.span = QDoubleSpinBox(objectName="nudge_span", decimals=4, minimum=0.0001, maximum=1000.0, value=SPANS["weight"])
        self.span.setPrefix("± ")
        self.span.setToolTip("The largest nudge: ε goes from minus this to plus this in 40 steps (20 on the validation set).")
        self.nudge_button = QPushButton("Nudge", objectName="nudge_button")
        self.nudge_button.setToolTip("Measure the loss and the accuracy for each ε.")
        self.cancel_button = QPushButton("Cancel", objectName="nudge_cancel", enabled=False)
        self.cancel_button.setToolTip("Stop the sweep; the plot keeps the last complete one.")
        self.progress = QProgressBar(objectName="nudge_progress", minimum=0, maximum=1, value=0, visible=False)

        self.plot = mouse_only(pg.GraphicsLayoutWidget())
        self.plot.setObjectName("nudge_plot")
        self.plot.setMinimumHeight(320)
        self.plot.setToolTip("Top: the loss, bottom: the accuracy, for each nudge ε (the dashed line: the model as it is).")
        self.loss_item = self.plot.addPlot(row=0, col=0)
        self.acc_item = self.plot.addPlot(row=1, col=0)
        self.acc_item.setXLink(self.loss_item)
        set_up_plot(self.loss_item, left="loss")
        set_up_plot(self.acc_item, "nudge ε", "accuracy %")
        for item in (self.loss_item, self.acc_item):
            item.addLine(x=0, pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DashLine))
        self.loss_curve = self.loss_item.plot(symbol="o", symbolSize=4)
        self.acc_curve = self.acc_item.plot(symbol="o", symbolSize=4)
        self.reading = QLabel(objectName="nudge_reading", wordWrap=True)
        self.reading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.train_button = QPushButton("Train with accuracy as the loss", objectName="nudge_train_accuracy")
        self.train_button.setToolTip("Train a fresh model like the active one with accuracy as its loss, and see what the trainer says.")

        form = QFormLayout()
        form.addRow("Move", self.direction)
        form.addRow("Weights", self.parameter)
        form.addRow("Weight image of", self.row)
        form.addRow("Weight number", self.index)
        picker_row = QHBoxLayout()
        picker_row.addWidget(self.picker)
        self.picker_note = QLabel("Click a pixel to nudge its weight.", wordWrap=True)
        picker_row.addWidget(self.picker_note, 1)
        form.addRow("", picker_row)
        form.addRow("Measured on", self.data)
        form.addRow("Range of ε", self.span)
        buttons = QHBoxLayout()
        buttons.addWidget(self.nudge_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.status)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.reading)
        layout.addWidget(self.train_button)
        self._controls = [self.direction, self.parameter, self.row, self.index, self.picker, self.data, self.span, self.nudge_button]

        self.direction.currentIndexChanged.connect(self._on_direction_changed)
        self.parameter.currentIndexChanged.connect(self._on_parameter_changed)
        self.row.currentIndexChanged.connect(self._on_row_changed)
        self.index.valueChanged.connect(self._on_index_changed)
        self.picker.pixelClicked.connect(self.pick_pixel)
        self.nudge_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.train_button.clicked.connect(self.trainWithAccuracyRequested)
        self._style()
        self.set_predictor(None)

    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        session.follow_model(self.set_predictor)
        session.follow_torch_failure(self.torch_failed)

    def set_on_screen(self, shown: bool) -> None:
        """Nothing to do: a sweep runs only when asked for."""

    @Slot(str)
    def torch_failed(self, why: str) -> None:
        self.status.setText(f"⚠ {why}: nudging is not available.")
        self.status.setVisible(True)

    @Slot(object)
    def set_predictor(self, predictor) -> None:
        """The window's active model. Before PyTorch has loaded it is a numpy copy: the panel
        waits (disabled) for the torch model, which the window sends when it is ready."""
        self.cancel()
        self._clear()
        waiting = predictor is not None and not is_torch_model(predictor)
        self.predictor = None if waiting else predictor
        self._shapes = {}
        message = ""
        if waiting or (predictor is None and self._waiting):
            message = LOADING
        elif predictor is None:
            message = "No model: train one or open one."
        else:
            self._waiting = False
            try:
                self._shapes = nudging.nudgeable_parameters(predictor)
            except engine.MnistDesktopError as e:  # pixel similarity: nothing to nudge, and why
                message = f"⚠ {e}"
        classes = list(getattr(self.predictor, "classes", MNIST.classes))
        which = "all 10,000 digits" if len(classes) == len(MNIST.classes) else f"its {' and '.join(f'{c}s' for c in classes)}"
        self.data.setItemText(self.data.findData("valid"), f"The validation set ({which})")
        self.status.setText(message)
        self.status.setVisible(bool(message))
        self._fill_parameters()
        self._update_enabled()

    def _fill_parameters(self) -> None:
        self.parameter.blockSignals(True)
        self.parameter.clear()
        for name, shape in self._shapes.items():
            self.parameter.addItem(f"{name} {'×'.join(map(str, shape))}", name)
        # The first weight matrix that sees the 784 pixels (linear, MLP), else the last layer's.
        pixels = [n for n, s in self._shapes.items() if len(s) == 2 and s[1] == PIXELS]
        weights = [n for n, s in self._shapes.items() if n.endswith("weight")]
        choice = pixels[0] if pixels else (weights[-1] if weights else next(iter(self._shapes), None))
        if choice is not None:
            self.parameter.setCurrentIndex(self.parameter.findData(choice))
        self.parameter.blockSignals(False)
        self._on_parameter_changed()

    def _pixel_rows(self) -> bool:
        shape = self._shapes.get(self.parameter.currentData() or "", ())
        return len(shape) == 2 and shape[1] == PIXELS

    @Slot()
    def _on_parameter_changed(self) -> None:
        name = self.parameter.currentData()
        shape = self._shapes.get(name or "", ())
        self.row.blockSignals(True)
        self.row.clear()
        if self._pixel_rows():
            # Rows are the model's outputs only in its output layer (an MLP's hidden layer may have 10 units too).
            outputs = self.predictor is not None and name in nudging.output_parameters(self.predictor)
            for r in range(shape[0]):
                if not outputs:
                    self.row.addItem(f"hidden unit {r}", r)
                elif shape[0] == 1:
                    a, b = self.predictor.classes
                    self.row.addItem(f"the output ({b} rather than {a})", r)
                else:
                    self.row.addItem(f"digit {self.predictor.classes[r]}", r)
        self.row.blockSignals(False)
        self.index.blockSignals(True)
        self.index.setMaximum(max(0, int(np.prod(shape)) - 1) if shape else 0)
        self.index.setValue(14 * 28 + 14 if self._pixel_rows() else 0)  # the middle of the image: most digits have ink there
        self.index.blockSignals(False)
        self._on_index_changed()

    @Slot()
    def _on_row_changed(self) -> None:
        if self._pixel_rows() and self.row.currentIndex() >= 0:
            self.index.setValue(self.row.currentIndex() * PIXELS + self.index.value() % PIXELS)

    @Slot()
    def _on_index_changed(self) -> None:
        pixels = self._pixel_rows()
        self.picker.setVisible(pixels)
        self.picker_note.setVisible(pixels)
        self.row.setEnabled(pixels and self._enabled())
        if not pixels:
            self.picker.set_weights(None)
            return
        row, pixel = divmod(self.index.value(), PIXELS)
        if self.row.currentIndex() != row:
            self.row.blockSignals(True)
            self.row.setCurrentIndex(row)
            self.row.blockSignals(False)
        weights = dict(self.predictor.model.named_parameters())[self.parameter.currentData()].detach()[row].numpy().copy()
        self.picker.selected = pixel
        self.picker.set_weights(weights)
        self.picker_note.setText(
            f"Pixel ({pixel // 28}, {pixel % 28}): weight {weights[pixel]:+.4f}. Click another pixel to nudge its weight."
        )

    @Slot(int)
    def pick_pixel(self, pixel: int) -> None:
        """Pick the weight of ``pixel`` (0..783) in the shown row, and nudge it."""
        if not self._pixel_rows() or not self._enabled():
            return
        self.direction.setCurrentIndex(self.direction.findData("weight"))
        self.index.setValue(self.row.currentIndex() * PIXELS + pixel)
        self.start()

    @Slot()
    def _on_direction_changed(self) -> None:
        self.span.setValue(SPANS[self.direction.currentData()])
        self._update_enabled()

    def _enabled(self) -> bool:
        return self.predictor is not None and bool(self._shapes) and not self._shut_down

    def _update_enabled(self) -> None:
        ok = self._enabled()
        busy = self.is_busy()
        for w in self._controls:
            w.setEnabled(ok and not busy)
        one = self.direction.currentData() == "weight"
        for w in (self.parameter, self.index):
            w.setEnabled(ok and not busy and one)
        self.row.setEnabled(ok and not busy and one and self._pixel_rows())
        self.picker.setEnabled(ok and not busy)
        self.cancel_button.setEnabled(busy)
        self.train_button.setEnabled(not self._waiting)

    # ------------------------------------------------------------------ the sweep
    def is_busy(self) -> bool:
        return self._stop is not None and not self._stop.is_set()

    @Slot()
    def start(self) -> bool:
        """Nudge as the controls say, in a worker thread. False if there is nothing to nudge."""
        if not self._enabled():
            return False
        self.cancel()
        self._generation += 1
        self._stop = threading.Event()
        one = self.direction.currentData() == "weight"
        predictor = engine.Predictor(copy.deepcopy(self.predictor.model), self.predictor.meta)
        worker = NudgeWorker(
            self._generation,
            predictor,
            self.data.currentData(),
            nudging.epsilon_grid(self.span.value(), STEPS[self.data.currentData()]),
            self.parameter.currentData() if one else None,
            self.index.value() if one else None,
            self._stop,
        )
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        self.progress.setRange(0, 0)
        self.progress.setFormat("Loading the digits…")
        self.progress.setVisible(True)
        self.reading.setText("")
        self._update_enabled()
        self._threads.start(worker)
        return True

    @Slot()
    def cancel(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self._stop = None
        self._generation += 1  # whatever arrives from the old run is dropped
        self.progress.setVisible(False)
        self._update_enabled()

    def shutdown(self) -> None:
        """Stop every sweep and wait for its thread (before the window goes away)."""
        self._shut_down = True
        self.cancel()
        self._threads.shutdown()

    @Slot(int, object)
    def _on_progress(self, generation: int, done_total) -> None:
        if generation != self._generation or self._shut_down:
            return
        done, total = done_total
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"ε {done} of {total}")

    @Slot(int, object)
    def _on_result(self, generation: int, r) -> None:
        if generation != self._generation or self._shut_down:
            return
        if r is not None:  # None: cancelled
            self.result = r
            self.loss_curve.setData(r.epsilons, r.loss)
            self.acc_curve.setData(r.epsilons, 100 * r.accuracy)
            self.loss_item.setLabel("left", loss_axis_label(r.loss_name))
            what = f"{r.parameter}[{r.index}] = {r.weight:+.4f} + ε" if r.parameter else "all weights + ε · gradient direction"
            self.loss_item.setTitle(f"{what} · {r.samples:,} digits", size="9pt")
            self.reading.setText(r.reading())
            self.nudged.emit(r)
        self._on_finished()

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self._generation and not self._shut_down:
            self.reading.setText(f"⚠ Could not nudge: {message}")
            self._on_finished()

    def _on_finished(self) -> None:
        """The sweep ended (its result, if any, is on screen)."""
        self._stop = None
        self.progress.setVisible(False)
        self._update_enabled()
        self.idle.emit()

    def _clear(self) -> None:
        self.result = None
        self.loss_curve.setData([], [])
        self.acc_curve.setData([], [])
        self.loss_item.setTitle(None)
        self.reading.setText("")

    # ------------------------------------------------------------------ looks
    def _style(self) -> None:
        style_plot_widget(self.plot, self)
        self.loss_curve.setPen(pg.mkPen(palette_color(self, QPalette.ColorRole.Highlight), width=2))
        self.loss_curve.setSymbolBrush(palette_color(self, QPalette.ColorRole.Highlight))
        text = palette_color(self, QPalette.ColorRole.Text)
        self.acc_curve.setPen(pg.mkPen(text, width=2))
        self.acc_curve.setSymbolBrush(text)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._style()
        super().changeEvent(event)
