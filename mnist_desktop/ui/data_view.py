"""The Data dock: what MNIST holds before any model sees it.

How many images of each digit the training and test sets have, the mean image of each
digit (the chapter's "ideal 3"), and every image of a digit in a gallery: click one to see
its numbers in the tensor inspector, right-click or "Put on canvas" to classify it. The
numbers come from the engine's ``dataset_summary`` (cached); the first time the dock is
shown they are computed in a thread, and thumbnails are made only when scrolled into view,
so the dock opens at once.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import model as engine
from mnist_desktop.model.datasets import MNIST

from .captions import a_digit
from .gallery import Gallery, thumbnail
from .panel import DockEntry
from .session import Session
from .workers import Worker, run_in_daemon_thread

SPLITS = ("train", "test")
SPLIT_LABELS = {"train": "training set", "test": "test set"}
MEAN_SIDE = 42  # pixels on a side of a mean image's button


def _line(text: str, name: str) -> QLabel:
    """A one-line label that never widens the dock (a long text is cut; the tooltip has it all)."""
    label = QLabel(text, objectName=name)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    return label


class SummaryLoader(Worker):
    """Summarises both splits of MNIST: finishes with {split: DatasetSummary}."""

    def work(self):
        return {split: MNIST.summary(split) for split in SPLITS}

    def failure(self, error: Exception) -> str:
        return str(error) if isinstance(error, engine.MnistDesktopError) else super().failure(error)


class DataViewPanel(QWidget):
    """The Data dock's contents (objectName ``data_view``)."""

    inspectRequested = Signal(str, int)  # split, index: show this MNIST digit in the inspector
    toCanvas = Signal(object)  # a uint8 28×28 digit to put on the canvas
    loaded = Signal()  # the counts and mean images are on screen

    dock = DockEntry(
        "data",
        "Data",
        "side",
        scroll=False,
        help="MNIST itself: how many images of each digit, the mean image of each, and all of them.",
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("data_view")
        self.summaries: dict[str, engine.DatasetSummary] = {}
        self.label: int | None = None
        self._loader: SummaryLoader | None = None

        self.status = _line("MNIST is read when this panel is first shown.", "data_status")
        self.counts = QTableWidget(len(SPLITS), len(MNIST.classes), objectName="data_counts")
        self.counts.setHorizontalHeaderLabels([str(d) for d in MNIST.classes])
        self.counts.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.counts.setVerticalHeaderLabels(["train", "test"])
        self.counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        # Tab leaves the table, the arrows move in it: a table's Tab went round its cells for ever
        self.counts.setTabKeyNavigation(False)
        header = self.counts.horizontalHeader()
        header.setMinimumSectionSize(8)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.counts.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.counts.setToolTip("How many images of each digit each split holds. MNIST is nearly, not exactly, balanced.")
        self.counts.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.counts.setFixedHeight(
            header.sizeHint().height() + len(SPLITS) * self.counts.verticalHeader().defaultSectionSize() + 2 * self.counts.frameWidth()
        )

        self.split = QComboBox(objectName="data_split")
        for name in SPLITS:
            self.split.addItem(SPLIT_LABELS[name], name)
        self.split.setToolTip("Whose mean images and digits to show.")
        self.split.currentIndexChanged.connect(lambda _i: self._show_split())

        self.mean_buttons: list[QToolButton] = []
        self._mean_group = QButtonGroup(self)
        self._mean_group.setExclusive(True)
        means = QGridLayout()
        means.setSpacing(2)
        for d in MNIST.classes:
            b = QToolButton(objectName=f"data_mean_{d}", checkable=True, enabled=False)
            b.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # ten in a row, even in a narrow dock
            b.setIconSize(QSize(MEAN_SIDE, MEAN_SIDE))
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            b.setText(str(d))
            b.setIcon(thumbnail(np.zeros((28, 28), np.uint8), MEAN_SIDE))  # its size from the start: nothing moves when MNIST is in
            b.setToolTip(f"The mean of every {d} in the split: the 'ideal {d}'. Click to see all of them below.")
            b.clicked.connect(lambda _c=False, d=d: self.show_label(d))
            self._mean_group.addButton(b, d)
            self.mean_buttons.append(b)
            means.addWidget(b, 0, d)

        self.gallery_title = _line("Click a mean image to see that digit's images.", "data_gallery_title")
        self.gallery = Gallery(caption_lines=1)
        self.gallery.setObjectName("data_gallery")
        self.gallery.setMinimumHeight(120)
        self.gallery.itemClicked.connect(lambda key: self.inspectRequested.emit(self.current_split(), int(key)))
        self.gallery.toCanvas.connect(self.toCanvas)
        self.to_canvas = QPushButton("Put on canvas", objectName="data_to_canvas", enabled=False)
        self.to_canvas.setToolTip("Put the selected digit on the canvas, where the active model classifies it.")
        self.to_canvas.clicked.connect(self.put_selected_on_canvas)
        self.gallery.selectionModel().selectionChanged.connect(lambda *_: self.to_canvas.setEnabled(self._selected_row() is not None))

        row = QHBoxLayout()
        self.means_title = _line("Mean image of each digit (click one to see them all):", "data_means_title")
        row.addWidget(self.means_title, 1)
        row.addWidget(self.split)
        bottom = QHBoxLayout()
        bottom.addWidget(self.gallery_title, 1)
        bottom.addWidget(self.to_canvas)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.counts)
        layout.addLayout(row)
        layout.addLayout(means)
        layout.addLayout(bottom)
        layout.addWidget(self.gallery, 1)

    # ------------------------------------------------------------------ loading
    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        """Nothing to follow: MNIST does not change with the model or the drawing."""

    def shutdown(self) -> None:
        """The summary thread is a daemon that drops its result once the panel is gone."""

    @Slot(bool)
    def set_on_screen(self, shown: bool) -> None:
        """The dock was shown (True) or hidden: MNIST is summarised the first time it is shown."""
        if shown:
            self.load()

    def load(self) -> None:
        """Summarise both splits in a thread (once); ``loaded`` when they are on screen."""
        if self._loader is not None or self.summaries:
            return
        self.status.setText("Reading MNIST…")
        self._loader = SummaryLoader()
        self._loader.finished.connect(self._on_summaries)
        self._loader.failed.connect(self._on_failed)
        run_in_daemon_thread(self._loader, "data-summary")

    @Slot(int, str)
    def _on_failed(self, _generation: int, message: str) -> None:
        self._loader = None
        self.status.setText(f"⚠ Cannot read MNIST: {message}")

    @Slot(int, object)
    def _on_summaries(self, _generation: int, result) -> None:
        self._loader = None
        self.summaries = result
        for r, split in enumerate(SPLITS):
            s = result[split]
            for d in MNIST.classes:
                item = QTableWidgetItem(str(int(s.counts[d])))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(
                    f"{int(s.counts[d]):,} {split} images of {a_digit(d)}: {100 * s.counts[d] / max(1, s.total):.1f} % of {s.total:,}"
                )
                self.counts.setItem(r, d, item)
        low, high = (int(np.argmin(result["train"].counts)), int(np.argmax(result["train"].counts)))
        self.status.setText(f"MNIST: {result['train'].total:,} training and {result['test'].total:,} test images, 28×28 pixels.")
        self.status.setToolTip(
            f"The rarest digit in training is {low} ({result['train'].counts[low]:,}), the commonest {high} ({result['train'].counts[high]:,})."
        )
        for b in self.mean_buttons:
            b.setEnabled(True)
        self._show_split()
        self.loaded.emit()

    # ------------------------------------------------------------------ showing
    def current_split(self) -> str:
        return self.split.currentData()

    def count(self, split: str, digit: int) -> int:
        """The number shown in the counts table (for tests)."""
        item = self.counts.item(SPLITS.index(split), digit)
        return int(item.text()) if item is not None else -1

    def _show_split(self) -> None:
        s = self.summaries.get(self.current_split())
        if s is None:
            return
        for d, b in enumerate(self.mean_buttons):
            b.setIcon(thumbnail(np.round(s.means[d] * 255).astype(np.uint8), MEAN_SIDE))
        self.show_label(self.label if self.label is not None else 0)

    @Slot(int)
    def show_label(self, digit: int) -> None:
        """Fill the gallery with every image of ``digit`` in the current split."""
        split = self.current_split()
        s = self.summaries.get(split)
        if s is None or digit not in MNIST.classes:
            return
        self.label = digit
        self.mean_buttons[digit].setChecked(True)
        images, _ = MNIST.arrays(split)
        rows = s.indices[digit]
        self.gallery.set_items(
            images, rows, rows, lambda i, r=rows: f"#{int(r[i])}", lambda i, r=rows, sp=split: f"{sp} image #{int(r[i])}, {a_digit(digit)}"
        )
        self.gallery_title.setText(f"{len(rows):,} {split} images of {a_digit(digit)}: click one to inspect it")
        self.gallery_title.setToolTip(
            f"All {len(rows):,} {split} images of {a_digit(digit)}. Click one to see its numbers in the tensor inspector; "
            "right-click it or press Put on canvas to classify it."
        )
        self.to_canvas.setEnabled(False)

    def _selected_row(self) -> int | None:
        rows = sorted(i.row() for i in self.gallery.selectedIndexes())
        return rows[0] if rows else None

    @Slot()
    def put_selected_on_canvas(self) -> None:
        row = self._selected_row()
        if row is not None:
            self.gallery.put_on_canvas(row)
