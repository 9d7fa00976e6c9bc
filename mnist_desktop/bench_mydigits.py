"""``bench`` section ``mydigits-scale``: My digits with 10,000 digits, as a few weeks of use make it.

Each figure beside the same with an empty collection, in folders of the bench's own (never
the user's My digits), removed when it ends: the window's start-up, opening the dock, saving
one digit, deleting 300 and undoing it, exporting and importing the whole collection, and the
peak memory of fine-tuning on it. The window's figures come from fresh processes (offscreen
unless a display is set); run ``python -m mnist_desktop.bench_mydigits`` for one of them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

SCALE = 10_000


def _drawing(image28: np.ndarray) -> np.ndarray:
    """A canvas-sized (280×280) drawing of an MNIST digit, as the canvas gives it."""
    return np.kron(image28, np.ones((10, 10), np.uint8))


def make_export(path: Path, count: int = SCALE) -> Path:
    """A My digits export of ``count`` digits (MNIST test digits drawn at canvas size), as
    ``export_zip`` writes one."""
    from .model import load_mnist
    from .model import mydigits as md
    from .model.preprocess import to_mnist

    images, labels = load_mnist("test")
    images, labels = images.numpy(), labels.numpy()
    rng = np.random.default_rng(0)
    entries = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for k in range(count):
            i = k % len(images)
            drawing = _drawing(images[i])
            if k >= len(images):  # the same digit twice would be one digit: shift it
                drawing = np.roll(drawing, tuple(rng.integers(-20, 21, 2)), (0, 1))
            ident = f"{k:032x}"
            label = int(labels[i])
            small = np.round(to_mnist(drawing) * 255).astype(np.uint8)
            zf.writestr(f"{md.DRAWINGS}/{ident}.png", md._png_bytes(drawing))
            zf.writestr(f"{md.SMALL}/{ident}.png", md._png_bytes(small, label))
            entries.append({"id": ident, "label": label})
        zf.writestr(md.INDEX, json.dumps({"format": md.FORMAT, "version": md.VERSION, "digits": entries}))
    return path


def _child(args: list[str], env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "mnist_desktop.bench_mydigits", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_mydigits_scale(count: int = SCALE, runs: int = 3) -> dict:
    """The figures of the issue's "scale and speed", each with ``count`` digits and with none."""
    from .model import MyDigits

    out: dict = {"digits": count}
    with tempfile.TemporaryDirectory(prefix="mnist-desktop-bench-mydigits-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, TMPDIR=str(tmp), XDG_DATA_HOME=str(tmp / "data"))
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        t = time.perf_counter()
        archive = make_export(tmp / "export.zip", count)
        out["make_export_seconds"] = round(time.perf_counter() - t, 1)
        out["export_mb"] = round(archive.stat().st_size / 2**20, 1)

        full, empty = tmp / "full", tmp / "empty"
        MyDigits(empty)
        t = time.perf_counter()
        added = MyDigits(full).import_zip(archive)
        out["import_seconds"] = round(time.perf_counter() - t, 2)
        out["imported"] = added
        t = time.perf_counter()
        again = MyDigits(full).import_zip(archive)
        out["import_again_seconds"] = round(time.perf_counter() - t, 2)
        out["import_again_added"] = again
        t = time.perf_counter()
        exported = MyDigits(full, read_only=True).export_zip(tmp / "again.zip")
        out["export_seconds"] = round(time.perf_counter() - t, 2)
        out["exported"] = exported.digits
        out["index_kb"] = round((full / "index.json").stat().st_size / 1024)

        (full / ".cache-28x28").unlink(missing_ok=True)
        t = time.perf_counter()
        MyDigits(full)  # decodes every 28×28 file once and writes the cache
        out["open_no_cache_seconds"] = round(time.perf_counter() - t, 2)
        for name, folder in (("empty", empty), ("full", full)):
            t = time.perf_counter()
            MyDigits(folder)
            out[f"open_{name}_seconds"] = round(time.perf_counter() - t, 3)

        gui = {}
        for name, folder in (("empty", empty), ("full", full)):
            results = [_child(["window", str(folder)], env) for _ in range(runs)]
            if any("error" in r for r in results):
                gui[name] = next(r for r in results if "error" in r)
                continue
            gui[name] = {k: round(statistics.median(r[k] for r in results), 3) for k in results[0]}
        out["window"] = gui
        out["fine_tune"] = _child(["fine-tune", str(full)], env)
    return out


def format_mydigits_scale(m: dict) -> list[str]:
    lines = [f"My digits at scale ({m['digits']:,} digits, {m['export_mb']} MB export; index {m['index_kb']} KB):"]
    lines.append(
        f"  import of the export: {m['import_seconds']:.2f} s ({m['imported']:,} added); again: {m['import_again_seconds']:.2f} s "
        f"({m['import_again_added']} added); export: {m['export_seconds']:.2f} s"
    )
    lines.append(
        f"  open the folder: {m['open_full_seconds']:.3f} s (empty {m['open_empty_seconds']:.3f} s; "
        f"first open without the cache {m['open_no_cache_seconds']:.2f} s)"
    )
    w = m["window"]
    if "error" in w.get("full", {}) or "error" in w.get("empty", {}):
        lines.append(f"  window: {w.get('full', {}).get('error') or w.get('empty', {}).get('error')}")
    else:
        f, e = w["full"], w["empty"]
        for key, what in (
            ("startup", "window start-up (built and shown, the dock read)"),
            ("open_dock", "opening the dock"),
            ("add_one", "saving one digit"),
        ):
            cpu = f"{key}_cpu"
            spent = (
                f"; the GUI thread's CPU time {f[cpu]:.3f} s vs {e[cpu]:.3f} s (+{f[cpu] - e[cpu]:.3f} s)" if cpu in f and cpu in e else ""
            )
            lines.append(f"  {what}: {f[key]:.3f} s vs {e[key]:.3f} s empty (+{f[key] - e[key]:.3f} s){spent}")
        lines.append(f"  delete 300 of them: {f['delete_300']:.3f} s; undo: {f['undo_300']:.3f} s (median of runs)")
    ft = m["fine_tune"]
    if "error" in ft:
        lines.append(f"  fine-tune: {ft['error']}")
    else:
        lines.append(
            f"  fine-tune on all of them (1 epoch): peak memory {ft['peak_mb']:,.0f} MB ({ft['before_mb']:,.0f} MB before), "
            f"{ft['personal_per_epoch']:,} personal images per epoch, {ft['seconds']:.0f} s"
        )
    return lines


def _window(folder: str) -> dict:
    """In a fresh process: the window started on ``folder`` as its My digits, then the dock."""
    t0 = time.perf_counter()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from .ui.app import make_app
    from .ui.main_window import MainWindow
    from .ui.mydigits import MyDigitsPanel
    from .ui.settings import MY_DIGITS_FOLDER

    app = make_app(["mnist-desktop"])
    settings_dir = tempfile.TemporaryDirectory()
    settings = QSettings(os.path.join(settings_dir.name, "s.ini"), QSettings.Format.IniFormat)
    settings.setValue(MY_DIGITS_FOLDER, folder)
    imported = time.perf_counter()
    c = time.thread_time()  # the GUI thread's own CPU time: what other processes on the machine do not change
    w = MainWindow(settings=settings, torch_ready=False)
    w.docks["my_digits"].show()
    w.docks["my_digits"].raise_()
    w.show()
    app.processEvents()
    out = {"startup": time.perf_counter() - imported, "startup_cpu": time.thread_time() - c, "imports": imported - t0}
    panel = MyDigitsPanel(folder)
    panel.set_predictor(w.predictor)
    t, c = time.perf_counter(), time.thread_time()
    panel.show()
    app.processEvents()
    out["open_dock"], out["open_dock_cpu"] = time.perf_counter() - t, time.thread_time() - c
    drawing = np.zeros((280, 280), np.uint8)
    drawing[40:240, 130:150] = 255
    t, c = time.perf_counter(), time.thread_time()
    ident = panel.add(drawing, 1)
    app.processEvents()
    out["add_one"], out["add_one_cpu"] = time.perf_counter() - t, time.thread_time() - c
    ids = [i for i in panel._ids if i != ident][:300]
    t = time.perf_counter()
    panel.remove(ids)
    app.processEvents()
    out["delete_300"] = time.perf_counter() - t
    t = time.perf_counter()
    panel.undo_remove()
    app.processEvents()
    out["undo_300"] = time.perf_counter() - t
    panel.remove([ident])
    panel._removed.clear()
    QApplication.processEvents()
    w.close()
    return out


def _fine_tune(folder: str) -> dict:
    """In a fresh process: peak memory of fine-tuning the bundled CNN on ``folder`` for one epoch."""
    import resource

    import torch

    from .model import MyDigits, Predictor, fine_tune
    from .model import finetune as ft

    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    predictor = Predictor.default()
    digits = MyDigits(folder, read_only=True)
    images, labels = digits.images(), digits.labels()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    result = fine_tune(predictor, images, labels, epochs=1)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    used = min(len(labels), ft.MAX_PERSONAL)
    return {
        "before_mb": before,
        "peak_mb": peak,
        "seconds": seconds,
        "personal_per_epoch": used * max(1, min(ft.REPEAT, ft.MAX_PERSONAL // used)),
        "valid_accuracy": result.metrics.get("valid_accuracy"),
    }


def main(argv: list[str]) -> int:
    kind, folder = argv
    result = _window(folder) if kind == "window" else _fine_tune(folder)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # the window's threads need no orderly end in a measuring process


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
