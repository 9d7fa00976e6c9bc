"""The window's resident memory, as a user's session grows it.

``measure_memory()`` opens the real main window (offscreen when there is no display) with
settings and My digits of its own, lets PyTorch load as at a real start, and reads the
process's resident set size (``VmRSS``) and its peak (``VmHWM``) from ``/proc/self/status``:

* after start: the window shown, PyTorch loaded, the bundled model active, the nearest
  training digits built for it;
* after each dock is brought to the front and used: a digit drawn (the live panels follow
  it), every tab of Evaluation opened (its evaluation, robustness curves, point map), the
  Accuracy vs loss sweep run, a gallery of Data opened, a sample in the inspector;
* after every dock: the figure the README's target is about (≤ 0.8 GB), with what the largest
  things held take (:func:`held_mb`).

Run it in a fresh process (``python -m mnist_desktop.ui.bench_memory``), as ``mnist-desktop
bench`` does: memory a process once held is not what a fresh one needs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def memory_mb() -> dict[str, float]:
    """This process's resident set size now and at its peak, and the part of it that is its own
    memory (anonymous) and mapped files (libraries), in MB (Linux; NaN elsewhere)."""
    names = {"VmRSS": "rss_mb", "VmHWM": "peak_mb", "RssAnon": "anon_mb", "RssFile": "file_mb"}
    values = dict.fromkeys(names.values(), float("nan"))
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in names:
                values[names[key]] = round(int(rest.split()[0]) / 1024, 1)
    except OSError:
        pass
    return values


def held_mb(window) -> dict[str, float]:
    """The largest things the window holds on purpose, in MB: the nearest training digits'
    features (and how many models' are cached: one, the active model's) and MNIST's arrays."""
    from mnist_desktop.model import mnist_arrays, neighbours

    found = neighbours.cached_features(window.predictor) if window.torch_ready else None
    features = 0 if found is None else found.nbytes
    mnist = sum(a.nbytes for split in ("train", "test") for a in mnist_arrays(split))
    return {
        "nearest_features": round(features / 2**20, 1),
        "nearest_models": neighbours.cached_models(),
        "mnist": round(mnist / 2**20, 1),
    }


def measure_memory(timeout: float = 600.0) -> dict:
    """Resident memory after start and after each dock is used (see the module's docstring)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QMessageBox

    from .app import make_app, tune_process
    from .canvas import scripted_stroke
    from .settings import MY_DIGITS_FOLDER

    app = QApplication.instance() or make_app([sys.argv[0] if sys.argv else "mnist-desktop"])
    from .main_window import MainWindow

    folder = Path(tempfile.mkdtemp(prefix="mnist-desktop-memory-"))
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue(MY_DIGITS_FOLDER, str(folder / "my-digits"))
    start = time.perf_counter()
    window = MainWindow(settings=settings, torch_ready="torch" in sys.modules)
    window.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    window.resize(1400, 900)
    window.show()
    tune_process()  # as the app does once its window is shown

    def wait_until(condition, seconds: float = timeout) -> bool:
        end = time.perf_counter() + seconds
        while not condition():
            if time.perf_counter() > end:
                return False
            app.processEvents()
            time.sleep(0.005)
        return True

    def settle(seconds: float = 0.3) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)

    settle(0.5)
    out = {"window_shown": memory_mb()}
    if not window.torch_ready:
        window.load_torch_in_background()
    wait_until(lambda: window.torch_ready)
    settle(0.5)
    out["torch_loaded"] = memory_mb()
    wait_until(lambda: window.nearest.ready_for is window.predictor, 300)
    settle(1.0)
    out.update(after_start=memory_mb(), start_s=round(time.perf_counter() - start, 1), docks={})

    # a digit on the canvas: the prediction, activations, inspector and lab follow it
    for points in ([(0.3, 0.25), (0.7, 0.25)], [(0.7, 0.25), (0.45, 0.8)]):
        line = [
            (points[0][0] + (points[1][0] - points[0][0]) * t / 11, points[0][1] + (points[1][1] - points[0][1]) * t / 11)
            for t in range(12)
        ]
        for event in scripted_stroke(window.canvas, line):
            app.sendEvent(window.canvas, event)
    settle()

    def use(name: str) -> None:
        panel = window.dock_manager.panels[name]
        if name == "evaluation":
            wait_until(lambda: panel.evaluation is not None and panel.computing == 0)
            for i in range(panel.tabs.count()):
                panel.tabs.setCurrentIndex(i)
                settle(0.2)
                wait_until(lambda: panel.computing == 0)
        elif name == "nudge":
            if panel.start():
                wait_until(lambda: not panel.is_busy(), 300)
        elif name == "data":
            wait_until(lambda: bool(panel.mean_buttons) and panel.mean_buttons[0].isEnabled(), 120)
            panel.show_label(3)
        elif name == "inspector":
            panel.show_sample("test", 0)
        settle()

    for name in window.docks:
        window.dock_manager.raise_(name)
        settle()
        use(name)
        out["docks"][name] = memory_mb()
    out["after_every_dock"] = memory_mb()
    out["held_mb"] = held_mb(window)
    out["seconds"] = round(time.perf_counter() - start, 1)
    window.close()
    return out


if __name__ == "__main__":
    import json

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(json.dumps(measure_memory()))
