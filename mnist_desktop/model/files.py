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


def why_not_replaceable(path: Path) -> str | None:
    """Why the file at ``path`` must not be replaced by a new one, or None (nothing there, or an
    ordinary file the user may write). Saves write a new file and ``os.replace`` it over the old
    one, which needs only the folder's permission, so both cases would pass silently:

    * a read-only file: the user protected it, and replacing it would undo that;
    * a symbolic link: ``os.replace`` puts a file where the link was and leaves the file it
      pointed to as it was (two different models under names meant to be one), while writing
      through the link would change a file under a name the user did not give. Neither is
      guessed: the user names the file itself (or removes the link).
    """
    try:
        st = os.lstat(path)  # the link itself, not what it points to
    except FileNotFoundError:
        return None
    except OSError as e:
        return e.strerror or str(e)
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"it is a symbolic link (to {target}); name the file itself, or remove the link first"
    # The write bits, not only os.access: for root (a container) access() says yes to every file.
    if stat.S_ISREG(st.st_mode) and (not st.st_mode & 0o222 or not os.access(path, os.W_OK)):
        return "the file there is read-only, so it is kept; make it writable first if you mean to replace it"
    return None
