"""Export to ONNX: the exported model, run by ONNX Runtime, gives the predictor's probabilities."""

import dataclasses
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='the export extra is not installed: pip install -e ".[export]"')
pytest.importorskip("onnxscript", reason='the export extra is not installed: pip install -e ".[export]"')
ort = pytest.importorskip("onnxruntime", reason='the export extra is not installed: pip install -e ".[export]"')

from mnist_desktop.cli import main  # noqa: E402
from mnist_desktop.model import DEFAULT_MODEL, ExportError, Predictor, export_onnx, load_mnist, recommended_config, train  # noqa: E402

ATOL = 1e-5
CASES = [
    ("digits", "pixel-similarity"),
    ("digits", "linear"),
    ("digits", "mlp"),
    ("digits", "cnn"),
    ("3v7", "linear"),  # mnist-loss: one output and a sigmoid, exported as two columns [1 - p, p]
]


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """100 MNIST test digits as a browser would have them: float32 (N, 1, 28, 28) in [0, 1]."""
    x, _ = load_mnist("test")
    return (x[:100].numpy() / 255).astype(np.float32)[:, None]


def run_onnx(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    return out


def metadata(path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def check_matches(predictor: Predictor, path, images: np.ndarray) -> None:
    expected = predictor.predict_batch(images[:, 0])
    got = run_onnx(path, images)
    assert got.dtype == np.float32 and got.shape == (len(images), len(predictor.classes))
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
    np.testing.assert_allclose(run_onnx(path, images[:1]), expected[:1], rtol=0, atol=ATOL)  # any batch size
    meta = metadata(path)
    assert meta["classes"] == ",".join(map(str, predictor.classes))
    assert (meta["architecture"], meta["task"]) == (predictor.arch, predictor.task)


@pytest.mark.parametrize("task,arch", CASES)
def test_every_architecture_exports_its_probabilities(task, arch, images, tmp_path):
    config = dataclasses.replace(recommended_config(task, arch), subset=2000, epochs=1, device="cpu")
    predictor = train(config).predictor
    assert (predictor.meta["output"] == "sigmoid") == (config.loss == "mnist-loss")
    path = export_onnx(predictor, tmp_path / "model.onnx")
    assert path == tmp_path / "model.onnx"
    check_matches(predictor, path, images)
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17  # ONNX Runtime Web
    (inp,) = model.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 28, 28]  # dynamic batch


def test_cli_exports_the_bundled_model(images, tmp_path, capsys):
    out = tmp_path / "web" / "digits"
    out.parent.mkdir()
    assert main(["export", "--onnx", str(out)]) == 0  # MODEL omitted: the bundled model
    written = out.with_name("digits.onnx")
    assert f"exported {written}" in capsys.readouterr().out
    check_matches(Predictor.default(), written, images)
    assert metadata(written)["classes"] == "0,1,2,3,4,5,6,7,8,9"
    assert main(["export", str(DEFAULT_MODEL), "--onnx", str(tmp_path / "same.onnx")]) == 0
    assert (tmp_path / "same.onnx").read_bytes() == written.read_bytes()


def test_a_missing_extra_says_which_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript raises ImportError
    out = tmp_path / "m.onnx"
    assert main(["export", "default", "--onnx", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mnist-desktop: error: ") and err.count("\n") == 1
    assert 'pip install -e ".[export]"' in err and 'pip install "mnist-desktop[export]"' in err
    assert not out.exists()


def test_a_failed_export_names_the_file_and_keeps_the_old_one(monkeypatch, tmp_path):
    import torch

    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous")

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator\nlong trace")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(ExportError, match=r"m\.onnx: cannot export the cnn model to ONNX \(unsupported operator\)\.$"):
        export_onnx(Predictor.default(), out)
    assert out.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


@pytest.mark.parametrize("where", ["missing/m.onnx", "."])
def test_an_unwritable_place_names_the_file(tmp_path, where):
    with pytest.raises(ExportError, match="cannot save") as e:
        export_onnx(Predictor.default(), tmp_path / where)
    assert str(tmp_path) in str(e.value) and "\n" not in str(e.value)


def test_a_missing_folder_is_said_before_the_export_runs(tmp_path, monkeypatch):
    """`export --onnx /nonexistent/x.onnx` failed only after the seconds the export takes."""
    import torch

    ran = []
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: ran.append(1))
    with pytest.raises(ExportError, match="does not exist"):
        export_onnx(Predictor.default(), tmp_path / "missing" / "m.onnx")
    assert ran == []
