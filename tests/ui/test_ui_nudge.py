"""The "Accuracy vs loss" dock: nudging a weight from the window, through objectNames."""

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton
from ui_helpers import make_predictor

from mnist_desktop import model as engine
from mnist_desktop.model.nudging import epsilon_grid, nudge_data
from mnist_desktop.model.numpy_forward import NumpyPredictor
from mnist_desktop.ui.nudge import LOADING, STEPS, NudgePanel, WeightPicker


def open_panel(window, predictor=None) -> NudgePanel:
    if predictor is not None:
        window.set_predictor(predictor)
    dock = window.findChild(type(window.docks["training"]), "nudge_dock")
    assert dock is window.docks["nudge"]
    dock.show()
    dock.raise_()
    return window.findChild(NudgePanel, "nudge")


def choose(panel: NudgePanel, name: str, data) -> None:
    combo = panel.findChild(QComboBox, name)
    combo.setCurrentIndex(combo.findData(data))


def test_the_dock_sits_behind_training(window):
    dock = window.docks["nudge"]
    view = next(a for a in window.view_menu.actions() if a.objectName() == "view_nudge")
    assert view.text() == "Accuracy vs loss" and dock.windowTitle() in ("Accuracy vs loss", "Acc/loss")  # short on a crowded stack
    assert dock in window.tabifiedDockWidgets(window.docks["training"])
    assert window.findChild(NudgePanel, "nudge") is None  # behind another tab: built when first shown
    assert isinstance(open_panel(window).findChild(pg.GraphicsLayoutWidget, "nudge_plot"), pg.GraphicsLayoutWidget)


def test_clicking_a_pixel_of_the_weight_image_nudges_that_weight(window, qtbot):
    p = make_predictor("linear")
    panel = open_panel(window, p)
    assert panel.parameter.currentData() == "fc.weight"
    choose(panel, "nudge_row", 7)  # the weight image of the digit 7
    picker = panel.findChild(WeightPicker, "nudge_weight_image")
    assert picker.isVisible()
    pixel = 12 * 28 + 15
    with qtbot.waitSignal(panel.nudged, timeout=60_000) as blocker:
        qtbot.mouseClick(picker, Qt.MouseButton.LeftButton, pos=picker.pixel_rect(pixel).center().toPoint())
    r = blocker.args[0]
    assert (r.parameter, r.index, r.samples) == ("fc.weight", 7 * 784 + pixel, 64)
    assert panel.findChild(type(panel.index), "nudge_index").value() == 7 * 784 + pixel
    # what is drawn is what the engine measures
    expected = engine.nudge(
        p, *nudge_data(p.classes, "batch"), epsilon_grid(panel.span.value(), STEPS["batch"]), "fc.weight", 7 * 784 + pixel
    )
    x, y = panel.loss_curve.getData()
    np.testing.assert_array_equal(x, expected.epsilons)
    # float32 sums: the worker thread and this one may split a reduction differently (1e-7 seen)
    np.testing.assert_allclose(y, expected.loss, rtol=1e-5)
    np.testing.assert_allclose(panel.acc_curve.getData()[1], 100 * expected.accuracy)
    reading = panel.findChild(QLabel, "nudge_reading").text()
    assert reading == expected.reading() and "gradient is zero" in reading
    assert picker.selected == pixel


def test_every_losss_axis_label_fits_its_axis_at_1280x720(window, qtbot):
    from test_ui_layout import settle

    from mnist_desktop.ui.nudge import loss_axis_label

    window.resize(1280, 720)
    window.reset_layout()
    panel = open_panel(window, make_predictor("linear"))
    with qtbot.waitSignal(panel.nudged, timeout=60_000):
        panel.findChild(QPushButton, "nudge_button").click()
    settle(window, qtbot)
    axis = panel.loss_item.getAxis("left")
    assert axis.labelText == loss_axis_label(panel.result.loss_name)
    for name in engine.LOSSES:
        panel.loss_item.setLabel("left", loss_axis_label(name))
        settle(window, qtbot)
        assert axis.label.boundingRect().width() <= axis.height(), (name, axis.label.boundingRect().width(), axis.height())


def test_gradient_direction_on_the_validation_set_with_progress_and_cancel(window, qtbot):
    panel = open_panel(window, make_predictor("linear"))
    choose(panel, "nudge_direction", "gradient")
    choose(panel, "nudge_data", "valid")
    assert not panel.parameter.isEnabled()  # no weight to pick: all of them move
    nudge_button = panel.findChild(QPushButton, "nudge_button")
    cancel = panel.findChild(QPushButton, "nudge_cancel")
    qtbot.mouseClick(nudge_button, Qt.MouseButton.LeftButton)
    assert panel.is_busy() and cancel.isEnabled() and panel.progress.isVisible() and not nudge_button.isEnabled()
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert not panel.is_busy() and nudge_button.isEnabled() and not panel.progress.isVisible()
    qtbot.waitUntil(lambda: not panel._threads.running(), timeout=60_000)  # the cancelled worker's thread ended
    assert panel.result is None  # a cancelled sweep shows nothing
    with qtbot.waitSignal(panel.nudged, timeout=120_000) as blocker:
        qtbot.mouseClick(nudge_button, Qt.MouseButton.LeftButton)
    r = blocker.args[0]
    assert r.parameter is None and r.samples == 10_000 and len(r.epsilons) == STEPS["valid"]
    assert r.loss[0] < r.loss[STEPS["valid"] // 2] < r.loss[-1]  # along the gradient the loss goes up


def test_a_new_model_cancels_the_sweep_and_clears_the_plot(window, qtbot):
    panel = open_panel(window, make_predictor("linear"))
    with qtbot.waitSignal(panel.nudged, timeout=60_000):
        panel.findChild(QPushButton, "nudge_button").click()
    assert len(panel.loss_curve.getData()[0]) == STEPS["batch"]
    window.set_predictor(make_predictor("mlp"))
    x, _ = panel.loss_curve.getData()
    assert panel.result is None and (x is None or len(x) == 0)
    assert panel.parameter.currentData() == "fc1.weight" and panel.row.itemText(0) == "hidden unit 0"


def test_pixel_similarity_says_why_there_is_nothing_to_nudge(window):
    panel = open_panel(window, make_predictor("pixel-similarity"))
    status = panel.findChild(QLabel, "nudge_status")
    assert "no weights to nudge" in status.text() and "mean image" in status.text()
    assert not panel.findChild(QPushButton, "nudge_button").isEnabled()
    assert not panel.start()
    assert panel.result is None


def test_waits_for_pytorch(qtbot):
    panel = NudgePanel(torch_ready=False)
    qtbot.addWidget(panel)
    panel.set_predictor(NumpyPredictor.default())
    assert panel.status.text() == LOADING
    assert not panel.nudge_button.isEnabled() and not panel.train_button.isEnabled() and not panel.start()
    panel.set_predictor(make_predictor("cnn"))  # the window's torch twin
    assert panel.status.isHidden() and panel.nudge_button.isEnabled() and panel.train_button.isEnabled()
    assert panel.parameter.currentData() == "fc.weight" and not panel.picker.isVisibleTo(panel)  # the CNN's fc sees features, not pixels


def test_train_with_accuracy_as_the_loss_shows_the_trainers_note(window, qtbot):
    panel = open_panel(window, make_predictor("linear", task="3v7"))
    training = window.training
    with qtbot.waitSignal(training.finished, timeout=180_000) as blocker:
        qtbot.mouseClick(panel.findChild(QPushButton, "nudge_train_accuracy"), Qt.MouseButton.LeftButton)
        assert training.is_training()
    assert blocker.args[0] is not None, training.message.text()
    assert (training.loss.currentData(), training.arch.currentData(), training.task.currentData()) == ("accuracy", "linear", "3v7")
    assert "gradient was exactly zero" in training.message.text()
    assert window.docks["training"].isVisible()


def test_train_with_accuracy_as_the_loss_leaves_a_run_in_progress_alone(window, qtbot):
    panel = open_panel(window, make_predictor("linear", task="3v7"))
    training = window.training
    running = replace(engine.recommended_config("digits", "mlp"), epochs=5)
    training.set_config(running)
    assert training.start(running)
    training.set_paused(True)  # still going on while we look
    before = training.config()
    panel.findChild(QPushButton, "nudge_train_accuracy").click()
    assert training.is_training() and training.mode() == "train"
    assert training.config() == before  # the run's settings stay on screen, not the accuracy run's
    assert "stop it first" in window.statusBar().currentMessage()
    with qtbot.waitSignal(training.finished, timeout=60_000):
        training.stop()
        training.set_paused(False)


def test_an_mlps_ten_hidden_units_are_not_labelled_as_digits(window):
    p = make_predictor("mlp")
    p = engine.Predictor(engine.build_model("mlp", 10, hidden=10), p.meta)  # fc1: 10 × 784, like the 10 digits' rows
    panel = open_panel(window, p)
    assert panel.parameter.currentData() == "fc1.weight" and panel.row.count() == 10
    assert [panel.row.itemText(r) for r in range(10)] == [f"hidden unit {r}" for r in range(10)]
    linear = open_panel(window, make_predictor("linear"))  # a linear model's rows are its outputs
    assert [linear.row.itemText(r) for r in range(10)] == [f"digit {d}" for d in range(10)]
