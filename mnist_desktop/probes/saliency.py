"""The window's event loop while drawing with saliency on and the preprocessing lab on screen
(``on``; the nearest training digits too, once their features are built), or both off (``off``:
the machine's own stalls, to compare with); ``building``: as ``on`` while the nearest digits'
features are being built in their worker; ``number``: Number mode, the wide canvas read as you
write, the pen lifted for ``LIFT_S`` between strokes as a writer does (the reading the writer
waits for is the one after the pen lifts: how long after it the number is on screen is measured).

    python mnist_desktop/probes/saliency.py SECONDS on|off|building|number
"""

LIFT_S = 0.15  # Number mode: the pen is up this long between strokes


def main() -> None:
    import json
    import os
    import sys
    import tempfile
    import time

    __import__("mnist_desktop")  # first, as the app's entry points do: it sets up the process before numpy loads
    import numpy as np
    from PySide6.QtCore import QEvent, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from mnist_desktop.ui.app import make_app
    from mnist_desktop.ui.canvas import scripted_mouse_event
    from mnist_desktop.ui.main_window import MainWindow

    seconds = float(sys.argv[1])
    app = make_app(["mnist-desktop"])
    w = MainWindow(settings=QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat))
    w.resize(1300, 900)
    w.show()
    mode = sys.argv[2]
    if mode != "off":
        w.docks["preprocess_lab"].raise_()
        w.prediction.saliency_toggle.setChecked(True)
    app.processEvents()
    if mode in ("on", "number"):  # the steady state: the nearest digits' features built
        deadline = time.perf_counter() + 300
        while w.nearest.ready_for is None and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.01)
    width = 1.0
    if mode == "number":
        w.number_mode_action.trigger()
        width = w.canvas.aspect
        app.processEvents()
    nearest_updates, readings = [0], [0]
    w.nearest.updated.connect(lambda: nearest_updates.__setitem__(0, nearest_updates[0] + 1))
    lifted, after_lift, lifts = [None], [], [0]  # when the pen last lifted (Number mode), how long until its reading showed

    def read():
        readings[0] += 1
        if lifted[0] is not None and w.number_mode.reading is not None:  # not the empty canvas after a clear
            after_lift.append(1000 * (time.perf_counter() - lifted[0]))
            lifted[0] = None

    w.number_mode.readingUpdated.connect(read)
    lift_s = LIFT_S if mode == "number" else 0.0
    predicted, lags = [None], []
    w.predictionUpdated.connect(lambda: predicted.__setitem__(0, time.perf_counter()))
    real = w.live.update_saliency

    def timed():
        real()
        if predicted[0] is not None:
            lags.append(1000 * (time.perf_counter() - predicted[0]))

    w.live._saliency_timer.timeout.disconnect()
    w.live._saliency_timer.timeout.connect(timed)
    rng = np.random.default_rng(0)
    state = {"i": 0, "pts": None, "resume": 0.0}
    M, L = Qt.MouseButton, Qt.MouseButton.LeftButton

    def post(kind, x, y, button, buttons):
        QApplication.postEvent(w.canvas, scripted_mouse_event(w.canvas, kind, x, y, button, buttons))

    def tick():
        if time.perf_counter() < state["resume"]:
            return  # the pen is up
        if state["pts"] is None or state["i"] >= len(state["pts"]):
            if state["pts"] is not None:
                post(QEvent.Type.MouseButtonRelease, *state["pts"][-1], L, M.NoButton)
                if rng.random() < 0.3:
                    w.canvas.clear()
                state["pts"] = None
                if lift_s:
                    lifted[0] = time.perf_counter()
                    lifts[0] += 1
                    state["resume"] = lifted[0] + lift_s
                    return
            scale = np.array([width, 1.0])
            a, b = rng.uniform(0.1, 0.9, 2) * scale, rng.uniform(0.1, 0.9, 2) * scale
            state["pts"] = [tuple(a + (b - a) * t) for t in np.linspace(0, 1, 20)]
            state["i"] = 1
            post(QEvent.Type.MouseButtonPress, *state["pts"][0], L, L)
            return
        post(QEvent.Type.MouseMove, *state["pts"][state["i"]], M.NoButton, L)
        state["i"] += 1

    gaps, last = [], [time.perf_counter()]

    def probe():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    probing = QTimer(w, interval=10, timeout=probe)
    probing.start()
    QTimer(w, interval=16, timeout=tick).start()

    def end():
        # Measured until here: closing the window waits for a worker's current step (the
        # nearest digits' build ends its batch, up to ~150 ms), which is not drawing.
        probing.stop()
        app.quit()

    QTimer.singleShot(int(seconds * 1000), end)
    app.exec()
    late = [max(0.0, 1000 * g - 10) for g in gaps]
    out = {
        "seconds": seconds,
        "max_stall_ms": max(late),
        "p99_stall_ms": float(np.percentile(late, 99)),
        "stalls_over_50ms": sum(x > 50 for x in late),
        "saliency_updates": len(lags),
        "saliency_after_prediction_median_ms": float(np.median(lags)) if lags else float("nan"),
        "lab_updates": w.preprocess_lab.updates,
        "nearest_updates": nearest_updates[0],
        "number_readings": readings[0],
        "number_lifts": lifts[0],
        "number_read_after_lift": len(after_lift),
        "number_after_lift_median_ms": float(np.median(after_lift)) if after_lift else float("nan"),
        "number_after_lift_p90_ms": float(np.percentile(after_lift, 90)) if after_lift else float("nan"),
        "features_ready_at_end": w.nearest.ready_for is not None,
    }
    print(json.dumps(out), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
