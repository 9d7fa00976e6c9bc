"""Settings survive a restart: geometry, docks, brush, hyperparameters, last model."""

from ui_helpers import make_predictor

from mnist_desktop.ui import MainWindow


def test_settings_round_trip(qtbot, settings, cnn_predictor, tmp_path):
    w = MainWindow(settings=settings, predictor=cnn_predictor)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.resize(760, 700)  # the offscreen screen is 800×800
    w.brush.setValue(33)
    t = w.training
    t.task.setCurrentIndex(t.task.findData("3v7"))
    t.arch.setCurrentIndex(t.arch.findData("mlp"))
    t.lr.setValue(0.123)
    t.momentum.setValue(0.5)
    t.batch_size.setValue(0)  # full batch
    t.epochs.setValue(7)
    w.docks["inspector"].close()
    linear = make_predictor("linear")
    w.set_predictor(linear)
    saved = w.save_model(str(tmp_path / "mine.safetensors"))
    assert saved is not None
    w.close()

    w2 = MainWindow(settings=settings)  # no predictor: the last model comes back
    qtbot.addWidget(w2)
    w2.show()
    qtbot.waitExposed(w2)
    assert (w2.width(), w2.height()) == (760, 700)
    assert w2.brush.value() == 33
    assert abs(w2.canvas.brush_size - 33 / 280) < 1e-9
    c = w2.training.config()
    assert (c.task, c.arch, c.lr, c.momentum, c.batch_size, c.epochs) == ("3v7", "mlp", 0.123, 0.5, 0, 7)
    assert w2.training.batch_size.text().startswith("Full batch")
    assert not w2.docks["inspector"].isVisible() and w2.docks["training"].isVisible()
    assert w2.predictor.arch == "linear" and w2.model_source == saved
    w2.close()


def test_view_menu_restores_closed_docks(window):
    dock = window.docks["training"]
    dock.close()
    assert not dock.isVisible()
    toggle = [a for a in window.view_menu.actions() if a.text() == dock.windowTitle()][0]
    toggle.trigger()
    assert dock.isVisible()
    from PySide6.QtCore import Qt

    window.docks["activations"].close()
    window.docks["training"].setFloating(True)
    window.removeDockWidget(window.docks["inspector"])
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, window.docks["inspector"])
    window.reset_layout_action.trigger()
    assert all(not d.isHidden() and not d.isFloating() for d in window.docks.values())
    assert window.dockWidgetArea(window.docks["training"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert window.dockWidgetArea(window.docks["inspector"]) == Qt.DockWidgetArea.BottomDockWidgetArea


def test_object_names_are_the_automation_surface(window):
    from PySide6.QtWidgets import QWidget

    for name in ("canvas", "prediction", "training", "train_button", "stop_button", "train_progress", "loss_plot", "inspector", "activations"):
        assert window.findChild(QWidget, name) is not None, name
