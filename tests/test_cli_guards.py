"""The command line's guards: numbers beyond float32, a closed stdout, pixel similarity without
an image of every class, a read-only --digits, a newline in the install path, bad arguments refused before torch loads."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_desktop.cli import main
from mnist_desktop.model import MyDigits

ROOT = Path(__file__).resolve().parents[1]


def _one_error_line(proc, message: str) -> None:
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-desktop: error:") and message in lines[0], proc.stderr


@pytest.mark.parametrize(
    "option,value,message",
    [("--lr", "4e38", "learning rate must be"), ("--weight-decay", "1e308", "weight decay must be"), ("--lr", "inf", "learning rate")],
)
def test_numbers_beyond_float32_are_one_error_line(tmp_path, option, value, message):
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_desktop", "train", option, value, "--out", str(tmp_path / "m.safetensors")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    _one_error_line(proc, message)
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.skipif(os.name != "posix", reason="closing a descriptor for a child")
@pytest.mark.parametrize("command", [["predict", "/nonexistent.png"], ["evaluate", "--help"], ["install-desktop-entry"]])
def test_a_command_with_stdout_closed_is_one_error_line(tmp_path, command):
    proc = subprocess.run(
        ["sh", "-c", 'exec "$0" -m mnist_desktop "$@" >&-', sys.executable, *command],
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
    )
    if command[-1] == "--help":  # argparse answers --help before any command runs: nothing to refuse
        assert "Traceback" not in proc.stderr
        return
    _one_error_line(proc, "standard output is closed")
    assert not (tmp_path / "applications").exists()


def test_pixel_similarity_without_an_image_of_every_class_is_refused(tmp_path, capsys):
    out = tmp_path / "p.safetensors"
    assert main(["train", "--arch", "pixel-similarity", "--subset", "1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "at least one training image of each class" in err and not out.exists()


def test_evaluate_digits_creates_nothing_even_when_it_fails(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    assert main(["evaluate", "--digits", str(folder), "nonexistent.safetensors"]) == 1
    assert main(["evaluate", "--digits", str(folder), str(ROOT / "mnist_desktop" / "resources" / "models" / "default.safetensors")]) == 1
    assert "no digits" in capsys.readouterr().err
    assert list(folder.iterdir()) == []
    # and on a real collection it reads without writing a byte
    digits = MyDigits(tmp_path / "real")
    drawing = np.zeros((60, 60), np.uint8)
    drawing[10:50, 25:35] = 255
    digits.add(drawing, 1)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "real").rglob("*")}
    assert (
        main(["evaluate", "--digits", str(tmp_path / "real"), str(ROOT / "mnist_desktop" / "resources" / "models" / "default.safetensors")])
        == 0
    )
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "real").rglob("*")} == before


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="freedesktop.org desktops only")
def test_a_newline_in_the_install_path_never_reaches_the_desktop_entry(tmp_path, monkeypatch, capsys):
    from mnist_desktop import desktop_entry

    with pytest.raises(ValueError, match="control character"):
        desktop_entry._quote_exec_arg("/opt/x\nExec=/bin/evil")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "executable", "/opt/a\nExec=/bin/evil/python")
    monkeypatch.setattr(sys, "argv", ["python"])
    assert main(["install-desktop-entry"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "control character" in err
    assert not (tmp_path / "applications" / "mnist-desktop.desktop").exists()


def test_an_installed_apps_own_files_are_never_written_over(tmp_path, monkeypatch, capsys):
    """`train --out <package>/resources/models/default.safetensors` replaced the bundled model of an
    installed app (every later command then used it). A source checkout's maintainers may."""
    from mnist_desktop.model import paths

    bundled = paths.PACKAGE_RESOURCES / "models" / "default.safetensors"
    before = bundled.read_bytes()
    monkeypatch.setattr(paths, "is_source_checkout", lambda: False)
    for args in (
        ["train", "--arch", "linear", "--subset", "100", "--out", str(bundled)],
        ["export", "--onnx", str(paths.PACKAGE_RESOURCES / "models" / "x.onnx")],
    ):
        assert main(args) == 1
        assert "is inside the installed app" in capsys.readouterr().err
    assert bundled.read_bytes() == before and not (paths.PACKAGE_RESOURCES / "models" / "x.onnx").exists()
    assert paths.is_inside_package(bundled)
    monkeypatch.undo()
    assert paths.is_source_checkout()  # the tests run from the source folder


def test_no_display_is_one_error_line_not_a_qt_abort():
    """Without a display Qt aborted the process (exit 134) after a page of plugin text."""
    from mnist_desktop.cli import no_display

    assert no_display({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None and no_display({}, "darwin") is None
    assert no_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None and no_display({}, "linux")
    if not sys.platform.startswith("linux"):
        return  # the rest starts the app without a display: Linux's variables
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "mnist_desktop"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "mnist-desktop: error: no display to show the window on (DISPLAY and WAYLAND_DISPLAY are not set). "
        "The subcommands work without one: mnist-desktop --help lists them"
    ]


def test_a_standard_output_that_cannot_be_written_never_throws_the_trained_model_away(tmp_path):
    """`train … > /dev/full` (or `| head -1`): the epoch lines fail, the run goes on and the model
    is saved; before, the first line ended the run with nothing saved."""
    if not os.path.exists("/dev/full"):
        return  # Linux's always-full device
    out = tmp_path / "m.safetensors"
    args = ["train", "--arch", "linear", "--subset", "64", "--epochs", "3", "--device", "cpu", "--out", str(out)]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "mnist_desktop", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    assert proc.returncode == 0, proc.stderr
    assert "standard output cannot be written (No space left on device); training goes on" in proc.stderr
    assert out.is_file() and out.stat().st_size > 0
    assert f"saved {out}" in proc.stderr  # said where it can be seen


def test_an_option_of_another_architecture_is_said_to_be_ignored(tmp_path, capsys):
    """`--hidden 64` with the linear model changed nothing and said nothing."""
    out = tmp_path / "lin.safetensors"
    args = ["train", "--arch", "linear", "--hidden", "64", "--channels", "8", "16", "--subset", "200", "--epochs", "1"]
    assert main([*args, "--device", "cpu", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: --hidden sets the mlp's hidden width; ignored for the linear model" in err
    assert "note: --channels sets the cnn's widths; ignored for the linear model" in err
    assert main(["train", "--arch", "mlp", "--hidden", "64", "--subset", "200", "--epochs", "1", "--out", str(out)]) == 0
    assert "ignored" not in capsys.readouterr().err
    # given at its default value, still given: still said
    assert main(["train", "--arch", "linear", "--hidden", "30", "--subset", "200", "--epochs", "1", "--out", str(out)]) == 0
    assert "--hidden sets the mlp's hidden width; ignored for the linear model" in capsys.readouterr().err


# Run in a fresh interpreter: this one has imported torch long ago.
_MAIN_THEN_TORCH = (
    "import sys\nfrom mnist_desktop.cli import main\ncode = main(sys.argv[1:])\nprint('torch' in sys.modules)\nsys.exit(code)"
)


@pytest.mark.parametrize(
    "args,message",
    [
        (["fine-tune", "--digits", "{tmp}/nowhere", "--out", "{tmp}/x.safetensors"], "no such folder"),
        (["fine-tune", "--digits", "{tmp}/empty", "--out", "{tmp}/x.safetensors"], "no digits in this folder"),
        (["evaluate", "default", "--digits", "{tmp}/nowhere"], "no such folder"),
        (["evaluate", "{tmp}/nowhere.safetensors"], "nowhere.safetensors: cannot open (no such file)"),
        (["predict", "{tmp}/digit.png", "--model", "{tmp}/nowhere.safetensors"], "cannot open (no such file)"),
        (["predict", "{tmp}/digit.png", "--model", "{tmp}"], "is a folder, not a file; choose a checkpoint file"),
        (["predict", "{tmp}/digit.png", "--model", "{tmp}/notes.txt"], "notes.txt: not a readable safetensors checkpoint"),
        (["read", "{tmp}/digit.png", "--model", "{tmp}/notes.txt"], "notes.txt: not a readable safetensors checkpoint"),
        (["export", "{tmp}/nowhere.safetensors", "--onnx", "{tmp}/m.onnx"], "cannot open (no such file)"),
        (["train", "--out", "{tmp}/nowhere/x.safetensors"], "does not exist"),
    ],
)
def test_bad_arguments_are_refused_before_torch_is_imported(tmp_path, args, message):
    """`fine-tune --digits /nonexistent` and `predict --model /etc/passwd` imported torch (1.7 s)
    before they said no: the same one line, now before torch loads."""
    MyDigits(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("root:x:0:0:root:/root:/bin/bash\n" * 40)  # no checkpoint, as /etc/passwd
    drawing = np.zeros((60, 60), np.uint8)
    drawing[10:50, 25:35] = 255
    Image.fromarray(drawing).save(tmp_path / "digit.png")
    proc = subprocess.run(
        [sys.executable, "-c", _MAIN_THEN_TORCH, *(a.format(tmp=tmp_path) for a in args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    _one_error_line(proc, message)
    assert proc.stdout == "False\n", "torch was imported before the refusal"
