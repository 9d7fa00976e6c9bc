"""A checkpoint as a file, without torch: where one is saved, and whether a file can be one.

:mod:`checkpoints` (which imports torch, seconds) reads and writes them; the command line
calls these first, so that a model path that names no file, or an ``--out`` in a folder
that does not exist, is refused at once and with the same message as the loader's or the
save's.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from .errors import CheckpointError, brief
from .files import check_regular_file, why_folder_refuses, why_not_replaceable
from .metadata import MAX_CHECKPOINT_BYTES


def checkpoint_path(path: str | os.PathLike) -> Path:
    """Where :func:`checkpoints.save_checkpoint` writes ``path``: with the ``.safetensors`` suffix added if missing.
    A folder's path is refused before the suffix ("/tmp" would have become /tmp.safetensors beside
    it), and a name that is not UTF-8 text too: safetensors cannot open such a file again."""
    path = Path(path)
    if path.is_dir():
        raise cannot_save(path, "it is a folder; give a file name in it")
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise cannot_save(path, "its name is not UTF-8 text, which safetensors cannot open again; use another name") from None
    return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")


def cannot_save(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{path}: cannot save ({reason}). Choose a folder you can write to, or another file name.")


def check_writable(path: str | os.PathLike) -> Path:
    """The checkpoint path for ``path`` once a file was created and removed next to it.

    Call it before work that ends in a save (training), so that a bad destination is
    reported before the work, not after it.
    """
    path = checkpoint_path(path)
    if path.is_dir():
        raise cannot_save(path, "it is a folder")
    why = why_not_replaceable(path) or why_folder_refuses(path)
    if why is not None:
        raise cannot_save(path, why)
    return path


def is_zip(path: Path) -> bool:
    """``zipfile.is_zipfile``, which raises BadZipFile for an end record claiming several disks
    (Python 3.11): such a file is a damaged zip, read as PyTorch's format and refused there."""
    try:
        return zipfile.is_zipfile(path)
    except zipfile.BadZipFile:
        return True


def checkpoint_format(path: Path) -> str:
    """Which reader opens the checkpoint file ``path``: ``"torch"`` (a zip or a pickle: PyTorch's
    format) or ``"safetensors"`` (anything else; safetensors refuses what is not one). First
    CheckpointError if it is no regular file of at most :data:`MAX_CHECKPOINT_BYTES` or cannot be read."""
    check_regular_file(path, "checkpoint", MAX_CHECKPOINT_BYTES, CheckpointError)
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot open ({e.strerror or e}).") from None
    # A safetensors file starts with its header's length (8 bytes) and then the header's "{".
    # Anything else that is a zip or a pickle is PyTorch's format; a safetensors header
    # followed by a zip is a damaged safetensors file, not a zip.
    return "torch" if head[8:9] != b"{" and (is_zip(path) or head[:1] == b"\x80") else "safetensors"


def check_checkpoint_file(path: str | os.PathLike) -> None:
    """The refusals of a checkpoint file that need no torch, with :func:`checkpoints.load_checkpoint`'s
    messages: no such file, not a regular file, too large, unreadable, or (for what is not
    PyTorch's format) a safetensors header that does not parse (``/etc/passwd``, an image)."""
    path = Path(path)
    if checkpoint_format(path) == "safetensors":
        from safetensors import safe_open  # torch-free: the header only, no tensor is read

        try:
            with safe_open(str(path), framework="numpy"):
                pass
        except Exception as e:  # safetensors raises its own error types for every malformed header
            raise CheckpointError(f"{path}: not a readable safetensors checkpoint ({brief(e)}).") from None
