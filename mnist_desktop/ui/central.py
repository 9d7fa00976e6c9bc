"""The window's centre: the canvas with its brush, the prediction with the nearest training
digits under it, and in Number mode (a wide canvas read as a whole number) the number read.

What runs here: the live prediction (:mod:`live_prediction`), the nearest digits
(:mod:`nearest`) and the number reading (:mod:`number_mode`), each bound to the session.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from .canvas import Canvas, DrawingArea
from .live_prediction import LivePrediction
from .nearest import NearestDigits, NearestStrip
from .number_mode import NumberMode, NumberPanel
from .prediction import PredictionPanel
from .session import Session

SaveDigit = Callable[[np.ndarray, int], "str | None"]  # (drawing, label) → its id in My digits, or None


class CentralArea(QWidget):
    """Side by side for a digit; in Number mode the wide canvas above its reading.
    ``save_digit`` is My digits' add; ``message`` what to say in the status bar."""

    message = Signal(str, int)  # text, milliseconds
    numberModeChanged = Signal(bool)
    hint = Signal(str, int)  # a status message about the drawing: stale once the drawing or the selected digit changes

    def __init__(self, session: Session, canvas: Canvas, save_digit: SaveDigit, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self._save_digit = save_digit
        self.prediction = PredictionPanel()
        self.live = LivePrediction(session, canvas, self.prediction, parent=self)
        self.nearest_strip = NearestStrip()
        self.nearest = NearestDigits(session, self.nearest_strip, parent=self)
        self.number_panel = NumberPanel()
        self.number_mode = NumberMode(session, canvas, self.number_panel, lambda image, label: self._save_digit(image, label), parent=self)

        self.drawing = DrawingArea(canvas)
        self.layout_ = layout = QHBoxLayout(self)
        layout.addWidget(self.drawing, 3)
        # The prediction with the nearest training digits under it.
        self.prediction_column = QWidget(objectName="prediction_column")
        column = QVBoxLayout(self.prediction_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.prediction, 1)
        column.addWidget(self.nearest_strip)
        layout.addWidget(self.prediction_column, 2)
        layout.addWidget(self.number_panel, 2)
        self.number_panel.hide()
        self.prediction.setStatusTip("The model's answer for your drawing: how likely each class is.")
        self.number_panel.setStatusTip("The number the model reads on the canvas, digit by digit.")

    @Slot(bool)
    def set_number_mode(self, on: bool) -> None:
        """Number mode on or off; off restores the digit canvas, its drawing and the prediction."""
        if on:
            self.live.set_paused(True)  # before the canvas turns wide: the number is not classified as a digit
        self.layout_.setDirection(QHBoxLayout.Direction.TopToBottom if on else QHBoxLayout.Direction.LeftToRight)
        self.prediction_column.setVisible(not on)
        self.number_panel.setVisible(on)
        self.number_mode.set_active(on)
        self.live.set_paused(on)  # after the canvas is back: the restored drawing is classified
        self.numberModeChanged.emit(on)

    def save_drawing(self, label: int) -> str | None:
        """Save the drawing on the canvas into My digits as ``label``; its id, or None. In
        Number mode: the selected digit of the number (a whole number is not one digit)."""
        if self.number_mode.active:
            selected = self.number_panel.selected
            if selected is None:
                # Short enough for the status bar beside the model's name at 1024x640 (490 px).
                self.hint.emit("Click a digit of the number first, then Ctrl+Alt+its true label (or its ▾ menu).", 8000)
                return None
            return self.number_mode.save(selected, label)
        image = self.canvas.image_array()
        if not image.any():
            self.hint.emit("Nothing to save: draw a digit first.", 5000)
            return None
        return self._save_digit(image, label)

    def shutdown(self) -> None:
        """Stop what runs in the background or on timers (before the window goes away)."""
        self.live.stop()
        self.number_mode.stop()
        self.nearest.shutdown()
