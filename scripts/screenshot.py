"""Make resources/screenshot.png: the real window with a digit drawn and training in progress.

    python scripts/screenshot.py [--out resources/screenshot.png] [--progress 0.3]

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
    parser.add_argument("--dark", action="store_true", help="ask Qt for the dark colour scheme")
    parser.add_argument("--panel", choices=("activations", "inspector"), default="activations", help="which bottom tab to show")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings

    from mnist_desktop import model as engine
    from mnist_desktop.ui import MainWindow
    from mnist_desktop.ui.app import make_app

    app = make_app([sys.argv[0]])
    if args.dark:
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QColor, QPalette

        app.setStyle("Fusion")
        app.styleHints().setColorScheme(Qt.ColorScheme.Dark)
        if app.palette().color(QPalette.ColorRole.Window).lightness() > 128:  # platform without schemes
            pal = QPalette()
            R = QPalette.ColorRole
            for role, color in {
                R.Window: "#2b2b2b",
                R.WindowText: "#e6e6e6",
                R.Base: "#1e1e1e",
                R.AlternateBase: "#333333",
                R.Text: "#e6e6e6",
                R.Button: "#3a3a3a",
                R.ButtonText: "#e6e6e6",
                R.Highlight: "#3d8fd1",
                R.HighlightedText: "#ffffff",
                R.Mid: "#5a5a5a",
                R.PlaceholderText: "#8a8a8a",
                R.ToolTipBase: "#333333",
                R.ToolTipText: "#e6e6e6",
                R.Light: "#505050",
                R.Dark: "#1a1a1a",
                R.Shadow: "#000000",
            }.items():
                pal.setColor(role, QColor(color))
            app.setPalette(pal)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "screenshot.ini"), QSettings.Format.IniFormat)
    try:
        predictor = engine.Predictor.default()
    except engine.MnistDesktopError:  # no bundled model yet: a quick one for the canvas
        predictor = engine.train(engine.recommended_config("digits", "cnn")).predictor
    window = MainWindow(settings=settings, predictor=predictor)
    w, h = (int(v) for v in args.size.split("x"))
    window.resize(w, h)
    window.reset_layout()  # the default layout for that size
    window.show()
    wait(app, window.isVisible, 5)
    window.docks[args.panel].raise_()
    draw(window.canvas, three())
    wait(app, lambda: not window._classify_timer.isActive(), 5)

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
    wait(app, lambda: False, 0.3)  # let the plot and progress bar repaint
    image = window.grab()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out)
    print(
        f"{args.out}: {image.width()}×{image.height()}, digit {window.prediction.top_class}, "
        f"progress {panel.progress.text()!r}{'' if ok else ' (timed out)'}"
    )
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
