"""The process starts no BLAS threads of numpy's: OpenBLAS's spin on every core after each
product, at the GUI thread's priority (they stalled drawing 80–140 ms while the nearest digits
were queried in a worker)."""

import os
import subprocess
import sys

import pytest

COUNT_THREADS = (
    "import mnist_desktop, numpy, os; numpy.ones((300, 300)) @ numpy.ones((300, 300)); print(len(os.listdir('/proc/self/task')))"
)


def threads_after_numpy(env_value: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", COUNT_THREADS], env=env, capture_output=True, text=True, timeout=120, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2, reason="counts Linux threads on a machine with cores to spare"
)
def test_importing_the_package_first_keeps_numpy_on_one_thread_unless_told_otherwise():
    assert threads_after_numpy(None) == 1
    assert threads_after_numpy("2") == 2  # a value the user set is kept (and the count above could fail)
