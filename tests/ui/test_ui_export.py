"""File → Export to ONNX in the window: the export runs in its own process and says how it went."""

import numpy as np
import pytest

pytest.importorskip("onnx", reason='the export extra is not installed: pip install -e ".[export]"')
pytest.importorskip("onnxscript", reason='the export extra is not installed: pip install -e ".[export]"')
ort = pytest.importorskip("onnxruntime", reason='the export extra is not installed: pip install -e ".[export]"')

from mnist_desktop.model import Predictor, load_mnist  # noqa: E402


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    x, _ = load_mnist("test")
    return (x[:100].numpy() / 255).astype(np.float32)[:, None]


def check_matches(predictor: Predictor, path, images: np.ndarray) -> None:
    """ONNX Runtime gives the predictor's probabilities (tests/test_export.py checks the rest)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: images})
    np.testing.assert_allclose(got, predictor.predict_batch(images[:, 0]), rtol=0, atol=1e-5)


def test_window_file_menu_exports_the_active_model(qtbot, settings, tmp_path, monkeypatch, images):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from mnist_desktop.ui import MainWindow

    predictor = Predictor.default()
    window = MainWindow(settings=settings, predictor=predictor)
    window.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    qtbot.addWidget(window)
    (file_menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&File"]
    assert window.export_onnx_action in file_menu.actions() and window.export_onnx_action.isEnabled()

    # The export runs in its own process (its torch._dynamo import would freeze the window);
    # onnxExported tells how it went.
    out = tmp_path / "canvas.onnx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "ONNX models (*.onnx)"))
    with qtbot.waitSignal(window.onnxExported, timeout=120000) as done:
        window.export_onnx_action.trigger()
        assert not window.export_onnx_action.isEnabled() and not window.files.export_onnx(str(out))  # one at a time
        assert "Exporting" in window.statusBar().currentMessage()
    assert done.args[0] is True and window.export_onnx_action.isEnabled()
    check_matches(predictor, out, images)
    assert str(out) in window.statusBar().currentMessage()

    bad = tmp_path / "missing" / "m.onnx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(bad), ""))
    with qtbot.waitSignal(window.onnxExported, timeout=120000) as failed:
        assert window.files.export_onnx_dialog() == str(bad)
    assert failed.args[0] is False and str(bad) in window.last_warning and "cannot save" in window.last_warning

    window.set_predictor(None)
    assert not window.export_onnx_action.isEnabled()
    window.close()
