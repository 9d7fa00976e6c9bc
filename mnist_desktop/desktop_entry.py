"""``mnist-desktop install-desktop-entry``: put the app in a Linux desktop's menu.

Writes the shipped ``mnist-desktop.desktop`` (its ``Exec`` pointing at this installation)
to ``$XDG_DATA_HOME/applications`` and the icon to ``$XDG_DATA_HOME/icons/hicolor/``
(``$XDG_DATA_HOME`` defaults to ``~/.local/share``), as the freedesktop.org desktop-entry and
icon-theme specifications say. Running it again rewrites the same files: it is idempotent.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .model.paths import APP_NAME, DESKTOP_ENTRY, ICON_PNG, ICON_SVG


def xdg_data_home() -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` if it is unset, empty or not absolute (as the spec says)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def _quote_exec_arg(arg: str) -> str:
    """One argument of an ``Exec`` key (desktop-entry spec, "The Exec key"). ValueError for
    a control character (a newline would end the key and start another line of the entry)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in arg):
        raise ValueError(
            f"the installation path {arg!r} holds a control character (a newline?), which a desktop entry cannot hold; "
            "install the app in a folder whose path has none"
        )
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`%="):
        return arg
    quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    # The value is also a "string" value, in which a backslash is written as \\; % as %%.
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def exec_command() -> str:
    """How a desktop starts this installation: the ``mnist-desktop`` script that is running,
    or the one next to this Python (a venv, pipx), else this Python with ``-m mnist_desktop``.
    Absolute, because the desktop session's PATH often lacks ``~/.local/bin``."""
    python = Path(sys.executable)
    running = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    candidates = [running] if running is not None and running.name == APP_NAME else []
    candidates += [python.parent / APP_NAME]
    for script in candidates:
        if script.is_file() and os.access(script, os.X_OK):
            return _quote_exec_arg(str(script.absolute()))
    return " ".join(_quote_exec_arg(a) for a in (str(python.absolute()), "-m", "mnist_desktop"))


def desktop_entry_text(exec_line: str | None = None) -> str:
    lines = DESKTOP_ENTRY.read_text(encoding="utf-8").splitlines()
    exec_line = exec_line if exec_line is not None else exec_command()
    return "\n".join(f"Exec={exec_line}" if line.startswith("Exec=") else line for line in lines) + "\n"


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically; False if it already held exactly that."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def install_desktop_entry(data_home: Path | None = None) -> list[tuple[Path, bool]]:
    """Write the desktop entry and icons; ``(path, changed)`` for each file."""
    if sys.platform in ("win32", "cygwin", "darwin"):
        raise ValueError(
            "install-desktop-entry is for Linux and other freedesktop.org desktops; on this system start the app with the mnist-desktop command"
        )
    home = data_home if data_home is not None else xdg_data_home()
    files = [
        (home / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_NAME}.png", ICON_PNG.read_bytes()),
        (home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_NAME}.svg", ICON_SVG.read_bytes()),
        (home / "applications" / f"{APP_NAME}.desktop", desktop_entry_text().encode("utf-8")),
    ]
    written = []
    for path, data in files:
        try:
            written.append((path, _write_if_changed(path, data)))
        except OSError as e:
            raise OSError(f"cannot write {path} ({e.strerror or e}). Make {home} a writable folder, or set XDG_DATA_HOME to one.") from None
    return written
