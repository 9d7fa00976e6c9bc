"""The window as a whole: colour scheme, excepthook, drag and drop, a two-class model, About."""

import sys

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QImage, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox
from ui_helpers import ONE, settle, stroke

from mnist_desktop.ui.app import install_excepthook


def test_follows_the_palette(window):
    """Dark mode is a palette change: plots and ink follow it, nothing is hard-coded."""
    pal = QPalette(window.palette())
    dark, light = QColor("#121212"), QColor("#eeeeee")
    for role, color in ((QPalette.ColorRole.Base, dark), (QPalette.ColorRole.Window, dark), (QPalette.ColorRole.Text, light)):
        pal.setColor(role, color)
    window.setPalette(pal)
    assert window.training.plot.backgroundBrush().color() == dark
    assert window.training.plot.getPlotItem().getAxis("left").textPen().color() == light
    assert window.canvas._ink() == light
    for view in window.activations.panels.values():
        assert view.view.backgroundBrush().color() == dark


def test_excepthook_shows_a_dialog_and_the_app_goes_on(window, monkeypatch, capsys):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_excepthook()
    try:
        raise ValueError("boom in a slot")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert any("boom in a slot" in b.text() for b in boxes)
    assert "boom in a slot" in capsys.readouterr().err
    for b in boxes:
        b.close()
    stroke(window.canvas, ONE)  # still works
    assert window.canvas.stroke_count() == 1


def test_drop_image_file_on_canvas(window, qtbot, tmp_path):
    a = np.zeros((64, 64), np.uint8)
    a[10:54, 28:36] = 255  # a white 1 on black
    path = tmp_path / "one.png"
    assert QImage(a.data, 64, 64, 64, QImage.Format.Format_Grayscale8).copy().save(str(path))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.predictionUpdated, timeout=5000):
        window.canvas.dropEvent(drop)
    assert not window.canvas.is_empty()
    assert window.prediction.top_class is not None


def test_two_class_model_trained_from_the_panel(window, qtbot):
    panel = window.training
    panel.task.setCurrentIndex(panel.task.findData("3v7"))
    panel.arch.setCurrentIndex(panel.arch.findData("linear"))
    assert panel.loss.currentData() == "mnist-loss"  # the chapter's recipe
    with qtbot.waitSignal(panel.finished, timeout=120_000) as blocker:
        panel.train_button.click()
    assert blocker.args[0] is not None
    assert window.prediction.bars.classes == [3, 7]
    window.docks["activations"].raise_()  # a tab behind another is not updated
    qtbot.waitUntil(lambda: window.activations._on_screen, timeout=2000)
    stroke(window.canvas, ONE)
    settle(window, qtbot)
    assert window.prediction.top_class in (3, 7) and len(window.probabilities) == 2
    fc = window.activations.weight_panels["fc"]
    window.activations.select_layer("fc", "weights")
    assert fc.image.image.shape == (28, 28) and "7 vs 3" in window.activations.detail.title.text()
    assert window.activations.output.texts() == [f"3\n{100 * p:.0f} %" for p in window.probabilities[:1]] + [
        f"7\n{100 * window.probabilities[1]:.0f} %"
    ]


def test_about_names_mnist(window, monkeypatch):
    seen = {}
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: seen.update(title=title, text=text))
    window.about_action.trigger()
    assert "MNIST" in seen["text"] and "LeCun" in seen["text"] and "Creative Commons Attribution-Share Alike 3.0" in seen["text"]


def test_standard_shortcuts(window):
    from PySide6.QtGui import QKeySequence

    def keys(action):
        return {k.toString() for k in action.shortcuts()}

    assert {QKeySequence("Esc").toString(), QKeySequence(QKeySequence.StandardKey.Delete).toString()} <= keys(window.clear_action)
    assert QKeySequence(QKeySequence.StandardKey.Undo).toString() in keys(window.undo_action)
    assert QKeySequence(QKeySequence.StandardKey.Redo).toString() in keys(window.redo_action)
    assert QKeySequence(QKeySequence.StandardKey.Open).toString() in keys(window.open_model_action)
    assert QKeySequence(QKeySequence.StandardKey.Save).toString() in keys(window.save_model_action)
    quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")]
    assert quit_keys[0].toString() in keys(window.quit_action)


def test_a_failed_save_keeps_the_model_and_says_why(window, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    before, source = window.predictor, window.model_source
    bad = tmp_path / "file" / "model.safetensors"
    assert window.files.save_model(str(bad)) is None
    assert str(bad) in window.last_warning and "cannot save" in window.last_warning
    assert "model is still open" in window.last_warning
    assert window.predictor is before and window.model_source == source
    assert window.save_model_action.isEnabled()
    good = window.files.save_model(str(tmp_path / "model.safetensors"))
    assert good == str(tmp_path / "model.safetensors") and window.model_source == good


def test_the_save_dialog_asks_again_after_a_failed_save(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    (tmp_path / "file").write_text("a file, not a folder")
    answers = [str(tmp_path / "file" / "m.safetensors"), str(tmp_path / "m.safetensors")]
    titles = []

    def ask(parent, title, suggested, filters):
        titles.append(title)
        return answers.pop(0), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)
    window.save_model_dialog()
    assert len(titles) == 2 and "choose another" in titles[1]
    assert (tmp_path / "m.safetensors").is_file() and window.model_source == str(tmp_path / "m.safetensors")


def test_settings_that_cannot_be_saved_are_reported_once(qtbot, tmp_path, cnn_predictor):
    from PySide6.QtCore import QSettings

    from mnist_desktop.ui import MainWindow

    (tmp_path / "file").write_text("a file, not a folder")
    settings = QSettings(str(tmp_path / "file" / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings=settings, predictor=cnn_predictor)
    qtbot.addWidget(w)
    try:
        w.save_settings()
        assert "Settings cannot be saved" in w.statusBar().currentMessage()
        w.statusBar().clearMessage()
        w.save_settings()
        assert w.statusBar().currentMessage() == ""  # said once
    finally:
        w.close()


def test_window_and_about_box_show_the_app_icon(window):
    from PySide6.QtCore import QTimer

    from mnist_desktop.ui.theme import app_icon

    assert not app_icon().isNull() and not window.windowIcon().isNull()
    seen = {}

    def look_and_close() -> None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        seen["pixmaps"] = [b.iconPixmap().toImage() for b in boxes]
        for b in boxes:
            b.done(0)

    QTimer.singleShot(0, look_and_close)
    window.about()  # QMessageBox.about: a modal box with the parent window's icon
    assert len(seen["pixmaps"]) == 1
    shown = seen["pixmaps"][0]
    assert shown == app_icon().pixmap(shown.size()).toImage()  # the app's 7, not the "information" icon


def test_make_app_sets_the_window_icon():
    from mnist_desktop.ui.app import make_app

    assert not make_app([]).windowIcon().isNull()


def test_model_dialogs_start_in_the_users_data_folder(window, settings, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from mnist_desktop.model import DEFAULT_MODEL
    from mnist_desktop.model.paths import user_data_dir

    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda parent, title, suggested, filters: (asked.append(suggested), ("", ""))[1])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, title, folder, filters: (asked.append(folder), ("", ""))[1])
    data = user_data_dir()
    assert "xdg-data" in str(data)  # the tests' own XDG_DATA_HOME (tests/conftest.py), not the real one
    settings.remove("model/last")
    window.save_model_dialog()
    window.files.open_model_dialog()
    # the bundled model's folder is inside the installed package: never suggested for saving
    settings.setValue("model/last", str(DEFAULT_MODEL))
    window.save_model_dialog()
    (tmp_path / "mine").mkdir()
    settings.setValue("model/last", str(tmp_path / "mine" / "m.safetensors"))
    window.save_model_dialog()
    assert [str(p) for p in asked] == [
        str(data / "cnn-digits.safetensors"),
        str(data),
        str(data / "cnn-digits.safetensors"),
        str(tmp_path / "mine" / "cnn-digits.safetensors"),
    ]
    assert data.is_dir()


def test_no_stray_dock_tab_bar_in_the_middle_of_the_window(window):
    """Tabifying a third dock left the first pair's tab bar visible over the prediction."""
    from PySide6.QtWidgets import QTabBar

    groups = set()
    for dock in window.docks.values():
        tabbed = window.tabifiedDockWidgets(dock)
        if tabbed:
            groups.add(frozenset([dock.windowTitle(), *(d.windowTitle() for d in tabbed)]))
    shown = [
        frozenset(b.tabText(i) for i in range(b.count()))
        for b in window.findChildren(QTabBar)
        if b.parentWidget() is window and b.isVisible()
    ]
    assert shown and all(tabs in groups for tabs in shown), (shown, groups)
    window.reset_layout()
    assert all(
        frozenset(b.tabText(i) for i in range(b.count())) in groups
        for b in window.findChildren(QTabBar)
        if b.parentWidget() is window and b.isVisible()
    )


def test_reset_layout_wakes_only_the_panels_in_front(window, qtbot, monkeypatch):
    """Moving the docks shows each for a moment: the panels that compute only while on screen
    must not start on that (evaluation computing, the Data dock reading MNIST)."""
    started = []
    monkeypatch.setattr(window.evaluation, "_start", lambda stages: started.append(stages))
    told = []  # apply_layout tells every panel whether it is on screen, once the docks have settled
    tell = window.dock_manager.tell_on_screen
    monkeypatch.setattr(window.dock_manager, "tell_on_screen", lambda: (tell(), told.append(True)))
    window.resize(1400, 900)
    window.reset_layout()
    qtbot.waitUntil(lambda: bool(told), timeout=5000)
    assert started == [] and window.data_view._loader is None and not window.data_view.summaries
    assert window.activations._on_screen and not window.preprocess_lab._on_screen
    # The tab in front is told so: raising Evaluation starts it.
    window.docks["evaluation"].raise_()
    qtbot.waitUntil(lambda: bool(started), timeout=5000)


def test_activations_behind_another_tab_are_not_computed_per_stroke(window, qtbot, monkeypatch):
    calls = []
    real = window.activations.set_activations
    monkeypatch.setattr(window.activations, "set_activations", lambda outputs: (calls.append(1), real(outputs)))
    window.docks["inspector"].raise_()
    qtbot.waitUntil(lambda: not window.activations._on_screen, timeout=2000)
    stroke(window.canvas, ONE)
    settle(window, qtbot)
    assert calls == []
    window.docks["activations"].raise_()  # shown again: brought up to date once
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=2000)


def test_the_saliency_toggle_keeps_its_explanation_after_a_model_change(window, cnn_predictor):
    toggle = window.prediction.saliency_toggle
    window.set_predictor(cnn_predictor)
    assert toggle.isEnabled() and toggle.statusTip() and toggle.statusTip() == toggle.toolTip()


def test_view_menu_brings_a_background_tab_forward_and_train_shows_its_progress(window, qtbot):
    """View → a dock that is a tab behind another used to close it. Now it shows and
    raises; only a dock already in front is closed. Train (Ctrl+T, toolbar) brings Training forward."""
    training = window.docks["training"]
    behind = next(d for d in window.tabifiedDockWidgets(training) if d is not training)
    name = next(n for n, d in window.docks.items() if d is behind)
    window.dock_manager.raise_("training")
    qtbot.waitUntil(lambda: behind.visibleRegion().isEmpty() and not training.visibleRegion().isEmpty())
    entry = next(a for a in window.view_menu.actions() if a.objectName() == f"view_{name}")
    assert entry.isChecked()  # open, though behind another tab
    entry.trigger()
    qtbot.waitUntil(lambda: not behind.visibleRegion().isEmpty())
    assert entry.isChecked() and not behind.isHidden()
    entry.trigger()  # in front now: the entry closes it
    qtbot.waitUntil(lambda: behind.isHidden())
    assert not entry.isChecked()
    entry.trigger()  # closed: shown again, in front
    qtbot.waitUntil(lambda: not behind.visibleRegion().isEmpty())
    assert entry.isChecked()

    # Train with another tab in front: the Training panel comes forward with its progress
    started = []
    window.training.train = lambda: started.append(True)
    assert training.visibleRegion().isEmpty()
    window.train_action.trigger()
    qtbot.waitUntil(lambda: not training.visibleRegion().isEmpty())
    assert started == [True]


def _tab_round(window, qtbot, key, presses=120):
    """The widgets Tab (or Shift+Tab) takes the focus to, from the canvas until it comes back to
    the canvas or to the first of them (the canvas is no Tab stop: the round never came back to
    it, and the walk was ``presses`` long whatever the chain)."""
    from PySide6.QtTest import QTest

    window.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    visited = []
    for _ in range(presses):
        QTest.keyClick(QApplication.focusWidget() or window, key)
        focus = QApplication.focusWidget()
        if focus is window.canvas or (visited and focus is visited[0]):
            break
        visited.append(focus)
    return visited


def _active_at_1400(window, qtbot) -> None:
    """The window at 1400×900 in its default layout, and active: Tab moves the focus in it."""
    window.resize(1400, 900)
    window.reset_layout()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def test_tab_never_lands_in_a_dock_behind_another_tab(window, qtbot):
    """Qt 6 keeps a dock behind another tab in the focus chain: Tab went from the Activations
    tiles into the hidden Weights panel, and Down changed its layer unseen. Nor is a tile (it
    has no keyboard action, and showed no focus) a Tab stop."""
    from PySide6.QtWidgets import QDockWidget, QWidget

    from mnist_desktop.ui.activations import ImageView

    _active_at_1400(window, qtbot)
    settle(window, qtbot)
    weights = window.dock_manager.panel("weights")
    covered = window.dock_manager.covered()
    assert window.docks["weights"] in covered  # behind Activations
    policies = {w: w.focusPolicy() for dock in covered for w in dock.findChildren(QWidget)}
    for key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
        visited = _tab_round(window, qtbot, key)
        assert visited and None not in visited
        for focus in visited:
            dock = focus.parent()
            while dock is not None and not isinstance(dock, QDockWidget):
                dock = dock.parent()
            where = dock.objectName() if dock is not None else "window"
            assert dock is None or not dock.visibleRegion().isEmpty(), (key, focus.objectName(), where)
            assert not isinstance(focus.parent(), ImageView), (key, "an activation tile", where)
        assert not any(weights.isAncestorOf(w) for w in visited)
    assert {w: w.focusPolicy() for dock in covered for w in dock.findChildren(QWidget)} == policies  # left as they were
    # the Weights panel, brought forward, is reached again
    window.dock_manager.raise_("weights")
    settle(window, qtbot)
    assert any(weights.isAncestorOf(w) for w in _tab_round(window, qtbot, Qt.Key.Key_Tab))


def test_tab_goes_on_out_of_a_table(window, qtbot):
    """A table's Tab goes from cell to cell, and from its last cell back to its first: Tab went
    round the Data panel's counts for ever. Tab leaves every table; the arrows move in it."""
    from PySide6.QtWidgets import QTableView

    _active_at_1400(window, qtbot)
    window.dock_manager.raise_("data")
    settle(window, qtbot)
    visited = _tab_round(window, qtbot, Qt.Key.Key_Tab)
    assert window.dock_manager.panel("data").counts in visited and len(visited) < 120  # through it, and round
    window.dock_manager.panel("evaluation")  # its corruption table has rows once the suite has run
    tables = window.findChildren(QTableView)
    assert len(tables) >= 2 and not [t.objectName() for t in tables if t.tabKeyNavigation()]


def test_keys_go_nowhere_once_the_focused_panel_goes_behind_another_tab(window, qtbot):
    """A combo box with the focus in a dock sent behind another tab took the arrow keys unseen."""
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QComboBox

    _active_at_1400(window, qtbot)
    window.dock_manager.raise_("weights")
    settle(window, qtbot)
    layer = window.dock_manager.panel("weights").findChild(QComboBox, "weights_layer")
    assert layer.count() > 1
    layer.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is layer)
    window.dock_manager.raise_("activations")
    settle(window, qtbot)
    assert QApplication.focusWidget() is not layer
    before = layer.currentIndex()
    QTest.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Down)
    assert layer.currentIndex() == before


def _plot_of(widget):
    """The pyqtgraph view (a plot, an image) that ``widget`` is or lies in, or None."""
    import pyqtgraph as pg

    while widget is not None and not isinstance(widget, pg.GraphicsView):
        widget = widget.parentWidget()
    return widget


def _shows_focus(widget) -> bool:
    """Whether ``widget``, which has the focus, looks different without it."""
    focused = widget.grab().toImage()
    widget.clearFocus()
    unfocused = widget.grab().toImage()
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    return focused != unfocused


def test_tab_lands_on_no_plot_that_shows_no_focus(window, qtbot):
    """pyqtgraph makes every plot a Tab stop, and none of the window's showed the focus (nor had a
    key to use it): Tab went from "Log-scale loss" into the loss plot and vanished, and so in
    the Evaluation, Weights, Nudge, SGD toy and Step panels. With each panel in front in turn,
    each page of its tabs and the Training panel in both its modes, every Tab stop that is a
    plot shows that it has the focus; a plot the walk could not reach is no Tab stop at all."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QTabWidget

    _active_at_1400(window, qtbot)
    checked = set()

    def walk(where: str) -> None:
        settle(window, qtbot)
        visited = _tab_round(window, qtbot, Qt.Key.Key_Tab, presses=300)
        assert visited and len(visited) < 300, where  # the round came back
        for plot in {_plot_of(w) for w in visited} - {None}:
            plot.setFocus(Qt.FocusReason.TabFocusReason)
            assert _shows_focus(plot), (where, plot.objectName())
            checked.add(plot)

    for name, dock in window.docks.items():
        window.dock_manager.raise_(name)
        walk(name)
        for tabs in dock.findChildren(QTabWidget):
            for i in range(1, tabs.count()):
                tabs.setCurrentIndex(i)
                walk(f"{name}: {tabs.tabText(i)}")
            tabs.setCurrentIndex(0)
    window.dock_manager.raise_("training")
    window.training.set_mode("step")
    walk("training: step mode")
    window.training.set_mode("train")
    plots = window.findChildren(pg.GraphicsView)
    assert len(plots) > 10 and window.training.plot in plots  # every panel has been built
    assert not [p.objectName() for p in plots if p.focusPolicy() & Qt.FocusPolicy.TabFocus and p not in checked]


def test_opening_a_model_says_what_the_app_ignored_in_its_file(window, tmp_path):
    """A stored test accuracy that is no fraction is ignored with a note; the command line said
    it, the window opened such a model without a word."""
    from mnist_desktop.model import Predictor

    good = Predictor.default()
    path = tmp_path / "claims.safetensors"
    Predictor(good.model, dict(good.meta, metrics={"test_accuracy": 42})).save(path)
    assert window.files.open_model(str(path))
    said = window.statusBar().currentMessage()
    assert said.startswith(f"Opened {path}. Note: its stored test accuracy 42 is not a fraction from 0 to 1")
    assert "test accuracy" not in window.predictor.describe()


def test_the_model_label_says_on_which_test_digits_its_accuracy_is(window):
    """It said "accuracy on MNIST's 10,000 test images" of every model; a 3-vs-7 model's is
    measured on the test set's 3s and 7s (``training.prepare`` keeps the task's classes)."""
    import re

    import torch

    from mnist_desktop.model import mnist_arrays
    from mnist_desktop.model.data import task_subset

    tip = window.model_label.toolTip()
    images, labels = mnist_arrays("test")
    assert "all 10,000" in tip and len(labels) == 10_000
    count = int(re.search(r"the ([\d,]+) 3s and 7s", tip).group(1).replace(",", ""))
    # the validation set whose accuracy a 3-vs-7 model stores as its test accuracy
    kept = task_subset(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), "3v7")[1]
    assert count == len(kept) == 2038
