"""Make the README's pictures from the real window.

    python scripts/screenshot.py [--out resources/screenshot.png] [--size 1400x900] [--theme light|dark]
                                 [--scene training|offered|not-digit|stepper|nudge|lab|saliency|data|weights|number|
                                          similarity|sgd-toy] [--part]

``training`` (default): a digit drawn and training in progress. ``offered``: a finished run
offered, not made active (its message, the "Use the new model" row and the epoch table under
the loss plot). ``not-digit``: a scribble the model calls "not a digit". The other scenes set up one
panel of the chapter-4 lab or the Data / Weights docks; ``--part`` grabs only that panel's
dock instead of the whole window. The README's pictures, under
``xvfb-run -a -s "-screen 0 1700x1300x24"``:

    --out resources/screenshot.png --size 1400x900 --theme light
    --out resources/screenshot-dark.png --size 1400x900 --theme dark
    --out resources/screenshot-720.png --size 1280x720 --theme light
    --out resources/screenshot-720-dark.png --size 1280x720 --theme dark
    --out resources/lab-stepper.png --size 1400x1280 --scene stepper --part
    --out resources/lab-nudge.png --size 1400x1250 --scene nudge --part
    --out resources/lab-preprocess.png --size 1400x900 --scene lab --part
    --out resources/lab-saliency.png --size 1400x900 --scene saliency
    --out resources/screenshot-number.png --size 1400x900 --scene number
    --out resources/lab-similarity.png --size 1400x900 --scene similarity --part
    --out resources/lab-sgd-toy.png --size 1280x720 --scene sgd-toy --part

Runs offscreen (Qt's ``offscreen`` platform) unless a display is set, e.g. under
``xvfb-run -s "-screen 0 1600x1000x24" python scripts/screenshot.py``. Settings go to a
temporary file, so your own window layout is untouched.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def three() -> list[list[tuple[float, float]]]:
    """A handwritten-looking 3 in unit coordinates, as two strokes."""
    top = [(0.5 + 0.16 * math.cos(a), 0.33 + 0.13 * math.sin(a)) for a in [math.radians(d) for d in range(-170, 95, 12)]]
    bottom = [(0.49 + 0.19 * math.cos(a), 0.62 + 0.16 * math.sin(a)) for a in [math.radians(d) for d in range(-95, 170, 12)]]
    return [top, bottom]


def number_2026() -> list[list[tuple[float, float]]]:
    """ "2026" written across Number mode's wide canvas (unit coordinates of its height), one
    stroke or two per digit."""

    def arc(cx, cy, rx, ry, a0, a1, step=10):
        return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a))) for a in range(a0, a1 + 1, step)]

    def two(x):
        return [arc(x + 0.16, 0.36, 0.14, 0.13, 190, 380) + [(x + 0.03, 0.76), (x + 0.33, 0.76)]]

    zero = [arc(1.15, 0.5, 0.14, 0.27, -90, 270)]
    six = [[(2.48, 0.22), (2.40, 0.30), *arc(2.38, 0.6, 0.13, 0.16, 180, 540)[:-2]]]
    return two(0.4) + zero + two(1.6) + six


def draw(canvas, strokes) -> None:
    from PySide6.QtWidgets import QApplication

    from mnist_desktop.ui.canvas import scripted_stroke

    for points in strokes:
        for event in scripted_stroke(canvas, points):
            QApplication.sendEvent(canvas, event)
            QApplication.processEvents()


def wait(app, condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "resources" / "screenshot.png"))
    parser.add_argument("--progress", type=float, default=0.35, help="fraction of the first epoch to train before the grab")
    parser.add_argument("--size", default="1400x900")
    parser.add_argument("--theme", choices=("light", "dark"), default="light", help="View → Theme")
    parser.add_argument("--panel", choices=("activations", "inspector"), default="activations", help="which bottom tab to show")
    parser.add_argument("--scene", choices=SCENES, default="training")
    parser.add_argument("--part", action="store_true", help="grab the scene's dock only")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings

    from mnist_desktop import model as engine
    from mnist_desktop.ui import MainWindow
    from mnist_desktop.ui.app import make_app
    from mnist_desktop.ui.settings import THEME

    app = make_app([sys.argv[0]])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "screenshot.ini"), QSettings.Format.IniFormat)
    settings.setValue(THEME, args.theme)  # the window applies it as a user's saved choice
    try:
        predictor = engine.Predictor.default()
    except engine.MnistDesktopError:  # no bundled model yet: a quick one for the canvas
        predictor = engine.train(engine.recommended_config("digits", "cnn")).predictor
    window = MainWindow(settings=settings, predictor=predictor)
    w, h = (int(v) for v in args.size.split("x"))
    window.resize(w, h)
    window.show()
    wait(app, window.isVisible, 5)
    window.reset_layout()  # the default layout for this size
    window.resize(w, h)  # again: the first start's layout (for this screen) may have kept the window taller
    wait(app, lambda: False, 0.2)
    window.docks[args.panel].raise_()
    dock, note = SCENES[args.scene](app, window, args)
    wait(app, lambda: False, 0.4)  # let plots and progress repaint
    image = (window.docks[dock] if args.part and dock else window).grab()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out)
    print(f"{args.out}: {image.width()}×{image.height()}, {args.scene}: {note}")
    window.training.stop()
    window.close()
    return 0


def scene_training(app, window, args):
    from mnist_desktop import model as engine

    draw(window.canvas, three())
    wait(app, lambda: not window.live._classify_timer.isActive(), 5)
    panel = window.training
    panel.set_config(engine.recommended_config("digits", "cnn"))
    panel.epochs.setValue(2)
    panel.start()
    ok = wait(
        app,
        lambda: (
            panel.progress_state.last is not None
            and panel.progress_state.last.batch >= args.progress * panel.progress_state.last.batches_per_epoch
        ),
        300,
    )
    return "training", f"digit {window.prediction.top_class}{'' if ok else ' (timed out)'}: {training_sizes(window)}"


def scene_offered(app, window, args):
    from mnist_desktop import model as engine

    panel = window.training
    window.docks["training"].raise_()
    config = engine.recommended_config("digits", "linear")  # a few seconds an epoch on a CPU
    panel.set_config(config)
    panel.epochs.setValue(5)
    panel.start(offer_if=lambda: True)  # as if another model had been opened meanwhile
    ok = wait(app, lambda: not panel.is_training(), 300)
    wait(app, lambda: False, 0.3)
    return "training", f"offered {panel.stopped_row.isVisible()}{'' if ok else ' (timed out)'}: {training_sizes(window)}"


def training_sizes(window) -> str:
    """The heights a reader of the Training panel gets: the plot (its widget and its data area),
    the lines around it, and how much of the panel is out of its dock's view."""
    from PySide6.QtCore import QPoint, QRect

    panel = window.training
    data = panel.plot.getPlotItem().vb.sceneBoundingRect()
    parts = [f"{w.objectName()} {w.width()}×{w.height()}" for w in (panel.plot, panel.message, panel.stopped_row, panel.epoch_figures)]
    scroll = window.docks["training"].widget()
    bar = scroll.verticalScrollBar()
    view = scroll.viewport()
    plot = QRect(panel.plot.mapTo(view, QPoint(0, 0)), panel.plot.size()).intersected(view.rect())
    return (
        f"{', '.join(parts)}, data area {data.width():.0f}×{data.height():.0f}; panel scrolled {bar.value()} of {bar.maximum()} px,"
        f" {plot.height()} px of the plot in view"
    )


def scene_not_digit(app, window, args):
    xs = [0.2, 0.8] * 6  # a tight zigzag over the whole box: ink no digit has
    points = [(x, 0.2 + 0.05 * i) for i, x in enumerate(xs)]
    draw(window.canvas, [points])
    wait(app, lambda: not window.live._classify_timer.isActive(), 5)
    from PySide6.QtWidgets import QLabel

    wait(app, lambda: False, 0.3)
    sees = next(w for w in window.prediction.findChildren(QLabel) if w.text().startswith("What the model sees"))
    lines = round(sees.height() / sees.fontMetrics().lineSpacing())
    return None, f"not a digit: {window.prediction.not_a_digit.isVisible()}, caption {sees.width()}×{sees.height()} (~{lines} lines)"


def scene_stepper(app, window, args):
    from mnist_desktop.model.chapter import get_stage

    config = get_stage("linear").config
    window.training.set_config(config)
    window.training.set_mode("step")
    stepper = window.training.stepper
    stepper.set_config(config)
    window.docks["training"].raise_()
    for press in [stepper.step_batch] * 3 + [stepper.step_phase] * 4:  # three batches, then into the fourth up to its step
        wait(app, lambda: not stepper.busy, 60)
        press()
    wait(app, lambda: not stepper.busy, 60)
    state = stepper.state
    return "training", f"phase {state.phase}, step {state.step}, loss {state.loss}"


def scene_nudge(app, window, args):
    from mnist_desktop import model as engine
    from mnist_desktop.model.chapter import get_stage

    result = engine.train(get_stage("linear").config)  # the chapter's linear 3-vs-7 model
    window.set_predictor(result.predictor)
    window.docks["nudge"].raise_()
    panel = window.nudge
    panel.direction.setCurrentIndex(panel.direction.findData("gradient"))
    panel.data.setCurrentIndex(panel.data.findData("valid"))
    panel.start()
    wait(app, lambda: not panel.is_busy(), 120)
    return "nudge", panel.reading.text() if hasattr(panel, "reading") else ""


def scene_lab(app, window, args):
    window.docks["preprocess_lab"].raise_()
    window.brush.setValue(8)  # a small digit, with a pen to match, in the top right corner
    small = [[(0.62 + 0.3 * x, 0.05 + 0.3 * y) for x, y in stroke] for stroke in three()]
    draw(window.canvas, small)
    wait(app, lambda: not window.live._classify_timer.isActive(), 5)
    wait(app, lambda: False, 0.3)
    return "preprocess_lab", f"digit {window.prediction.top_class}"


def scene_saliency(app, window, args):
    draw(window.canvas, three())
    wait(app, lambda: not window.live._classify_timer.isActive(), 5)
    window.prediction.saliency_toggle.setChecked(True)
    window.docks["inspector"].raise_()
    window.inspector.source.setCurrentIndex(window.inspector.source.findData("drawing"))
    wait(app, lambda: False, 0.3)
    return "inspector", f"digit {window.prediction.top_class}, saliency {window.prediction.saliency_toggle.text()!r}"


def scene_data(app, window, args):
    window.docks["data"].raise_()
    wait(app, lambda: window.data_view.findChild(object, "data_mean_3") is not None, 30)
    wait(app, lambda: False, 1.0)
    button = window.data_view.findChild(object, "data_mean_3")
    if button is not None:
        button.click()
    return "data", "mean images and the 3s"


def scene_weights(app, window, args):
    from mnist_desktop import model as engine

    window.docks["weights"].raise_()
    panel = window.training
    config = engine.recommended_config("digits", "mlp")
    panel.set_config(config)
    panel.epochs.setValue(3)
    panel.start()
    wait(app, lambda: not panel.is_training(), 300)
    window.activations.select_layer("fc1") if "fc1" in window.activations.panels else None
    return "weights", f"layer {window.weights_view.current_layer()}"


def scene_number(app, window, args):
    window.number_mode_action.trigger()
    wait(app, lambda: False, 0.3)
    draw(window.canvas, number_2026())
    wait(app, lambda: not window.number_mode._timer.isActive(), 5)
    window.number_mode.read()
    wait(app, lambda: not window.number_mode.is_reading(), 5)  # read in its worker
    window.number_panel.select(3)
    wait(app, lambda: False, 0.3)
    return None, f"read {window.number_panel.number.text()!r}"


def scene_similarity(app, window, args):
    window.dock_manager.raise_("similarity")
    panel = window.dock_manager.panels["similarity"]
    wait(app, lambda: panel.lab is not None, 60)
    panel.next_disagreement()  # a 3 that L1 and L2 call differently
    return "similarity", f"validation 3 #{panel.index.value()}"


def scene_sgd_toy(app, window, args):
    window.dock_manager.raise_("sgd_toy")
    panel = window.dock_manager.panels["sgd_toy"]
    panel.set_rate("large")
    state = panel.step(4)  # three fits swinging wider, the loss climbing
    return "sgd_toy", f"step {state.step}, loss {state.loss:.3g}"


SCENES = {
    "training": scene_training,
    "offered": scene_offered,
    "not-digit": scene_not_digit,
    "stepper": scene_stepper,
    "nudge": scene_nudge,
    "lab": scene_lab,
    "saliency": scene_saliency,
    "data": scene_data,
    "weights": scene_weights,
    "number": scene_number,
    "similarity": scene_similarity,
    "sgd-toy": scene_sgd_toy,
}


if __name__ == "__main__":
    raise SystemExit(main())
