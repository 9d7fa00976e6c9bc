"""Training from the panel: a real short run, Stop, closing while training, errors."""

import os
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from ui_helpers import CLOSE_WHILE_TRAINING, make_predictor

import mnist_desktop.model as engine
from mnist_desktop.ui.training import TrainingPanel


def choose(panel: TrainingPanel, task: str, arch: str, **values) -> None:
    panel.task.setCurrentIndex(panel.task.findData(task))
    panel.arch.setCurrentIndex(panel.arch.findData(arch))
    for name, value in values.items():
        getattr(panel, name).setValue(value)


def test_training_run_updates_plot_progress_and_activates_model(window, qtbot):
    panel = window.training
    train_button = window.findChild(type(panel.train_button), "train_button")
    assert train_button is panel.train_button
    choose(panel, "digits", "linear", epochs=1, batch_size=256)
    old = window.predictor
    with qtbot.waitSignal(panel.finished, timeout=120_000) as blocker:
        qtbot.mouseClick(train_button, Qt.MouseButton.LeftButton)
        assert not panel.train_button.isEnabled() and panel.stop_button.isEnabled()
    result = blocker.args[0]
    assert result is not None and not result.stopped
    # the plot got the batch losses and the epoch's validation point
    x, y = panel.plot.raw_curve.getData()
    assert x is not None and len(y) == len(panel.batch_losses()) > 10
    vx, vy = panel.plot.valid_curve.getData()
    assert list(vx) == [1.0]
    ax, ay = panel.plot.acc_curve.getData()
    assert 0.8 < ay[0] <= 1.0
    progress = window.findChild(type(panel.progress), "train_progress")
    assert progress.value() == progress.maximum() > 1
    # the new model is active at once, with its metrics
    assert window.predictor is result.predictor and window.predictor is not old
    assert window.predictor.arch == "linear"
    assert "Linear" in window.model_label.text() and "%" in window.model_label.text()
    assert panel.train_button.isEnabled() and not panel.stop_button.isEnabled()
    assert "fc" in window.activations.weight_panels  # the linear templates


def test_the_panels_last_update_comes_after_the_threads_end_not_chained_to_it(window, qtbot, monkeypatch):
    """The end of a run: the new model's swap (on the worker's signal) and the plot's last
    redraw (on the thread's end) ran in one chain of queued events, the window's longest stall
    (60 ms; bench gui measures it). The redraw now comes from a timer a few ms later; until then
    nothing can be started, stopped or paused, and ``finished`` still comes after it, the panel
    ready to train again and the plot complete."""
    panel = window.training
    choose(panel, "digits", "linear", epochs=1, batch_size=512)
    seen = {}
    thread_finished = panel._on_thread_finished

    def on_thread_finished():
        thread_finished()
        seen["training while queued"] = panel.is_training()
        seen["buttons"] = (panel.train_button.isEnabled(), panel.stop_button.isEnabled(), panel.pause_button.isEnabled())
        panel.stop()  # too late to stop: nothing changes
        seen["stopping"] = panel._stop_event.is_set()

    monkeypatch.setattr(panel, "_on_thread_finished", on_thread_finished)  # connected at start(): this one
    emitted = []
    panel.finished.connect(lambda result: emitted.append((panel.is_training(), panel.train_button.isEnabled())))
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        panel.train_button.click()
    assert seen == {"training while queued": True, "buttons": (False, False, False), "stopping": False}
    assert emitted == [(False, True)]  # then finished, the panel ready
    vx, _ = panel.plot.valid_curve.getData()
    assert list(vx) == [1.0] and panel.progress.text().startswith("Done")


def test_stop_keeps_the_active_model_and_offers_the_stopped_one(window, qtbot):
    panel = window.training
    choose(panel, "digits", "cnn", epochs=20)
    old = window.predictor
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.batch_losses()) > 0, timeout=60_000)
    with qtbot.waitSignal(panel.finished, timeout=30_000) as blocker:
        qtbot.mouseClick(window.findChild(type(panel.stop_button), "stop_button"), Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.stopped
    qtbot.waitUntil(lambda: not panel.is_training())
    assert panel.train_button.isEnabled()
    assert "Stopped" in panel.progress.format()
    assert panel.figure_rows[-1][0].endswith("*")  # the stopped epoch's row is not taken for a whole one
    assert panel.epoch_note.isVisible() and panel.epoch_note.text().startswith("* Stopped in epoch ")
    # the previous model stays active; the stopped one is offered with its accuracy
    assert window.predictor is old and not window.unsaved
    assert "active model is unchanged" in panel.message.text()
    use = window.findChild(type(panel.train_button), "use_stopped_button")
    assert use.isVisible() and "Use the stopped model (accuracy" in use.text() and "%" in use.text()
    # Save… saves the stopped model without making it active
    saved = []
    window.save_model_dialog = lambda predictor=None: saved.append(predictor)
    panel.save_stopped_button.click()
    assert saved == [result.predictor] and window.predictor is old
    use.click()
    assert window.predictor is result.predictor and window.unsaved
    assert not use.isVisible()
    # and the model before it is one action away
    assert window.previous_model_action.isEnabled()
    window.previous_model_action.trigger()
    assert window.predictor is old and not window.unsaved


def test_close_during_training_waits_for_worker(window, qtbot):
    panel = window.training
    choose(panel, "digits", "cnn", epochs=20)
    panel.start()
    qtbot.waitUntil(lambda: len(panel.batch_losses()) > 0, timeout=60_000)
    thread = panel._thread
    assert thread.isRunning()
    window.close()
    assert not panel.is_training()
    assert thread.isFinished()


def test_closing_app_during_training_exits_cleanly(tmp_path):
    """``run()`` in a fresh process: close the window while the CNN trains → exit code 0, no QThread abort."""
    script = CLOSE_WHILE_TRAINING
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))  # settings stay in tmp_path
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=150, env=env)
    assert p.returncode == 0, p.stderr
    assert "QThread" not in p.stderr, p.stderr
    assert list(tmp_path.rglob("*.conf")), "settings were saved on close"


@pytest.mark.parametrize(
    "error",
    [
        engine.DivergedError("The loss became nan at step 5: training diverged. Try 0.01."),
        engine.DataError("train-images-idx3-ubyte(.gz) not found in /nowhere."),
        engine.TrainingError("Out of memory on cuda with batch size 60000: try a smaller batch size."),
    ],
)
def test_training_errors_show_a_message(window, qtbot, monkeypatch, error):
    def fail(config, **callbacks):
        raise error

    monkeypatch.setattr(engine, "train", fail)
    old = window.predictor
    with qtbot.waitSignal(window.training.finished, timeout=10_000) as blocker:
        window.training.train_button.click()
    assert blocker.args[0] is None
    assert str(error) in window.training.message.text()
    qtbot.waitUntil(lambda: window.training.train_button.isEnabled())
    assert window.predictor is old  # the app keeps going with its model
    assert window.training.progress.format() == "Failed"


def test_stop_before_the_first_batch_keeps_the_active_model(window, qtbot):
    panel = window.training
    old = window.predictor
    choose(panel, "digits", "cnn", epochs=20)
    with qtbot.waitSignal(panel.finished, timeout=60_000) as blocker:
        panel.start()
        panel.stop()  # before the worker has loaded the data
    result = blocker.args[0]
    assert result.stopped and result.history == [] and result.notes == []
    assert window.predictor is old
    assert "active model is unchanged" in panel.message.text()
    assert "Stopped" in panel.progress.format()


def test_out_of_memory_on_the_cpu_is_a_message(window, qtbot, monkeypatch):
    import mnist_desktop.model.training as training

    def allocate(*args, **kwargs):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate 35184372088832 bytes."
        )

    monkeypatch.setattr(training, "_sgd", allocate)
    with qtbot.waitSignal(window.training.finished, timeout=30_000):
        window.training.train_button.click()
    text = window.training.message.text()
    assert text.startswith(f"⚠ Out of memory on cpu with batch size {window.training.batch_size.value()}: try a smaller batch size")
    assert "CPU" not in text  # it is on the CPU already


def test_invalid_settings_are_reported_not_started(window, qtbot):
    panel = window.training
    config = panel.config()
    config.loss = "mnist-loss"  # needs two classes
    assert not panel.start(config)
    assert "two classes" in panel.message.text()
    assert not panel.is_training()


def test_pixel_similarity_shows_mean_images(window, qtbot):
    panel = window.training
    choose(panel, "3v7", "pixel-similarity")
    assert not panel.lr.isEnabled()  # no SGD
    with qtbot.waitSignal(panel.finished, timeout=60_000) as blocker:
        panel.train_button.click()
    result = blocker.args[0]
    assert result.predictor.arch == "pixel-similarity"
    assert panel.means_view.isVisible()
    means = panel.means_image.image
    assert means.shape == (30, 60) and means.max() > 0.5  # the ideal 3 and 7, side by side
    assert window.prediction.bars.classes == [3, 7]
    assert "similarity" in window.activations.weight_panels


def test_defaults_follow_task_and_architecture(window):
    panel = window.training
    for task in engine.TASKS:
        for arch in engine.ARCHITECTURES:
            choose(panel, task, arch)
            rec = engine.recommended_config(task, arch)
            c = panel.config()
            assert (c.loss, c.lr, c.momentum, c.batch_size, c.epochs) == pytest.approx(
                (rec.loss, rec.lr, rec.momentum, rec.batch_size, rec.epochs)
            )
    choose(panel, "digits", "linear")
    mnist_loss = panel.loss.findData("mnist-loss")
    assert not panel.loss.model().item(mnist_loss).isEnabled()  # two classes only
    panel.loss.setCurrentIndex(panel.loss.findData("accuracy"))
    assert "gradient" in panel.loss_note.text()
    for w in (panel.task, panel.arch, panel.loss, panel.lr, panel.momentum, panel.batch_size, panel.epochs, panel.device):
        assert w.toolTip(), w.objectName()
    assert [panel.device.itemData(i) for i in range(panel.device.count())] == ["auto"] + engine.available_devices()


def test_accuracy_loss_explains_why_it_cannot_learn(window, qtbot):
    panel = window.training
    choose(panel, "digits", "linear", epochs=1, batch_size=1024)
    panel.loss.setCurrentIndex(panel.loss.findData("accuracy"))
    assert "gradient is zero" in panel.loss_note.text()  # said before training…
    with qtbot.waitSignal(panel.finished, timeout=120_000) as blocker:
        panel.train_button.click()
    assert blocker.args[0] is not None, panel.message.text()
    assert "gradient was exactly zero" in panel.message.text()  # …and shown by what training reports


def test_a_finished_run_becomes_active_and_previous_model_brings_the_old_one_back(window, qtbot):
    panel = window.training
    old = window.predictor
    choose(panel, "3v7", "linear", epochs=1)
    with qtbot.waitSignal(panel.finished, timeout=120_000) as blocker:
        panel.train_button.click()
    trained = blocker.args[0].predictor
    assert window.predictor is trained and window.unsaved
    message = window.findChild(type(panel.message), "train_message")
    assert "The new model is active" in message.text() and message.isVisibleTo(panel)
    window.previous_model()
    assert window.predictor is old and window.prediction.bars.classes == list(range(10))
    assert not window.previous_model_action.isEnabled()
    # the panel no longer says that the trained model is the active one
    assert "is active" not in message.text() and not message.isVisibleTo(panel)


def test_a_run_that_ends_after_a_model_switch_is_offered_not_made_active(window, qtbot):
    """A model chosen while the run went on (here the bundled one, as File → Use the bundled
    model does) stays active: the run's model is offered, as a fine-tune's is."""
    panel = window.training
    choose(panel, "3v7", "linear", epochs=1)
    chosen = make_predictor("linear")
    with qtbot.waitSignal(panel.finished, timeout=120_000) as blocker:
        panel.train_button.click()
        window.set_predictor(chosen)  # before the event loop can hand the run's model over
    result = blocker.args[0]
    assert not result.stopped and window.predictor is chosen
    assert panel.offered and "offered, not made active" in panel.message.text()
    use = window.findChild(type(panel.train_button), "use_stopped_button")
    assert use.isVisible() and use.text().startswith("Use the new model")
    use.click()
    assert window.predictor is result.predictor


class TrainerSeenEvent(threading.Event):
    """A threading.Event that counts how often another thread (the trainer) finds it set."""

    def __init__(self):
        super().__init__()
        self.seen = 0

    def is_set(self) -> bool:
        held = super().is_set()
        if held and threading.current_thread() is not threading.main_thread():
            self.seen += 1
        return held


def test_pause_holds_the_run_and_resume_goes_on_from_the_same_step(window, qtbot, monkeypatch):
    from mnist_desktop.ui import training as training_module

    # The panel's stop and pause flags count the trainer's checks: the test waits for those.
    monkeypatch.setattr(training_module, "threading", SimpleNamespace(Event=TrainerSeenEvent))
    panel = window.training
    choose(panel, "digits", "linear", epochs=3, batch_size=64)
    panel.start()
    qtbot.waitUntil(lambda: panel.progress_state.last is not None, timeout=60_000)
    pause = window.findChild(type(panel.train_button), "pause_button")
    pause.click()
    assert panel.is_paused() and pause.text() == "Resume"
    qtbot.waitUntil(lambda: "Paused" in panel.progress.format(), timeout=5_000)
    qtbot.waitUntil(lambda: panel._pause_event.seen >= 2, timeout=10_000)  # the trainer waits in the pause
    step = panel.progress_state.last.step  # reports sent before it paused have arrived meanwhile
    seen = panel._pause_event.seen
    qtbot.waitUntil(lambda: panel._pause_event.seen >= seen + 3, timeout=10_000)  # three more of its checks
    assert panel.progress_state.last.step == step and panel.is_training()  # nothing moved while paused
    pause.click()
    assert not panel.is_paused()
    qtbot.waitUntil(lambda: panel.progress_state.last.step > step, timeout=10_000)
    # the steps go on from where they were: no restart from step 1
    assert panel.progress_state.last.step > step
    with qtbot.waitSignal(panel.finished, timeout=60_000):
        panel.stop()


def test_one_more_epoch_trains_the_active_model_further(window, qtbot):
    panel = window.training
    choose(panel, "3v7", "linear", epochs=1)
    with qtbot.waitSignal(panel.finished, timeout=120_000) as blocker:
        panel.train_button.click()
    first = blocker.args[0].predictor
    more = window.findChild(type(panel.train_button), "more_button")
    assert more.isEnabled()
    choose(panel, "digits", "cnn")  # the controls may show something else: the active model is what goes on
    with qtbot.waitSignal(panel.finished, timeout=120_000) as blocker:
        more.click()
        # while it runs, the greyed controls show what it trains: the active model, one epoch
        assert (panel.arch.currentData(), panel.task.currentData(), panel.epochs.value()) == ("linear", "3v7", 1)
    second = blocker.args[0].predictor
    assert second is not first and (second.arch, second.task) == ("linear", "3v7")
    assert (panel.arch.currentData(), panel.task.currentData()) == ("cnn", "digits")  # the user's choice, back
    assert second.meta["training"]["epochs_total"] == 2
    assert window.predictor is second
    # pixel similarity has nothing to train further
    window.set_predictor(engine.train(engine.TrainConfig(arch="pixel-similarity", task="3v7", device="cpu")).predictor)
    assert not more.isEnabled()


def test_quit_asks_to_save_only_with_an_unsaved_trained_model(window, qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    asked = []
    window.ask_to_save = lambda: asked.append(1) or QMessageBox.StandardButton.Cancel
    assert window.close() and asked == []  # the bundled model: nothing to save
    window.show()
    window._closing = False
    trained = engine.train(engine.TrainConfig(arch="linear", task="3v7", subset=500, epochs=1, device="cpu")).predictor
    window.training.modelTrained.emit(trained)  # as a finished run makes its model active
    assert not window.close() and asked == [1]  # Cancel keeps the window open
    assert window.isVisible()
    window.ask_to_save = lambda: asked.append(2) or QMessageBox.StandardButton.Save
    window.save_model_dialog = lambda predictor=None: window.files.save_model(str(tmp_path / "m.safetensors"), predictor)
    assert window.close() and asked == [1, 2]
    assert (tmp_path / "m.safetensors").exists() and not window.unsaved


def test_advanced_options_reach_the_train_config(window):
    panel = window.training
    choose(panel, "digits", "mlp")
    assert not panel.advanced.isVisible()
    panel.advanced_toggle.click()
    assert panel.advanced.isVisible()
    panel.hidden.setValue(77)
    panel.weight_decay.setValue(0.001)
    panel.schedule.setCurrentIndex(panel.schedule.findData("constant"))
    panel.augment.setChecked(True)
    panel.seed.setValue(42)
    panel.nesterov.setChecked(False)
    panel.lr.setValue(50)  # diverges, and the app lets the learner see it
    c = panel.config()
    assert (c.hidden, c.weight_decay, c.schedule, c.augment, c.seed, c.nesterov, c.lr) == (77, 0.001, "constant", True, 42, False, 50)
    panel.momentum.setValue(0)
    assert not panel.nesterov.isEnabled()
    choose(panel, "digits", "cnn")
    assert not panel.hidden.isEnabled()  # the CNN has no hidden width


def test_a_preset_says_what_it_changed(window):
    panel = window.training
    choose(panel, "3v7", "cnn")
    panel.lr.setValue(0.123)
    panel.arch.setCurrentIndex(panel.arch.findData("linear"))
    text = panel.message.text()
    assert text.startswith("Recommended settings for Linear")
    assert "learning rate 0.123 → 1" in text and "loss Cross-entropy → MNIST loss (sigmoid distance)" in text


def test_a_run_far_slower_than_this_machines_usual_says_so(window, qtbot, settings, monkeypatch):
    panel = window.training
    monkeypatch.setattr(type(panel), "MEASURED_S", 0.0)  # compare from the first report
    choose(panel, "digits", "linear", epochs=3, batch_size=256)
    panel.usual_speeds["linear-256"] = 1e11  # as if this machine usually trained far faster
    said = []
    show_message = panel.show_message
    monkeypatch.setattr(panel, "show_message", lambda text, error=False: (said.append(text), show_message(text, error)))
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        panel.train()
    assert panel.speed_said is not None and panel.speed_said in said
    assert panel.speed_said.startswith("Training runs at 0 % of this machine's usual speed for this model")
    # the finished run becomes part of the usual speed, remembered with the settings
    assert panel.usual_speeds["linear-256"] < 1e11
    panel.save_settings(settings)
    assert window.training.restore_settings(settings) == []
    assert panel.usual_speeds["linear-256"] == pytest.approx(float(settings.value("training/usual_speed/linear-256")))
    # an ordinary run says nothing
    panel.usual_speeds["linear-256"] = 1.0
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        panel.train()
    assert panel.speed_said is None


def test_the_trainer_computes_the_new_models_colour_levels_before_handing_it_over():
    """The Activations panel's levels come with the model (computed in the training thread), so
    the swap at the end of a run does not compute them on the GUI thread."""
    import numpy as np

    from mnist_desktop.model import TrainConfig
    from mnist_desktop.model.levels import _levels, reference_levels
    from mnist_desktop.ui.training_worker import TrainingWorker

    worker = TrainingWorker(TrainConfig(arch="linear", subset=500, batch_size=50, device="cpu"), threading.Event())
    results = []
    trainer = threading.Thread(target=lambda: results.append(worker.work()))  # its own torch threads, as in the window
    trainer.start()
    trainer.join()
    result = results[0]
    assert result.predictor in _levels
    assert list(reference_levels(result.predictor)) == list(result.predictor.activations_batch(np.zeros((1, 28, 28), np.float32)))


def test_a_preset_chosen_during_a_run_waits_for_its_end(window, qtbot):
    """A chapter stage's settings chosen while an ordinary run trains went straight into the
    greyed form, which then showed settings the run was not using; they are shown once it ends."""
    from dataclasses import replace

    panel = window.training
    choose(panel, "3v7", "linear", epochs=1)
    running = panel.config()
    go = threading.Event()

    def task(on_batch, on_epoch, on_note, stop_event, pause_event):
        go.wait(60)
        return engine.train(running, on_batch=on_batch, on_epoch=on_epoch, on_note=on_note, stop_event=stop_event, pause_event=pause_event)

    preset = replace(engine.recommended_config("digits", "mlp"), epochs=9)
    with qtbot.waitSignal(panel.finished, timeout=120_000):
        assert panel.start(running, task=task)
        try:
            panel.set_up(preset, "train")
            shown = panel.config()
            assert (shown.task, shown.arch, shown.epochs) == ("3v7", "linear", 1)  # what the run trains with
            assert panel.users_config() == preset
        finally:
            go.set()
    shown = panel.config()
    assert (shown.task, shown.arch, shown.epochs) == ("digits", "mlp", 9)
