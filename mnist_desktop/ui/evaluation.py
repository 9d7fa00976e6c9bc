"""The Evaluation dock: where the active model goes wrong on MNIST's 10,000 test digits.

The confusion matrix (click a cell: its digits in a gallery), per-class accuracy and the
most confident mistakes ("top losses"); a confidence threshold; a reliability diagram (how far
the model's confidence can be trusted, on MNIST test or on My digits); robustness curves and
the MNIST-C style corruption suite (on request, on a subset); a point map of a layer's
activations. Everything is computed by the engine
(``mnist_desktop.model.evaluation``) in a worker thread on a private copy of the model,
only while the panel is visible; a newer model cancels the run of the older one (a stop
event, and a generation number on every result so that late results are dropped).
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import model as engine
from mnist_desktop.model import evaluation as ev
from mnist_desktop.model import mydigits
from mnist_desktop.model.corruptions import CORRUPTIONS, corruption_suite
from mnist_desktop.model.datasets import MNIST
from mnist_desktop.model.recognition import calibration, calibration_of

from .captions import ElidedLabel, count_of
from .gallery import Gallery, thumbnail
from .panel import DockEntry
from .session import LOADING_PYTORCH, Session, is_torch_model
from .theme import SEQUENTIAL, class_colours, legend_outside, mouse_only, palette_color, style_plot_widget
from .training_worker import train_threads
from .workers import Worker, WorkerThreads

ROBUSTNESS_SAMPLES = 1000  # test digits each robustness point is measured on (the first ones)
MAP_SAMPLES = 2000  # test digits on the point map (the first ones)
# Test digits per corruption in the window: all 15 × 10,000 take about a minute of one core,
# 1,000 about 5 s. The first 1,000 are harder than the whole set (the bundled CNN reads 98.8 % of
# them clean against 99.32 %), so each accuracy runs under the full figure, by 0.3 to 3.5 points
# (fog 90.3 against 93.8 %, zigzag 92.1 against 95.0; the mean 95.7 against 96.9 %), not ±1 point.
CORRUPTION_SAMPLES = 1000
CORRUPTION_SEED = 0
RELIABILITY_BINS = 15
# Fewer digits than this and the diagram says its ECE is rough: each digit weighs 1/n in it, so
# below 50 one answer more or less right moves the ECE by over 2 points, eight times the whole
# ECE of the bundled CNN on MNIST's test set (0.25 %) and as much as a mildly overconfident
# model's. (A bin's accuracy then rests on a handful of digits, 1 of My digits gave "100.00 %".)
RELIABILITY_FEW = 50
# The gallery ranks the mistakes by the probability of the digit said (``Evaluation.top_losses``),
# not by their loss as fastai's plot_top_losses does: for the bundled CNN the two orders agree on 4
# of their first 10 places (8 of the 10 digits), and 7 of its 68 largest losses are right answers.
TOP_LOSSES_ORDER = "(fastai's plot_top_losses ranks by loss instead: the true digit's probability, lowest first.)"
ROBUSTNESS_THREE_COLUMNS = 640  # px of width from which the robustness plots go three to a row (else two)


def robustness_stage(label: str, amount: float) -> str:
    """What the progress line says while a robustness point is measured."""
    return f"Robustness: {label.lower()} {amount:g}…"


def corruption_stage(name: str) -> str:
    """What the progress line says once corruption ``name`` of the suite is measured."""
    return f"Corruption suite: {name.replace('_', ' ')} done…"


def stage_texts() -> list[str]:
    """Every stage the progress line says for a ten-class model (its line is as wide as the longest)."""
    return [
        "Evaluating the 10,000 test digits…",
        *(robustness_stage(label, a) for label, amounts, _unit in ev.DAMAGES.values() for a in amounts),
        "Corruption suite…",
        *(corruption_stage(name) for name in CORRUPTIONS),
        "Calibration on My digits…",
    ]


def measured_on(classes, labels, first: int = 0) -> str:
    """The test digits a model of ``classes`` is measured on, of ``labels`` (the first ``first``,
    0 for all), as the dock says them: "the 10,000 test digits", "the first 1,000 test digits";
    for a model of fewer classes only those count (``evaluate`` leaves the others out): "the
    2,038 test digits that are 3s or 7s", "the 206 of the first 1,000 test digits that are 3s or 7s"."""
    labels = np.asarray(labels[:first] if first else labels)
    counted = np.isin(labels, np.asarray(classes))
    if counted.all():
        return f"the first {len(labels):,} test digits" if first else f"the {len(labels):,} test digits"
    names = [f"{int(c)}s" for c in classes]
    which = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return (
        f"the {int(counted.sum()):,} of the first {len(labels):,} test digits that are {which}"
        if first
        else f"the {int(counted.sum()):,} test digits that are {which}"
    )


class EvaluationWorker(Worker):
    """Runs the engine's evaluation stages for one model; never touches a widget. Reports
    ``(done, total, what)``; each stage's result goes out on ``result`` as soon as it is
    computed (``finished`` carries nothing: the stages have been sent).

    It runs below the GUI thread's priority (``nice``; its torch threads inherit it): tens of
    seconds of both cores at an equal share with the GUI thread kept it waiting for a core
    50–500 ms at a time while the robustness curves were computed (bench ``evaluation``). Above
    the nearest digits' features (nice 10), background work, while the evaluation is on screen:
    at the same nice it took half the CPU and finished ~50 % later."""

    nice = 5

    result = Signal(int, str, object)  # generation, stage, payload (fresh arrays, owned by the receiver)

    def __init__(
        self,
        generation: int,
        predictor,
        stages: tuple[str, ...],
        cancel_event: threading.Event,
        layer: str | None = None,
        kinds: tuple[str, ...] = tuple(ev.DAMAGES),
        corruption_subset: int = CORRUPTION_SAMPLES,
        my_digits_folder=None,
    ):
        super().__init__(generation, cancel_event)
        self.kinds = kinds
        self.corruption_subset = corruption_subset
        self.my_digits_folder = my_digits_folder
        self.predictor = predictor  # a private copy: the canvas keeps predicting with the original
        self.stages = stages
        self.layer = layer

    def failure(self, error: Exception) -> str:
        return str(error) if isinstance(error, engine.MnistDesktopError) else super().failure(error)

    def _step(self, done: int, total: int, text: str) -> bool:
        self.report((done, total, text))
        return not self.cancelled()

    def work(self) -> None:
        import torch

        torch.set_num_threads(train_threads())
        g = self.generation
        images, labels = MNIST.arrays("test")
        steps = {
            "evaluation": 1,
            "robustness": sum(len(ev.DAMAGES[k][1]) for k in self.kinds),
            "pointmap": 1,
            "corruptions": len(CORRUPTIONS),
            "mydigits": 1,
        }
        total = sum(steps[s] for s in self.stages)
        done = 0
        for stage in self.stages:
            if stage == "evaluation":
                if not self._step(done, total, f"Evaluating {measured_on(self.predictor.classes, labels)}…"):
                    break
                e = ev.evaluate(self.predictor, images, labels)
                self.result.emit(g, "evaluation", e)
                self.result.emit(g, "threshold", ev.confidence_curve(e))
                done += 1
            elif stage == "robustness":
                x, y = images[:ROBUSTNESS_SAMPLES], labels[:ROBUSTNESS_SAMPLES]
                for kind in self.kinds:
                    label, amounts, _unit = ev.DAMAGES[kind]
                    curve = np.full(len(amounts), np.nan)
                    for i, amount in enumerate(amounts):
                        if not self._step(done, total, robustness_stage(label, amount)):
                            break
                        curve[i] = ev.evaluate(self.predictor, ev.damage(x, kind, amount), y).accuracy
                        done += 1
                    if self.cancelled():
                        break
                    self.result.emit(g, "robustness", (kind, np.asarray(amounts, dtype=np.float64), curve))
            elif stage == "pointmap":
                layer = self.layer or ev.layer_names(self.predictor)[-1]
                if not self._step(done, total, f"Point map of {layer}…"):
                    break
                xy = ev.point_map(self.predictor, images[:MAP_SAMPLES], layer)
                self.result.emit(g, "pointmap", (layer, xy))
                done += 1
            elif stage == "corruptions":
                n = self.corruption_subset
                if not self._step(done, total, "Corruption suite…"):  # on how many: the Corruptions tab says
                    break
                start = done

                def step(i: int, count: int, name: str, start=start) -> None:
                    self._step(start + i, total, corruption_stage(name))

                accuracy = corruption_suite(
                    self.predictor, images, labels, subset=n, seed=CORRUPTION_SEED, on_progress=step, stop_event=self.cancel_event
                )
                if self.cancelled():  # a part of the suite is no result: nothing is shown
                    break
                first = labels[:n] if n else labels
                used = int(np.isin(first, self.predictor.classes).sum())  # the digits the suite counted
                self.result.emit(g, "corruptions", (len(first), used, accuracy))
                done += len(CORRUPTIONS)
            elif stage == "mydigits":
                if not self._step(done, total, "Calibration on My digits…"):
                    break
                self.result.emit(g, "mydigits", self._my_digits_calibration())
                done += 1
            if self.cancelled():
                break
        self.report((total, total, ""))

    def _my_digits_calibration(self):
        """(how many of My digits were used, their Calibration or None, why not)."""
        # a Path (the folder from the settings is a str)
        folder = Path(self.my_digits_folder) if self.my_digits_folder else mydigits.default_digits_folder()
        if not folder.exists():
            return 0, None, "You have no My digits yet: add some in the My digits panel."
        try:
            store = mydigits.MyDigits(folder, read_only=True)
            images, labels = store.images(), store.labels()
        except (engine.MnistDesktopError, OSError) as e:
            return 0, None, f"My digits cannot be read: {e}"
        known = np.isin(labels, list(self.predictor.classes))  # a 3v7 model knows two digits only
        images, labels = images[known], labels[known]
        if len(labels) == 0:
            return 0, None, "None of your My digits is a digit this model knows: add some in the My digits panel."
        return len(labels), calibration(self.predictor, images, labels, RELIABILITY_BINS), ""


class ConfusionMatrix(QWidget):
    """K×K cells, shaded by count (log scale) with the count printed; click a cell."""

    cellClicked = Signal(int, int)  # row (true class index), column (predicted class index)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("confusion_matrix")
        self.matrix = np.zeros((0, 0), np.int64)
        self.classes: list[int] = []
        self.selected: tuple[int, int] | None = None
        self.setMinimumSize(220, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setToolTip("Rows: the true digit; columns: what the model said. Click a cell to see its digits.")

    def sizeHint(self) -> QSize:
        return QSize(360, 360)

    def set_matrix(self, matrix: np.ndarray | None, classes=()) -> None:
        self.matrix = np.zeros((0, 0), np.int64) if matrix is None else np.array(matrix, dtype=np.int64)
        self.classes = [int(c) for c in classes]
        self.selected = None
        self.update()

    def _geometry(self) -> tuple[float, float, float]:
        """(left, top, cell side)."""
        k = max(1, len(self.classes))
        margin = self.fontMetrics().height() * 2 + 4
        side = max(4.0, min(self.width() - margin, self.height() - margin) / k)
        return float(margin), float(margin), side

    def cell_rect(self, row: int, col: int) -> QRectF:
        x0, y0, c = self._geometry()
        return QRectF(x0 + col * c, y0 + row * c, c, c)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        x0, y0, c = self._geometry()
        row, col = int((pos.y() - y0) // c), int((pos.x() - x0) // c)
        k = len(self.classes)
        return (row, col) if 0 <= row < k and 0 <= col < k and pos.x() >= x0 and pos.y() >= y0 else None

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        text = palette_color(self, QPalette.ColorRole.WindowText)
        k = len(self.classes)
        if k == 0:
            p.setPen(text)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No evaluation yet")
            p.end()
            return
        x0, y0, c = self._geometry()
        line = self.fontMetrics().height()
        p.setPen(text)
        p.drawText(QRectF(x0, 0, c * k, line), Qt.AlignmentFlag.AlignCenter, "predicted")
        p.save()
        p.translate(0, y0 + c * k / 2)
        p.rotate(-90)
        p.drawText(QRectF(-c * k / 2, 0, c * k, line), Qt.AlignmentFlag.AlignCenter, "true")
        p.restore()
        for i, cls in enumerate(self.classes):
            p.drawText(QRectF(x0 + i * c, line, c, line + 4), Qt.AlignmentFlag.AlignCenter, str(cls))
            p.drawText(QRectF(line, y0 + i * c, x0 - line - 2, c), Qt.AlignmentFlag.AlignCenter, str(cls))
        top = np.log1p(self.matrix.max()) if self.matrix.size else 1.0
        font = p.font()
        font.setPixelSize(max(6, int(c * 0.3)))
        p.setFont(font)
        for r in range(k):
            for col in range(k):
                n = int(self.matrix[r, col])
                shade = np.log1p(n) / top if top > 0 else 0.0
                rgb = SEQUENTIAL[int(round(shade * 255))]
                color = QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]))
                rect = self.cell_rect(r, col)
                p.fillRect(rect, color)
                p.setPen(QColor(0, 0, 0) if color.lightnessF() > 0.55 else QColor(255, 255, 255))
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(n))
        if self.selected is not None:
            p.setPen(palette_color(self, QPalette.ColorRole.Highlight))
            p.drawRect(self.cell_rect(*self.selected).adjusted(1, 1, -1, -1))
        p.end()

    def mousePressEvent(self, e: QMouseEvent) -> None:
        cell = self.cell_at(e.position())
        if cell is not None and e.button() == Qt.MouseButton.LeftButton:
            self.selected = cell
            self.update()
            self.cellClicked.emit(*cell)
        super().mousePressEvent(e)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        cell = self.cell_at(e.position())
        if cell is not None:
            r, col = cell
            n = int(self.matrix[r, col])
            t, g = self.classes[r], self.classes[col]
            what = "read right" if r == col else f"read as {g}"
            self.setToolTip(f"{n} test digit{'s' if n != 1 else ''} labelled {t} {what}. Click to see them.")
        super().mouseMoveEvent(e)


def _row(*controls: QWidget) -> QHBoxLayout:
    """``controls`` side by side, from the left."""
    row = QHBoxLayout()
    for control in controls:
        row.addWidget(control)
    row.addStretch(1)
    return row


class EvaluationPanel(QWidget):
    """The Evaluation dock's contents (objectName ``evaluation``)."""

    inspectRequested = Signal(str, int)  # split, index: show this MNIST digit in the inspector
    toCanvas = Signal(object)  # a uint8 28×28 digit to put on the canvas
    evaluated = Signal()  # a new model's confusion matrix is shown
    stageShown = Signal(str)  # a stage's result is on screen ("evaluation", "threshold", "robustness", "pointmap")
    idle = Signal()  # no computation running any more

    dock = DockEntry(
        "evaluation",
        "Evaluation",
        "side",
        short="Test",
        help="How well the active model does on MNIST's test images, and where it goes wrong.",
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("evaluation")
        self.predictor = None
        self.evaluation: ev.Evaluation | None = None
        self._generation = 0
        self._stale = True
        self._stop: threading.Event | None = None
        self._threads = WorkerThreads("evaluation-thread", self)
        # At most one run computes and one waits: a cancelled run finishes its current step
        # (seconds, for the point map) before it notices, and models switched quickly must not
        # each start a thread (and a copy of the model) meanwhile.
        self._queued: tuple[int, tuple[str, ...]] | None = None
        self.computing = 0  # workers that have not ended yet (finished or failed)
        self._shut_down = False
        self._on_screen = False  # set by the dock (set_on_screen)

        self.status = QLabel(objectName="evaluation_status", wordWrap=True)
        # The bar says how far; the stage ("Robustness: gaussian noise 0.6…") goes in a label
        # under it, not in the bar, which would cut it. Both keep their room when hidden and the
        # stage is one line ("…" where cut, whole in its tooltip), so the header keeps its height
        # through an evaluation and the tabs under it stay where the mouse is going (they moved
        # by a line or two as the bar and a stage that wrapped came and went).
        self.progress = QProgressBar(objectName="evaluation_progress", minimum=0, maximum=1, value=0)
        self.progress.setFormat("%p %")
        self.progress.setMaximumWidth(160)
        self.stage = ElidedLabel(objectName="evaluation_stage")
        self.stage.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # its width from the column, not its text
        # room for a ten-class model's every stage (a 3-vs-7 model's "Evaluating the 2,038 test
        # digits that are 3s or 7s…" may end in "…")
        self.stage.setMinimumWidth(max(self.stage.fontMetrics().horizontalAdvance(t) for t in stage_texts()) + 4)
        for w in (self.progress, self.stage):
            policy = w.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            w.setSizePolicy(policy)
            w.setVisible(False)
        self.progress_box = QVBoxLayout()
        self.progress_box.addWidget(self.progress)
        self.progress_box.addWidget(self.stage)
        top = QHBoxLayout()
        top.addWidget(self.status, 3)
        top.addLayout(self.progress_box, 1)

        self._corruptions_wanted = False  # the user asked for the suite (it takes seconds of both cores)
        self.corruption_subset = CORRUPTION_SAMPLES
        self.corruptions: dict[str, float] | None = None  # the active model's, when measured
        self.my_digits_folder = None  # None: the default folder (the window may point it elsewhere)
        self.reliability: dict[str, object] = {}  # "test" / "mydigits" → Calibration
        self._summary = ""  # the status line once the model is evaluated
        self.threshold_answered: float | None = None  # the share of test digits answered at the slider's threshold

        self.tabs = QTabWidget(objectName="evaluation_tabs")
        self._build_confusion_tab()
        self._build_top_losses_tab()
        self._build_threshold_tab()
        self._build_reliability_tab()
        self._build_robustness_tab()
        self._build_corruption_tab()
        self._build_point_map_tab()
        self._shown: set[str] = set()  # stages of this model already on screen
        self._robust_shown: set[str] = set()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.status.setText("Shown when this panel is open: where the active model goes wrong on MNIST's test set.")

    # ------------------------------------------------------------------ building
    def _gallery(self, name: str) -> Gallery:
        g = Gallery()
        g.setObjectName(name)
        g.itemClicked.connect(lambda key: self.inspectRequested.emit("test", int(key)))
        g.toCanvas.connect(self.toCanvas)
        return g

    def _add_tab(self, title: str, *parts: QWidget | QLayout, stretch: QWidget) -> QWidget:
        """A tab of ``parts`` top to bottom (a layout is a row of controls), edge to edge;
        ``stretch`` takes the height left."""
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0, 0, 0)
        for part in parts:
            if isinstance(part, QLayout):
                v.addLayout(part)
            else:
                v.addWidget(part, 1 if part is stretch else 0)
        self.tabs.addTab(w, title)
        return w

    def _build_confusion_tab(self) -> None:
        self.confusion = ConfusionMatrix()
        self.confusion.cellClicked.connect(self.show_cell)
        self.per_class = QLabel(objectName="per_class", wordWrap=True)
        self.per_class.setTextFormat(Qt.TextFormat.RichText)
        self.per_class.setToolTip("Accuracy on the test digits of each class.")
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.confusion, 1)
        lv.addWidget(self.per_class)
        self.cell_title = QLabel("Click a cell of the matrix to see its digits.", objectName="cell_title", wordWrap=True)
        self.cell_gallery = self._gallery("cell_gallery")
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.cell_title)
        rv.addWidget(self.cell_gallery, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        self.tabs.addTab(split, "Confusion")

    def _build_top_losses_tab(self) -> None:
        self.top_losses_title = QLabel(
            f"The model's mistakes, most confident first. {TOP_LOSSES_ORDER} Click one to inspect it.",
            wordWrap=True,
        )
        self.top_losses = self._gallery("top_losses")
        self._add_tab("Top losses", self.top_losses_title, self.top_losses, stretch=self.top_losses)

    def _build_threshold_tab(self) -> None:
        self.threshold_plot = mouse_only(pg.PlotWidget())
        self.threshold_plot.setObjectName("threshold_plot")
        plot = self.threshold_plot.getPlotItem()
        plot.setLabel("bottom", "answer only when at least this sure (%)")
        plot.setLabel("left", "%")
        plot.setXRange(0, 100, padding=0.02)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        legend_outside(plot)
        self.answered_curve = plot.plot(pen=pg.mkPen((31, 119, 180), width=2), name="share answered")
        self.answered_accuracy_curve = plot.plot(pen=pg.mkPen((214, 39, 40), width=2), name="accuracy on those answered")
        self.threshold_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DashLine))
        plot.addItem(self.threshold_line)
        style_plot_widget(self.threshold_plot, self)
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal, objectName="threshold_slider", minimum=0, maximum=100, value=90)
        self.threshold_slider.setToolTip("The model answers only when its top probability is at least this; the rest go to a person.")
        self.threshold_label = QLabel(objectName="threshold_label", wordWrap=True)
        self.threshold_slider.valueChanged.connect(self._update_threshold)
        row = QHBoxLayout()
        row.addWidget(QLabel("At least"))
        row.addWidget(self.threshold_slider, 1)
        self._add_tab("Threshold", self.threshold_plot, row, self.threshold_label, stretch=self.threshold_plot)

    def _build_reliability_tab(self) -> None:
        self.reliability_source = QComboBox(objectName="reliability_source")
        self.reliability_source.addItem("MNIST test", "test")
        self.reliability_source.addItem("My digits", "mydigits")
        self.reliability_source.setToolTip(
            "Whose digits the diagram is drawn on: MNIST's 10,000 test digits, or the ones you drew and labelled in My digits."
        )
        self.reliability_source.currentIndexChanged.connect(lambda _i: self._on_reliability_source())
        self.reliability_diagram = mouse_only(pg.PlotWidget())
        self.reliability_diagram.setObjectName("reliability_diagram")
        self.reliability_diagram.setToolTip(
            "Reliability diagram: the predictions grouped by how sure the model was (its top probability, in "
            f"{RELIABILITY_BINS} bins). Bars: the share right in each bin; dots: the bin's mean confidence against its "
            'accuracy, larger for more digits. On the dashed diagonal the model\'s "80 % sure" is right 80 % of the '
            "time; below it, it is overconfident. ECE (expected calibration error) is the digit-weighted mean gap."
        )
        plot = self.reliability_diagram.getPlotItem()
        plot.setLabel("bottom", "confidence: top probability (%)")
        plot.setLabel("left", "accuracy (%)")
        plot.setXRange(0, 100, padding=0.07)  # room for the dots of the top bin
        plot.setYRange(0, 100, padding=0.04)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.plot([0, 100], [0, 100], pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DashLine))
        self.reliability_bars = pg.BarGraphItem(x=[], height=[], width=100 / RELIABILITY_BINS, brush=(31, 119, 180, 90))
        plot.addItem(self.reliability_bars)
        self.reliability_points = pg.ScatterPlotItem(pen=pg.mkPen((214, 39, 40)), brush=pg.mkBrush(214, 39, 40, 200))
        plot.addItem(self.reliability_points)
        style_plot_widget(self.reliability_diagram, self)
        self.reliability_info = QLabel(objectName="reliability_info", wordWrap=True)
        self.reliability_info.setToolTip("What the diagram shows: on which digits, how many, and the expected calibration error.")
        row = _row(QLabel("Digits"), self.reliability_source)
        self._add_tab("Reliability", row, self.reliability_diagram, self.reliability_info, stretch=self.reliability_diagram)

    def _build_corruption_tab(self) -> None:
        self.corruption_run = QPushButton("Run the corruption suite", objectName="corruption_run")
        self.corruption_run.setToolTip(
            f"Measure the model on the first {CORRUPTION_SAMPLES:,} test digits under each of 15 corruptions in the style of "
            "MNIST-C (noise, blur, shear, fog, zigzag lines…), generated here with fixed seeds. Takes seconds."
        )
        self.corruption_run.clicked.connect(self.run_corruptions)
        self.corruption_cancel = QPushButton("Cancel", objectName="corruption_cancel", enabled=False)
        self.corruption_cancel.setToolTip("Stop the corruption suite: nothing of it is shown.")
        self.corruption_cancel.clicked.connect(self.cancel_corruptions)
        self.corruption_info = QLabel(objectName="corruption_info", wordWrap=True)
        self.corruption_info.setToolTip("On what the accuracies were measured, and their mean.")
        self.corruption_table = QTableWidget(0, 2, objectName="corruption_table")
        self.corruption_table.setHorizontalHeaderLabels(["corruption", "accuracy (%)"])
        self.corruption_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.corruption_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.corruption_table.verticalHeader().setVisible(False)
        # compact rows: the 15 corruptions and the mean fit the dock at 1280×720 without scrolling
        self.corruption_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.corruption_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.corruption_table.setTabKeyNavigation(False)  # Tab leaves it (see the Data panel's counts)
        self.corruption_table.setToolTip(
            "The model's accuracy on the test digits under each corruption, and the mean over all 15: how well it reads "
            "digits that are not as clean as MNIST's. The robustness curves show the same for growing amounts of damage."
        )
        row = _row(self.corruption_run, self.corruption_cancel)
        self._add_tab("Corruptions", row, self.corruption_info, self.corruption_table, stretch=self.corruption_table)
        self._show_corruption_hint()

    def _build_robustness_tab(self) -> None:
        self.robustness_view = mouse_only(pg.GraphicsLayoutWidget())
        self.robustness_view.setObjectName("robustness_plots")
        self.robustness_curves: dict[str, pg.PlotDataItem] = {}  # filled as the plots are built
        self.robustness_plots: dict[str, pg.PlotItem] = {}
        self._robustness_data: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # kind → curve, until its plot exists
        self._robustness_columns = 0
        # One plot per event-loop turn: the five at once held the window 0.3–0.7 s.
        self._robustness_builder = QTimer(self, singleShot=True, interval=0)
        self._robustness_builder.timeout.connect(self._build_next_robustness_plot)
        self.robustness_view.installEventFilter(self)  # two or three plots to a row, as its width allows
        style_plot_widget(self.robustness_view, self)
        self.robustness_note = QLabel(objectName="robustness_note", wordWrap=True)
        self._show_robustness_note()
        w = self._add_tab("Robustness", self.robustness_note, self.robustness_view, stretch=self.robustness_view)
        self.tabs.currentChanged.connect(lambda i: self.tabs.widget(i) is w and self._build_robustness_plots())

    def _measured_on(self, first: int) -> str:
        """The first ``first`` test digits, or those of them that the active model's classes count."""
        if self.predictor is None or set(MNIST.classes) <= set(self.predictor.classes):
            return f"the first {first:,} test digits"  # said without decoding the test set (the dock is built at once)
        return measured_on(self.predictor.classes, MNIST.arrays("test")[1], first)

    def _show_robustness_note(self) -> None:
        self.robustness_note.setText(
            f"Accuracy (%) on {self._measured_on(ROBUSTNESS_SAMPLES)} as each kind of damage grows: noise, a turn, "
            "fatter or thinner strokes, a shift off centre, a smaller or larger digit. MNIST's digits are centred and "
            "size-normalised; people's are not."
        )

    def _build_robustness_plots(self) -> None:
        """Build the five plots, one per turn of the event loop (each takes 30–60 ms: its axes,
        title and menus), when the tab is first shown or its first curve arrives: not at
        start-up, where they cost ~40 ms, and not all in one turn, which froze the window."""
        if len(self.robustness_plots) < len(ev.DAMAGES) and not self._robustness_builder.isActive():
            self._robustness_builder.start()

    @Slot()
    def _build_next_robustness_plot(self) -> None:
        """Build the first plot not built yet, put it in its place and give it its curve if it
        has come; then, if any is left, the next one in the next turn."""
        kind = next((k for k in ev.DAMAGES if k not in self.robustness_plots), None)
        if kind is None:
            return
        label, amounts, unit = ev.DAMAGES[kind]
        # No right-click menu (as the other small plots): it also costs a third of the build.
        plot = pg.PlotItem(title=label, enableMenu=False)
        plot.setLabel("bottom", unit)
        # Three labelled amounts (the first, middle and last), a tick at each: seven
        # labels ran together in a narrow plot ("0.60.81.01.21.4").
        axis = plot.getAxis("bottom")
        axis.enableAutoSIPrefix(False)
        major = [amounts[i] for i in sorted({0, len(amounts) // 2, len(amounts) - 1})]
        axis.setTicks([[(v, f"{v:g}") for v in major], [(v, "") for v in amounts]])
        plot.setYRange(0, 100, padding=0.02)
        plot.setXRange(min(amounts), max(amounts), padding=0.1)  # room for the end labels
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        curve = plot.plot(pen=pg.mkPen((31, 119, 180), width=2), symbol="o", symbolSize=5, symbolBrush=(31, 119, 180))
        if kind in self._robustness_data:
            curve.setData(*self._robustness_data[kind])
        self.robustness_plots[kind] = plot
        self.robustness_curves[kind] = curve
        style_plot_widget(self.robustness_view, self, only=plot)
        if not self._robustness_columns:
            self._arrange_robustness()
        else:
            i, columns = len(self.robustness_plots) - 1, self._robustness_columns
            self.robustness_view.ci.addItem(plot, row=i // columns, col=i % columns)
        self._robustness_on_screen()
        self._build_robustness_plots()

    def _robustness_on_screen(self) -> None:
        """Every curve has come and is drawn in its plot: the stage is on screen."""
        if len(self._robust_shown) == len(ev.DAMAGES) and all(k in self.robustness_curves for k in ev.DAMAGES):
            if "robustness" not in self._shown:
                self._shown.add("robustness")
                self.stageShown.emit("robustness")

    def _arrange_robustness(self) -> None:
        """The robustness plots two or three to a row, as the view's width allows: three in a
        side dock cut the third column off."""
        columns = 3 if self.robustness_view.width() >= ROBUSTNESS_THREE_COLUMNS else 2
        if not self.robustness_plots or columns == self._robustness_columns:
            return
        self._robustness_columns = columns
        grid = self.robustness_view.ci
        for plot in self.robustness_plots.values():
            if plot in grid.items:
                grid.removeItem(plot)
        for i, plot in enumerate(self.robustness_plots.values()):
            grid.addItem(plot, row=i // columns, col=i % columns)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.robustness_view and event.type() == QEvent.Type.Resize:
            self._arrange_robustness()
        return super().eventFilter(obj, event)

    def _build_point_map_tab(self) -> None:
        self.layer_combo = QComboBox(objectName="point_map_layer")
        self.layer_combo.setToolTip("The layer whose outputs are projected to 2-D (PCA): see how the digits separate layer by layer.")
        self.layer_combo.activated.connect(lambda _i: self._on_layer_chosen())
        self.point_map_view = mouse_only(pg.PlotWidget())
        self.point_map_view.setObjectName("point_map_plot")
        plot = self.point_map_view.getPlotItem()
        plot.setLabel("bottom", "first principal component")
        plot.setLabel("left", "second principal component")
        plot.hideButtons()
        self.point_map = pg.ScatterPlotItem(size=5, pen=None, hoverable=True, hoverSize=9, hoverPen=pg.mkPen("w"))
        self.point_map.setObjectName("point_map")
        self.point_map.sigHovered.connect(self._on_point_hovered)
        self.point_map.sigClicked.connect(self._on_point_clicked)
        plot.addItem(self.point_map)
        style_plot_widget(self.point_map_view, self)
        self.point_preview = QLabel(objectName="point_map_preview")
        self.point_preview.setFixedSize(58, 58)
        self.point_preview.setFrameShape(QLabel.Shape.Box)
        self.point_info = QLabel("Hover over a point to see its digit; click to inspect it.", objectName="point_map_info", wordWrap=True)
        self.point_legend = legend = QLabel(objectName="point_map_legend")
        legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer"))
        row.addWidget(self.layer_combo)
        row.addWidget(legend, 1)
        info = QHBoxLayout()
        info.addWidget(self.point_preview)
        info.addWidget(self.point_info, 1)
        self._add_tab("Point map", row, self.point_map_view, info, stretch=self.point_map_view)
        self._point_labels: np.ndarray | None = None
        self._colour_points()

    def _colour_points(self) -> None:
        """The point map's colour for each digit, for the theme's background (again when it changes)."""
        colours = class_colours(palette_color(self, QPalette.ColorRole.Base))
        self.point_colours = [colours[d % len(colours)] for d in MNIST.classes]
        self.point_legend.setText(
            "  ".join(f"<span style='color:{c.name()}'>■</span> {d}" for d, c in zip(MNIST.classes, self.point_colours))
        )
        self._brushes = [pg.mkBrush(QColor(c.red(), c.green(), c.blue(), 200)) for c in self.point_colours]
        if self._point_labels is not None and len(self._point_labels):
            self.point_map.setBrush([self._brushes[int(d) % len(self._brushes)] for d in self._point_labels])

    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        session.follow_model(self.set_predictor)
        session.follow_torch_failure(self.torch_failed)

    @Slot(str)
    def torch_failed(self, why: str) -> None:
        self.status.setText(f"⚠ {why}: evaluation is not available.")
        self.status.setVisible(True)

    def set_predictor(self, predictor) -> None:
        """A new active model: cancel what is running, and evaluate it when visible. Before
        PyTorch has loaded the window's model is a numpy copy; it is evaluated once the torch
        model takes over (that swap calls this again)."""
        if predictor is not None and not is_torch_model(predictor):
            predictor = None
            waiting = True
        else:
            waiting = False
        self.predictor = predictor
        self._cancel()
        self.evaluation = None
        self._shown = set()
        self._robust_shown = set()
        self._corruptions_wanted = False  # a result describes one model: the next one is measured on request
        self.layer_combo.clear()
        if predictor is not None:
            names = ev.layer_names(predictor)
            self.layer_combo.addItems(names)
            self.layer_combo.setCurrentIndex(len(names) - 1)  # the last layer separates the digits best
        self._clear()
        self._stale = True
        if waiting:
            self.status.setText(f"{LOADING_PYTORCH} the evaluation starts when it is ready.")
            self._stale = False
        elif self._on_screen:
            self.refresh()

    @Slot(bool)
    def set_on_screen(self, shown: bool) -> None:
        """Its dock's tab was selected (True) or left (False): it computes only while someone
        looks, since evaluating takes the cores that training needs. (A tabified dock that is
        not the current tab still counts as visible to Qt: the dock's visibilityChanged says.)"""
        self._on_screen = shown
        if shown and self._stale and not self._shut_down:
            self.refresh()
        elif not shown and self.is_busy():
            self._cancel()
            self._stale = True

    def is_busy(self) -> bool:
        return self._stop is not None and not self._stop.is_set()

    def refresh(self) -> None:
        """Evaluate the active model now (in the worker thread)."""
        self._stale = False
        self._cancel()
        if self.predictor is None:
            self.status.setText("No model to evaluate: train one or open one.")
            return
        self._start(self._stages())

    def _stages(self) -> tuple[str, ...]:
        """What is not on screen yet, the quick ones first."""
        stages = [s for s in ("evaluation", "pointmap") if s not in self._shown]
        if self.reliability_source.currentData() == "mydigits" and "mydigits" not in self._shown:
            stages.append("mydigits")
        if self._corruptions_wanted and "corruptions" not in self._shown:
            stages.append("corruptions")  # asked for: before the curves nobody asked for
        if any(k not in self._robust_shown for k in ev.DAMAGES):
            stages.append("robustness")
        return tuple(stages)

    @Slot()
    def _on_layer_chosen(self) -> None:
        self._shown.discard("pointmap")
        self.point_map.clear()
        self._point_labels = None
        if self.predictor is not None and self._on_screen:
            self.refresh()  # what is still missing, with the new layer
        else:
            self._stale = True

    def _start(self, stages: tuple[str, ...]) -> None:
        if self._shut_down:
            return
        self._generation += 1
        self._stop = threading.Event()
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        if self.computing:  # the cancelled run is still ending: this one waits for it
            self._queued = (self._generation, stages)
            self.status.setText(f"Evaluating {self.predictor.describe()}… (once the previous model's evaluation has stopped)")
            return
        self._launch(stages)

    def _launch(self, stages: tuple[str, ...]) -> None:
        self._queued = None
        predictor = engine.Predictor(copy.deepcopy(self.predictor.model), self.predictor.meta)
        kinds = tuple(k for k in ev.DAMAGES if k not in self._robust_shown)
        worker = EvaluationWorker(
            self._generation,
            predictor,
            stages,
            self._stop,
            self.layer_combo.currentText() or None,
            kinds,
            self.corruption_subset,
            self.my_digits_folder,
        )
        worker.progress.connect(self._on_progress)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_finished)  # every worker ends with finished or failed, once
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.status.setText(f"Evaluating {self.predictor.describe()}…")
        self.computing += 1
        self._threads.start(worker)
        self._update_corruption_buttons()

    # ------------------------------------------------------------------ on request
    @Slot()
    def run_corruptions(self) -> None:
        """Measure the corruption suite on the first ``corruption_subset`` test digits (in the
        worker, after what else is missing; only while the panel is on screen)."""
        if self.predictor is None or "corruptions" in self._shown:
            return
        self._corruptions_wanted = True
        self.corruption_info.setText(f"Measuring the corruption suite on {self._measured_on(self.corruption_subset)} each…")
        if self._on_screen:
            self.refresh()
        else:
            self._stale = True
        self._update_corruption_buttons()

    @Slot()
    def cancel_corruptions(self) -> None:
        """Stop the corruption suite; what else was running starts again without it."""
        if not self._corruptions_wanted:
            return
        self._corruptions_wanted = False
        self.corruption_info.setText("Corruption suite cancelled: nothing measured.")
        if self.is_busy() or self._queued is not None:
            if self._stages():
                self.refresh()  # the run without the suite: the stages not shown yet
            else:
                self._cancel()
        self._update_corruption_buttons()

    def _update_corruption_buttons(self) -> None:
        running = self._corruptions_wanted and "corruptions" not in self._shown
        self.corruption_run.setEnabled(self.predictor is not None and not running and "corruptions" not in self._shown)
        self.corruption_cancel.setEnabled(running)

    @Slot()
    def _on_reliability_source(self) -> None:
        if self.reliability_source.currentData() == "mydigits":
            self._shown.discard("mydigits")  # read again: digits may have been added since
            self.reliability.pop("mydigits", None)
        self._show_reliability()
        if self.reliability_source.currentData() == "mydigits":
            if self.predictor is not None and self._on_screen:
                self.refresh()
            else:
                self._stale = True

    def set_my_digits_folder(self, folder) -> None:
        """Read My digits from ``folder`` (None: the default one) from now on: the user chose
        another in the My digits panel. A diagram of the old folder's digits goes and, if My
        digits is the one chosen, is drawn again from the new folder (now if on screen)."""
        self.my_digits_folder = Path(folder) if folder else None
        self._shown.discard("mydigits")
        self.reliability.pop("mydigits", None)
        if self.reliability_source.currentData() != "mydigits":
            return
        self._show_reliability()
        if self.predictor is not None and self._on_screen:
            self.refresh()
        else:
            self._stale = True

    def _cancel(self) -> None:
        self._queued = None
        if self._stop is not None:
            self._stop.set()
        self._generation += 1  # whatever arrives from the old run is dropped
        self.progress.setVisible(False)
        self.stage.setVisible(False)

    def shutdown(self) -> None:
        """Stop every run and wait for its thread (before the window goes away)."""
        self._shut_down = True
        self._cancel()
        self._threads.shutdown()

    # ------------------------------------------------------------------ results
    @Slot(int, object)
    def _on_progress(self, generation: int, payload) -> None:
        if generation != self._generation or self._shut_down:
            return
        done, total, text = payload
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.stage.setText(text)
        self.stage.setVisible(bool(text) and self.progress.isVisible())
        self.progress.setToolTip(text)
        self.stage.setToolTip(text)  # whole, where its line cuts it

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self._generation and not self._shut_down:
            self.status.setText(f"⚠ Could not evaluate the model: {message}")
        self._ended(generation)

    @Slot(int, object)
    def _on_finished(self, generation: int, _result) -> None:
        self._ended(generation)

    def _ended(self, generation: int) -> None:
        """A worker ended (finished or failed): start the run that waited for it, or go idle."""
        self.computing -= 1
        queued = self._queued
        if queued is not None and not self._shut_down and generation != queued[0]:
            if queued[0] == self._generation and self.predictor is not None:
                self._launch(queued[1])  # the run it waited for has ended
            return
        if generation != self._generation or self._shut_down:
            return
        self._stop = None
        self.progress.setVisible(False)
        self.stage.setVisible(False)
        if self._summary and self.status.text().startswith("Evaluating"):
            self.status.setText(self._summary)
        self.idle.emit()

    @Slot(int, str, object)
    def _on_result(self, generation: int, stage: str, payload) -> None:
        if generation != self._generation or self._shut_down:
            return
        show = getattr(self, f"_show_{stage}", None)
        if show is not None:
            show(payload)
            if stage != "robustness":  # on screen once its five plots have their curves: _robustness_on_screen
                self._shown.add(stage)
                self.stageShown.emit(stage)

    def _clear(self) -> None:
        self.confusion.set_matrix(None)
        self.per_class.setText("")
        self.cell_gallery.clear()
        self.top_losses.clear()
        self.cell_title.setText("Click a cell of the matrix to see its digits.")
        self.answered_curve.setData([], [])
        self.answered_accuracy_curve.setData([], [])
        self.threshold_label.setText("")
        self._robustness_data = {}
        for curve in self.robustness_curves.values():
            curve.setData([], [])
        self.point_map.clear()
        self._point_labels = None
        self._show_robustness_note()  # a 3-vs-7 model is measured on the 3s and 7s only
        self._summary = ""
        self.reliability = {}
        self._show_reliability()
        self.corruptions = None
        self.corruption_table.setRowCount(0)
        self._show_corruption_hint()
        self._update_corruption_buttons()

    def _show_evaluation(self, e: ev.Evaluation) -> None:
        self.evaluation = e
        self.confusion.set_matrix(e.confusion, e.classes)
        cells = [f"<td align='center'><b>{c}</b><br>{'–' if a != a else f'{100 * a:.1f}'}</td>" for c, a in zip(e.classes, e.per_class)]
        # rows of five: ten in one row are wider than the dock at 1280×720
        rows = "".join(f"<tr>{' '.join(cells[i : i + 5])}</tr>" for i in range(0, len(cells), 5))
        self.per_class.setText(f"Accuracy per class (%):<table cellspacing='6'>{rows}</table>")
        wrong = len(e.top_losses)
        self._summary = (
            f"{self.predictor.describe() if self.predictor else 'Model'}: {100 * e.accuracy:.2f} % of "
            f"{len(e.labels):,} test digits right, {wrong:,} wrong."
        )
        self.status.setText(self._summary)
        images, _ = MNIST.arrays("test")
        positions = e.top_losses
        self.top_losses.set_items(
            images,
            e.indices[positions],
            [int(i) for i in e.indices[positions]],
            lambda i, p=positions: self._caption(int(p[i])),
            lambda i, p=positions: self._tooltip(int(p[i])),
        )
        targets = np.searchsorted(np.asarray(e.classes), e.labels)  # the classes are sorted digit values
        self.reliability["test"] = calibration_of(e.probabilities, targets, RELIABILITY_BINS)
        self._show_reliability()
        self.top_losses_title.setText(
            f"The model's {wrong:,} mistakes, most confident first: true → said, and how sure. {TOP_LOSSES_ORDER} "
            "Click one to inspect it; right-click to put it on the canvas."
        )
        self.evaluated.emit()

    def _show_threshold(self, payload) -> None:
        t, answered, accuracy = payload
        self.answered_curve.setData(100 * t, 100 * answered)
        self.answered_accuracy_curve.setData(100 * t, 100 * np.nan_to_num(accuracy, nan=1.0), connect="finite")
        self._update_threshold()

    @Slot()
    def _update_threshold(self) -> None:
        p = self.threshold_slider.value() / 100
        self.threshold_line.setValue(100 * p)
        e = self.evaluation
        if e is None:
            self.threshold_label.setText(f"Answer only when at least {100 * p:.0f} % sure.")
            return
        _, answered, accuracy = ev.confidence_curve(e, [p])
        n = len(e.labels)
        kept = int(round(answered[0] * n))
        acc = "–" if accuracy[0] != accuracy[0] else f"{100 * accuracy[0]:.2f} %"
        self.threshold_label.setText(
            f"Answer only when at least {100 * p:.0f} % sure: the model answers {100 * answered[0]:.1f} % of the test digits "
            f"({kept:,} of {n:,}) and gets {acc} of those right; {n - kept:,} go to a person. "
            f"(Always answering: {100 * e.accuracy:.2f} %.)"
        )
        self.threshold_answered = float(answered[0])

    def _show_robustness(self, payload) -> None:
        kind, amounts, curve = payload
        self._robustness_data[kind] = (amounts, 100 * curve)
        if kind in self.robustness_curves:
            self.robustness_curves[kind].setData(*self._robustness_data[kind])
        else:
            self._build_robustness_plots()  # it gets its curve when built
        self._robust_shown.add(kind)
        self._robustness_on_screen()

    def _show_mydigits(self, payload) -> None:
        n, cal, why = payload
        self.reliability["mydigits"] = (n, cal, why)
        self._show_reliability()

    def _show_reliability(self) -> None:
        """The diagram of the digits chosen, when computed."""
        source = self.reliability_source.currentData()
        cal, n, why = None, 0, ""
        if source == "test":
            cal = self.reliability.get("test")
            n = 0 if cal is None else int(cal.count.sum())
            what = "MNIST test digits"
        else:
            n, cal, why = self.reliability.get("mydigits", (0, None, ""))
            what = "of My digits"
        plot = self.reliability_diagram.getPlotItem()
        if cal is None:
            self.reliability_bars.setOpts(x=[], height=[])
            self.reliability_points.setData([], [])
            plot.setTitle("")
            self.reliability_info.setText(why or "Shown once the model has been evaluated.")
            return
        used = cal.count > 0
        centres = 100 * (cal.edges[:-1] + cal.edges[1:]) / 2
        self.reliability_bars.setOpts(x=centres[used], height=100 * cal.accuracy[used])
        sizes = 5 + 15 * np.sqrt(cal.count[used] / cal.count.max())
        self.reliability_points.setData(x=100 * cal.confidence[used], y=100 * cal.accuracy[used], size=sizes)
        few = n < RELIABILITY_FEW
        plot.setTitle(f"ECE {100 * cal.ece:.2f} % on {n:,} {what}" + (" (rough: few digits)" if few else ""), size="10pt")
        temperature = getattr(self.predictor, "temperature", 1.0) if self.predictor is not None else 1.0
        # a one-output two-class model (the chapter's mnist_loss) turns its output into probabilities by a sigmoid
        squash = "sigmoid" if getattr(self.predictor, "_sigmoid", False) else "softmax"
        top = int(cal.count[-1])
        caveat = (
            f" With only {count_of(n, 'digit')} this ECE is rough: one answer more or less right moves it by up to "
            f"{100 / n:.3g} points; {RELIABILITY_FEW} or more make it mean something."
            if few
            else ""
        )
        self.reliability_info.setText(
            f"Expected calibration error {100 * cal.ece:.2f} % on {n:,} {what} ({squash} temperature {temperature:.2f}); "
            f"{top:,} of them ({100 * top / max(1, n):.1f} %) at over {100 * cal.edges[-2]:.0f} % confidence.{caveat}"
        )

    def _show_corruption_hint(self) -> None:
        self.corruption_info.setText(
            f"How the model reads test digits under 15 corruptions in the style of MNIST-C (Mu & Gilmer 2019), measured on "
            f"{self._measured_on(self.corruption_subset)} each (the README gives the full 10,000). Press Run."
        )

    def _show_corruptions(self, payload) -> None:
        n, used, accuracy = payload
        self.corruptions = dict(accuracy)
        self._corruptions_wanted = False
        mean = float(np.mean(list(accuracy.values())))
        rows = [(name.replace("_", " "), a) for name, a in accuracy.items()] + [("mean", mean)]
        table = self.corruption_table
        table.setRowCount(len(rows))
        for r, (name, a) in enumerate(rows):
            left = QTableWidgetItem(name)
            right = QTableWidgetItem(f"{100 * a:.1f}")
            right.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if name == "mean":
                font = left.font()
                font.setBold(True)
                left.setFont(font)
                right.setFont(font)
            table.setItem(r, 0, left)
            table.setItem(r, 1, right)
        worst = min(accuracy, key=accuracy.get)
        # a 3-vs-7 model is measured on the 3s and 7s among them
        which = f"the first {n:,} test digits" if used == n else f"the {used:,} of its classes among the first {n:,} test digits"
        self.corruption_info.setText(
            f"Accuracy on {which} under each corruption (seed {CORRUPTION_SEED}): mean {100 * mean:.1f} %, "
            f"worst {worst.replace('_', ' ')} {100 * accuracy[worst]:.1f} %."
        )
        self._shown.add("corruptions")
        self._update_corruption_buttons()

    def _show_pointmap(self, payload) -> None:
        layer, xy = payload
        _, labels = MNIST.arrays("test")
        labels = labels[: len(xy)]
        self._point_labels = labels
        self.point_map.setData(
            x=xy[:, 0], y=xy[:, 1], data=np.arange(len(xy)), brush=[self._brushes[int(d) % len(self._brushes)] for d in labels], pen=None
        )
        self.point_map_view.getPlotItem().autoRange()
        self.point_info.setText(
            f"The first {len(xy):,} test digits' outputs of layer {layer!r}, projected on their two principal components. "
            "Hover over a point to see its digit; click to inspect it."
        )

    @Slot(object, object, object)
    def _on_point_hovered(self, _item, points, _ev) -> None:
        if len(points) == 0:
            return
        i = int(points[0].data())
        images, labels = MNIST.arrays("test")
        self.point_preview.setPixmap(thumbnail(images[i]))
        said = ""
        if self.evaluation is not None:
            pos = np.searchsorted(self.evaluation.indices, i)
            if pos < len(self.evaluation.indices) and self.evaluation.indices[pos] == i:
                said = f", read as {int(self.evaluation.predicted[pos])} ({100 * float(self.evaluation.probabilities[pos].max()):.0f} %)"
        self.point_info.setText(f"Test digit #{i}, labelled {int(labels[i])}{said}. Click to inspect it.")

    @Slot(object, object, object)
    def _on_point_clicked(self, _item, points, _ev) -> None:
        if len(points):
            self.inspectRequested.emit("test", int(points[0].data()))

    def _caption(self, pos: int) -> str:
        e = self.evaluation
        t, g = int(e.labels[pos]), int(e.predicted[pos])
        p = float(e.probabilities[pos].max())
        return f"{t} → {g} · {100 * p:.0f} %" if t != g else f"{t} · {100 * p:.0f} %"

    def _tooltip(self, pos: int) -> str:
        e = self.evaluation
        probs = ", ".join(f"{c}: {100 * q:.1f} %" for c, q in zip(e.classes, e.probabilities[pos]) if q >= 0.005)
        return f"Test digit #{int(e.indices[pos])}, labelled {int(e.labels[pos])}, read as {int(e.predicted[pos])}.\n{probs}"

    @Slot(int, int)
    def show_cell(self, row: int, col: int) -> None:
        """Fill the cell gallery with the test digits of (true class ``row``, predicted ``col``),
        the most confident first."""
        e = self.evaluation
        if e is None:
            return
        t, g = e.classes[row], e.classes[col]
        positions = np.flatnonzero((e.labels == t) & (e.predicted == g))
        positions = positions[np.argsort(-e.probabilities[positions, col], kind="stable")]
        images, _ = MNIST.arrays("test")
        self.cell_gallery.set_items(
            images,
            e.indices[positions],
            [int(i) for i in e.indices[positions]],
            lambda i, p=positions: self._caption(int(p[i])),
            lambda i, p=positions: self._tooltip(int(p[i])),
        )
        what = "read right" if t == g else f"read as {g}"
        self.cell_title.setText(f"{len(positions):,} test digits labelled {t}, {what} (most confident first):")
        self.confusion.selected = (row, col)
        self.confusion.update()

    def hasHeightForWidth(self) -> bool:
        """No: the dock's scroll area would then make the panel as tall as its tallest page's
        preferred height (the point map's, about 650 px), taller than the dock at 1280×720,
        and scroll the bottom of every page out of sight. The plots shrink to fit instead."""
        return False

    def heightForWidth(self, _width: int) -> int:
        return -1

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            for w in self.findChildren(pg.PlotWidget) + self.findChildren(pg.GraphicsLayoutWidget):
                style_plot_widget(w, self)
            if hasattr(self, "point_legend"):
                self._colour_points()
        super().changeEvent(event)
