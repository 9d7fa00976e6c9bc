"""The window as the user feels it while a model trains: from the click on Train to the new
model in use.

``measure_click_to_done(config, probe=...)`` opens the real main window (offscreen when there
is no display), clicks Train and waits until the trained model is the window's model. It
measures the click-to-done time, the GUI thread's CPU time (a share of one core) and how the
panel's time-left estimate compared with the real end. With ``probe=True`` it also measures
responsiveness, at a price (the probe wakes the GUI thread 100 times a second, and the strokes
draw; both take CPU from the trainer, so the click-to-done time of a probed run is not the
one to compare with headless):

* a timer probe asks to fire every ``PROBE_MS``; how late each tick is (the gap minus the
  interval) is how long the event loop could not run anything. Gaps are reported over the
  whole run and by phase: start (click to first batch), training, epoch ends, finish (the
  last batch to the swapped model, plus ``TAIL_S`` after it for the repaint);
* strokes: every ``STROKE_EVERY_MS`` while it trains a mouse-move event is *posted* to the
  canvas (so it queues like real input); latency is from the post to the moment the
  prediction panel has the new probabilities (``MainWindow.predictionUpdated``).

Run it in a fresh process (``python -m mnist_desktop.ui.bench [--probe]``), as
``mnist-desktop bench`` does, so that it pays for loading MNIST as a user does. The numbers
are a benchmark, not a test: they depend on the machine and on what else runs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROBE_MS = 10
STROKE_EVERY_MS = 60
TAIL_S = 0.5


def _percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def _stalls(gaps: list[tuple[float, float]], start: float, end: float) -> dict:
    """Max and p99 of the probe's lateness (ms) for ticks that ended in [start, end)."""
    late = [max(0.0, g * 1000.0 - PROBE_MS) for t, g in gaps if start <= t < end]
    if not late:
        return {"max_ms": float("nan"), "p99_ms": float("nan"), "over_50ms": 0}
    return {"max_ms": round(max(late), 1), "p99_ms": round(_percentile(late, 99), 1), "over_50ms": sum(x > 50 for x in late)}


def _error_range(errors: list[float]) -> dict:
    finite = [e for e in errors if math.isfinite(e)]
    if not finite:
        return {"min": float("nan"), "max": float("nan"), "median": float("nan")}
    return {"min": round(min(finite), 1), "max": round(max(finite), 1), "median": round(_percentile(finite, 50), 1)}


def _bench_window():
    """The window every measure here starts from: throwaway settings, 1400×900 in the default
    layout at that size (activations in view, as drawn into), shown, the process tuned as
    ``app.run()`` tunes it once the window is up. ``(app, the settings' folder, window)``: the
    caller closes the window and cleans the folder up."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from .app import make_app, tune_process
    from .main_window import MainWindow

    app = QApplication.instance() or make_app([sys.argv[0] if sys.argv else "mnist-desktop"])
    tmp = tempfile.TemporaryDirectory()
    window = MainWindow(settings=QSettings(str(Path(tmp.name) / "bench.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.reset_layout()
    window.show()
    tune_process()
    for _ in range(5):
        app.processEvents()
    return app, tmp, window


def _close_bench_window(window, tmp) -> None:
    """The end of a measure begun by :func:`_bench_window`: the window closed (its trainer stopped
    and waited for; a benchmark's model raises no quit prompt) and its settings' folder removed."""
    window.session.mark_saved(window.model_source)
    window.close()
    window.deleteLater()
    tmp.cleanup()


def measure_click_to_done(config=None, probe: bool = True, timeout: float = 900.0) -> dict:
    """Train ``config`` (default: the panel's default recipe) from the window; see the module."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from mnist_desktop import model as engine

    from .canvas import scripted_mouse_event

    app, tmp, window = _bench_window()
    canvas, panel = window.canvas, window.training
    if config is not None:
        panel.set_config(config)
    config = panel.config()

    def post(kind, x: float, y: float, button, buttons) -> None:
        QApplication.postEvent(canvas, scripted_mouse_event(canvas, kind, x, y, button, buttons))

    gaps: list[tuple[float, float]] = []  # (when the tick came, gap before it)
    latencies: list[float] = []
    epoch_ends: list[float] = []
    marks: dict[str, float] = {}
    plot_updates = [0]
    state = {"last": 0.0, "t0": None, "i": 0}

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now, now - state["last"]))
        state["last"] = now

    def on_plot() -> None:  # the panel redrew: did a report arrive since the last redraw?
        now = time.perf_counter()
        plot_updates[0] += 1
        last = panel.progress_state.last
        if last is not None and last is not state.get("seen"):  # a report arrived
            state["seen"] = last
            marks.setdefault("first_batch", now)
            marks["last_batch"] = now
            eta.append((now, now + panel.progress_state.seconds_left()))

    def stroke_step() -> None:
        if state["t0"] is not None or panel.progress_state.last is None or "trained" in marks:
            return  # the previous one is pending (that shows as latency), or not training
        i = state["i"]
        state["i"] += 1
        phase = i % 40
        angle = 2 * math.pi * phase / 40
        x, y = 0.5 + 0.2 * math.cos(angle), 0.5 + 0.25 * math.sin(angle)
        left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
        if phase == 0:
            canvas.clear()
            post(QEvent.Type.MouseButtonPress, x, y, left, left)
        state["t0"] = time.perf_counter()
        post(QEvent.Type.MouseMove, x, y, none, left)

    def on_prediction() -> None:
        if state["t0"] is not None:
            latencies.append((time.perf_counter() - state["t0"]) * 1000.0)
            state["t0"] = None

    loop = QEventLoop()

    def on_predictor(predictor) -> None:
        if predictor is not None and "clicked" in marks and "trained" not in marks:
            marks["trained"] = time.perf_counter()
            QTimer.singleShot(int(TAIL_S * 1000), loop.quit)

    window.predictionUpdated.connect(on_prediction)
    window.predictorChanged.connect(on_predictor)
    panel.plotUpdated.connect(on_plot)
    panel.finished.connect(lambda result: result is None and loop.quit())  # failed: no model comes
    probe_timer = QTimer(interval=PROBE_MS, timerType=Qt.TimerType.PreciseTimer)
    probe_timer.timeout.connect(tick)
    strokes = QTimer(interval=STROKE_EVERY_MS, timerType=Qt.TimerType.PreciseTimer)
    strokes.timeout.connect(stroke_step)
    give_up = QTimer(singleShot=True, interval=int(timeout * 1000))
    give_up.timeout.connect(loop.quit)

    worker_epoch: list[float] = []
    eta: list[tuple[float, float]] = []  # (when, the end of training that the panel predicted then)
    result: dict = {"probe_interval_ms": PROBE_MS if probe else None}
    try:

        def on_report(_generation, report) -> None:  # in the GUI thread (a queued signal)
            if report.kind == "epoch":
                worker_epoch.append(time.perf_counter())

        panel.started.connect(lambda: panel._worker.progress.connect(on_report))
        cpu0 = time.thread_time()
        state["last"] = marks["clicked"] = time.perf_counter()
        if probe:
            probe_timer.start()
            strokes.start()
        give_up.start()
        panel.train_button.click()
        loop.exec()
        end = time.perf_counter()
        cpu = time.thread_time() - cpu0
        probe_timer.stop()
        strokes.stop()
        give_up.stop()
        if "trained" not in marks:
            raise RuntimeError(f"the window did not finish training: {panel.message.text()}")
        epoch_ends = worker_epoch
        t_click, t_first, t_last, t_done = marks["clicked"], marks["first_batch"], marks["last_batch"], marks["trained"]
        near_epoch_end = [g for g in gaps if any(abs(g[0] - e) < 1.0 for e in epoch_ends[:-1])]
        run = panel.last_result
        last = panel.progress_state.last
        result.update(
            {
                "click_to_done_s": round(t_done - t_click, 2),
                "click_to_first_batch_s": round(t_first - t_click, 2),
                "test_accuracy": run.metrics["valid_accuracy"] if run else float("nan"),
                "gui_thread_cpu_share": round(cpu / (end - t_click), 3),
                "stall_all": _stalls(gaps, t_click, end),
                "stall_start": _stalls(gaps, t_click, t_first + 0.2),
                "stall_training": _stalls(gaps, t_first + 0.2, t_last),
                "stall_epoch_ends": _stalls(near_epoch_end, t_click, end),
                "stall_finish": _stalls(gaps, t_last, end),
                "stroke_latency_p50_ms": round(_percentile(latencies, 50), 2),
                "stroke_latency_p99_ms": round(_percentile(latencies, 99), 2),
                "strokes": len(latencies),
                "plot_updates_per_s": round(plot_updates[0] / max(t_last - t_first, 1e-9), 1),
                "train_samples_per_s": round(last.samples / max(t_last - t_first, 1e-9)) if last else float("nan"),
                "shown_speed_samples_per_s": round(panel.progress_state.speed()),
                # the predicted end of training minus the real one, over the run after its first 10 %
                "time_left_error_s": _error_range([end_at - t_last for t, end_at in eta if t >= t_first + 0.1 * (t_last - t_first)]),
                "config": dataclasses.asdict(config),
                "train_device": str(engine.resolve_device(config.device)),
            }
        )
    finally:
        _close_bench_window(window, tmp)
    return result


LAB_PRESS_MS = 100  # a user pressing a button again: at the soonest this long after the last press
LAB_TAIL_S = 0.2  # after a part ends, the probe goes on this long (the last redraw belongs to it)


def measure_lab(
    phases: int = 30, batches: int = 5, nudge_models=("cnn", "linear"), valid_steps: int | None = None, timeout: float = 300.0
) -> dict:
    """The chapter-4 lab in the real window (offscreen, torch loaded, the bundled CNN active),
    a ``PROBE_MS`` timer probing the event loop throughout:

    1. Step mode in the chapter's setting (the stepper's default): ``phases`` single phases,
       "Next phase" clicked again ``LAB_PRESS_MS`` after the last press (or as soon as it is
       enabled again); then "Whole batch" ``batches`` times the same way; then "To end of
       epoch" the same way until the run stops (the last press only stops it), each press
       timed from the click to the state it ends on drawn.
    2. Accuracy vs loss, for each of ``nudge_models`` ("cnn": the bundled CNN; "linear": the
       3-vs-7 linear model just stepped, made active with "Use this model"): a sweep along the
       gradient direction on the validation set, then one weight (the panel's default) on the
       validation set, each timed from the click on Nudge to the panel idle, with the values
       its progress bar showed. ``valid_steps``: nudges per validation sweep (default the
       panel's own).

    Each part's stalls are those of the probe ticks from its first click to ``LAB_TAIL_S``
    after it ended. Run it in a fresh process (``python -m mnist_desktop.ui.bench --lab``)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from . import nudge as nudge_ui

    if valid_steps is not None:
        nudge_ui.STEPS["valid"] = int(valid_steps)
    app, tmp, window = _bench_window()

    gaps: list[tuple[float, float]] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now, now - last[0]))
        last[0] = now

    probe = QTimer(interval=PROBE_MS, timerType=Qt.TimerType.PreciseTimer)
    probe.timeout.connect(tick)
    deadline = time.perf_counter() + timeout

    def wait_until(condition, seconds: float | None = None) -> None:
        """Run the event loop until ``condition()`` (checked every 5 ms) or ``seconds`` pass."""
        end = time.perf_counter() + seconds if seconds is not None else deadline
        if condition():
            return
        loop = QEventLoop()
        check = QTimer(interval=5, timerType=Qt.TimerType.PreciseTimer)
        check.timeout.connect(lambda: (condition() or time.perf_counter() >= end) and loop.quit())
        check.start()
        loop.exec()
        check.stop()
        if seconds is None and not condition():
            raise RuntimeError("the lab benchmark gave up waiting (timeout)")

    def pause(seconds: float) -> None:
        wait_until(lambda: False, seconds)

    def part(start: float, end: float, **extra) -> dict:
        return {**_stalls(gaps, start, end + LAB_TAIL_S), "seconds": round(end - start, 2), **extra}

    result: dict = {"probe_interval_ms": PROBE_MS, "press_every_ms": LAB_PRESS_MS}
    try:
        last[0] = time.perf_counter()
        probe.start()
        # 1. Step mode
        window.training.set_mode("step")
        stepper = window.training.stepper
        config = stepper.config
        result["step_config"] = {k: getattr(config, k) for k in ("arch", "task", "loss", "lr", "batch_size")}
        shown: list[tuple[float, bool]] = []  # (when, busy) of each state drawn
        stepper.stateShown.connect(lambda _s: shown.append((time.perf_counter(), stepper.busy)))

        def press(button, times: int) -> tuple[float, float]:
            start = None
            for _ in range(times):
                wait_until(button.isEnabled)
                start = start or time.perf_counter()
                button.click()
                pause(LAB_PRESS_MS / 1000)
            wait_until(lambda: not stepper.busy)
            return start, time.perf_counter()

        start, end = press(stepper.phase_button, phases)
        pause(LAB_TAIL_S)
        result["step_phases"] = part(start, end, presses=phases, first_phase_loads_data=True)
        start, end = press(stepper.batch_button, batches)
        pause(LAB_TAIL_S)
        result["step_batches"] = part(start, end, presses=batches)
        walls, redraws, first, reached = [], 0, None, {}
        while not stepper.done():  # "To end of epoch" until the run stops (the chapter's setting: 3 epochs)
            pause(LAB_PRESS_MS / 1000)
            wait_until(stepper.epoch_button.isEnabled)
            drawn = len(shown)
            start = time.perf_counter()
            first = first or start
            stepper.epoch_button.click()
            wait_until(lambda drawn=drawn: not stepper.busy and len(shown) > drawn and not shown[-1][1])
            end = shown[-1][0]
            walls.append(round(end - start, 3))
            redraws += len(shown) - drawn
            if len(walls) == 1:
                state = stepper.state
                reached = {"epoch": state.epoch, "batch": state.batch, "batches_per_epoch": state.batches_per_epoch}
        pause(LAB_TAIL_S)
        result["step_epoch"] = part(
            first, end, presses=len(walls), walls_s=walls, redraws=redraws, first_reached=reached, epochs=config.epochs
        )

        # 2. Accuracy vs loss
        panel = window.nudge
        window.docks["nudge"].show()
        window.docks["nudge"].raise_()
        idle = [0]
        panel.idle.connect(lambda: idle.__setitem__(0, idle[0] + 1))
        values: list[int] = []
        panel.progress.valueChanged.connect(values.append)

        def choose(combo, data) -> None:
            combo.setCurrentIndex(combo.findData(data))

        def sweep(direction: str) -> dict:
            choose(panel.direction, direction)
            choose(panel.data, "valid")
            pause(LAB_PRESS_MS / 1000)
            values.clear()
            before = idle[0]
            start = time.perf_counter()
            panel.nudge_button.click()
            wait_until(lambda: idle[0] > before)
            end = time.perf_counter()
            pause(LAB_TAIL_S)
            r = panel.result
            return part(
                start,
                end,
                parameter=r.parameter if r else None,
                samples=r.samples if r else 0,
                epsilons=len(r.epsilons) if r else 0,
                progress_values=len(set(values)),
                progress_max=panel.progress.maximum(),
                progress_moved=len(set(values)) > 2 and max(values, default=0) == panel.progress.maximum(),
            )

        for which in nudge_models:
            if which == "linear":
                pause(LAB_PRESS_MS / 1000)
                stepper.use_button.click()  # the 3-vs-7 linear model just stepped
                wait_until(lambda: panel.predictor is not None and panel.predictor.arch == "linear")
            result[f"nudge_{which}"] = {
                "model": f"{window.predictor.arch} {window.predictor.task}",
                "gradient": sweep("gradient"),
                "weight": sweep("weight"),
            }
        probe.stop()
        result["stall_all"] = _stalls(gaps, 0.0, float("inf"))
    finally:
        probe.stop()
        _close_bench_window(window, tmp)
    return result


def _gui_thread_schedstat() -> tuple[float, float] | None:
    """(ms run on a CPU, ms waited in the run queue for one) of the calling thread so far, from
    Linux's ``/proc/self/task/<tid>/schedstat``; None elsewhere."""
    import threading

    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
            run, wait, _ = f.read().split()
    except (OSError, ValueError):
        return None
    return int(run) / 1e6, int(wait) / 1e6


def measure_evaluation(tab: str = "Robustness", timeout: float = 300.0) -> dict:
    """The Evaluation dock evaluating the bundled CNN in the real window (offscreen, torch
    loaded): the dock is raised (the evaluation starts), ``tab`` is opened as soon as the
    confusion matrix is shown (the robustness curves then arrive on screen), and a ``PROBE_MS``
    timer probes the event loop until the panel is idle. For each tick over 50 ms late, how long
    the GUI thread ran and how long it waited for a core meanwhile (Linux's schedstat): its own
    work, or the CPU taken by others. Run it in a fresh process (``python -m mnist_desktop.ui.bench
    --evaluation``)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from .session import is_torch_model

    app, tmp, window = _bench_window()
    gaps: list[tuple[float, float]] = []
    sched: dict[float, tuple[float, float]] = {}  # tick → (ms run, ms waited for a core) since the last
    last = [time.perf_counter(), _gui_thread_schedstat()]

    def tick() -> None:
        now, s = time.perf_counter(), _gui_thread_schedstat()
        gaps.append((now, now - last[0]))
        if s is not None and last[1] is not None:
            sched[now] = (s[0] - last[1][0], s[1] - last[1][1])
        last[:] = [now, s]

    probe = QTimer(interval=PROBE_MS, timerType=Qt.TimerType.PreciseTimer)
    probe.timeout.connect(tick)

    def wait_until(condition, seconds: float) -> bool:
        end = time.perf_counter() + seconds
        while not condition() and time.perf_counter() < end:
            loop = QEventLoop()
            QTimer.singleShot(5, loop.quit)
            loop.exec()
        return condition()

    result: dict = {"probe_interval_ms": PROBE_MS, "tab": tab}
    try:
        if not wait_until(lambda: is_torch_model(window.predictor), 120):
            raise RuntimeError("PyTorch did not load")
        wait_until(lambda: False, 1.0)  # start-up's last redraws
        panel = window.dock_manager.panel("evaluation")
        idle = [0]
        panel.idle.connect(lambda: idle.__setitem__(0, idle[0] + 1))
        start = last[0] = time.perf_counter()
        last[1] = _gui_thread_schedstat()
        probe.start()
        window.dock_manager.raise_("evaluation")
        if not wait_until(lambda: panel.evaluation is not None, timeout):
            raise RuntimeError(f"the evaluation did not end: {panel.status.text()}")
        shown = time.perf_counter()
        panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index(tab))
        if not wait_until(lambda: idle[0] > 0, timeout):
            raise RuntimeError(f"the evaluation did not end: {panel.status.text()}")
        end = time.perf_counter()
        wait_until(lambda: False, LAB_TAIL_S)
        probe.stop()
        late = [(t, g * 1000.0 - PROBE_MS) for t, g in gaps if start <= t and g * 1000.0 - PROBE_MS > 50]
        result.update(
            {
                "confusion_shown_s": round(shown - start, 2),
                "seconds": round(end - start, 2),
                **_stalls(gaps, start, end + LAB_TAIL_S),
                "late": [
                    {
                        "at_s": round(t - start, 2),
                        "late_ms": round(ms),
                        "ran_ms": round(sched[t][0]),
                        "waited_for_cpu_ms": round(sched[t][1]),
                    }
                    if t in sched
                    else {"at_s": round(t - start, 2), "late_ms": round(ms)}
                    for t, ms in late
                ],
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
    finally:
        probe.stop()
        _close_bench_window(window, tmp)
    return result


if __name__ == "__main__":
    import json

    if "--lab" in sys.argv[1:]:
        print(json.dumps(measure_lab(**json.loads(sys.argv[sys.argv.index("--lab") + 1]))))
    elif "--evaluation" in sys.argv[1:]:
        print(json.dumps(measure_evaluation()))
    else:
        print(json.dumps(measure_click_to_done(probe="--probe" in sys.argv[1:])))
