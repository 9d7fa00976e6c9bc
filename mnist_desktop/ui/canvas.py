"""The drawing canvas: anti-aliased strokes with the mouse or a tablet, eraser, undo/redo, clear.

What the model gets is a separate grayscale image (white ink on black, like MNIST) of
fixed size; what the screen shows is drawn in the palette's text colour on its base
colour, at the screen's device pixel ratio, so the canvas is crisp on high-DPI screens and
follows a light or dark colour scheme. Strokes are stored in unit coordinates (0..1), so
the drawing survives a resize and renders at any resolution.

The drawing area is square by default; ``set_aspect`` makes it wider (Number mode), in units
of its height: x runs from 0 to the aspect ratio, y from 0 to 1. Each aspect keeps its own
drawing and history, so that going back to the square canvas finds the digit left there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPointingDevice,
    QTabletEvent,
)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget

from .workers import Worker, run_in_daemon_thread

MODEL_SIZE = 280  # side of the grayscale image handed to to_mnist (10× MNIST)
# A picture put on the canvas is kept at most this big (aspect ratio kept): enough for the
# 280-pixel model image and a large high-DPI canvas, 1 MB at most per picture.
PICTURE_SIDE = 1024
# The pictures the undo history may hold, in bytes; older history is dropped beyond it.
MAX_HISTORY_BYTES = 16 * 2**20


@dataclass
class Stroke:
    width: float  # brush diameter as a fraction of the canvas side
    eraser: bool = False
    points: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, pressure


@dataclass
class Picture:
    """An image put on the canvas (opened or dropped): replaces what was there."""

    image: np.ndarray  # uint8 2-D, white on black


@dataclass
class Clear:
    pass


def _stroke_path(points, side: float) -> QPainterPath:
    """A smooth path through the points: quadratic curves between midpoints."""
    path = QPainterPath()
    pts = [QPointF(x * side, y * side) for x, y, _ in points]
    path.moveTo(pts[0])
    if len(pts) == 1:
        path.lineTo(pts[0])
        return path
    for i in range(1, len(pts) - 1):
        mid = (pts[i] + pts[i + 1]) / 2
        path.quadTo(pts[i], mid)
    path.lineTo(pts[-1])
    return path


def _fit(w: int, h: int, side: float, aspect: float = 1.0) -> QRectF:
    """The largest rectangle of a w×h image's shape centred in a (side·aspect)×side area."""
    width = side * aspect
    scale = min(width / w, side / h)
    return QRectF((width - w * scale) / 2, (side - h * scale) / 2, w * scale, h * scale)


def _pen(width: float, pressure: float, side: float, color) -> QPen:
    pen = QPen(color)
    pen.setWidthF(max(0.5, width * side * (0.4 + 0.6 * pressure)))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


class Canvas(QWidget):
    """Draw here. ``changed`` fires on every edit (each move of the pen); ``edited`` when an
    edit is whole (the pen lifted, a clear, undo, a picture); ``image_array()`` is the model's view."""

    changed = Signal()
    edited = Signal()
    undoAvailable = Signal(bool)
    redoAvailable = Signal(bool)
    imageRejected = Signal(str)
    imageLoaded = Signal()  # an opened or dropped file's picture is on the canvas

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("canvas")
        self._request = 0  # the latest open_image request; a decode that finishes for an older one is dropped
        self._decoder: ImageDecoder | None = None  # the latest request's, kept until the next
        self.setAttribute(Qt.WidgetAttribute.WA_StaticContents)
        self.setMouseTracking(False)
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self._items: list[Stroke | Picture | Clear] = []
        self._redo: list[Stroke | Picture | Clear] = []
        self._current: Stroke | None = None
        self.brush_size = 0.075  # fraction of the side; 21 px on the 280-px model image
        self.eraser = False
        self.aspect = 1.0  # width / height of the drawing area
        self._other_drawings: dict[float, tuple[list, list]] = {}  # aspect → (items, redo) of the drawings not shown
        self.boxes: list[tuple[tuple[int, int, int, int], str]] = []  # (box in model pixels, caption), drawn over the ink
        self.selected_box: int | None = None
        self._model = QImage(MODEL_SIZE, MODEL_SIZE, QImage.Format.Format_Grayscale8)
        self._screen = QImage()
        self._render_all()
        self._explain()

    def _explain(self) -> None:
        """The tooltip and the help strip's line (status tip) for this canvas: a digit's, or a
        number's on the wide canvas (Number mode), as the placeholder on the canvas says."""
        if self.aspect == 1:
            first, then = "Draw a digit here with the mouse or a pen.", "Drop an image file to classify it."
        else:
            first = "Write a number here with the mouse or a pen, left to right, a gap between digits: each digit is boxed and read."
            then = "Drop an image file to read the number in it."
        self.setToolTip(f"{first}\nRight button erases. {then}")
        self.setStatusTip(f"{first} Right button erases. {then}")

    # ----------------------------------------------------------------- geometry
    def sizeHint(self) -> QSize:
        return QSize(round(340 * self.aspect), 340)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, w: int) -> int:
        return round(w / self.aspect)

    def _square(self) -> QRectF:
        """The drawing area: as large as fits, ``aspect`` times as wide as high, centred."""
        side = min(self.height(), self.width() / self.aspect)
        width = side * self.aspect
        return QRectF((self.width() - width) / 2, (self.height() - side) / 2, width, side)

    def _to_unit(self, pos: QPointF) -> tuple[float, float]:
        r = self._square()
        return ((pos.x() - r.x()) / r.height(), (pos.y() - r.y()) / r.height())

    def set_aspect(self, aspect: float) -> None:
        """Make the drawing area ``aspect`` times as wide as high (1: square). The drawing of the
        aspect left is kept and comes back with it; the model image becomes 280 pixels high and
        ``aspect`` times as wide."""
        aspect = float(aspect)
        if aspect <= 0:
            raise ValueError(f"the aspect ratio must be positive, not {aspect}")
        if aspect == self.aspect:
            return
        self._current = None
        self._other_drawings[self.aspect] = (self._items, self._redo)
        self._items, self._redo = self._other_drawings.pop(aspect, ([], []))
        self.aspect = aspect
        self._explain()
        self.boxes, self.selected_box = [], None
        self._model = QImage(round(MODEL_SIZE * aspect), MODEL_SIZE, QImage.Format.Format_Grayscale8)
        self.updateGeometry()
        self._after_edit()

    def set_boxes(self, boxes, selected: int | None = None) -> None:
        """Draw ``boxes`` (``((x0, y0, x1, y1), caption)`` in model-image pixels) over the ink;
        ``selected`` (an index) stands out."""
        self.boxes = [(tuple(int(v) for v in box), str(caption)) for box, caption in boxes]
        self.selected_box = selected
        self.update()

    def box_at(self, pos: QPointF) -> int | None:
        """The index of the box under ``pos`` (widget coordinates), or None."""
        x, y = self._to_unit(pos)
        x, y = x * MODEL_SIZE, y * MODEL_SIZE
        for i, ((x0, y0, x1, y1), _) in enumerate(self.boxes):
            if x0 <= x < x1 and y0 <= y < y1:
                return i
        return None

    # ----------------------------------------------------------------- state
    def is_empty(self) -> bool:
        return not np.any(self.image_array())

    def image_array(self) -> np.ndarray:
        """The drawing as the model gets it: uint8 (280, 280 × aspect), white ink on black (a copy)."""
        img = self._model
        buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
        return buf.reshape(img.height(), img.bytesPerLine())[:, : img.width()].copy()

    def can_undo(self) -> bool:
        return bool(self._items)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def stroke_count(self) -> int:
        return sum(isinstance(i, Stroke) for i in self._visible_items())

    def _visible_items(self):
        start = 0
        for i, item in enumerate(self._items):
            if isinstance(item, (Clear, Picture)):
                start = i
        return self._items[start:]

    # ----------------------------------------------------------------- edits
    @Slot()
    def clear(self) -> None:
        if not self._items or isinstance(self._items[-1], Clear) or not self._visible_items_have_ink():
            return
        self._push(Clear())

    def _visible_items_have_ink(self) -> bool:
        return any(not isinstance(i, Clear) for i in self._visible_items())

    @Slot()
    def undo(self) -> None:
        if self._items:
            self._redo.append(self._items.pop())
            self._after_edit()

    @Slot()
    def redo(self) -> None:
        if self._redo:
            self._items.append(self._redo.pop())
            self._after_edit()

    def set_image(self, image: np.ndarray) -> None:
        """Put a uint8 2-D white-on-black image on the canvas (undoable).

        It is kept at most :data:`PICTURE_SIDE` pixels on a side, whatever its size.
        """
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 2:
            raise ValueError(f"expected a 2-D image, got shape {image.shape}")
        h, w = image.shape
        if max(h, w) > PICTURE_SIDE:
            src = QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8)
            small = src.scaled(PICTURE_SIDE, PICTURE_SIDE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            buf = np.frombuffer(small.constBits(), dtype=np.uint8, count=small.sizeInBytes())
            image = buf.reshape(small.height(), small.bytesPerLine())[:, : small.width()].copy()
        else:
            image = image.copy()  # the history must not change if the caller's array does
        self._push(Picture(image))

    @Slot(float)
    def set_brush_size(self, fraction: float) -> None:
        self.brush_size = float(fraction)

    @Slot(bool)
    def set_eraser(self, on: bool) -> None:
        self.eraser = bool(on)

    def _push(self, item) -> None:
        self._items.append(item)
        self._redo.clear()
        self._trim_history()
        self._after_edit()

    def _trim_history(self) -> None:
        """Drop the oldest history while its pictures take more than MAX_HISTORY_BYTES.

        History goes up to the second Clear or Picture at a time: each of them starts a
        drawing afresh, so what remains still renders as it did.
        """
        while sum(i.image.nbytes for i in self._items if isinstance(i, Picture)) > MAX_HISTORY_BYTES:
            starts = [k for k, i in enumerate(self._items) if isinstance(i, (Clear, Picture))]
            if len(starts) < 2:
                return
            del self._items[: starts[1]]

    def _after_edit(self) -> None:
        self._render_all()
        self.update()
        self.undoAvailable.emit(self.can_undo())
        self.redoAvailable.emit(self.can_redo())
        self.changed.emit()
        self.edited.emit()

    # ----------------------------------------------------------------- rendering
    def _ink(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.Text)

    def _screen_size(self) -> tuple[int, float]:
        dpr = self.devicePixelRatioF()
        side = max(1, round(self._square().height() * dpr))
        return side, dpr

    def _render_all(self) -> None:
        side, dpr = self._screen_size()
        self._screen = QImage(max(1, round(side * self.aspect)), side, QImage.Format.Format_ARGB32_Premultiplied)
        self._screen.fill(Qt.GlobalColor.transparent)
        self._screen.setDevicePixelRatio(dpr)
        self._model.fill(0)
        for item in self._visible_items():
            if isinstance(item, Picture):
                self._draw_picture(item.image)
            elif isinstance(item, Stroke):
                self._draw_stroke(item, 0)
        if self._current is not None:
            self._draw_stroke(self._current, 0)

    def _draw_picture(self, image: np.ndarray) -> None:
        h, w = image.shape
        src = QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        target = _fit(w, h, MODEL_SIZE, self.aspect)  # keep the aspect ratio: to_mnist keeps it too
        p = QPainter(self._model)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(target, src)
        p.end()
        # On screen, the picture's brightness becomes the ink's opacity, so that it shows in
        # the ink colour on the paper, like a stroke. The bytes are read as alpha values:
        # converting the grey image to Alpha8 instead would make every pixel opaque (a grey
        # image has no alpha), which showed the picture as a solid square of ink.
        alpha = QImage(image.data, w, h, w, QImage.Format.Format_Alpha8).copy()
        tinted = QImage(alpha.size(), QImage.Format.Format_ARGB32_Premultiplied)
        tinted.fill(self._ink())
        p = QPainter(tinted)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        p.drawImage(0, 0, alpha)
        p.end()
        side = self._screen.height() / self._screen.devicePixelRatio()
        p = QPainter(self._screen)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(_fit(w, h, side, self.aspect), tinted)
        p.end()

    def _draw_stroke(self, stroke: Stroke, start: int) -> None:
        """Draw points ``start-1 ..`` of a stroke on both images (incremental when start > 0)."""
        pts = stroke.points[max(0, start - 2) :] if start else stroke.points
        if not pts:
            return
        pressure = max(p for *_, p in pts) if len(pts) < 3 else sorted(p for *_, p in pts)[len(pts) // 2]
        screen_side = self._screen.height() / self._screen.devicePixelRatio()
        for image, side, color in (
            (self._model, MODEL_SIZE, QColor(255, 255, 255) if not stroke.eraser else QColor(0, 0, 0)),
            (self._screen, screen_side, self._ink()),
        ):
            p = QPainter(image)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            if stroke.eraser and image is self._screen:
                p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
            p.setPen(_pen(stroke.width, pressure, side, color))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(_stroke_path(pts, side))
            p.end()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        r = self._square()
        p.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        p.fillRect(r, self.palette().color(QPalette.ColorRole.Base))
        p.drawImage(r, self._screen)
        if not self._visible_items_have_ink() and self._current is None:
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            f = p.font()
            f.setPointSizeF(f.pointSizeF() * 1.4)
            p.setFont(f)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "Draw a digit here" if self.aspect == 1 else "Write a number here")
        if self.boxes:
            self._paint_boxes(p, r)
        p.setPen(QPen(self.palette().color(QPalette.ColorRole.Mid), 1))
        p.drawRect(r.adjusted(0, 0, -1, -1))
        p.end()

    def _paint_boxes(self, p: QPainter, r: QRectF) -> None:
        scale = r.height() / MODEL_SIZE
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        for i, ((x0, y0, x1, y1), caption) in enumerate(self.boxes):
            box = QRectF(r.x() + x0 * scale, r.y() + y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale).adjusted(-3, -3, 3, 3)
            p.setPen(QPen(highlight, 3 if i == self.selected_box else 1.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(box, 4, 4)
            p.drawText(
                QRectF(box.x(), box.y() - 18, box.width(), 16), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, caption
            )

    def resizeEvent(self, event) -> None:
        self._render_all()
        super().resizeEvent(event)

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._render_all()
            self.update()
        super().changeEvent(event)

    # ----------------------------------------------------------------- input
    def _begin(self, pos: QPointF, pressure: float, erase: bool) -> None:
        self._current = Stroke(self.brush_size, erase or self.eraser)
        self._extend(pos, pressure)

    def _extend(self, pos: QPointF, pressure: float) -> None:
        if self._current is None:
            return
        x, y = self._to_unit(pos)
        pts = self._current.points
        if pts and abs(pts[-1][0] - x) < 1e-3 and abs(pts[-1][1] - y) < 1e-3:
            return
        pts.append((x, y, pressure))
        # Incremental draw of the newest segment; the full smooth path is redrawn at the end.
        self._draw_stroke(self._current, len(pts) - 1)
        self.update()
        self.changed.emit()

    def _end(self) -> None:
        if self._current is None:
            return
        stroke, self._current = self._current, None
        self._items.append(stroke)
        self._redo.clear()
        self._after_edit()

    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._begin(e.position(), 1.0, e.button() == Qt.MouseButton.RightButton)
            e.accept()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if self._current is not None:
            self._extend(e.position(), 1.0)
            e.accept()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        if self._current is not None:
            self._extend(e.position(), 1.0)
            self._end()
            e.accept()

    def tabletEvent(self, e: QTabletEvent) -> None:
        t = e.type()
        pressure = float(e.pressure()) if e.pressure() > 0 else 1.0
        erase = e.pointerType() == QPointingDevice.PointerType.Eraser
        if t == QEvent.Type.TabletPress:
            self._begin(e.position(), pressure, erase)
        elif t == QEvent.Type.TabletMove:
            self._extend(e.position(), pressure)
        elif t == QEvent.Type.TabletRelease:
            self._end()
        e.accept()

    # ----------------------------------------------------------------- drag and drop
    def dragEnterEvent(self, e) -> None:
        if e.mimeData().hasUrls() and any(u.isLocalFile() for u in e.mimeData().urls()):
            e.acceptProposedAction()

    def dropEvent(self, e) -> None:
        for url in e.mimeData().urls():
            if url.isLocalFile():
                self.open_image(url.toLocalFile())
                e.acceptProposedAction()
                return

    def open_image(self, path: str) -> None:
        """Load an image file onto the canvas. It is decoded off the GUI thread (a large photo
        takes a second or more), by an :class:`ImageDecoder` in a daemon thread (closing the
        window does not wait for it); ``imageLoaded`` or ``imageRejected(message)`` follows. A
        newer request supersedes one still decoding."""
        self._request += 1
        self._decoder = ImageDecoder(path, self._request)
        self._decoder.finished.connect(self._on_decoded)
        self._decoder.failed.connect(self._on_decode_failed)
        run_in_daemon_thread(self._decoder, "image-decode")

    @Slot(int, object)
    def _on_decoded(self, request: int, image) -> None:
        if request == self._request:
            self.set_image(image)
            self.imageLoaded.emit()

    @Slot(int, str)
    def _on_decode_failed(self, request: int, message: str) -> None:
        if request == self._request:
            self.imageRejected.emit(message)


class ImageDecoder(Worker):
    """Decodes an image file for the canvas (``load_digit_image``): finishes with the uint8
    drawing, white on black; fails with why the file cannot be read. Its generation is the
    canvas's request number."""

    def __init__(self, path: str, generation: int = 0):
        super().__init__(generation)
        self.path = path

    def work(self):
        from mnist_desktop.model import load_digit_image

        return load_digit_image(self.path)

    def failure(self, error: Exception) -> str:
        from mnist_desktop.model import MnistDesktopError

        if isinstance(error, MnistDesktopError):
            return str(error)  # names the file and what is wrong with it
        return f"{self.path}: cannot be read as an image ({type(error).__name__}: {error})"


def scripted_mouse_event(canvas: Canvas, kind: QEvent.Type, x: float, y: float, button, buttons) -> QMouseEvent:
    """A mouse event at ``(x, y)`` in unit coordinates of the drawing area (its height: y runs
    0..1, x 0..aspect), for scripted input: tests, the benchmark and the screenshot script send
    or post these."""
    r = canvas._square()
    p = QPointF(r.x() + x * r.height(), r.y() + y * r.height())
    return QMouseEvent(kind, p, QPointF(canvas.mapToGlobal(p.toPoint())), button, buttons, Qt.KeyboardModifier.NoModifier)


def scripted_stroke(canvas: Canvas, points, button=Qt.MouseButton.LeftButton) -> list[QMouseEvent]:
    """Press, moves and release through ``points`` (unit coordinates): one stroke's events."""
    none = Qt.MouseButton.NoButton
    events = [scripted_mouse_event(canvas, QEvent.Type.MouseButtonPress, *points[0], button, button)]
    events += [scripted_mouse_event(canvas, QEvent.Type.MouseMove, x, y, none, button) for x, y in points[1:]]
    events.append(scripted_mouse_event(canvas, QEvent.Type.MouseButtonRelease, *points[-1], button, none))
    return events


class DrawingArea(QWidget):
    """The canvas with its brush row under it: the brush size (``brush``, in pixels of the
    280-pixel canvas) and a button for the eraser (``eraser_button``; the window gives it its
    action). Undo, redo and clear are in the toolbar, once."""

    def __init__(self, canvas: Canvas, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.brush = QSlider(Qt.Orientation.Horizontal, objectName="brush_size", minimum=4, maximum=48)
        self.brush.setValue(round(canvas.brush_size * MODEL_SIZE))
        self.brush.setToolTip("Brush size. MNIST's strokes are about 2–3 pixels of 28 wide, i.e. 20–30 here.")
        self.brush.valueChanged.connect(lambda v: canvas.set_brush_size(v / MODEL_SIZE))
        self.brush_value = QLabel(f"{self.brush.value()} px")
        self.brush.valueChanged.connect(lambda v: self.brush_value.setText(f"{v} px"))
        self.eraser_button = QToolButton(objectName="eraser_button")
        row = QHBoxLayout()
        row.addWidget(QLabel("Brush"))
        row.addWidget(self.brush, 1)
        row.addWidget(self.brush_value)
        row.addWidget(self.eraser_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(canvas, 1)
        layout.addLayout(row)
