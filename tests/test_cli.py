import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnist_desktop.cli import main
from mnist_desktop.model import DEFAULT_MODEL, Predictor, to_mnist
from mnist_desktop.model.drawings import sample_drawings


def test_train_then_evaluate(tmp_path, capsys):
    out = tmp_path / "lin.safetensors"
    assert main(["train", "--arch", "linear", "--epochs", "1", "--subset", "3000", "--device", "cpu", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "epoch 1/1" in captured.out and "valid accuracy" in captured.out
    assert f"saved {out}" in captured.out
    assert Predictor.load(out).arch == "linear"
    assert main(["evaluate", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.8 < report["accuracy"] < 1
    assert np.array(report["confusion_matrix"]).sum() == 10000
    assert set(report["per_class_accuracy"]) == {str(d) for d in range(10)}


def test_evaluate_prints_a_confusion_matrix(capsys):
    assert main(["evaluate", str(DEFAULT_MODEL)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy 99.32" in out and "confusion matrix" in out and len(out.splitlines()) == 15


@pytest.mark.parametrize("invert", [False, True])
def test_predict_an_image_file_in_either_polarity(tmp_path, capsys, invert):
    drawing = sample_drawings(1)[0]
    path = tmp_path / "digit.png"
    Image.fromarray(255 - drawing if invert else drawing).save(path)
    assert main(["predict", str(path), "--json"]) == 0
    top = json.loads(capsys.readouterr().out)["top"]
    default = Predictor.default()
    expected = default.classes[int(default.predict(to_mnist(drawing)).argmax())]
    assert len(top) == 3 and top[0]["class"] == expected and top[0]["probability"] > 0.5
    assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]


def test_predict_says_not_a_digit_for_noise(tmp_path, capsys):
    """As the window and `read` do: the model's best guess, marked (it printed "6  19.8 %" alone)."""
    path = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 100), dtype=np.uint8)).save(path)
    assert main(["predict", str(path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("(not a digit? the model's best guess)")
    assert main(["predict", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["is_digit"] is False and len(report["top"]) == 3


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mnist_desktop", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "args,message",
    [
        (["evaluate", "/nonexistent/model.safetensors"], "cannot open"),
        (["predict", "/nonexistent.png"], "no such file"),
        (["train", "--loss", "mnist-loss", "--out", "/tmp/x.safetensors"], "needs two classes"),
        (["train", "--lr", "-1", "--out", "/tmp/x.safetensors"], "learning rate must be a positive"),
        (["train", "--out", "/nonexistent/dir/x.safetensors"], "does not exist"),
    ],
)
def test_bad_input_gives_one_error_line_and_no_traceback(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-desktop: error:") and message in lines[0]


def test_usage_errors_exit_2(tmp_path):
    for args in (["train", "--batch-size", "zero", "--out", str(tmp_path / "x")], ["train", "--arch", "resnet"], ["fly"]):
        proc = run_cli(*args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and "error:" in lines[0] and "--help" in lines[0], proc.stderr
    assert "must be a positive integer or 'full'" in run_cli("train", "--batch-size", "zero", "--out", "x").stderr


def test_predicting_a_blank_image_is_a_clear_error(tmp_path):
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")
    proc = run_cli("predict", str(tmp_path / "blank.png"))
    assert proc.returncode == 1 and "no digit found" in proc.stderr


def test_the_command_line_names_every_bench_section_in_order():
    from mnist_desktop.bench import SECTIONS
    from mnist_desktop.cli import BENCH_SECTIONS

    assert list(BENCH_SECTIONS) == [name for name, _ in SECTIONS]


def test_bench_only_runs_the_sections_named(capsys):
    assert main(["bench", "--json", "--only", "latency"]) == 0
    report = json.loads(capsys.readouterr().out)
    from mnist_desktop.bench import SECTIONS

    assert "latency" in report and not any(name in report for name, _ in SECTIONS if name != "latency")
    assert report["device"] in ("cpu", "cuda", "mps")
    assert report["latency"]["n"] == 1000 and 0 < report["latency"]["median_ms"] <= report["latency"]["p99_ms"]
    proc = run_cli("bench", "--only", "latency", "--skip", "data")
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr


QUICK = ["train", "--arch", "linear", "--epochs", "1", "--subset", "3000", "--device", "cpu"]


@pytest.mark.parametrize("where", ["/sys/x.safetensors", "{tmp}/file/x.safetensors", "{tmp}/missing/x.safetensors"])
def test_an_unusable_destination_is_refused_before_training(tmp_path, where):
    (tmp_path / "file").write_text("a file, not a folder")
    out = where.format(tmp=tmp_path)
    proc = run_cli(*QUICK, "--out", out)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mnist-desktop: error: {out}: cannot save"), proc.stderr
    assert "epoch" not in proc.stdout  # nothing was trained


def test_a_save_that_fails_after_training_keeps_the_model(tmp_path, capsys, monkeypatch):
    from mnist_desktop.model import CheckpointError, inference

    real = inference.save_checkpoint
    out = tmp_path / "model.safetensors"

    def full_disk(path, model, meta):
        if str(path) == str(out):
            raise CheckpointError(f"{path}: cannot save (No space left on device).")
        return real(path, model, meta)

    monkeypatch.setattr(inference, "save_checkpoint", full_disk)
    assert main([*QUICK, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "was saved to" in err[0]
    fallback = err[0].split("was saved to ")[1].removesuffix(" instead.")
    try:
        assert Predictor.load(fallback).arch == "linear"
    finally:
        import os

        os.unlink(fallback)


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--seed", str(2**64), "argument --seed: must be an integer from 0 to"),
        ("--seed", "-1", "argument --seed: must be an integer from 0 to"),
        ("--epochs", "100000", "argument --epochs: must be an integer from 1 to 1000"),
        ("--hidden", "100000", "argument --hidden: must be an integer from 1 to 8192"),
        ("--subset", "-5", "argument --subset: must be an integer from 0 to 60000"),
        ("--batch-size", "10000000", "argument --batch-size: must be an integer from 1 to 60000"),
    ],
)
def test_integer_options_are_bounded_and_named(tmp_path, option, value, message):
    proc = run_cli("train", option, value, "--out", str(tmp_path / "x"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr


def test_hostile_inputs_end_in_one_error_line(tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    (tmp_path / "digit.png").write_bytes(b"png")
    evil = tmp_path / "evil.pt"
    import torch

    torch.save(torch.nn.Linear(784, 10), evil)
    for args, message in (
        (["evaluate", "/dev/zero"], "/dev/zero: is a device"),
        (["predict", str(fifo)], "is a named pipe"),
        (["evaluate", str(DEFAULT_MODEL), "--data", str(tmp_path / "digit.png")], "is a file, not a folder"),
        (["evaluate", str(evil)], "not a safe checkpoint"),
    ):
        proc = run_cli(*args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1 and message in lines[0], (args, proc.stderr)
        assert "weights_only" not in proc.stderr


def test_version_prints_the_package_version(capsys):
    from mnist_desktop import __version__

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"mnist-desktop {__version__}"


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="freedesktop.org desktops only")
def test_install_desktop_entry_writes_entry_and_icons_idempotently(tmp_path, monkeypatch, capsys):
    from mnist_desktop.model.paths import ICON_PNG

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    entry = tmp_path / "data" / "applications" / "mnist-desktop.desktop"
    png = tmp_path / "data" / "icons" / "hicolor" / "256x256" / "apps" / "mnist-desktop.png"
    svg = tmp_path / "data" / "icons" / "hicolor" / "scalable" / "apps" / "mnist-desktop.svg"
    assert main(["install-desktop-entry"]) == 0
    first = capsys.readouterr().out
    assert first.splitlines() == [f"wrote {png}", f"wrote {svg}", f"wrote {entry}"]
    assert png.read_bytes() == ICON_PNG.read_bytes() and svg.read_text().startswith("<svg")
    keys = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert keys["Type"] == "Application" and keys["Icon"] == "mnist-desktop" and keys["Terminal"] == "false"
    # Exec names this installation by an absolute path: a desktop's PATH often lacks ~/.local/bin.
    assert keys["Exec"].lstrip('"').startswith("/") and "mnist" in keys["Exec"]
    before = {p: p.stat().st_mtime_ns for p in (entry, png, svg)}
    assert main(["install-desktop-entry"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"up to date {png}", f"up to date {svg}", f"up to date {entry}"]
    assert {p: p.stat().st_mtime_ns for p in (entry, png, svg)} == before
    assert sorted(p.name for p in (tmp_path / "data").rglob("*") if p.is_file()) == sorted(p.name for p in before)


def test_install_desktop_entry_reports_an_unwritable_folder_in_one_line(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_desktop", "install-desktop-entry"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_DATA_HOME": str(blocked)},
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("mnist-desktop: error:"), proc.stderr


def test_exec_arguments_are_quoted_as_the_desktop_entry_spec_says():
    from mnist_desktop.desktop_entry import _quote_exec_arg

    assert _quote_exec_arg("/usr/bin/mnist-desktop") == "/usr/bin/mnist-desktop"
    assert _quote_exec_arg("/home/a b/bin/x") == '"/home/a b/bin/x"'
    # inside quotes: \" for ", then every backslash doubled by the string-value escape; % as %%
    assert _quote_exec_arg('/a"b') == '"/a\\\\"b"'
    assert _quote_exec_arg("/100%/x") == '"/100%%/x"'


def test_output_into_a_closed_pipe_is_no_error(tmp_path):
    """`mnist-desktop predict … | head -0`: the reader has gone before the answer is written."""
    drawing = sample_drawings(1)[0]
    path = tmp_path / "digit.png"
    Image.fromarray(drawing).save(path)
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mnist_desktop", "predict", str(path)], stdout=write, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(write)
    assert proc.returncode == 0 and proc.stderr == ""


def test_a_model_of_fewer_classes_says_so_before_it_reads(tmp_path, capsys):
    """A 3-vs-7 model reads every digit as a 3 or a 7, sure of it: predict and read say which classes it knows."""
    from mnist_desktop.model import TrainConfig, train

    model = tmp_path / "lin.safetensors"
    train(TrainConfig(task="3v7", arch="linear", subset=300, epochs=1, device="cpu")).predictor.save(model)
    path = tmp_path / "digit.png"
    Image.fromarray(sample_drawings(1)[0]).save(path)
    for command in ("predict", "read"):
        assert main([command, str(path), "--model", str(model)]) == 0
        assert "note: this model knows only 3, 7; it reads every digit as one of them" in capsys.readouterr().err
    assert main(["predict", str(path)]) == 0
    assert "knows only" not in capsys.readouterr().err
