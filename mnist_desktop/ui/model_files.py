"""The active model and files: File → Open model, Save model, Export to ONNX, Use the
bundled model. Changes the session's model; says what happened through signals (the window
shows them in its status bar and warning boxes)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QSettings, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from mnist_desktop import model as engine
from mnist_desktop.model.numpy_forward import NumpyPredictor
from mnist_desktop.model.paths import is_inside_package, user_data_dir

from .session import Session, load_predictor
from .settings import LAST_MODEL

MODEL_FILTER = "mnist-desktop models (*.safetensors);;PyTorch state dicts (*.pt *.pth);;All files (*)"


class ModelFiles(QObject):
    """Open, save and export the active model.

    The ONNX export is the one background job not on the worker base (``workers.Worker``): it
    runs in a QProcess. torch's exporter imports ``torch._dynamo`` (~900 modules), which in
    the app's process held the GIL and froze the window for 1–3 s, wherever the thread; a
    process also takes that memory with it when it ends, and close can kill it mid-export,
    which a thread cannot be.
    """

    message = Signal(str, int)  # a status line and how long it shows (ms)
    warning = Signal(str, str)  # title, message: something failed and the user can act on it
    exportRunning = Signal(bool)  # an ONNX export started (True) or ended
    exportFinished = Signal(bool, str)  # an ONNX export ended: (succeeded, what it said)

    def __init__(self, session: Session, settings: QSettings, parent: QWidget):
        super().__init__(parent)
        self.session, self.settings, self._dialog_parent = session, settings, parent
        self._export: tuple[QProcess, tempfile.TemporaryDirectory] | None = None
        self.torch_source: str | None = None  # set by startup_model before PyTorch has loaded

    # ------------------------------------------------------------------ folders
    def last_dir(self) -> str:
        last = self.settings.value(LAST_MODEL)
        return str(Path(last).parent) if isinstance(last, str) and last and Path(last).parent.is_dir() else str(Path.home())

    def model_dir(self) -> str:
        """Where the model dialogs start: the last model's folder, else the user's data folder
        (the engine's ``user_data_dir``, the folder the OS expects), never inside the package."""
        last = self.settings.value(LAST_MODEL)
        folder = Path(last).parent if isinstance(last, str) and last else None
        if folder is not None and folder.is_dir() and not is_inside_package(folder):
            return str(folder)
        try:
            return str(user_data_dir(create=True))
        except OSError:  # e.g. a read-only home: the dialog still opens, in the home folder
            return str(Path.home())

    # ------------------------------------------------------------------ open
    def startup_model(self, torch_ready: bool):
        """The model to start with: the last one opened, else the bundled one, as (predictor,
        source). Before PyTorch has loaded, its numpy twin (``torch_source`` says what the
        torch one will be loaded from): a file numpy cannot read (a .pt state dict) waits for
        torch, and the bundled model shows meanwhile."""
        last = self.settings.value(LAST_MODEL)
        last = str(last) if isinstance(last, str) and last else None
        if not torch_ready:
            self.torch_source = last
            if last is not None and last.endswith(".safetensors"):
                try:
                    return NumpyPredictor.load(last), last
                except Exception:  # noqa: BLE001 — torch reports it, with the file's name, once loaded
                    pass
            return NumpyPredictor.default(), None
        for path in ([last] if last else []) + [None]:
            try:
                return load_predictor(path), path
            except Exception as e:  # noqa: BLE001 — whatever is on disk, the app starts
                if path is None:
                    raise
                self.message.emit(f"Could not reopen the last model: {e}", 10000)
                self.settings.remove(LAST_MODEL)  # do not try (or point file dialogs at) it again
        raise AssertionError("unreachable")

    def open_model(self, path: str) -> bool:
        try:
            predictor = load_predictor(path)
        except engine.MnistDesktopError as e:
            self.warning.emit("Cannot open the model", str(e))
            return False
        self.session.set_model(predictor, path)
        self.settings.setValue(LAST_MODEL, str(path))
        # what the app ignored in the file (a stored test accuracy that is no fraction), as the CLI says it
        notes = "".join(f" Note: {note}." for note in getattr(predictor, "notes", ()))
        self.message.emit(f"Opened {path}.{notes}", 10000 if notes else 5000)
        return True

    @Slot()
    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._dialog_parent, "Open model", self.model_dir(), MODEL_FILTER)
        if path:
            self.open_model(path)

    @Slot()
    def use_default_model(self) -> None:
        try:
            predictor = engine.Predictor.default()
        except engine.MnistDesktopError as e:
            self.warning.emit("Cannot open the bundled model", str(e))
            return
        self.settings.remove(LAST_MODEL)
        self.session.set_model(predictor, None)

    # ------------------------------------------------------------------ save
    def save_model(self, path: str, predictor=None) -> str | None:
        """Save ``predictor`` (default: the active model) to ``path``; the saved path, or None
        (and a warning) if it cannot be saved there.

        A failed save changes nothing: the model stays and can be saved elsewhere.
        """
        predictor = predictor if predictor is not None else self.session.predictor
        if predictor is None:
            return None
        try:
            saved = predictor.save(path)
        except engine.MnistDesktopError as e:
            self.warning.emit("Cannot save the model", f"{e} The model is still open and can be saved elsewhere.")
            return None
        if predictor is self.session.predictor:
            self.session.mark_saved(str(saved))
            self.settings.setValue(LAST_MODEL, str(saved))
        self.message.emit(f"Saved {saved}", 5000)
        return str(saved)

    def save_model_dialog(self, predictor=None) -> str | None:
        """Ask where to save ``predictor`` (default: the active model); the saved path or None."""
        predictor = predictor if predictor is not None else self.session.predictor
        if predictor is None:
            return None
        suggested = str(Path(self.model_dir()) / f"{predictor.arch}-{predictor.task}.safetensors")
        title = "Save model"
        while True:  # a place that cannot be written: say why (save_model warns) and ask again
            path, _ = QFileDialog.getSaveFileName(self._dialog_parent, title, suggested, "mnist-desktop models (*.safetensors)")
            if not path:
                return None
            saved = self.save_model(path, predictor)
            if saved is not None:
                return saved
            title, suggested = "Save model: that place cannot be written, choose another", path

    # ------------------------------------------------------------------ export
    def exporting(self) -> bool:
        return self._export is not None

    def export_onnx_dialog(self) -> str | None:
        """Ask where to export the active model as ONNX and start the export; the path, or None."""
        predictor = self.session.predictor
        if predictor is None:
            return None
        suggested = str(Path(self.model_dir()) / f"{predictor.arch}-{predictor.task}.onnx")
        path, _ = QFileDialog.getSaveFileName(self._dialog_parent, "Export to ONNX", suggested, "ONNX models (*.onnx)")
        if not path:
            return None
        return path if self.export_onnx(path) else None

    def export_onnx(self, path: str) -> bool:
        """Export the active model to ``path`` in a separate process (``mnist-desktop export``);
        ``exportFinished`` tells the outcome. False if it could not start.

        torch's ONNX exporter imports ``torch._dynamo`` (~900 modules, sympy included): in
        this process that held the GIL, and froze the window, for 1–3 s. The model goes to
        the exporter as a temporary checkpoint, so an unsaved model exports too.
        """
        predictor = self.session.predictor
        if predictor is None or self._export is not None:
            return False
        folder = tempfile.TemporaryDirectory(prefix="mnist-desktop-export-")
        try:
            checkpoint = predictor.save(Path(folder.name) / "model.safetensors")
        except engine.MnistDesktopError as e:
            folder.cleanup()
            self.warning.emit("Cannot export the model", str(e))
            return False
        process = QProcess(self)
        process.setProgram(sys.executable)
        process.setArguments(["-m", "mnist_desktop", "export", str(checkpoint), "--onnx", path])
        process.finished.connect(self._on_export_finished)
        process.errorOccurred.connect(lambda error: error == QProcess.ProcessError.FailedToStart and self._on_export_finished(-1))
        self._export = (process, folder)
        self.exportRunning.emit(True)
        self.message.emit(f"Exporting the {predictor.arch} model to ONNX…", 0)
        process.start()
        return True

    @Slot()
    def _on_export_finished(self, code=-1, _status=None) -> None:
        if self._export is None:
            return
        process, folder = self._export
        self._export = None
        out = bytes(process.readAllStandardOutput().data()).decode(errors="replace").strip()
        err = bytes(process.readAllStandardError().data()).decode(errors="replace").strip()
        folder.cleanup()
        self.exportRunning.emit(False)
        if code == 0:
            self.message.emit(f"{out[:1].upper()}{out[1:]} (input: (N, 1, 28, 28) in [0, 1]; output: probabilities)", 10000)
            self.exportFinished.emit(True, out)
            return
        lines = err.splitlines() or [process.errorString()]
        message = lines[-1].removeprefix("mnist-desktop: error: ")
        self.warning.emit("Cannot export the model", message)
        self.exportFinished.emit(False, message)

    def shutdown(self) -> None:
        """Kill an export in progress (it writes nothing once killed) and wait for it; nothing
        is reported after this."""
        if self._export is not None:
            process, folder = self._export
            self._export = None
            process.kill()
            process.waitForFinished(3000)
            folder.cleanup()
