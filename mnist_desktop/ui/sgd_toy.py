"""The "SGD toy" dock: the chapter's roller coaster, a quadratic fitted by SGD one step at a time.

Twenty measurements of a roller coaster's speed over a hump; a quadratic ``a·t² + b·t + c``
from random a, b, c; each Step moves them by −lr × the gradient of the mean squared error.
The learning rate is chosen among three (too small, about right, too large; changing it
starts again from the same random start): the fit (objectName ``sgd_toy_plot``) and the loss
per step (``sgd_toy_loss_plot``, log scale) show what each does, and a diverging run says so
and stops. The engine is ``mnist_desktop.model.toy_sgd`` (numpy: 20 points, computed here).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QBoxLayout, QButtonGroup, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from mnist_desktop.model import toy_sgd

from .captions import count_of
from .loss_plot import LossAxis
from .panel import DockEntry
from .session import Session
from .theme import labelled_plot, palette_color, set_message, style_plot_widget

MANY = 10  # steps of the "10 steps" button
TRAIL = 3  # earlier fits drawn faintly: a diverging run swings wider at each step
SIDE_BY_SIDE_FROM = 640  # panel width from which the fit and the loss plots sit side by side
# Fixed plot heights: a scroll area gives a panel with wrapping text its preferred height, and
# a plot's preferred height would push the loss plot off a 720-pixel screen.
PLOT_HEIGHTS = {"stacked": (220, 150), "side by side": (260, 260)}
LR_TIPS = {
    "small": "Each step moves a, b and c only a little: the loss falls, slowly.",
    "right": "The chapter's learning rate: the loss falls fast, then levels off.",
    "large": "Each step overshoots the bottom of the loss: watch it grow.",
}


class SgdToyPanel(QWidget):
    """The dock's contents (objectName ``sgd_toy``)."""

    stepped = Signal(object)  # the ToyState now shown

    dock = DockEntry(
        "sgd_toy",
        "SGD toy",
        "bottom",
        short="Toy",
        help="The chapter's roller coaster: fit a quadratic with SGD step by step, with a learning rate too small, right or too large.",
    )

    def __init__(self, parent: QWidget | None = None, seed: int = 0):
        super().__init__(parent)
        self.setObjectName("sgd_toy")
        self.seed = seed
        self.data = toy_sgd.speed_data(seed)
        self.run: toy_sgd.QuadraticSGD | None = None
        self._losses: list[float] = []

        intro = QLabel(
            "A roller coaster's speed, measured every second for 20 seconds over a hump (the dots). Guess it is a "
            "quadratic, a·t² + b·t + c, start a, b and c at random, and let SGD improve them: each step predicts, "
            "measures the mean squared error, and moves a, b and c by −learning rate × its gradient.",
            wordWrap=True,
        )
        self.lr_group = QButtonGroup(self)
        self.lr_group.setExclusive(True)
        rates = QHBoxLayout()
        self.lr_buttons: dict[str, QPushButton] = {}
        for key, lr in toy_sgd.LEARNING_RATES.items():
            b = QPushButton(f"{toy_sgd.LR_LABELS[key]} ({_rate(lr)})", objectName=f"sgd_toy_lr_{key}", checkable=True)
            b.setToolTip(LR_TIPS[key] + " Choosing it starts again from the same random a, b, c.")
            self.lr_group.addButton(b)
            self.lr_buttons[key] = b
            rates.addWidget(b)
        rates.addStretch(1)
        self.step_button = QPushButton("Step", objectName="sgd_toy_step")
        self.step_button.setToolTip("One step of SGD: predict, loss, gradient, params −= lr × gradient.")
        self.steps_button = QPushButton(f"{MANY} steps", objectName="sgd_toy_steps")
        self.steps_button.setToolTip(f"{MANY} steps at once (fewer if the loss diverges).")
        self.reset_button = QPushButton("Start over", objectName="sgd_toy_reset")
        self.reset_button.setToolTip("Back to the random a, b, c of step 0.")
        buttons = QHBoxLayout()
        for b in (self.step_button, self.steps_button, self.reset_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.params = QLabel(objectName="sgd_toy_params", wordWrap=True)
        self.params.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel(objectName="sgd_toy_message", wordWrap=True)

        self.plot, item = labelled_plot(
            "sgd_toy_plot",
            "time (s)",
            "speed",
            "The dots: the measured speed. The line: the quadratic with the current a, b, c; dashed: the fits of the steps before.",
        )
        self.points = item.plot(symbol="o", symbolSize=6, pen=None)
        self.trail = [item.plot() for _ in range(TRAIL)]  # the fits of the steps before, fainter the older
        self.curve = item.plot()
        self._history: list[np.ndarray] = []
        low, high = float(self.data[1].min()), float(self.data[1].max())
        pad = 0.15 * (high - low)
        self.y_range = (low - pad, high + pad)  # the data's range: a diverging fit leaves it, the dots stay in view
        item.setXRange(-0.5, toy_sgd.STEPS - 0.5, padding=0)
        item.setYRange(*self.y_range, padding=0)
        item.getViewBox().disableAutoRange()

        # plain numbers (labelled_plot): a diverging loss in powers of ten, not "(x1e+09)" beside them.
        # The loss plot's axis is short (94 px at 1024×640): the training plot's log axis, which
        # labels no more ticks than it has room for (pyqtgraph's printed all nine of a decade
        # over each other), and a title that fits it ("loss (log scale)" lost both ends).
        self.loss_plot, item = labelled_plot(
            "sgd_toy_loss_plot",
            "step",
            "loss (log)",
            "The loss (the mean squared error of the fit) after each step, on a log scale.",
            axis_items={"left": LossAxis("left")},
        )
        item.setLogMode(y=True)
        item.setContentsMargins(0, 10, 6, 0)  # room for the top tick label (a power of ten) inside the widget
        self.loss_curve = item.plot(symbol="o", symbolSize=5)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(QLabel("Learning rate (choosing one starts again from the same random a, b, c):", wordWrap=True))
        layout.addLayout(rates)
        layout.addLayout(buttons)
        layout.addWidget(self.params)
        layout.addWidget(self.message)
        self.plots = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        self.plots.addWidget(self.plot, 3)
        self.plots.addWidget(self.loss_plot, 2)
        layout.addLayout(self.plots)
        layout.addStretch(1)
        self._arrange_plots("stacked")

        self._style()
        self.lr_group.buttonClicked.connect(lambda b: self.set_rate(b.objectName().removeprefix("sgd_toy_lr_")))
        self.step_button.clicked.connect(lambda: self.step(1))
        self.steps_button.clicked.connect(lambda: self.step(MANY))
        self.reset_button.clicked.connect(self.reset)
        self.set_rate("right")

    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        """The toy needs nothing of the session: it is not about MNIST."""

    def set_on_screen(self, shown: bool) -> None:
        """Nothing runs in the background."""

    def shutdown(self) -> None:
        """Nothing to stop."""

    # ------------------------------------------------------------------ stepping
    @property
    def rate(self) -> str:
        return next(k for k, b in self.lr_buttons.items() if b.isChecked())

    def set_rate(self, key: str) -> None:
        """Learning rate ``key`` ("small", "right", "large"), from step 0."""
        if key not in toy_sgd.LEARNING_RATES:
            raise ValueError(f"unknown learning rate {key!r}: one of {', '.join(toy_sgd.LEARNING_RATES)}")
        self.lr_buttons[key].setChecked(True)
        self.reset()

    @Slot()
    def reset(self) -> None:
        self.run = toy_sgd.QuadraticSGD(toy_sgd.LEARNING_RATES[self.rate], self.seed, self.data)
        self._losses = []
        self._history = []
        self._show(self.run.state)

    def step(self, steps: int = 1) -> toy_sgd.ToyState:
        """``steps`` steps of SGD (fewer if it diverges); the state it ends on is drawn."""
        state = self.run.state
        for _ in range(steps):
            if self.run.stopped:
                break
            self._history.append(self.run.state.params)
            state = self.run.step()
            self._losses.append(state.loss)  # the loss of every step, for the plot
        self._show(state)
        return state

    # ------------------------------------------------------------------ drawing
    def _show(self, state: toy_sgd.ToyState) -> None:
        if state.step == 0:
            self._losses = [state.loss]
        time, speed = self.data
        self.points.setData(time, speed)
        fine = np.linspace(0, toy_sgd.STEPS - 1, 120)
        self.curve.setData(fine, np.clip(toy_sgd.quadratic(fine, state.params), -1e6, 1e6))
        older = self._history[-TRAIL:][::-1] if state.step else []
        for i, trail in enumerate(self.trail):
            if i < len(older):
                trail.setData(fine, np.clip(toy_sgd.quadratic(fine, older[i]), -1e6, 1e6))
            else:
                trail.setData([], [])
        self.loss_curve.setData(np.arange(len(self._losses), dtype=np.float64), np.asarray(self._losses, dtype=np.float64))
        a, b, c = state.params
        ga, gb, gc = state.gradient
        self.params.setText(
            f"Step {state.step} · lr {_rate(state.lr)} · a = {a:.4g}, b = {b:.4g}, c = {c:.4g} · loss (MSE) {_number(state.loss)} · "
            f"gradient ({_short(ga)}, {_short(gb)}, {_short(gc)})"
        )
        if state.diverged:
            set_message(self.message, state.message, error=True)
        elif state.step == 0:
            set_message(self.message, "Press Step: the curve is the quadratic with the random a, b, c it starts from.")
        else:
            first = self._losses[0]
            trend = "fallen" if state.loss < first else "grown"
            why = "" if state.loss < first else " Each step lands further from the bottom: the learning rate is too large."
            set_message(
                self.message, f"The loss has {trend} from {_number(first)} to {_number(state.loss)} in {count_of(state.step, 'step')}.{why}"
            )
        for button in (self.step_button, self.steps_button):
            button.setEnabled(not state.diverged)
        self.stepped.emit(state)

    def _style(self) -> None:
        for plot in (self.plot, self.loss_plot):
            style_plot_widget(plot, self)
        highlight = palette_color(self, QPalette.ColorRole.Highlight)
        text = palette_color(self, QPalette.ColorRole.Text)
        self.points.setSymbolBrush(text)
        self.points.setSymbolPen(None)
        self.curve.setPen(pg.mkPen(highlight, width=2))
        for i, trail in enumerate(self.trail):
            trail.setPen(
                pg.mkPen(palette_color(self, QPalette.ColorRole.Highlight, alpha=150 - 40 * i), width=1, style=Qt.PenStyle.DashLine)
            )
        self.loss_curve.setPen(pg.mkPen(highlight, width=2))
        self.loss_curve.setSymbolBrush(highlight)

    def _arrange_plots(self, how: str) -> None:
        self.plots_arrangement = how
        self.plots.setDirection(QBoxLayout.Direction.LeftToRight if how == "side by side" else QBoxLayout.Direction.TopToBottom)
        fit, loss = PLOT_HEIGHTS[how]
        self.plot.setFixedHeight(fit)
        self.loss_plot.setFixedHeight(loss)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        how = "side by side" if self.width() >= SIDE_BY_SIDE_FROM else "stacked"
        if how != self.plots_arrangement:
            self._arrange_plots(how)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "loss_curve"):
            self._style()
        super().changeEvent(event)


def _number(x: float) -> str:
    """A number in words for a learner: plain when moderate, powers of ten when huge."""
    if not np.isfinite(x):
        return "too large to hold"
    return f"{x:,.1f}" if abs(x) < 1e6 else f"{x:.2e}"


def _short(x: float) -> str:
    """A gradient component: four significant digits, no thousands separators (they read as
    list separators inside the tuple)."""
    return f"{x:.4g}" if np.isfinite(x) else "too large to hold"


def _rate(lr: float) -> str:
    """1e-05 → "1e-5"."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"
