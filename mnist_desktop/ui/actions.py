"""The main window's actions: every menu and toolbar entry, with its shortcuts and tips."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QMainWindow, QPlainTextEdit, QStyle, QTextEdit

from mnist_desktop.model.datasets import MyDigitsDataset

from .captions import a_digit

FALLBACK_KEYS = {
    QKeySequence.StandardKey.Quit: "Ctrl+Q",
    QKeySequence.StandardKey.Undo: "Ctrl+Z",
    QKeySequence.StandardKey.Redo: "Ctrl+Shift+Z",
    QKeySequence.StandardKey.Open: "Ctrl+O",
    QKeySequence.StandardKey.Save: "Ctrl+S",
    QKeySequence.StandardKey.Delete: "Del",
    QKeySequence.StandardKey.HelpContents: "F1",
}


def make_action(window: QMainWindow, text: str, slot, shortcuts=(), tip: str = "", icon=None, checkable: bool = False) -> QAction:
    """An action of ``window`` (so its shortcut works wherever the focus is): ``shortcuts`` are
    standard keys (the platform's binding, else FALLBACK_KEYS) or key strings; ``tip`` is its
    tooltip (with the first shortcut) and status tip."""
    a = QAction(text, window)
    if icon is not None:
        a.setIcon(window.style().standardIcon(icon) if isinstance(icon, QStyle.StandardPixmap) else icon)
    keys = []
    for s in shortcuts:
        if isinstance(s, QKeySequence.StandardKey):
            # the platform's binding; a few platforms have none for some keys (Quit)
            keys.extend(QKeySequence.keyBindings(s) or [QKeySequence(FALLBACK_KEYS.get(s, ""))])
        else:
            keys.append(QKeySequence(s))
    keys = [k for k in keys if not k.isEmpty()]
    if keys:
        a.setShortcuts(keys)
    if tip:
        a.setToolTip(tip + (f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})" if keys else ""))
        a.setStatusTip(tip)
    a.setCheckable(checkable)
    a.triggered.connect(slot)
    window.addAction(a)
    return a


class EscapeStaysInFields(QObject):
    """Esc pressed in a field that takes typing (a spin box, a line edit, an editable combo box, a
    text box) belongs to that field, not to the window's Clear drawing shortcut: one presses Esc
    there to leave an edit, and it used to wipe the drawing. The field gets the key instead (it
    does nothing with it); Esc anywhere else still clears. Put on each field as it takes the
    focus, not on the application, where a Python filter would see every event."""

    FIELDS = (QAbstractSpinBox, QLineEdit, QPlainTextEdit, QTextEdit)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        QApplication.instance().focusChanged.connect(self._focused)

    def _focused(self, _old, new) -> None:
        if isinstance(new, self.FIELDS + (QComboBox,)):
            new.installEventFilter(self)  # once: Qt does not add the same filter twice

    def eventFilter(self, obj, event) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and event.key() == Qt.Key.Key_Escape
            and (isinstance(obj, self.FIELDS) or (isinstance(obj, QComboBox) and obj.isEditable()))
        ):
            event.accept()  # an accepted override sends the key to the field, not to a shortcut
        return False


def build_actions(w) -> None:
    """The window's actions, as ``w.<name>_action`` (the menus and the toolbar arrange them)."""
    SP = QStyle.StandardPixmap
    w.clear_action = make_action(
        w,
        "&Clear drawing",
        w.canvas.clear,
        [Qt.Key.Key_Escape, QKeySequence.StandardKey.Delete],
        "Clear the canvas (undoable)",
        SP.SP_DialogResetButton,
    )
    EscapeStaysInFields(w)  # the window's child, so that it goes with the window
    w.undo_action = make_action(w, "&Undo stroke", w.canvas.undo, [QKeySequence.StandardKey.Undo], "Undo the last stroke", SP.SP_ArrowBack)
    w.redo_action = make_action(
        w, "&Redo stroke", w.canvas.redo, [QKeySequence.StandardKey.Redo], "Redo the stroke you undid", SP.SP_ArrowForward
    )
    w.undo_action.setEnabled(False)
    w.redo_action.setEnabled(False)
    w.canvas.undoAvailable.connect(w.undo_action.setEnabled)
    w.canvas.redoAvailable.connect(w.redo_action.setEnabled)
    w.eraser_action = make_action(
        w, "&Eraser", w.canvas.set_eraser, ["E"], "Draw with the eraser (the right mouse button always erases)", checkable=True
    )
    w.number_mode_action = make_action(
        w,
        "&Number mode",
        w.set_number_mode,
        ["Ctrl+Shift+N"],
        "Write a whole number on a wide canvas: each digit is boxed and read as you write",
        checkable=True,
    )
    w.number_mode_action.setObjectName("number_mode")
    w.open_image_action = make_action(
        w, "Open &image…", w.open_image_dialog, ["Ctrl+I"], "Put an image file of a digit on the canvas", SP.SP_FileIcon
    )
    w.open_model_action = make_action(
        w,
        "&Open model…",
        w.files.open_model_dialog,
        [QKeySequence.StandardKey.Open],
        "Load a saved model and make it active",
        SP.SP_DialogOpenButton,
    )
    w.save_model_action = make_action(
        w,
        "&Save model…",
        w.save_model_dialog,
        [QKeySequence.StandardKey.Save],
        "Save the active model (safetensors)",
        SP.SP_DialogSaveButton,
    )
    w.export_onnx_action = make_action(
        w,
        "&Export to ONNX…",
        w.files.export_onnx_dialog,
        (),
        "Save the active model as ONNX, for a web page (ONNX Runtime Web) or other runtimes",
    )
    w.default_model_action = make_action(
        w, "Use the &bundled model", w.files.use_default_model, (), "Go back to the model that ships with the app"
    )
    w.previous_model_action = make_action(
        w, "&Previous model", w.previous_model, ["Ctrl+Alt+Z"], "Make the model that was active before this one active again"
    )
    w.previous_model_action.setEnabled(False)
    w.quit_action = make_action(w, "&Quit", w.close, [QKeySequence.StandardKey.Quit], "Quit (stops training first)")
    w.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
    w.train_action = make_action(w, "&Train", w.runs.train, ["Ctrl+T"], "Train a model with the Training panel's settings", SP.SP_MediaPlay)
    w.stop_action = make_action(w, "S&top training", w.runs.stop, ["Ctrl+."], "Stop training after this batch", SP.SP_MediaStop)
    w.stop_action.setEnabled(False)
    w.fine_tune_action = make_action(
        w, "&Fine-tune on my digits", w.runs.fine_tune_my_digits, (), "Train the active model further on the digits in My digits"
    )
    # "That's not right — it is: d", with a modifier so that typing a digit in a spin box is not taken
    w.correct_actions = [
        make_action(
            w,
            f"Save the drawing as {a_digit(d)}",
            lambda _c=False, d=d: w.save_my_digit(d),
            [f"Ctrl+Alt+{d}"],
            f"Save the drawing as {a_digit(d)} in My digits",
        )
        for d in MyDigitsDataset.classes
    ]
    w.reset_layout_action = make_action(w, "&Reset layout", w.reset_layout, (), "Put every panel back where it started")
    w.about_action = make_action(w, "&About mnist-desktop", w.about, (), "Version and where MNIST comes from")
    w.about_action.setMenuRole(QAction.MenuRole.AboutRole)
    w.introduction_action = make_action(
        w,
        "&Introduction",
        w.show_introduction,
        [QKeySequence.StandardKey.HelpContents],
        "What this app is for and where to start",
    )
    w.shortcuts_action = make_action(w, "&Keyboard shortcuts", w.show_shortcuts, (), "Every keyboard shortcut of the menus and the toolbar")
    w.eraser_button.setDefaultAction(w.eraser_action)
