"""The "Pixel similarity" dock: the ideal 3 and 7, and L1 against L2 distance, with broadcasting.

One validation 3 against the two ideals, by both distances (browse with the index, or jump to
a 3 the two distances disagree on); then the whole validation set at once, with the shapes
the chapter's code goes through; then both distances' accuracies on MNIST's test 3s and 7s.
The engine (``mnist_desktop.model.similarity``, numpy only) computes it all in a worker
thread the first time the dock is shown (MNIST is decoded then: about a second).
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QBoxLayout, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from mnist_desktop.model import similarity
from mnist_desktop.model.errors import MnistDesktopError

from .overlay import image_pixmap
from .panel import DockEntry
from .session import Session
from .workers import Worker, WorkerThreads

SCALE = 3  # 28 × 3 = 84 px per image: four side by side fit the narrowest dock
TWO_COLUMNS_FROM = 860  # panel width from which the whole-set part sits beside the one-image part


class SimilarityWorker(Worker):
    def work(self):
        return similarity.pixel_similarity_lab()

    def failure(self, error: Exception) -> str:
        return str(error) if isinstance(error, MnistDesktopError) else super().failure(error)


def _code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


class SimilarityPanel(QWidget):
    """The dock's contents (objectName ``similarity``)."""

    computed = Signal(object)  # the SimilarityLab, once on screen

    dock = DockEntry(
        "similarity",
        "Pixel similarity",
        "bottom",
        short="L1/L2",
        help="The ideal 3 and 7: L1 against L2 distance, one image and the whole validation set at once (broadcasting).",
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("similarity")
        self.lab: similarity.SimilarityLab | None = None
        self._threads = WorkerThreads("similarity-thread", self)
        self._started = False
        self._generation = 0

        intro = QLabel(
            "A digit is called a 3 when it is closer to the ideal 3 (the mean of the training 3s) than to the ideal 7. "
            "Closer by which distance? <b>L1</b> averages the absolute pixel differences; <b>L2</b> (root mean squared "
            "error) squares them first, so a few large differences count more than many small ones.",
            wordWrap=True,
        )
        self.status = QLabel("The distances are computed when this panel is first shown.", objectName="similarity_status", wordWrap=True)
        self.images: dict[str, QLabel] = {}
        tiles = QGridLayout()
        captions = {
            "mean3": "ideal 3 (mean3)",
            "mean7": "ideal 7 (mean7)",
            "sample": "a_3: one validation 3",
            "difference": "(a_3 − mean3).abs()",
        }
        for i, (key, caption) in enumerate(captions.items()):
            image = QLabel(objectName=f"similarity_{key}", alignment=Qt.AlignmentFlag.AlignCenter)
            image.setFixedSize(28 * SCALE, 28 * SCALE)
            text = QLabel(caption, wordWrap=True, alignment=Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            text.setMaximumWidth(28 * SCALE + 24)
            tiles.addWidget(image, 0, i, Qt.AlignmentFlag.AlignHCenter)
            tiles.addWidget(text, 1, i)
            self.images[key] = image
        tiles.setColumnStretch(len(captions), 1)

        self.index = QSpinBox(objectName="similarity_index", minimum=0, maximum=0, enabled=False)
        self.index.setPrefix("validation 3 #")
        self.index.setToolTip("Which of the validation set's 3s is a_3.")
        self.disagree_button = QPushButton("Next 3 where L1 and L2 disagree", objectName="similarity_disagree", enabled=False)
        self.disagree_button.setToolTip("Jump to the next validation 3 that one distance calls a 3 and the other a 7.")
        browse = QHBoxLayout()
        browse.addWidget(self.index)
        browse.addWidget(self.disagree_button)
        browse.addStretch(1)
        self.distances = QLabel(objectName="similarity_distances", wordWrap=True)
        self.distances.setTextFormat(Qt.TextFormat.RichText)
        self.broadcast = QLabel(objectName="similarity_broadcast", wordWrap=True)
        self.broadcast.setTextFormat(Qt.TextFormat.RichText)
        self.broadcast.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.accuracy = QLabel(objectName="similarity_accuracy", wordWrap=True)
        self.accuracy.setTextFormat(Qt.TextFormat.RichText)

        one = QVBoxLayout()
        one.addLayout(tiles)
        one.addLayout(browse)
        one.addWidget(self.distances)
        one.addStretch(1)
        every = QVBoxLayout()
        every.addWidget(self.broadcast)
        every.addWidget(self.accuracy)
        every.addStretch(1)
        self.columns = QBoxLayout(QBoxLayout.Direction.TopToBottom)  # side by side in a wide dock
        self.columns.addLayout(one, 1)
        self.columns.addLayout(every, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.status)
        layout.addLayout(self.columns)
        layout.addStretch(1)

        self.index.valueChanged.connect(self.show_sample)
        self.disagree_button.clicked.connect(self.next_disagreement)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        wide = self.width() >= TWO_COLUMNS_FROM
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.columns.direction() != direction:
            self.columns.setDirection(direction)

    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        """Nothing of the session is needed: the lab reads MNIST, not the active model."""

    @Slot(bool)
    def set_on_screen(self, shown: bool) -> None:
        if shown and not self._started:
            self.compute()

    def shutdown(self) -> None:
        self._threads.shutdown()

    # ------------------------------------------------------------------ computing
    def compute(self) -> None:
        """Compute the lab in a worker thread (once)."""
        self._started = True
        self._generation += 1
        self.status.setText("Reading MNIST and measuring every validation 3 and 7 by both distances…")
        worker = SimilarityWorker(self._generation)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self._threads.start(worker)

    @Slot(int, object)
    def _on_finished(self, generation: int, lab) -> None:
        if generation == self._generation:
            self.set_lab(lab)

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._started = False  # shown again: try again
            self.status.setText(f"⚠ Could not compute the distances: {message}")

    def set_lab(self, lab: similarity.SimilarityLab) -> None:
        self.lab = lab
        self.status.setText(
            f"The ideals are the means of the {lab.train_counts[0]:,} training 3s and {lab.train_counts[1]:,} training 7s; "
            f"the validation set is MNIST's {len(lab.valid_3_tens):,} test 3s and {len(lab.valid_7_tens):,} test 7s."
        )
        self.images["mean3"].setPixmap(image_pixmap(lab.mean3, SCALE))
        self.images["mean7"].setPixmap(image_pixmap(lab.mean7, SCALE))
        self.index.setMaximum(len(lab.valid_3_tens) - 1)
        self.index.setEnabled(True)
        self.disagree_button.setEnabled(bool(self.disagreements().size))
        self._show_broadcast()
        self._show_accuracy()
        self.show_sample(self.index.value())
        self.computed.emit(lab)

    def disagreements(self) -> np.ndarray:
        """The validation 3s that L1 calls one digit and L2 the other."""
        if self.lab is None:
            return np.zeros(0, np.int64)
        d = self.lab.distances
        l1 = d["l1"]["3s to mean3"] < d["l1"]["3s to mean7"]
        l2 = d["l2"]["3s to mean3"] < d["l2"]["3s to mean7"]
        return np.flatnonzero(l1 != l2)

    @Slot()
    def next_disagreement(self) -> None:
        found = self.disagreements()
        if found.size:
            later = found[found > self.index.value()]
            self.index.setValue(int(later[0] if later.size else found[0]))

    # ------------------------------------------------------------------ drawing
    @Slot(int)
    def show_sample(self, index: int) -> None:
        lab = self.lab
        if lab is None:
            return
        a = lab.valid_3_tens[index]
        self.images["sample"].setPixmap(image_pixmap(a, SCALE))
        difference = np.abs(a - lab.mean3)
        self.images["difference"].setPixmap(image_pixmap(difference / max(float(difference.max()), 1e-6), SCALE))
        rows = []
        for key, (to3, to7) in lab.sample_distances(index).items():
            verdict = "3 ✓" if to3 < to7 else "7 ✗"
            rows.append(
                f"<tr><td>{'L1 (mean absolute difference)' if key == 'l1' else 'L2 (root mean squared error)'}</td>"
                f"<td align='right'>{to3:.4f}</td><td align='right'>{to7:.4f}</td><td align='center'><b>{verdict}</b></td></tr>"
            )
        self.distances.setText(
            "<p><b>One 3 against the ideals</b> — "
            f"{_code('(a_3 - mean3).abs().mean()')} and {_code('((a_3 - mean3)**2).mean().sqrt()')}: "
            f"a_3 is {_code('[28, 28]')}, mean3 is {_code('[28, 28]')}, the difference {_code('[28, 28]')}, "
            f"its mean one number {_code('[]')}.</p>"
            "<table cellspacing='0' cellpadding='3'><tr><th align='left'>distance</th><th>to mean3</th><th>to mean7</th>"
            f"<th>called</th></tr>{''.join(rows)}</table>"
        )

    def _show_broadcast(self) -> None:
        lines = "".join(f"<li>{_code(code)}<br>{html.escape(shapes)}</li>" for code, shapes in self.lab.broadcast_steps())
        self.broadcast.setText(
            "<p><b>All the validation 3s at once (broadcasting)</b> — the same code, given a stack of images: "
            f"{_code('mnist_distance(a, b) = (a - b).abs().mean((-1, -2))')}</p><ol>{lines}</ol>"
        )

    def _show_accuracy(self) -> None:
        rows = []
        for key in similarity.DISTANCES:
            acc = self.lab.accuracy[key]
            rows.append(
                f"<tr><td>{html.escape(similarity.DISTANCE_LABELS[key])}</td><td align='right'>{100 * acc.threes:.1f} %</td>"
                f"<td align='right'>{100 * acc.sevens:.1f} %</td><td align='right'><b>{100 * acc.overall:.1f} %</b></td></tr>"
            )
        l1, l2 = self.lab.accuracy["l1"].overall, self.lab.accuracy["l2"].overall
        better = "L2" if l2 > l1 else "L1"
        self.accuracy.setText(
            "<p><b>Accuracy on the validation set</b> (each digit called by the nearer ideal)</p>"
            "<table cellspacing='0' cellpadding='3'><tr><th align='left'>distance</th><th>3s right</th><th>7s right</th>"
            f"<th>all</th></tr>{''.join(rows)}</table>"
            f"<p>{better} is right a little more often here ({100 * max(l1, l2):.1f} % against {100 * min(l1, l2):.1f} %). "
            "Neither learns anything: more data or more time would not improve them.</p>"
        )
