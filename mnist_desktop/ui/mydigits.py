"""The My digits dock: a person's own drawings, what the active model makes of them, and
fine-tuning the model on them.

The store is the engine's :class:`~mnist_desktop.model.mydigits.MyDigits` (plain files in a
folder), opened the first time it is needed. The panel shows the digits grouped by label
with counts, the active model's accuracy on them, delete (undoable), re-label and "put on
canvas". Fine-tuning runs in the training panel's worker (the window starts it with
:meth:`MyDigitsPanel.fine_tune_task`); when it ends the panel shows before → after.

A collection of 10,000 digits is normal, so nothing here is quadratic or blocks on all of
them: the active model's answers are kept per digit and computed in chunks between events
(an added digit costs one prediction), a delete of many digits is one write of the index,
and import and export run in a worker thread with progress and Cancel.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressDialog,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import model as engine
from mnist_desktop.model import evaluation as ev
from mnist_desktop.model import mydigits
from mnist_desktop.model.config import ARCHITECTURE_SPECS
from mnist_desktop.model.datasets import MNIST, MyDigitsDataset

from .captions import a_digit, count_of
from .gallery import Gallery
from .panel import DockEntry
from .session import Session, is_torch_model
from .workers import Worker, WorkerThreads

# The active model's answers on the digits are computed between events, this long at a time:
# the numpy CNN (before torch has loaded) takes ~1 ms a digit, 10 s for 10,000.
PREDICT_SLICE_S = 0.015


class ZipWorker(Worker):
    """Imports or exports a zip with its own store (never the panel's). ``progress``: (done,
    total) after each digit; ``finished``: the engine's result (an import's count of digits
    added, an export's :class:`~mnist_desktop.model.mydigits.ExportResult`); ``failed``: why,
    including Cancel (the engine's :class:`~mnist_desktop.model.mydigits.Cancelled`: nothing
    was written)."""

    def __init__(self, kind: str, folder: Path, path: Path, generation: int = 0):
        super().__init__(generation)
        self.kind, self.folder, self.path = kind, folder, path
        self.total = 0  # the digits in the zip (an import), as its progress last said

    def work(self):
        store = mydigits.MyDigits(self.folder, read_only=self.kind == "export")
        job = store.import_zip if self.kind == "import" else store.export_zip

        def progress(done: int, total: int) -> None:
            self.total = total
            self.report((done, total))

        return job(self.path, progress=progress, stop=self.cancelled)

    def failure(self, error: Exception) -> str:
        if isinstance(error, (engine.MnistDesktopError, OSError, ValueError, MemoryError)):
            return str(error)  # the engine's words name the file and what is wrong with it
        return super().failure(error)


ACTIVE_NOW = "<b>Fine-tuned.</b> The new model is active (Edit → Previous model brings the old one back)."
NO_LONGER_ACTIVE = "<b>Fine-tuned</b> (that model is no longer the active one)."


def _pct(x) -> str:
    return "–" if x is None or x != x else f"{100 * x:.1f} %"


class MyDigitsPanel(QWidget):
    """My digits (objectName ``my_digits``)."""

    fineTuneRequested = Signal()
    toCanvas = Signal(object)  # a uint8 drawing to put on the canvas
    folderChanged = Signal(str)  # the user chose another folder (the window remembers it)
    changed = Signal()  # the collection changed (added, removed, re-labelled, reloaded)
    message = Signal(str)  # something to tell the person (status bar)
    zipFinished = Signal(str, object)  # "import"/"export" and its result (None after a failure or Cancel)

    dock = DockEntry("my_digits", "My digits", "side", help="Digits you drew and labelled: test the model on them or fine-tune it.")

    def __init__(self, folder: str | Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("my_digits")
        self._pending: dict | None = None  # the fine-tuning run started, until its before → after is shown
        self._result_model = None  # the fine-tuned model the result calls active, while it is
        self._folder = Path(folder) if folder is not None else None
        self._store: mydigits.MyDigits | None = None
        self._error: str | None = None
        self.predictor = None
        self._busy = False
        self._removed: list[list[mydigits.Removed]] = []  # undo stack: each delete's digits, files included
        self._answers: dict[str, int] = {}  # id → the active model's answer (-1: not among its classes)
        self._answers_for = None  # the predictor those answers are from
        self._to_predict: list[int] = []  # rows whose answer is still to be computed
        self._predict_timer = QTimer(self, singleShot=True, interval=0)
        self._predict_timer.timeout.connect(self._predict_more)
        self._zip_threads = WorkerThreads("my-digits-zip", self)
        self._zip_worker: ZipWorker | None = None  # the import or export running, until it has ended
        self._zip_generation = 0
        self._zip_dialog: QProgressDialog | None = None
        self.last_zip_result = None
        self._ids: list[str] = []
        self._labels = np.zeros(0, np.int64)
        self._images = np.zeros((0, 28, 28), np.uint8)
        self._predicted: np.ndarray | None = None
        self.accuracy: float | None = None
        self.before_after: dict | None = None

        self.folder_label = QLabel(objectName="my_digits_folder", wordWrap=True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.folder_button = QPushButton("Change…", objectName="my_digits_change_folder")
        self.folder_button.setToolTip("Keep My digits in another folder (plain PNG files and an index.json).")
        self.folder_button.clicked.connect(self.choose_folder)
        self.notes_label = QLabel(objectName="my_digits_notes", wordWrap=True)  # what was skipped and why
        self.notes_label.setVisible(False)
        self.counts = QLabel(objectName="my_digits_counts", wordWrap=True)
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        self.accuracy_label = QLabel(objectName="my_digits_accuracy", wordWrap=True)
        self.gallery = Gallery(canvas_action=False)
        self.gallery.setObjectName("my_digits_gallery")
        self.gallery.add_context_action("Put on canvas", self.put_on_canvas)
        self.gallery.add_context_action("Re-label…", self._ask_relabel)
        self.gallery.add_context_action("Delete", self.remove)
        self.undo_button = QPushButton("Undo delete", objectName="my_digits_undo", enabled=False)
        self.undo_button.setToolTip("Bring back the digits deleted last.")
        self.undo_button.clicked.connect(self.undo_remove)
        self.delete_button = QPushButton("Delete", objectName="my_digits_delete")
        self.delete_button.setToolTip("Delete the selected digits (Undo delete brings them back).")
        self.delete_button.clicked.connect(lambda: self.remove(self.gallery.selected_keys()))
        self.export_button = QPushButton("Export…", objectName="my_digits_export")
        self.export_button.setToolTip("Save all your digits as one .zip file, to keep or to share.")
        self.export_button.clicked.connect(self._ask_export)
        self.import_button = QPushButton("Import…", objectName="my_digits_import")
        self.import_button.setToolTip("Add the digits of a .zip made with Export… (digits you already have are not added twice).")
        self.import_button.clicked.connect(self._ask_import)
        self.fine_tune_button = QPushButton("Fine-tune on my digits", objectName="fine_tune_button")
        self.fine_tune_button.clicked.connect(self.fineTuneRequested)
        self.result = QLabel(objectName="fine_tune_result", wordWrap=True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.changed_gallery = Gallery()
        self.changed_gallery.setObjectName("fine_tune_changed")
        self.changed_gallery.toCanvas.connect(self.toCanvas)
        self.changed_gallery.setMaximumHeight(150)
        self.changed_gallery.setVisible(False)

        top = QHBoxLayout()
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.folder_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        # on a row of its own: beside the four others it made the panel wider than a side dock
        fine_tune = QHBoxLayout()
        fine_tune.addWidget(self.fine_tune_button)
        fine_tune.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.counts)
        layout.addWidget(self.accuracy_label)
        layout.addWidget(self.gallery, 1)
        layout.addLayout(buttons)
        layout.addLayout(fine_tune)
        layout.addWidget(self.result)
        layout.addWidget(self.changed_gallery)
        self._show_folder()
        self._update_enabled()

    # ------------------------------------------------------------------ the store
    def folder(self) -> Path:
        return self._folder if self._folder is not None else mydigits.default_digits_folder()

    def set_folder(self, folder: str | Path) -> None:
        """Use the My digits in ``folder`` (created if missing), from now on."""
        self._folder = Path(folder)
        self._store = None
        self._error = None
        self._removed.clear()
        self._answers.clear()
        self._show_folder()
        if self.isVisible():
            self.reload()

    def store(self) -> mydigits.MyDigits | None:
        """The store, opened the first time it is needed; None (and a reason) if it cannot be."""
        if self._store is None and self._error is None:
            try:
                self._store = mydigits.MyDigits(self.folder())
            except (engine.MnistDesktopError, OSError) as e:
                self._error = str(e)
            self._show_folder()
        return self._store

    def _show_folder(self) -> None:
        text = f"Folder: {self.folder()}"
        if self._error:
            text += f"\n⚠ {self._error}"
        self.folder_label.setText(text)
        self.folder_label.setToolTip(str(self.folder()))

    @Slot()
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for My digits", str(self.folder()))
        if path:
            self.set_folder(path)
            self.reload()
            self.folderChanged.emit(path)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.reload()

    # ------------------------------------------------------------------ changes
    def add(self, drawing: np.ndarray, label: int) -> str | None:
        """Save ``drawing`` as ``label``; its id, or None (and a message) if it cannot be saved."""
        store = self.store()
        if store is None:
            self.message.emit(f"Cannot save to My digits: {self._error}")
            return None
        try:
            ident = store.add(drawing, int(label))
        except engine.EmptyImageError:
            self.message.emit("Nothing to save: draw a digit first.")
            return None
        except (engine.MnistDesktopError, ValueError) as e:
            self.message.emit(f"Cannot save to My digits: {e}")
            return None
        self.reload()
        self.message.emit(
            f"Saved as {a_digit(label)} in My digits ({self.count(label):,} labelled {label}, {count_of(len(self._ids), 'digit')} in all)."
        )
        return ident

    def remove(self, ids) -> int:
        """Delete the digits ``ids`` (undoable, one write of the index); how many were deleted."""
        store = self.store()
        if store is None or not ids:
            return 0
        try:
            batch = store.remove_many(list(ids))
        except engine.MnistDesktopError as e:
            self.message.emit(f"Cannot delete: {e}")
            return 0
        if batch:
            self._removed.append(batch)
        self.reload()
        if batch:  # in place of what was said before ("Saved as … 2 digits in all")
            # What Undo delete can bring back of them: not a digit whose 28×28 file was unreadable
            ids = {r.entry.get("id") for r in batch}
            back = sum(r.entry.get("id") in ids for r in self._removed[-1]) if self._removed else 0
            if back == len(batch):
                undo = f"Undo delete brings {'it' if back == 1 else 'them'} back."
            elif back:
                undo = f"Undo delete brings {back:,} of them back (the others' files could not be read)."
            else:
                undo = f"{'It' if len(batch) == 1 else 'They'} cannot be brought back: the file{'' if len(batch) == 1 else 's'} could not be read."
            self.message.emit(f"Deleted {count_of(len(batch), 'digit')} ({count_of(len(self._ids), 'digit')} left). {undo}")
        return len(batch)

    @Slot()
    def undo_remove(self) -> int:
        """Bring back the digits deleted last (one write of the index); how many."""
        store = self.store()
        if store is None or not self._removed:
            return 0
        batch = self._removed.pop()
        try:
            restored = store.restore(batch)
        except engine.MnistDesktopError as e:
            self._removed.append(batch)  # still undoable once the folder can be written again
            self.message.emit(f"Cannot bring the digits back: {e}")
            return 0
        self.reload()
        if restored:
            self.message.emit(f"Brought back {count_of(restored, 'digit')} ({count_of(len(self._ids), 'digit')} in all).")
        else:  # (reload drops from the undo list the digits that are back some other way)
            self.message.emit("Nothing to bring back: the digits deleted last are in My digits again.")
        return restored

    def relabel(self, ids, label: int) -> None:
        store = self.store()
        if store is None:
            return
        try:
            store.relabel_many(list(ids), int(label))
        except (engine.MnistDesktopError, ValueError) as e:
            self.message.emit(f"Cannot re-label: {e}")
        self.reload()

    def export_zip(self, path: str | Path) -> bool:
        """Save all the digits as one zip at ``path``, in a worker thread (progress, Cancel);
        :attr:`zipFinished` says how it went. False if it could not start."""
        return self._start_zip("export", Path(path))

    def import_zip(self, path: str | Path) -> bool:
        """Add the digits of an exported zip, in a worker thread (progress, Cancel);
        :attr:`zipFinished` says how many were added. False if it could not start."""
        return self._start_zip("import", Path(path))

    def zip_busy(self) -> bool:
        return self._zip_worker is not None

    def _start_zip(self, kind: str, path: Path) -> bool:
        store = self.store()
        if store is None:
            self.message.emit(f"Cannot {kind} My digits: {self._error}")
            return False
        if self.zip_busy():
            self.message.emit("An import or export is running: wait for it to end (or cancel it).")
            return False
        self._zip_generation += 1
        worker = ZipWorker(kind, self.folder(), path, self._zip_generation)
        dialog = QProgressDialog(f"{'Importing' if kind == 'import' else 'Exporting'} My digits…", "Cancel", 0, 0, self)
        dialog.setObjectName("my_digits_zip_progress")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.cancel_zip)
        self._zip_dialog = dialog
        self._zip_worker = worker
        worker.progress.connect(self._on_zip_progress)
        worker.finished.connect(self._on_zip_done)
        worker.failed.connect(self._on_zip_failed)
        self._update_enabled()
        self._zip_threads.start(worker)
        return True

    @Slot()
    def cancel_zip(self) -> None:
        """Ask the import or export to stop at its next digit; it ends with nothing written."""
        if self._zip_worker is not None:
            self._zip_worker.cancel()

    def _current_zip(self, generation: int) -> ZipWorker | None:
        """The running job, if ``generation`` is its (what an ended job still sends is dropped)."""
        worker = self._zip_worker
        return worker if worker is not None and worker.generation == generation else None

    @Slot(int, object)
    def _on_zip_progress(self, generation: int, payload) -> None:
        if self._current_zip(generation) is not None and self._zip_dialog is not None:
            done, total = payload
            self._zip_dialog.setMaximum(max(total, 1))
            self._zip_dialog.setValue(done)

    def _zip_ended(self, kind: str, result) -> None:
        self._zip_worker = None
        if self._zip_dialog is not None:
            self._zip_dialog.canceled.disconnect(self.cancel_zip)
            self._zip_dialog.close()
            self._zip_dialog.deleteLater()
            self._zip_dialog = None
        self.last_zip_result = result
        if kind == "import":
            self.reload()
        self._update_enabled()
        self.zipFinished.emit(kind, result)

    @Slot(int, object)
    def _on_zip_done(self, generation: int, result) -> None:
        worker = self._current_zip(generation)
        if worker is None:
            return
        if worker.kind == "import":
            self._zip_ended(worker.kind, result)
            self.message.emit(_imported(result, worker.total, len(self._ids)))
            return
        skipped = f"; {len(result.skipped)} left out, their files unreadable: {result.skipped[0]}" if result.skipped else ""
        self._zip_ended(worker.kind, result)
        self.message.emit(f"Exported {count_of(result.digits, 'digit')} to {result.path}{skipped}.")

    @Slot(int, str)
    def _on_zip_failed(self, generation: int, text: str) -> None:
        worker = self._current_zip(generation)
        if worker is None:
            return
        # Cancel is asked for, not a failure: the engine's words say what it left ("nothing was added")
        said = text if worker.cancelled() else f"Cannot {worker.kind}: {text}"
        self._zip_ended(worker.kind, None)
        self.message.emit(said)

    def shutdown(self) -> None:
        """Cancel an import or export and wait for its thread (before the window goes away)."""
        self._zip_threads.shutdown()
        self._predict_timer.stop()

    @Slot()
    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export My digits", str(Path.home() / "my-digits.zip"), "Zip files (*.zip)")
        if path:
            self.export_zip(path)

    @Slot()
    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import My digits", str(Path.home()), "Zip files (*.zip);;All files (*)")
        if path:
            self.import_zip(path)

    def _ask_relabel(self, ids) -> None:
        if not ids:
            return
        # the dialog starts at the digit's label (the first one's, for several), not at 0
        current = int(self._labels[self._ids.index(ids[0])]) if ids[0] in self._ids else 0
        label, ok = QInputDialog.getInt(self, "Re-label", f"Which digit {'is' if len(ids) == 1 else 'are'} it?", current, 0, 9)
        if ok:
            self.relabel(ids, label)

    def put_on_canvas(self, ids) -> None:
        """The first of ``ids``' saved drawing itself (not its 28×28 version) goes on the canvas."""
        store = self.store()
        if store is None or not ids:
            return
        try:
            self.toCanvas.emit(store.drawing(ids[0]))
        except (KeyError, engine.MnistDesktopError) as e:
            self.message.emit(f"Cannot put the drawing on the canvas: {e}")

    # ------------------------------------------------------------------ display
    def count(self, label: int | None = None) -> int:
        return len(self._labels) if label is None else int((self._labels == label).sum())

    @Slot()
    def reload(self) -> None:
        """Read the folder again (only what changed) and show what it holds."""
        store = self.store()
        summary = ""
        if store is None:
            self._ids, self._labels, self._images = [], np.zeros(0, np.int64), np.zeros((0, 28, 28), np.uint8)
        else:
            ids, labels, images = store.ids(), store.labels(), store.images()
            order = np.argsort(labels, kind="stable")  # grouped by label
            self._ids = [ids[i] for i in order.tolist()]
            self._labels = labels[order]
            self._images = images[order]
            summary = store.summary()
        self.notes_label.setText(f"⚠ {summary}" if summary else "")
        self.notes_label.setToolTip("\n".join(store.notes[:40]) if store is not None else "")
        self.notes_label.setVisible(bool(summary))
        counts = " ".join(f"<td align='center'><b>{d}</b><br>{self.count(d)}</td>" for d in MyDigitsDataset.classes)
        self.counts.setText(f"{count_of(len(self._ids), 'digit')}:<table cellspacing='5'><tr>{counts}</tr></table>")
        self._predict()
        self.gallery.set_items(self._images, np.arange(len(self._ids)), list(self._ids), self._caption)
        self._drop_undone()
        self.undo_button.setEnabled(bool(self._removed))
        self._update_enabled()
        self.changed.emit()

    def _drop_undone(self) -> None:
        """Keep on the undo list only the deleted digits that Undo delete can bring back: not
        those in the folder again (an import of a zip made before the delete brings them back
        with their ids), nor those whose 28×28 file could not be read when deleted. Undo delete
        stayed enabled after such an import and did nothing."""
        present = set(self._ids)
        kept = ([r for r in batch if r.small is not None and r.entry.get("id") not in present] for batch in self._removed)
        self._removed = [batch for batch in kept if batch]

    def _caption(self, i: int) -> str:
        label = int(self._labels[i])
        if self._predicted is None or self._predicted[i] < 0:
            return str(label)
        said = int(self._predicted[i])
        return f"{label} ✓" if said == label else f"{label} · said {said} ✗"

    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        session.follow_model(self.set_predictor)

    def set_on_screen(self, shown: bool) -> None:
        """Nothing to do: the answers are computed in short slices between events, shown or not."""

    def set_predictor(self, predictor) -> None:
        self.predictor = predictor  # before PyTorch has loaded, a numpy copy: it predicts, it does not fine-tune
        if self._result_model is not None and predictor is not self._result_model:
            self._result_model = None
            self.result.setText(self.result.text().replace(ACTIVE_NOW, NO_LONGER_ACTIVE, 1))
        if self._store is not None:
            self._predict()
            self.gallery.viewport().update()
        self._update_enabled()

    def _predict(self) -> None:
        """The active model's answers on my digits (-1 for a digit it has no class for): those
        known are kept, the rest computed a chunk at a time between events."""
        p = self.predictor
        if p is not self._answers_for:
            self._answers, self._answers_for = {}, p
        self._predicted, self.accuracy = None, None
        self._to_predict = [i for i, ident in enumerate(self._ids) if ident not in self._answers]
        self._predict_more(first=True)

    @Slot()
    def _predict_more(self, first: bool = False) -> None:
        p = self.predictor
        if p is None or len(self._ids) == 0:
            self._to_predict = []
            self.accuracy_label.setText("" if p is not None else "No model to try them on.")
            return
        started, chunk, pending = time.perf_counter(), 8, self._to_predict
        if first and len(pending) > chunk:  # many to read: the dock is shown first, the answers follow
            self.accuracy_label.setText(f"Reading your digits with the active model… {len(self._ids) - len(pending)} of {len(self._ids)}")
            self._predict_timer.start()
            return
        while pending and time.perf_counter() - started < PREDICT_SLICE_S:  # a slice of the event loop, then the next turn
            part, pending = pending[:chunk], pending[chunk:]
            answers = _predictions(p, self._images[part], self._labels[part])
            self._answers.update(zip((self._ids[i] for i in part), answers.tolist()))
        self._to_predict = pending
        if pending:
            self.accuracy_label.setText(f"Reading your digits with the active model… {len(self._ids) - len(pending)} of {len(self._ids)}")
            self._predict_timer.start()
            return
        self._predicted = np.array([self._answers[ident] for ident in self._ids], dtype=np.int64)
        if not first:
            self.gallery.viewport().update()
        usable = self._predicted >= 0
        if usable.any():
            self.accuracy = float((self._predicted[usable] == self._labels[usable]).mean())
            left = int((~usable).sum())
            extra = f"; {left:,} more {'is' if left == 1 else 'are'} not among its classes" if left else ""
            self.accuracy_label.setText(
                f"The active model reads {_pct(self.accuracy)} of your digits right "
                f"({int((self._predicted[usable] == self._labels[usable]).sum()):,} of {int(usable.sum()):,}{extra})."
            )
        else:
            self.accuracy_label.setText("None of your digits is among the active model's classes.")

    def set_busy(self, busy: bool) -> None:
        """Training or fine-tuning runs: Fine-tune waits."""
        self._busy = busy
        self._update_enabled()

    def fine_tune_blocker(self) -> str | None:
        """Why Fine-tune cannot run now, or None."""
        p = self.predictor
        if self._busy:
            return "Training is running: wait for it to end (or stop it)."
        if p is None:
            return "No active model: train one or open one first."
        if not is_torch_model(p):
            return "PyTorch is still loading: fine-tuning starts once it is ready."
        arch = ARCHITECTURE_SPECS.get(p.arch)
        if arch is None or not arch.trainable:
            return f"The active model ({p.describe()}) has no weights that training adjusts: choose a linear, MLP or CNN model."
        if self._error:
            return f"My digits cannot be opened: {self._error}"
        if not len(self._ids):
            return "My digits is empty: draw a digit and press its label under the prediction (“Not right? It is:”) first."
        if not np.isin(self._labels, p.classes).any() and len(self._labels):
            return f"None of your digits is one of this model's classes ({', '.join(map(str, p.classes))})."
        if (p.meta.get("training") or {}).get("loss") == "accuracy":
            return (
                "This model was trained with accuracy as its loss, whose gradient is zero everywhere: fine-tuning cannot change it. "
                "Train a model with cross-entropy first."
            )
        return None

    def _update_enabled(self) -> None:
        why = self.fine_tune_blocker()
        self.fine_tune_button.setEnabled(why is None)
        self.fine_tune_button.setToolTip(
            why or "Train the active model further on your digits (mixed with MNIST so it does not forget it); it becomes the active model."
        )
        self.delete_button.setEnabled(bool(self._ids))
        self.export_button.setEnabled(bool(self._ids) and not self.zip_busy())
        self.import_button.setEnabled(not self.zip_busy())

    # ------------------------------------------------------------------ fine-tuning
    def fine_tune_task(self, predictor):
        """A task for the training worker: fine-tune a copy of ``predictor`` on my digits and
        measure before and after (in the worker thread). None if it cannot run."""
        if self.fine_tune_blocker() is not None:
            return None
        model = engine.Predictor(copy.deepcopy(predictor.model), predictor.meta)  # the canvas keeps the original
        images, labels, ids = self._images.copy(), self._labels.copy(), list(self._ids)
        mnist_before = predictor.metrics.get("test_accuracy")
        record: dict = {"ids": ids, "labels": labels, "images": images, "base": predictor}
        self.before_after = None
        self._pending = record
        # the last run's before → after is not this one's: it goes, and says where this one is
        self._show_result("<b>Fine-tuning on your digits…</b> Its progress, Pause and Stop are in the Training panel.")

        def task(on_batch, on_epoch, on_note, stop_event, pause_event):
            record["before"] = _predictions(model, images, labels)
            before = mnist_before
            if not isinstance(before, float) or before != before:
                before = ev.evaluate(model, *MNIST.arrays("test")).accuracy
            record["mnist_before"] = before
            # what the fine-tuning's validation reads: MNIST's test digits of the model's classes
            record["mnist_count"] = int(np.isin(MNIST.arrays("test")[1], model.classes).sum())
            from mnist_desktop.model import finetune  # torch: the window allows this once it has loaded

            result = finetune.fine_tune(
                model, images, labels, on_batch=on_batch, on_epoch=on_epoch, on_note=on_note, stop_event=stop_event, pause_event=pause_event
            )
            record["after"] = _predictions(result.predictor, images, labels)
            record["mnist_after"] = (result.metrics or {}).get("valid_accuracy")
            return result

        return task

    def _show_result(self, text: str) -> None:
        """``text`` in place of the last run's result, whose model and changed digits go with it."""
        self._result_model = None
        self.result.setText(text)
        self.changed_gallery.clear()
        self.changed_gallery.setVisible(False)

    def fine_tune_finished(self, result, offered: bool = False) -> None:
        """Show before → after of the run :meth:`fine_tune_task` started (if it finished).
        ``offered``: the active model changed while it ran, so the result was offered (in the
        training panel), not made active."""
        record, self._pending = self._pending, None
        if record is None:
            return
        if result is None or "after" not in record:
            self._show_result("<b>Fine-tuning failed</b>: the active model is unchanged (the Training panel says why).")
            return
        if result.stopped:
            self._show_result(
                "<b>Fine-tuning stopped.</b> The active model is unchanged; the Training panel offers the stopped model "
                "(Use the stopped model)."
                if result.history
                else "<b>Fine-tuning stopped</b> before its first batch: the active model is unchanged."
            )
            return
        before, after, labels = record["before"], record["after"], record["labels"]
        usable = before >= 0
        acc_b = float((before[usable] == labels[usable]).mean()) if usable.any() else None
        acc_a = float((after[usable] == labels[usable]).mean()) if usable.any() else None
        fixed = np.flatnonzero(usable & (before != labels) & (after == labels))
        broken = np.flatnonzero(usable & (before == labels) & (after != labels))
        self.before_after = {
            "my_digits": (acc_b, acc_a),
            "mnist_test": (record["mnist_before"], record["mnist_after"]),
            "fixed": [record["ids"][i] for i in fixed],
            "broken": [record["ids"][i] for i in broken],
        }
        head = (
            "<b>Fine-tuned.</b> The active model changed while it ran, so the fine-tuned model is offered in the Training "
            "panel (Use the new model), not made active."
            if offered
            else ACTIVE_NOW
        )
        # "is active" belongs to that model: set_predictor takes it back when another one is
        self._result_model = None if offered else result.predictor
        self.result.setText(
            head + "<table cellspacing='6'><tr><td></td><td><b>before</b></td><td></td><td><b>after</b></td></tr>"
            f"<tr><td>My digits ({int(usable.sum())})</td><td>{_pct(acc_b)}</td><td>→</td><td>{_pct(acc_a)}</td></tr>"
            f"<tr><td>MNIST test ({record['mnist_count']:,})</td><td>{_pct(record['mnist_before'])}</td><td>→</td><td>{_pct(record['mnist_after'])}</td></tr>"
            "</table>"
            f"Wrong → right: {len(fixed)} of your digits. Right → wrong: {len(broken)}."
        )
        changed = np.concatenate([fixed, broken])
        captions = [
            f"{int(labels[i])}: {int(before[i])} → {int(after[i])} {'✓' if after[i] == labels[i] else '✗'}" for i in changed.tolist()
        ]
        self.changed_gallery.set_items(record["images"], changed, [record["ids"][i] for i in changed], captions)
        self.changed_gallery.setVisible(len(changed) > 0)


def _imported(added: int, total: int, now: int) -> str:
    """What an import of a zip of ``total`` digits that added ``added`` says; ``now``: the
    digits in My digits after it. The import leaves out only digits already there (the same
    id, or the same pixels with the same label)."""
    in_all = f"({count_of(now, 'digit')} in all)"
    skipped = total - added
    if total == 0:
        return f"The zip holds no digits: nothing was imported {in_all}."
    if added == 0:
        held = "its one digit is" if total == 1 else f"all {total:,} of its digits are"
        return f"Nothing imported: {held} in My digits already {in_all}."
    if skipped <= 0:
        return f"Imported {count_of(added, 'digit')} {in_all}."
    return f"Imported {count_of(added, 'digit')}; {count_of(skipped, 'digit')} already in My digits or repeated in the zip {'was' if skipped == 1 else 'were'} skipped {in_all}."


def _predictions(predictor, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The digit ``predictor`` reads in each image; -1 where the label is not one of its classes."""
    out = np.full(len(labels), -1, dtype=np.int64)
    usable = np.isin(labels, predictor.classes)
    if usable.any():
        p = predictor.predict_batch(np.ascontiguousarray(images[usable]))
        out[usable] = np.asarray(predictor.classes)[p.argmax(1)]
    return out
