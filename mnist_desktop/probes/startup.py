"""The app's start-up, as a user meets it: the window shown, a stroke classified, PyTorch
loaded behind the window while a user draws (strokes of 0.4 s with 0.1 s pen-up gaps until
``draw_s`` after ``start``) and after they stop; a 10 ms timer probes the event loop.

    python mnist_desktop/probes/startup.py START DRAW_S      (START: time.time() before launch)
"""


def main() -> None:
    import json
    import math
    import os
    import sys
    import tempfile
    import time

    start = float(sys.argv[1])
    draw_until = start + float(sys.argv[2])
    import numpy as np
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from mnist_desktop.ui.app import make_app, tune_process
    from mnist_desktop.ui.canvas import scripted_stroke
    from mnist_desktop.ui.main_window import MainWindow

    app = make_app(["mnist-desktop"])
    w = MainWindow(
        settings=QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat), torch_ready="torch" in sys.modules
    )
    w.show()
    tune_process()
    app.processEvents()
    out = {"shown": time.time() - start}
    one = np.zeros((280, 280), np.uint8)
    one[40:240, 130:150] = 255
    w.canvas.set_image(one)
    w.classify()
    w.prediction.repaint()
    out["stroke"] = time.time() - start
    out["stroke_class"] = w.prediction.digit.text()
    shown = [w.probabilities.copy()]  # the bars of the numpy model, last shown before the swap
    w.predictionUpdated.connect(lambda: w.torch_ready or shown.__setitem__(0, w.probabilities.copy()))
    gaps, last = [], [time.perf_counter()]

    def probe():
        now = time.perf_counter()
        gaps.append((time.time(), now - last[0]))
        last[0] = now

    timer = QTimer(interval=10, timeout=probe)
    timer.start()

    # A user drawing: each stroke 25 events 16 ms apart (0.4 s), then 6 ticks pen-up (~0.1 s).
    def strokes():
        while True:
            for k in range(8):
                a = [0.3 + 0.4 * math.sin(k + i / 8) for i in range(25)]
                yield from scripted_stroke(w.canvas, [(x, 0.2 + 0.6 * i / 24) for i, x in enumerate(a)])
                yield from [None] * 6
            w.canvas.clear()

    events = strokes()
    drawing_end = [None]

    def draw():
        e = next(events)
        if e is None and time.time() >= draw_until:  # the pen is up: the user stops here
            pen.stop()
            drawing_end[0] = time.time()
        elif e is not None:
            QApplication.sendEvent(w.canvas, e)

    pen = QTimer(interval=16, timeout=draw)
    pen.start()

    def ready():
        out["torch_ready"] = time.time() - start
        QTimer.singleShot(300, app.quit)

    w.torchReady.connect(ready)
    QTimer.singleShot(50, w.load_torch_in_background)
    app.exec()
    if drawing_end[0] is None:
        drawing_end[0] = time.time()
    if pen.isActive():
        pen.stop()
    out["max_stall_ms"] = 1000 * max(g for _, g in gaps)
    out["max_stall_drawing_ms"] = 1000 * max([g for t, g in gaps if t - g <= drawing_end[0]] or [0.0])
    out["drawing_s"] = drawing_end[0] - start
    out["stalls_over_50ms"] = sum(g > 0.05 for _, g in gaps)
    out["jump"] = float(np.abs(w.probabilities - shown[0]).max())
    print(json.dumps(out), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
