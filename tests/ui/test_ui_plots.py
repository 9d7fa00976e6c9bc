"""Plots inside scrolling panels: the wheel scrolls the panel, Ctrl+wheel zooms, a double-click resets."""

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel, QScrollArea, QVBoxLayout, QWidget

from mnist_desktop.ui.theme import style_plot_widget


def _wheel(widget, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_panel_and_ctrl_wheel_zooms_the_plot(qtbot):
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addWidget(QLabel("above"))
    plot = pg.PlotWidget()
    plot.setMinimumHeight(300)
    plot.plot(np.arange(10.0), np.arange(10.0) ** 2)
    layout.addWidget(plot)
    layout.addWidget(QLabel("below"))
    page.setMinimumHeight(1200)
    area = QScrollArea(widgetResizable=True)
    area.setWidget(page)
    area.resize(400, 400)
    qtbot.addWidget(area)
    style_plot_widget(plot)
    area.show()
    qtbot.waitExposed(area)
    vb = plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: vb.viewRange()[1][1] > 80)  # auto-ranged to the data (y up to 81)
    before = np.array(vb.viewRange())
    _wheel(plot.viewport())
    assert area.verticalScrollBar().value() > 0  # the panel scrolled
    np.testing.assert_array_equal(np.array(vb.viewRange()), before)  # the plot did not zoom
    _wheel(plot.viewport(), Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not np.allclose(np.array(vb.viewRange()), before))  # Ctrl+wheel zooms
    qtbot.mouseDClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=plot.viewport().rect().center())
    qtbot.waitUntil(lambda: np.allclose(np.array(vb.viewRange()), before, rtol=0.05))  # back to the whole data


def test_no_plot_in_the_window_zooms_on_a_plain_wheel(window, qtbot):
    views = [v for v in window.findChildren(pg.GraphicsView) if v.scene() is not None]
    assert len(views) >= 8  # the loss plots, activations, weights, nudge, evaluation …
    for view in views:
        boxes = [item for item in view.scene().items() if isinstance(item, pg.ViewBox)]
        before = [np.array(vb.viewRange()) for vb in boxes]
        _wheel(view.viewport())
        for vb, b in zip(boxes, before):
            np.testing.assert_array_equal(np.array(vb.viewRange()), b, err_msg=view.objectName() or type(view).__name__)


def test_the_small_plots_share_one_set_up_plain_numbers_labels_and_no_menu(qtbot):
    """SGD toy, Step mode's sigmoid and loss, and the nudge plots are set up by
    ``theme.set_up_plot``: axis labels, no SI prefix ("loss (x0.001)"), no right-click menu."""
    from mnist_desktop.ui.nudge import NudgePanel
    from mnist_desktop.ui.sgd_toy import SgdToyPanel
    from mnist_desktop.ui.sigmoid_view import SigmoidView

    toy, sigmoid, nudge = SgdToyPanel(), SigmoidView(), NudgePanel()
    for w in (toy, sigmoid, nudge):
        qtbot.addWidget(w)
    items = {
        "sgd_toy_plot": (toy.plot.getPlotItem(), "time (s)", "speed"),
        "sgd_toy_loss_plot": (toy.loss_plot.getPlotItem(), "step", "loss (log)"),
        "step_sigmoid_plot": (sigmoid.plot.getPlotItem(), "prediction (xb @ w + b)", "sigmoid"),
        "nudge loss": (nudge.loss_item, None, "loss"),
        "nudge accuracy": (nudge.acc_item, "nudge ε", "accuracy %"),
    }
    assert toy.plot.objectName() == "sgd_toy_plot" and toy.loss_plot.toolTip() and sigmoid.plot.objectName() == "step_sigmoid_plot"
    for name, (item, bottom, left) in items.items():
        assert not item.menuEnabled(), name
        for axis, label in (("bottom", bottom), ("left", left)):
            assert not item.getAxis(axis).autoSIPrefix, (name, axis)
            if label is not None:
                assert item.getAxis(axis).labelText == label, (name, axis)
    assert toy.loss_plot.getPlotItem().ctrl.logYCheck.isChecked()  # its log scale kept


def test_the_log_loss_axis_labels_no_more_ticks_than_a_short_axis_has_room_for(qtbot):
    """1, 2 and 5 × 10ᵏ where there is room; on a short axis the 2s and 5s go, then every
    other power of ten: ten decades on 60 px labelled every one printed the labels over each
    other (pyqtgraph's own check only thins levels after the first)."""
    from PySide6.QtGui import QFontMetricsF, QImage, QPainter

    from mnist_desktop.ui.loss_plot import LossAxis

    def drawn(axis) -> list[tuple[float, str]]:
        image = QImage(8, 8, QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        try:
            return sorted((rect.center().y(), text) for rect, _flags, text in axis.generateDrawSpecs(painter)[2])
        finally:
            painter.end()

    line = QFontMetricsF(QApplication.font()).height()
    for height, (low, high), most in ((300, (1.0, 1e3), 10), (70, (1.0, 1e3), 4), (60, (1.0, 1e10), 5)):
        widget = pg.PlotWidget(axisItems={"left": LossAxis("left")})
        qtbot.addWidget(widget)
        item = widget.getPlotItem()
        item.setLogMode(y=True)
        item.plot([0, 1], [low, high])
        item.setYRange(np.log10(low), np.log10(high), padding=0)
        widget.resize(300, height + 40)
        widget.show()
        qtbot.waitExposed(widget)
        qtbot.wait(50)  # the axis widens to its labels after its first paint
        axis = item.getAxis("left")
        labels = drawn(axis)
        assert 2 <= len(labels) <= most, (height, labels)
        assert np.diff([y for y, _ in labels]).min() >= line, (height, labels)  # none over its neighbour
        if height == 300:  # room for 1, 2 and 5 × 10ᵏ
            assert {"2", "5", "2·10¹", "5·10²"} <= {t for _, t in labels}, labels
