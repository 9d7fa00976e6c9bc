"""Step mode: the chapter's seven steps driven through the `stepper` widget of a real window."""

import threading
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

import mnist_desktop.model as engine
from mnist_desktop.ui.stepper import StepperWidget, StepperWorker, chapter_config
from mnist_desktop.ui.training import TrainingPanel


def small_chapter(**kw):
    return replace(chapter_config(), **{"device": "cpu", "subset": 600, "batch_size": 200, **kw})


def open_stepper(window) -> StepperWidget:
    window.training.set_mode("step")
    stepper = window.findChild(QWidget, "stepper")
    assert stepper is window.training.stepper and stepper.isVisible()
    return stepper


def button(stepper, name: str) -> QPushButton:
    return stepper.findChild(QPushButton, name)


def lit(stepper) -> set[str]:
    return {name for name, label in stepper.phase_labels.items() if label.property("lit")}


def press(qtbot, stepper, name: str):
    """Click ``name`` and wait until the stepper has drawn the state it ends on."""
    with qtbot.waitSignal(stepper.stateShown, timeout=60_000) as blocker:
        qtbot.mouseClick(button(stepper, name), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not stepper.busy)
    return blocker.args[0]


def test_step_mode_walks_the_seven_steps_phase_by_phase(window, qtbot):
    stepper = open_stepper(window)
    assert stepper.config.arch == "linear" and stepper.config.task == "3v7" and stepper.config.loss == "mnist-loss"
    assert stepper.config.momentum == 0 and stepper.config.lr == 1.0  # the chapter's setting by default
    assert stepper.set_config(small_chapter())
    assert "Linear on 3 vs 7" in stepper.findChild(QLabel, "stepper_settings").text()
    phases = []
    for expected in ("init", "predict", "loss", "gradient", "step"):
        state = press(qtbot, stepper, "step_phase")
        phases.append(state.phase)
        assert lit(stepper) == {expected}
        loss_text = stepper.findChild(QLabel, "step_loss").text()
        if expected in ("init", "predict"):
            assert "loss 0." not in loss_text
        else:
            assert loss_text == f"loss {state.loss:.4f}"
        if expected == "predict":  # the batch as thumbnails with label → prediction
            captions = stepper.shown_captions()
            assert len(captions) == 200 and all(c.split(" → ")[0] in ("3", "7") for c in captions)
            truth = [c.split(" → ")[0] for c in captions]
            assert truth == [str(state.classes[t]) for t in state.y]
        if expected == "gradient":
            assert stepper.heatmaps["gradient"].image is not None and stepper.heatmaps["after"].image is None
    assert phases == ["init", "predict", "loss", "gradient", "step"]
    # after the step: weights before, gradient and weights after, on one symmetric scale
    before, after = stepper.heatmaps["before"], stepper.heatmaps["after"]
    assert before.image.shape == after.image.shape == (28, 28)
    low, high = before.getLevels()
    assert low == -high and tuple(after.getLevels()) == (low, high)
    np.testing.assert_allclose(after.image, state.parameters["fc.weight"].reshape(28, 28))
    np.testing.assert_allclose(before.image, state.parameters_before["fc.weight"].reshape(28, 28))
    assert stepper.loss_points() == [(1, state.loss)]
    # Space steps one phase: the next batch's predict, with "repeat" lit beside it
    stepper.setFocus()
    with qtbot.waitSignal(stepper.stateShown, timeout=60_000):
        qtbot.keyClick(stepper, Qt.Key.Key_Space)
    assert stepper.state.phase == "predict" and stepper.state.batch == 2
    assert lit(stepper) == {"predict", "repeat"}
    # a whole batch: on to its step; the plot grows by one point
    state = press(qtbot, stepper, "step_batch")
    assert state.phase == "step" and state.step == 2 and len(stepper.loss_points()) == 2


def test_to_the_end_of_the_epoch_runs_in_the_background_and_ends_at_stop(window, qtbot, monkeypatch):
    stepper = open_stepper(window)
    stepper.set_config(small_chapter(epochs=2, batch_size=50))  # 12 batches an epoch
    threads = []
    work = StepperWorker.work
    monkeypatch.setattr(StepperWorker, "work", lambda self: threads.append(threading.current_thread()) or work(self))
    state = press(qtbot, stepper, "step_epoch")
    assert state.phase == "step" and state.epoch == 1 and state.batch == 12 and state.step == 12
    assert [x for x, _ in stepper.loss_points()] == list(range(1, 13))  # a point per batch
    progress = stepper.findChild(type(stepper.progress), "step_progress")
    assert progress.value() == 12 and progress.maximum() == 24
    assert threads and threads[0] is not threading.main_thread()  # the work ran off the GUI thread
    press(qtbot, stepper, "step_epoch")
    state = press(qtbot, stepper, "step_phase")
    assert state.phase == "stop" and lit(stepper) == {"stop"} and "epochs are done" in stepper.message.text()
    assert not button(stepper, "step_phase").isEnabled() and not button(stepper, "step_epoch").isEnabled()
    # Start over: back to init, everything cleared
    qtbot.mouseClick(button(stepper, "step_reset"), Qt.MouseButton.LeftButton)
    assert stepper.state is None and stepper.loss_points() == [] and button(stepper, "step_phase").isEnabled()
    assert press(qtbot, stepper, "step_phase").phase == "init"


def test_stop_ends_the_epoch_run_after_its_batch(window, qtbot):
    stepper = open_stepper(window)
    stepper.set_config(replace(chapter_config(), device="cpu", batch_size=64))  # 194 batches
    qtbot.mouseClick(button(stepper, "step_epoch"), Qt.MouseButton.LeftButton)
    assert stepper.busy and button(stepper, "step_stop").isEnabled() and not button(stepper, "step_phase").isEnabled()
    qtbot.mouseClick(button(stepper, "step_stop"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not stepper.busy, timeout=60_000)
    assert stepper.state.phase == "step" and stepper.state.step < stepper.state.batches_per_epoch
    assert button(stepper, "step_phase").isEnabled()


def test_a_diverging_learning_rate_says_so_and_stops(window, qtbot):
    stepper = open_stepper(window)
    config = engine.TrainConfig(
        task="digits", arch="linear", lr=1e6, momentum=0.0, weight_decay=0.0, schedule="constant", subset=500, batch_size=50, device="cpu"
    )
    assert stepper.set_config(config)
    assert stepper.findChild(type(stepper.lr), "stepper_lr").value() == 1e6
    state = press(qtbot, stepper, "step_epoch")
    assert state.phase == "stop" and state.diverged
    text = stepper.findChild(QLabel, "step_message").text()
    assert text.startswith("⚠") and "diverged" in text and "try 100000" in text
    assert lit(stepper) == {"stop"}
    assert not any(button(stepper, n).isEnabled() for n in ("step_phase", "step_batch", "step_epoch"))


def test_settings_it_cannot_step_get_one_message_and_change_nothing(window, qtbot):
    stepper = open_stepper(window)
    before = stepper.config
    assert not stepper.set_config(engine.TrainConfig(arch="pixel-similarity", task="3v7"))
    assert stepper.config is before and "no SGD" in stepper.message.text()
    assert not stepper.set_config(replace(chapter_config(), task="digits"))  # mnist_loss needs two classes
    assert stepper.config is before and "two classes" in stepper.message.text()


def test_changing_the_learning_rate_starts_over(window, qtbot):
    stepper = open_stepper(window)
    stepper.set_config(small_chapter())
    press(qtbot, stepper, "step_batch")
    stepper.lr.setValue(0.25)
    assert stepper.config.lr == 0.25 and stepper.state is None and stepper.loss_points() == []
    state = press(qtbot, stepper, "step_batch")
    assert state.lr == 0.25 and state.step == 1


def test_use_this_model_makes_the_stepped_model_active(window, qtbot):
    stepper = open_stepper(window)
    stepper.set_config(small_chapter())
    assert not button(stepper, "step_use").isEnabled()
    state = press(qtbot, stepper, "step_batch")
    with qtbot.waitSignal(window.training.modelTrained):
        qtbot.mouseClick(button(stepper, "step_use"), Qt.MouseButton.LeftButton)
    active = window.predictor
    assert active.arch == "linear" and active.task == "3v7"
    assert f"The model after {state.step} step{'' if state.step == 1 else 's'} is active" in stepper.message.text()
    assert f" · {state.step} step{'' if state.step == 1 else 's'} · " in stepper.progress.text(), stepper.progress.text()
    np.testing.assert_array_equal(active.model.fc.weight.detach().numpy(), state.parameters["fc.weight"])


def test_settings_from_train_and_the_modes(window, qtbot):
    panel = window.training
    assert panel.mode() == "train" and panel.train_page.isVisible()
    qtbot.mouseClick(panel.findChild(QPushButton, "mode_step"), Qt.MouseButton.LeftButton)
    assert panel.mode() == "step" and panel.stepper.isVisible() and not panel.train_page.isVisible()
    panel.task.setCurrentIndex(panel.task.findData("digits"))
    panel.arch.setCurrentIndex(panel.arch.findData("mlp"))
    qtbot.mouseClick(button(panel.stepper, "stepper_from_panel"), Qt.MouseButton.LeftButton)
    assert panel.stepper.config == panel.config()
    assert "MLP" in panel.stepper.settings_label.text()
    state = press(qtbot, panel.stepper, "step_batch")
    assert state.phase == "step"
    assert not panel.stepper.weights_view.isVisible() and "linear model" in panel.stepper.weights_title.text()
    panel.set_mode("train")
    assert panel.findChild(QPushButton, "mode_train").isChecked() and panel.train_page.isVisible()
    with pytest.raises(ValueError, match="mode"):
        panel.set_mode("walk")


def test_stepping_waits_for_torch(qtbot):
    panel = TrainingPanel(torch_ready=False)
    qtbot.addWidget(panel)
    stepper = panel.stepper
    assert not stepper.phase_button.isEnabled() and "Loading PyTorch" in stepper.message.text()
    assert not stepper.step_phase()
    panel.set_torch_ready()
    assert stepper.phase_button.isEnabled() and stepper.message.text() == ""
    panel.shutdown()


def test_new_settings_during_a_run_drop_what_the_old_run_sends(window, qtbot):
    stepper = open_stepper(window)
    stepper.set_config(replace(chapter_config(), device="cpu", batch_size=64))
    assert stepper.step_epoch()
    assert stepper.set_config(small_chapter())  # the Chapter-4 menu may load a setting at any time
    qtbot.waitUntil(lambda: not stepper.busy, timeout=60_000)
    assert stepper.state is None and stepper.loss_points() == []
    state = press(qtbot, stepper, "step_batch")
    assert state.batches_per_epoch == 3 and state.step == 1 and stepper.loss_points() == [(1, state.loss)]


def test_the_step_is_described_as_the_settings_make_it(window, qtbot):
    """With momentum (the linear model's recipe for ten digits) the step is not −lr × gradient:
    the weights' title and the step line say what it is; the chapter's plain SGD says −lr × gradient."""
    from mnist_desktop.ui.stepper import step_words

    assert step_words(chapter_config()) == "−lr × gradient"
    stepper = open_stepper(window)
    digits = replace(engine.recommended_config("digits", "linear"), device="cpu", subset=300, batch_size=100)
    assert digits.momentum == 0.9 and digits.nesterov
    assert stepper.set_config(digits)
    press(qtbot, stepper, "step_batch")
    title = stepper.findChild(QLabel, "step_weights_title").text()
    assert "momentum 0.9 (Nesterov)" in title and "by −lr × gradient" not in title
    assert "v = 0.9 * v + p.grad; p.data -= lr * (p.grad + 0.9 * v)" in stepper.shapes.text()
    assert stepper.set_config(small_chapter())
    press(qtbot, stepper, "step_batch")
    assert "by −lr × gradient (lr" in stepper.findChild(QLabel, "step_weights_title").text()
    assert "p.data -= lr * p.grad.data" in stepper.shapes.text()
