"""My digits in the window: correct the label, see the count rise, fine-tune, see before → after."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from ui_helpers import settle

from mnist_desktop.model import Predictor, mnist_arrays


@pytest.fixture
def my_digits(window, tmp_path):
    panel = window.my_digits  # built when asked for: its dock is behind Training
    assert window.findChild(QWidget, "my_digits") is panel
    panel.set_folder(tmp_path / "digits")
    window.docks["my_digits"].raise_()
    panel.reload()
    return panel


def test_empty_my_digits_disables_fine_tune_with_a_reason(window, my_digits):
    button = my_digits.findChild(QWidget, "fine_tune_button")
    assert my_digits.count() == 0
    assert not button.isEnabled() and "empty" in button.toolTip()
    assert str(my_digits.folder()) in my_digits.findChild(QWidget, "my_digits_folder").text()


def test_correct_fine_tune_and_see_before_after(window, qtbot, my_digits, monkeypatch):
    from mnist_desktop.model import finetune

    real = finetune.fine_tune
    monkeypatch.setattr(finetune, "fine_tune", lambda p, i, l, **kw: real(p, i, l, epochs=1, replay=300, repeat=2, **kw))
    window.set_predictor(Predictor.default())
    images, labels = mnist_arrays("test")
    row = window.findChild(QWidget, "correct_label")
    # three test digits put on the canvas and labelled with the buttons under the prediction
    for k in range(3):
        window.canvas.set_image(np.kron(images[k], np.ones((10, 10), np.uint8)))
        settle(window, qtbot)
        assert row.isEnabled()
        button = row.findChild(QWidget, f"correct_{int(labels[k])}")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert my_digits.count() == k + 1
    assert my_digits.count(int(labels[0])) >= 1
    # the keyboard: Ctrl+Alt+digit saves too
    window.correct_actions[5].trigger()
    assert my_digits.count() == 4 and my_digits.count(5) >= 1
    assert my_digits.accuracy is not None and "reads" in my_digits.accuracy_label.text()

    # delete is undoable
    ident = my_digits.gallery.keys()[0]
    assert my_digits.remove([ident]) == 1 and my_digits.count() == 3
    assert my_digits.undo_remove() == 1 and my_digits.count() == 4

    before = window.predictor
    button = my_digits.findChild(QWidget, "fine_tune_button")
    assert button.isEnabled()
    with qtbot.waitSignal(window.training.finished, timeout=120000) as done:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert done.args[0] is not None and not done.args[0].stopped
    assert window.predictor is not before and window.predictor is done.args[0].predictor  # the fine-tuned model is active
    assert window.predictor.meta["training"]["fine_tuned"]["personal_digits"] == 4
    ba = my_digits.before_after
    assert ba is not None and set(ba) >= {"my_digits", "mnist_test", "fixed", "broken"}
    assert ba["mnist_test"][0] == pytest.approx(before.metrics["test_accuracy"])
    text = my_digits.findChild(QWidget, "fine_tune_result").text()
    assert "My digits (4)" in text and "MNIST test" in text and "Wrong → right" in text
    assert "The new model is active" in text
    assert window.previous_model() and window.predictor is before  # undo
    text = my_digits.findChild(QWidget, "fine_tune_result").text()
    assert "is active" not in text and "no longer the active one" in text and "MNIST test" in text  # said of that model only


def test_a_3v7_fine_tune_says_how_many_test_digits_it_was_measured_on(window, qtbot, my_digits, monkeypatch):
    """A 3-vs-7 model is validated on MNIST's 2,038 test 3s and 7s, not 10,000; a 5 it cannot
    read is said to be left out, in the singular."""
    from mnist_desktop.model import finetune

    real = finetune.fine_tune
    monkeypatch.setattr(finetune, "fine_tune", lambda p, i, l, **kw: real(p, i, l, epochs=1, replay=300, repeat=1, **kw))
    images, labels = mnist_arrays("test")
    for digit in (3, 7, 5):
        window.canvas.set_image(np.kron(images[np.flatnonzero(labels == digit)[0]], np.ones((10, 10), np.uint8)))
        window.save_my_digit(digit)
    assert window.statusBar().currentMessage() == "Saved as a 5 in My digits (1 labelled 5, 3 digits in all)."
    window.canvas.set_image(np.kron(images[np.flatnonzero(labels == 8)[0]], np.ones((10, 10), np.uint8)))
    window.save_my_digit(8)
    assert window.statusBar().currentMessage() == "Saved as an 8 in My digits (1 labelled 8, 4 digits in all)."
    my_digits.remove([my_digits.gallery.keys()[-1]])
    panel = window.training  # a real 3-vs-7 model, trained here in a second
    panel.task.setCurrentIndex(panel.task.findData("3v7"))
    panel.arch.setCurrentIndex(panel.arch.findData("linear"))
    panel.epochs.setValue(1)
    with qtbot.waitSignal(panel.finished, timeout=120000):
        panel.train_button.click()
    assert window.predictor.classes == [3, 7]
    qtbot.waitUntil(lambda: "not among its classes" in my_digits.accuracy_label.text())
    assert "of 2; 1 more is not among its classes)." in my_digits.accuracy_label.text()
    with qtbot.waitSignal(window.training.finished, timeout=120000) as done:
        assert window.fine_tune_my_digits()
    assert done.args[0] is not None and not done.args[0].stopped, window.training.message.text()
    text = my_digits.findChild(QWidget, "fine_tune_result").text()
    assert f"MNIST test ({int(np.isin(labels, [3, 7]).sum()):,})" in text and "2,038" in text
    assert "1 of your 3 digits is not among this model's classes (3, 7) and was left out." in done.args[0].notes


def test_fine_tune_disabled_for_pixel_similarity(window, my_digits):
    from ui_helpers import make_predictor

    window.canvas.set_image(np.kron(mnist_arrays("test")[0][0], np.ones((10, 10), np.uint8)))
    window.save_my_digit(7)
    assert my_digits.count() == 1
    window.set_predictor(make_predictor("pixel-similarity"))
    button = my_digits.findChild(QWidget, "fine_tune_button")
    assert not button.isEnabled() and "no weights" in button.toolTip()


def test_export_import_and_relabel_from_the_dock(window, qtbot, my_digits, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    images = mnist_arrays("test")[0]
    for k, label in ((0, 7), (1, 2)):
        window.canvas.set_image(np.kron(images[k], np.ones((10, 10), np.uint8)))
        assert window.save_my_digit(label)
    export = my_digits.findChild(QWidget, "my_digits_export")
    assert export.isEnabled()
    zip_path = tmp_path / "mine.zip"
    with qtbot.waitSignal(my_digits.zipFinished, timeout=30_000):
        assert my_digits.export_zip(zip_path)
    assert my_digits.last_zip_result.digits == 2 and zip_path.is_file()

    # Another folder, empty: nothing to export; importing the zip brings both digits with their labels.
    my_digits.set_folder(tmp_path / "elsewhere")
    my_digits.reload()
    assert my_digits.count() == 0 and not export.isEnabled()
    messages = []
    my_digits.message.connect(messages.append)
    with qtbot.waitSignal(my_digits.zipFinished, timeout=30_000):
        assert my_digits.import_zip(zip_path)
    assert my_digits.last_zip_result == 2
    assert my_digits.count(7) == 1 and my_digits.count(2) == 1 and "Imported 2" in messages[-1]
    with qtbot.waitSignal(my_digits.zipFinished, timeout=30_000):
        my_digits.import_zip(zip_path)
    assert my_digits.last_zip_result == 0  # not twice

    # Re-label through the dock's dialog, which starts at the digit's label (it started at 0): the 7 becomes a 1.
    asked = []

    def get_int(parent, title, text, value, minimum, maximum):
        asked.append((value, minimum, maximum))
        return 1, True

    monkeypatch.setattr(QInputDialog, "getInt", get_int)
    seven = [i for i, label in zip(my_digits.store().ids(), (my_digits.store().label(i) for i in my_digits.store().ids())) if label == 7]
    my_digits._ask_relabel(seven)
    assert asked == [(7, 0, 9)]  # value, minimum, maximum
    assert my_digits.count(7) == 0 and my_digits.count(1) == 1

    # A file that is no export: one message, nothing changes.
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    with qtbot.waitSignal(my_digits.zipFinished, timeout=30_000):
        my_digits.import_zip(bad)
    assert my_digits.last_zip_result is None
    assert messages[-1].startswith("Cannot import:") and my_digits.count() == 2


def test_a_stopped_fine_tune_says_so_and_leaves_its_offer_in_front(window, qtbot, my_digits, monkeypatch):
    """A second fine-tune clears the first one's before → after when it starts. Stopped, it
    says so in My digits, leaves the Training panel (and its "Use the stopped model") in front
    and the status bar no longer says that a trained model is active."""
    from mnist_desktop.model import finetune

    real = finetune.fine_tune
    stop_after_a_batch = []  # non-empty: the run stops after its first batch, as Stop pressed then does

    def quick(p, i, l, on_batch=None, stop_event=None, **kw):
        def batch(info):
            on_batch(info)
            if stop_after_a_batch:
                stop_event.set()

        return real(p, i, l, epochs=1, replay=300, repeat=30, on_batch=batch, stop_event=stop_event, **kw)

    monkeypatch.setattr(finetune, "fine_tune", quick)
    window.set_predictor(Predictor.default())
    images, labels = mnist_arrays("test")
    for k in range(2):
        window.canvas.set_image(np.kron(images[k], np.ones((10, 10), np.uint8)))
        window.save_my_digit((int(labels[k]) + 1) % 10)  # wrong labels: the fine-tune changes answers
    result = my_digits.findChild(QWidget, "fine_tune_result")
    changed = my_digits.findChild(QWidget, "fine_tune_changed")
    with qtbot.waitSignal(window.training.finished, timeout=120000):
        assert window.fine_tune_my_digits()
    assert "The new model is active" in result.text() and not window.docks["my_digits"].visibleRegion().isEmpty()
    assert changed.count() > 0 and not changed.isHidden()
    assert window.statusBar().currentMessage().startswith("The trained model is active")

    stop_after_a_batch.append(True)
    with qtbot.waitSignal(window.training.finished, timeout=120000) as done:
        assert window.fine_tune_my_digits()
        # started: the first run's result and changed digits are gone
        assert "is active" not in result.text() and "Fine-tuning on your digits" in result.text()
        assert changed.count() == 0 and changed.isHidden()
    assert done.args[0] is not None and done.args[0].stopped and done.args[0].history
    assert "Fine-tuning stopped" in result.text() and "Use the stopped model" in result.text()
    assert "is active" not in result.text() and "Wrong → right" not in result.text()
    assert changed.count() == 0 and changed.isHidden()
    # the offer in front, not My digits (a dock behind another tab counts as visible to Qt: its region says)
    assert window.training.findChild(QWidget, "stopped_row").isVisible()
    assert not window.docks["training"].visibleRegion().isEmpty() and window.docks["my_digits"].visibleRegion().isEmpty()
    assert window.statusBar().currentMessage() == "Stopped: the active model is unchanged. The Training panel offers the stopped model."


def test_zip_messages_count_in_words_and_say_what_was_skipped(window, qtbot, my_digits, tmp_path):
    """ "Exported 1 digits" and "Imported 0 digits (1 in all)" were the words: the counts now
    agree with their nouns, and an import that adds nothing says its digits were there already."""
    images = mnist_arrays("test")[0]
    messages = []
    my_digits.message.connect(messages.append)

    def zip_job(start, *args):
        with qtbot.waitSignal(my_digits.zipFinished, timeout=30_000):
            assert start(*args)
        return messages[-1]

    window.canvas.set_image(np.kron(images[0], np.ones((10, 10), np.uint8)))
    assert window.save_my_digit(7)
    one = tmp_path / "one.zip"
    assert zip_job(my_digits.export_zip, one) == f"Exported 1 digit to {one}."
    assert zip_job(my_digits.import_zip, one) == "Nothing imported: its one digit is in My digits already (1 digit in all)."
    my_digits.remove(my_digits.gallery.keys())
    assert zip_job(my_digits.import_zip, one) == "Imported 1 digit (1 digit in all)."

    window.canvas.set_image(np.kron(images[1], np.ones((10, 10), np.uint8)))
    assert window.save_my_digit(2)
    two = tmp_path / "two.zip"
    assert zip_job(my_digits.export_zip, two) == f"Exported 2 digits to {two}."
    assert zip_job(my_digits.import_zip, two) == "Nothing imported: all 2 of its digits are in My digits already (2 digits in all)."
    my_digits.remove(my_digits.gallery.keys()[:1])
    assert (
        zip_job(my_digits.import_zip, two)
        == "Imported 1 digit; 1 digit already in My digits or repeated in the zip was skipped (2 digits in all)."
    )


def test_a_delete_does_not_promise_an_undo_it_cannot_do(window, qtbot, my_digits):
    """A digit whose 28×28 file cannot be read when it is deleted cannot be brought back (Undo
    delete leaves it off); the message said "Undo delete brings it back" all the same."""
    from mnist_desktop.model.mydigits import SMALL

    images = mnist_arrays("test")[0]
    undo = my_digits.findChild(QWidget, "my_digits_undo")
    window.canvas.set_image(np.kron(images[0], np.ones((10, 10), np.uint8)))
    assert window.save_my_digit(7)
    (ident,) = list(my_digits.gallery.keys())
    (my_digits.store().folder / SMALL / f"{ident}.png").unlink()  # gone (a disk error, another program)
    assert my_digits.remove([ident]) == 1
    assert window.statusBar().currentMessage() == "Deleted 1 digit (0 digits left). It cannot be brought back: the file could not be read."
    assert not undo.isEnabled()


def test_delete_says_how_many_are_left_and_undo_is_on_only_when_it_can_bring_digits_back(window, qtbot, my_digits, tmp_path):
    """A delete said nothing (the status bar kept "… 2 digits in all" with one left); after the
    digits deleted came back from a zip, Undo delete stayed enabled and did nothing."""
    images = mnist_arrays("test")[0]
    undo = my_digits.findChild(QWidget, "my_digits_undo")
    bar = window.statusBar()
    for k, label in ((0, 7), (1, 8)):
        window.canvas.set_image(np.kron(images[k], np.ones((10, 10), np.uint8)))
        assert window.save_my_digit(label)
    assert bar.currentMessage() == "Saved as an 8 in My digits (1 labelled 8, 2 digits in all)."
    seven, eight = (i for i, label in zip(my_digits.gallery.keys(), my_digits._labels) if label in (7, 8))
    assert my_digits.remove([eight]) == 1
    assert bar.currentMessage() == "Deleted 1 digit (1 digit left). Undo delete brings it back." and undo.isEnabled()
    assert my_digits.undo_remove() == 1
    assert bar.currentMessage() == "Brought back 1 digit (2 digits in all)." and not undo.isEnabled()

    # a zip of the 7 alone; both deleted, then the zip imported: only the 8 is left to bring back
    seven_only = tmp_path / "seven.zip"
    my_digits.remove([eight])
    with qtbot.waitSignal(my_digits.zipFinished, timeout=30_000):
        assert my_digits.export_zip(seven_only)
    assert my_digits.undo_remove() == 1
    assert my_digits.remove([seven, eight]) == 2
    assert bar.currentMessage() == "Deleted 2 digits (0 digits left). Undo delete brings them back." and undo.isEnabled()
    with qtbot.waitSignal(my_digits.zipFinished, timeout=30_000):
        assert my_digits.import_zip(seven_only)
    assert my_digits.count() == 1 and undo.isEnabled()
    assert my_digits.undo_remove() == 1 and my_digits.count() == 2 and my_digits.count(8) == 1
    assert not undo.isEnabled()

    # every digit deleted comes back from the zip: nothing is left for Undo delete to do
    my_digits.remove([seven])
    assert undo.isEnabled()
    with qtbot.waitSignal(my_digits.zipFinished, timeout=30_000):
        assert my_digits.import_zip(seven_only)
    assert my_digits.count() == 2 and not undo.isEnabled()


def test_a_fine_tune_shows_its_own_settings_while_it_runs_and_gives_the_users_back(window, qtbot, my_digits, tmp_path):
    """While a fine-tune ran, the greyed Training form showed the user's settings (here 7 epochs
    at 0.5, batches of 256, a linear model) though it trains the active CNN 4 epochs in batches
    of 64 at a 0.03 peak one-cycle rate. The form now shows the run's settings, and the user's
    come back when it ends (and are what is saved if the window closes meanwhile)."""
    from PySide6.QtCore import QSettings

    from mnist_desktop.model import finetune

    window.set_predictor(Predictor.default())
    images, labels = mnist_arrays("test")
    for k in range(3):
        my_digits.add(images[k], int(labels[k]))
    training = window.training
    training.arch.setCurrentIndex(training.arch.findData("linear"))
    training.lr.setValue(0.5)
    training.epochs.setValue(7)
    training.batch_size.setValue(256)
    users = training.config()
    run = finetune.fine_tune_config(window.predictor)
    assert (run.epochs, run.lr, run.batch_size, run.schedule, run.arch) == (finetune.EPOCHS, finetune.LR, 64, "onecycle", "cnn")
    with qtbot.waitSignal(training.finished, timeout=120_000):
        assert window.fine_tune_my_digits()
        training.set_paused(True)  # before its first batch: the run waits while we look
        shown = training.config()
        assert (shown.arch, shown.epochs, shown.lr, shown.batch_size, shown.schedule, shown.augment) == (
            "cnn",
            finetune.EPOCHS,
            pytest.approx(finetune.LR),
            64,
            "onecycle",
            True,
        )
        assert not training.lr.isEnabled() and training.lr.value() == pytest.approx(0.03)
        assert "Your settings come back when it ends" in training.message.text()
        assert training.users_config() == users
        saved = QSettings(str(tmp_path / "during.ini"), QSettings.Format.IniFormat)
        training.save_settings(saved)  # the window closing meanwhile keeps the user's settings
        assert int(saved.value("training/epochs")) == 7 and saved.value("training/arch") == "linear"
        training.stop()
    assert training.config() == users and training.users_config() == users
    assert training.lr.isEnabled() and training.epochs.value() == 7


def test_the_fine_tunes_start_message_names_the_model_then_my_digits_with_no_accuracy_between(window, qtbot, my_digits):
    """The review read "Fine-tuning Convolutional net (CNN) · All ten digits · test accuracy
    99.32 % on My digits, mixed with …": the MNIST test accuracy, put before "on My digits",
    read as an accuracy on My digits. The message names the model, then how many of the
    user's digits it is fine-tuned on."""
    from mnist_desktop.model import finetune

    window.set_predictor(Predictor.default())
    images, labels = mnist_arrays("test")
    for k in range(3):
        my_digits.add(images[k], int(labels[k]))
    training = window.training
    run = finetune.fine_tune_config(window.predictor)
    with qtbot.waitSignal(training.finished, timeout=120_000):
        assert window.fine_tune_my_digits()
        training.set_paused(True)  # before its first batch: the run waits while we read
        text = training.message.text()
        training.stop()
    model = window.predictor.describe(accuracy=False)
    assert model and "accuracy" not in model and "%" not in model
    assert text.startswith(f"Fine-tuning {model} on My digits (3 digits), mixed with {run.subset:,} MNIST training digits: "), text
    assert "%" not in text and "accuracy" not in text
