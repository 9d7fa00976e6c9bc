"""Soak: many Train → Stop cycles leave no threads and little memory behind; closing the app
mid-training exits promptly, every time.

Marked slow (deselect with ``-m 'not slow'``) but sized to run in CI in about a minute.
"""

import os
import re
import subprocess
import sys
import threading
import time

import pytest
from ui_helpers import CLOSE_WHILE_TRAINING

from mnist_desktop.model import TrainConfig

CYCLES = 30


def os_threads() -> int:
    """Threads of this process as the kernel counts them (Qt's and torch's included)."""
    with open("/proc/self/status") as f:
        return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cycle(window, qtbot, config) -> None:
    panel = window.training
    assert panel.start(config)
    qtbot.waitUntil(lambda: len(panel.batch_losses()) > 0, timeout=60_000)
    with qtbot.waitSignal(panel.finished, timeout=30_000) as blocker:
        panel.stop()
    assert blocker.args[0] is not None and blocker.args[0].stopped
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=5_000)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc (Linux)")
def test_train_stop_cycles_leak_no_threads_and_little_memory(window, qtbot):
    config = TrainConfig(arch="linear", subset=2000, epochs=50, batch_size=64, device="cpu")
    for _ in range(3):  # warm-up: data cache, torch's thread pool, first-use allocations
        cycle(window, qtbot, config)
    py_threads, kernel_threads, rss = threading.active_count(), os_threads(), rss_mb()
    for _ in range(CYCLES):
        cycle(window, qtbot, config)
    # A finished QThread's OS thread may take a moment to be reaped.
    qtbot.waitUntil(lambda: os_threads() <= kernel_threads, timeout=5_000)
    assert threading.active_count() <= py_threads
    growth = rss_mb() - rss
    assert growth < 150, f"RSS grew by {growth:.0f} MB over {CYCLES} Train → Stop cycles"


@pytest.mark.slow
def test_closing_the_app_mid_training_exits_promptly_every_time(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))  # settings stay in tmp_path
    for run in range(5):
        with subprocess.Popen(
            [sys.executable, "-c", CLOSE_WHILE_TRAINING], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        ) as p:
            line = p.stdout.readline()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                raise AssertionError(f"run {run}: still running 30 s after the window was closed") from None
            exited = time.time()
            err = p.stderr.read()
        assert line.startswith("closing "), (line, err)
        assert p.returncode == 0, err
        assert "QThread" not in err, err
        seconds = exited - float(line.split()[1])
        # A close that waited for training to end took 27 s on a quiet machine (more under
        # load); a prompt one takes 0.4-0.7 s, up to ~2 s when other work shares the two cores,
        # and 11 s once at a load of 8 (2026-12-07: 10 s failed it). The bound only tells a wait
        # for the run from a prompt exit: speed is measured by bench, not asserted.
        assert seconds < 20.0, f"run {run}: {seconds:.2f} s from window.close() to the process's exit"
