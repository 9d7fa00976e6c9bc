"""The jobs that moved onto the one worker base (``ui/workers.py``): My digits' zip import and
export, and the canvas's image decode. Each is driven through the base's own signals
(started, progress, finished, failed), its ``cancel()`` and ``WorkerThreads.shutdown()``, and
through the panel that uses it (progress dialog, Cancel, the message after a failure)."""

import threading
import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPushButton

from mnist_desktop.model import MyDigits
from mnist_desktop.ui.canvas import Canvas, ImageDecoder
from mnist_desktop.ui.mydigits import MyDigitsPanel, ZipWorker
from mnist_desktop.ui.workers import Worker, WorkerThreads, run_in_daemon_thread


def _collection(folder, count: int) -> list[str]:
    """``count`` different drawings (random ink, one seed each), labelled 0–9 in turn."""
    digits = MyDigits(folder)
    ids = []
    for k in range(count):
        ink = np.random.default_rng(k).random((28, 28)) < 0.3
        drawing = np.kron(ink.astype(np.uint8) * 255, np.ones((4, 4), np.uint8))
        ids.append(digits.add(drawing, k % 10))
    return ids


def _record(worker: Worker) -> dict[str, list]:
    seen: dict[str, list] = {"started": [], "progress": [], "finished": [], "failed": []}
    worker.started.connect(lambda g: seen["started"].append(g))
    worker.progress.connect(lambda g, p: seen["progress"].append((g, p)))
    worker.finished.connect(lambda g, r: seen["finished"].append((g, r)))
    worker.failed.connect(lambda g, m: seen["failed"].append((g, m)))
    return seen


def _ended(seen) -> bool:
    return bool(seen["finished"] or seen["failed"])


# ---------------------------------------------------------------------- the zip worker alone
def test_zip_export_and_import_run_on_the_worker_base(qtbot, tmp_path):
    _collection(tmp_path / "mine", 12)
    threads = WorkerThreads("test-zip")
    export = ZipWorker("export", tmp_path / "mine", tmp_path / "all.zip", generation=7)
    assert isinstance(export, Worker)
    seen = _record(export)
    threads.start(export)
    qtbot.waitUntil(lambda: _ended(seen) and threads.running() == 0, timeout=30_000)
    assert seen["started"] == [7] and not seen["failed"]
    assert [p for _g, p in seen["progress"]][-1] == (12, 12) and {g for g, _p in seen["progress"]} == {7}
    ((generation, result),) = seen["finished"]
    assert generation == 7 and result.digits == 12 and (tmp_path / "all.zip").is_file()

    imported = ZipWorker("import", tmp_path / "theirs", tmp_path / "all.zip")
    seen = _record(imported)
    threads.start(imported)
    qtbot.waitUntil(lambda: _ended(seen) and threads.running() == 0, timeout=30_000)
    assert seen["finished"] == [(0, 12)] and len(MyDigits(tmp_path / "theirs")) == 12
    assert [p for _g, p in seen["progress"]][-1] == (12, 12)


def test_a_cancelled_zip_import_fails_with_the_engines_words_and_adds_nothing(qtbot, tmp_path):
    _collection(tmp_path / "mine", 12)
    archive = MyDigits(tmp_path / "mine").export_zip(tmp_path / "all.zip").path
    worker = ZipWorker("import", tmp_path / "theirs", archive)
    seen = _record(worker)
    # Cancel from inside the job, after its first digit: the next check stops it.
    worker.progress.connect(lambda _g, _p: worker.cancel(), Qt.ConnectionType.DirectConnection)
    threads = WorkerThreads("test-zip")
    threads.start(worker)
    qtbot.waitUntil(lambda: _ended(seen) and threads.running() == 0, timeout=30_000)
    assert not seen["finished"] and seen["failed"] == [(0, "Import cancelled: nothing was added.")]
    assert len(seen["progress"]) < 12 and len(MyDigits(tmp_path / "theirs")) == 0


def test_a_zip_that_is_not_one_fails_with_a_message_naming_it(qtbot, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    worker = ZipWorker("import", tmp_path / "theirs", bad)
    seen = _record(worker)
    threads = WorkerThreads("test-zip")
    threads.start(worker)
    qtbot.waitUntil(lambda: _ended(seen) and threads.running() == 0, timeout=30_000)
    ((_g, message),) = seen["failed"]
    assert "bad.zip" in message and not message.startswith(("BadZipFile", "MnistDesktopError"))


# ---------------------------------------------------------------------- through the panel
def _panel(qtbot, folder) -> MyDigitsPanel:
    panel = MyDigitsPanel(folder)
    qtbot.addWidget(panel)
    panel.reload()
    return panel


def _hold_after_first_digit(worker: Worker) -> list:
    """Make ``worker`` wait, after it has reported its first digit, until it is cancelled (10 s
    at most): the test acts while the job is surely running."""
    calls = []

    def hold(_g, _p):
        calls.append(1)
        deadline = time.monotonic() + 10
        while len(calls) == 1 and not worker.cancelled() and time.monotonic() < deadline:
            time.sleep(0.005)

    worker.progress.connect(hold, Qt.ConnectionType.DirectConnection)
    return calls


def test_the_panels_cancel_button_stops_the_import_through_the_worker(qtbot, tmp_path, monkeypatch):
    _collection(tmp_path / "mine", 30)
    archive = MyDigits(tmp_path / "mine").export_zip(tmp_path / "all.zip").path
    panel = _panel(qtbot, tmp_path / "theirs")
    started = []
    real_start = panel._zip_threads.start
    monkeypatch.setattr(panel._zip_threads, "start", lambda w: (started.append(w), _hold_after_first_digit(w), real_start(w))[2])
    messages = []
    panel.message.connect(messages.append)

    assert panel.import_zip(archive)
    assert panel.zip_busy() and not panel.import_button.isEnabled()
    assert not panel.import_zip(archive)  # one at a time
    dialog = panel._zip_dialog
    qtbot.waitUntil(lambda: dialog.maximum() == 30 and dialog.value() == 1, timeout=10_000)  # the worker's progress, shown
    with qtbot.waitSignal(panel.zipFinished, timeout=30_000) as done:
        dialog.findChild(QPushButton).click()  # the dialog's Cancel
    assert done.args == ["import", None] and panel.count() == 0 and len(MyDigits(tmp_path / "theirs")) == 0
    assert started[0].cancelled() and messages[-1] == "Import cancelled: nothing was added."
    assert not panel.zip_busy() and panel.import_button.isEnabled() and panel._zip_dialog is None
    qtbot.waitUntil(lambda: panel._zip_threads.running() == 0, timeout=10_000)


def test_the_panel_says_why_an_import_failed(qtbot, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    panel = _panel(qtbot, tmp_path / "theirs")
    messages = []
    panel.message.connect(messages.append)
    with qtbot.waitSignal(panel.zipFinished, timeout=30_000) as done:
        assert panel.import_zip(bad)
    assert done.args == ["import", None]
    assert messages[-1].startswith("Cannot import: ") and "bad.zip" in messages[-1]


def test_shutdown_cancels_a_running_import_and_waits_for_it(qtbot, tmp_path, monkeypatch):
    _collection(tmp_path / "mine", 30)
    archive = MyDigits(tmp_path / "mine").export_zip(tmp_path / "all.zip").path
    panel = _panel(qtbot, tmp_path / "theirs")
    held = []
    real_start = panel._zip_threads.start
    monkeypatch.setattr(panel._zip_threads, "start", lambda w: (held.append(_hold_after_first_digit(w)), real_start(w))[1])
    assert panel.import_zip(archive)
    qtbot.waitUntil(lambda: bool(held[0]), timeout=10_000)  # the worker is inside the job
    panel.shutdown()  # cancels, and returns once the thread has ended
    assert panel._zip_threads.running() == 0 and len(MyDigits(tmp_path / "theirs")) == 0


# ---------------------------------------------------------------------- the canvas's decode
def _png(path, side: int = 120) -> str:
    a = np.full((side, side), 255, np.uint8)
    a[side // 6 : side // 4, side // 4 : 3 * side // 4] = 0  # a dark 7 on white paper
    a[side // 4 : 5 * side // 6, 3 * side // 5 : 2 * side // 3] = 0
    assert QImage(a.data, side, side, side, QImage.Format.Format_Grayscale8).copy().save(str(path))
    return str(path)


def test_the_image_decoder_runs_on_the_worker_base(qtbot, tmp_path):
    decoder = ImageDecoder(_png(tmp_path / "seven.png"), generation=3)
    seen = _record(decoder)
    thread = run_in_daemon_thread(decoder, "test-decode")
    qtbot.waitUntil(lambda: _ended(seen), timeout=10_000)
    thread.join(10)
    assert seen["started"] == [3] and not seen["failed"] and thread is not threading.main_thread()
    ((generation, image),) = seen["finished"]
    assert generation == 3 and image.dtype == np.uint8 and image[0, 0] == 0 and image.max() > 200  # white on black

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    decoder = ImageDecoder(str(bad), generation=4)
    seen = _record(decoder)
    run_in_daemon_thread(decoder, "test-decode").join(10)
    qtbot.waitUntil(lambda: _ended(seen), timeout=10_000)
    ((generation, message),) = seen["failed"]
    assert generation == 4 and "bad.png" in message and not seen["finished"]


def test_the_canvas_drops_a_decode_that_a_newer_request_superseded(qtbot, tmp_path, monkeypatch):
    import mnist_desktop.model as engine

    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(280, 280)
    first, second = _png(tmp_path / "first.png", 300), _png(tmp_path / "second.png")
    release, real = threading.Event(), engine.load_digit_image
    decoded = []

    def slow_first(path):
        if path == first:
            release.wait(10)  # the older request ends last
        decoded.append(path)
        return real(path) if path == second else np.zeros((50, 50), np.uint8)

    monkeypatch.setattr(engine, "load_digit_image", slow_first)
    loaded = []
    canvas.imageLoaded.connect(lambda: loaded.append(canvas.image_array().copy()))
    canvas.open_image(first)
    older = canvas._decoder
    with qtbot.waitSignal(canvas.imageLoaded, timeout=10_000):
        canvas.open_image(second)
    shown = canvas.image_array().copy()
    assert shown.max() > 200
    with qtbot.waitSignal(older.finished, timeout=10_000):
        release.set()
    qtbot.wait(50)  # let anything queued after it arrive
    assert decoded == [second, first] and len(loaded) == 1 and np.array_equal(canvas.image_array(), shown)


# ---------------------------------------------------------------------- priority
def _own_nice() -> int:
    import os

    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_background_worker_runs_below_the_gui_thread_and_leaves_it_as_it_was(qtbot, monkeypatch):
    """A worker with ``nice`` runs its work at a lower priority than the GUI thread (Linux: the
    thread's own nice value); the GUI thread and a plain worker keep theirs. The nearest digits'
    features are built that way (their build stalled drawing when it had an equal share)."""
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread nice values are Linux's")
    from mnist_desktop.ui import nearest

    class Probe(Worker):
        def work(self):
            return _own_nice()

    gui = _own_nice()
    threads = WorkerThreads("test-nice")
    results = {}
    for nice in (0, 5):
        worker = Probe()
        worker.nice = nice
        seen = _record(worker)
        threads.start(worker)
        qtbot.waitUntil(lambda seen=seen: _ended(seen), timeout=10_000)
        results[nice] = seen["finished"][0][1]
    assert results == {0: gui, 5: min(19, gui + 5)} and _own_nice() == gui

    monkeypatch.setattr(nearest.neighbours, "training_features", lambda *a, **k: _own_nice())
    build = nearest.FeatureWorker(object(), generation=3)
    seen = _record(build)
    threads.start(build)
    qtbot.waitUntil(lambda: _ended(seen), timeout=10_000)
    assert seen["finished"] == [(3, min(19, gui + nearest.FeatureWorker.nice))] and nearest.FeatureWorker.nice >= 5
    assert nearest.QueryWorker.nice > 0  # the queries too, a little
    from mnist_desktop.ui import number_mode

    monkeypatch.setattr(number_mode.engine, "read_number", lambda *a, **k: _own_nice())
    read = number_mode.ReadWorker(object(), object(), generation=4)
    seen = _record(read)
    threads.start(read)
    qtbot.waitUntil(lambda: _ended(seen), timeout=10_000)
    assert (
        seen["finished"] == [(4, min(19, gui + number_mode.ReadWorker.nice))] and number_mode.ReadWorker.nice > 0
    )  # Number mode's reading
    qtbot.waitUntil(lambda: threads.running() == 0, timeout=10_000)


def test_the_evaluation_runs_below_the_gui_thread(qtbot, monkeypatch):
    """The Evaluation dock's worker (tens of seconds of both cores) runs below the GUI thread's
    priority, and below it only: at an equal share the GUI thread waited 50–500 ms at a time for
    a core while the robustness curves were computed (bench ``evaluation``). Below the nearest
    digits' features build, which is background work, while the evaluation is what is on screen."""
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread nice values are Linux's")
    from mnist_desktop.ui import evaluation, nearest

    monkeypatch.setattr(evaluation.MNIST, "arrays", lambda split: (np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int64)))
    monkeypatch.setattr(evaluation.ev, "point_map", lambda *a, **k: _own_nice())
    gui = _own_nice()
    worker = evaluation.EvaluationWorker(7, object(), ("pointmap",), threading.Event(), layer="fc")
    results = []
    worker.result.connect(lambda g, stage, payload: results.append((g, stage, payload)))
    seen = _record(worker)
    threads = WorkerThreads("test-evaluation-nice")
    threads.start(worker)
    qtbot.waitUntil(lambda: _ended(seen) and bool(results), timeout=10_000)
    assert 0 < evaluation.EvaluationWorker.nice <= nearest.FeatureWorker.nice
    assert results == [(7, "pointmap", ("fc", min(19, gui + evaluation.EvaluationWorker.nice)))] and _own_nice() == gui
    qtbot.waitUntil(lambda: threads.running() == 0, timeout=10_000)


# ------------------------------------------------------------- the cycle collector's thread
def test_cycles_holding_qt_objects_are_collected_in_the_gui_thread_not_in_a_worker(qtbot):
    """Once a worker has started, a worker that allocates does not run Python's cycle collector
    (which would destroy the Qt objects waiting in cycles in its own thread: the training thread
    hung that way, in QObject::~QObject); the GUI thread's timer collects them instead."""
    import gc
    import weakref

    from PySide6.QtWidgets import QWidget

    from mnist_desktop.ui.workers import GuiThreadCollector, collect_garbage_in_gui_thread

    class Holder:
        pass

    class Allocator(Worker):
        def work(self):
            # what building a model does: many container objects, far past gen 0's threshold
            junk = [[k] for k in range(20 * gc.get_threshold()[0])]
            return len(junk)

    threads = WorkerThreads("test-collector")
    collector = collect_garbage_in_gui_thread()
    assert isinstance(collector, GuiThreadCollector) and collect_garbage_in_gui_thread() is collector
    assert not gc.isenabled()
    gc.collect()
    collected_in: list[str] = []
    holder = Holder()
    holder.widget = QWidget()
    holder.itself = holder  # a cycle: only the cycle collector frees it
    weakref.finalize(holder, lambda: collected_in.append(threading.current_thread().name))
    del holder
    worker = Allocator()
    seen = _record(worker)
    threads.start(worker)
    qtbot.waitUntil(lambda: _ended(seen), timeout=10_000)
    assert seen["finished"][0][1] > 0 and collected_in in ([], ["MainThread"])
    qtbot.waitUntil(lambda: collected_in == ["MainThread"], timeout=5_000)  # the timer's collection
    qtbot.waitUntil(lambda: threads.running() == 0, timeout=10_000)
    # a pause elsewhere (mydigits' index, the torch import) finds the collector off and leaves it off
    from mnist_desktop.model.mydigits import _gc_paused

    with _gc_paused():
        pass
    assert not gc.isenabled()


def test_the_collector_collects_only_the_generations_that_are_due(qtbot, monkeypatch):
    """The young generation whenever something was allocated; an older one only with the one
    below it and past its threshold, as automatic collection escalates."""
    import gc

    from mnist_desktop.ui.workers import collect_garbage_in_gui_thread

    collector = collect_garbage_in_gui_thread()
    collected = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collected.append(generation) or 0)
    monkeypatch.setattr(gc, "get_threshold", lambda: (700, 10, 10))
    cases = [((0, 0, 0), -1), ((5, 3, 0), 0), ((701, 11, 2), 1), ((1, 11, 11), 2), ((1, 3, 11), 0), ((0, 11, 11), -1)]
    for counts, due in cases:
        monkeypatch.setattr(gc, "get_count", lambda counts=counts: counts)
        assert collector.collect_if_due() == due
    assert collected == [0, 1, 2, 0]
