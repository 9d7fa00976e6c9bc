"""GUI responsiveness while the default CNN trains: event-loop stalls and stroke latency.

``measure_gui(seconds)`` opens the real main window (offscreen when there is no display),
starts the default training recipe in its worker thread and, once batches flow, runs two
probes on the GUI thread for ``seconds``:

* a timer probe: a ``QTimer`` that asks to fire every ``PROBE_MS``; how late each tick is
  (the gap minus the interval) is how long the event loop could not run anything;
* strokes: every ``STROKE_EVERY_MS`` a mouse-move event is *posted* to the canvas (so it
  queues like real input); latency is from the post to the moment the prediction panel
  has the new probabilities (``MainWindow.predictionUpdated``).

The numbers are a benchmark, not a test: they depend on the machine and on what else runs.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROBE_MS = 5
STROKE_EVERY_MS = 60


def _percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def measure_gui(seconds: float = 10.0, config=None, warmup_timeout: float = 120.0) -> dict:
    """Measure the GUI thread while ``config`` (default: the default CNN recipe) trains."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QEventLoop, QPointF, QSettings, Qt, QTimer
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from mnist_desktop import model as engine

    from .app import make_app
    from .main_window import MainWindow

    app = QApplication.instance() or make_app([sys.argv[0] if sys.argv else "mnist-desktop"])
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # as in app.run()
    tmp = tempfile.TemporaryDirectory()
    settings = QSettings(str(Path(tmp.name) / "bench.ini"), QSettings.Format.IniFormat)
    try:
        predictor = engine.Predictor.default()
    except engine.MnistDesktopError:
        predictor = None
    window = MainWindow(settings=settings, predictor=predictor)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    canvas, panel = window.canvas, window.training

    def wait(condition, timeout: float) -> bool:
        loop = QEventLoop()
        poll = QTimer(interval=10)
        poll.timeout.connect(lambda: condition() and loop.quit())
        give_up = QTimer(singleShot=True, interval=int(timeout * 1000))
        give_up.timeout.connect(loop.quit)
        poll.start()
        give_up.start()
        if not condition():
            loop.exec()
        poll.stop()
        give_up.stop()
        return bool(condition())

    def post(kind, x: float, y: float, button, buttons) -> None:
        side = min(canvas.width(), canvas.height())
        p = QPointF((canvas.width() - side) / 2 + x * side, (canvas.height() - side) / 2 + y * side)
        QApplication.postEvent(
            canvas, QMouseEvent(kind, p, QPointF(canvas.mapToGlobal(p.toPoint())), button, buttons, Qt.KeyboardModifier.NoModifier)
        )

    result: dict = {"seconds": seconds, "probe_interval_ms": PROBE_MS}
    try:
        config = config or window.training.config()  # the default recipe, as the Train button sends it
        config.epochs = max(config.epochs, 50)  # keeps training for the whole measurement
        if not panel.start(config):
            raise RuntimeError(f"training did not start: {panel.message.text()}")
        if not wait(lambda: panel._last_batch is not None, warmup_timeout):
            raise RuntimeError(f"no training batch within {warmup_timeout:.0f} s: {panel.message.text()}")

        gaps: list[float] = []
        latencies: list[float] = []
        plot_updates = [0]
        state = {"last": time.perf_counter(), "t0": None, "i": 0, "down": False}

        def tick() -> None:
            now = time.perf_counter()
            gaps.append((now - state["last"]) * 1000.0)
            state["last"] = now

        def stroke_step() -> None:
            if state["t0"] is not None:
                return  # the previous one is still pending: that shows up as latency
            i = state["i"]
            state["i"] += 1
            left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
            phase = i % 40
            angle = 2 * math.pi * phase / 40
            x, y = 0.5 + 0.2 * math.cos(angle), 0.5 + 0.25 * math.sin(angle)
            if phase == 0:
                canvas.clear()
                post(QEvent.Type.MouseButtonPress, x, y, left, left)
                state["down"] = True
            state["t0"] = time.perf_counter()
            post(QEvent.Type.MouseMove, x, y, none, left)

        def on_prediction() -> None:
            if state["t0"] is not None:
                latencies.append((time.perf_counter() - state["t0"]) * 1000.0)
                state["t0"] = None

        window.predictionUpdated.connect(on_prediction)
        panel.plotUpdated.connect(lambda: plot_updates.__setitem__(0, plot_updates[0] + 1))
        probe = QTimer(interval=PROBE_MS)
        probe.setTimerType(Qt.TimerType.PreciseTimer)
        probe.timeout.connect(tick)
        strokes = QTimer(interval=STROKE_EVERY_MS)
        strokes.setTimerType(Qt.TimerType.PreciseTimer)
        strokes.timeout.connect(stroke_step)
        loop = QEventLoop()
        first_step = panel._last_batch[2]
        started = time.perf_counter()
        state["last"] = started
        probe.start()
        strokes.start()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        elapsed = time.perf_counter() - started
        probe.stop()
        strokes.stop()
        window.predictionUpdated.disconnect(on_prediction)

        stalls = [max(0.0, g - PROBE_MS) for g in gaps]
        last_step = panel._last_batch[2]
        batch = config.batch_size or 60000
        result.update(
            {
                "event_loop_stall_max_ms": round(max(stalls), 2) if stalls else float("nan"),
                "event_loop_stall_p99_ms": round(_percentile(stalls, 99), 2),
                "event_loop_stall_p50_ms": round(_percentile(stalls, 50), 2),
                "probe_ticks": len(gaps),
                "stroke_latency_p50_ms": round(_percentile(latencies, 50), 2),
                "stroke_latency_p99_ms": round(_percentile(latencies, 99), 2),
                "stroke_latency_max_ms": round(max(latencies), 2) if latencies else float("nan"),
                "strokes": len(latencies),
                "plot_updates_per_s": round(plot_updates[0] / elapsed, 1),
                "train_samples_per_s": round((last_step - first_step) * batch / elapsed, 0),
                "train_arch": config.arch,
                "train_device": str(engine.resolve_device(config.device)),
                "cpu_count": os.cpu_count(),
            }
        )
    finally:
        window.close()  # stops the trainer and waits for its thread
        window.deleteLater()
        sys.setswitchinterval(switch)
        tmp.cleanup()
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(measure_gui(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0), indent=2))
