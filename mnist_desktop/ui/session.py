"""The application's state, without a widget: the active model and its history, whether
PyTorch is ready, and the drawing as last classified.

Panels read it and subscribe to its signals (``Panel.bind``); the window changes it and never
pushes the state into each panel. Nothing here touches a widget, so a panel can be tested
against a Session alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from mnist_desktop.model.numpy_forward import NumpyPredictor

LOADING_PYTORCH = "Loading PyTorch…"  # the first words of every message that waits for torch
MODEL_HISTORY = 5  # models Edit → Previous model can go back to


def is_torch_model(predictor: Any) -> bool:
    """Whether ``predictor`` is a torch model (trainable, with gradients), not the numpy copy
    the window classifies with until PyTorch has loaded."""
    return predictor is not None and not isinstance(predictor, NumpyPredictor)


def load_predictor(path: str | None):
    """The torch model in ``path`` (None: the bundled one). Imports torch."""
    from mnist_desktop import model as engine

    return engine.Predictor.load(path) if path else engine.Predictor.default()


@dataclass(frozen=True)
class ActiveModel:
    """A model as the window holds it: where it came from (None: trained or bundled) and
    whether it was trained here and not saved."""

    predictor: Any
    source: str | None = None
    unsaved: bool = False


@dataclass(frozen=True)
class Drawing:
    """The canvas as last classified: ``image`` (the canvas's pixels), ``x28`` (what the
    model reads; None for an empty canvas) and the active model's ``probabilities``
    (None without a model or a drawing)."""

    image: np.ndarray | None = None
    x28: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    digit: int | None = None  # Number mode: which digit of the number (0-based) ``image`` is cut from
    number: bool = False  # from Number mode (no digit selected: empty)

    @property
    def canvas_shape(self) -> tuple[int, int] | None:
        return None if self.image is None else self.image.shape[:2]

    @property
    def request(self) -> str:
        """What a panel asks of the user while there is no drawing to show (``x28`` None), in
        lower case without a full stop: a click on a digit in Number mode, a digit drawn otherwise."""
        return "click a digit of the number (Number mode)" if self.number else "draw a digit on the canvas"


class Session(QObject):
    """One per window. Signals carry the new value; the attributes hold the current one."""

    modelChanged = Signal(object)  # the active predictor (or None)
    torchReady = Signal()  # PyTorch has loaded and the active model is its torch twin
    torchFailed = Signal(str)  # why PyTorch could not be loaded: what needs it is not available
    drawingChanged = Signal(object)  # a Drawing: the canvas was classified again

    def __init__(self, torch_ready: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self.torch_ready = torch_ready
        self.torch_error: str | None = None  # why PyTorch could not be loaded, once it is known
        self.active = ActiveModel(None)
        self.history: list[ActiveModel] = []  # oldest first, at most MODEL_HISTORY
        self.drawing = Drawing()

    # ------------------------------------------------------------------ the model
    @property
    def predictor(self):
        return self.active.predictor

    def set_model(self, predictor, source: str | None = None, unsaved: bool = False) -> None:
        """Make ``predictor`` active; the one it replaces goes into the history."""
        if self.active.predictor is not None and predictor is not self.active.predictor:
            self.history = [*self.history, self.active][-MODEL_HISTORY:]
        self.replace_model(predictor, source, unsaved)

    def replace_model(self, predictor, source: str | None = None, unsaved: bool = False) -> None:
        """Make ``predictor`` active without keeping the current one (its own twin, or the
        one taken back from the history)."""
        self.active = ActiveModel(predictor, source, unsaved)
        self.modelChanged.emit(predictor)

    def previous_model(self) -> ActiveModel | None:
        """Make the model that was active before active again; it, or None if there is none."""
        if not self.history:
            return None
        *self.history, previous = self.history
        self.replace_model(previous.predictor, previous.source, previous.unsaved)
        return previous

    def mark_saved(self, source: str | None) -> None:
        """The active model is now in ``source`` (None: kept nowhere, but not to be asked about at quit)."""
        self.active = ActiveModel(self.active.predictor, source, False)

    # ------------------------------------------------------------------ PyTorch
    def torch_loaded(self, predictor, source: str | None) -> None:
        """PyTorch has loaded: ``predictor`` (the active model's torch twin) takes over."""
        self.torch_ready = True
        self.replace_model(predictor, source, self.active.unsaved)
        self.torchReady.emit()

    def torch_failed(self, why: str) -> None:
        self.torch_error = why
        self.torchFailed.emit(why)

    # ------------------------------------------------------------------ following the state
    def follow_model(self, slot: Callable[[Any], None]) -> None:
        """Call ``slot`` with every new active model, and now with the current one if there is
        one (a panel built after the window learns the state as it is)."""
        self.modelChanged.connect(slot)
        if self.predictor is not None:
            slot(self.predictor)

    def follow_torch_failure(self, slot: Callable[[str], None]) -> None:
        """Call ``slot`` with why PyTorch could not be loaded: when it fails, or now if it has."""
        self.torchFailed.connect(slot)
        if self.torch_error is not None:
            slot(self.torch_error)

    # ------------------------------------------------------------------ the drawing
    def set_drawing(self, drawing: Drawing) -> None:
        self.drawing = drawing
        self.drawingChanged.emit(drawing)
