"""The window with hostile My digits folders, and the small guards around it: it starts and
says what it skipped; batch delete and undo; an import in its thread with Cancel; a fine-tune
that ends after a model switch is offered; Evaluation keeps one worker and one queued; a
settings file that is a symlink is never written through."""

import json
import os
import struct
import zlib

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget
from ui_helpers import make_predictor

from mnist_desktop.model import MyDigits, mnist_arrays
from mnist_desktop.ui.settings import MY_DIGITS_FOLDER


def _collection(folder, count: int):
    digits = MyDigits(folder)
    images = mnist_arrays("test")[0]
    return [digits.add(np.kron(images[k], np.ones((4, 4), np.uint8)), k % 10) for k in range(count)]


def _start(qtbot, tmp_path, folder, predictor=None, settings=None):
    from mnist_desktop.ui import MainWindow

    settings = settings or QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    if folder is not None:
        settings.setValue(MY_DIGITS_FOLDER, str(folder))
    w = MainWindow(settings=settings, predictor=predictor)
    w.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(w)
    w.show()
    w.docks["my_digits"].show()
    w.docks["my_digits"].raise_()
    qtbot.waitExposed(w)
    return w


def test_the_window_starts_on_a_hostile_folder_and_says_what_it_skipped(qtbot, tmp_path, cnn_predictor):
    folder = tmp_path / "digits"
    ids = _collection(folder, 5)
    chunk = b"IHDR" + struct.pack(">IIBBBBB", 20000, 10000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + bytes(64)
    (folder / "index.json").write_text("[" * 50_000 + "]" * 50_000)  # RecursionError in json
    (folder / "28x28" / f"{ids[0]}.png").write_bytes(bomb)  # DecompressionBombError
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "28x28" / ("a" * 32 + ".png"))
        os.symlink(tmp_path / "nowhere", folder / "28x28" / ("b" * 32 + ".png"))
    w = _start(qtbot, tmp_path, folder, cnn_predictor)
    panel = w.my_digits
    qtbot.waitUntil(lambda: panel.count() == 4, timeout=10_000)
    notes = panel.findChild(QWidget, "my_digits_notes")
    assert notes.isVisible() and "skipped" in notes.text() and "\n" not in notes.text()
    assert "index" in notes.text() or "28×28" in notes.text()
    # The rest of the collection is usable: a digit saved now keeps the four others.
    assert panel.add(np.kron(mnist_arrays("test")[0][9], np.ones((4, 4), np.uint8)), 3)
    assert len(MyDigits(folder)) == 5
    w.close()


def test_delete_many_and_undo_in_the_dock(qtbot, tmp_path, cnn_predictor, monkeypatch):
    from mnist_desktop.model import mydigits as md

    folder = tmp_path / "digits"
    ids = _collection(folder, 40)
    w = _start(qtbot, tmp_path, folder, cnn_predictor)
    panel = w.my_digits
    qtbot.waitUntil(lambda: panel.accuracy is not None, timeout=20_000)  # answers computed between events
    writes = []
    real = md._write_atomic
    monkeypatch.setattr(md, "_write_atomic", lambda path, data, sync=True: (writes.append(path.name), real(path, data, sync))[1])
    assert panel.remove(ids[:30]) == 30 and panel.count() == 10 and writes.count("index.json") == 1
    writes.clear()
    assert panel.undo_remove() == 30 and panel.count() == 40 and writes.count("index.json") == 1
    assert sorted(MyDigits(folder).ids()) == sorted(ids)
    w.close()


def test_import_runs_in_a_thread_and_cancel_adds_nothing(qtbot, tmp_path, cnn_predictor):
    source = tmp_path / "source"
    _collection(source, 30)
    archive = MyDigits(source).export_zip(tmp_path / "all.zip").path
    w = _start(qtbot, tmp_path, tmp_path / "digits", cnn_predictor)
    panel = w.my_digits
    with qtbot.waitSignal(panel.zipFinished, timeout=30_000) as done:
        assert panel.import_zip(archive)
        panel.cancel_zip()  # at once: the worker sees it before its first digit or soon after
    assert done.args == ["import", None] and panel.count() == 0 and len(MyDigits(tmp_path / "digits")) == 0
    with qtbot.waitSignal(panel.zipFinished, timeout=30_000):
        assert panel.import_zip(archive)
    assert panel.last_zip_result == 30 and panel.count() == 30
    w.close()


def test_a_fine_tune_that_ends_after_a_model_switch_is_offered_not_made_active(qtbot, tmp_path, monkeypatch):
    from mnist_desktop.model import Predictor, finetune

    real = finetune.fine_tune
    monkeypatch.setattr(finetune, "fine_tune", lambda p, i, l, **kw: real(p, i, l, epochs=1, replay=200, repeat=1, **kw))
    folder = tmp_path / "digits"
    _collection(folder, 6)
    w = _start(qtbot, tmp_path, folder, Predictor.default())
    other = make_predictor("mlp")
    with qtbot.waitSignal(w.training.finished, timeout=120_000) as done:
        assert w.fine_tune_my_digits()
        w.set_predictor(other)  # the user switches models while it runs
    assert done.args[0] is not None and not done.args[0].stopped
    assert w.predictor is other  # not replaced behind the user's back
    assert w.training.stopped_result is done.args[0] and w.training.stopped_row.isVisibleTo(w.training)
    assert "offered" in w.my_digits.result.text()
    w.training.use_stopped_model()  # taken when the user asks
    assert w.predictor is done.args[0].predictor
    w.close()


def test_fine_tune_says_why_a_model_trained_on_accuracy_cannot_learn(qtbot, tmp_path):
    folder = tmp_path / "digits"
    _collection(folder, 3)
    model = make_predictor("linear")
    model.meta["training"] = {"loss": "accuracy"}
    w = _start(qtbot, tmp_path, folder, model)
    button = w.my_digits.findChild(QWidget, "fine_tune_button")
    assert not button.isEnabled() and "accuracy as its loss" in button.toolTip()
    w.close()


def test_evaluation_keeps_one_worker_and_one_queued_while_models_switch(qtbot, tmp_path):
    w = _start(qtbot, tmp_path, tmp_path / "digits")
    panel = w.evaluation
    w.docks["evaluation"].raise_()
    seen = []
    models = [make_predictor("cnn", seed=k) for k in range(8)]
    for p in models:
        w.set_predictor(p)
        seen.append((panel.computing, panel._threads.running()))
    assert max(c for c, _ in seen) <= 1 and max(t for _, t in seen) <= 2
    qtbot.waitUntil(lambda: panel.evaluation is not None, timeout=120_000)  # the last model's, once the run it waited for ended
    assert panel.predictor is models[-1] and panel.computing <= 1 and panel._threads.running() <= 2
    w.close()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symlinks")
def test_a_settings_file_that_is_a_symlink_is_never_written_through(qtbot, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("[General]\nmine=1\n")
    link = tmp_path / "s.ini"
    link.symlink_to(target)
    w = _start(qtbot, tmp_path, None, settings=QSettings(str(link), QSettings.Format.IniFormat))
    assert "symbolic link" in w.statusBar().currentMessage()
    w.settings.setValue("model/last", "x")
    w.close()
    assert target.read_text() == "[General]\nmine=1\n" and link.is_symlink()


def test_bench_uses_a_folder_of_its_own(tmp_path):
    from mnist_desktop import bench

    env = bench._gui_env()
    if isinstance(env, str):
        pytest.skip(env)
    run = bench._run_folder()
    assert env["TMPDIR"] == str(run) and env["XDG_DATA_HOME"].startswith(str(run))
    assert json.dumps(env)  # plain strings, for a subprocess
