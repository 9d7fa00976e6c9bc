"""Colours that follow the system's light or dark scheme (or the one the user chose in
View → Theme), colour maps for tensors, and the app's icon.

Widgets take their colours from the palette; pyqtgraph does not, so plots are restyled
from the palette here (and again when the palette changes). Data colours are colour maps
(a value's shade means something), which read the same on light and dark backgrounds.
A chosen theme is an application palette (drawn by Fusion, which uses the palette it is
given): every widget gets a PaletteChange and restyles itself, canvas and plots included.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSettings, Qt
from PySide6.QtGui import QActionGroup, QColor, QFontMetrics, QIcon, QPalette
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QMenu, QSizePolicy, QWidget

from mnist_desktop.model.paths import ICON_PNG


def app_icon() -> QIcon:
    """The application's icon (a handwritten 7, ``scripts/make_icon.py``), shipped in the package."""
    return QIcon(str(ICON_PNG))


def set_message(label, text: str, error: bool = False) -> None:
    """A panel's one-line message: an error is bold with a ⚠ (and the ``error`` property set
    for styling); empty text clears it."""
    if error and text:
        text = "⚠ " + text
    f = label.font()
    f.setBold(error)
    label.setFont(f)
    label.setText(text)
    label.setProperty("error", error)


def palette_color(widget: QWidget, role: QPalette.ColorRole, alpha: int | None = None) -> QColor:
    c = QColor(widget.palette().color(role))
    if alpha is not None:
        c.setAlpha(alpha)
    return c


class PlotMouse(QObject):
    """On a plot's viewport: the plain wheel scrolls the panel the plot sits in (a plot in a
    scrolling panel zoomed instead, and the Step loss plot ended at −20…0); Ctrl+wheel or a drag
    zooms; a double-click puts the view back to its whole data."""

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Wheel and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            area = obj.parent().parent() if obj.parent() is not None else None  # above the plot's own view
            while area is not None and (not isinstance(area, QAbstractScrollArea) or isinstance(area, pg.GraphicsView)):
                area = area.parent()
            if area is not None:
                QApplication.sendEvent(area.viewport(), event)
            return True  # never a zoom without Ctrl
        if kind == QEvent.Type.MouseButtonDblClick and event.button() == Qt.MouseButton.LeftButton:
            view = obj.parent()
            if isinstance(view, pg.GraphicsView):
                for item in view.scene().items():
                    if isinstance(item, pg.ViewBox):
                        item.enableAutoRange()
                return True
        return False


PLOT_MOUSE = PlotMouse()


View = TypeVar("View", bound=pg.GraphicsView)


def mouse_only(view: View) -> View:
    """``view`` (a pyqtgraph plot or image) takes no keyboard focus; returns it. pyqtgraph makes
    every view a Tab stop, but the app's have no key to use (they are hovered, clicked, dragged
    and wheeled) and draw no focus: Tab went into an invisible place. A click on one leaves
    the focus where it was."""
    view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return view


def set_up_plot(item: pg.PlotItem, bottom: str | None = None, left: str | None = None) -> pg.PlotItem:
    """The set-up the small plots share: axis labels, plain numbers on both axes ("0.002", not
    "loss (x0.001)"), no right-click menu. Returns ``item``."""
    item.setMenuEnabled(False)
    for axis, label in (("bottom", bottom), ("left", left)):
        if label is not None:
            item.setLabel(axis, label)
        item.getAxis(axis).enableAutoSIPrefix(False)
    return item


def labelled_plot(
    name: str, bottom: str, left: str, tip: str = "", axis_items: dict[str, pg.AxisItem] | None = None
) -> tuple[pg.PlotWidget, pg.PlotItem]:
    """A plot widget (objectName ``name``, tooltip ``tip``, pyqtgraph's ``axis_items``) set up by
    :func:`set_up_plot`, and its plot item."""
    widget = mouse_only(pg.PlotWidget(axisItems=axis_items))
    widget.setObjectName(name)  # PlotWidget(objectName=…) hands it to the plot item, not the widget
    if tip:
        widget.setToolTip(tip)
    return widget, set_up_plot(widget.getPlotItem(), bottom, left)


def style_plot_widget(
    widget: pg.PlotWidget | pg.GraphicsLayoutWidget, source: QWidget | None = None, only: pg.PlotItem | None = None
) -> None:
    """Background, axes and labels from the palette of ``source`` (default: the widget).

    Pass the panel that received the PaletteChange: Qt tells a parent before its children,
    so at that moment the plot widget itself still has the old palette. ``only``: style just
    this plot of the widget (one just added): restyling the others makes them draw their axes
    again.
    """
    source = source or widget
    widget.viewport().installEventFilter(PLOT_MOUSE)  # once: installing it again only moves it to the front
    widget.setBackground(palette_color(source, QPalette.ColorRole.Base))
    text = palette_color(source, QPalette.ColorRole.Text)
    items = []
    if only is not None:
        items = [only]
    elif isinstance(widget, pg.PlotWidget):
        items = [widget.getPlotItem()]
    else:
        items = [i for i in widget.ci.items if isinstance(i, pg.PlotItem)]
    half_line = (QFontMetrics(widget.font()).height() + 1) // 2
    for plot in items:
        # A tick label is centred on its tick: the top one (the log axis's "10¹") and the last
        # one of the x axis stuck half out of the widget. Room for half a line where no title
        # or right axis takes that side.
        titled = bool(plot.titleLabel is not None and plot.titleLabel.text)
        right = plot.getAxis("right").isVisible()
        plot.layout.setContentsMargins(1, 1 if titled else half_line, 1 if right else half_line, 1)
        for name in ("left", "bottom", "right", "top"):
            axis = plot.getAxis(name)
            axis.setPen(text)
            axis.setTextPen(text)
        if plot.titleLabel is not None:
            plot.titleLabel.setText(plot.titleLabel.text, color=text)
        if plot.legend is not None:
            plot.legend.setLabelTextColor(text)


def legend_outside(plot: pg.PlotItem, columns: int = 2) -> pg.LegendItem:
    """A legend for ``plot`` in a row of its own under the x axis, ``columns`` entries to a
    line: a legend floating in the data area sat on the curves (the loss near its start, the
    threshold curves near 100 %). Curves plotted with a ``name`` join it, as with addLegend."""
    legend = pg.LegendItem(colCount=columns)
    legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    plot.legend = legend
    plot.layout.addItem(legend, 4, 1)
    plot.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
    return legend


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


# ---------------------------------------------------------------------------- View → Theme
# Tableau 10 (matplotlib's default cycle): ten hues one can name (blue, orange, green, red, purple,
# brown, pink, grey, olive, cyan). pyqtgraph's intColor spread hues evenly instead: 3 and 4 both
# green, 6 and 7 both blue, its yellow 1.2:1 against white and its dark blue 1.9:1 against the
# dark theme's plots.
TABLEAU10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def class_colours(background: QColor) -> list[QColor]:
    """A colour for each of ten classes that stands out on ``background``: Tableau 10, lightened on a
    dark background (at least 2:1 against either theme's plots)."""
    colours = [QColor(h) for h in TABLEAU10]
    return [c.lighter(140) for c in colours] if background.lightness() < 128 else colours


THEMES = {"system": "&System", "light": "&Light", "dark": "&Dark"}
_system: tuple[str, QPalette] | None = None  # the style and palette the app started with
_current = "system"


def theme_palette(dark: bool) -> QPalette:
    """A complete light or dark palette (Fusion's colours)."""
    R = QPalette.ColorRole
    if dark:
        window, base, alt, text, button, light, mid, shadow = (
            (53, 53, 53),
            (35, 35, 35),
            (45, 45, 45),
            (230, 230, 230),
            (60, 60, 60),
            (85, 85, 85),
            (40, 40, 40),
            (20, 20, 20),
        )
        disabled, placeholder, link = (127, 127, 127), (140, 140, 140), (90, 160, 235)
    else:
        window, base, alt, text, button, light, mid, shadow = (
            (239, 239, 239),
            (255, 255, 255),
            (247, 247, 247),
            (0, 0, 0),
            (239, 239, 239),
            (255, 255, 255),
            (184, 184, 184),
            (118, 118, 118),
        )
        disabled, placeholder, link = (120, 120, 120), (128, 128, 128), (0, 90, 200)
    p = QPalette()
    colors = {
        R.Window: window,
        R.WindowText: text,
        R.Base: base,
        R.AlternateBase: alt,
        R.ToolTipBase: base,
        R.ToolTipText: text,
        R.PlaceholderText: placeholder,
        R.Text: text,
        R.Button: button,
        R.ButtonText: text,
        R.BrightText: (255, 80, 80),
        R.Light: light,
        R.Midlight: tuple((a + b) // 2 for a, b in zip(light, button)),
        R.Mid: mid,
        R.Dark: tuple((a + b) // 2 for a, b in zip(mid, shadow)),
        R.Shadow: shadow,
        R.Highlight: (42, 130, 218),
        R.HighlightedText: (255, 255, 255),
        R.Link: link,
        R.LinkVisited: link,
    }
    for role, rgb in colors.items():
        p.setColor(role, QColor(*rgb))
    for role in (R.WindowText, R.Text, R.ButtonText, R.HighlightedText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(*disabled))
    return p


def apply_theme(name: str) -> None:
    """Use the system's colours ("system") or a light or dark palette, at once, app-wide."""
    global _system, _current
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}: one of {', '.join(THEMES)}")
    app = QApplication.instance()
    if name == _current or app is None:
        return
    if _system is None:
        _system = (app.style().name(), QPalette(app.palette()))
    if name == "system":
        style, palette = _system
        app.setStyle(style)
        app.setPalette(palette)
    else:
        app.setStyle("Fusion")  # native styles may draw with their own colours, not the palette's
        app.setPalette(theme_palette(name == "dark"))
    _current = name


def install_theme_menu(menu: QMenu, settings: QSettings, key: str) -> QMenu:
    """Add View → Theme (System, Light, Dark) to ``menu``, apply the choice saved under
    ``key`` in ``settings`` (an unknown value: System) and save each new choice at once."""
    sub = menu.addMenu("&Theme")
    sub.setObjectName("theme_menu")
    group = QActionGroup(sub)
    group.setExclusive(True)
    saved = settings.value(key, "system")
    saved = saved if isinstance(saved, str) and saved in THEMES else "system"
    tips = {"system": "Follow the system's light or dark colours", "light": "Dark ink on white", "dark": "Light ink on a dark background"}
    for name, text in THEMES.items():
        action = sub.addAction(text)
        action.setObjectName(f"theme_{name}")
        action.setData(name)
        action.setCheckable(True)
        action.setChecked(name == saved)
        action.setStatusTip(tips[name])
        group.addAction(action)

    def chosen(action) -> None:
        apply_theme(action.data())
        settings.setValue(key, action.data())

    group.triggered.connect(chosen)
    apply_theme(saved)
    return sub
