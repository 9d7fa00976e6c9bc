"""Activations: every layer's output for the current input, and the weights worth seeing.

An overview strip shows every layer as a small tile and the selected one large; the output
layer is labelled with the classes and their probabilities. Convolution outputs (C, H, W)
become a grid of small heatmaps, dense outputs (units,) rows of cells, the first convolution's filters and a linear model's per-class weights
28×28 images on a diverging map (the templates it learned), pixel similarity's means
grey images. Views are built once per model; a new input only calls ``setImage`` with
fixed levels, so shading is comparable from one stroke to the next.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette, QTextDocumentFragment
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from mnist_desktop.model.levels import reference_levels

from .panel import DockEntry
from .session import Session
from .theme import DIVERGING, GRAY, SEQUENTIAL, mouse_only, palette_color


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


def fitted_columns(n: int, h: int, w: int, width: float, height: float, gap: int = 1) -> int:
    """How many columns of ``n`` tiles of ``h``×``w`` (``gap`` apart) show each tile largest in a
    ``width``×``height`` area: a square grid in a square view, one or two long rows in a wide
    strip (32 feature maps in a 900×110 view: 16 columns, each map 54 px, against 18 px in the
    square 6×6 grid). Of equal sizes, the fewest columns (the fewest empty cells)."""
    if n <= 1 or width <= 0 or height <= 0:
        return max(1, n)
    best, best_scale = 1, -1.0
    for columns in range(1, n + 1):
        rows = -(-n // columns)
        scale = min(width / (columns * (w + gap) - gap), height / (rows * (h + gap) - gap))
        if scale > best_scale * (1 + 1e-9):
            best, best_scale = columns, scale
    return best


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


class ImageView(QFrame):
    """A title and one pyqtgraph ImageItem with a fixed look-up table and levels.

    ``height`` fixes the image's height (a tile of the overview strip); ``None`` lets it
    grow with the panel (the large view of the selected layer). ``clicked`` fires on a
    press anywhere on it. Tiles given with :meth:`set_tiles` are laid out in the grid that
    shows them largest in the view's shape (:func:`fitted_columns`), again when it is resized."""

    clicked = Signal()

    def __init__(self, title: str, lut: np.ndarray, levels: tuple[float, float], height: int | None, tooltip: str = ""):
        super().__init__()
        self.title = QLabel(title)
        self.title.setWordWrap(height is None)
        # Clicked, never typed into: a Tab stop that did nothing and showed no focus (eleven of
        # them between the loss plot and the next panel).
        self.view = mouse_only(pg.GraphicsLayoutWidget())
        if height is None:
            self.view.setMinimumHeight(60)
            self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        else:
            self.view.setFixedHeight(height)
            self.view.setMinimumWidth(16)
            self.title.setMinimumWidth(0)
            self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setToolTip(tooltip)
        self.view.setToolTip(tooltip)
        self.view.ci.setContentsMargins(2, 2, 2, 2)
        self.box = self.view.addViewBox(lockAspect=True, enableMouse=False, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(lut)
        self.levels = levels
        self.box.addItem(self.image)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        self.view.viewport().installEventFilter(self)
        self.restyle()
        self._shape = None
        self._tiles: np.ndarray | None = None  # (N, H, W), as shown by set_tiles
        self._fixed: int | None = None  # the tiles' own column count (a strip of units), else None: fitted
        self._fit: tuple | None = None  # (tiles' shape, view size) the columns were fitted for
        self._fitted = 1
        self.columns = 1  # the grid's columns now
        self.view.installEventFilter(self)  # resized: the grid fitted again

    def configure(self, title: str, lut: np.ndarray, levels: tuple[float, float], tooltip: str) -> None:
        """New title, colours and levels for a view that is reused for another model."""
        self.title.setText(title)
        self.setToolTip(tooltip)
        self.view.setToolTip(tooltip)
        self.image.setLookupTable(lut)
        self.levels = levels

    def set_selected(self, on: bool) -> None:
        self.setFrameShape(QFrame.Shape.Box if on else QFrame.Shape.NoFrame)

    def restyle(self, source: QWidget | None = None) -> None:
        self.view.setBackground(palette_color(source or self, QPalette.ColorRole.Base))

    def set_image(self, image: np.ndarray) -> None:
        image = np.ascontiguousarray(image, dtype=np.float32)
        self.image.setImage(image, levels=self.levels, autoLevels=False)
        self.image.show()
        if image.shape != self._shape:
            self._shape = image.shape
            self.box.autoRange(padding=0.01)

    def set_tiles(self, tiles: np.ndarray, columns: int | None = None) -> None:
        """Show ``tiles`` (N, H, W) as one grid: ``columns`` a row, or (None) as many as show
        them largest in this view."""
        self._tiles, self._fixed = tiles, columns
        self.columns = columns or self._fitted_columns()
        self.set_image(mosaic(tiles, self.columns))

    def tiles(self) -> tuple[np.ndarray | None, int | None]:
        """The tiles shown and their own column count (None: fitted to the view), as given."""
        return self._tiles, self._fixed

    def _fitted_columns(self) -> int:
        n, h, w = self._tiles.shape
        left, top, right, bottom = self.view.ci.layout.getContentsMargins()
        width, height = self.view.width() - left - right, self.view.height() - top - bottom
        key = (self._tiles.shape, width, height)
        if key != self._fit:
            self._fit = key
            self._fitted = fitted_columns(n, h, w, width, height)
        return self._fitted

    def mousePressEvent(self, event) -> None:
        if not self.view.geometry().contains(event.position().toPoint()):  # a press on the view came through its filter
            self.clicked.emit()
        super().mousePressEvent(event)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress and watched is self.view.viewport():
            self.clicked.emit()
        elif event.type() == QEvent.Type.Resize and watched is self.view and self._tiles is not None and self._fixed is None:
            columns = self._fitted_columns()
            if columns != self.columns:
                self.columns = columns
                shown = self.image.isVisible()  # a placeholder hidden (no drawing) stays hidden
                self.set_image(mosaic(self._tiles, columns))
                self.image.setVisible(shown)
        return False

    def clear(self) -> None:
        """No tiles: nothing shown, nothing to lay out again (the model went away)."""
        self._tiles = None
        self.image.hide()


class OutputView(QWidget):
    """The output layer as a learner reads it: one cell per class, its label and probability.

    Per input only the probabilities' plain texts change (and the top class's frame), which
    keeps the update per stroke cheap."""

    def __init__(self):
        super().__init__(objectName="activations_output")
        self.title = QLabel(wordWrap=True)
        self._grid = QGridLayout()
        self._grid.setSpacing(0)
        self.cells: list[tuple[QLabel, QLabel]] = []  # (class, probability)
        self.classes: list = []
        self._top: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addLayout(self._grid)
        self.setToolTip(
            "The last layer's outputs turned into probabilities (softmax; sigmoid for a two-class model): "
            "how sure the model is of each class for the current drawing."
        )

    def set_classes(self, name: str, classes) -> None:
        self.title.setText(f"Output layer <b>{name}</b>: the probability of each class" if name else "")
        if list(classes) == self.classes:
            return
        for pair in self.cells:
            for label in pair:
                self._grid.removeWidget(label)
                label.deleteLater()
        self.classes = list(classes)
        self.cells = []
        for i, cls in enumerate(self.classes):
            pair = (QLabel(f"<b>{cls}</b>"), QLabel())
            for row, label in enumerate(pair):
                label.setAlignment(Qt.AlignmentFlag.AlignCenter)
                label.setMinimumWidth(0)
                label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
                self._grid.addWidget(label, row, i)
            self.cells.append(pair)
        self._top = None
        self.set_probabilities(None)

    def set_probabilities(self, probabilities: np.ndarray | None) -> None:
        top = None if probabilities is None else int(np.argmax(probabilities))
        for i, (_, value) in enumerate(self.cells):
            value.setText("–" if probabilities is None else f"{100 * float(probabilities[i]):.0f} %")
        if top != self._top:  # the most likely class framed
            for i, pair in enumerate(self.cells):
                for label in pair:
                    label.setFrameShape(QFrame.Shape.Box if i == top else QFrame.Shape.NoFrame)
            self._top = top

    def top_class(self):
        """The class whose cell is framed as the most likely, or None."""
        return None if self._top is None else self.classes[self._top]

    def texts(self) -> list[str]:
        """What each cell says, as plain text (class, then probability)."""
        return [f"{_plain(c.text())}\n{v.text()}" for c, v in self.cells]


def _plain(html: str) -> str:
    return QTextDocumentFragment.fromHtml(html).toPlainText()


def _symmetric(a: np.ndarray) -> tuple[float, float]:
    m = float(np.nanmax(np.abs(a))) if np.size(a) else 1.0
    m = m if m > 0 and math.isfinite(m) else 1.0
    return (-m, m)


class _Spec(NamedTuple):
    """What one view shows: built for every model, turned into widgets only when the layers change."""

    kind: str  # "weights" or "layer"
    name: str
    shape: tuple
    title: str  # the large view's title (rich text)
    lut: np.ndarray
    levels: tuple[float, float]
    tip: str
    tiles: np.ndarray  # (N, H, W) what the view shows before the first input (see ImageView.set_tiles)
    columns: int | None  # the tiles' own column count, or None: fitted to each view
    short: str  # the strip tile's title


TILE_HEIGHT = 40  # the overview strip's images: every layer in view at once
TILE_WIDTH = 110  # the strip has as many columns as tiles of about this width fit…
MIN_COLUMNS = 4  # …but at least this many (a narrow dock: the tiles get narrower, not more rows)


class ActivationsPanel(QWidget):
    """Every layer at a glance, one layer large, and the output layer with its classes.

    An overview strip holds one small tile per layer output (``panels``) and per weight
    view (``weight_panels``), in the model's order; clicking a tile shows that layer in the
    large view (``detail``) below — :meth:`selected_layer` and ``layerSelected`` tell which.
    ``output`` labels the last layer with the classes and their probabilities. Nothing
    scrolls: the whole network fits the dock, at 1280×720 too."""

    layerSelected = Signal(str)  # the selected view's layer name (an output's or a weight's)

    dock = DockEntry(
        "activations", "Activations", "bottom", short="Layers", scroll=False, help="What each layer of the model makes of your drawing."
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("activations")
        self.predictor = None
        self.panels: dict[str, ImageView] = {}
        self.weight_panels: dict[str, ImageView] = {}
        self._specs: dict[tuple[str, str], _Spec] = {}
        self._selected: tuple[str, str] | None = None  # (kind, name)
        self._last_input: np.ndarray | None = None
        self._layout: list | None = None  # (kind, name) of each view, in order
        self._stale = False
        self._on_screen = True  # False while its dock is a tab behind another (set_on_screen)
        self._columns = 6  # tiles a row of the strip: from the panel's width (resizeEvent)
        self.info = QLabel("Draw a digit to see what each layer makes of it.", wordWrap=True)
        self.info.setToolTip("Each layer's output for the drawing on the canvas. Click a small tile to see it large below.")
        self._strip = QWidget(objectName="activations_strip")
        self._grid = QGridLayout(self._strip)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.detail = ImageView("", SEQUENTIAL, (0.0, 1.0), None)
        self.detail.setObjectName("activations_detail")
        self.output = OutputView()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.setSpacing(4)
        outer.addWidget(self.info)
        outer.addWidget(self._strip)
        outer.addWidget(self.detail, 1)
        outer.addWidget(self.output)

    # ------------------------------------------------------------------ selection
    def selected_layer(self) -> str | None:
        """The name of the layer shown large (for a weight view, the layer whose weights)."""
        return None if self._selected is None else self._selected[1]

    def select_layer(self, name: str, kind: str = "layer") -> None:
        """Show layer ``name``'s output (``kind="layer"``) or weights (``"weights"``) large."""
        key = (kind, name)
        if key not in self._specs:
            raise KeyError(f"no {kind} view named {name!r}")
        changed = key != self._selected
        self._selected = key
        for (k, n), view in self._views():
            view.set_selected((k, n) == key)
        spec = self._specs[key]
        self.detail.configure(spec.title, spec.lut, spec.levels, spec.tip)
        self.detail.setToolTip(spec.tip)
        source = self._view(key)
        if source is not None and source.tiles()[0] is not None:
            self.detail.set_tiles(*source.tiles())  # the same tiles, in the grid that fits the large view
            self.detail.image.setVisible(source.image.isVisible())  # blank with its tile (no drawing)
        if changed:
            self.layerSelected.emit(name)

    def _views(self):
        yield from ((("weights", n), v) for n, v in self.weight_panels.items())
        yield from ((("layer", n), v) for n, v in self.panels.items())

    def _view(self, key: tuple[str, str]) -> "ImageView | None":
        return (self.weight_panels if key[0] == "weights" else self.panels).get(key[1])

    # ------------------------------------------------------------------ building (once per model)
    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        session.modelChanged.connect(self.set_predictor)
        session.drawingChanged.connect(lambda d: self.set_input(d.x28))

    def shutdown(self) -> None:
        """Nothing runs in the background."""

    def set_predictor(self, predictor) -> None:
        """Show ``predictor``'s layers. Views are rebuilt only when the layers differ from the
        previous model's (their kinds and names); a retrained model of the same architecture,
        whatever its channel counts, only gets new images and levels, which keeps the swap after
        training cheap (the bundled CNN has 32/64 channels, the default recipe 16/32: twelve
        tiles built anew at the end of every first run took 40-70 ms of the GUI thread)."""
        self.predictor = predictor
        if predictor is None:
            self._clear_views()
            self.output.set_classes("", [])
            self.info.setText("No active model: train one or open one.")
            return
        specs = self._weight_specs(predictor) + self._layer_specs(predictor)
        layout = [(spec.kind, spec.name) for spec in specs]
        if layout != self._layout:
            self._clear_views()
            for spec in specs:
                view = ImageView(spec.short, spec.lut, spec.levels, TILE_HEIGHT, spec.tip)
                view.clicked.connect(lambda k=spec.kind, n=spec.name: self.select_layer(n, k))
                self._add(view)
                (self.weight_panels if spec.kind == "weights" else self.panels)[spec.name] = view
            self._layout = layout
        self._specs = {(spec.kind, spec.name): spec for spec in specs}
        for spec in specs:
            view = self._view((spec.kind, spec.name))
            view.configure(spec.short, spec.lut, spec.levels, f"{_plain(spec.title)}\n{spec.tip}\nClick to see it large.")
            view.set_tiles(spec.tiles, spec.columns)
        self.output.set_classes(next(reversed(self.panels), ""), predictor.classes)
        self.info.setText(
            f"{predictor.describe()}: each layer's output for the current input, in order "
            "(blue negative, red positive; dark → bright for non-negative). Click a tile to see it large."
        )
        if self._selected not in self._specs:
            self._selected = None
            first = next(iter(self.panels), None)
            if first is not None:
                self.select_layer(first)
        else:
            self.select_layer(self._selected[1], self._selected[0])
        self.set_input(self._last_input)  # no drawing: the placeholder tiles hidden again

    def _clear_views(self) -> None:
        self.detail.clear()
        for view in list(self.panels.values()) + list(self.weight_panels.values()):
            self._grid.removeWidget(view)
            view.deleteLater()
        self.panels, self.weight_panels = {}, {}
        self._specs = {}
        self._layout = None

    def _layer_specs(self, predictor) -> list[_Spec]:
        # The levels come from the engine's cache when the trainer computed them before handing
        # the model over (the swap at the end of a run), else from one forward pass here.
        levels = reference_levels(predictor)
        specs = []
        last = next(reversed(levels), None)
        for name, (shape, signed, hi) in levels.items():
            tiles, columns = as_tiles(np.zeros(shape, dtype=np.float32))
            kind = "feature maps" if len(shape) == 3 else "units"
            title = f"<b>{name}</b> · output {shape} · {kind}"
            if name == last:
                classes = ", ".join(map(str, predictor.classes))
                title += f": the model's score for {'each class' if math.prod(shape) > 1 else 'the second class'} ({classes}), as probabilities below"
            tip = (
                f"Output of layer {name} for the current input. Colour levels are fixed at ±{hi:.3g}"
                if signed
                else f"Output of layer {name} for the current input. Colour levels are fixed at 0 … {hi:.3g}"
            )
            levels_ = (-hi, hi) if signed else (0.0, hi)
            specs.append(_Spec("layer", name, shape, title, DIVERGING if signed else SEQUENTIAL, levels_, tip, tiles, columns, name))
        return specs

    def _add(self, view: "ImageView") -> None:
        """Tiles fill the strip in order, ``_columns`` a row: weights first, then layer by layer."""
        n = len(self.panels) + len(self.weight_panels)
        self._grid.addWidget(view, n // self._columns, n % self._columns)

    def resizeEvent(self, event) -> None:
        columns = max(MIN_COLUMNS, event.size().width() // TILE_WIDTH)
        if columns != self._columns:
            self._columns = columns
            tiles = [view for _, view in self._views()]
            for view in tiles:
                self._grid.removeWidget(view)
            for i, view in enumerate(tiles):
                self._grid.addWidget(view, i // columns, i % columns)
        super().resizeEvent(event)

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
                    "Pixel similarity's only 'parameters': the average training image of each class.",
                    w,
                    len(w),
                )
            elif w.ndim == 4 and not shown_filters:
                shown_filters = True
                filters = w[:, 0] if w.shape[1] == 1 else w.mean(axis=1)
                spec = (
                    f"<b>{name}</b> filters {w.shape}: what each feature map looks for (blue −, red +)",
                    DIVERGING,
                    _symmetric(filters),
                    "The first convolution's kernels. Each feature map is the image convolved with one of them.",
                    filters,
                    None,
                )
            elif w.ndim == 2 and w.shape[1] == 784:
                n = w.shape[0]
                labels = classes if n == len(classes) else ([f"{classes[-1]} vs {classes[0]}"] if n == 1 else None)
                what = f"per class ({', '.join(map(str, labels))})" if labels is not None else f"of {n} hidden units"
                spec = (
                    f"<b>{name}</b> weights {what} as 28×28 images: the templates the model learned (blue −, red +)",
                    DIVERGING,
                    _symmetric(w),
                    "A pixel where the weight is red adds to the class's score when it has ink; blue subtracts."
                    if labels is not None
                    else "A pixel where the weight is red adds to the hidden unit's input (before its ReLU) when it has ink; "
                    "blue subtracts.",
                    w.reshape(n, 28, 28),
                    n if n <= 10 else None,
                )
            else:
                continue
            title, lut, levels, tip, tiles, columns = spec
            specs.append(_Spec("weights", name, w.shape, title, lut, levels, tip, tiles, columns, f"{name} weights"))
        return specs

    # ------------------------------------------------------------------ updating (every input)
    def set_input(self, x28: np.ndarray | None) -> None:
        self._last_input = None if x28 is None else np.asarray(x28, dtype=np.float32)
        if not (self.isVisible() and self._on_screen):
            self._stale = True
            return
        self._update()

    def set_on_screen(self, shown: bool) -> None:
        """Its dock became the tab in front (True) or went behind another or hidden (False): a
        tab behind another still counts as visible to Qt, and would be updated every stroke."""
        self._on_screen = shown
        if shown and self._stale:
            self._update()

    def set_activations(self, outputs) -> None:
        """Show precomputed ``predictor.activations`` outputs: the tiles, the large view of
        the selected layer, and the output layer's probabilities."""
        for name, out in outputs.items():
            view = self.panels.get(name)
            if view is not None:
                tiles, columns = as_tiles(out)
                view.set_tiles(tiles, columns)
                if self._selected == ("layer", name):
                    self.detail.set_tiles(tiles, columns)
        if outputs and self.predictor is not None:
            self.output.set_probabilities(self.predictor.output_probabilities(next(reversed(outputs.values()))))

    def _update(self) -> None:
        self._stale = False
        if self.predictor is None:
            return
        if self._last_input is None:
            # No drawing: no output to show. Blank tiles, not a layer's output for a blank input
            # (zeros: black squares where a ReLU's map is dark-to-bright, that looked broken).
            for view in self.panels.values():
                view.image.hide()
            if self._selected is not None and self._selected[0] == "layer":
                self.detail.image.hide()
            self.output.set_probabilities(None)
            return
        self.set_activations(self.predictor.activations(self._last_input))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale and self._on_screen:
            self._update()

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            for view in [*self.panels.values(), *self.weight_panels.values(), self.detail]:
                view.restyle(self)  # children get the new palette after their parent
        super().changeEvent(event)
