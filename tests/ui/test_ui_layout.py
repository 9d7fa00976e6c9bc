"""Nothing clipped, nothing overlapping: every panel, brought to the front in turn, shows each
button's and label's text whole and fits its dock, at 1280×720 and 1400×900, light and dark;
every tab title is shown whole."""

import threading
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QFontMetrics, QTextDocumentFragment
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QTabBar,
    QToolButton,
    QWidget,
)
from ui_helpers import make_predictor

import mnist_desktop.model as engine
from mnist_desktop.ui import docks, evaluation
from mnist_desktop.ui.theme import apply_theme


def first_line(text: str) -> str:
    if "<" in text and ">" in text:
        text = QTextDocumentFragment.fromHtml(text).toPlainText()
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").split("\n")[0]


def shown_text(w: QWidget) -> str | None:
    """The one line of text ``w`` draws in its width, or None (wraps, or draws no text)."""
    if isinstance(w, QLabel):
        if w.wordWrap() or (w.pixmap() is not None and not w.pixmap().isNull()):
            return None
        return first_line(w.text())
    if isinstance(w, QToolButton) and not w.icon().isNull() and w.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly:
        return None
    if isinstance(w, QAbstractButton):
        return first_line(w.text())
    if isinstance(w, QProgressBar) and w.isTextVisible():
        return first_line(w.text())
    return None


def text_room(w: QWidget) -> int:
    """The width ``w`` has for its text: its contents, less its icon and a button's frame."""
    room = w.contentsRect().width()
    beside = not (isinstance(w, QToolButton) and w.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
    if isinstance(w, QAbstractButton) and not w.icon().isNull() and beside:
        room -= w.iconSize().width() + 4
    if isinstance(w, QPushButton):
        room -= 2 * w.style().pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, w)
    return room


def elided_on_purpose(w: QWidget, text: str) -> bool:
    """A text cut short by the code, with its whole in the tooltip."""
    return text.endswith("…") and text[:-1] in first_line(w.toolTip()) if w.toolTip() else False


def in_inner_scroll(w: QWidget, dock: QWidget) -> bool:
    p = w.parentWidget()
    while p is not None and p is not dock:
        if isinstance(p, QAbstractScrollArea) and p is not dock.widget():
            return True
        p = p.parentWidget()
    return False


def clipped(root: QWidget) -> list[str]:
    """Every visible text under ``root`` wider than the widget showing it, and every widget that
    sticks out of ``root`` sideways."""
    found = []
    width = root.width()
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.visibleRegion().isEmpty() or w.objectName().startswith("qt_"):
            continue
        text = shown_text(w)
        if text:
            need = QFontMetrics(w.font()).horizontalAdvance(text)
            if need > text_room(w) and not elided_on_purpose(w, text):
                found.append(f"{type(w).__name__} {w.objectName()!r} {text!r}: {need} px in {text_room(w)}")
        if text is not None and not in_inner_scroll(w, root):
            x = w.mapTo(root, QPoint(0, 0)).x()
            if x < 0 or x + w.width() > width:
                found.append(f"{type(w).__name__} {w.objectName()!r} {text!r} beyond the dock: {x}..{x + w.width()} of {width}")
    return found


def qt_own(w: QWidget) -> bool:
    """One of Qt's own parts (a tab bar's scroll arrows sit on top of each other by design)."""
    return w.objectName().startswith("qt_") or w.objectName() in ("ScrollLeftButton", "ScrollRightButton")


def overlapping(root: QWidget) -> list[str]:
    """Pairs of visible sibling texts (labels, buttons, progress bars) under ``root`` that overlap."""
    found = []
    for parent in [root, *root.findChildren(QWidget)]:
        kids = [w for w in parent.children() if isinstance(w, (QLabel, QAbstractButton, QProgressBar)) and w.isVisible() and not qt_own(w)]
        for i, a in enumerate(kids):
            for b in kids[i + 1 :]:
                if a.geometry().intersects(b.geometry()):
                    found.append(f"{a.objectName() or shown_text(a)!r} overlaps {b.objectName() or shown_text(b)!r}")
    return found


def plots_cut(root: QWidget) -> list[str]:
    """Every visible plot under ``root`` wider or taller than its view (a long title or axis
    label makes a pyqtgraph plot its own size, whatever room its widget has)."""
    found = []
    for view in root.findChildren(pg.GraphicsView):
        if not view.isVisible():  # (its visibleRegion is empty offscreen)
            continue
        shown = view.mapToScene(view.viewport().rect()).boundingRect()
        for item in view.scene().items():
            if isinstance(item, pg.PlotItem) and item.isVisible():
                r = item.sceneBoundingRect()
                if r.width() > shown.width() + 1 or r.height() > shown.height() + 1:
                    found.append(
                        f"plot {view.objectName()!r} {r.width():.0f}×{r.height():.0f} in a view of {shown.width():.0f}×{shown.height():.0f}"
                    )
    return found


def tab_titles_cut(window) -> list[str]:
    """Every visible tab whose title does not fit its tab (Qt elides it: "Tr…")."""
    cut = []
    for bar in window.findChildren(QTabBar):
        if not bar.isVisible():
            continue
        space = bar.style().pixelMetric(QStyle.PixelMetric.PM_TabBarTabHSpace, None, bar)
        metrics = QFontMetrics(bar.font())
        for i in range(bar.count()):
            need = metrics.horizontalAdvance(bar.tabText(i)) + space
            if bar.tabRect(i).width() < need:
                cut.append(f"{bar.tabText(i)!r}: {bar.tabRect(i).width()} px for {need}")
    return cut


def settle(window, qtbot) -> None:
    seen = []

    def settled():
        seen.append([d.widget().geometry() for d in window.docks.values()] + [window.size()])
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    qtbot.waitUntil(settled)


def with_my_digits(window, folder) -> None:
    """A few digits in My digits (in ``folder``): the gallery shows captions, the counts a table."""
    window.my_digits.set_folder(folder)
    rng = np.random.default_rng(0)
    for label in range(10):
        window.my_digits.add((rng.random((28, 28)) * 255).astype(np.uint8), label)


def test_every_panel_fits_its_dock_and_every_text_shows_whole(window, qtbot, tmp_path):
    with_my_digits(window, tmp_path / "digits")
    failures = []
    try:
        for theme in ("light", "dark"):
            apply_theme(theme)
            for size in (QSize(1280, 720), QSize(1400, 900)):
                window.resize(size)
                window.reset_layout()
                settle(window, qtbot)
                where = f"{size.width()}×{size.height()} {theme}"
                failures += [f"{where} tab {t}" for t in tab_titles_cut(window)]
                failures += [f"{where} centre: {t}" for t in clipped(window.centralWidget()) + overlapping(window.centralWidget())]
                for name, dock in window.docks.items():
                    window.dock_manager.raise_(name)
                    qtbot.waitUntil(dock.widget().isVisible)
                    settle(window, qtbot)
                    scroll = dock.widget()
                    if isinstance(scroll, QAbstractScrollArea) and scroll.horizontalScrollBar().isVisible():
                        failures.append(f"{where} {name}: wider than its dock (scrolls sideways)")
                    failures += [f"{where} {name}: {t}" for t in clipped(dock) + overlapping(dock) + plots_cut(dock)]
                    failures += [f"{where} tab {t}" for t in tab_titles_cut(window)]  # the panel's own tabs
    finally:
        apply_theme("system")  # the application is shared with the next tests
    assert not failures, "\n".join(dict.fromkeys(failures))


def test_tab_titles_whole_in_a_window_smaller_than_1280x720(window, qtbot):
    """At 1024×640 the tabs do not all fit: each keeps its whole title, the bar scrolls."""
    window.resize(1024, 640)
    window.reset_layout()
    settle(window, qtbot)
    assert not tab_titles_cut(window)
    for name in ("evaluation", "training"):  # and the panels' own tabs
        window.dock_manager.raise_(name)
        settle(window, qtbot)
        assert not tab_titles_cut(window), name
    # a stack the user makes by dragging docks together gets a tab bar Qt makes then: whole titles there too
    bar = QTabBar(window)
    bar.setElideMode(Qt.TextElideMode.ElideRight)  # as QMainWindow makes its dock tab bars
    bar.ensurePolished()
    assert bar.elideMode() == Qt.TextElideMode.ElideNone and bar.usesScrollButtons()


def test_tab_titles_whole_at_1280x720(window, qtbot):
    window.resize(1280, 720)
    window.reset_layout()
    settle(window, qtbot)
    titles = {window.docks[n].windowTitle() for n in window.docks}
    bars = [b for b in window.findChildren(QTabBar) if b.isVisible() and {b.tabText(i) for i in range(b.count())} & titles]
    assert bars  # the docks share a tab stack at this size
    assert not tab_titles_cut(window)
    assert docks.layout_for_size(1280, 720) == "compact"


def test_the_evaluation_progress_shows_its_stage_whole(window, qtbot):
    window.resize(1280, 720)
    window.reset_layout()
    window.dock_manager.raise_("evaluation")
    panel = window.evaluation
    qtbot.waitUntil(panel.isVisible)
    panel._start(("evaluation",))
    for stage in evaluation.stage_texts():  # "Corruption suite: impulse noise done…", and each other
        panel._on_progress(panel._generation, (3, 10, stage))
        settle(window, qtbot)
        assert panel.progress.isVisible() and panel.stage.isVisible() and panel.stage.text() == stage
        assert panel.progress.text() == "30 %"  # the bar says how far, the label which stage
        assert not clipped(window.docks["evaluation"])


def test_the_first_launch_on_a_small_screen_fills_it_with_a_canvas_to_draw_on(qtbot, settings, cnn_predictor, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from mnist_desktop.ui import MainWindow

    assert docks.first_window_size(QSize(1920, 1080)) == QSize(1400, 920)  # a large screen: 90 %, at most 1400×920
    assert docks.first_window_size(QSize(1280, 720)) == QSize(1280, 720)  # a small one: all of it, not 1152×648
    monkeypatch.setattr(docks, "available_screen_size", lambda _widget: QSize(1280, 720))
    window = MainWindow(settings=settings, predictor=cnn_predictor)  # no saved geometry: a first launch
    window.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    settle(window, qtbot)
    try:
        assert window.size() == QSize(1280, 720) and window.dock_manager.applied == "compact"
        square = window.canvas._square()
        assert min(square.width(), square.height()) >= 240, square  # 1152×648 gave ~200 px
        assert not tab_titles_cut(window)
    finally:
        window.close()


def test_a_squeezed_prediction_column_keeps_every_caption_clear_of_the_picture(window, qtbot):
    """The default window (1400×900, docks under the canvas) leaves the prediction column at
    its minimum height. With saliency on ("Saliency: 3" is wider) the caption under the picture
    wraps to two lines and the nearest digits' caption to two as well: the column took their
    wrapped heights as wishes only and drew the caption half under the picture."""
    from ui_helpers import ONE, stroke
    from ui_helpers import settle as classified

    from mnist_desktop.ui.nearest import COMPUTING

    window.resize(1400, 900)
    window.reset_layout()
    settle(window, qtbot)
    window.prediction.saliency_toggle.setChecked(True)
    stroke(window.canvas, ONE)
    classified(window, qtbot)
    qtbot.waitUntil(lambda: window.prediction.saliency is not None, timeout=5000)
    window.nearest_strip.show_message(COMPUTING)  # as while the features are computed
    window.nearest_strip.show()
    settle(window, qtbot)
    panel = window.prediction
    caption = next(w for w in panel.findChildren(QLabel) if w.text().startswith("What the model sees"))
    assert caption.height() >= caption.heightForWidth(caption.width())  # every line it wraps to
    picture = QRect(panel.preview.mapTo(panel, QPoint(0, 0)), panel.preview.size())
    assert not picture.intersects(QRect(caption.mapTo(panel, QPoint(0, 0)), caption.size()))
    strip = window.nearest_strip
    assert strip.caption.height() >= strip.caption.heightForWidth(strip.caption.width())
    assert not overlapping(window.centralWidget())


def test_number_mode_on_and_off_gives_the_panels_their_width_back(window, qtbot):
    """The wide number canvas takes room from the panels at 1280×720; turning it off gives the
    panels back their width (they stayed squeezed, their tab titles cut, until Reset layout)."""
    window.resize(1280, 720)
    window.reset_layout()
    settle(window, qtbot)
    dock = window.docks["training"]
    before = dock.width()
    for _ in range(2):
        window.number_mode_action.trigger()
        settle(window, qtbot)
        window.number_mode_action.trigger()
        settle(window, qtbot)
        assert abs(dock.width() - before) <= 2, (before, dock.width())
        assert not tab_titles_cut(window)
    # a layout applied in between (the window resized across the small-screen threshold) keeps
    # its own widths: those from before Number mode belong to the other layout
    window.number_mode_action.trigger()
    window.resize(1500, 900)
    window.dock_manager.apply_layout()
    settle(window, qtbot)
    wide = dock.width()
    window.number_mode_action.trigger()
    settle(window, qtbot)
    assert abs(dock.width() - wide) <= 2 and dock.width() < before, (wide, dock.width(), before)


@pytest.mark.parametrize("name", ["inspector", "activations", "my_digits"])
def test_number_mode_on_and_off_gives_the_width_back_whichever_tab_is_raised(window, qtbot, name):
    """Found by a review: with the Inspector (or Layers) tab raised, Number mode on then off left
    the side dock ~490 px wide instead of ~730, its controls behind a scroll bar: the width was
    kept and given back to the stack's first dock (Training), which Qt only covers, and resizing
    a covered dock does nothing."""
    window.resize(1280, 720)
    window.reset_layout()
    settle(window, qtbot)
    dock = window.docks[name]
    dock.raise_()
    settle(window, qtbot)
    before = dock.width()
    window.number_mode_action.trigger()
    settle(window, qtbot)
    window.number_mode_action.trigger()
    settle(window, qtbot)
    assert abs(dock.width() - before) <= 2, (before, dock.width())
    # another tab raised while Number mode was on: the one on screen gets the width back
    window.number_mode_action.trigger()
    settle(window, qtbot)
    window.docks["training"].raise_()
    settle(window, qtbot)
    window.number_mode_action.trigger()
    settle(window, qtbot)
    assert abs(window.docks["training"].width() - before) <= 2, (before, window.docks["training"].width())


def test_the_picture_caption_reads_in_two_lines_beside_not_a_digit(window, qtbot):
    """The answer "not a digit" (large, bold) widens the answer's column: the caption of what the model
    sees, squeezed beside the Saliency toggle, wrapped to four lines of a word or two. Whole, in
    at most two lines, clear of the picture and of the toggle, at every common window size."""
    panel = window.prediction
    probabilities = np.full(10, 0.056, dtype=np.float32)
    probabilities[1] = 0.496
    for size in (QSize(1280, 720), QSize(1024, 640), QSize(1400, 900)):
        window.resize(size)
        window.reset_layout()
        panel.show_prediction(list(range(10)), probabilities, np.zeros((28, 28), np.float32), is_digit=False)
        settle(window, qtbot)
        assert panel.not_a_digit.isVisible()
        caption = panel.findChild(QLabel, "preview_caption")
        assert caption.text() == "What the model sees (28×28)"  # nothing of it hidden
        lines = round(caption.heightForWidth(caption.width()) / caption.fontMetrics().lineSpacing())
        assert lines <= 2 and caption.height() >= caption.heightForWidth(caption.width()), (size, caption.width(), lines)
        place = QRect(caption.mapTo(panel, QPoint(0, 0)), caption.size())
        for other in (panel.preview, panel.saliency_toggle):
            assert not place.intersects(QRect(other.mapTo(panel, QPoint(0, 0)), other.size())), (size, other)
        assert not overlapping(panel)


def in_view(w: QWidget, scroll: QAbstractScrollArea) -> bool:
    """Whether all of ``w`` shows in ``scroll``'s viewport."""
    view = scroll.viewport()
    return view.rect().contains(QRect(w.mapTo(view, QPoint(0, 0)), w.size()))


def curves_height(plot) -> float:
    """The height of a plot's data area: the plot less its axes and legend."""
    return plot.getPlotItem().vb.sceneBoundingRect().height()


def test_a_finished_run_offered_at_1280x720_shows_a_readable_plot_with_its_message_and_figures(window, qtbot):
    """The run's message, "Use the new model" and the epoch figures under the plot made the
    Training panel taller than its dock: the scroll area gave the plot its 220-px hint, 113 px of
    curves under the axes and a two-line legend, and left the figures below the fold. The plot
    asks for 200 px of curves, and the end of the run scrolls the panel to it."""
    window.resize(1280, 720)
    window.reset_layout()
    settle(window, qtbot)
    window.dock_manager.raise_("training")
    panel = window.training
    panel.task.setCurrentIndex(panel.task.findData("3v7"))
    panel.arch.setCurrentIndex(panel.arch.findData("linear"))
    panel.epochs.setValue(3)
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        panel.train_button.click()
        window.set_predictor(make_predictor("linear"))  # another model meanwhile: the run's is offered
    settle(window, qtbot)
    assert panel.offered and panel.stopped_row.isVisible() and len(panel.figure_rows) == 4
    assert curves_height(panel.plot) >= 200, curves_height(panel.plot)
    scroll = window.docks["training"].widget()
    assert scroll.verticalScrollBar().maximum() > 0  # the panel is taller than the dock: it scrolled to the run
    for part in (panel.message, panel.stopped_row, panel.log_scale, panel.plot, panel.epoch_figures):
        assert in_view(part, scroll), part.objectName()
    assert not clipped(window.docks["training"]) + plots_cut(window.docks["training"])
    # the other common sizes: as many curves, the legend on one line where the plot is wide (its
    # width at a size depends on the dock layout the window had: 430 or 578 px at 1400×900)
    for size in (QSize(1400, 900), QSize(1024, 640), QSize(1280, 720)):
        window.resize(size)
        window.reset_layout()
        window.dock_manager.raise_("training")
        settle(window, qtbot)
        width = panel.plot.width()
        if width >= 620:
            assert panel.plot.legend_lines() == 1, (size, width)
        elif width <= 500:
            assert panel.plot.legend_lines() == 2, (size, width)
        qtbot.waitUntil(lambda: panel.plot.height() == panel.plot.sizeHint().height())  # the dock's scroll area follows
        assert curves_height(panel.plot) >= 200, (size, curves_height(panel.plot))
        assert not plots_cut(window.docks["training"]), size


def test_a_run_started_at_1024x640_brings_its_stop_button_and_plot_into_view(window, qtbot):
    """At 1024×640 the Training panel is taller than its dock: a run started from the toolbar
    (another tab in front) showed its settings, the plot all below the fold."""
    window.resize(1024, 640)
    window.reset_layout()
    window.dock_manager.raise_("activations")
    settle(window, qtbot)
    panel = window.training
    panel.task.setCurrentIndex(panel.task.findData("3v7"))
    panel.arch.setCurrentIndex(panel.arch.findData("linear"))
    panel.epochs.setValue(20)
    window.train_action.trigger()
    scroll = window.docks["training"].widget()
    try:
        qtbot.waitUntil(lambda: in_view(panel.stop_button, scroll) and in_view(panel.plot, scroll))
        assert scroll.verticalScrollBar().maximum() > 0  # it had to scroll
    finally:
        with qtbot.waitSignal(panel.finished, timeout=60_000):
            panel.stop()


class StopAfter:
    """A stop event for engine.train that turns on by itself once ``batches`` batches have been
    trained (the loop asks it once before each batch), or with ``also`` (the window's Stop)."""

    def __init__(self, batches: int, also):
        self.asked, self.batches, self.also = 0, batches, also

    def is_set(self) -> bool:
        self.asked += 1
        return self.asked > self.batches or self.also.is_set()

    def wait(self, timeout: float) -> bool:  # while paused (not in these tests)
        return self.also.wait(timeout)


def test_a_stopped_run_at_1400x900_fits_its_dock_and_counts_its_batches_once(window, qtbot):
    """A run stopped in epoch 2 after 277 of its 469 batches. Its table row "2/2 (stopped: 277/469
    batches)", a cell that cannot wrap, made the Training panel 504 px wide in a 448-px view (a
    horizontal scroll bar; fields, "Save…", the plot's accuracy axis and the "time" column cut);
    and the message and the progress bar said batch 276 (the last report, every 5 steps) where
    the table said 277. The row is now "2/2*", with the batches in a wrapped line under it, and
    every figure is the run's count."""
    window.resize(1400, 900)
    window.reset_layout()
    window.dock_manager.raise_("training")
    settle(window, qtbot)
    panel = window.training
    config = replace(engine.recommended_config("digits", "mlp"), epochs=2)  # batches of 128: 469 an epoch
    panel.set_config(config)

    def task(on_batch, on_epoch, on_note, stop_event, pause_event):
        stop = StopAfter(469 + 277, stop_event)
        return engine.train(config, on_batch=on_batch, on_epoch=on_epoch, on_note=on_note, stop_event=stop, pause_event=pause_event)

    with qtbot.waitSignal(panel.finished, timeout=180_000) as blocker:
        assert panel.start(config, task=task)
    settle(window, qtbot)
    result = blocker.args[0]
    assert result.stopped and (result.history[-1].epoch, result.history[-1].batches_done) == (2, 277)
    # the panel as wide as its dock, as a finished run's
    scroll = window.docks["training"].widget()
    assert scroll.horizontalScrollBar().maximum() == 0, (panel.width(), scroll.viewport().width())
    assert panel.width() <= scroll.viewport().width()
    assert not clipped(window.docks["training"]) + plots_cut(window.docks["training"])
    for part in (panel.message, panel.stopped_row, panel.epoch_figures, panel.epoch_note):
        assert in_view(part, scroll), part.objectName()
    # one count everywhere: the message, the progress bar, the table and its note, the plot's last point
    assert "Stopped at epoch 2, batch 277/469." in panel.message.text()
    assert "epoch 2/2 · batch 277/469" in panel.progress.text() and panel.progress.value() == 469 + 277
    assert panel.figure_rows[-1][0] == "2/2*"
    assert panel.epoch_note.isVisible() and "epoch 2 after 277 of its 469 batches" in panel.epoch_note.text()
    assert "277 of its 469" in panel.epoch_figures.toolTip()
    vx, _ = panel.plot.valid_curve.getData()
    assert list(vx) == pytest.approx([1.0, 1 + 277 / 469])


@pytest.mark.parametrize("who", ["user", "layout"])
def test_the_end_of_a_run_leaves_the_view_where_the_user_scrolled_it(window, qtbot, who):
    """The start of a run scrolls the panel to Stop and the plot, its end down to the figures.
    A user who scrolled up during the run to read the settings was pulled back down when it
    ended; now the end scrolls only if the user has not moved the view. Only the user's actions
    on the bar count (wheel, drag, click, keys): any change of its value did, and a value clamped
    when the panel's height changed (a long message replaced by a short one) kept the end of
    the run from scrolling."""
    window.resize(1024, 640)
    window.reset_layout()
    window.dock_manager.raise_("training")
    settle(window, qtbot)
    panel = window.training
    config = replace(engine.recommended_config("3v7", "linear"), epochs=1)
    panel.set_config(config)
    go = threading.Event()

    def task(on_batch, on_epoch, on_note, stop_event, pause_event):
        go.wait(60)  # until the view has moved
        return engine.train(config, on_batch=on_batch, on_epoch=on_epoch, on_note=on_note, stop_event=stop_event, pause_event=pause_event)

    bar = window.docks["training"].widget().verticalScrollBar()
    bar.setValue(0)
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        assert panel.start(config, task=task)
        try:
            qtbot.waitUntil(lambda: bar.value() > 0)  # the start brought Stop and the plot into view
        finally:
            if who == "user":
                bar.triggerAction(bar.SliderAction.SliderToMinimum)  # the user goes up to the settings (Home, a drag)
            else:
                bar.setValue(0)  # not the user's action: as a clamp or a layout sets it
            go.set()
    settle(window, qtbot)
    assert bar.maximum() > 0
    if who == "user":
        assert panel.view_moved and bar.value() == 0  # the end of the run left the view there
    else:
        assert not panel.view_moved and bar.value() > 0  # the end of the run scrolled down to its figures


@pytest.mark.parametrize("who", ["nobody", "user"])
def test_a_run_that_starts_and_ends_behind_another_tab_scrolls_when_its_tab_comes_forward(window, qtbot, who):
    """A run that started or ended with the Training dock behind another tab (the user on another
    panel meanwhile) scrolled a dock that keeps the size it had when last in front: the window
    made smaller meanwhile, Stop and the plot, then the figures, were below the fold once the tab
    came forward. The scroll waits for the tab, unless the user has moved the view during the run."""
    window.resize(1024, 800)
    window.reset_layout()
    window.dock_manager.raise_("training")
    settle(window, qtbot)
    panel = window.training
    dock = window.docks["training"]
    scroll = dock.widget()
    bar = scroll.verticalScrollBar()
    config = replace(engine.recommended_config("3v7", "linear"), epochs=1)
    panel.set_config(config)
    go = threading.Event()

    def task(on_batch, on_epoch, on_note, stop_event, pause_event):
        go.wait(60)  # until the tab has come forward and gone behind again
        return engine.train(config, on_batch=on_batch, on_epoch=on_epoch, on_note=on_note, stop_event=stop_event, pause_event=pause_event)

    def behind_at_1024x640() -> None:
        """Training behind Activations (one stack in the compact layout), the window smaller."""
        window.dock_manager.raise_("activations")
        qtbot.waitUntil(lambda: dock in window.dock_manager.covered())
        window.resize(1024, 640)
        qtbot.waitUntil(lambda: window.docks["activations"].height() < dock.height())  # the covered dock keeps its height

    bar.setValue(0)
    behind_at_1024x640()
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        try:
            assert panel.start(config, task=task)
            qtbot.wait(50)  # the start's scroll (a turn of the event loop later) would be done
            window.dock_manager.raise_("training")
            qtbot.waitUntil(lambda: in_view(panel.stop_button, scroll) and in_view(panel.plot, scroll))
            assert bar.value() > 0  # it had to scroll
            if who == "user":
                bar.triggerAction(bar.SliderAction.SliderToMinimum)  # the user goes up to the settings
            window.resize(1024, 800)
            qtbot.waitUntil(lambda: dock.height() > 640)  # in front, laid out at the larger size
            behind_at_1024x640()
        finally:
            go.set()
    settle(window, qtbot)
    qtbot.wait(50)  # the end's scroll (two FINISH_DELAY_MS turns) would be done
    window.dock_manager.raise_("training")
    if who == "user":
        qtbot.wait(50)
        assert panel.view_moved and bar.value() == 0  # left where the user put it
    else:
        qtbot.waitUntil(lambda: in_view(panel.message, scroll) and in_view(panel.epoch_figures, scroll))
