"""The rest of chapter 4 in the window: the batch as tensors and the sigmoid in Step mode, the
Pixel similarity and SGD toy docks, the guide's questions, and all of it at 1280×720."""

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QWidget
from test_ui_chapter import run_stage
from test_ui_stepper import open_stepper, press, small_chapter

from mnist_desktop.model import toy_sgd
from mnist_desktop.ui.sgd_toy import SgdToyPanel
from mnist_desktop.ui.similarity import SimilarityPanel


def label(parent, name: str) -> QLabel:
    found = parent.findChild(QLabel, name)
    assert found is not None, name
    return found


# --------------------------------------------------------------------------- Step mode
def test_step_mode_shows_the_batch_as_the_chapters_tensors_and_follows_each_batch(window, qtbot):
    stepper = open_stepper(window)
    assert stepper.set_config(small_chapter())  # 600 3s and 7s, batches of 200
    shapes = label(stepper, "step_shapes")
    assert shapes is stepper.shapes and shapes.isVisible()
    state = press(qtbot, stepper, "step_phase")  # init: the stacked training set and the weights
    n3, n7 = state.train_counts
    text = shapes.text()
    assert "torch.stack(threes)" in text and f"stacked_threes: [{n3}, 28, 28]" in text and f"stacked_sevens: [{n7}, 28, 28]" in text
    assert ".view(-1, 28*28)" in text and "train_x: [600, 784]" in text and "w: [784, 1]" in text and "xb" not in text
    state = press(qtbot, stepper, "step_phase")  # predict
    text = shapes.text()
    assert "xb: [200, 784]" in text and "xb @ w + b" in text and "preds: [200, 1]" in text
    assert stepper.shapes.shape_of("preds") == state.predictions.shape
    press(qtbot, stepper, "step_batch")  # loss, gradient, step
    assert "w.grad: [784, 1]" in shapes.text() and "loss: []" in shapes.text()
    assert f"{stepper.state.loss:.4f}" in shapes.text()
    press(qtbot, stepper, "step_batch")
    press(qtbot, stepper, "step_phase")  # the third batch: 600 = 200 + 200 + 200; on to the next epoch's first
    assert stepper.shapes.shape_of("xb") == (len(stepper.state.x), 784)
    # a smaller last batch: the shapes follow the batch
    assert stepper.set_config(small_chapter(batch_size=256))
    for _ in range(2):
        press(qtbot, stepper, "step_batch")
    state = press(qtbot, stepper, "step_phase")
    assert state.batch == 3 and len(state.x) == 600 - 512
    assert "xb: [88, 784]" in shapes.text() and "preds: [88, 1]" in shapes.text()
    stepper.reset()
    assert "xb" not in shapes.text() and stepper.shapes.lines == []


def test_step_mode_shows_the_sigmoid_of_the_batchs_predictions(window, qtbot):
    stepper = open_stepper(window)
    assert stepper.set_config(small_chapter())
    view = stepper.sigmoid
    assert view.objectName() == "step_sigmoid" and view.plot.objectName() == "step_sigmoid_plot"
    press(qtbot, stepper, "step_phase")
    state = press(qtbot, stepper, "step_phase")  # predict: marked before and after
    assert view.plot.isVisible() and view.batch is not None
    before = np.concatenate([view.before[c].data["x"] for c in (0, 1)])
    after = np.concatenate([view.after[c].data["y"] for c in (0, 1)])
    assert len(before) == len(after) == 200
    np.testing.assert_allclose(np.sort(after), np.sort(1 / (1 + np.exp(-state.predictions[:, 0].astype(np.float64)))), rtol=1e-6)
    sevens = view.after[1].data["y"]
    np.testing.assert_allclose(sevens, view.batch.squashed[view.batch.targets == 1])
    state = press(qtbot, stepper, "step_phase")  # loss: the sigmoid's mnist_loss is the loss shown
    text = label(stepper, "step_sigmoid_text").text()
    assert f"= {view.batch.loss:.4f}" in text and f"loss phase's value: {state.loss:.4f}" in text
    assert f"{view.batch.loss:.4f}" == f"{state.loss:.4f}"
    # ten digits with cross-entropy: no sigmoid, and the view says why
    assert stepper.set_config(replace(small_chapter(), task="digits", loss="cross-entropy", lr=0.1))
    press(qtbot, stepper, "step_phase")
    press(qtbot, stepper, "step_phase")
    assert not view.plot.isVisible() and "softmax" in label(stepper, "step_sigmoid_text").text()
    # accuracy as the loss: neither sigmoid nor softmax, only which output is largest
    assert stepper.set_config(replace(small_chapter(), loss="accuracy"))
    press(qtbot, stepper, "step_phase")
    press(qtbot, stepper, "step_phase")
    text = label(stepper, "step_sigmoid_text").text()
    assert not view.plot.isVisible() and "largest" in text and "softmax turns" not in text


# --------------------------------------------------------------------------- Pixel similarity
def open_similarity(window, qtbot) -> SimilarityPanel:
    panel = window.dock_manager.panel("similarity")
    assert isinstance(panel, SimilarityPanel)
    with qtbot.waitSignal(panel.computed, timeout=60_000):
        window.dock_manager.raise_("similarity")  # computed when first shown
    return panel


def test_pixel_similarity_compares_l1_and_l2_and_shows_broadcasting(window, qtbot):
    panel = open_similarity(window, qtbot)
    acc = panel.lab.accuracy
    text = label(panel, "similarity_accuracy").text()
    for key in ("l1", "l2"):
        a = acc[key]
        assert f"{100 * a.threes:.1f} %" in text and f"{100 * a.sevens:.1f} %" in text and f"{100 * a.overall:.1f} %" in text
    assert "91.7 %" in text and "98.5 %" in text  # the chapter's L1 figures
    broadcast = label(panel, "similarity_broadcast").text()
    assert "valid_3_tens: [1010, 28, 28] - mean3: [28, 28] → [1010, 28, 28]" in broadcast and "→ [1010]" in broadcast
    for key in ("mean3", "mean7", "sample", "difference"):
        assert not label(panel, f"similarity_{key}").pixmap().isNull(), key
    # one 3 at a time: both distances, to both ideals
    panel.index.setValue(5)
    l1, l2 = panel.lab.sample_distances(5)["l1"], panel.lab.sample_distances(5)["l2"]
    distances = label(panel, "similarity_distances").text()
    assert f"{l1[0]:.4f}" in distances and f"{l1[1]:.4f}" in distances and f"{l2[0]:.4f}" in distances and f"{l2[1]:.4f}" in distances
    # a 3 the two distances disagree on: one calls it a 3, the other a 7
    button = panel.findChild(QPushButton, "similarity_disagree")
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    i = panel.index.value()
    assert i in panel.disagreements()
    d = panel.lab.sample_distances(i)
    assert (d["l1"][0] < d["l1"][1]) != (d["l2"][0] < d["l2"][1])
    text = label(panel, "similarity_distances").text()
    assert "3 ✓" in text and "7 ✗" in text


# --------------------------------------------------------------------------- the SGD toy
def texts(panel) -> str:
    return " ".join(w.text() for w in panel.findChildren(QLabel) + panel.findChildren(QPushButton))


def test_the_sgd_toy_fits_the_quadratic_step_by_step(qtbot):
    panel = SgdToyPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert panel.rate == "right"
    start = panel.run.state
    with qtbot.waitSignal(panel.stepped):
        qtbot.mouseClick(panel.findChild(QPushButton, "sgd_toy_step"), Qt.MouseButton.LeftButton)
    one = panel.run.state
    np.testing.assert_allclose(one.params, start.params - 1e-5 * start.gradient)
    assert label(panel, "sgd_toy_message").text().endswith(" in 1 step.")  # not "1 step(s)"
    xs, ys = panel.curve.getData()
    np.testing.assert_allclose(ys, toy_sgd.quadratic(xs, one.params))
    qtbot.mouseClick(panel.findChild(QPushButton, "sgd_toy_steps"), Qt.MouseButton.LeftButton)
    assert panel.run.state.step == 11
    losses = panel.loss_curve.yData  # the losses themselves (the plot draws their log)
    assert len(losses) == 12 and losses[-1] < 0.5 * losses[0]
    assert "Step 11" in label(panel, "sgd_toy_params").text() and "fallen" in label(panel, "sgd_toy_message").text()
    assert label(panel, "sgd_toy_message").text().endswith(" in 11 steps.")
    # too small: the same start, a smaller first step
    qtbot.mouseClick(panel.findChild(QPushButton, "sgd_toy_lr_small"), Qt.MouseButton.LeftButton)
    assert panel.run.state.step == 0
    np.testing.assert_array_equal(panel.run.state.params, start.params)
    qtbot.mouseClick(panel.findChild(QPushButton, "sgd_toy_steps"), Qt.MouseButton.LeftButton)
    assert losses[-1] < panel.run.state.loss < losses[0]


def test_too_large_a_rate_visibly_diverges_says_so_and_stops(qtbot):
    panel = SgdToyPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.mouseClick(panel.findChild(QPushButton, "sgd_toy_lr_large"), Qt.MouseButton.LeftButton)
    step = panel.findChild(QPushButton, "sgd_toy_step")
    for _ in range(30):
        if not step.isEnabled():
            break
        qtbot.mouseClick(step, Qt.MouseButton.LeftButton)
    state = panel.run.state
    assert state.diverged and not step.isEnabled() and not panel.findChild(QPushButton, "sgd_toy_steps").isEnabled()
    message = label(panel, "sgd_toy_message")
    assert "Diverged" in message.text() and "too large" in message.text() and message.property("error")
    losses = panel.loss_curve.yData  # the losses themselves (the plot draws their log)
    assert len(losses) == state.step + 1 and all(np.diff(losses) > 0)  # it went up at every step
    _, curve = panel.curve.getData()
    low, high = panel.plot.getPlotItem().viewRange()[1]
    assert np.abs(curve).max() > high - low  # the fit has left the data's range on screen
    assert (low, high) == pytest.approx(panel.y_range)  # and the dots are still in view
    words = texts(panel).lower()
    assert "nan" not in words and "inf" not in words
    qtbot.mouseClick(panel.findChild(QPushButton, "sgd_toy_reset"), Qt.MouseButton.LeftButton)
    assert panel.run.state.step == 0 and step.isEnabled() and not message.property("error")


# --------------------------------------------------------------------------- the guide
def test_each_stage_has_questions_whose_answers_show_on_click(window, qtbot):
    guide = run_stage(window, "ideal")
    stage_questions = next(s for s in __import__("mnist_desktop.model.chapter", fromlist=["STAGES"]).STAGES if s.key == "ideal").questions
    assert guide.tabs.tabText(1) == f"Check yourself ({len(stage_questions)})"
    guide.tabs.setCurrentIndex(1)
    view = guide.findChild(QWidget, "chapter_questions")
    for i, q in enumerate(stage_questions):
        assert q.question in label(view, f"chapter_question_{i}").text()
        answer = label(view, f"chapter_answer_{i}")
        assert answer.text() == q.answer and not answer.isVisible()
    reveal = view.findChild(QPushButton, "chapter_reveal_1")
    qtbot.mouseClick(reveal, Qt.MouseButton.LeftButton)
    assert label(view, "chapter_answer_1").isVisible() and not label(view, "chapter_answer_0").isVisible()
    assert reveal.text() == "Hide the answer"
    qtbot.mouseClick(reveal, Qt.MouseButton.LeftButton)
    assert not label(view, "chapter_answer_1").isVisible()
    # the next stage: its own questions, answers hidden, the stage's text in front
    qtbot.mouseClick(reveal, Qt.MouseButton.LeftButton)
    guide.next_button.click()
    assert guide.key == "sgd-toy" and guide.tabs.currentIndex() == 0
    guide.tabs.setCurrentIndex(1)
    view = guide.findChild(QWidget, "chapter_questions")
    assert "seven steps" in label(view, "chapter_question_0").text()
    assert not any(a.isVisible() for a in view.answers) and len(view.answers) == 3


@pytest.mark.parametrize("key, dock", [("ideal", "similarity"), ("sgd-toy", "sgd_toy")])
def test_the_stages_bring_their_labs_forward(window, qtbot, key, dock):
    run_stage(window, key)
    qtbot.waitUntil(lambda: not window.docks[dock].visibleRegion().isEmpty())


# --------------------------------------------------------------------------- small screens
@pytest.mark.parametrize("size", [(1280, 720), (1400, 900)])
def test_the_chapter_labs_fit_the_window_at_1280x720_and_1400x900(window, qtbot, size):
    window.resize(*size)
    window.reset_layout()
    open_similarity(window, qtbot)
    stepper = open_stepper(window)
    assert stepper.set_config(small_chapter())
    for _ in range(3):
        press(qtbot, stepper, "step_phase")  # shapes and sigmoid drawn
    for name in ("similarity", "sgd_toy", "training"):
        dock = window.docks[name]
        window.dock_manager.raise_(name)
        qtbot.waitUntil(lambda d=dock: not d.visibleRegion().isEmpty())
        viewport = dock.findChild(QScrollArea).viewport()
        panel = window.dock_manager.panels[name]
        qtbot.waitUntil(lambda p=panel, v=viewport: p.width() <= v.width())  # no sideways scrolling
        parts = [w for w in panel.findChildren(QWidget) if w.isVisible() and w.objectName().startswith(("similarity", "sgd_toy", "step_"))]
        assert parts, name
        for w in parts:
            assert QRect(w.mapTo(panel, QPoint(0, 0)), w.size()).right() <= panel.width(), w.objectName()
            if isinstance(w, QPushButton):
                assert w.fontMetrics().horizontalAdvance(w.text()) <= w.width(), w.objectName()


def test_pixel_similarity_without_mnist_says_why_in_one_line_and_tries_again_when_shown(qtbot, monkeypatch):
    from mnist_desktop.model import similarity
    from mnist_desktop.model.errors import DataError

    def missing(root=None):
        raise DataError("MNIST folder /nowhere does not exist.")

    monkeypatch.setattr(similarity, "pixel_similarity_lab", missing)
    panel = SimilarityPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_on_screen(True)
    status = label(panel, "similarity_status")
    qtbot.waitUntil(lambda: status.text().startswith("⚠"))
    assert status.text() == "⚠ Could not compute the distances: MNIST folder /nowhere does not exist."
    assert panel.lab is None and not panel.index.isEnabled() and not panel.findChild(QPushButton, "similarity_disagree").isEnabled()
    monkeypatch.undo()
    with qtbot.waitSignal(panel.computed, timeout=60_000):
        panel.set_on_screen(True)  # shown again: computed this time
    assert panel.index.isEnabled() and panel.index.maximum() == 1009
    panel.shutdown()


def drawn_tick_labels(axis) -> list[tuple[str, QRectF]]:
    """The tick labels ``axis`` draws at its present size: pyqtgraph's own draw specs, less
    the ones it leaves out where they crowd."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(text, rect) for rect, _flags, text in texts]


def test_the_sgd_toys_log_loss_axis_is_readable_at_1024x640(window, qtbot):
    """At 1024×640 the loss axis (94 px) printed all nine ticks of a decade, "8·10³ 7·10³ 6·10³
    5·10³" over each other, and its title "loss (log scale)" (101 px) lost its ends ("ss (log
    scale)"). For each learning rate, a start, some steps and a diverging run: no two tick
    labels overlap, at least two are drawn, and the title fits the axis."""
    window.resize(1024, 640)
    window.reset_layout()
    window.dock_manager.raise_("sgd_toy")
    toy = window.dock_manager.panels["sgd_toy"]
    axis = toy.loss_plot.getPlotItem().getAxis("left")
    qtbot.waitUntil(lambda: toy.isVisible() and toy.plots_arrangement == "stacked" and axis.geometry().height() < 120)
    runs = [("right", 0), ("right", 1), ("right", 10), ("small", 10), ("large", 3), ("large", 10), ("large", 40)]
    for rate, steps in runs:
        toy.set_rate(rate)
        for _ in range(steps):
            toy.step(1)
        qtbot.wait(20)  # the views follow the new data
        drawn = drawn_tick_labels(axis)
        assert len(drawn) >= 2, (rate, steps, drawn)
        rects = sorted((rect.top(), rect.bottom(), text) for text, rect in drawn)
        for (_, bottom, upper), (top, _, lower) in zip(rects, rects[1:]):
            assert top >= bottom, (rate, steps, upper, lower)  # "8·10³" over "7·10³"
    title = axis.label.boundingRect().width()  # drawn turned a quarter: its width runs along the axis
    assert title <= axis.geometry().height(), (axis.label.toPlainText(), title, axis.geometry().height())
