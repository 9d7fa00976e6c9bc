"""What the app remembers: its names (set before the first QSettings), the keys, and the
checks every value read back passes. A settings file is outside data like any other: a
value of the wrong type or out of range is refused, never used."""

from __future__ import annotations

import math
import os
import shutil
import stat
import tempfile
import weakref

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QAbstractSlider, QApplication, QCheckBox, QComboBox, QSpinBox, QWidget

ORGANIZATION = "mnist-desktop"
APPLICATION = "mnist-desktop"

LAST_MODEL = "model/last"
GEOMETRY = "window/geometry"
WINDOW_STATE = "window/state"
BRUSH = "canvas/brush"
TRAINING_GROUP = "training"
MY_DIGITS_FOLDER = "mydigits/folder"
THEME = "view/theme"  # "system", "light" or "dark" (View → Theme)
INTRODUCED = "help/introduced"  # the introduction was shown once, at a first launch


def name_application(app: QApplication) -> None:
    """Names first: every QSettings() after this lands in the app's own file."""
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)


def not_our_file(settings: QSettings) -> str | None:
    """Why ``settings``' file must not be written (a symbolic link, or not a regular file:
    Qt would write through the link to whatever it names), or None."""
    if settings.format() == QSettings.Format.NativeFormat and os.name == "nt":
        return None  # the registry
    path = settings.fileName()
    try:
        st = os.lstat(path)
    except OSError:
        return None  # not there yet: Qt makes a regular file
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link (to {os.readlink(path)}), which the app does not write through"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    return None


class SessionFolder:
    """A temporary folder removed when this object goes away (or at exit), quietly: a window
    dropped without closing must not leave it, nor warn that it was cleaned up implicitly."""

    def __init__(self, prefix: str):
        self.name = tempfile.mkdtemp(prefix=prefix)
        self._remove = weakref.finalize(self, shutil.rmtree, self.name, ignore_errors=True)

    def cleanup(self) -> None:
        self._remove()


def detached_copy(settings: QSettings) -> tuple[QSettings, SessionFolder]:
    """A copy of ``settings`` in a file of its own in a temporary folder: read as they were,
    changed during the session, written nowhere the user keeps. Keep the folder with it."""
    folder = SessionFolder("mnist-desktop-settings-")
    copy = QSettings(os.path.join(folder.name, "settings.ini"), QSettings.Format.IniFormat)
    for key in settings.allKeys():
        copy.setValue(key, settings.value(key))
    return copy, folder


def parse_bool(raw) -> bool | None:
    """A boolean from a settings file (INI gives 'true'/'false'), or None."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0"):
        return raw.lower() in ("true", "1")
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    return None


def parse_setting(raw, widget: QWidget):
    """``raw`` from a settings file as the value ``widget`` can show, or None if it cannot.

    INI files give strings (and lists, where the value had a comma); anything else may be
    there too: a value is used only if it has the right type and lies in the widget's range.
    """
    if isinstance(widget, QCheckBox):
        return parse_bool(raw)
    if isinstance(widget, QComboBox):
        return raw if isinstance(raw, str) and widget.findData(raw) >= 0 else None
    if isinstance(raw, (list, tuple, dict, bytes)) or isinstance(raw, bool):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number) or not (widget.minimum() <= number <= widget.maximum()):
        return None
    if isinstance(widget, (QSpinBox, QAbstractSlider)):
        return int(number) if number == int(number) else None
    return number
