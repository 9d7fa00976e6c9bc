"""Step mode's sigmoid: its curve, and the batch's predictions before and after it.

For a one-output model trained with mnist_loss (the chapter's 3 vs 7), the plot (objectName
``step_sigmoid_plot``) draws ``sigmoid(x)`` and marks each prediction of the batch twice: the
raw output as a tick under the curve, at any x, and its sigmoid on the curve, in (0, 1);
the first class (a 3) in blue, the second (a 7) in red. The line under it
(``step_sigmoid_text``) gives the ranges before and after and mnist_loss from them
(``mnist_desktop.model.sigmoid``). With more outputs softmax takes the sigmoid's place, and
the view says so instead.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from mnist_desktop.model.sigmoid import SigmoidBatch, sigmoid, sigmoid_batch

from .theme import DIVERGING, labelled_plot, palette_color, style_plot_widget

BLUE, RED = (tuple(int(v) for v in DIVERGING[i]) for i in (0, -1))  # the weight images' "negative" and "positive"

MAX_POINTS = 512  # at most this many predictions are marked (a full batch has thousands)
TICK_Y = -0.12  # where the raw outputs are marked, under the curve


class SigmoidView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("step_sigmoid")
        self.batch: SigmoidBatch | None = None
        self.text = QLabel(objectName="step_sigmoid_text", wordWrap=True)
        self.plot, item = labelled_plot(
            "step_sigmoid_plot",
            "prediction (xb @ w + b)",
            "sigmoid",
            "sigmoid(x) = 1 / (1 + exp(−x)). Ticks under the curve: this batch's raw predictions; dots on the curve: "
            "the same predictions after the sigmoid. Blue: the first class (a 3), red: the second (a 7).",
        )
        self.plot.setFixedHeight(180)
        item.addLine(y=0.5, pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DashLine))
        self.curve = item.plot()
        self.before = {c: pg.ScatterPlotItem(symbol="t1", size=7, pen=None) for c in (0, 1)}
        self.after = {c: pg.ScatterPlotItem(symbol="o", size=6, pen=None) for c in (0, 1)}
        for c, color in ((0, BLUE), (1, RED)):
            for scatter in (self.before[c], self.after[c]):
                scatter.setBrush(QColor(*color, 170))
                item.addItem(scatter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.plot)
        self._style()
        self.clear_batch()

    def clear_batch(self, note: str = "") -> None:
        self.batch = None
        for scatter in (*self.before.values(), *self.after.values()):
            scatter.clear()
        self._draw_curve(6.0)
        self.text.setText(note or "<b>The sigmoid</b>: the batch's predictions are marked here at predict.")

    def show_state(self, state, loss_name: str) -> None:
        """The predictions of ``state`` (a StepState) before and after the sigmoid; ``loss_name``
        is the run's loss ("mnist-loss" draws them; another says why there is no sigmoid)."""
        p = state.predictions
        if p is None:
            self.clear_batch()
            self.plot.setVisible(loss_name == "mnist-loss")
            return
        if loss_name != "mnist-loss" or p.shape[1] != 1:
            self.plot.setVisible(False)
            instead = (
                "it only asks which output is the largest: no sigmoid, no softmax (and no gradient)"
                if loss_name == "accuracy"
                else "softmax turns the outputs into probabilities instead"
            )
            self.clear_batch(
                f"<b>No sigmoid here</b>: this model has {p.shape[1]} outputs and the loss is {loss_name}; {instead}. "
                "The chapter's sigmoid belongs to mnist_loss, with one output (choose The chapter's setting)."
            )
            return
        self.plot.setVisible(True)
        batch = sigmoid_batch(p, state.y)
        self.batch = batch
        shown = slice(0, MAX_POINTS)
        raw, squashed, targets = batch.raw[shown], batch.squashed[shown], batch.targets[shown]
        span = max(6.0, float(np.percentile(np.abs(batch.raw), 99)) * 1.1)
        self._draw_curve(span)
        for c in (0, 1):
            mine = targets == c
            x = np.clip(raw[mine], -span, span)
            self.before[c].setData(x, np.full(len(x), TICK_Y))
            self.after[c].setData(x, squashed[mine])
        self.plot.getPlotItem().setXRange(-span, span, padding=0.02)
        self.plot.getPlotItem().setYRange(TICK_Y - 0.05, 1.05, padding=0)
        names = [str(d) for d in state.classes] if len(state.classes) == 2 else ["class 0", "class 1"]
        n = len(batch.raw)
        more = f" (the first {MAX_POINTS} marked)" if n > MAX_POINTS else ""
        loss_line = f" (the loss phase's value: {state.loss:.4f})." if state.loss is not None else " (the loss phase computes it next)."
        self.text.setText(
            f"<b>The sigmoid</b>: the {n} predictions{more} run from {batch.raw.min():.2f} to {batch.raw.max():.2f} "
            f"before it (ticks) and from {batch.squashed.min():.3f} to {batch.squashed.max():.3f} after it (dots on the curve). "
            f"mnist_loss = mean(1 − p for a {names[1]}, p for a {names[0]}) = {batch.loss:.4f}{loss_line} "
            f"{batch.right} of {n} are on the right side of 0.5 (blue: {names[0]}s, red: {names[1]}s)."
        )

    def _draw_curve(self, span: float) -> None:
        x = np.linspace(-span, span, 241)
        self.curve.setData(x, sigmoid(x))

    def _style(self) -> None:
        style_plot_widget(self.plot, self)
        self.curve.setPen(pg.mkPen(palette_color(self, QPalette.ColorRole.Text), width=2))

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "curve"):
            self._style()
        super().changeEvent(event)
