"""The Evaluation dock: the bundled model's confusion matrix, its cells' galleries, top losses."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from mnist_desktop.model import Predictor, evaluate, mnist_arrays


@pytest.fixture(scope="module")
def bundled():
    return Predictor.default()


@pytest.fixture(scope="module")
def bundled_evaluation(bundled):
    return evaluate(bundled, *mnist_arrays("test"))


def open_evaluation(window, qtbot, predictor):
    panel = window.evaluation  # built when asked for: its dock is behind Training
    assert panel is window.findChild(QWidget, "evaluation")
    assert panel.evaluation is None  # hidden behind Training: nothing computed at start
    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        window.set_predictor(predictor)
        window.docks["evaluation"].raise_()
    return panel


def test_confusion_matrix_of_the_bundled_model_and_its_cells(window, qtbot, bundled, bundled_evaluation):
    panel = open_evaluation(window, qtbot, bundled)
    matrix = panel.findChild(QWidget, "confusion_matrix")
    assert matrix.matrix.sum() == 10_000
    np.testing.assert_array_equal(matrix.matrix.diagonal(), bundled_evaluation.confusion.diagonal())
    np.testing.assert_array_equal(matrix.matrix, bundled_evaluation.confusion)
    assert "99." in panel.per_class.text()

    # clicking the most frequent mistake's cell shows exactly those digits
    off = bundled_evaluation.confusion - np.diag(np.diag(bundled_evaluation.confusion))
    t, g = np.unravel_index(off.argmax(), off.shape)
    rect = matrix.cell_rect(t, g)
    qtbot.mouseClick(matrix, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    gallery = panel.cell_gallery
    assert gallery.count() == off[t, g] > 1
    _, labels = mnist_arrays("test")
    keys = gallery.keys()
    assert all(labels[k] == t for k in keys)
    assert all(bundled.predict_batch(mnist_arrays("test")[0][keys]).argmax(1) == g)
    assert gallery.captions()[0].startswith(f"{t} → {g} · ")

    # a diagonal cell: hundreds of digits, but only the visible thumbnails are rendered
    rect = matrix.cell_rect(1, 1)
    qtbot.mouseClick(matrix, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert gallery.count() == bundled_evaluation.confusion[1, 1] > 1000
    qtbot.waitUntil(lambda: gallery.gallery_model.rendered > 0)
    assert gallery.gallery_model.rendered < 300

    # clicking a thumbnail shows the digit in the inspector; the context menu puts it on the canvas
    index = gallery.model().index(2, 0)
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=gallery.visualRect(index).center())
    assert window.inspector.source.currentData() == "test"
    assert window.inspector.sample_label == 1 and f"#{keys[0]}" not in window.inspector.sample_info.text()
    assert f"sample #{gallery.keys()[2]} " in window.inspector.sample_info.text()
    menu = gallery.context_menu(2)
    with qtbot.waitSignal(window.predictionUpdated, timeout=5000):
        menu.actions()[0].trigger()
    assert window.prediction.top_class == 1


def test_top_losses_are_the_most_confident_mistakes(window, qtbot, bundled, bundled_evaluation):
    panel = open_evaluation(window, qtbot, bundled)
    gallery = panel.findChild(QWidget, "top_losses")
    e = bundled_evaluation
    assert gallery.count() == len(e.top_losses) == 10_000 - np.trace(e.confusion)
    keys = gallery.keys()
    images, labels = mnist_arrays("test")
    p = bundled.predict_batch(images[keys])
    assert (p.argmax(1) != labels[keys]).all()
    confidence = p.max(1)
    assert np.all(np.diff(confidence) <= 1e-6)  # most confident first
    t, g = labels[keys[0]], p[0].argmax()
    assert gallery.captions()[0] == f"{t} → {g} · {100 * confidence[0]:.0f} %"
    # The title said "most confident first (fastai's plot_top_losses)": fastai ranks by loss, and
    # for the bundled CNN that order differs (the true digit's probability, lowest first).
    title = panel.top_losses_title.text()
    by_loss = np.argsort(p[np.arange(len(keys)), labels[keys]], kind="stable")
    assert (by_loss[:10] != np.arange(10)).any()
    assert "most confident first" in title and ("plot_top_losses" not in title or "ranks by loss" in title)


def test_a_new_model_cancels_the_running_evaluation(window, qtbot, bundled):
    from ui_helpers import make_predictor

    panel = window.evaluation
    window.docks["evaluation"].raise_()
    qtbot.waitUntil(lambda: panel.is_busy() or panel.evaluation is not None)
    other = make_predictor("linear")
    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        window.set_predictor(other)  # the CNN's run is cancelled, its late results dropped
    assert panel.evaluation.confusion.sum() == 10_000
    np.testing.assert_array_equal(panel.evaluation.confusion, evaluate(other, *mnist_arrays("test")).confusion)


def test_threshold_slider_changes_the_share_answered(window, qtbot, bundled):
    panel = open_evaluation(window, qtbot, bundled)
    qtbot.waitUntil(lambda: "threshold" in panel._shown)
    slider = panel.findChild(QWidget, "threshold_slider")
    label = panel.findChild(QWidget, "threshold_label")
    slider.setValue(0)
    assert panel.threshold_answered == 1.0 and "answers 100.0 %" in label.text()
    slider.setValue(99)
    assert 0.5 < panel.threshold_answered < 1.0
    assert f"answers {100 * panel.threshold_answered:.1f} %" in label.text()
    t, share = panel.answered_curve.getData()
    assert len(t) == 101 and share[0] == 100 and share[-1] < share[0]


def test_robustness_curves_and_point_map(window, qtbot, bundled):
    from mnist_desktop.model.evaluation import DAMAGES

    panel = open_evaluation(window, qtbot, bundled)
    qtbot.waitUntil(lambda: "robustness" in panel._shown, timeout=60000)
    images, labels = mnist_arrays("test")
    clean = 100 * evaluate(bundled, images[:1000], labels[:1000]).accuracy
    for kind, (_label, amounts, _unit) in DAMAGES.items():
        x, y = panel.robustness_curves[kind].getData()
        assert list(x) == list(amounts) and np.isfinite(y).all()
        assert clean in y  # the undamaged point
        assert y.min() < clean - 5  # the strongest damage costs accuracy

    # point map: the last layer by default, every point coloured, and another layer on request
    assert panel.layer_combo.currentText() == "fc"
    assert len(panel.point_map.data) == 2000
    combo = panel.findChild(QWidget, "point_map_layer")
    with qtbot.waitSignal(panel.stageShown, timeout=30000, check_params_cb=lambda s: s == "pointmap"):
        combo.setCurrentIndex(combo.findText("input"))
        combo.activated.emit(combo.currentIndex())
    assert len(panel.point_map.data) == 2000
    point = panel.point_map.points()[5]
    panel._on_point_hovered(panel.point_map, [point], None)
    assert "Test digit #5" in panel.point_info.text()
    panel._on_point_clicked(panel.point_map, [point], None)
    assert "sample #5 " in window.inspector.sample_info.text()

    # each point in its digit's colour, recoloured for the dark theme's background
    from PySide6.QtGui import QPalette

    from mnist_desktop.ui.theme import apply_theme, class_colours, palette_color

    try:
        for theme in ("dark", "light"):
            apply_theme(theme)
            qtbot.waitUntil(lambda: panel.point_colours == class_colours(palette_color(panel, QPalette.ColorRole.Base)))
            brushes = [p.brush().color().rgb() for p in panel.point_map.points()]
            assert brushes == [panel.point_colours[int(d)].rgb() for d in labels[:2000]]
            assert all(f"color:{c.name()}" in panel.point_legend.text() for c in panel.point_colours)
    finally:
        apply_theme("system")


def _contrast(a, b) -> float:
    """WCAG contrast ratio of two QColors."""

    def luminance(c) -> float:
        ch = [v / 255 for v in (c.red(), c.green(), c.blue())]
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_ten_class_colours_stand_out_on_either_theme():
    """Against the plots' background of each theme, every digit's colour at least 2:1 (pyqtgraph's
    evenly spread hues gave a yellow of 1.2:1 on white, a dark blue of 1.9:1 on the dark theme),
    ten different colours."""
    from PySide6.QtGui import QPalette

    from mnist_desktop.ui.theme import class_colours, theme_palette

    for dark in (False, True):
        background = theme_palette(dark).color(QPalette.ColorRole.Base)
        colours = class_colours(background)
        assert len(colours) == 10
        assert min(_contrast(c, background) for c in colours) >= 2.0, dark
        assert len({c.rgb() for c in colours}) == 10


def test_the_evaluation_runs_only_while_its_tab_is_shown(window, qtbot):
    """A tabified dock behind Training counts as visible to Qt; evaluating there took the
    cores training needs (the window trained 2.4× slower than headless)."""
    panel = window.evaluation
    assert not panel.is_busy() and panel.evaluation is None  # behind the Training tab: nothing runs
    window.docks["evaluation"].raise_()
    qtbot.waitUntil(lambda: panel.is_busy() or panel.evaluation is not None, timeout=10_000)
    window.docks["training"].raise_()
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=10_000)  # left: cancelled


def test_a_failed_evaluation_says_why_and_the_next_model_is_evaluated(window, qtbot, bundled, monkeypatch):
    """A worker that fails ends its run (there is no other end signal after ``failed``): the
    panel goes idle, counts no run as computing, and evaluates the next model."""
    from mnist_desktop.model import MnistDesktopError
    from mnist_desktop.model import evaluation as ev

    real = ev.evaluate

    def broken(*args, **kwargs):
        raise MnistDesktopError("the test set cannot be read")

    monkeypatch.setattr(ev, "evaluate", broken)
    panel = window.evaluation
    with qtbot.waitSignal(panel.idle, timeout=30000):
        window.set_predictor(bundled)
        window.docks["evaluation"].raise_()
    assert panel.status.text() == "⚠ Could not evaluate the model: the test set cannot be read"
    assert panel.computing == 0 and not panel.is_busy() and not panel.progress.isVisible() and panel.evaluation is None

    monkeypatch.setattr(ev, "evaluate", real)
    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        window.set_predictor(Predictor.default())
    assert panel.evaluation.confusion.sum() == 10_000 and panel.computing <= 1


def test_a_gallery_caption_shows_whole_when_its_cell_has_room(qtbot):
    """Top losses' "5 → 3 · 100 %" fits a cell (104 px) but was cut ("5 → 3 · 10…"): a caption
    under a picture got about the picture's width (an 81 px item for 82 px of text). Every
    item is as wide as its cell now, and each caption is drawn whole."""
    from PySide6.QtGui import QColor, QPalette

    from mnist_desktop.ui.gallery import Gallery

    g = Gallery()
    qtbot.addWidget(g)
    g.resize(400, 200)
    captions = ["5 → 3 · 100 %", "7 · 100 %", "4 → 9 · 99 %"]
    g.set_items(np.zeros((3, 28, 28), np.uint8), [0, 1, 2], [0, 1, 2], captions)
    g.show()
    qtbot.waitExposed(g)
    g.clearSelection()
    g.setCurrentIndex(g.gallery_model.index(-1))
    shot = g.viewport().grab().toImage()
    paper = g.palette().color(QPalette.ColorRole.Base).lightness()
    margin = g.style().pixelMetric(g.style().PixelMetric.PM_FocusFrameHMargin, None, g) + 1
    for row, caption in enumerate(captions):
        wide = g.fontMetrics().horizontalAdvance(caption)
        cell = g.visualRect(g.gallery_model.index(row))
        assert cell.width() >= wide + 2 * margin, (caption, cell.width(), wide)
        band = [(x, y) for y in range(cell.top() + 60, cell.bottom()) for x in range(cell.left(), cell.right())]
        ink = [x for x, y in band if abs(QColor(shot.pixel(x, y)).lightness() - paper) > 100]
        assert ink and max(ink) - min(ink) >= 0.9 * wide, (caption, max(ink) - min(ink), wide)


def test_the_robustness_plots_are_built_one_per_event_loop_turn(qtbot):
    """Opening the Robustness tab built all five plots in the tab switch's turn: the window
    froze 0.3–0.7 s. Now the switch builds none and each turn of the loop builds one (the
    speed itself is measured outside the tests)."""
    from mnist_desktop.model.evaluation import DAMAGES
    from mnist_desktop.ui.evaluation import EvaluationPanel

    panel = EvaluationPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.robustness_plots == {}  # nothing at start-up
    built_per_turn = []
    panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("Robustness"))
    built_per_turn.append(len(panel.robustness_plots))
    assert built_per_turn == [0]  # none in the switch's own turn
    panel._robustness_builder.timeout.connect(lambda: built_per_turn.append(len(panel.robustness_plots)))
    qtbot.waitUntil(lambda: len(panel.robustness_plots) == len(DAMAGES))
    assert built_per_turn == list(range(len(DAMAGES) + 1))  # [0, 1, 2, 3, 4, 5]
    assert list(panel.robustness_plots) == list(DAMAGES)
    grid, columns = panel.robustness_view.ci, panel._robustness_columns
    assert columns in (2, 3)  # each in its place of the grid, as the view's width allows
    assert [grid.getItem(i // columns, i % columns) for i in range(len(DAMAGES))] == list(panel.robustness_plots.values())


def test_robustness_curves_that_come_before_their_plots_are_drawn_when_built(qtbot):
    """Curves that arrive while the tab is hidden start the one-per-turn build (they built all
    five at once) and each lands in its plot; the stage counts as shown once all are drawn."""
    from mnist_desktop.model.evaluation import DAMAGES
    from mnist_desktop.ui.evaluation import EvaluationPanel

    panel = EvaluationPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    shown = []
    panel.stageShown.connect(shown.append)
    for kind, (_label, amounts, _unit) in DAMAGES.items():
        panel._show_robustness((kind, np.asarray(amounts, dtype=np.float64), np.linspace(0.99, 0.4, len(amounts))))
        assert len(panel.robustness_plots) <= 1  # not all five in this turn
    assert "robustness" not in panel._shown and shown == []  # not on screen yet
    qtbot.waitUntil(lambda: "robustness" in panel._shown)
    assert shown == ["robustness"]
    for kind, (_label, amounts, _unit) in DAMAGES.items():
        x, y = panel.robustness_curves[kind].getData()
        assert list(x) == list(amounts) and y[0] == pytest.approx(99) and y[-1] == pytest.approx(40)


def test_the_sub_tabs_keep_their_place_while_the_model_is_evaluated_at_1280x720(window, qtbot):
    """The review's click on "Reliability" landed on Confusion: while the automatic robustness
    curves ran, the header above the tabs changed height (the bar and its stage came and went,
    the line above wrapped otherwise), moving the tab bar from y = 150 to 136 to 122."""
    from PySide6.QtCore import QPoint, QTimer
    from PySide6.QtWidgets import QTabBar

    window.resize(1280, 720)
    window.reset_layout()
    panel = window.evaluation
    dock = window.docks["evaluation"]
    bar = panel.tabs.findChild(QTabBar)
    seen = []  # (tab bar's y in the dock, bar shown, stage shown, status line)

    def look():
        seen.append((bar.mapTo(dock, QPoint(0, 0)).y(), panel.progress.isVisible(), panel.stage.isVisible(), panel.status.text()))

    timer = QTimer(interval=5)
    timer.timeout.connect(look)
    with qtbot.waitSignal(panel.idle, timeout=120_000):
        dock.raise_()  # the CNN is evaluated: confusion matrix, then the robustness curves
        timer.start()
    timer.stop()
    qtbot.wait(50)  # the layout after the end
    look()
    assert any(bar_shown and stage_shown for _, bar_shown, stage_shown, _ in seen)  # looked while it ran
    assert any(status.startswith("Evaluating") for *_, status in seen) and "test digits right" in seen[-1][3]
    assert not seen[-1][1] and not seen[-1][2]  # ended: bar and stage gone
    assert {y for y, *_ in seen} == {seen[-1][0]}, sorted({(y, b, s) for y, b, s, _ in seen})
