"""The Chapter 4 menu: each stage sets the window up and explains itself."""

import numpy as np
import pytest
from PySide6.QtWidgets import QMenu, QPushButton

from mnist_desktop.model.chapter import FIRST_THREE, STAGES
from mnist_desktop.ui.chapter import ChapterGuide


def chapter_menu(window) -> QMenu:
    menus = [a.menu() for a in window.menuBar().actions() if a.menu() is not None and "Chapter" in a.menu().title()]
    assert len(menus) == 1
    assert menus[0] is window.findChild(QMenu, "chapter_menu")
    return menus[0]


def run_stage(window, key: str) -> ChapterGuide:
    menu = chapter_menu(window)
    action = next(a for a in menu.actions() if a.objectName() == f"chapter_{key}")
    action.trigger()
    guide = window.findChild(ChapterGuide, "chapter_guide")
    assert guide.isVisible() and not guide.isModal()
    stage = next(s for s in STAGES if s.key == key)
    assert guide.title.text() == stage.title
    text = guide.text.toPlainText()
    assert stage.explanation in text and stage.try_this in text and stage.look_for in text
    return guide


def test_one_entry_per_stage_in_the_chapters_order(window):
    menu = chapter_menu(window)
    assert menu.title() == "Chapter &4"
    assert [a.objectName() for a in menu.actions()] == [f"chapter_{s.key}" for s in STAGES]
    titles = [a.text() for a in menu.actions()]
    assert "Pixels" in titles[0] and "ideal 3 and 7" in titles[1] and "roller coaster" in titles[2]
    assert "Accuracy" in titles[4] and "ten digits" in titles[6]
    help_menu = window.menuBar().actions()[-1].menu()
    assert help_menu.title() == "&Help"  # the chapter comes before Help


def test_pixels_as_numbers_shows_an_mnist_three_in_the_inspector(window):
    guide = run_stage(window, "pixels")
    inspector = window.inspector
    assert inspector.source.currentData() == "train" and inspector.index.value() == FIRST_THREE
    assert inspector.sample_label == 3
    assert window.docks["inspector"].isVisible()
    assert guide.step.text() == f"Stage 1 of {len(STAGES)}" and not guide.previous_button.isEnabled()


def test_the_ideal_three_and_seven_sets_up_pixel_similarity(window):
    run_stage(window, "ideal")
    t = window.training
    assert (t.task.currentData(), t.arch.currentData()) == ("3v7", "pixel-similarity")


def test_accuracy_as_a_loss_opens_the_nudge_panel(window, qtbot):
    run_stage(window, "accuracy")
    t = window.training
    assert (t.task.currentData(), t.arch.currentData(), t.loss.currentData()) == ("3v7", "linear", "accuracy")
    assert "gradient is zero" in t.loss_note.text()
    dock = window.docks["nudge"]
    qtbot.waitUntil(lambda: not dock.visibleRegion().isEmpty())  # the front tab of its group


def test_a_linear_model_step_by_step_opens_the_step_mode_with_the_chapters_settings(window):
    run_stage(window, "linear")
    t = window.training
    assert t.mode() == "step" and t.stepper.isVisible()
    c = t.stepper.config
    assert (c.task, c.arch, c.loss, c.lr, c.momentum) == ("3v7", "linear", "mnist-loss", 1.0, 0.0)  # mnist_loss, plain SGD
    assert (t.task.currentData(), t.arch.currentData(), t.loss.currentData()) == ("3v7", "linear", "mnist-loss")


@pytest.mark.parametrize(
    "key, expected",
    [("neural-net", ("3v7", "mlp", "mnist-loss")), ("ten-digits", ("digits", "cnn", "cross-entropy"))],
)
def test_the_training_stages_set_the_chapters_models(window, key, expected):
    run_stage(window, key)
    t = window.training
    assert (t.task.currentData(), t.arch.currentData(), t.loss.currentData()) == expected
    if key == "neural-net":
        assert t.hidden.value() == 30  # the chapter's 784-30-1
    assert window.docks["training"].isVisible()


def test_next_and_previous_walk_the_stages(window):
    guide = run_stage(window, "ideal")
    guide.next_button.click()
    assert guide.key == "sgd-toy"
    guide.next_button.click()
    assert guide.key == "linear" and window.training.mode() == "step"
    guide.next_button.click()
    assert guide.key == "accuracy" and window.training.mode() == "train"  # back from stepping
    assert window.training.loss.currentData() == "accuracy"
    guide.next_button.click()
    assert guide.key == "neural-net" and window.training.arch.currentData() == "mlp"
    guide.next_button.click()
    assert guide.key == "ten-digits" and not guide.next_button.isEnabled()
    guide.previous_button.click()
    assert guide.key == "neural-net"


def test_help_starts_the_chapter_path_at_its_first_stage(window):
    help_menu = window.help_menu
    assert window.chapter_path_action in help_menu.actions()
    window.chapter_path_action.trigger()
    guide = window.findChild(ChapterGuide, "chapter_guide")
    assert guide.isVisible() and guide.title.text() == STAGES[0].title


def walk_to_the_linear_stage(window, qtbot) -> ChapterGuide:
    """Stages 1, 2 (pixel similarity trained: the active model), 3 (the SGD toy) and 4, in order, with Next."""
    guide = run_stage(window, "pixels")
    guide.next_button.click()
    assert guide.key == "ideal"
    with qtbot.waitSignal(window.training.finished, timeout=120_000):
        window.training.train_button.click()
    assert window.predictor.arch == "pixel-similarity"
    guide.next_button.click()
    assert guide.key == "sgd-toy"
    guide.next_button.click()
    assert guide.key == "linear" and window.training.mode() == "step"
    return guide


def test_the_path_in_order_leaves_nudge_usable_at_stage_4(window, qtbot):
    guide = walk_to_the_linear_stage(window, qtbot)
    # no step taken in the linear stage: the accuracy stage trains the chapter's linear model, in the training panel's thread
    with qtbot.waitSignal(window.training.finished, timeout=120_000):
        guide.next_button.click()
        assert guide.key == "accuracy" and window.training.is_training()
        assert "Pixel similarity has no weights to nudge" in guide.note.text() and guide.note.isVisible()
    assert (window.predictor.arch, window.predictor.task) == ("linear", "3v7")
    nudge_button = window.nudge.findChild(QPushButton, "nudge_button")
    assert nudge_button.isEnabled() and window.nudge.status.isHidden()
    t = window.training  # the stage's settings stay for "Train with accuracy as the loss"
    assert (t.arch.currentData(), t.loss.currentData()) == ("linear", "accuracy")
    with qtbot.waitSignal(window.nudge.nudged, timeout=60_000):
        nudge_button.click()


def test_a_model_stepped_in_the_linear_stage_is_the_one_nudged_in_the_accuracy_stage(window, qtbot):
    from test_ui_stepper import press, small_chapter

    guide = walk_to_the_linear_stage(window, qtbot)
    stepper = window.training.stepper
    stepper.set_config(small_chapter())
    state = press(qtbot, stepper, "step_batch")
    guide.next_button.click()
    assert guide.key == "accuracy" and not window.training.is_training()
    assert "you stepped in stage 4" in guide.note.text()
    assert f"(after {state.step} step{'' if state.step == 1 else 's'})" in guide.note.text()  # not "step(s)"
    np.testing.assert_array_equal(window.predictor.model.fc.weight.detach().numpy(), state.parameters["fc.weight"])
    assert window.nudge.findChild(QPushButton, "nudge_button").isEnabled()
    guide.previous_button.click()  # another stage: no note left over
    assert guide.key == "linear" and not guide.note.isVisible()


def test_the_guide_goes_beside_the_panel_a_stage_uses_never_over_it(window, qtbot, monkeypatch):
    from PySide6.QtCore import QPoint, QRect

    from mnist_desktop.ui import chapter as ui_chapter

    screen = QRect(0, 0, 1400, 900)
    guide = QRect(0, 0, 420, 440)
    right_panel = QRect(900, 60, 480, 800)
    assert ui_chapter.beside(guide, right_panel, screen) == QPoint(900 - 8 - 420, 60)  # to its left
    left_panel = QRect(0, 60, 300, 800)
    assert ui_chapter.beside(guide, left_panel, screen) == QPoint(308, 60)  # to its right
    bottom_panel = QRect(100, 500, 1200, 380)
    assert ui_chapter.beside(guide, bottom_panel, screen) == QPoint(100, 500 - 8 - 440)  # above it
    assert ui_chapter.beside(guide, QRect(0, 0, 1400, 900), screen) is None  # no room: left where it is
    for panel in (right_panel, left_panel, bottom_panel):
        place = QRect(ui_chapter.beside(guide, panel, screen), guide.size())
        assert screen.contains(place) and not place.intersects(panel)

    # in the window: each stage asks for the rect of the panel it uses
    asked = []
    monkeypatch.setattr(ui_chapter, "beside", lambda g, panel, s: asked.append(panel) or QPoint(5, 7))
    run_stage(window, "accuracy")
    assert asked == [window.dock_manager.screen_rect("nudge")] and asked[0] is not None
    assert window.chapter_menu.guide.pos() == QPoint(5, 7)


@pytest.mark.parametrize("arch, task", [("cnn", "digits"), ("mlp", "digits"), ("linear", "3v7")])
def test_training_with_accuracy_leaves_the_weights_where_they_were(arch, task):
    """The accuracy stage says the weights never move: true of the run its button starts for
    any active model, the bundled CNN (whose recipe has weight decay) included."""
    from dataclasses import replace
    from types import SimpleNamespace

    import torch

    from mnist_desktop.model.chapter import get_stage
    from mnist_desktop.model.training import train
    from mnist_desktop.ui.chapter import accuracy_config

    assert "the weights never moved" in get_stage("accuracy").look_for
    torch.set_num_threads(1)
    notes = []
    config = replace(accuracy_config(SimpleNamespace(arch=arch, task=task)), subset=300, device="cpu")
    train(config, on_note=notes.append)
    assert any("Every gradient was exactly zero" in n and "The weights did not move." in n for n in notes), notes
