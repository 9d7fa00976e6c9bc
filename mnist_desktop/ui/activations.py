"""Activations: every layer's output for the current input, and the weights worth seeing.

Convolution outputs (C, H, W) become a grid of small heatmaps, dense outputs (units,) a
strip of cells, the first convolution's filters and a linear model's per-class weights
28×28 images on a diverging map (the templates it learned), pixel similarity's means
grey images. Views are built once per model; a new input only calls ``setImage`` with
fixed levels, so shading is comparable from one stroke to the next.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from mnist_desktop import model as engine

from .theme import DIVERGING, GRAY, SEQUENTIAL, palette_color


def mosaic(tiles: np.ndarray, columns: int | None = None, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """(N, H, W) → one 2-D image of N tiles in a grid, ``gap`` pixels apart."""
    n, h, w = tiles.shape
    columns = columns or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), fill, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tiles[i]
    return out


def as_tiles(a: np.ndarray) -> tuple[np.ndarray, int | None]:
    """A layer output as tiles for ``mosaic`` and a column count: conv maps or a unit strip."""
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 3:  # (C, H, W) feature maps
        return a, None
    flat = a.reshape(-1)
    if flat.size == 784:
        return flat.reshape(1, 28, 28), 1
    # a strip of units, wrapped into rows of at most 64 cells
    width = min(64, flat.size)
    rows = int(math.ceil(flat.size / width))
    padded = np.full(rows * width, np.nan, dtype=np.float32)
    padded[: flat.size] = flat
    return padded.reshape(1, rows, width), 1


class ImageView(QWidget):
    """A title and one pyqtgraph ImageItem with a fixed look-up table and levels."""

    def __init__(self, title: str, lut: np.ndarray, levels: tuple[float, float], height: int, tooltip: str = ""):
        super().__init__()
        self.title = QLabel(title)
        self.title.setWordWrap(True)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setFixedHeight(height)
        self.view.setToolTip(tooltip)
        self.view.ci.setContentsMargins(2, 2, 2, 2)
        self.box = self.view.addViewBox(lockAspect=True, enableMouse=False, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(lut)
        self.levels = levels
        self.box.addItem(self.image)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.view)
        self.restyle()
        self._shape = None

    def configure(self, title: str, lut: np.ndarray, levels: tuple[float, float], tooltip: str) -> None:
        """New title, colours and levels for a view that is reused for another model."""
        self.title.setText(title)
        self.view.setToolTip(tooltip)
        self.image.setLookupTable(lut)
        self.levels = levels

    def restyle(self, source: QWidget | None = None) -> None:
        self.view.setBackground(palette_color(source or self, QPalette.ColorRole.Base))

    def set_image(self, image: np.ndarray) -> None:
        image = np.ascontiguousarray(image, dtype=np.float32)
        self.image.setImage(image, levels=self.levels, autoLevels=False)
        if image.shape != self._shape:
            self._shape = image.shape
            self.box.autoRange(padding=0.01)


def _symmetric(a: np.ndarray) -> tuple[float, float]:
    m = float(np.nanmax(np.abs(a))) if np.size(a) else 1.0
    m = m if m > 0 and math.isfinite(m) else 1.0
    return (-m, m)


class _Spec(NamedTuple):
    """What one view shows: built for every model, turned into widgets only when the layers change."""

    kind: str  # "weights" or "layer"
    name: str
    shape: tuple
    title: str
    lut: np.ndarray
    levels: tuple[float, float]
    height: int
    tip: str
    image: np.ndarray
    columns: int | None


class ActivationsPanel(QWidget):
    """One view per layer output (``panels``), plus weight views (``weight_panels``)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("activations")
        self.predictor = None
        self.panels: dict[str, ImageView] = {}
        self.weight_panels: dict[str, ImageView] = {}
        self._last_input: np.ndarray | None = None
        self._layout: list | None = None  # (kind, name, shape) of each view, in order
        self._stale = False
        self.info = QLabel("Draw a digit to see what each layer makes of it.", wordWrap=True)
        self._content = QWidget()
        self._grid = QGridLayout(self._content)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._grid.setColumnStretch(0, 1)
        self._grid.setColumnStretch(1, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.info)
        outer.addWidget(scroll, 1)

    # ------------------------------------------------------------------ building (once per model)
    def set_predictor(self, predictor) -> None:
        """Show ``predictor``'s layers. Views are rebuilt only when the layers differ from the
        previous model's (names and shapes); a retrained model of the same architecture only
        gets new images and levels, which keeps the swap after training cheap."""
        self.predictor = predictor
        if predictor is None:
            self._clear_views()
            self.info.setText("No active model: train one or open one.")
            return
        specs = self._weight_specs(predictor) + self._layer_specs(predictor)
        layout = [(spec.kind, spec.name, spec.shape) for spec in specs]
        if layout != self._layout:
            self._clear_views()
            for spec in specs:
                view = ImageView(spec.title, spec.lut, spec.levels, spec.height, spec.tip)
                self._add(view)
                (self.weight_panels if spec.kind == "weights" else self.panels)[spec.name] = view
            self._layout = layout
        for spec in specs:
            view = (self.weight_panels if spec.kind == "weights" else self.panels)[spec.name]
            view.configure(spec.title, spec.lut, spec.levels, spec.tip)
            view._columns = spec.columns
            view.set_image(spec.image)
        self.info.setText(
            f"{predictor.describe()} — each layer's output for the current input "
            "(blue negative, red positive; dark → bright for non-negative)."
        )
        if self._last_input is not None:
            self.set_input(self._last_input)

    def _clear_views(self) -> None:
        for view in list(self.panels.values()) + list(self.weight_panels.values()):
            self._grid.removeWidget(view)
            view.deleteLater()
        self.panels, self.weight_panels = {}, {}
        self._layout = None

    def _layer_specs(self, predictor) -> list[_Spec]:
        references = [predictor.activations(x) for x in self._reference_inputs()]
        specs = []
        for name, out in references[0].items():
            seen = np.stack([r[name] for r in references])
            tiles, columns = as_tiles(out)
            signed = float(np.min(seen)) < 0
            hi = float(np.percentile(np.abs(seen), 99.5)) if np.size(seen) else 1.0
            hi = hi if hi > 0 else (float(np.max(np.abs(seen))) or 1.0)
            levels = (-hi, hi) if signed else (0.0, hi)
            kind = "feature maps" if np.ndim(out) == 3 else "units"
            height = 150 if np.ndim(out) == 3 else max(28, min(120, 14 * tiles.shape[1] + 8))
            if np.size(out) == 784:
                height = 120
            title = f"<b>{name}</b> · output {tuple(np.shape(out))} · {kind}"
            tip = (
                f"Output of layer {name} for the current input. Colour levels are fixed at ±{hi:.3g}"
                if signed
                else f"Output of layer {name} for the current input. Colour levels are fixed at 0 … {hi:.3g}"
            )
            image = mosaic(np.zeros_like(tiles), columns)
            specs.append(
                _Spec("layer", name, np.shape(out), title, DIVERGING if signed else SEQUENTIAL, levels, height, tip, image, columns)
            )
        return specs

    def _add(self, view: "ImageView") -> None:
        """Views fill a two-column grid in order: weights first, then layer by layer."""
        n = len(self.panels) + len(self.weight_panels)
        self._grid.addWidget(view, n // 2, n % 2)

    _references: list[np.ndarray] | None = None  # shared by every panel: the same 16 digits

    @classmethod
    def _reference_inputs(cls) -> list[np.ndarray]:
        """Inputs that size the colour levels: a few MNIST test digits (or a drawn-like bar)."""
        if cls._references is None:
            try:
                images, _ = engine.mnist_arrays("test")  # numpy: no torch needed
                cls._references = list(images[:16].astype(np.float32) / np.float32(255))
            except engine.MnistDesktopError:
                x = np.zeros((28, 28), dtype=np.float32)
                x[6:22, 12:16] = 1.0
                return [x]
        return cls._references

    def _weight_specs(self, predictor) -> list[_Spec]:
        weights = predictor.layer_weights()
        classes = list(predictor.classes)
        specs = []
        shown_filters = False  # only the first convolution's filters: later ones mix channels
        for name, w in weights.items():
            w = np.asarray(w, dtype=np.float32)
            if w.ndim == 3 and w.shape[1:] == (28, 28):  # pixel similarity's class means
                spec = (
                    f"<b>{name}</b> · the mean image of each class ({', '.join(map(str, classes))}) {w.shape}",
                    GRAY,
                    (0.0, 1.0),
                    90,
                    "Pixel similarity's only 'parameters': the average training image of each class.",
                    mosaic(w, len(w)),
                )
            elif w.ndim == 4 and not shown_filters:
                shown_filters = True
                filters = w[:, 0] if w.shape[1] == 1 else w.mean(axis=1)
                spec = (
                    f"<b>{name}</b> filters {w.shape}: what each feature map looks for (blue −, red +)",
                    DIVERGING,
                    _symmetric(filters),
                    110,
                    "The first convolution's kernels. Each feature map is the image convolved with one of them.",
                    mosaic(filters),
                )
            elif w.ndim == 2 and w.shape[1] == 784:
                n = w.shape[0]
                labels = classes if n == len(classes) else ([f"{classes[-1]} vs {classes[0]}"] if n == 1 else None)
                what = f"per class ({', '.join(map(str, labels))})" if labels is not None else f"of {n} hidden units"
                spec = (
                    f"<b>{name}</b> weights {what} as 28×28 images: the templates the model learned (blue −, red +)",
                    DIVERGING,
                    _symmetric(w),
                    110 if n <= 10 else 200,
                    "A pixel where the weight is red adds to the class's score when it has ink; blue subtracts.",
                    mosaic(w.reshape(n, 28, 28), n if n <= 10 else None),
                )
            else:
                continue
            title, lut, levels, height, tip, image = spec
            specs.append(_Spec("weights", name, w.shape, title, lut, levels, height, tip, image, None))
        return specs

    # ------------------------------------------------------------------ updating (every input)
    def set_input(self, x28: np.ndarray | None) -> None:
        self._last_input = None if x28 is None else np.asarray(x28, dtype=np.float32)
        if not self.isVisible():
            self._stale = True
            return
        self._update()

    def set_activations(self, outputs) -> None:
        """Show precomputed ``predictor.activations`` outputs."""
        for name, out in outputs.items():
            view = self.panels.get(name)
            if view is not None:
                tiles, _ = as_tiles(out)
                view.set_image(mosaic(tiles, view._columns))

    def _update(self) -> None:
        self._stale = False
        if self.predictor is None:
            return
        if self._last_input is None:
            for view in self.panels.values():
                view.image.setImage(np.zeros_like(view.image.image), levels=view.levels, autoLevels=False)
            return
        self.set_activations(self.predictor.activations(self._last_input))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._update()

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            for view in list(self.panels.values()) + list(self.weight_panels.values()):
                view.restyle(self)  # children get the new palette after their parent
        super().changeEvent(event)
