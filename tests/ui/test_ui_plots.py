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
        "sgd_toy_loss_plot": (toy.loss_plot.getPlotItem(), "step", "loss (log scale)"),
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
