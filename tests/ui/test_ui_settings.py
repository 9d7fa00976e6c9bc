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
    saved = w.files.save_model(str(tmp_path / "mine.safetensors"))
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
    from mnist_desktop.ui.docks import DOCK_LAYOUTS

    areas = DOCK_LAYOUTS[window.dock_manager.layout_name()]
    for name, dock in window.docks.items():
        assert window.dockWidgetArea(dock) == areas[window.dock_groups[name]][0], name


def test_object_names_are_the_automation_surface(window):
    from PySide6.QtWidgets import QWidget

    for name in (
        "canvas",
        "prediction",
        "training",
        "train_button",
        "stop_button",
        "train_progress",
        "loss_plot",
        "activations",
        "inspector_dock",
    ):
        assert window.findChild(QWidget, name) is not None, name
    # A panel behind another tab is built when its dock is first shown (or asked for).
    assert window.findChild(QWidget, "inspector") is None
    window.docks["inspector"].raise_()
    assert window.findChild(QWidget, "inspector") is window.inspector


GARBAGE = [
    ("canvas/brush", "99999999999"),
    ("training/batch_size", "99999999999"),
    ("training/epochs", "1e400"),
    ("training/lr", "nan"),
    ("training/momentum", "-3"),
    ("training/seed", "12.5"),
    ("training/nesterov", "maybe"),
    ("training/schedule", "sideways"),
    ("training/loss", "mnist-loss"),  # a two-class loss with the ten-digit task
    ("training/device", "tpu"),
    ("training/advanced_open", "[1, 2]"),
]


def test_the_app_starts_from_any_settings_file(qtbot, tmp_path, cnn_predictor):
    """Garbage in the settings file: each value falls back to its default, with a note."""
    from PySide6.QtCore import QSettings

    path = tmp_path / "s.ini"
    lines = {"canvas": [], "training": ["task=digits", "arch=cnn"]}
    for key, value in GARBAGE:
        group, name = key.split("/")
        lines[group].append(f"{name}={value}")
    path.write_text("".join(f"[{g}]\n" + "\n".join(v) + "\n" for g, v in lines.items()))
    w = MainWindow(settings=QSettings(str(path), QSettings.Format.IniFormat), predictor=cnn_predictor)
    qtbot.addWidget(w)
    c, default = w.training.config(), __import__("mnist_desktop.model", fromlist=["x"]).recommended_config()
    assert (c.batch_size, c.epochs, c.lr, c.momentum, c.seed, c.nesterov, c.schedule, c.loss, c.device) == (
        default.batch_size,
        default.epochs,
        default.lr,
        default.momentum,
        default.seed,
        default.nesterov,
        default.schedule,
        default.loss,
        default.device,
    )
    assert w.brush.value() == 21  # the default brush, not 99999999999
    note = w.statusBar().currentMessage()
    assert "reset to their defaults" in note and "canvas/brush" in note and "training/batch_size" in note
    w.close()


def test_a_comma_in_task_or_arch_does_not_stop_the_start(qtbot, tmp_path, cnn_predictor):
    from PySide6.QtCore import QSettings

    path = tmp_path / "s.ini"
    path.write_text("[training]\ntask=digits, cnn\narch=cnn, mlp\n")  # INI reads these as lists
    w = MainWindow(settings=QSettings(str(path), QSettings.Format.IniFormat), predictor=cnn_predictor)
    qtbot.addWidget(w)
    assert (w.training.config().task, w.training.config().arch) == ("digits", "cnn")
    assert "training/task" in w.statusBar().currentMessage()
    w.close()


def test_a_last_model_that_fails_in_any_way_falls_back_to_the_bundled_one(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    import mnist_desktop.model as engine

    path = tmp_path / "s.ini"
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    settings.setValue("model/last", str(tmp_path / "weird.safetensors"))
    real = engine.Predictor.load

    def load(p, *a, **k):
        if "weird" in str(p):
            raise RuntimeError("something no one expected")
        return real(p, *a, **k)

    monkeypatch.setattr(engine.Predictor, "load", staticmethod(load))
    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    assert w.predictor is not None and w.model_source is None  # the bundled model
    assert "Could not reopen the last model" in w.statusBar().currentMessage()
    assert settings.value("model/last") is None
    w.close()


def test_settings_that_cannot_be_saved_are_reported_at_start(qtbot, tmp_path, cnn_predictor):
    from PySide6.QtCore import QSettings

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the settings folder should be")
    w = MainWindow(settings=QSettings(str(blocker / "s.ini"), QSettings.Format.IniFormat), predictor=cnn_predictor)
    qtbot.addWidget(w)
    assert "Settings cannot be saved" in w.statusBar().currentMessage()
    w.close()
