"""The live path: a stroke on the canvas → the prediction (at most once per frame) → the
saliency overlay (a frame later, never delaying the prediction).

It reads the canvas and the session's model, shows the answer in the prediction panel, and
hands the classified drawing to the session (``Session.drawingChanged``), which the panels
that show the drawing follow. ``predictionUpdated`` says the answer is on screen;
``saliencyChanged`` carries the overlay for other views (the inspector).
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from mnist_desktop import model as engine

from .canvas import Canvas
from .prediction import PredictionPanel
from .session import Drawing, Session, is_torch_model

FRAME_S = 1 / 60  # the drawing is classified at most once per frame
NO_SALIENCY = "Saliency needs PyTorch's gradients: available once PyTorch has loaded."


class LivePrediction(QObject):
    predictionUpdated = Signal()  # the prediction panel shows the drawing's answer
    saliencyChanged = Signal(object)  # the overlay (28, 28) for the chosen class, or None

    def __init__(self, session: Session, canvas: Canvas, prediction: PredictionPanel, parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.canvas, self.prediction = session, canvas, prediction
        self._last_classify = 0.0
        self._saliency_shown = False
        self.paused = False  # Number mode reads the canvas instead
        self._classify_timer = QTimer(self, singleShot=True)
        self._classify_timer.timeout.connect(self.classify)
        # Saliency is computed after the prediction is on screen (a zero timer runs after the
        # paint events already posted).
        self._saliency_timer = QTimer(self, singleShot=True, interval=0)
        self._saliency_timer.timeout.connect(self.update_saliency)
        canvas.changed.connect(self.schedule_classify)
        prediction.saliency_toggle.toggled.connect(self._schedule_saliency)
        prediction.bars.classClicked.connect(self._on_saliency_class)
        self.predictionUpdated.connect(self._schedule_saliency)

    def bind_model(self) -> None:
        """Follow the session's model; connected after the panels, so that they have the new
        model before the drawing is classified with it."""
        self.session.modelChanged.connect(self._on_model_changed)

    def stop(self) -> None:
        self._classify_timer.stop()
        self._saliency_timer.stop()

    def set_paused(self, paused: bool) -> None:
        """Stop following the canvas (True) or follow it again and classify it now (False)."""
        self.paused = bool(paused)
        if self.paused:
            self._classify_timer.stop()
            self._saliency_timer.stop()
            if self.prediction.saliency is not None:  # the tint belongs to the drawing it was computed for
                self.prediction.set_saliency(None)  # (a panel built later copies the prediction's)
            if self._saliency_shown:
                self._saliency_shown = False
                self.saliencyChanged.emit(None)
        else:
            self.classify()

    @Slot(object)
    def _on_model_changed(self, predictor) -> None:
        if predictor is not None:
            self.prediction.set_model(predictor)
        available = is_torch_model(predictor)
        self.prediction.set_saliency_available(available, NO_SALIENCY if predictor is not None else "No model.")
        if not available:
            self.saliencyChanged.emit(None)
        if not self.paused:  # Number mode hands its selected digit to the session instead
            self.classify()

    # ------------------------------------------------------------------ classification
    @Slot()
    def schedule_classify(self) -> None:
        if self.paused or self._classify_timer.isActive():
            return  # coalesced: one classification per frame
        wait = FRAME_S - (time.perf_counter() - self._last_classify)
        self._classify_timer.start(max(0, int(wait * 1000)))

    @Slot()
    def classify(self) -> None:
        """Classify the drawing now: the prediction panel first, then the session's drawing."""
        self._last_classify = time.perf_counter()
        image = self.canvas.image_array()
        try:
            x28 = engine.to_mnist(image)
        except engine.EmptyImageError:
            x28 = None
        predictor, probabilities = self.session.predictor, None
        if x28 is None:
            self.prediction.show_empty("Draw a digit on the canvas")
        elif predictor is None:
            self.prediction.show_empty("No model: train one (Training panel) or open one (File → Open model)")
        else:
            # predict and is_digit from one forward pass
            probabilities, is_digit = predictor.predict_checked(x28)
            self.prediction.show_prediction(predictor.classes, probabilities, x28, is_digit)
        self.session.drawing = Drawing(image, x28, probabilities)  # read by predictionUpdated's receivers
        if x28 is None and self.prediction.bars.selected is not None:
            self.prediction.bars.select(None)  # a class chosen for one drawing; the next one's top class explains it
        self.predictionUpdated.emit()
        self.session.set_drawing(self.session.drawing)

    # ------------------------------------------------------------------ saliency
    @Slot(object)
    def _on_saliency_class(self, index) -> None:
        """A probability bar was clicked: explain that class (turning the overlay on)."""
        toggle = self.prediction.saliency_toggle
        if index is not None and toggle.isEnabled() and not toggle.isChecked():
            toggle.setChecked(True)  # schedules
        else:
            self._schedule_saliency()

    def _saliency_wanted(self) -> bool:
        return (
            self.prediction.saliency_toggle.isChecked() and self.session.drawing.x28 is not None and is_torch_model(self.session.predictor)
        )

    @Slot()
    def _schedule_saliency(self) -> None:
        if self._saliency_wanted():
            self._saliency_timer.start()
            return
        self._saliency_timer.stop()
        # Called at every prediction: clear only an overlay that is there (clearing redraws
        # the preview show_prediction has just drawn).
        if self.prediction.saliency is not None:
            self.prediction.set_saliency(None)
        if self._saliency_shown:
            self._saliency_shown = False
            self.saliencyChanged.emit(None)

    @Slot()
    def update_saliency(self) -> None:
        """The overlay for the current drawing and the chosen class (default: the top one), now."""
        if not self._saliency_wanted():
            self._schedule_saliency()
            return
        predictor, drawing = self.session.predictor, self.session.drawing
        index = self.prediction.bars.selected
        if index is None or index >= len(predictor.classes):
            index = int(np.argmax(drawing.probabilities))
        saliency = predictor.saliency(drawing.x28, index)
        self.prediction.set_saliency(saliency, int(predictor.classes[index]))
        self._saliency_shown = True
        self.saliencyChanged.emit(saliency)
