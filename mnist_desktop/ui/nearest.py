"""Under the prediction: the MNIST training digits nearest the drawing as the model sees them
(``nearest_training``), with their labels; when the model is wrong, they show why. Click one to
inspect it.

The training features are computed once per model (``training_features``, 10–30 s) in a
:class:`Worker` when the strip is first on screen or the model changes, with a progress bar;
a model change or closing the window cancels it, and drops every other model's features
(``neighbours.keep_only``): only the active model's are held. Until they are ready, and for the numpy copy
the window uses until PyTorch has loaded, the strip says why it is empty. A query takes some
5–40 ms, and up to ~150 ms for a drawing far from every training digit (a scribble: the bound
prunes nothing and all 60,000 are scanned), so it runs in a :class:`QueryWorker`: one at a time,
the latest drawing waiting behind it, at most ten a second, and only while the strip is visible.

While a model trains the build waits between batches (:meth:`NearestDigits.hold_builds`): even at
nice 10 its torch threads took the cores the trainer's threads wait on between operations, and
training from the window took 3.4–3.9 times as long as headless instead of about as long.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from mnist_desktop import model as engine
from mnist_desktop.model import neighbours
from mnist_desktop.model.datasets import MNIST

from .captions import WrappedCaption, a_digit
from .overlay import image_pixmap
from .session import Drawing, Session, is_torch_model
from .workers import Worker, WorkerThreads

K = 8
# A query scans the 60,000 training features (~5–150 ms of a worker thread, most of it in numpy,
# which lets go of the GIL): at most ten a second while drawing.
QUERY_INTERVAL_S = 0.1
THUMB_SCALE = 2  # 56-pixel thumbnails
EMPTY_TIP = "A training digit that looks like your drawing to the model comes here when you draw."
# Build the features as soon as the strip is on screen (the GUI tests that do not look at the
# strip turn it off: 10–30 s of CPU per window).
BUILD_ON_SHOW = True
HOLD_POLL_S = 0.1  # a held build looks this often whether it may go on (or was cancelled)
COMPUTING = "Nearest training digits: computing what the model sees in the 60,000 training digits…"
HELD = "Nearest training digits: waiting for the training to end, then computing what the model sees…"


READY = "Nearest training digits (as the model sees them): click one to inspect it"
# "As the model sees it" in the caption's tooltip: before the features are built, in general;
# then what they are for the active model (``TrainingFeatures.space``): a linear model and pixel
# similarity have no hidden layer, and their neighbours are found among the pixels.
SPACE_IN_GENERAL = "the values its output layer reads: its last hidden layer, or the pixels for a model without one"


def caption_tip(space: str = SPACE_IN_GENERAL) -> str:
    return (
        f"The MNIST training digits most like your drawing as the model sees it ({space}; the distance is Euclidean).\n"
        "When the model is wrong, they often show why. Click one to inspect it."
    )


READY_EMPTY = "Nearest training digits (as the model sees them): draw a digit to see them"


class FeatureWorker(Worker):
    """Computes (or finds cached) the training features of one model, below the GUI thread's
    priority: tens of seconds of a core that took an equal share of the CPU with the GUI thread
    stalled drawing 50–200 ms a frame on two busy cores (bench ``saliency``, ``building``)."""

    nice = 10

    def __init__(self, predictor, generation: int, hold: threading.Event | None = None):
        super().__init__(generation)
        self.predictor = predictor
        self.hold = hold if hold is not None else threading.Event()  # set: wait between batches

    def stop_or_wait(self) -> bool:
        """Between batches: True to stop (cancelled); while ``hold`` is set, wait first."""
        while self.hold.is_set() and not self.cancelled():
            time.sleep(HOLD_POLL_S)
        return self.cancelled()

    def work(self):
        return neighbours.training_features(
            self.predictor, progress=lambda done, total: self.report((done, total)), should_stop=self.stop_or_wait
        )


class QueryWorker(Worker):
    """The K training digits nearest one drawing: finishes with ``(indices, distances)``; a little
    below the GUI thread's priority (up to 10 a second of 5–60 ms of a core while drawing)."""

    nice = 5

    def __init__(self, predictor, features, x28: np.ndarray, generation: int):
        super().__init__(generation)
        self.predictor, self.features, self.x28 = predictor, features, x28

    def work(self):
        # The features found on the GUI thread: if the model changes meanwhile and the window
        # drops them, this query still ends in milliseconds instead of building them again.
        return engine.nearest_training(self.predictor, self.x28, K, features=self.features)


class NearestStrip(QWidget):
    """K thumbnails with their labels (objectName ``nearest_digits``), a caption and a progress
    bar while the features are computed. ``sampleClicked(index)``: a training digit was clicked."""

    sampleClicked = Signal(int)  # index into MNIST's training set

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("nearest_digits")
        self.indices: list[int] = []
        self.ready = False  # the features are built: the caption is READY or READY_EMPTY
        self.caption = WrappedCaption("Nearest training digits")
        self.caption.setToolTip(caption_tip())
        self.progress = QProgressBar(objectName="nearest_progress", textVisible=False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.buttons: list[QToolButton] = []
        row = QHBoxLayout()
        row.setSpacing(2)
        row.setContentsMargins(0, 0, 0, 0)
        side = 28 * THUMB_SCALE
        for i in range(K):
            b = QToolButton(objectName=f"nearest_{i}")
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            b.setIconSize(QSize(side, side))
            b.setAutoRaise(True)
            b.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            b.setMinimumWidth(24)
            b.clicked.connect(lambda _c=False, i=i: self._clicked(i))
            b.setEnabled(False)
            b.setToolTip(EMPTY_TIP)
            row.addWidget(b)
            self.buttons.append(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.progress)
        layout.addLayout(row)

    def hasHeightForWidth(self) -> bool:
        return False  # its caption keeps its wrapped height as a minimum (see WrappedCaption)

    def _clicked(self, i: int) -> None:
        if i < len(self.indices):
            self.sampleClicked.emit(self.indices[i])

    def show_message(self, text: str) -> None:
        """``text`` in place of the digits (computing, failed, held)."""
        self.ready = False
        self.caption.setText(text)
        self.caption.setToolTip(caption_tip())
        self.show_digits([], [], [], [])

    def set_ready(self, space: str = SPACE_IN_GENERAL) -> None:
        """The features are built: the caption says what the strip shows, or how to fill it, and
        its tooltip what the features are (``space``: ``TrainingFeatures.space``)."""
        self.ready = True
        self.caption.setToolTip(caption_tip(space))
        self.show_digits([], [], [], [])

    def show_progress(self, done: int | None, total: int = 1) -> None:
        self.progress.setVisible(done is not None)
        if done is not None:
            self.progress.setRange(0, max(1, total))
            self.progress.setValue(done)

    def show_digits(self, indices, images, labels, distances) -> None:
        self.indices = [int(i) for i in indices]
        if self.ready:  # "click one" only when there is one to click
            self.caption.setText(READY if self.indices else READY_EMPTY)
        for b, k in zip(self.buttons, range(K), strict=True):
            if k < len(self.indices):
                b.setIcon(QIcon(image_pixmap(images[k].astype(np.float32) / 255, THUMB_SCALE)))
                b.setText(str(int(labels[k])))
                b.setToolTip(
                    f"Training digit {self.indices[k]:,}, {a_digit(int(labels[k]))} (distance {float(distances[k]):.2f}). Click to inspect it."
                )
                b.setEnabled(True)
            else:
                b.setIcon(QIcon())
                b.setText("")
                b.setToolTip(EMPTY_TIP)
                b.setEnabled(False)


class NearestDigits(QObject):
    """Keeps ``strip`` showing the training digits nearest the session's drawing."""

    updated = Signal()  # the strip shows the latest drawing's neighbours
    featuresReady = Signal()

    def __init__(self, session: Session, strip: NearestStrip, parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.strip = session, strip
        self.threads = WorkerThreads("nearest-features", self)
        self.worker: FeatureWorker | None = None
        self.query_threads = WorkerThreads("nearest-query", self)
        self.querying: QueryWorker | None = None  # the query running; one at a time
        self._query_again = False  # the drawing changed while it ran: query the latest when it ends
        self._queries = 0  # generation of the queries: a model change drops the older ones' answers
        self.generation = 0
        self.ready_for = None  # the predictor whose features are built
        self.hold = threading.Event()  # set while a model trains: builds wait (hold_builds)
        self._last_query = 0.0
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.query)
        session.modelChanged.connect(self._on_model_changed)
        session.drawingChanged.connect(self._on_drawing)
        strip.installEventFilter(self)
        self._on_model_changed(session.predictor)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.strip and event.type() == event.Type.Show:
            QTimer.singleShot(0, self.ensure_features)  # first on screen: build (once the show is done)
        return super().eventFilter(obj, event)

    def _visible(self) -> bool:
        return self.strip.isVisible()

    # ------------------------------------------------------------------ the features
    def _cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
        self.strip.show_progress(None)

    @Slot(object)
    def _on_model_changed(self, predictor) -> None:
        self.generation += 1
        self._queries += 1  # a query of the previous model still running: its answer is dropped
        self._cancel()
        self.ready_for = None
        # The previous model's features (117 MB for the bundled CNN) go before the new ones are built.
        neighbours.keep_only(predictor)
        self._timer.stop()
        if predictor is None:
            self.strip.show_message("Nearest training digits: no model.")
        elif not is_torch_model(predictor):
            self.strip.show_message("Nearest training digits: available once PyTorch has loaded.")
        else:
            self.strip.show_message(HELD if self.hold.is_set() else COMPUTING)
            self.ensure_features()

    @Slot(bool)
    def hold_builds(self, hold: bool) -> None:
        """While ``hold`` (a model trains), a build of the features waits between batches and
        says so; it goes on where it was when the hold ends."""
        if hold == self.hold.is_set():
            return
        if hold:
            self.hold.set()
        else:
            self.hold.clear()
        if self.worker is not None:
            self.strip.show_message(HELD if hold else COMPUTING)

    @Slot()
    def ensure_features(self, force: bool = False) -> None:
        """Build the active model's features in a worker if they are not built or being built
        (when the strip is on screen, and BUILD_ON_SHOW or ``force``)."""
        predictor = self.session.predictor
        if (
            not (BUILD_ON_SHOW or force)
            or not is_torch_model(predictor)
            or self.ready_for is predictor
            or self.worker is not None
            or not self._visible()
        ):
            return
        worker = FeatureWorker(predictor, self.generation, self.hold)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self.worker = worker
        self.strip.show_message(HELD if self.hold.is_set() else COMPUTING)
        self.strip.show_progress(0)
        self.threads.start(worker)

    @Slot(int, object)
    def _on_progress(self, generation: int, payload) -> None:
        if generation == self.generation:
            self.strip.show_progress(*payload)

    @Slot(int, object)
    def _on_finished(self, generation: int, result) -> None:
        if generation != self.generation:
            if result is not None:  # a model no longer active finished before it saw the cancel
                neighbours.keep_only(self.session.predictor)
            return
        self.worker = None
        self.strip.show_progress(None)
        if result is None:
            return  # cancelled
        self.ready_for = self.session.predictor
        self.strip.set_ready(result.space)
        self.featuresReady.emit()
        self.query()

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation != self.generation:
            return
        self.worker = None
        self.strip.show_progress(None)
        self.strip.show_message(f"Nearest training digits are not available: {message}")

    # ------------------------------------------------------------------ the queries
    @Slot(object)
    def _on_drawing(self, _drawing: Drawing) -> None:
        if self.ready_for is None or not self._visible() or self._timer.isActive():
            return  # coalesced: one query per interval
        wait = QUERY_INTERVAL_S - (time.perf_counter() - self._last_query)
        self._timer.start(max(0, int(wait * 1000)))

    @Slot()
    def query(self) -> None:
        """Find the neighbours of the session's drawing in a :class:`QueryWorker` (an empty canvas
        empties the strip at once); while one runs, the latest drawing waits for it."""
        self._last_query = time.perf_counter()
        predictor, x28 = self.session.predictor, self.session.drawing.x28
        if predictor is None or predictor is not self.ready_for or not self._visible():
            return
        features = neighbours.cached_features(predictor)
        if features is None:  # pushed out of the cache by other models: build again, off this thread
            self.ready_for = None
            self.ensure_features()
            return
        if self.querying is not None:
            self._query_again = True
            return
        if x28 is None:
            self.strip.show_digits([], [], [], [])
            self.updated.emit()
            return
        worker = QueryWorker(predictor, features, x28, self._queries)
        worker.finished.connect(self._on_query_finished)
        worker.failed.connect(self._on_query_failed)
        self.querying = worker
        self.query_threads.start(worker)

    def _query_ended(self) -> bool:
        """The running query is over: True if its answer is still the one to show."""
        self.querying = None
        if self._query_again:
            self._query_again = False
            self.query()
            return False  # a newer drawing is being (or has been) answered
        return True

    @Slot(int, object)
    def _on_query_finished(self, generation: int, result) -> None:
        if not self._query_ended() or generation != self._queries:
            return
        indices, distances = result
        images, labels = MNIST.arrays("train")
        self.strip.show_digits(indices, images[indices], labels[indices], distances)
        self.updated.emit()

    @Slot(int, str)
    def _on_query_failed(self, generation: int, message: str) -> None:
        if self._query_ended() and generation == self._queries:
            self.strip.show_message(f"Nearest training digits are not available: {message}")

    def shutdown(self) -> None:
        self._timer.stop()
        self._cancel()
        self.threads.shutdown()
        self.query_threads.shutdown()
