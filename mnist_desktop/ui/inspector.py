"""The tensor inspector: the 28×28 numbers behind an image, like the chapter's
``DataFrame(...).style.background_gradient('Greys')``.

It shows the current drawing as the model sees it, or any MNIST sample (browse by index,
filter by label, random), as uint8 0–255, float 0–1, or normalised as fed to the model,
with the tensor's shape, dtype and statistics and the shape steps from canvas to model.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import model as engine
from mnist_desktop.model.config import ARCHITECTURE_SPECS
from mnist_desktop.model.datasets import MNIST

from .overlay import SaliencyOverlay
from .panel import DockEntry
from .session import Drawing, Session

MODES = ("uint8", "float", "normalized")
# How each mode's values are printed: in the cells (what fits), and in the hover read-out.
CELL_FORMATS = {"uint8": "{:.0f}", "float": "{:.2f}", "normalized": "{:+.2f}"}
HOVER_FORMATS = {"uint8": "{:.0f}", "float": "{:.3f}", "normalized": "{:+.3f}"}
MIN_CELL = 4  # the smallest zoom, in pixels per cell
MIN_FONT = 6  # pixels: the smallest numbers printed in a cell


class PixelGrid(QWidget):
    """28×28 cells, each with its value printed on a grey shaded by the value."""

    hovered = Signal(int, int, float)  # row, column, value (as displayed)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.values: np.ndarray = np.zeros((28, 28), dtype=np.float32)
        self.shade: np.ndarray = np.zeros((28, 28), dtype=np.float32)  # 0..1, drives the background
        self.fmt = "{:.0f}"
        self.hover_fmt = "{:.0f}"
        self.hovered_cell: tuple[int, int] | None = None  # the last cell the mouse was on
        self.setMouseTracking(True)
        self.set_cell_size(24)

    def set_cell_size(self, pixels: int) -> None:
        """Zoom: the side of one cell in pixels (numbers are printed from 14 px up)."""
        self.cell_size = int(pixels)
        self.setFixedSize(28 * self.cell_size, 28 * self.cell_size)
        self.update()

    def set_values(self, values: np.ndarray, shade: np.ndarray, fmt: str, hover_fmt: str | None = None) -> None:
        self.values = np.asarray(values).copy()
        self.shade = np.clip(np.asarray(shade, dtype=np.float32), 0, 1)
        self.fmt = fmt
        self.hover_fmt = hover_fmt or fmt
        self.update()
        if self.hovered_cell is not None:  # the read-out shows the new value of the same cell
            r, k = self.hovered_cell
            self.hovered.emit(r, k, float(self.values[r, k]))

    def _cell(self) -> float:
        return min(self.width(), self.height()) / 28.0

    def _origin(self) -> tuple[float, float]:
        side = self._cell() * 28
        return (self.width() - side) / 2, (self.height() - side) / 2

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        c = self._cell()
        x0, y0 = self._origin()
        row, col = int((pos.y() - y0) // c), int((pos.x() - x0) // c)
        return (row, col) if 0 <= row < 28 and 0 <= col < 28 else None

    def text_font(self) -> QFont | None:
        """The font the cells' numbers are printed in: as large as a third of a cell, and small
        enough that the widest number fits its cell with a gap ("-0.42-0.42" ran together at high
        zoom); None where the cells are too small for numbers (the hover read-out has them)."""
        c = self._cell()
        if c < 14:
            return None
        values = np.asarray(self.values, dtype=np.float64)
        # the widest numbers have the most digits and a sign: the extremes (digits are equally wide)
        extremes = {self.fmt.format(v) for v in (values.min(), values.max())}
        font = QFont(self.font())
        size = max(5, int(c * 0.36))
        while size >= MIN_FONT:
            font.setPixelSize(size)
            metrics = QFontMetrics(font)
            if max(metrics.horizontalAdvance(t) for t in extremes) <= c - 3:
                return font
            size -= 1
        return None

    def paintEvent(self, event) -> None:
        c = self._cell()
        x0, y0 = self._origin()
        p = QPainter(self)
        p.translate(x0, y0)
        font = self.text_font()
        show_text = font is not None
        if show_text:
            p.setFont(font)
        # Greys: 0 → white, 1 → black (like pandas' background_gradient('Greys')); text
        # switches to white on dark cells. The shading is data, so it ignores the theme.
        greys = np.round(255 - 255 * self.shade).astype(int)
        for r in range(28):
            y = r * c
            for k in range(28):
                g = int(greys[r, k])
                rect = QRectF(k * c, y, c, c)
                p.fillRect(rect, QColor(g, g, g))
                if show_text:
                    p.setPen(QColor(255, 255, 255) if g < 128 else QColor(0, 0, 0))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.fmt.format(self.values[r, k]))
        p.end()

    def mouseMoveEvent(self, e) -> None:
        cell = self.cell_at(e.position().toPoint())
        if cell is not None:
            r, k = self.hovered_cell = cell
            v = float(self.values[r, k])
            self.hovered.emit(r, k, v)
            QToolTip.showText(e.globalPosition().toPoint(), f"row {r}, column {k}: {self.hover_fmt.format(v)}", self)
        super().mouseMoveEvent(e)


class InspectorPanel(QWidget):
    """Shows the numbers of the current drawing or of a dataset sample."""

    toCanvas = Signal(object)  # a uint8 (28, 28) sample the user wants classified

    dock = DockEntry(
        "inspector", "Tensor inspector", "bottom", help="The numbers themselves: the 28×28 image the model gets.", short="Inspector"
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("inspector")
        self._stale = False  # the drawing changed while hidden: refreshed when shown
        self._x28: np.ndarray | None = None  # the drawing as to_mnist returned it
        self._drawing = Drawing()  # the session's drawing: its shape, and in Number mode which digit
        self._predictor = None
        self._rng = np.random.default_rng()
        self.sample_label: int | None = None
        self._sample_uint8: np.ndarray | None = None  # the MNIST sample shown, as stored

        self.source = QComboBox(objectName="inspector_source")
        self.source.addItem("Drawing", "drawing")
        self.source.addItem("MNIST training set", "train")
        self.source.addItem("MNIST test set", "test")
        self.source.setToolTip("Inspect the current drawing (as the model sees it) or an image from MNIST.")
        self.label_filter = QComboBox(objectName="inspector_label")
        self.label_filter.addItem("any label", -1)
        for d in MNIST.classes:
            self.label_filter.addItem(f"label {d}", d)
        self.label_filter.setToolTip("Browse only the samples of this digit.")
        self.index = QSpinBox(objectName="inspector_index", minimum=0, maximum=0)
        self.index.setToolTip("Which sample (counted among those with the chosen label).")
        self.random_button = QPushButton("Random", objectName="inspector_random")
        self.random_button.setToolTip("Show a random sample with the chosen label.")
        self.canvas_button = QPushButton("Put on canvas", objectName="inspector_to_canvas")
        self.canvas_button.setToolTip("Classify this sample: it replaces the drawing (undo brings the drawing back).")
        self.canvas_button.clicked.connect(self._to_canvas)
        # What is shown, on its own line under the buttons: beside them it had 40 px at 1024x640
        # ("the dra") and 240 at 1280x720 ("digit 3 of the number (Number moc"). It wraps where
        # the dock is narrower still, and never widens the window.
        self.sample_info = QLabel(objectName="inspector_sample_info", wordWrap=True)
        self.sample_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.modes = QButtonGroup(self)
        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Values:"))
        tips = {
            "uint8": "Bytes as stored in the file: 0 (black) to 255 (white ink).",
            "float": "Divided by 255: floats from 0 to 1, what to_mnist returns.",
            "normalized": "",  # the model's own normalisation: set with the model (_show_normalisation)
        }
        for i, (mode, text) in enumerate(zip(MODES, ("uint8 0–255", "float 0–1", "normalised"))):
            b = QRadioButton(text, objectName=f"mode_{mode}")
            b.setToolTip(tips[mode])
            self.modes.addButton(b, i)
            mode_row.addWidget(b)
        mode_row.addStretch(1)
        mode_row.addWidget(QLabel("Zoom"))
        self.fit_button = QToolButton(objectName="inspector_fit", text="Fit", checkable=True, checked=True)
        self.fit_button.setToolTip("Zoom so that the whole 28×28 image fits; the slider zooms in from there.")
        mode_row.addWidget(self.fit_button)
        self.modes.button(1).setChecked(True)
        self._show_normalisation()

        self.grid = PixelGrid()
        self.grid_scroll = QScrollArea(objectName="inspector_scroll")
        self.grid_scroll.setWidget(self.grid)
        self.grid_scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid_scroll.setMinimumSize(160, 120)
        self.zoom = QSlider(Qt.Orientation.Horizontal, objectName="inspector_zoom", minimum=MIN_CELL, maximum=40, value=24)
        self.zoom.setToolTip("Cell size. Numbers appear once a cell is large enough for them; Fit shows the whole image.")
        self.zoom.setMaximumWidth(140)
        self.zoom.valueChanged.connect(self._on_zoom)
        self.fit_button.toggled.connect(self._fit)
        self.grid_scroll.viewport().installEventFilter(self)
        self.stats = QLabel(objectName="inspector_stats")
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.shapes = QLabel(objectName="inspector_shapes", wordWrap=True)
        self.shapes.setTextFormat(Qt.TextFormat.RichText)
        self.hover = QLabel("Hover over a cell to see its row, column and value.", objectName="inspector_hover")

        top = QHBoxLayout()
        top.addWidget(self.source)
        top.addWidget(self.label_filter)
        top.addWidget(self.index)
        top.addWidget(self.random_button)
        top.addWidget(self.canvas_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.sample_info)
        mode_row.addWidget(self.zoom)
        layout.addLayout(mode_row)
        layout.addWidget(self.grid_scroll, 1)
        layout.addWidget(self.hover)
        layout.addWidget(self.stats)
        layout.addWidget(self.shapes)

        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.label_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.index.valueChanged.connect(self.refresh)
        self.random_button.clicked.connect(self.random_sample)
        self.modes.idClicked.connect(lambda _id: self.refresh())
        self.grid.hovered.connect(self._on_hover)
        # The saliency overlay: red/blue over the drawing's cells, from the live prediction.
        self._saliency: np.ndarray | None = None
        self.saliency_overlay = SaliencyOverlay(self.grid)
        self.source.currentIndexChanged.connect(lambda _i: self.set_saliency(self._saliency))
        self._on_source_changed()

    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        session.drawingChanged.connect(self.set_drawing)
        session.follow_model(self.set_predictor)
        self.set_drawing(session.drawing)  # built late: what it shows now (an empty Number-mode drawing too)

    @Slot(bool)
    def set_on_screen(self, shown: bool) -> None:
        if shown:
            self.refresh()

    def shutdown(self) -> None:
        """Nothing runs in the background."""

    def set_predictor(self, predictor) -> None:
        self._predictor = predictor
        self._show_normalisation()
        self.refresh()

    def _normalisation(self) -> tuple[float, float]:
        """(mean, std) the active model subtracts and divides by (MNIST's before there is one)."""
        meta = getattr(self._predictor, "meta", None)
        if meta is None:
            return MNIST.normalization
        return float(meta["normalization"]["mean"]), float(meta["normalization"]["std"])

    def _normalisation_step(self) -> str:
        mean, std = self._normalisation()
        # pixel similarity's is the identity: its pixels are not "normalised as the training set"
        return "no normalisation (mean 0, std 1)" if (mean, std) == (0.0, 1.0) else f"normalise (x − {mean:g}) / {std:g}"

    def _show_normalisation(self) -> None:
        mean, std = self._normalisation()
        if (mean, std) == (0.0, 1.0):
            tip = "What the model is fed: the floats 0–1 as they are (this model's normalisation is the identity: mean 0, std 1)."
        elif (mean, std) == tuple(MNIST.normalization):
            tip = (
                f"What the model is fed: (x − {mean:g}) / {std:g}, the mean and standard deviation of MNIST's training "
                "pixels (the model's own normalisation)."
            )
        else:
            tip = f"What the model is fed: (x − {mean:g}) / {std:g} (the model's own normalisation)."
        self.modes.button(MODES.index("normalized")).setToolTip(tip)

    def set_drawing(self, drawing: Drawing) -> None:
        """The session's drawing: its ``x28`` as ``to_mnist`` returned it (None: nothing drawn); in
        Number mode its ``digit`` of the number (its ``image`` that digit's cut from the canvas)."""
        self._drawing = drawing
        self._x28 = None if drawing.x28 is None else np.asarray(drawing.x28, dtype=np.float32)
        if self.source.currentData() == "drawing" and self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    @property
    def mode(self) -> str:
        return MODES[max(0, self.modes.checkedId())]

    def set_mode(self, mode: str) -> None:
        self.modes.button(MODES.index(mode)).setChecked(True)
        self.refresh()

    # ------------------------------------------------------------------ dataset
    def _dataset(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        return MNIST.arrays(split)  # the process's one decoded copy, not a copy of it

    def _filtered(self) -> np.ndarray:
        images, labels = self._dataset(self.source.currentData())
        label = self.label_filter.currentData()
        return np.arange(len(labels)) if label < 0 else np.flatnonzero(labels == label)

    @Slot()
    def _on_source_changed(self) -> None:
        dataset = self.source.currentData() != "drawing"
        for w in (self.label_filter, self.index, self.random_button, self.canvas_button):
            w.setEnabled(dataset)
        if dataset:
            self._on_filter_changed()
        else:
            self.refresh()

    @Slot()
    def _on_filter_changed(self) -> None:
        if self.source.currentData() == "drawing":
            return
        try:
            n = len(self._filtered())
        except engine.MnistDesktopError as e:
            self.sample_info.setText(f"⚠ {e}")
            return
        self.index.blockSignals(True)
        self.index.setMaximum(max(0, n - 1))
        self.index.blockSignals(False)
        self.refresh()

    def show_sample(self, split: str, index: int, label: int | None = None) -> None:
        """Select dataset sample ``index`` (among ``label``'s samples if given)."""
        self.source.setCurrentIndex(self.source.findData(split))
        self.label_filter.setCurrentIndex(self.label_filter.findData(-1 if label is None else label))
        self.index.setValue(index)
        self.refresh()

    @Slot()
    def _to_canvas(self) -> None:
        if self.source.currentData() != "drawing" and self.current_image() is not None:
            self.toCanvas.emit(self._sample_uint8.copy())

    @Slot()
    def random_sample(self) -> None:
        if self.source.currentData() == "drawing":
            self.source.setCurrentIndex(self.source.findData("train"))
        self.index.setValue(int(self._rng.integers(0, self.index.maximum() + 1)))

    # ------------------------------------------------------------------ display
    def current_image(self) -> np.ndarray | None:
        """The shown image as float32 (28, 28) in [0, 1] (before the mode is applied)."""
        source = self.source.currentData()
        if source == "drawing":
            self.sample_label = None
            return self._x28
        try:
            images, labels = self._dataset(source)
            order = self._filtered()
        except engine.MnistDesktopError as e:
            self.sample_info.setText(f"⚠ {e}")
            return None
        if len(order) == 0:
            return None
        i = int(order[min(self.index.value(), len(order) - 1)])
        self.sample_label = int(labels[i])
        self.sample_info.setText(f"sample #{i} of {len(labels)}, label {self.sample_label}")
        self._sample_uint8 = images[i]
        return images[i].astype(np.float32) / 255.0

    def displayed_values(self, x: np.ndarray | None = None) -> np.ndarray | None:
        """The numbers the grid shows, in the current mode (of ``x``, default the shown image)."""
        x = self.current_image() if x is None else x
        if x is None:
            return None
        if self.mode == "uint8":
            if self.source.currentData() != "drawing":
                return self._sample_uint8.copy()
            return np.round(x * 255.0).astype(np.uint8)
        if self.mode == "normalized":
            if self._predictor is not None:
                return self._predictor.normalize(x)
            mean, std = MNIST.normalization
            return (x - mean) / std
        return x.copy()

    @Slot()
    def refresh(self) -> None:
        self._stale = False
        x = self.current_image()
        values = self.displayed_values(x) if x is not None else None
        if values is None:
            self.grid.set_values(np.zeros((28, 28)), np.zeros((28, 28)), "")
            self.stats.setText(f"No image: {self._drawing.request}." if self.source.currentData() == "drawing" else "No sample.")
            self.shapes.setText("")
            if self.source.currentData() == "drawing":
                self.sample_info.setText(self._drawing_name())
            return
        self.grid.set_values(values, x, CELL_FORMATS[self.mode], HOVER_FORMATS[self.mode])
        dtype = "uint8" if values.dtype == np.uint8 else "float32"
        self.stats.setText(f"shape (28, 28) · dtype {dtype} · min {values.min():.3g} · max {values.max():.3g} · mean {values.mean():.3g}")
        if self.source.currentData() == "drawing":
            self.sample_info.setText(self._drawing_name())
        self.shapes.setText(self._shape_steps())

    def _drawing_name(self) -> str:
        digit = self._drawing.digit
        return (
            "the drawing, as the model sees it" if digit is None else f"digit {digit + 1} of the number (Number mode), as the model sees it"
        )

    def _shape_steps(self) -> str:
        arrow = " → "
        steps = []
        if self.source.currentData() == "drawing":
            h, w = self._drawing.canvas_shape or (280, 280)
            digit = self._drawing.digit
            steps.append(f"{'canvas' if digit is None else f'digit {digit + 1} cut from the canvas'} <b>({h}, {w})</b> uint8")
            steps.append("to_mnist: crop, fit 20×20, centre <b>(28, 28)</b> float32")
        else:
            steps.append("MNIST image <b>(28, 28)</b> uint8")
            steps.append("/ 255 → <b>(28, 28)</b> float32")
        steps.append(self._normalisation_step())
        steps.append("unsqueeze(0).unsqueeze(0) → <b>(1, 1, 28, 28)</b>")
        spec = ARCHITECTURE_SPECS.get(getattr(self._predictor, "arch", None))
        if spec is not None and spec.flattens_input:
            steps.append("view(-1, 784) → <b>(1, 784)</b>")
        elif spec is not None and spec.has_conv_layers:
            steps.append("conv1 (N, C, H, W)")
        return arrow.join(steps)

    @Slot(int, int, float)
    def _on_hover(self, row: int, col: int, value: float) -> None:
        self.hover.setText(f"row {row}, column {col}: {self.grid.hover_fmt.format(value)}")

    # ------------------------------------------------------------------ zoom
    def eventFilter(self, watched, event) -> bool:
        if watched is self.grid_scroll.viewport() and event.type() == QEvent.Type.Resize:
            self._fit()
        return super().eventFilter(watched, event)

    @Slot()
    def _fit(self) -> None:
        """With Fit on, the cells take the size at which all 28 rows and columns show."""
        if not self.fit_button.isChecked():
            return
        size = self.grid_scroll.viewport().size()
        cell = max(MIN_CELL, min(size.width(), size.height()) // 28)
        self.grid.set_cell_size(cell)
        self.zoom.blockSignals(True)
        self.zoom.setValue(cell)
        self.zoom.blockSignals(False)

    @Slot(int)
    def _on_zoom(self, pixels: int) -> None:
        """The slider zooms: Fit goes off until it is pressed again."""
        self.fit_button.blockSignals(True)
        self.fit_button.setChecked(False)
        self.fit_button.blockSignals(False)
        self.grid.set_cell_size(pixels)

    @property
    def saliency(self) -> np.ndarray | None:
        """The saliency the drawing's cells are tinted with, or None."""
        return self._saliency

    def set_saliency(self, saliency: np.ndarray | None) -> None:
        """Tint the drawing's cells with ``saliency`` (red: towards the class, blue: away); None: no tint.
        Shown only while the inspector shows the drawing."""
        self._saliency = saliency
        self.saliency_overlay.set_saliency(saliency if self.source.currentData() == "drawing" else None)
