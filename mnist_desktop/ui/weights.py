"""The Weights dock: one layer's weights as a histogram, and how far training moved them.

For the layer chosen here (or linked from another view through ``set_layer``): a histogram
of its weights, with the histogram of the weights it started from on the same bins when
they are known (the active model came from a training run in this window), and each
epoch's distance from the start, ‖w − w₀‖ / ‖w₀‖, filled in while training runs. The
snapshots come from the trainer (``train(on_weights=...)``, through the training panel's
``weightsReported``); the numbers from the engine's ``model/weights.py``. Only the chosen
layer is histogrammed, and only while the panel is on screen.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize, Qt, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from mnist_desktop.model import weights as wt

from .panel import DockEntry
from .session import Session
from .theme import legend_outside, mouse_only, palette_color, style_plot_widget

NO_RUN = "Distance from start needs a training run: train a model (Training panel) and watch each layer move, epoch by epoch."
# The distance plot's titles, two short lines each: one line was wider than the plot in a
# 1280×720 window (377 px of title in a 282 px view) and pushed the plot off the dock's edge.
DISTANCE_TITLES = {
    "running": "moved from start<br>(this run)",
    "trained": "moved from start<br>(the active model's run)",
    "not this run": "moved from start: the active<br>model was not trained here",
    "no run": "moved from start:<br>no run yet",
}

START_NAME = "at the start of training"  # the dashed histogram's name in the legend


@dataclass(frozen=True)
class RunRecord:
    """What a finished run measured, kept with the model it made: the plot and the message
    about "how far it moved" are that model's, and go when another model is active."""

    initial: dict[str, np.ndarray]  # layer → its weights at the start of the run
    epochs: list[int]
    distances: dict[str, list[float]]
    grad_norms: dict[str, list[float]]

    @classmethod
    def of(cls, history: wt.WeightHistory) -> RunRecord:
        return cls(
            history.initial.weights,
            list(history.epochs),
            {k: list(v) for k, v in history.distances.items()},
            {k: list(v) for k, v in history.grad_norms.items()},
        )


class WeightsPanel(QWidget):
    """The Weights dock's contents (objectName ``weights_view``)."""

    dock = DockEntry(
        "weights",
        "Weights",
        "bottom",
        scroll=False,
        help="A layer's weights as a histogram, and how far training moved them from where they started.",
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("weights_view")
        self.predictor = None
        self.history = wt.WeightHistory()  # the current (or last) training run's snapshots
        self.running = False
        self._run_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # trained predictor → its RunRecord
        self._stale = True
        self._on_screen = False  # set by the dock (set_on_screen): a tab behind another still counts as visible to Qt
        self.shown: wt.LayerHistogram | None = None  # what the histogram shows (tests read it)

        self.layer = QComboBox(objectName="weights_layer")
        self.layer.setToolTip("The layer whose weights are shown.")
        self.layer.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer.currentIndexChanged.connect(lambda _i: self.refresh())
        self.info = QLabel(objectName="weights_info", wordWrap=True)
        self.info.setTextFormat(Qt.TextFormat.RichText)

        self.histogram_plot = mouse_only(pg.PlotWidget())
        self.histogram_plot.setObjectName("weights_histogram")
        self.histogram_plot.setToolTip(
            "How many of the layer's weights have each value: now (filled) and, dashed, when its training run started."
        )
        plot = self.histogram_plot.getPlotItem()
        plot.setLabel("bottom", "weight value")
        plot.setLabel("left", "weights")
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        legend_outside(plot)
        self.now_curve = plot.plot(stepMode="center", fillLevel=0, name="now")
        self.start_curve = plot.plot(stepMode="center", name=START_NAME)

        self.distance_plot = mouse_only(pg.PlotWidget())
        self.distance_plot.setObjectName("weights_distance")
        plot = self.distance_plot.getPlotItem()
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", "‖w − w₀‖ / ‖w₀‖")
        plot.getAxis("left").enableAutoSIPrefix(False)  # a ratio: "(x0.001)" on its axis read as a unit
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=False, y=True, alpha=0.2)
        self.distance_curve = plot.plot(symbol="o", symbolSize=6)
        self.distance_plot.setToolTip("How far the layer's weights have moved from where the run started, relative to their size.")
        for w in (self.histogram_plot, self.distance_plot):
            w.setMinimumHeight(120)
            w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer)
        top.addStretch(1)
        plots = QHBoxLayout()
        plots.addWidget(self.histogram_plot, 3)
        plots.addWidget(self.distance_plot, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(plots, 1)
        layout.addWidget(self.info)
        self._style()

    def sizeHint(self) -> QSize:
        return QSize(560, 300)  # not the two plots' 640×480 each: the dock area keeps its size

    # ------------------------------------------------------------------ inputs
    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        session.modelChanged.connect(self.set_predictor)

    def shutdown(self) -> None:
        """Nothing runs in the background."""

    @Slot(object)
    def set_predictor(self, predictor) -> None:
        """The window's active model: its weights are shown whenever no run is going on."""
        self.predictor = predictor
        if not self.running:
            self._set_layers(list(predictor.layer_weights()) if predictor is not None else [])
        self.refresh()

    @Slot(str)
    def set_layer(self, name: str) -> bool:
        """Show layer ``name`` (for another view's "selected layer"); False if it has no weights."""
        i = self.layer.findText(name)
        if i < 0:
            return False
        self.layer.setCurrentIndex(i)
        return True

    def current_layer(self) -> str | None:
        return self.layer.currentText() or None

    @Slot()
    def run_started(self) -> None:
        self.running = True
        self.history.clear()
        self.refresh()

    @Slot(object)
    def add_snapshot(self, snap) -> None:
        """A snapshot of the running training: its start (epoch 0) or the end of an epoch."""
        self.history.add(snap)
        if snap.epoch == 0:
            self._set_layers(self.history.layers())
        self.refresh()

    @Slot(object)
    def model_trained(self, predictor) -> None:
        """A model the training panel made active: a run's (its start is known from the run's
        end, ``run_finished``), or Step mode's, which has no known start."""
        if predictor is self.predictor:
            self.refresh()

    @Slot(object)
    def run_finished(self, result=None) -> None:
        """The watched run ended with ``result``: its model (finished, or stopped and used
        later) is compared with that run's start; no other model is."""
        self.running = False
        predictor = getattr(result, "predictor", None)
        if predictor is not None and self.history.initial is not None:
            self._run_of[predictor] = RunRecord.of(self.history)
        self.set_predictor(self.predictor)

    def _set_layers(self, names: list[str]) -> None:
        current = self.current_layer()
        if [self.layer.itemText(i) for i in range(self.layer.count())] == names:
            return
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems(names)
        if names:
            self.layer.setCurrentIndex(names.index(current) if current in names else 0)
        self.layer.blockSignals(False)

    # ------------------------------------------------------------------ drawing
    @Slot(bool)
    def set_on_screen(self, shown: bool) -> None:
        """Its dock's tab was selected (True) or left (False)."""
        self._on_screen = shown
        if shown and self._stale:
            self.refresh()

    def refresh(self) -> None:
        if not (self._on_screen and self.isVisible()):
            self._stale = True  # drawn when shown: nothing is histogrammed behind another tab
            return
        self._stale = False
        name = self.current_layer()
        w, w0, where = self._weights(name)
        if w is None:
            self.shown = None
            self.now_curve.setData([], [])
            self.start_curve.setData([], [])
            self._legend_lists_start(False)
            self.info.setText("No model: train one or open one." if self.predictor is None else "This layer has no weights.")
        else:
            self.shown = h = wt.layer_histogram(name, w, w0)
            self.now_curve.setData(h.edges, h.counts)
            self.start_curve.setData(h.edges, h.initial_counts) if h.initial_counts is not None else self.start_curve.setData([], [])
            self._legend_lists_start(h.initial_counts is not None)
            self.info.setText(self._describe(h, w, where))
        self._draw_distance(name)

    def _legend_lists_start(self, shown: bool) -> None:
        """The legend names the dashed start-of-training histogram only while it is drawn (before
        any run it listed a line that was not there)."""
        legend = self.histogram_plot.getPlotItem().legend
        listed = any(sample.item is self.start_curve for sample, _ in legend.items)
        if shown and not listed:
            legend.addItem(self.start_curve, START_NAME)
        elif listed and not shown:
            legend.removeItem(self.start_curve)

    def _weights(self, name: str | None):
        """(weights, initial weights or None, what they are) of layer ``name``."""
        if name is None:
            return None, None, ""
        if self.running and self.history.latest is not None and name in self.history.latest.weights:
            start = self.history.initial.weights.get(name)
            return self.history.latest.weights[name], start, f"the training run after epoch {self.history.latest.epoch}"
        if self.predictor is None:
            return None, None, ""
        w = self.predictor.layer_weights().get(name)
        record = self._run_of.get(self.predictor)
        return w, None if record is None else record.initial.get(name), f"the active model ({self.predictor.describe()})"

    def _series(self) -> tuple[list[int], dict[str, list[float]], dict[str, list[float]]] | None:
        """(epochs, distances, gradient norms) of the run shown: the running one, or the one
        that made the active model; None when the active model came from no run here."""
        if self.running:
            return self.history.epochs, self.history.distances, self.history.grad_norms
        record = self._run_of.get(self.predictor) if self.predictor is not None else None
        return None if record is None else (record.epochs, record.distances, record.grad_norms)

    def _describe(self, h: wt.LayerHistogram, w: np.ndarray, where: str) -> str:
        a = np.asarray(w, dtype=np.float64)
        text = (
            f"<b>{h.name}</b> {h.shape}, {a.size:,} weights of {where}: mean {a.mean():+.3g}, std {a.std():.3g}, "
            f"|w| ≤ {np.abs(a).max():.3g}."
        )
        if h.distance is not None:
            text += f" Moved {h.distance:.3g} × its starting size (‖w − w₀‖ / ‖w₀‖) from the start of training."
        series = self._series()
        grads = series[2].get(h.name, []) if series is not None else []
        if h.distance is not None and grads and math.isfinite(grads[-1]):  # the run's model, or the run itself
            text += f" Gradient of the last batch: ‖g‖ = {grads[-1]:.3g} (‖g‖ / ‖w‖ = {grads[-1] / max(np.linalg.norm(a), 1e-12):.2g})."
        if series is None:
            text += "<br>" + NO_RUN
        return text

    def _draw_distance(self, name: str | None) -> None:
        series = self._series()
        d = series[1].get(name or "", []) if series is not None else []
        if d:
            self.distance_curve.setData(np.asarray(series[0], dtype=np.float64), np.asarray(d, dtype=np.float64))
            title = DISTANCE_TITLES["running" if self.running else "trained"]
        else:
            self.distance_curve.setData([], [])
            title = DISTANCE_TITLES["not this run" if self.history.epochs and series is None else "no run"]
        self.distance_plot.getPlotItem().setTitle(title, color=palette_color(self, QPalette.ColorRole.Text))

    def distance_series(self) -> tuple[list[int], list[float]]:
        """The distance plot's points (for tests)."""
        x, y = self.distance_curve.getData()
        return ([] if x is None else [int(v) for v in x]), ([] if y is None else [float(v) for v in y])

    def _style(self) -> None:
        for w in (self.histogram_plot, self.distance_plot):
            style_plot_widget(w, self)
        highlight = palette_color(self, QPalette.ColorRole.Highlight)
        self.now_curve.setPen(pg.mkPen(highlight, width=1.5))
        self.now_curve.setBrush(pg.mkBrush(palette_color(self, QPalette.ColorRole.Highlight, 90)))
        self.start_curve.setPen(pg.mkPen(palette_color(self, QPalette.ColorRole.Text), width=1.5, style=Qt.PenStyle.DashLine))
        orange = pg.mkColor(230, 120, 20)
        self.distance_curve.setPen(pg.mkPen(orange, width=2))
        self.distance_curve.setSymbolBrush(orange)
        self.distance_curve.setSymbolPen(orange)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "distance_curve"):
            self._style()
            self._draw_distance(self.current_layer())
        super().changeEvent(event)
