"""Memory freed by a worker thread goes back to the system; bench reports the window's memory."""

import platform
import subprocess
import sys
import textwrap

import pytest

glibc_only = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"), reason="glibc's allocator settings (mallopt)"
)

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


@glibc_only
def test_blocks_a_worker_freed_are_given_back():
    kept, returned = rss_after_batches("off"), rss_after_batches("on")
    assert kept - returned > 200, (kept, returned)  # 360 MB went through the thread's heap


REUSE = textwrap.dedent(
    """
    import resource, sys, threading, numpy as np
    from mnist_desktop.ui.app import return_freed_memory

    if sys.argv[1] == "on":
        assert return_freed_memory()
    else:  # the mmap threshold alone, as before: it fixes the trim threshold at 128 kB
        import ctypes
        from mnist_desktop.ui.app import M_MMAP_THRESHOLD, MMAP_THRESHOLD
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    faults = []

    def batches():  # as the trainer's batches: blocks under the mmap threshold, freed and taken again
        start = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        for _ in range(200):
            a, b = np.ones((3 << 20) // 8), np.ones((1 << 20) // 8)
            del a, b
        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - start)

    thread = threading.Thread(target=batches)
    thread.start()
    thread.join()
    print(faults[0])
    """
)


def faults_in_batches(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", REUSE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@glibc_only
def test_a_threads_batches_reuse_its_memory():
    """The trainer's batches are not given back and faulted in again at every free (with the
    trim threshold left at 128 kB, each of the 200 batches faulted its 4 MB in: ~200,000 faults)."""
    pages = (4 << 20) // 4096
    reused, refaulted = faults_in_batches("on"), faults_in_batches("off")
    assert reused < 3 * pages, reused  # the first batch's pages, then the same ones again
    assert refaulted > 20 * max(reused, pages), refaulted  # the check can tell (~200 x the pages here)


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
