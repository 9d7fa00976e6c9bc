"""The window as a new user meets it: the whole network readable
at 1280×720, plain names said once, a layout that fits a small screen, and help where the user looks."""

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QRect, QSettings, Qt
from PySide6.QtGui import QKeySequence, QStatusTipEvent, QTextDocumentFragment
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QSlider,
    QToolButton,
    QWidget,
)
from ui_helpers import SEVEN_DOWN, SEVEN_TOP, settle, stroke

from mnist_desktop.ui import docks
from mnist_desktop.ui.help_texts import introduce_once


def small_screen(window, qtbot) -> None:
    """The window at 1280×720 in the default layout for it, settled."""
    window.resize(1280, 720)
    window.reset_layout()
    seen = []

    def settled():
        seen.append((window.size(), window.activations.geometry(), window.training.plot.geometry()))
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    qtbot.waitUntil(settled)


def raise_dock(window, qtbot, name) -> None:
    window.docks[name].raise_()
    qtbot.waitUntil(window.docks[name].widget().isVisible)


def inside(widget: QWidget, panel: QWidget) -> bool:
    return panel.rect().contains(QRect(widget.mapTo(panel, QPoint(0, 0)), widget.size()))


# ---------------------------------------------------------------- 4. activations
def test_every_layer_in_view_and_the_output_labelled_at_1280x720(window, qtbot):
    small_screen(window, qtbot)
    raise_dock(window, qtbot, "activations")
    panel = window.activations
    stroke(window.canvas, SEVEN_TOP)
    stroke(window.canvas, SEVEN_DOWN)
    settle(window, qtbot)
    assert not panel.findChildren(QScrollArea)  # nothing to scroll…
    tiles = [*panel.weight_panels.values(), *panel.panels.values()]
    assert list(panel.panels) == list(window.predictor.activations(window.x28))  # one tile per layer
    for view in [*tiles, panel.detail, panel.output]:
        assert view.isVisible() and inside(view, panel)  # …and every layer in view
        assert view.height() >= (30 if view in tiles else 20)
    assert panel.detail.height() >= 200  # one layer large
    # the output layer: the classes and their probabilities, as words
    texts = panel.output.texts()
    assert [t.split("\n")[0] for t in texts] == [str(c) for c in window.predictor.classes] == [str(d) for d in range(10)]
    assert [t.split("\n")[1] for t in texts] == [f"{100 * p:.0f} %" for p in window.probabilities]


def test_a_click_on_a_tile_shows_the_layer_large_and_whole(window, qtbot):
    small_screen(window, qtbot)
    raise_dock(window, qtbot, "activations")
    panel = window.activations
    stroke(window.canvas, SEVEN_TOP)
    settle(window, qtbot)
    flatten = panel.panels["flatten"]
    with qtbot.waitSignal(panel.layerSelected, timeout=1000) as blocker:
        qtbot.mouseClick(flatten.view.viewport(), Qt.MouseButton.LeftButton)
    assert blocker.args == ["flatten"] and panel.selected_layer() == "flatten"
    shown = panel.detail.image.image
    np.testing.assert_array_equal(shown, flatten.image.image)
    units = window.predictor.activations(window.x28)["flatten"].size
    assert np.count_nonzero(~np.isnan(shown)) == units  # every unit, none clipped
    (x0, x1), (y0, y1) = panel.detail.box.viewRange()
    assert x0 <= 0 and y0 <= 0 and x1 >= shown.shape[1] and y1 >= shown.shape[0]  # all of it in view
    # a new stroke updates the large view too
    stroke(window.canvas, SEVEN_DOWN)
    settle(window, qtbot)
    np.testing.assert_array_equal(panel.detail.image.image, panel.panels["flatten"].image.image)
    assert not np.array_equal(panel.detail.image.image, shown, equal_nan=True)
    # weights views are selectable too, and say whose layer they are
    with qtbot.waitSignal(panel.layerSelected, timeout=1000) as blocker:
        qtbot.mouseClick(panel.weight_panels["conv1"].view.viewport(), Qt.MouseButton.LeftButton)
    assert blocker.args == ["conv1"] and "filters" in panel.detail.title.text()
    panel.select_layer("fc")  # the output layer says what its cells are
    assert "score for each class (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)" in panel.detail.title.text()


# ---------------------------------------------------------------- 5. names, once each
def test_plain_names_said_once(window):
    losses = [window.training.loss.itemText(i) for i in range(window.training.loss.count())]
    assert "MNIST loss (sigmoid distance)" in losses and not any("_" in text for text in losses)
    assert window.training.loss.findData("mnist-loss") >= 0  # the key settings and checkpoints store
    view = [a.text() for a in window.view_menu.actions()]
    assert "Toolbar" in view and "Main" not in view
    for action in (window.undo_action, window.redo_action, window.clear_action):
        buttons = [b for b in window.findChildren(QToolButton) if b.defaultAction() is action and b.isVisible()]
        assert len(buttons) == 1, action.text()  # the toolbar's, not a second row under the canvas
    assert window.eraser_button.isVisible()


# ---------------------------------------------------------------- 6. small screens
def test_the_default_layout_fits_a_small_screen(window, qtbot):
    small_screen(window, qtbot)
    raise_dock(window, qtbot, "training")
    plot = window.training.plot
    assert plot.width() >= 500 and plot.height() >= 300, plot.size()
    assert inside(plot, window.docks["training"].widget().viewport())  # all of it in view, no scrolling
    raise_dock(window, qtbot, "activations")
    rows = {view.mapTo(window.activations, QPoint(0, 0)).y() for view in window.activations.panels.values()}
    assert len(rows) > 1 and all(inside(v, window.activations) for v in window.activations.panels.values())
    assert window.dock_manager.layout_name() == "compact"
    assert docks.layout_for_size(1280, 720) == "compact" and docks.layout_for_size(1728, 1000) == "wide"


def test_reset_layout_gives_the_layout_for_the_screen_back(window, qtbot):
    small_screen(window, qtbot)
    window.docks["activations"].setFloating(True)
    window.removeDockWidget(window.docks["training"])
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, window.docks["training"])
    window.toolbar.hide()
    window.reset_layout_action.trigger()
    areas = docks.DOCK_LAYOUTS["compact"]
    for name, dock in window.docks.items():
        assert not dock.isFloating() and window.dockWidgetArea(dock) == areas[window.dock_groups[name]][0], name
    assert window.toolbar.isVisible()
    assert len({frozenset(window.tabifiedDockWidgets(d)) | {d} for d in window.docks.values()}) == 1  # one tab stack


# ---------------------------------------------------------------- 8. explanations
CONTROLS = (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider, QLineEdit, pg.GraphicsView)


def unexplained(window) -> list[str]:
    missing = []
    for w in window.findChildren(QWidget):
        internal = w.objectName().startswith("qt_") or w.objectName().startswith("Scroll")  # Qt's own parts
        if isinstance(w, CONTROLS) and w.isVisible() and not internal and not (w.toolTip() or w.statusTip()):
            missing.append(f"{type(w).__name__} {w.objectName()!r} {getattr(w, 'text', lambda: '')()!r}")
    return missing


def test_every_control_plot_and_panel_explains_itself(window, qtbot):
    for name in window.docks:  # every panel in turn, as the user would open it
        raise_dock(window, qtbot, name)
        assert not unexplained(window), name
    for w in (window.prediction, window.training, window.activations, window.inspector, window.evaluation, window.my_digits):
        assert w.statusTip() or w.toolTip(), w.objectName()
    for action in window.actions():
        assert action.statusTip(), action.text()


def test_the_help_strip_says_what_the_mouse_is_over(window, qtbot):
    strip = window.help_strip
    assert strip.isVisible() and strip.text()
    qtbot.mouseMove(window.brush)
    qtbot.waitUntil(lambda: "Brush size" in strip.text())
    qtbot.mouseMove(window.canvas)
    qtbot.waitUntil(lambda: "Draw a digit" in strip.text())
    window.statusBar().showMessage("Saved somewhere", 5000)  # the status bar's messages are kept
    qtbot.mouseMove(window.brush)
    qtbot.waitUntil(lambda: "Brush size" in strip.text())
    assert window.statusBar().currentMessage() == "Saved somewhere"
    window.train_action.showStatusText(window.menuBar())  # what a menu does for the item under the mouse
    assert strip.full_text == window.train_action.statusTip()  # shown whole, or cut with "…" (below)


def test_the_canvas_help_follows_number_mode(window, qtbot):
    """Found by a review: in Number mode the canvas said "Write a number here" while the help
    strip, on hover, still said "Draw a digit here … Drop an image file to classify it"."""
    strip = window.help_strip
    train = window.toolbar.widgetForAction(window.train_action)  # on screen in both modes: the strip's line changes from it

    def hover_canvas(words: str) -> None:
        qtbot.mouseMove(train)
        qtbot.waitUntil(lambda: strip.full_text == window.train_action.statusTip())
        qtbot.mouseMove(window.canvas)
        qtbot.waitUntil(lambda: words in strip.full_text)

    window.number_mode_action.trigger()
    hover_canvas("Write a number")
    assert "Draw a digit" not in strip.full_text and "classify" not in strip.full_text
    assert "Write a number" in window.canvas.toolTip() and "Draw a digit" not in window.canvas.toolTip()
    window.number_mode_action.trigger()  # back to one digit: its own help again
    hover_canvas("Draw a digit")
    assert "Draw a digit" in window.canvas.toolTip()


def test_help_menu_introduction_and_generated_shortcuts(window, qtbot):
    assert [a.text().replace("&", "") for a in window.help_menu.actions() if not a.isSeparator()][:2] == [
        "Introduction",
        "Keyboard shortcuts",
    ]
    assert window.about_action in window.help_menu.actions()
    window.introduction_action.trigger()
    intro = window.findChild(QMessageBox, "introduction")
    qtbot.waitUntil(lambda: intro.isVisible())
    assert "Draw a digit" in intro.text() and "Chapter 4" in intro.text()
    assert "white" not in intro.text()  # the canvas is dark in the dark theme
    intro.close()
    window.shortcuts_action.trigger()
    box = window.findChild(QMessageBox, "keyboard_shortcuts")
    qtbot.waitUntil(lambda: box.isVisible())
    listed = box.text()
    for action in window.actions():
        for key in action.shortcuts():
            text = key.toString(QKeySequence.SequenceFormat.PortableText)
            if "+" in text[:-1] or text in ("Esc", "Del", "F1"):
                assert key.toString(QKeySequence.SequenceFormat.NativeText).replace("&", "&amp;") in listed, action.text()
    keys = [k for _, ks in window.shortcut_list() for k in ks.split(", ")]
    assert not {"F14", "Undo", "Redo", "Exit", "Help"} & set(keys), keys  # keys few keyboards have
    assert ("Step mode: next phase", "Space") in window.shortcut_list()
    assert "Train" in listed and "Ctrl+T" in window.shortcut_list()[[t for t, _ in window.shortcut_list()].index("Train")][1]
    box.close()


def test_the_introduction_names_the_panels_as_their_tabs_say_them(window, qtbot):
    """On a small screen the tabs say "Layers" and "Inspector": the introduction says so too."""
    for size, names in (((1280, 720), ("Layers", "Inspector")), ((1400, 900), ("Activations", "Tensor inspector"))):
        window.resize(*size)
        window.reset_layout()
        settle(window, qtbot)
        intro = window.show_introduction()
        qtbot.waitUntil(lambda box=intro: box.isVisible())
        shown = {window.docks[n].windowTitle() for n in ("activations", "inspector")}
        assert shown == set(names)
        assert all(f"<b>{name}</b>" in intro.text() for name in names), intro.text()
        intro.close()


def test_a_first_launch_shows_the_introduction_once(window, qtbot, settings):
    assert settings.value("help/introduced") is None  # a fresh settings file: a first launch
    box = introduce_once(window, settings)
    qtbot.waitUntil(lambda: box.isVisible())
    assert box.objectName() == "introduction" and "Draw a digit" in box.text()
    box.close()  # skipped with one click
    assert introduce_once(window, settings) is None  # never again
    settings.sync()
    assert QSettings(settings.fileName(), QSettings.Format.IniFormat).value("help/introduced") in (True, "true")
    assert window.introduction_action in window.help_menu.actions()  # still there in Help


def test_a_window_resized_across_the_threshold_is_laid_out_for_its_new_size(window, qtbot):
    window.resize(1500, 950)
    window.reset_layout()
    assert window.dock_manager.applied == "wide"
    stacks = lambda: len({frozenset(window.tabifiedDockWidgets(d)) | {d} for d in window.docks.values()})  # noqa: E731
    assert stacks() == 2
    window.resize(1280, 720)  # across the threshold: one tab stack on the right, without Reset layout
    qtbot.waitUntil(lambda: window.dock_manager.applied == "compact")
    assert stacks() == 1
    window.resize(1300, 740)  # a resize within the same layout keeps what is there
    assert window.size().width() == 1300 and not window.dock_manager.relayout.isActive()
    assert window.dock_manager.applied == "compact" and stacks() == 1
    window.resize(1500, 950)
    qtbot.waitUntil(lambda: window.dock_manager.applied == "wide")
    assert stacks() == 2


def test_a_tip_too_long_for_the_help_strip_ends_in_an_ellipsis_and_shows_whole_in_its_tooltip(window, qtbot):
    """At 1280×720 the strip has ~830 px beside the model's name; most tips are longer. They
    were cut at the strip's edge mid-word ("… and validation accuracy (squares, right a")."""
    window.resize(1280, 720)
    strip = window.help_strip
    qtbot.waitUntil(lambda: strip.width() < 1000)
    tip = window.training.plot.statusTip()
    metrics = strip.fontMetrics()
    assert metrics.horizontalAdvance(tip) > strip.contentsRect().width()  # a tip the strip cannot hold
    QApplication.sendEvent(window, QStatusTipEvent(tip))
    shown = strip.text()
    assert shown.endswith("…") and tip.startswith(shown[:-1])  # cut where it must, and said so
    assert metrics.horizontalAdvance(shown) <= strip.contentsRect().width()
    assert strip.toolTip() == tip.replace("\n", " ") and strip.full_text == tip.replace("\n", " ")
    window.resize(1900, 720)  # room again: the whole tip
    qtbot.waitUntil(lambda: strip.text() == tip.replace("\n", " "))


def test_the_help_strip_shows_a_tooltip_as_it_is_now_not_as_it_was_at_start_up(window, qtbot):
    """The review saw "My digits is empty: …" in the strip over "Fine-tune on my digits" with
    7 digits saved, all through the fine-tune: the strip showed a copy of the tooltip taken at
    start-up, while the button's tooltip (and the dock) said otherwise."""
    strip = window.help_strip
    raise_dock(window, qtbot, "my_digits")
    button = window.my_digits.fine_tune_button
    qtbot.mouseMove(window.canvas)  # offscreen, a first move only places the mouse: no Enter
    qtbot.mouseMove(button)
    qtbot.waitUntil(lambda: strip.full_text == QTextDocumentFragment.fromHtml(button.toolTip()).toPlainText())
    qtbot.mouseMove(window.canvas)
    qtbot.waitUntil(lambda: "Draw a digit" in strip.text())

    button.setToolTip("Train the active model further on your <b>7 digits</b>.")  # as set when digits are saved
    qtbot.mouseMove(button)
    qtbot.waitUntil(lambda: strip.full_text == "Train the active model further on your 7 digits.")
    button.setToolTip("Fine-tuning: its progress is in the Training panel.")  # changed under the mouse
    qtbot.waitUntil(lambda: strip.full_text == "Fine-tuning: its progress is in the Training panel.")

    # a widget made after start-up, with a tooltip set once it is on screen
    late = QToolButton(window.my_digits, text="late")
    late.show()
    qtbot.waitExposed(late)
    late.setToolTip("Made after start-up.")
    qtbot.mouseMove(window.canvas)
    qtbot.mouseMove(late)
    qtbot.waitUntil(lambda: strip.full_text == "Made after start-up.")

    # a status tip of the widget's own, unlike its tooltip, is kept
    window.my_digits.import_button.setStatusTip("Its own status tip.")
    window.my_digits.import_button.setToolTip("Another tooltip.")
    assert window.my_digits.import_button.statusTip() == "Its own status tip."
