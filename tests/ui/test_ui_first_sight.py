"""The window as a new user meets it: what a loaded picture looks like, the
inspector's first view, the plots' ranges, and the theme."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette
from ui_helpers import line, settle, stroke

from mnist_desktop.model import mnist_arrays


# ---------------------------------------------------------------------------- item 1: pictures
def screen_ink(canvas) -> np.ndarray:
    """How much ink a grab of the canvas shows, 0 (paper) to 1 (ink), as 28×28 cells."""
    r = canvas._square().toRect().adjusted(2, 2, -2, -2)  # inside the frame line
    grab = canvas.grab(r).toImage().scaled(28, 28, mode=Qt.TransformationMode.SmoothTransformation)
    grab = grab.convertToFormat(QImage.Format.Format_RGB32)
    rgb = np.frombuffer(grab.constBits(), np.uint8).reshape(28, grab.bytesPerLine() // 4, 4)[:, :28, :3].astype(float)
    lum = rgb.mean(axis=2)
    paper = np.mean(canvas.palette().color(QPalette.ColorRole.Base).getRgb()[:3])
    ink = np.mean(canvas.palette().color(QPalette.ColorRole.Text).getRgb()[:3])
    return np.clip((lum - paper) / (ink - paper), 0, 1)


def model_ink(canvas) -> np.ndarray:
    """What the model gets, 0 (black) to 1 (white ink), as 28×28 cells."""
    return canvas.image_array().reshape(28, 10, 28, 10).mean(axis=(1, 3)) / 255.0


def dark(canvas) -> None:
    pal = QPalette(canvas.palette())
    pal.setColor(QPalette.ColorRole.Base, QColor(30, 30, 30))
    pal.setColor(QPalette.ColorRole.Text, QColor(235, 235, 235))
    pal.setColor(QPalette.ColorRole.Window, QColor(45, 45, 45))
    canvas.setPalette(pal)


def check_put_on_canvas_looks_like_a_drawing(window, qtbot):
    c = window.canvas
    inspector = window.inspector
    inspector.show_sample("test", 4)  # a 4
    sample = mnist_arrays("test")[0][4]
    with qtbot.waitSignal(window.predictionUpdated, timeout=5000):
        inspector.canvas_button.click()
    seen = screen_ink(c)
    assert (seen < 0.2).mean() > 0.7, "a grab of the canvas must be mostly paper, not ink"
    # the user sees what the model gets: the same picture, the same amount of ink
    assert np.corrcoef(seen.ravel(), model_ink(c).ravel())[0, 1] > 0.95
    assert np.abs(seen - model_ink(c)).mean() < 0.05
    assert np.corrcoef(seen.ravel(), sample.ravel())[0, 1] > 0.9

    # erasing across it: the model's input and the screen lose the ink there, alike
    before = model_ink(c)
    band = (slice(13, 15), slice(4, 24))  # the eraser is 21 px = 2 cells wide
    assert before[band].max() > 0.5  # the 4 has ink across the middle
    stroke(c, line((0.1, 0.5), (0.9, 0.5), 30), button=Qt.MouseButton.RightButton)
    settle(window, qtbot)
    after, seen = model_ink(c), screen_ink(c)
    assert after[band].max() < 0.1 and seen[band].max() < 0.1
    assert np.corrcoef(seen.ravel(), after.ravel())[0, 1] > 0.95

    # drawing on it: new ink in both
    top = (slice(1, 3), slice(8, 20))
    assert after[top].max() < 0.1
    stroke(c, line((0.3, 0.07), (0.7, 0.07), 20))
    settle(window, qtbot)
    after, seen = model_ink(c), screen_ink(c)
    assert after[top].mean() > 0.5 and seen[top].mean() > 0.5
    assert np.abs(seen - after).mean() < 0.05


def test_put_on_canvas_looks_like_a_drawing_light(window, qtbot):
    check_put_on_canvas_looks_like_a_drawing(window, qtbot)


def test_put_on_canvas_looks_like_a_drawing_dark(window, qtbot):
    dark(window.canvas)
    assert window.canvas.palette().color(QPalette.ColorRole.Base).lightness() < 50
    check_put_on_canvas_looks_like_a_drawing(window, qtbot)


def test_an_opened_file_looks_like_a_drawing(window, qtbot, tmp_path):
    # a scan: a dark 7 on white paper (what a drop opens too)
    a = np.full((120, 120), 255, np.uint8)
    a[20:30, 30:90] = 0
    a[30:100, 70:80] = 0
    path = tmp_path / "seven.png"
    assert QImage(a.data, 120, 120, 120, QImage.Format.Format_Grayscale8).copy().save(str(path))
    with qtbot.waitSignals([window.canvas.imageLoaded, window.predictionUpdated], timeout=5000):
        window.canvas.open_image(str(path))
    seen, model = screen_ink(window.canvas), model_ink(window.canvas)
    assert (seen < 0.2).mean() > 0.6 and seen.max() > 0.8  # ink on paper
    assert np.abs(seen - model).mean() < 0.05


# ---------------------------------------------------------------------------- item 2: inspector
def test_inspector_shows_all_28_rows_at_first_sight(window, qtbot):
    inspector = window.inspector
    window.docks["inspector"].raise_()
    qtbot.waitUntil(inspector.grid.isVisible)
    inspector.show_sample("test", 0)
    grid, viewport = inspector.grid, inspector.grid_scroll.viewport()

    def rows_in_view() -> int:
        top = grid.mapTo(viewport, grid.rect().topLeft()).y()
        cell = grid.height() / 28
        first, last = max(0, -top), min(grid.height(), viewport.height() - top)
        return int((last - first + 1e-6) // cell)

    qtbot.waitUntil(lambda: rows_in_view() == 28, timeout=2000)
    left = grid.mapTo(viewport, grid.rect().topLeft()).x()
    assert left >= 0 and left + grid.width() <= viewport.width()  # and all 28 columns
    assert inspector.fit_button.isChecked()

    # then zoom in: the slider takes over, and Fit brings the whole grid back
    inspector.zoom.setValue(40)
    assert not inspector.fit_button.isChecked() and grid.height() == 28 * 40 > viewport.height()
    inspector.fit_button.click()
    qtbot.waitUntil(lambda: rows_in_view() == 28, timeout=2000)
    # the panel grows (here: floated and enlarged): the grid grows with it
    cell = grid.height() / 28
    dock = window.docks["inspector"]
    dock.setFloating(True)
    dock.resize(dock.width() + 100, dock.height() + 300)
    qtbot.waitUntil(lambda: grid.height() / 28 > cell, timeout=2000)
    assert rows_in_view() == 28
    dock.setFloating(False)  # a floating window left behind would take the next test's mouse


def test_inspector_hover_follows_the_mode_and_its_precision(window, qtbot):
    from PySide6.QtCore import QPoint

    inspector = window.inspector
    window.docks["inspector"].raise_()
    qtbot.waitUntil(inspector.grid.isVisible)
    inspector.show_sample("test", 0)
    inspector.set_mode("float")
    grid = inspector.grid
    cell = grid.height() / 28
    for k in (3.5, 1.5, 0.5):  # a move into the window may only enter it: the last one lands on cell (0, 0)
        qtbot.mouseMove(grid, QPoint(int(cell * k), int(cell * k)))
    qtbot.waitUntil(lambda: inspector.hover.text().startswith("row 0, column 0:"), timeout=1000)
    assert inspector.hover.text() == "row 0, column 0: 0.000"
    inspector.modes.button(2).click()  # normalised, as the user switches it
    expected = float(inspector.displayed_values()[0, 0])
    assert expected < -0.4
    assert inspector.hover.text() == f"row 0, column 0: {expected:+.3f}"  # not a stale 0.0
    assert grid.fmt.format(expected) == f"{expected:+.2f}"  # the cells: two decimals with the sign
    inspector.modes.button(0).click()
    assert inspector.hover.text() == "row 0, column 0: 0" and grid.fmt.format(0) == "0"


# ---------------------------------------------------------------------------- item 3: plots
def fake_run(panel, accuracies=(0.986, 0.990, 0.992)):
    """A three-epoch run's reports, as the worker sends them."""
    from mnist_desktop.model.progress import TrainingProgress
    from mnist_desktop.model.training import BatchInfo, EpochInfo

    p = TrainingProgress()
    per_epoch, epochs = 50, len(accuracies)
    total = per_epoch * epochs
    for step in range(1, total + 1):
        epoch, batch = (step - 1) // per_epoch + 1, (step - 1) % per_epoch + 1
        loss = 2.5 * step**-0.8  # 2.5 at first, then a slow tail: 0.11 after an epoch, 0.045 at the end
        p.add_batch(BatchInfo(epoch, epochs, step, total, batch, per_epoch, loss, 0.1, 1000.0, 1.0, step * 64))
        if batch == per_epoch:
            p.add_epoch(EpochInfo(epoch, epochs, loss, loss * 1.1, accuracies[epoch - 1], 2.0))
    panel.plot.set_epochs(epochs)
    panel.progress_state = p
    panel._refresh(force=True)


def tail_share(plot) -> float:
    """The share of the loss axis that the last two thirds of the smoothed curve spans."""
    vb = plot.getPlotItem().vb
    vb.updateAutoRange()
    x, y = plot.smooth_curve.getData()  # as drawn: log10 of the loss on a log axis
    tail = y[x > x[-1] / 3]
    lo, hi = vb.viewRange()[1]
    return float((tail.max() - tail.min()) / (hi - lo))


def test_loss_axis_is_logarithmic_by_default_and_shows_the_tail(window, qtbot, settings):
    from mnist_desktop.ui.training import TrainingPanel

    panel = window.training
    box = window.findChild(type(panel.log_scale), "loss_log_scale")
    assert box is panel.log_scale and box.isChecked()
    fake_run(panel)
    log_share = tail_share(panel.plot)
    box.click()  # linear: the first losses flatten the rest
    assert not panel.plot.log_loss
    linear_share = tail_share(panel.plot)
    assert log_share > 0.12 > 0.05 > linear_share
    # remembered
    window.save_settings()
    other = TrainingPanel()
    qtbot.addWidget(other)
    assert other.log_scale.isChecked()
    other.restore_settings(settings)
    assert not other.log_scale.isChecked() and not other.plot.log_loss


def test_validation_accuracy_has_its_own_range_and_figures(window):
    panel = window.training
    fake_run(panel, (0.986, 0.990, 0.992))
    lo, hi = panel.plot.accuracy_axis_range()
    assert lo < 0.986 and hi > 0.992
    assert (0.992 - 0.986) / (hi - lo) > 0.5  # far apart, not a flat line at the top of 0–1
    # the figures of each epoch, printed under the plot
    figures = window.findChild(type(panel.epoch_figures), "epoch_figures")
    assert figures.isVisible()
    assert panel.figure_rows[0] == ("epoch", "train loss", "valid loss", "valid accuracy", "time")
    assert [r[3] for r in panel.figure_rows[1:]] == ["98.60 %", "99.00 %", "99.20 %"]
    assert "98.60 %" in figures.text() and "99.20 %" in figures.text()


def test_pixel_similarity_shows_its_accuracy_and_means_not_a_loss_point(window, qtbot):
    panel = window.training
    panel.task.setCurrentIndex(panel.task.findData("3v7"))
    panel.arch.setCurrentIndex(panel.arch.findData("pixel-similarity"))
    with qtbot.waitSignal(panel.finished, timeout=60_000) as blocker:
        panel.train_button.click()
    result = blocker.args[0]
    assert not panel.plot.isVisible() and not panel.log_scale.isVisible()
    acc = f"{100 * result.metrics['valid_accuracy']:.2f} %"
    assert panel.figure_rows == [("epoch", "valid accuracy", "time"), ("1/1", acc, panel.figure_rows[1][2])]
    assert acc in panel.epoch_figures.text() and "loss" not in panel.epoch_figures.text()
    assert panel.means_view.isVisible()
    # an SGD model next: the plot is back, the means go
    panel.arch.setCurrentIndex(panel.arch.findData("linear"))
    panel.epochs.setValue(1)
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        panel.train_button.click()
    assert panel.plot.isVisible() and not panel.means_view.isVisible()
    assert panel.figure_rows[0][1] == "train loss"


# ---------------------------------------------------------------------------- item 7: theme
def paper_of(canvas) -> QColor:
    """The colour a grab of the canvas shows in a corner of the drawing square."""
    r = canvas._square().toRect()
    return canvas.grab(r).toImage().pixelColor(6, 6)


def test_theme_menu_applies_at_once_and_is_remembered(window, qtbot, settings, cnn_predictor):
    from PySide6.QtWidgets import QMenu, QMessageBox

    from mnist_desktop.ui import MainWindow
    from mnist_desktop.ui.theme import apply_theme

    try:
        menu = window.findChild(QMenu, "theme_menu")
        assert menu is not None and menu.menuAction() in window.view_menu.actions()
        actions = {a.data(): a for a in menu.actions()}
        assert list(actions) == ["system", "light", "dark"] and actions["system"].isChecked()
        system_paper = paper_of(window.canvas)

        actions["dark"].trigger()
        qtbot.waitUntil(lambda: window.canvas.palette().color(QPalette.ColorRole.Base).lightness() < 80, timeout=2000)
        base = window.canvas.palette().color(QPalette.ColorRole.Base)
        assert base.lightness() < 80 and actions["dark"].isChecked() and not actions["system"].isChecked()
        assert paper_of(window.canvas) == base  # the canvas paper follows at once
        assert window.training.plot.backgroundBrush().color() == base  # and so do the plots
        assert settings.value("view/theme") == "dark"

        # the next start comes up dark
        actions["light"].trigger()
        actions["dark"].trigger()
        window.close()
        other = MainWindow(settings=settings, predictor=cnn_predictor)
        other.ask_to_save = lambda: QMessageBox.StandardButton.Discard
        qtbot.addWidget(other)
        other.show()
        qtbot.waitExposed(other)
        assert other.findChild(QMenu, "theme_menu").actions()[2].isChecked()
        qtbot.waitUntil(lambda: paper_of(other.canvas).lightness() < 80, timeout=2000)

        light = other.findChild(QMenu, "theme_menu").actions()[1]
        light.trigger()
        qtbot.waitUntil(lambda: paper_of(other.canvas).lightness() > 200, timeout=2000)
        assert paper_of(other.canvas).lightness() > 200 and settings.value("view/theme") == "light"
        other.findChild(QMenu, "theme_menu").actions()[0].trigger()
        qtbot.waitUntil(lambda: paper_of(other.canvas) == system_paper, timeout=2000) and settings.value("view/theme") == "system"
        other.close()
    finally:
        apply_theme("system")  # the application is shared with the next tests


def test_an_unknown_saved_theme_is_system(qtbot, settings, cnn_predictor):
    from PySide6.QtWidgets import QMenu

    from mnist_desktop.ui import MainWindow

    settings.setValue("view/theme", "purple")
    w = MainWindow(settings=settings, predictor=cnn_predictor)
    qtbot.addWidget(w)
    assert w.findChild(QMenu, "theme_menu").actions()[0].isChecked()
    w.close()


def test_the_chosen_training_mode_stands_out_in_either_theme(window, qtbot):
    """In the dark theme the checked Train/Step button was drawn nearly as the unchecked one."""
    from mnist_desktop.ui.theme import apply_theme

    buttons = window.training.mode_buttons
    window.dock_manager.raise_("training")
    qtbot.waitUntil(lambda: buttons["train"].isVisible() and buttons["train"].width() > 10)

    def middle(button) -> QColor:
        image = button.grab().toImage()
        return image.pixelColor(image.width() // 2, 3)  # above the text, inside the frame

    try:
        for theme in ("light", "dark"):
            apply_theme(theme)
            qtbot.waitUntil(lambda t=theme: (window.training.palette().color(QPalette.ColorRole.Window).lightness() < 128) == (t == "dark"))
            highlight = window.training.palette().color(QPalette.ColorRole.Highlight)
            for on, off in (("train", "step"), ("step", "train")):
                buttons[on].click()
                assert buttons[on].isChecked() and not buttons[off].isChecked()
                assert middle(buttons[on]) == highlight, theme
                assert abs(middle(buttons[on]).lightness() - middle(buttons[off]).lightness()) > 30 or middle(buttons[off]) != highlight, (
                    theme
                )
    finally:
        apply_theme("system")  # the application is shared with the next tests
