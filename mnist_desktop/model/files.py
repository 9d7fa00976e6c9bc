"""Files from outside: refuse what is not a regular file, or is bigger than it can honestly be,
before a single byte is read.

A named pipe blocks ``open()`` until someone writes to it, ``/dev/zero`` never ends, and a
folder cannot be read at all: :func:`check_regular_file` answers all three with the
project's own error from ``os.stat``, which never blocks.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import MnistDesktopError


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular_file(path: Path, what: str, max_bytes: int, error: type[MnistDesktopError]) -> int:
    """The size of ``path`` if it is a regular file of at most ``max_bytes``; else ``error``.

    ``what`` names what the file should be ("checkpoint", "image"), for the message.
    """
    try:
        st = os.stat(path)  # follows symlinks: a link to a regular file is fine
    except FileNotFoundError:
        raise error(f"{path}: cannot open (no such file).") from None
    except OSError as e:
        raise error(f"{path}: cannot open ({e.strerror or e}).") from None
    if not stat.S_ISREG(st.st_mode):
        article = "an" if what[:1].lower() in "aeiou" or what.startswith("MNIST") else "a"  # an image, an MNIST ("em-") file
        raise error(f"{path}: is {_kind(st.st_mode)}, not a file; choose {article} {what} file.")
    if st.st_size > max_bytes:
        raise error(
            f"{path}: {st.st_size / 2**20:,.0f} MB is larger than any {what} this app reads "
            f"(at most {max_bytes / 2**20:,.0f} MB); choose another file."
        )
    return st.st_size


def why_folder_refuses(path: Path) -> str | None:
    """Why a new file cannot be written at ``path`` (its folder is missing, not a folder, or does
    not take a file: one is made and removed there), or None when it can. Said before the work
    that ends in the save (training, an export), not after it."""
    import tempfile

    folder = Path(path).parent
    if not folder.exists():
        return f"folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{Path(path).name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return e.strerror or str(e)
    return None
