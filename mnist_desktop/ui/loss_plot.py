"""The live loss plot: batch loss (raw and smoothed), validation loss and accuracy per epoch.

The loss axis can be logarithmic (the default: the first losses, ten times the last ones,
would otherwise flatten the tail), and accuracy has its own axis, ranged to its values, so
that 98.6 % and 99.2 % are far apart rather than both at the top of 0–1.

Items are built once; ``show_progress`` only calls ``setData`` with the bounded series of a
:class:`~mnist_desktop.model.progress.TrainingProgress`, so a redraw costs the same at the
end of a long run as at its start.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFontMetricsF, QPalette
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

from mnist_desktop.model.progress import accuracy_range

from .theme import legend_outside, mouse_only, palette_color, style_plot_widget

READABLE_HEIGHT = 200  # px of curves (the data area) the plot asks for; its axes and legend come on top
LEGEND_SLACK = 24  # px kept spare beside a one-line legend: the axes widen with their tick labels later


class LossAxis(pg.AxisItem):
    """The loss axis. On a log scale its ticks are 1, 2 and 5 × 10ᵏ: pyqtgraph's own are all
    nine per decade, whose labels overlap where a decade is short. Where the axis is short
    (the SGD toy's, 94 px at 1024×640) there are only as many as it has room for: no 2 and 5
    where they would touch their neighbours, every second (third…) power of ten where even
    those would."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        v1, v2 = int(np.floor(minVal)), int(np.ceil(maxVal))
        room = self._label_room()
        per_decade = size / max(maxVal - minVal, 1e-12)  # px
        every = max(1, math.ceil(room / per_decade))  # decades from one labelled power of ten to the next
        major = [float(v) for v in range(v1, v2 + 1) if minVal <= v <= maxVal and v % every == 0]
        if (v2 - v1 > 4 or every > 1) and major:
            return [(float(every), major)]
        minor = [float(x) for x in (v + np.log10(m) for v in range(v1, v2) for m in (2, 5)) if minVal < x < maxVal]
        ticks = sorted(major + minor)
        if len(ticks) >= 2 and np.diff(ticks).min() * per_decade >= room:
            return [(1.0, major), (None, minor)]
        if len(major) >= 2:
            return [(1.0, major)]  # the 2s and 5s would touch their neighbours
        # A short range (a loss that does not move, as accuracy used as the loss): no 1, 2 or
        # 5 × 10ᵏ in it left the axis without a single label. Evenly spaced round values, at
        # most five, and no more than the axis has room for.
        most = max(2, min(5, int(size // room)))
        lo, hi = 10.0**minVal, 10.0**maxVal
        step = 10.0 ** np.floor(np.log10((hi - lo) / 2))
        for m in (1, 2, 5, 10, 20, 50):
            if (hi - lo) / (step * m) <= most:
                step *= m
                break
        values = np.arange(np.ceil(lo / step) * step, hi + step / 1e6, step)
        return [(None, [float(np.log10(v)) for v in values if v > 0])]

    def _label_room(self) -> float:
        """The px a tick label takes along a vertical axis, with a little space between two."""
        font = self.style["tickFont"] or QApplication.font()
        return 1.2 * QFontMetricsF(font).height()

    def logTickStrings(self, values, scale, spacing):
        """pyqtgraph's strings for 1, 2 and 5 × 10ᵏ; for the round values of a short range, plain
        decimals with the digits that tell them apart (one significant digit printed 0.46, 0.48
        and 0.5 all as "0.5")."""
        mantissas = [10.0 ** (v - np.floor(v)) for v in values]
        if all(min(abs(m - k) for k in (1, 2, 5, 10)) < 1e-6 for m in mantissas):
            return super().logTickStrings(values, scale, spacing)
        real = [float(10.0**v * scale) for v in values]
        for digits in range(1, 7):
            strings = [f"{v:.{digits}g}" for v in real]
            if len(set(strings)) == len(strings):
                break
        return [s.replace("e-0", "e-").replace("e+0", "e") for s in strings]


class LossPlot(pg.PlotWidget):
    """Loss against epochs on the left axis (linear or log), validation accuracy on the
    right one, ranged to the accuracies shown."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, axisItems={"left": LossAxis("left")})
        self.setObjectName("loss_plot")
        mouse_only(self)  # Tab went from "Log-scale loss" into it, and the focus vanished
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip(
            "Training loss per logged batch (faint: raw, bold: smoothed), validation loss (circles)\n"
            "and validation accuracy (squares, right axis) per epoch. x: epochs."
        )
        item = self.getPlotItem()
        item.setLabel("bottom", "epoch")
        for axis in ("bottom", "left"):  # plain numbers, not "epoch (x0.001)"
            item.getAxis(axis).enableAutoSIPrefix(False)
        item.setLabel("left", "loss")
        # No grid: pyqtgraph's grid costs ~5 ms a repaint, a third of a frame.
        legend_outside(item)
        item.setMenuEnabled(False)
        item.setClipToView(True)
        self.raw_curve = item.plot(name="batch loss")
        self.smooth_curve = item.plot(name="smoothed")
        self.valid_curve = item.plot(name="valid loss", symbol="o", symbolSize=7)
        self.acc_view = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(self.acc_view)
        item.getAxis("right").linkToView(self.acc_view)
        item.getAxis("right").setLabel("valid accuracy (%)")
        item.getAxis("right").setScale(100)  # the data stay fractions; the ticks read 98.6, 99.0
        item.getAxis("right").enableAutoSIPrefix(False)
        self.acc_view.setXLink(item)
        self.acc_view.setYRange(0, 1, padding=0.02)
        self._acc_range = (0.0, 1.0)
        self.log_loss = False
        self.acc_view.setMouseEnabled(False, False)
        self.acc_curve = pg.PlotDataItem(symbol="s", symbolSize=7, name="valid accuracy")
        self.acc_view.addItem(self.acc_curve)
        item.legend.addItem(self.acc_curve, "valid accuracy")
        item.vb.sigResized.connect(self._sync_views)
        self._style()

    def sizeHint(self) -> QSize:
        # PlotWidget's own hint (480 px tall) made the dock's scroll area reserve it: in an
        # 800-px window the plot's lower half sat below the fold. A flat 220 px was no better
        # where the panel overflows its dock (a finished run's message, Use row and figures at
        # 1280×720): the scroll area gives each part its hint, and the axes and a two-line
        # legend left 113 px of curves. The hint is a readable data area plus what surrounds it.
        around = self.getPlotItem().effectiveSizeHint(Qt.SizeHint.MinimumSize).height()
        return QSize(320, READABLE_HEIGHT + math.ceil(around) + 2 * self.frameWidth())

    def resizeEvent(self, event) -> None:
        # Not during __init__ (pyqtgraph resizes it while building it), and only for a new width:
        # trying the legend on one line lays the plot out twice, and the panel's height changes
        # (a run's message and figures) made that part of the finish of a run.
        if hasattr(self, "acc_curve") and event.size().width() != event.oldSize().width():
            self._fit_legend()  # before the plot is laid out in the new size: with the legend it will have
        super().resizeEvent(event)

    def _fit_legend(self) -> None:
        """The legend's four entries on one line where the plot is wide enough for them (22 px
        more of curves), two to a line otherwise: one line of four made the plot 535 px wide
        in a 444-px view (the wide layout's dock)."""
        item = self.getPlotItem()
        legend = item.legend
        columns = legend.columnCount
        legend.setColumnCount(4)
        if item.effectiveSizeHint(Qt.SizeHint.MinimumSize).width() + LEGEND_SLACK > self.viewport().width():
            legend.setColumnCount(2)
        if legend.columnCount != columns:
            self.updateGeometry()  # another height for the same data area

    def legend_lines(self) -> int:
        """How many lines the legend takes."""
        legend = self.getPlotItem().legend
        return math.ceil(len(legend.items) / legend.columnCount)

    def _sync_views(self) -> None:
        vb = self.getPlotItem().vb
        self.acc_view.setGeometry(vb.sceneBoundingRect())
        self.acc_view.linkedViewChanged(vb, self.acc_view.XAxis)

    def _style(self) -> None:
        style_plot_widget(self, self)
        self.raw_curve.setPen(pg.mkPen(palette_color(self, QPalette.ColorRole.Text, 70), width=1))
        self.smooth_curve.setPen(pg.mkPen(palette_color(self, QPalette.ColorRole.Highlight), width=2.5))
        orange, green = pg.mkColor(230, 120, 20), pg.mkColor(40, 160, 70)
        self.valid_curve.setPen(pg.mkPen(orange, width=2))
        self.valid_curve.setSymbolBrush(orange)
        self.valid_curve.setSymbolPen(orange)
        self.acc_curve.setPen(pg.mkPen(green, width=2, style=Qt.PenStyle.DashLine))
        self.acc_curve.setSymbolBrush(green)
        self.acc_curve.setSymbolPen(green)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "acc_curve"):  # not during __init__
            self._style()
        super().changeEvent(event)

    def set_log_loss(self, on: bool) -> None:
        """A logarithmic loss axis (or a linear one). Only the loss curves and the left axis
        change: the accuracy axis and a run's fixed x range stay."""
        self.log_loss = bool(on)
        for curve in (self.raw_curve, self.smooth_curve, self.valid_curve):
            curve.setLogMode(False, self.log_loss)
        item = self.getPlotItem()
        item.getAxis("left").setLogMode(False, self.log_loss)
        item.setLabel("left", "loss (log scale)" if self.log_loss else "loss")
        item.enableAutoRange(y=True)

    def set_epochs(self, epochs: int | None) -> None:
        """Fix the x axis at 0 … ``epochs`` for a run (None: follow the data again). A fixed
        axis is not laid out anew at every redraw, which is most of a redraw's cost."""
        item = self.getPlotItem()
        if epochs:
            item.setXRange(0, epochs, padding=0.02)
        else:
            item.enableAutoRange(x=True)

    def show_progress(self, progress) -> None:
        """Draw what ``progress`` (a TrainingProgress, or None to clear) holds."""
        if progress is None:
            for curve in (self.raw_curve, self.smooth_curve, self.valid_curve, self.acc_curve):
                curve.setData([], [])
            self._set_acc_range(accuracy_range([]))
            return
        self.raw_curve.setData(*progress.loss.arrays())
        self.smooth_curve.setData(*progress.smoothed.arrays())
        ex = np.asarray(progress.epoch_x, dtype=np.float64)
        self.valid_curve.setData(ex, np.asarray([e.valid_loss for e in progress.epochs], dtype=np.float64))
        acc = np.asarray([e.valid_accuracy for e in progress.epochs], dtype=np.float64)
        self.acc_curve.setData(ex, acc)
        self._set_acc_range(accuracy_range(acc))

    def _set_acc_range(self, lo_hi: tuple[float, float]) -> None:
        if lo_hi != self._acc_range:  # once an epoch, not at every redraw
            self._acc_range = lo_hi
            self.acc_view.setYRange(*lo_hi, padding=0)

    def accuracy_axis_range(self) -> tuple[float, float]:
        """The accuracies the right axis shows, bottom to top."""
        lo, hi = self.acc_view.viewRange()[1]
        return float(lo), float(hi)
