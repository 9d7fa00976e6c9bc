"""Colours that follow the system's light or dark scheme, colour maps for tensors, and the app's icon.

Widgets take their colours from the palette; pyqtgraph does not, so plots are restyled
from the palette here (and again when the palette changes). Data colours are colour maps
(a value's shade means something), which read the same on light and dark backgrounds.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QWidget

from mnist_desktop.model.paths import ICON_PNG


def app_icon() -> QIcon:
    """The application's icon (a handwritten 7, ``scripts/make_icon.py``), shipped in the package."""
    return QIcon(str(ICON_PNG))


def palette_color(widget: QWidget, role: QPalette.ColorRole, alpha: int | None = None) -> QColor:
    c = QColor(widget.palette().color(role))
    if alpha is not None:
        c.setAlpha(alpha)
    return c


def style_plot_widget(widget: pg.PlotWidget | pg.GraphicsLayoutWidget, source: QWidget | None = None) -> None:
    """Background, axes and labels from the palette of ``source`` (default: the widget).

    Pass the panel that received the PaletteChange: Qt tells a parent before its children,
    so at that moment the plot widget itself still has the old palette.
    """
    source = source or widget
    widget.setBackground(palette_color(source, QPalette.ColorRole.Base))
    text = palette_color(source, QPalette.ColorRole.Text)
    items = []
    if isinstance(widget, pg.PlotWidget):
        items = [widget.getPlotItem()]
    else:
        items = [i for i in widget.ci.items if isinstance(i, pg.PlotItem)]
    for plot in items:
        for name in ("left", "bottom", "right", "top"):
            axis = plot.getAxis(name)
            axis.setPen(text)
            axis.setTextPen(text)
        if plot.titleLabel is not None:
            plot.titleLabel.setText(plot.titleLabel.text, color=text)
        if plot.legend is not None:
            plot.legend.setLabelTextColor(text)


def _lut(stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    pos = np.array([s[0] for s in stops])
    cols = np.array([s[1] for s in stops], dtype=np.float64)
    x = np.linspace(0, 1, 256)
    return np.stack([np.interp(x, pos, cols[:, i]) for i in range(3)], axis=1).round().astype(np.uint8)


# Sequential map for activations (dark → bright, perceptually ordered: "magma"-like).
SEQUENTIAL = pg.colormap.get("magma").getLookupTable(0.0, 1.0, 256)
# Grayscale: black background, white ink, like the images the model gets.
GRAY = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
# Diverging map for weights: negative blue, zero white, positive red (like "RdBu_r").
DIVERGING = _lut([(0.0, (33, 102, 172)), (0.25, (103, 169, 207)), (0.5, (247, 247, 247)), (0.75, (239, 138, 98)), (1.0, (178, 24, 43))])
