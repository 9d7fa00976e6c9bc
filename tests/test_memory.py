"""Memory freed by a worker thread goes back to the system; bench reports the window's memory."""

import subprocess
import sys
import textwrap

HEAP = textwrap.dedent(
    """
    import sys, threading, numpy as np
    from mnist_desktop.ui.app import return_freed_memory
    from mnist_desktop.ui.bench_memory import memory_mb

    if sys.argv[1] == "on":
        assert return_freed_memory()

    def batches():  # as a worker's torch batches: one large block, then many of 6 MB, all freed
        big = np.ones(30 << 20, np.uint8)
        del big
        blocks = [(np.ones((6 << 20) // 8), np.ones(1000)) for _ in range(60)]
        del blocks

    thread = threading.Thread(target=batches)
    thread.start()
    thread.join()
    print(memory_mb()["rss_mb"])
    """
)


def rss_after_batches(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", HEAP, mode], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def test_blocks_a_worker_freed_are_given_back():
    kept, returned = rss_after_batches("off"), rss_after_batches("on")
    assert kept - returned > 200, (kept, returned)  # 360 MB went through the thread's heap


def test_bench_reports_memory_against_its_target():
    from mnist_desktop.bench import format_report

    point = {"rss_mb": 990.0, "peak_mb": 1300.0, "anon_mb": 700.0, "file_mb": 290.0}
    memory = {
        "window_shown": dict(point, rss_mb=150.0),
        "torch_loaded": point,
        "after_start": point,
        "docks": {"training": point, "evaluation": dict(point, rss_mb=1030.0)},
        "after_every_dock": dict(point, rss_mb=1030.0),
        "load_average": [1.5, 1.2, 1.0],
        "target_mb": 800,
    }
    base = {"device": "cpu", "cpu": "x", "cpu_threads": 2, "torch": "2", "python": "3"}
    text = format_report(dict(base, memory=memory))
    assert "after using every dock 1030 (peak 1300; over the 800 MB target)" in text
    assert "load average 1.50, 1.20, 1.00" in text and "evaluation 1030" in text
    memory["held_mb"] = {"nearest_features": 249.0, "nearest_models": 1, "mnist": 52.5}
    assert "the nearest training digits' features 249 (1 model cached), MNIST 52" in format_report(dict(base, memory=memory))
    memory["after_every_dock"] = dict(point, rss_mb=700.0)
    assert "within the 800 MB target" in format_report(dict(base, memory=memory))
