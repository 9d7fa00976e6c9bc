"""The CLI under Ctrl-C and impossible sizes: one line, a known exit status, files left intact.

A save writes a temporary file and replaces the target only when the file is complete, so
SIGINT during training or during the save leaves the previous file at ``--out`` byte for
byte, and no temporary file behind.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from mnist_desktop.cli import main
from mnist_desktop.model import TrainConfig, build_model, train
from mnist_desktop.model import training as engine_training

ROOT = Path(__file__).resolve().parents[1]
SENTINEL = b"the previous model: must survive an interrupted run\n" * 100


def _env() -> dict:
    return dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _default_sigint() -> None:
    """In the child, before exec: SIGINT back to its default action. A shell starts a background
    job with SIGINT ignored, the child inherits that, and Python then installs no KeyboardInterrupt
    handler, so the tests would depend on how pytest was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_line(p: subprocess.Popen, needle: str, timeout: float = 120) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    p.kill()
    raise AssertionError(f"no {needle!r} line: {lines} {p.stderr.read()}")


def _interrupt(p: subprocess.Popen) -> tuple[int, str]:
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    return p.returncode, p.stderr.read()


def _check_untouched(out: Path) -> None:
    assert out.read_bytes() == SENTINEL, "the previous file at --out was changed"
    assert sorted(f.name for f in out.parent.iterdir()) == [out.name], "a temporary file was left behind"


def test_sigint_during_training_saves_nothing_and_keeps_the_previous_file(tmp_path):
    out = tmp_path / "model.safetensors"
    out.write_bytes(SENTINEL)
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_desktop",
            "train",
            "--arch",
            "linear",
            "--subset",
            "2000",
            "--epochs",
            "1000",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
        preexec_fn=_default_sigint,
    ) as p:
        _wait_for_line(p, "epoch 1/1000")
        rc, err = _interrupt(p)
    assert rc == 130, err
    assert err.strip().splitlines() == ["mnist-desktop: interrupted: nothing saved"], err
    _check_untouched(out)


SLOW_SAVE = textwrap.dedent(
    """
    import sys, time
    from mnist_desktop.model import checkpoints

    def slow_save(tensors, filename, metadata=None):  # writes half a file, then takes its time
        with open(filename, "wb") as f:
            f.write(b"half a checkpoint")
            f.flush()
            print("saving", flush=True)
            time.sleep(120)

    checkpoints.save_file = slow_save
    from mnist_desktop.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_sigint_during_saving_leaves_no_half_written_file(tmp_path):
    out = tmp_path / "model.safetensors"
    out.write_bytes(SENTINEL)
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_SAVE,
            "train",
            "--arch",
            "linear",
            "--subset",
            "500",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
        preexec_fn=_default_sigint,
    ) as p:
        _wait_for_line(p, "saving")
        assert len(list(tmp_path.glob(".model.safetensors.*.tmp"))) == 1  # the half-written temporary file
        rc, err = _interrupt(p)
    assert rc == 130, err
    assert err.strip().splitlines() == [f"mnist-desktop: interrupted while saving: nothing saved, {out} is unchanged"], err
    _check_untouched(out)


def test_a_model_too_large_to_build_is_one_error_line():
    p = subprocess.run(
        [sys.executable, "-m", "mnist_desktop", "train", "--arch", "mlp", "--hidden", "100000000", "--out", "x.safetensors"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "mnist-desktop train: error: argument --hidden: must be an integer from 1 to 8192, not '100000000' (see mnist-desktop train --help)"
    ]


def test_the_engine_refuses_a_model_too_large_before_allocating():
    """Bounded below the CLI too: an MLP 10**8 wide (300 GB) is refused, not allocated."""
    with pytest.raises(ValueError, match="hidden must be an integer from 1 to 8192, not 100000000"):
        build_model("mlp", 10, hidden=10**8)
    with pytest.raises(ValueError, match="hidden must be an integer from 1 to 8192"):
        train(TrainConfig(arch="mlp", hidden=10**8, device="cpu"))
    with pytest.raises(ValueError, match="unknown setting"):
        build_model("linear", 10, hidden=3)


@pytest.mark.parametrize(
    "error", [torch.OutOfMemoryError("CUDA out of memory"), MemoryError(), RuntimeError("DefaultCPUAllocator: can't allocate memory")]
)
def test_out_of_memory_while_building_the_model_is_one_error_line(tmp_path, capsys, monkeypatch, error):
    def no_memory(*args, **kwargs):
        raise error

    monkeypatch.setattr(engine_training, "build_model", no_memory)
    rc = main(["train", "--arch", "mlp", "--hidden", "8192", "--device", "cpu", "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.strip().splitlines() == [
        f"mnist-desktop: error: Out of memory on cpu with batch size {TrainConfig().batch_size}: try a smaller batch size or a smaller model."
    ], err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_anywhere_in_a_command_is_one_line(capsys, monkeypatch):
    import mnist_desktop.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_evaluate", interrupted)
    assert main(["evaluate", "x.safetensors"]) == 130
    assert capsys.readouterr().err == "mnist-desktop: interrupted\n"
