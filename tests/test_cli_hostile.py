"""What a hostile-input review of the command line found: each bad input gets one clear message
and changes nothing; nothing the user has is lost."""

import json

import numpy as np
import pytest
from PIL import Image

from mnist_desktop.cli import main
from mnist_desktop.model import DEFAULT_MODEL, MyDigits, Predictor
from mnist_desktop.model.drawings import sample_drawings
from mnist_desktop.model.numpy_forward import NumpyPredictor


@pytest.fixture(scope="module")
def three_seven(tmp_path_factory):
    """A small 3-vs-7 model, saved."""
    from mnist_desktop.model import TrainConfig, train

    path = tmp_path_factory.mktemp("m") / "3v7.safetensors"
    train(TrainConfig(task="3v7", arch="linear", subset=300, epochs=1, device="cpu")).predictor.save(path)
    return path


@pytest.fixture
def digit_png(tmp_path):
    path = tmp_path / "digit.png"
    Image.fromarray(sample_drawings(1)[0]).save(path)
    return path


# ---------------------------------------------------------------- 1. evaluate on other classes
def test_evaluate_says_which_images_it_left_out_and_never_prints_nan(three_seven, capsys):
    """A 3-vs-7 model on MNIST's ten digits is judged on the 3s and 7s: it said "on 2038 MNIST
    test images" and nothing of the 7962 others."""
    assert main(["evaluate", str(three_seven)]) == 0
    out = capsys.readouterr().out
    assert "on 2038 MNIST test images (only its classes 3, 7 count: 7962 of 10000 left out)" in out
    assert "nan" not in out.lower()
    assert main(["evaluate", str(three_seven), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 2038 and report["left_out"] == 7962 and 0 <= report["accuracy"] <= 1
    assert main(["evaluate", str(DEFAULT_MODEL), "--json"]) == 0  # a ten-class model leaves nothing out
    assert json.loads(capsys.readouterr().out)["left_out"] == 0


def test_evaluate_on_a_set_with_none_of_the_models_classes_is_refused(three_seven, tmp_path, capsys, monkeypatch):
    """No image of the model's classes: an accuracy of nothing (NaN), for MNIST's folder as for
    my digits."""
    import mnist_desktop.model as engine

    ones = np.zeros((4, 28, 28), np.uint8)
    ones[:, 4:24, 13:15] = 255
    import torch

    monkeypatch.setattr(engine, "load_mnist", lambda split, root=None: (torch.from_numpy(ones), torch.tensor([1, 1, 4, 9])))
    assert main(["evaluate", str(three_seven)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        "mnist-desktop: error: none of the 4 MNIST test images is one of this model's classes (3, 7); nothing to evaluate"
    )
    assert main(["evaluate", str(three_seven), "--json"]) == 1
    assert capsys.readouterr().out == ""


def test_evaluate_on_an_empty_set_is_one_line(capsys, monkeypatch):
    """evaluate() refuses an empty set; the command says so in its own words, on one line."""
    import torch

    import mnist_desktop.model as engine

    monkeypatch.setattr(engine, "load_mnist", lambda split, root=None: (torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0)))
    for extra in ([], ["--json"]):
        assert main(["evaluate", str(DEFAULT_MODEL), *extra]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == "mnist-desktop: error: there are no MNIST test images to evaluate: the set is empty\n"


# ---------------------------------------------------------------- 2. a stored test accuracy is a claim
@pytest.mark.parametrize("claim", [42, -0.5, "99 %", True, [0.9], {"a": 1}, 1e999])
def test_a_stored_test_accuracy_that_is_no_fraction_is_ignored_with_a_note(three_seven, tmp_path, capsys, digit_png, claim):
    """It refused the whole model (a figure only shown), and a file of 1e999 or 42 could not be
    opened at all; now the model opens, the figure is shown nowhere, and a note says why."""
    good = Predictor.load(three_seven)
    path = tmp_path / "claims.safetensors"
    # the file's own text, as an editor would leave it (json.dumps writes 1e999 as Infinity)
    Predictor(good.model, dict(good.meta, metrics={"test_accuracy": claim})).save(path)
    for predictor in (Predictor.load(path), NumpyPredictor.load(path)):
        assert "test accuracy" not in predictor.describe() and "test_accuracy" not in predictor.metrics
        assert len(predictor.notes) == 1 and "not a fraction from 0 to 1; it is ignored" in predictor.notes[0]
    assert main(["predict", str(digit_png), "--model", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"mnist-desktop: note: {path}: its stored test accuracy" in err and "is ignored (not shown)" in err
    assert main(["evaluate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{path}: Linear · 3 vs 7"  # the model's description, without the claim


def test_a_stored_test_accuracy_that_is_a_fraction_is_shown(three_seven):
    good = Predictor.load(three_seven)
    assert 0 <= good.metrics["test_accuracy"] <= 1 and not good.notes
    assert f"test accuracy {100 * good.metrics['test_accuracy']:.2f} %" in good.describe()
    nan = Predictor(good.model, dict(good.meta, metrics={"test_accuracy": float("nan")}))  # training measured nothing
    assert "test accuracy" not in nan.describe() and not nan.notes


# ---------------------------------------------------------------- 3. --model default
@pytest.mark.parametrize("command", ["predict", "read"])
def test_model_default_is_the_bundled_model_for_every_command(command, digit_png, capsys):
    """`--model default` was accepted by export only: predict and read said "default: cannot open (no such file)"."""
    assert main([command, str(digit_png), "--json"]) == 0
    omitted = json.loads(capsys.readouterr().out)
    assert main([command, str(digit_png), "--json", "--model", "default"]) == 0
    assert json.loads(capsys.readouterr().out) == omitted


def test_an_empty_model_name_is_refused_saying_so(digit_png, capsys):
    """`--model ""` read as the folder "." ("error: .: is a folder")."""
    assert main(["predict", str(digit_png), "--model", ""]) == 1
    assert "error: no model named (an empty name): give a checkpoint file, or 'default' for the bundled model" in capsys.readouterr().err


def test_evaluate_default_is_the_bundled_model(capsys):
    assert main(["evaluate", "default", "--json"]) == 0
    named = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(DEFAULT_MODEL), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == named


def test_a_file_called_default_is_named_with_a_path(tmp_path, digit_png, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_bytes(b"not a model")
    assert main(["predict", str(digit_png), "--model", "./default"]) == 1
    assert "error: default: not a readable safetensors checkpoint" in capsys.readouterr().err  # the file, not the bundled model


def test_fine_tune_model_default_starts_from_the_bundled_model(tmp_path, capsys, monkeypatch):
    """fine-tune's --model default looked for a file called default; its start is the bundled model."""
    import mnist_desktop.model as engine

    started = []

    def fine_tune(predictor, images, labels, **kwargs):
        started.append(predictor.describe())
        raise KeyboardInterrupt  # stop there: which model it started from is the question

    monkeypatch.setattr(engine, "fine_tune", fine_tune)
    digits = MyDigits(tmp_path / "mine")
    drawing = np.zeros((60, 60), np.uint8)
    drawing[10:50, 25:35] = 255
    digits.add(drawing, 1)
    out = tmp_path / "tuned.safetensors"
    assert main(["fine-tune", "--model", "default", "--digits", str(tmp_path / "mine"), "--out", str(out)]) == 130
    assert started == [Predictor.default().describe()] and not out.exists()


# ---------------------------------------------------------------- 4. --out over a protected file or a link
def _protected(tmp_path, kind: str, suffix: str):
    """A file the user has at the destination: read-only, or reached through a symbolic link."""
    target = tmp_path / f"mine{suffix}"
    target.write_bytes(b"the user's model")
    if kind == "read-only":
        target.chmod(0o444)
        return target, target
    link = tmp_path / f"link{suffix}"
    link.symlink_to(target)
    return link, target


def _train_args(out):
    return ["train", "--arch", "linear", "--epochs", "1", "--subset", "300", "--device", "cpu", "--out", str(out)]


@pytest.mark.parametrize("kind, reason", [("read-only", "is read-only, so it is kept"), ("symlink", "it is a symbolic link (to ")])
@pytest.mark.parametrize("command", ["train", "export"])
def test_out_never_replaces_a_read_only_file_or_a_link(tmp_path, capsys, kind, reason, command):
    """os.replace needs only the folder's permission: a chmod a-w model was replaced without a
    word, and a link became a file (its target keeping the old model)."""
    suffix = ".safetensors" if command == "train" else ".onnx"
    out, target = _protected(tmp_path, kind, suffix)
    args = _train_args(out) if command == "train" else ["export", "--onnx", str(out)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert reason in captured.err and captured.err.count("\n") == 1 and "epoch" not in captured.out  # refused before training
    assert target.read_bytes() == b"the user's model" and out.is_symlink() == (kind == "symlink")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({out.name, target.name})  # no temporary file left


@pytest.mark.parametrize("kind", ["read-only", "symlink"])
def test_a_save_never_replaces_a_read_only_file_or_a_link(tmp_path, kind):
    """The window saves through save_checkpoint, and a file can be protected while a model trains."""
    from mnist_desktop.model import CheckpointError

    out, target = _protected(tmp_path, kind, ".safetensors")
    with pytest.raises(CheckpointError, match="read-only|symbolic link"):
        Predictor.default().save(out)
    assert target.read_bytes() == b"the user's model" and out.is_symlink() == (kind == "symlink")
    if kind == "read-only":
        target.chmod(0o644)  # once the user allows it, it is replaced
        assert Predictor.default().save(out) == out and Predictor.load(out).arch == Predictor.default().arch
