"""A gallery of 28×28 digits: thumbnails with a caption, rendered only when seen.

One widget for every list of digits in the app (a confusion-matrix cell, the top losses,
My digits). The model keeps a reference to the images and the rows to show; a thumbnail
is made the first time the view asks for it (a QListView with uniform item sizes asks
only for the items on screen), so a gallery of ten thousand digits opens at once.
Clicking a thumbnail emits its key (an MNIST index, a My digits id); the context menu
puts the digit on the canvas and offers whatever actions the owner adds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPoint, QSize, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QListView, QMenu, QStyledItemDelegate, QWidget

THUMB = 56  # pixels on a side: 28×28 at 2×
CACHE = 2000  # thumbnails kept; more are made again when scrolled back to


def thumbnail(image28: np.ndarray, side: int = THUMB) -> QPixmap:
    """A uint8 28×28 image (white ink on black) as a nearest-neighbour enlarged pixmap."""
    a = np.ascontiguousarray(image28, dtype=np.uint8)
    h, w = a.shape
    img = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(img.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))


class GalleryModel(QAbstractListModel):
    """Rows of ``images`` with keys and captions; thumbnails made on demand."""

    KeyRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent=None):
        super().__init__(parent)
        self._images = np.zeros((0, 28, 28), np.uint8)
        self._rows = np.zeros(0, np.int64)
        self._keys: Sequence = []
        self._captions: Sequence[str] | Callable[[int], str] = []
        self._tooltips: Callable[[int], str] | None = None
        self._cache: dict[int, QPixmap] = {}
        self.rendered = 0  # thumbnails made so far (the tests check that it stays small)

    def set_items(self, images: np.ndarray, rows, keys: Sequence, captions, tooltips: Callable[[int], str] | None = None) -> None:
        self.beginResetModel()
        self._images = images
        self._rows = np.asarray(rows, dtype=np.int64)
        self._keys = keys
        self._captions = captions
        self._tooltips = tooltips
        self._cache.clear()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def image(self, row: int) -> np.ndarray:
        return self._images[int(self._rows[row])]

    def key(self, row: int):
        return self._keys[row]

    def caption(self, row: int) -> str:
        return self._captions(row) if callable(self._captions) else self._captions[row]

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = index.row()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.caption(row)
        if role == Qt.ItemDataRole.DecorationRole:
            pix = self._cache.get(row)
            if pix is None:
                if len(self._cache) >= CACHE:
                    self._cache.clear()
                pix = self._cache[row] = thumbnail(self.image(row))
                self.rendered += 1
            return pix
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltips(row) if self._tooltips is not None else self.caption(row)
        if role == self.KeyRole:
            return self._keys[row]
        return None


class CaptionWidthDelegate(QStyledItemDelegate):
    """Captions as wide as the grid's cell. A thumbnail above its caption gives the caption only
    the picture's width (Qt wraps and elides to the decoration's size): "5 → 3 · 100 %" showed as
    "5 → 3 ·…" in a cell with room for all of it. The picture stays its own size, centred."""

    def __init__(self, width: int, parent=None):
        super().__init__(parent)
        self.width = width

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.decorationSize = QSize(self.width, option.decorationSize.height())


class Gallery(QListView):
    """Thumbnails in a wrapping grid. ``itemClicked(key)``; ``toCanvas(uint8 28×28)``."""

    itemClicked = Signal(object)
    toCanvas = Signal(object)

    def __init__(self, parent: QWidget | None = None, caption_lines: int = 2, canvas_action: bool = True):
        super().__init__(parent)
        self._canvas_action = canvas_action
        self.gallery_model = GalleryModel(self)
        self.setModel(self.gallery_model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)  # only the visible items are asked for
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setIconSize(QSize(THUMB, THUMB))
        line = self.fontMetrics().height()
        self.setGridSize(QSize(THUMB + 48, THUMB + 8 + caption_lines * line))
        self.setItemDelegate(CaptionWidthDelegate(THUMB + 40, self))
        self.setWordWrap(True)
        self.setSpacing(2)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.clicked.connect(lambda index: self.itemClicked.emit(self.gallery_model.key(index.row())))
        self._extra: list[tuple[str, Callable[[list], None]]] = []

    def set_items(self, images: np.ndarray, rows, keys: Sequence, captions, tooltips=None) -> None:
        """Show ``images[rows[i]]`` with ``keys[i]`` and ``captions[i]`` (a list, or a
        function of ``i``). ``images`` is kept by reference, never copied or changed."""
        self.gallery_model.set_items(images, rows, keys, captions, tooltips)
        self.scrollToTop()

    def clear(self) -> None:
        self.set_items(np.zeros((0, 28, 28), np.uint8), [], [], [])

    def count(self) -> int:
        return self.gallery_model.rowCount()

    def keys(self) -> list:
        return [self.gallery_model.key(r) for r in range(self.count())]

    def captions(self) -> list[str]:
        return [self.gallery_model.caption(r) for r in range(self.count())]

    def add_context_action(self, text: str, callback: Callable[[list], None]) -> None:
        """An entry in the context menu; ``callback`` gets the keys of the selected items."""
        self._extra.append((text, callback))

    def selected_keys(self) -> list:
        return [self.gallery_model.key(i.row()) for i in sorted(self.selectedIndexes(), key=lambda i: i.row())]

    def put_on_canvas(self, row: int) -> None:
        self.toCanvas.emit(np.array(self.gallery_model.image(row), dtype=np.uint8))

    def context_menu(self, row: int) -> QMenu:
        """The menu for the item at ``row`` (built, not shown: tests trigger its actions)."""
        menu = QMenu(self)
        if self._canvas_action:
            menu.addAction("Put on canvas", lambda: self.put_on_canvas(row))
        keys = self.selected_keys() or [self.gallery_model.key(row)]
        for text, callback in self._extra:
            menu.addAction(text, lambda cb=callback, k=keys: cb(k))
        return menu

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        if not self.selectionModel().isSelected(index):
            self.setCurrentIndex(index)
        menu = self.context_menu(index.row())
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.viewport().mapToGlobal(pos))
