"""``mnist-desktop bench``: the figures the README quotes, measured on this machine.

Speed is checked here, never in timed unit tests. Sections: drawing-to-probabilities
latency, training throughput per architecture, the default recipe end to end (a fresh
``train`` process, as a user runs it), the GUI's responsiveness while it trains,
evaluating and fine-tuning on "my digits", and the chapter-4 lab's responsiveness (stepping
and nudging in the window).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from . import bench_numbers
from .bench_mydigits import bench_mydigits_scale, format_mydigits_scale
from .bench_recognition import bench_recognition, format_recognition
from .model.drawings import sample_drawings, style_sets, thick_shifted  # noqa: F401 (also the bench's public names)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"median_ms": float(np.median(a)), "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max()), "n": len(a)}


def bench_data() -> dict:
    """Reading, decompressing and verifying the bundled MNIST from disk (cache cleared)."""
    from .model import data

    out = {}
    for split in ("train", "test"):
        data._load.cache_clear()
        t = time.perf_counter()
        data.load_mnist(split)
        out[f"{split}_seconds"] = time.perf_counter() - t
    return out


def bench_latency(runs: int = 1000) -> dict:
    from .model import Predictor, to_mnist

    predictor = Predictor.default()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the window's GUI thread predicts: one thread (see MainWindow)
    drawings = sample_drawings()
    for d in drawings[:20]:
        predictor.predict(to_mnist(d))
    times = []
    for i in range(runs):
        d = drawings[i % len(drawings)]
        t = time.perf_counter()
        predictor.predict(to_mnist(d))
        times.append((time.perf_counter() - t) * 1000)
    torch.set_num_threads(threads)
    return {"what": "280×280 drawing → to_mnist → predict (bundled CNN, one thread as in the window)", **_stats(times)}


# The app's start-up as run() does it (offscreen), timed with the wall clock the parent
# started from: the window shown; a stroke drawn at once, classified and painted; torch
# loaded in the background and the model swapped; the event loop's stalls after the window
# showed (a 10 ms timer), while a user draws (strokes of 0.4 s with 0.1 s pen-up gaps, from
# the window shown until DRAW_S after the start) and after they stop.
PROBES = Path(__file__).parent / "probes"  # run by path: see probes/__init__.py
DRAW_S = 2.0  # the simulated user draws until this long after the launch, then looks


def bench_startup(runs: int = 5) -> dict:
    """Start-up against ``import torch``, interleaved in fresh processes (medians of ``runs``).

    ``--help``, the window shown, a stroke drawn as soon as it shows classified on screen, and
    ``predict`` of one image with the bundled model, each as a ratio of ``python -c "import torch"``.

    The app's modules are compiled to bytecode first, as an installed app's are (pip compiles
    them at install; torch's are), also where ``PYTHONDONTWRITEBYTECODE`` is set: compiling
    them at every launch added ~0.15 s that no user's launch has.
    """
    import compileall

    from PIL import Image

    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    compileall.compile_dir(Path(__file__).parent, quiet=2)  # where it cannot write, the launches compile as before
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "one.png"
        one = np.full((120, 100), 255, np.uint8)
        one[15:105, 45:55] = 0
        Image.fromarray(one).save(image)
        commands = {
            "import_torch": [sys.executable, "-c", "import torch"],
            "help": [sys.executable, "-m", "mnist_desktop", "--help"],
            "predict": [sys.executable, "-m", "mnist_desktop", "predict", str(image)],
        }
        times: dict[str, list[float]] = {
            k: [] for k in (*commands, "shown", "stroke", "torch_ready", "max_stall_ms", "max_stall_drawing_ms", "drawing_s")
        }
        extra: dict = {}
        for _ in range(runs):
            for name, cmd in commands.items():
                t = time.time()
                subprocess.run(cmd, capture_output=True, env=env, check=True)
                times[name].append(time.time() - t)
            t = time.time()
            proc = subprocess.run(
                [sys.executable, str(PROBES / "startup.py"), repr(t), repr(DRAW_S)], capture_output=True, text=True, env=env
            )
            if proc.returncode != 0:
                return {"error": proc.stderr.strip().splitlines()[-1:]}
            probe = json.loads(proc.stdout.strip().splitlines()[-1])
            for k in ("shown", "stroke", "torch_ready", "max_stall_ms", "max_stall_drawing_ms", "drawing_s"):
                times[k].append(probe[k])
            extra = {"stroke_class": probe["stroke_class"], "jump": max(extra.get("jump", 0.0), probe["jump"])}
    med = {k: float(np.median(v)) for k, v in times.items()}
    base = med["import_torch"]
    return {
        "runs": runs,
        "seconds": med,
        "ratio": {k: med[k] / base for k in ("help", "shown", "stroke", "predict", "torch_ready")},
        "max_stall_ms_worst": float(max(times["max_stall_ms"])),
        "max_stall_drawing_ms_worst": float(max(times["max_stall_drawing_ms"])),
        **extra,
    }


def bench_throughput(steps: int = 60) -> dict:
    from .model import ARCHITECTURES, TrainConfig, train

    out = {}
    for name, arch in ARCHITECTURES.items():
        config = TrainConfig(arch=name, epochs=1, log_every=10, hidden=128)
        if not arch.trainable:
            result = train(config)
            out[name] = {"fit_seconds": result.history[0].seconds}
            continue
        stop, rates = threading.Event(), []

        def on_batch(info, rates=rates, stop=stop):
            if info.step > 10:  # the first reports include warm-up
                rates.append(info.samples_per_s)
            if info.step >= steps:
                stop.set()

        train(config, on_batch=on_batch, stop_event=stop)
        out[name] = {"samples_per_s": float(np.median(rates)), "batch_size": config.batch_size}
    return out


def bench_recipe() -> dict:
    """The default ``train`` command, timed from outside, then its checkpoint evaluated."""
    from .model import Predictor, evaluate, load_mnist

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "recipe.safetensors"
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mnist_desktop", "train", "--out", str(out)], capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1:]}
        accuracy = evaluate(Predictor.load(out), *load_mnist("test")).accuracy
    epochs = [line.strip() for line in proc.stdout.splitlines() if line.startswith("epoch") and "valid accuracy" in line]
    return {
        "command": "mnist-desktop train --out PATH",
        "wall_seconds": wall,
        "test_accuracy": accuracy,
        "reached_99": accuracy >= 0.99,
        "epochs": epochs,
    }


def _json_run(args: list[str], env: dict | None = None) -> dict:
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


_RUN_FOLDER: list[tempfile.TemporaryDirectory] = []


def _run_folder() -> Path:
    if not _RUN_FOLDER:
        _RUN_FOLDER.append(tempfile.TemporaryDirectory(prefix="mnist-desktop-bench-"))
    return Path(_RUN_FOLDER[0].name)


def _gui_env() -> dict | str:
    """The environment for a GUI subprocess (offscreen unless a display is set), or why there is no GUI."""
    # Temporary files and the default My digits folder in a folder of this run (removed at its
    # end), never the user's.
    env = dict(os.environ, TMPDIR=str(_run_folder()), XDG_DATA_HOME=str(_run_folder() / "data"))
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as e:
        return f"GUI not available: {e}"
    return env


def bench_gui() -> dict:
    """The default recipe from the window (click to the new model in use) beside
    ``train(TrainConfig())`` headless, each in a fresh process: headless, the window as one
    watches it (nothing else running in it), the window probed and drawn on (responsiveness),
    headless again."""
    env = _gui_env()
    if isinstance(env, str):
        return {"skipped": env}
    before = _json_run([sys.executable, str(PROBES / "headless.py")])
    window = _json_run([sys.executable, "-m", "mnist_desktop.ui.bench"], env)
    probed = _json_run([sys.executable, "-m", "mnist_desktop.ui.bench", "--probe"], env)
    after = _json_run([sys.executable, str(PROBES / "headless.py")])
    out = {"headless_before": before, "window": window, "probed": probed, "headless_after": after}
    if all("error" not in r for r in (before, window, probed, after)):
        headless = (before["seconds"] + after["seconds"]) / 2
        out["headless_seconds"] = headless
        out["window_over_headless"] = window["click_to_done_s"] / headless
    return out


REFERENCE_EPOCHS_TO_99 = 5  # pytorch/examples mnist reaches 99.0 % test accuracy after 5–6 epochs


def bench_reference(steps: int = 200) -> dict:
    """The pytorch/examples MNIST recipe (``mnist/main.py``: Net with 32/64-channel convolutions,
    dropout and a 128-unit layer, Adadelta lr 1.0, batch 64, torchvision's MNIST dataset and a
    DataLoader with ToTensor + Normalize), timed over ``steps`` steps on this machine and scaled
    to the ``REFERENCE_EPOCHS_TO_99`` epochs it needs to reach 99.0 %. Its data is the bundled
    MNIST, decompressed into torchvision's folder layout (nothing is downloaded)."""
    import gzip
    import shutil

    import torch.nn.functional as F
    from torch import nn
    from torchvision import datasets, transforms

    from .model.data import DEFAULT_ROOT, FILES

    class Net(nn.Module):  # as in pytorch/examples mnist/main.py
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
            self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
            self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = self.dropout2(F.relu(self.fc1(torch.flatten(self.dropout1(x), 1))))
            return F.log_softmax(self.fc2(x), dim=1)

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name in (*FILES["train"][:2], *FILES["test"][:2]):
            with gzip.open(DEFAULT_ROOT / f"{name}.gz") as src, open(raw / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
        transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
        dataset = datasets.MNIST(tmp, train=True, download=False, transform=transform)
        loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)
        torch.manual_seed(1)
        model = Net()
        optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
        model.train()
        t = None
        for i, (data, target) in enumerate(loader):
            if i == 10:
                t = time.perf_counter()  # after warm-up
            optimizer.zero_grad()
            F.nll_loss(model(data), target).backward()
            optimizer.step()
            if i == 10 + steps:
                break
        per_step = (time.perf_counter() - t) / steps
    epoch = per_step * len(loader)
    return {
        "seconds_per_step": per_step,
        "seconds_per_epoch": epoch,
        "epochs_to_99": REFERENCE_EPOCHS_TO_99,
        "seconds_to_99": epoch * REFERENCE_EPOCHS_TO_99,
        "steps_timed": steps,
    }


def bench_stop(after: float = 3.0) -> dict:
    """Full-batch gradient descent on the CNN (60,000 images a step): seconds from Stop to the
    end of ``train``. Stop is checked between chunks of ``CHUNK`` images."""
    from .model import TrainConfig, train
    from .model.training import CHUNK

    stop = threading.Event()
    marks = {}

    def press() -> None:
        marks["stop"] = time.perf_counter()
        stop.set()

    timer = threading.Timer(after, press)
    timer.start()
    result = train(TrainConfig(batch_size=0, epochs=1), stop_event=stop)
    end = time.perf_counter()
    timer.cancel()
    return {"stop_to_return_s": end - marks["stop"] if "stop" in marks else float("nan"), "stopped": result.stopped, "chunk": CHUNK}


def bench_plot(reports: int = 1_000_000) -> dict:
    """What a redraw of the loss plot costs at the start of a run and after ``reports`` batch
    reports (a linear model at batch size 1 sends millions): the plotted series are bounded."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PySide6.QtWidgets import QApplication

        from .ui.training import TrainingPanel
    except ImportError as e:
        return {"skipped": f"GUI not available: {e}"}
    from .model.training import BatchInfo

    app = QApplication.instance() or QApplication([])
    panel = TrainingPanel()
    panel.resize(460, 700)
    panel.show()
    per_epoch = 60000

    def feed(start: int, count: int) -> None:
        for step in range(start, start + count):
            epoch, batch = divmod(step - 1, per_epoch)
            panel.progress_state.add_batch(
                BatchInfo(epoch + 1, 100, step, 100 * per_epoch, batch + 1, per_epoch, 1.0 / step**0.3, 0.1, 1000.0, 1.0, step)
            )

    def redraw_ms() -> float:
        times = []
        for _ in range(10):
            t = time.perf_counter()
            panel._refresh(force=True)
            panel.plot.repaint()
            app.processEvents()
            times.append((time.perf_counter() - t) * 1000)
        return float(np.median(times))

    feed(1, 1000)
    early = redraw_ms()
    feed(1001, reports - 1000)
    late = redraw_ms()
    points = len(panel.progress_state.loss)
    panel.close()
    return {"redraw_ms_after_1000": early, f"redraw_ms_after_{reports}": late, "plotted_points": points, "reports": reports}


def bench_mydigits(per_digit: int = 20, held_out: int = 5000) -> dict:
    """Evaluating the bundled CNN on MNIST test, and fine-tuning it on ``per_digit`` drawings per
    digit of the :func:`thick_shifted` style with ``fine_tune``'s defaults: seconds, and accuracy
    on ``held_out`` other drawings of that style and on MNIST test, before and after."""
    from .model import Predictor, evaluate, fine_tune, load_mnist
    from .model import finetune as ft

    predictor = Predictor.default()
    test = load_mnist("test")
    evaluate(predictor, test[0][:500], test[1][:500])  # warm-up
    t = time.perf_counter()
    mnist_before = evaluate(predictor, *test).accuracy
    evaluate_seconds = time.perf_counter() - t
    tune_x, tune_y, held_x, held_y = style_sets(per_digit, held_out)
    style_before = evaluate(predictor, held_x, held_y).accuracy
    t = time.perf_counter()
    result = fine_tune(predictor, tune_x, tune_y)
    seconds = time.perf_counter() - t
    from .bench_recognition import _sets

    _, others = _sets()  # the letters, symbols, scribbles and strokes `bench recognition` measures
    others = np.concatenate([others[k] for k in ("letters", "symbols", "scribbles", "strokes")])

    def caught(p) -> float:  # share of them called "not a digit"
        return float(1 - np.mean(p.predict_batch_checked(others)[1]))

    def flagged(p) -> float:  # share of MNIST test digits called "not a digit"
        return float(1 - np.mean(p.predict_batch_checked(test[0].numpy())[1]))

    return {
        "evaluate_mnist_test_seconds": evaluate_seconds,
        "fine_tune_seconds": seconds,
        "personal_digits": len(tune_y),
        "held_out": len(held_y),
        "style_accuracy_before": style_before,
        "style_accuracy_after": evaluate(result.predictor, held_x, held_y).accuracy,
        "mnist_accuracy_before": mnist_before,
        "mnist_accuracy_after": evaluate(result.predictor, *test).accuracy,
        "nondigits": len(others),
        "nondigits_caught_before": caught(predictor),
        "nondigits_caught_after": caught(result.predictor),
        "mnist_flagged_before": flagged(predictor),
        "mnist_flagged_after": flagged(result.predictor),
        "defaults": {"epochs": ft.EPOCHS, "replay": ft.REPLAY, "repeat": ft.REPEAT, "lr": ft.LR},
    }


def bench_preprocess(count: int = 600, seed: int = 0) -> dict:
    """The preprocessing lab's table: the bundled model's accuracy on ``count`` MNIST test digits
    redrawn small and off-centre on a 280×280 canvas (30–90 % of its height, anywhere: what
    ``sample_drawings`` and the tests make), under each recipe of ``preprocess_variants``. An
    accuracy, not a timing."""
    from .model import PREPROCESS_VARIANTS, Predictor, load_mnist, preprocess_variants
    from .model.drawings import random_drawings

    predictor = Predictor.default()
    images, labels = load_mnist("test")
    indices, drawings = random_drawings(images.numpy(), count, seed=seed)
    variants = [preprocess_variants(d) for d in drawings]
    truth = labels.numpy()[indices]
    accuracy = {}
    for name in PREPROCESS_VARIANTS:
        predicted = predictor.predict_batch(np.stack([v[name] for v in variants])).argmax(1)
        accuracy[name] = float((np.asarray(predictor.classes)[predicted] == truth).mean())
    mnist_itself = float((predictor.predict_batch(images[indices]).argmax(1) == truth).mean())
    return {"digits": count, "seed": seed, "accuracy": accuracy, "mnist_itself": mnist_itself}


# The window drawing with saliency on, the preprocessing lab on screen and the nearest training
# digits under the prediction (offscreen, the bundled model, torch loaded): a stroke's mouse moves are posted every 16 ms for a few
# seconds, a 10 ms timer probes the event loop; the longest gap minus 10 ms is its longest
# stall. Also how long after each prediction the saliency overlay follows.


def bench_saliency(runs: int = 300, seconds: float = 5.0) -> dict:
    """``Predictor.saliency`` (gradient × input) of the bundled CNN on one thread, as the window
    computes it a frame after the prediction; and the window's event loop while drawing with
    saliency on and the preprocessing lab on screen (a fresh offscreen process)."""
    from .model import Predictor, to_mnist

    predictor = Predictor.default()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    images = [to_mnist(d) for d in sample_drawings()]
    for x in images[:20]:
        predictor.saliency(x)
    times = []
    for i in range(runs):
        x = images[i % len(images)]
        t = time.perf_counter()
        predictor.saliency(x)
        times.append((time.perf_counter() - t) * 1000)
    torch.set_num_threads(threads)
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    # The same drawing with both off first: the machine's own stalls, to compare with; then with
    # everything on (the nearest training digits' features built), while those features are being
    # built, and in Number mode.
    modes = ("off", "on", "building", "number")
    windows = {m: _json_run([sys.executable, str(PROBES / "saliency.py"), str(seconds), m], env=env) for m in modes}
    return {"what": "Predictor.saliency of a drawing (bundled CNN, one thread as in the window)", **_stats(times), "window": windows}


MEMORY_TARGET_MB = 800  # resident memory after using every dock


def bench_memory() -> dict:
    """The window's resident memory after start and after each dock is used (a fresh process:
    ``mnist_desktop.ui.bench_memory``), with the load average it ran under."""
    env = _gui_env()
    if isinstance(env, str):
        return {"skipped": env}
    out = _json_run([sys.executable, "-m", "mnist_desktop.ui.bench_memory"], env)
    out["load_average"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    out["target_mb"] = MEMORY_TARGET_MB
    return out


def format_memory(m: dict) -> list[str]:
    if "skipped" in m or "error" in m:
        return [f"memory: {m.get('skipped') or m.get('error')}"]
    every = m["after_every_dock"]
    verdict = "within" if every["rss_mb"] <= m["target_mb"] else "over"
    load = ", ".join(f"{x:.2f}" for x in m["load_average"]) if m.get("load_average") else "n/a"
    lines = [
        f"memory (resident, MB; load average {load}): window shown {m['window_shown']['rss_mb']:.0f}, "
        f"PyTorch loaded {m['torch_loaded']['rss_mb']:.0f}, after start {m['after_start']['rss_mb']:.0f}, "
        f"after using every dock {every['rss_mb']:.0f} (peak {every['peak_mb']:.0f}; "
        f"{verdict} the {m['target_mb']} MB target)"
    ]
    lines.append("  after each dock: " + ", ".join(f"{name} {v['rss_mb']:.0f}" for name, v in m["docks"].items()))
    lines.append(f"  of which mapped files (libraries) {every['file_mb']:.0f}, the process's own {every['anon_mb']:.0f}")
    held = m.get("held_mb")
    if held:
        lines.append(
            f"  held by the app: the nearest training digits' features {held['nearest_features']:.0f} "
            f"({held['nearest_models']} model{'s' if held['nearest_models'] != 1 else ''} cached), MNIST {held['mnist']:.0f}"
        )
    return lines


def bench_lab(phases: int = 30, batches: int = 5, nudge_models=("cnn", "linear"), valid_steps: int | None = None) -> dict:
    """The chapter-4 lab's responsiveness in the real window, in a fresh offscreen process (see
    ``mnist_desktop.ui.bench.measure_lab``): Step mode in the chapter's setting (``phases``
    single phases pressed one after another, "Whole batch" ``batches`` times, "To end of
    epoch"), then Accuracy vs loss sweeps on the validation set for the bundled CNN and the
    3-vs-7 linear model just stepped. A 10 ms timer probes the event loop throughout."""
    env = _gui_env()
    if isinstance(env, str):
        return {"skipped": env}
    args = {"phases": phases, "batches": batches, "nudge_models": list(nudge_models), "valid_steps": valid_steps}
    t = time.perf_counter()
    out = _json_run([sys.executable, "-m", "mnist_desktop.ui.bench", "--lab", json.dumps(args)], env)
    out["process_seconds"] = round(time.perf_counter() - t, 1)
    return out


def bench_evaluation() -> dict:
    """The window while the Evaluation dock evaluates the bundled CNN, in a fresh offscreen
    process (see ``mnist_desktop.ui.bench.measure_evaluation``): the dock raised, the Robustness
    tab opened once the confusion matrix is shown, a 10 ms timer probing the event loop until
    the evaluation ends."""
    env = _gui_env()
    if isinstance(env, str):
        return {"skipped": env}
    return _json_run([sys.executable, "-m", "mnist_desktop.ui.bench", "--evaluation"], env)


# The sections, in the order they run and are reported (``bench --skip NAME`` leaves one out).
SECTIONS = (
    ("startup", bench_startup),
    ("data", bench_data),
    ("latency", bench_latency),
    ("throughput", bench_throughput),
    ("recipe", bench_recipe),
    ("reference", bench_reference),
    ("stop", bench_stop),
    ("plot", bench_plot),
    ("gui", bench_gui),
    ("mydigits", bench_mydigits),
    ("mydigits-scale", bench_mydigits_scale),
    ("preprocess", bench_preprocess),
    ("saliency", bench_saliency),
    ("lab", bench_lab),
    ("evaluation", bench_evaluation),
    ("recognition", bench_recognition),
    ("memory", bench_memory),
) + bench_numbers.SECTIONS


def run_bench(skip: set[str] = frozenset(), log=None) -> dict:
    from .model import resolve_device

    report = {
        "device": str(resolve_device("auto")),
        "cpu": _cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    for name, fn in SECTIONS:
        if name in skip:
            continue
        if log:
            log(f"bench: {name}…")
        report[name] = fn()
    return report


# ---- the text report: one formatter a section -----------------------------------------------
# Each takes its section's figures and the whole report (a section may compare itself with
# another) and returns its lines; REPORT lists them in the order they are printed.


def _own(fmt: Callable[[dict], list[str]]) -> Callable[[dict, dict], list[str]]:
    """A section's formatter that needs only its own figures."""
    return lambda figures, _report: fmt(figures)


def _format_startup(st: dict, _r: dict) -> list[str]:
    if "error" in st:
        return [f"start-up failed: {st['error']}"]
    sec, ratio = st["seconds"], st["ratio"]
    lines = [f"start-up (median of {st['runs']}, fresh processes), against python -c 'import torch' {sec['import_torch']:.2f} s:"]
    for key, what in (
        ("help", "mnist-desktop --help"),
        ("shown", "window shown"),
        ("stroke", "a stroke drawn at once, classified on screen"),
        ("predict", "mnist-desktop predict IMAGE (bundled model)"),
        ("torch_ready", "torch loaded in the background, model swapped in"),
    ):
        lines.append(f"  {what}: {sec[key]:.2f} s = {ratio[key]:.2f}× import torch")
    lines.append(
        f"  event loop while torch loads and a user draws (until {sec['drawing_s']:.1f} s): longest stall "
        f"{sec['max_stall_drawing_ms']:.0f} ms (median of runs), worst {st['max_stall_drawing_ms_worst']:.0f} ms"
    )
    lines.append(
        f"  event loop from the window shown to torch ready, the user's pause included: longest stall "
        f"{sec['max_stall_ms']:.0f} ms (median), worst {st['max_stall_ms_worst']:.0f} ms; "
        f"bars moved by {st['jump']:.1e} when torch took over"
    )
    return lines


def _format_data(d: dict, _r: dict) -> list[str]:
    return [f"load_mnist (read, gunzip, SHA-256): train {d['train_seconds']:.2f} s, test {d['test_seconds']:.2f} s"]


def _format_latency(lat: dict, _r: dict) -> list[str]:
    return [
        f"drawing → probabilities: median {lat['median_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms ({lat['n']} runs)"
    ]


def _format_throughput(archs: dict, _r: dict) -> list[str]:
    return [
        f"training {name}: {t['samples_per_s']:,.0f} samples/s (batch {t['batch_size']})"
        if "samples_per_s" in t
        else f"training {name}: means computed in {t['fit_seconds']:.2f} s"
        for name, t in archs.items()
    ]


def _format_recipe(rec: dict, _r: dict) -> list[str]:
    if "error" in rec:
        return [f"default recipe failed: {rec['error']}"]
    head = f"default recipe: {rec['wall_seconds']:.1f} s wall for the whole command, test accuracy {100 * rec['test_accuracy']:.2f} %"
    return [head] + ["  " + e for e in rec["epochs"]]


def _format_reference(ref: dict, r: dict) -> list[str]:
    line = (
        f"pytorch/examples MNIST recipe: {ref['seconds_per_step'] * 1000:.0f} ms a step, {ref['seconds_per_epoch']:.0f} s an epoch, "
        f"~{ref['seconds_to_99']:.0f} s for the {ref['epochs_to_99']} epochs it needs to reach 99 %"
    )
    if "wall_seconds" in r.get("recipe", {}):
        line += f"; the default recipe's whole command is {ref['seconds_to_99'] / r['recipe']['wall_seconds']:.1f}× faster"
    return [line]


def _format_stop(st: dict, _r: dict) -> list[str]:
    return [
        f"Stop during full-batch CNN training (chunks of {st['chunk']}): {st['stop_to_return_s']:.2f} s from Stop to the end of train()"
    ]


def _format_plot(p: dict, _r: dict) -> list[str]:
    if "skipped" in p:
        return [f"plot: {p['skipped']}"]
    late = next(v for k, v in p.items() if k.startswith("redraw_ms_after_") and k != "redraw_ms_after_1000")
    return [
        f"loss plot redraw: {p['redraw_ms_after_1000']:.1f} ms after 1,000 reports, {late:.1f} ms after "
        f"{p['reports']:,} ({p['plotted_points']} points plotted)"
    ]


def _format_mydigits(m: dict, _r: dict) -> list[str]:
    return [
        f"evaluate the bundled CNN on MNIST test (10,000 images): {m['evaluate_mnist_test_seconds']:.2f} s",
        f"fine-tune on {m['personal_digits']} digits of a thick, shifted style: {m['fine_tune_seconds']:.1f} s; "
        f"{m['held_out']:,} other drawings of that style {100 * m['style_accuracy_before']:.1f} % → {100 * m['style_accuracy_after']:.1f} %, "
        f"MNIST test {100 * m['mnist_accuracy_before']:.2f} % → {100 * m['mnist_accuracy_after']:.2f} %",
        *(
            [
                f"  'not a digit' on {m['nondigits']:,} letters, symbols, scribbles and strokes (bench recognition's): "
                f"{100 * m['nondigits_caught_before']:.1f} % → {100 * m['nondigits_caught_after']:.1f} % caught; "
                f"MNIST test digits flagged {100 * m['mnist_flagged_before']:.2f} % → {100 * m['mnist_flagged_after']:.2f} %"
            ]
            if "nondigits" in m
            else []
        ),
    ]


def _format_preprocess(pre: dict, _r: dict) -> list[str]:
    head = (
        f"the bundled model on {pre['digits']} MNIST test digits redrawn small and off-centre (seed {pre['seed']}; "
        f"the same digits as MNIST has them: {100 * pre['mnist_itself']:.1f} %):"
    )
    return [head] + [f"  {name:<12} {100 * acc:5.1f} %" for name, acc in pre["accuracy"].items()]


SALIENCY_MODES = {  # what each mode of probes/saliency.py draws with, in the report's words
    "off": "with saliency and the lab off (to compare)",
    "on": "with saliency on and the preprocessing lab on screen",
    "building": "with everything on while the nearest digits' features are built",
    "number": "in Number mode (the wide canvas read as you write, the pen up 150 ms between strokes)",
}


def _format_saliency(sal: dict, _r: dict) -> list[str]:
    lines = [f"saliency (gradient × input): median {sal['median_ms']:.2f} ms, p99 {sal['p99_ms']:.2f} ms ({sal['n']} runs)"]
    for mode, win in sal["window"].items():
        what = SALIENCY_MODES.get(mode, mode)
        if "error" in win:
            lines.append(f"  drawing {what}: failed: {win['error']}")
            continue
        line = (
            f"  drawing {win['seconds']:.0f} s {what}: longest event-loop stall {win['max_stall_ms']:.0f} ms "
            f"(p99 {win['p99_stall_ms']:.0f} ms, {win['stalls_over_50ms']} over 50 ms)"
        )
        if mode == "on":
            line += (
                f"; the overlay followed each prediction after {win['saliency_after_prediction_median_ms']:.1f} ms "
                f"(median of {win['saliency_updates']}); {win['lab_updates']} lab updates"
            )
        if mode in ("on", "building") and "nearest_updates" in win:
            line += f"; {win['nearest_updates']} nearest-digit updates"
        if mode == "number" and "number_readings" in win:
            line += f"; {win['number_readings']} readings of the number"
            if win.get("number_lifts"):
                line += (
                    f", on screen {win['number_after_lift_median_ms']:.0f} ms after the pen lifts "
                    f"(median; p90 {win['number_after_lift_p90_ms']:.0f} ms; {win['number_read_after_lift']} of {win['number_lifts']} lifts)"
                )
        lines.append(line)
    return lines


def _stalls(st: dict) -> str:
    return f"longest event-loop stall {st['max_ms']:.0f} ms (p99 {st['p99_ms']:.0f} ms, {st['over_50ms']} over 50 ms)"


def _format_lab(lab: dict, _r: dict) -> list[str]:
    if "skipped" in lab:
        return [f"lab: {lab['skipped']}"]
    if "error" in lab:
        return [f"lab: failed: {lab['error']}"]
    c = lab["step_config"]
    ph, ba, ep = lab["step_phases"], lab["step_batches"], lab["step_epoch"]
    reached = ep["first_reached"]
    lines = [
        f"chapter-4 lab in the window ({lab['probe_interval_ms']} ms probe, a press at most every {lab['press_every_ms']} ms; "
        f"{lab['process_seconds']:.0f} s in all): Step mode, {c['arch']} {c['task']}, {c['loss']}, lr {c['lr']:g}, batch {c['batch_size']}:",
        f"  {ph['presses']} × Next phase (the first loads the data), {ph['seconds']:.1f} s: {_stalls(ph)}",
        f"  {ba['presses']} × Whole batch, {ba['seconds']:.1f} s: {_stalls(ba)}",
        f"  To end of epoch × {ep['presses']} until the run stopped ({ep['epochs']} epochs, {ep['redraws']} redraws): "
        f"the first press (to batch {reached['batch']}/{reached['batches_per_epoch']} of epoch {reached['epoch']}) "
        f"{1000 * ep['walls_s'][0]:.0f} ms, each press {', '.join(f'{1000 * w:.0f}' for w in ep['walls_s'])} ms; {_stalls(ep)}",
    ]
    for key in (k for k in lab if k.startswith("nudge_")):
        for direction, sw in lab[key].items():
            if direction == "model":
                continue
            what = "along the gradient" if sw["parameter"] is None else f"one weight of {sw['parameter']}"
            moved = "progress shown" if sw["progress_moved"] else "progress NOT shown"
            lines.append(
                f"  Accuracy vs loss, {lab[key]['model']}, {what}, {sw['epsilons']} ε on {sw['samples']:,} validation digits: "
                f"{sw['seconds']:.1f} s ({moved}); {_stalls(sw)}"
            )
    lines.append(f"  over the whole run: {_stalls(lab['stall_all'])}")
    return lines


def _format_gui(g: dict, _r: dict) -> list[str]:
    if "skipped" in g:
        return [f"GUI: {g['skipped']}"]
    if "window_over_headless" not in g:
        return [f"GUI: failed: {g}"]
    w, p = g["window"], g["probed"]
    e = w["time_left_error_s"]
    lines = [
        f"default recipe from the window, click to the new model in use: {w['click_to_done_s']:.1f} s "
        f"(test accuracy {100 * w['test_accuracy']:.2f} %); headless train(TrainConfig()): "
        f"{g['headless_before']['seconds']:.1f} s before, {g['headless_after']['seconds']:.1f} s after; "
        f"window / headless = {g['window_over_headless']:.2f}",
        f"  GUI thread CPU while one watches: {100 * w['gui_thread_cpu_share']:.1f} % of one core; "
        f"click to first batch {w['click_to_first_batch_s']:.2f} s; training in the window {w['train_samples_per_s']:,.0f} samples/s "
        f"(the panel showed {w['shown_speed_samples_per_s']:,.0f} at the end)",
        f"  predicted end of training minus the real one, after the first 10 %: {e['min']} … {e['max']} s (median {e['median']} s)",
        f"  probed run (a {p['probe_interval_ms']} ms timer probe, a stroke every 60 ms while it trains): "
        f"{p['click_to_done_s']:.1f} s, GUI thread CPU {100 * p['gui_thread_cpu_share']:.1f} %",
    ]
    for phase in ("all", "start", "training", "epoch_ends", "finish"):
        st = p[f"stall_{phase}"]
        lines.append(f"  event-loop stalls ({phase}): max {st['max_ms']} ms, p99 {st['p99_ms']} ms, {st['over_50ms']} over 50 ms")
    lines.append(
        f"  stroke → prediction while training: median {p['stroke_latency_p50_ms']} ms, p99 {p['stroke_latency_p99_ms']} ms "
        f"({p['strokes']} strokes); plot redraws {p['plot_updates_per_s']}/s"
    )
    return lines


def _format_evaluation(e: dict, _r: dict) -> list[str]:
    if "skipped" in e:
        return [f"evaluation: {e['skipped']}"]
    if "error" in e:
        return [f"evaluation: failed: {e['error']}"]
    waited = [x["waited_for_cpu_ms"] for x in e["late"] if "waited_for_cpu_ms" in x]
    ran = [x["ran_ms"] for x in e["late"] if "ran_ms" in x]
    lines = [
        f"Evaluation dock in the window ({e['probe_interval_ms']} ms probe, load average {e['load_average']:g}): the bundled CNN "
        f"evaluated in {e['seconds']:.1f} s (confusion matrix after {e['confusion_shown_s']:.1f} s, then the {e['tab']} tab open): "
        f"{_stalls(e)}"
    ]
    if waited:
        lines.append(f"  in the ticks over 50 ms late the GUI thread ran up to {max(ran)} ms and waited for a core up to {max(waited)} ms")
    return lines


# The report's sections in the order they are printed (not the order they run: the model's
# recognition first, the GUI's figures together at the end).
REPORT: tuple[tuple[str, Callable[[dict, dict], list[str]]], ...] = (
    ("recognition", _own(format_recognition)),
    ("startup", _format_startup),
    ("data", _format_data),
    ("latency", _format_latency),
    ("throughput", _format_throughput),
    ("recipe", _format_recipe),
    ("reference", _format_reference),
    ("stop", _format_stop),
    ("plot", _format_plot),
    ("mydigits-scale", _own(format_mydigits_scale)),
    ("mydigits", _format_mydigits),
    ("preprocess", _format_preprocess),
    ("saliency", _format_saliency),
    ("lab", _format_lab),
    ("evaluation", _format_evaluation),
    ("gui", _format_gui),
    ("memory", _own(format_memory)),
) + tuple((key, _own(fmt)) for key, fmt in bench_numbers.REPORT)


def format_report(r: dict) -> str:
    """The report as text: a line on the machine, then each section that ran."""
    lines = [f"device {r['device']} ({r['cpu']}, {r['cpu_threads']} threads), torch {r['torch']}, Python {r['python']}"]
    for key, fmt in REPORT:
        if key in r:
            lines += fmt(r[key], r)
    return "\n".join(lines)
