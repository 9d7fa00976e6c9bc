"""The Data dock (MNIST per digit: counts, mean images, a gallery) and the Weights dock
(a layer's histogram and its distance from the start, epoch by epoch)."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from mnist_desktop.model import load_mnist, mnist_arrays


def open_data(window, qtbot):
    panel = window.data_view  # built when asked for: its dock is a tab behind Training
    dock = window.docks["data"]
    assert panel is window.findChild(QWidget, "data_view") and dock.objectName() == "data_dock"
    # a tab behind Training, not in front; nothing is read until it is shown
    assert dock in window.tabifiedDockWidgets(window.docks["training"])
    assert not panel.summaries
    with qtbot.waitSignal(panel.loaded, timeout=30_000):
        dock.raise_()
    return panel


def test_data_view_counts_match_load_mnist_and_a_click_inspects_the_digit(window, qtbot):
    panel = open_data(window, qtbot)
    for split in ("train", "test"):
        _, labels = load_mnist(split)
        expected = torch.bincount(labels, minlength=10).tolist()
        assert [panel.count(split, d) for d in range(10)] == expected
    assert "60,000 training and 10,000 test images" in panel.status.text()

    # the mean image of each digit, and a click on one shows all of that digit's images
    images, labels = mnist_arrays("train")
    mean3 = panel.findChild(QWidget, "data_mean_3")
    assert not mean3.icon().isNull()
    qtbot.mouseClick(mean3, Qt.MouseButton.LeftButton)
    gallery = panel.findChild(QWidget, "data_gallery")
    assert gallery.count() == int((labels == 3).sum())
    keys = [int(k) for k in gallery.keys()]
    assert keys == np.flatnonzero(labels == 3).tolist()
    qtbot.waitUntil(lambda: gallery.gallery_model.rendered > 0)
    assert gallery.gallery_model.rendered < 300  # thumbnails only for what is on screen

    # clicking a thumbnail shows that sample in the tensor inspector (the test window is small:
    # the dock is widened so that a thumbnail fits whatever the layout gave it)
    window.resizeDocks([window.docks["data"]], [420], Qt.Orientation.Horizontal)
    index = gallery.model().index(4, 0)
    gallery.scrollTo(index)
    qtbot.waitUntil(lambda: gallery.viewport().rect().contains(gallery.visualRect(index).center()))
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=gallery.visualRect(index).center())
    assert window.inspector.source.currentData() == "train"
    assert window.inspector.sample_label == 3
    assert f"sample #{keys[4]} " in window.inspector.sample_info.text()

    # Put on canvas: the selected digit goes onto the canvas and is classified
    to_canvas = panel.findChild(QWidget, "data_to_canvas")
    assert to_canvas.isEnabled()
    with qtbot.waitSignal(panel.toCanvas, timeout=5000) as blocker:
        qtbot.mouseClick(to_canvas, Qt.MouseButton.LeftButton)
    assert np.array_equal(blocker.args[0], images[keys[4]])
    qtbot.waitUntil(lambda: window.canvas.image_array().any(), timeout=5000)

    # the test split: its own means and images
    split = panel.findChild(QWidget, "data_split")
    split.setCurrentIndex(split.findData("test"))
    _, test_labels = mnist_arrays("test")
    assert gallery.count() == int((test_labels == 3).sum())
    assert all(test_labels[int(k)] == 3 for k in gallery.keys())


def test_weights_view_shows_a_layer_and_fills_distance_after_each_epoch(window, qtbot):
    from test_ui_training import choose

    panel = window.findChild(QWidget, "weights_view")
    dock = window.docks["weights"]
    assert panel is window.weights_view and dock.objectName() == "weights_dock"
    assert dock in window.tabifiedDockWidgets(window.docks["activations"])
    dock.raise_()
    qtbot.waitUntil(panel.isVisible)
    # the active model's weights, before any run: no start to compare with
    layer = panel.findChild(QWidget, "weights_layer")
    assert [layer.itemText(i) for i in range(layer.count())] == list(window.predictor.layer_weights())
    assert panel.set_layer("fc") and panel.current_layer() == "fc"
    assert not panel.set_layer("relu1")  # no weights: the choice stays
    assert panel.current_layer() == "fc"
    assert panel.shown.counts.sum() == window.predictor.layer_weights()["fc"].size
    assert panel.shown.initial_counts is None
    assert "needs a training run" in panel.info.text()
    assert panel.distance_series() == ([], [])

    def legend_names():
        return [label.text for _, label in panel.histogram_plot.getPlotItem().legend.items]

    assert legend_names() == ["now"]  # no dashed start-of-training line drawn, none listed

    # a short run: the distance from the start is plotted after each epoch
    training = window.training
    choose(training, "digits", "linear", epochs=2, batch_size=512)
    reports, plotted = [], []

    def on_report(snap):  # connected after the window's: the panel has drawn this report
        reports.append(snap.epoch)
        plotted.append(panel.distance_series()[0])

    training.weightsReported.connect(on_report)
    with qtbot.waitSignal(training.finished, timeout=120_000):
        training.train_button.click()
    assert reports == [0, 1, 2]
    assert plotted == [[0], [0, 1], [0, 1, 2]]  # drawn while training, epoch by epoch
    assert panel.current_layer() == "fc"  # the linear model's only layer
    epochs, distances = panel.distance_series()
    assert epochs == [0, 1, 2]
    assert distances[0] == 0.0 and 0 < distances[1] < distances[2]
    # the trained model is active: its histogram against its start, on the same bins
    trained = window.predictor.layer_weights()["fc"]
    assert panel.shown.counts.sum() == panel.shown.initial_counts.sum() == trained.size
    assert legend_names() == ["now", "at the start of training"]
    assert panel.shown.distance == pytest.approx(distances[2], rel=1e-6)
    assert "Moved" in panel.info.text() and "needs a training run" not in panel.info.text()
    assert "Gradient of the last batch" in panel.info.text()  # gradient strength of the layer

    # the previous model: not from this run, so nothing to compare with, and no plot of a run
    # that is not its own beside it
    trained_model = window.predictor
    window.previous_model_action.trigger()
    cnn = window.predictor.layer_weights()
    assert [layer.itemText(i) for i in range(layer.count())] == list(cnn)
    assert panel.current_layer() == "fc"  # the CNN has an fc layer too: the choice stays
    assert panel.shown.shape == cnn["fc"].shape and panel.shown.initial_counts is None
    assert legend_names() == ["now"]
    assert "Moved" not in panel.info.text() and "Gradient of the last batch" not in panel.info.text()
    assert panel.distance_series() == ([], [])
    assert "not trained here" in panel.distance_plot.getPlotItem().titleLabel.text
    # the run's model active again: its run, its message
    window.set_predictor(trained_model)
    assert panel.distance_series() == (epochs, distances) and "Moved" in panel.info.text()
    assert not panel.distance_plot.getPlotItem().getAxis("left").autoSIPrefix  # no "(x0.001)" on a ratio


def test_the_layer_selected_in_activations_is_the_one_the_weights_view_shows(window, qtbot):
    from ui_helpers import SEVEN_DOWN, SEVEN_TOP, settle, stroke

    stroke(window.canvas, SEVEN_TOP)
    stroke(window.canvas, SEVEN_DOWN)
    settle(window, qtbot)
    for name in ("conv2", "fc", "conv1"):
        window.activations.select_layer(name)
        assert window.weights_view.current_layer() == name
    window.activations.select_layer("relu1")  # no weights: the weights view keeps its layer
    assert window.weights_view.current_layer() == "conv1"


def test_a_stepped_model_is_not_compared_with_the_last_runs_start(window, qtbot):
    from test_ui_stepper import button, open_stepper, press, small_chapter
    from test_ui_training import choose

    panel = window.weights_view
    window.docks["weights"].raise_()
    qtbot.waitUntil(panel.isVisible)
    training = window.training
    choose(training, "3v7", "linear", epochs=1, batch_size=512)
    with qtbot.waitSignal(training.finished, timeout=120_000):
        training.train_button.click()
    assert panel.shown.initial_counts is not None and "Moved" in panel.info.text()  # the run's model against its start

    # Step mode, at init (no step yet), "Use this model": a model of its own, not out of that run
    stepper = open_stepper(window)
    stepper.set_config(small_chapter())
    assert press(qtbot, stepper, "step_phase").phase == "init"
    with qtbot.waitSignal(training.modelTrained):
        qtbot.mouseClick(button(stepper, "step_use"), Qt.MouseButton.LeftButton)
    assert window.predictor.arch == "linear" and panel.current_layer() == "fc"
    assert panel.shown.initial_counts is None and panel.shown.distance is None
    assert "Moved" not in panel.info.text() and "Gradient of the last batch" not in panel.info.text()


def test_a_stopped_runs_model_is_still_compared_with_that_runs_start(window, qtbot):
    from test_ui_training import choose

    panel = window.weights_view
    window.docks["weights"].raise_()
    qtbot.waitUntil(panel.isVisible)
    training = window.training
    choose(training, "3v7", "linear", epochs=50, batch_size=512)  # stopped long before the end
    training.weightsReported.connect(lambda snap: snap.epoch == 1 and training.stop())
    with qtbot.waitSignal(training.finished, timeout=120_000) as blocker:
        training.train_button.click()
    assert blocker.args[0].stopped and training.stopped_result is blocker.args[0]
    with qtbot.waitSignal(training.modelTrained):
        training.use_stopped_model()  # after the run ended
    assert window.predictor is blocker.args[0].predictor
    assert panel.shown.initial_counts is not None and panel.shown.distance > 0 and "Moved" in panel.info.text()


@pytest.mark.parametrize("size", [(1280, 720), (1400, 900)])
def test_every_title_of_the_distance_plot_fits_the_weights_dock(window, qtbot, size):
    """One line of title ("moved from start (the active model's run)", 377 px) was wider than
    the plot's view at 1280×720 (282 px): the plot stuck out of the dock, its right side cut."""
    from mnist_desktop.ui.weights import DISTANCE_TITLES

    window.resize(*size)
    window.reset_layout()
    window.dock_manager.raise_("weights")
    panel = window.weights_view
    qtbot.waitUntil(panel.distance_plot.isVisible)
    view = panel.distance_plot
    item = view.getPlotItem()
    for title in DISTANCE_TITLES.values():
        item.setTitle(title)
        QApplication.processEvents()
        shown = view.mapToScene(view.viewport().rect()).boundingRect()
        assert item.sceneBoundingRect().width() <= shown.width() + 1, title
