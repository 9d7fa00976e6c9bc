import json
import re

import pytest

from mnist_desktop.cli import main
from mnist_desktop.model import DEFAULT_MODEL, MyDigits, Predictor, TrainConfig, train
from mnist_desktop.model.drawings import style_sets


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("my-digits")
    digits = MyDigits(path)
    images, labels, _, _ = style_sets(per_digit=3, held_out=10)
    for image, label in zip(images.numpy(), labels.tolist()):
        digits.add(image, label)
    return path


def test_fine_tune_then_evaluate_on_my_digits(folder, tmp_path, capsys):
    out = tmp_path / "mine.safetensors"
    args = ["fine-tune", "--digits", str(folder), "--out", str(out), "--epochs", "1", "--replay", "300", "--device", "cpu"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "my digits (30 of 30 used)" in text and "MNIST test" in text and f"saved {out}" in text
    tuned = Predictor.load(out)
    # the line that says "saved" gives the saved model's MNIST accuracy, the one printed above it
    after = re.search(r"MNIST test: .*?([\d.]+) %\n", text).group(1)
    saved = next(line for line in text.splitlines() if line.startswith("saved"))
    assert f"test accuracy {after} %" in saved and f"{100 * tuned.metrics['test_accuracy']:.2f}" == after, text
    assert tuned.meta["training"]["fine_tuned"]["personal_digits"] == 30
    assert tuned.meta["training"]["fine_tuned"]["from"] == Predictor.default().describe()

    assert main(["evaluate", str(out), "--digits", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 30 and report["data"] == str(folder)
    assert sum(map(sum, report["confusion_matrix"])) == 30 and 0 <= report["accuracy"] <= 1

    assert main(["evaluate", str(DEFAULT_MODEL), "--digits", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "% on 30 of my digits" in text and "confusion matrix" in text


def test_the_default_folder_is_the_apps(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("mnist_desktop.model.default_digits_folder", lambda: folder)
    assert main(["fine-tune", "--out", str(tmp_path / "m.safetensors"), "--epochs", "1", "--replay", "100", "--device", "cpu"]) == 0
    assert "30 of 30 used" in capsys.readouterr().out


def test_errors_are_one_line(folder, tmp_path, capsys):
    out = str(tmp_path / "x.safetensors")
    cases = [
        (["fine-tune", "--digits", str(tmp_path / "nowhere"), "--out", out], "no such folder"),
        (["evaluate", str(DEFAULT_MODEL), "--digits", str(tmp_path / "nowhere")], "no such folder"),
    ]
    empty = tmp_path / "empty"
    MyDigits(empty)
    cases.append((["fine-tune", "--digits", str(empty), "--out", out], "no digits in this folder"))
    means = tmp_path / "means.safetensors"
    train(TrainConfig(arch="pixel-similarity", subset=300, device="cpu")).predictor.save(means)
    cases.append((["fine-tune", "--digits", str(folder), "--model", str(means), "--out", out], "nothing to fine-tune"))
    fives = tmp_path / "fives"
    images, labels, _, _ = style_sets(per_digit=3, held_out=10)
    only = MyDigits(fives)
    for image in images[labels == 5].numpy():
        only.add(image, 5)
    lin = tmp_path / "lin.safetensors"
    train(TrainConfig(task="3v7", arch="linear", subset=300, device="cpu")).predictor.save(lin)
    cases.append((["evaluate", str(lin), "--digits", str(fives)], "none of the 3 digits"))
    cases.append((["fine-tune", "--digits", str(fives), "--model", str(lin), "--out", out], "none of your 3 digits"))
    for args, message in cases:
        assert main(args) == 1, args
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("mnist-desktop: error:") and message in err[-1], err
    assert not (tmp_path / "x.safetensors").exists()


def test_bench_reports_the_mydigits_section(monkeypatch, capsys):
    figures = {
        "evaluate_mnist_test_seconds": 0.8,
        "fine_tune_seconds": 9.5,
        "personal_digits": 200,
        "held_out": 5000,
        "style_accuracy_before": 0.939,
        "style_accuracy_after": 0.978,
        "mnist_accuracy_before": 0.9937,
        "mnist_accuracy_after": 0.9922,
        "defaults": {},
    }
    monkeypatch.setattr("mnist_desktop.bench.SECTIONS", (("mydigits", lambda: figures),))  # this section only
    assert main(["bench"]) == 0
    out = capsys.readouterr().out
    assert "MNIST test (10,000 images): 0.80 s" in out and "93.9 % → 97.8 %" in out and "99.37 % → 99.22 %" in out


def test_evaluate_json_is_strict_when_a_class_has_no_digits(tmp_path, capsys):
    """A class with no digits has no accuracy: null, not a bare NaN (which JSON readers reject)."""
    path = tmp_path / "sevens"
    digits = MyDigits(path)
    images, labels, _, _ = style_sets(per_digit=1, held_out=10)
    for image, label in zip(images.numpy(), labels.tolist()):
        if label != 8:
            digits.add(image, label)
    assert main(["evaluate", str(DEFAULT_MODEL), "--digits", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert report["per_class_accuracy"]["8"] is None and report["per_class_accuracy"]["7"] is not None
    assert main(["evaluate", str(DEFAULT_MODEL), "--digits", str(path)]) == 0
    assert "8: —" in capsys.readouterr().out
    assert main(["evaluate", str(DEFAULT_MODEL), "--digits", str(path), "--data", str(path)]) == 0
    assert "note: --data is not used with --digits" in capsys.readouterr().err
