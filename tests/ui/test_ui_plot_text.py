"""Plots say what they show, readably: tick labels apart and inside the plot, legends off the
curves, every axis with labelled ticks."""

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from test_ui_layout import settle


def axis_labels(axis: pg.AxisItem) -> list[tuple[str, QRectF]]:
    """The tick labels ``axis`` draws, each with its rectangle in the scene."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    if axis.style["tickFont"]:
        painter.setFont(axis.style["tickFont"])
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    if specs is None:
        return []
    return [(text, axis.mapRectToScene(QRectF(rect))) for rect, _flags, text in specs[2]]


def unreadable(plot: pg.PlotItem, names=("left", "bottom")) -> list[str]:
    """Tick labels that run into each other or stick out of the plot's widget."""
    found = []
    view = plot.scene().views()[0]
    visible = QRectF(view.mapToScene(view.viewport().rect()).boundingRect())
    for name in names:
        labels = axis_labels(plot.getAxis(name))
        for text, rect in labels:
            if not visible.contains(rect):
                found.append(f"{name} label {text!r} cut off: {rect} outside {visible}")
        for (a, ra), (b, rb) in zip(labels, labels[1:]):
            if ra.adjusted(-2, -1, 2, 1).intersects(rb):
                found.append(f"{name} labels {a!r} and {b!r} run together")
    return found


def points_under_legend(plot: pg.PlotItem, legend: pg.LegendItem) -> int:
    """How many of the plot's curve points lie under its legend."""
    box = legend.sceneBoundingRect()
    n = 0
    for item in plot.listDataItems():
        x, y = item.getData()
        if x is None:
            continue
        for px, py in zip(x, y):
            if np.isfinite(px) and np.isfinite(py) and box.contains(plot.vb.mapViewToScene(pg.Point(px, py))):
                n += 1
    return n


def test_robustness_plots_fit_a_side_dock_with_their_scales_readable(window, qtbot):
    from mnist_desktop.model.evaluation import DAMAGES

    panel = window.evaluation
    for size in ((1400, 900), (1280, 720)):  # a narrow side dock, then the wide compact one
        window.resize(*size)
        window.reset_layout()
        window.dock_manager.raise_("evaluation")
        panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("Robustness"))
        qtbot.waitUntil(lambda: len(panel.robustness_plots) == len(DAMAGES))  # built one per event-loop turn
        curves = panel.robustness_curves
        for kind, (_label, amounts, _unit) in DAMAGES.items():
            curves[kind].setData(np.asarray(amounts), np.linspace(99, 40, len(amounts)))
        settle(window, qtbot)
        view = panel.robustness_view
        width = view.viewport().width()
        for kind, plot in panel.robustness_plots.items():
            box = plot.sceneBoundingRect()
            assert box.left() >= 0 and box.right() <= width + 1, (size, kind, box, width)  # none cut off
            assert not unreadable(plot), (size, kind, unreadable(plot))
        bottom = panel.robustness_plots["scale"].getAxis("bottom")
        assert [t for t, _ in axis_labels(bottom)] == ["0.5", "1", "1.5"]  # not seven running together
        assert "(x0.001)" not in panel.robustness_plots["noise"].getAxis("bottom").labelString()


def test_legends_sit_beside_the_data_not_on_the_curves(window, qtbot):
    panel = window.evaluation
    window.dock_manager.raise_("evaluation")
    panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("Threshold"))
    t = np.arange(101.0)
    panel.answered_curve.setData(t, 100 - t**4 / 1e6)  # a good model: both curves along the top
    panel.answered_accuracy_curve.setData(t, 99 + t / 100)
    training = window.training.plot
    window.dock_manager.raise_("training")
    x = np.linspace(0, 1, 200)
    training.set_log_loss(True)
    training.raw_curve.setData(x, 2.3 * np.exp(-5 * x) + 0.05)  # the loss starts at the top left, where the legend was
    training.smooth_curve.setData(x, 2.3 * np.exp(-5 * x) + 0.05)
    weights = window.weights_view
    settle(window, qtbot)
    for plot in (panel.threshold_plot.getPlotItem(), training.getPlotItem(), weights.histogram_plot.getPlotItem()):
        legend = plot.legend
        assert legend is not None and len(legend.items) >= 2
        assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect())  # outside the data area
    window.dock_manager.raise_("evaluation")
    settle(window, qtbot)
    plot = panel.threshold_plot.getPlotItem()
    assert points_under_legend(plot, plot.legend) == 0


def test_the_log_loss_axis_shows_every_label_whole(window, qtbot):
    window.resize(1280, 720)
    window.reset_layout()
    window.dock_manager.raise_("training")
    plot = window.training.plot
    plot.set_log_loss(True)  # empty: 1 … 10, a label at the very top
    settle(window, qtbot)
    item = plot.getPlotItem()
    labels = [t for t, _ in axis_labels(item.getAxis("left"))]
    assert "10¹" in labels and "1" in labels
    assert not unreadable(item, ("left", "right", "bottom"))
    x = np.linspace(0, 3, 100)
    plot.raw_curve.setData(x, 2.3 * np.exp(-2 * x) + 0.02)
    plot.set_log_loss(False)
    settle(window, qtbot)
    assert not unreadable(item, ("left", "right", "bottom"))


def test_a_loss_that_does_not_move_still_has_labelled_ticks(window, qtbot):
    """Accuracy as the loss stays near 0.5: the log axis had not a single label."""
    window.dock_manager.raise_("training")
    plot = window.training.plot
    x = np.linspace(0, 1, 50)
    for log in (True, False):
        plot.set_log_loss(log)
        plot.raw_curve.setData(x, 0.5 + 0.02 * np.sin(20 * x))
        plot.smooth_curve.setData(x, np.full(50, 0.5))
        settle(window, qtbot)
        labels = [t for t, _ in axis_labels(plot.getPlotItem().getAxis("left"))]
        assert len(labels) >= 2 and len(set(labels)) == len(labels), (log, labels)
        assert all(0.4 < float(t) < 0.6 for t in labels), labels
        assert not unreadable(plot.getPlotItem(), ("left",))


def test_the_inspector_numbers_fit_their_cells_at_every_zoom(window, qtbot):
    from PySide6.QtGui import QFontMetrics

    from mnist_desktop.model import mnist_arrays

    inspector = window.inspector
    window.dock_manager.raise_("inspector")
    images, _ = mnist_arrays("test")
    inspector.show_sample("test", 0)
    grid = inspector.grid
    for mode in ("uint8", "float", "normalized"):
        inspector.set_mode(mode)
        texts = {grid.fmt.format(v) for v in np.asarray(grid.values, dtype=np.float64).ravel()}
        assert mode != "normalized" or any(t.startswith("-") for t in texts)  # "-0.42": the widest
        printed = []
        for cell in range(14, 41, 2):
            inspector.zoom.setValue(cell)
            font = grid.text_font()
            if font is not None:
                printed.append(cell)
                widest = max(QFontMetrics(font).horizontalAdvance(t) for t in texts)
                assert widest <= grid._cell() - 3, (mode, cell, widest)  # a gap between neighbours
        assert printed and printed[-1] == 40 and printed == list(range(printed[0], 41, 2)), (mode, printed)
        assert printed[0] <= 24  # at the default zoom, numbers in every mode
    inspector.zoom.setValue(8)
    assert grid.text_font() is None  # too small for numbers: shades only
