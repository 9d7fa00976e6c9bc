"""My digits: a person's own drawings with their labels, kept as plain files they can read and back up.

The folder holds::

    index.json          {"format": "mnist-desktop-my-digits", "version": 1,
                         "digits": [{"id": "<32 hex>", "label": 7, "added": "<ISO time>"}, ...]}
    drawings/<id>.png   the drawing as the canvas gave it (white ink on black, any size)
    28x28/<id>.png      what the model sees (``to_mnist``), its label in a PNG text chunk
    .lock               taken (``fcntl.flock``) around every change of the index
    .cache-28x28        the 28×28 images of the last open, so that the next one decodes only new files

This is the one thing in the app that cannot be retrained, so it is kept like a database:

* Every read is guarded: a regular file (never a FIFO or device), a size cap, a pixel cap read
  from the PNG header before anything is decoded, and every decoder error caught. A file that
  cannot be read is skipped with a note in :attr:`MyDigits.notes` and never removed.
* Every write is new-then-replace (``os.replace``): the folder holds the old index or the new
  one at every instant, never none. The index is never written larger than the app reads.
* A folder with 28×28 files but no usable index (damaged, missing, not ours) is rebuilt from
  the files' label chunks, never read as empty; a damaged index is kept beside the new one.
* Every change re-reads the index under the lock first (unless it is the very file this store
  last read or wrote: same inode, mtime and size), so two windows (or processes) adding at the
  same time both keep their drawings, and the same digit is never listed twice.
* At open, complete orphans (both PNGs, a label chunk: what a killed import or add leaves) are
  adopted, and the app's own stale temporary files removed; nothing else is ever deleted.
* New files get the permissions the umask gives (0644 by default): they are the user's to keep.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import gc
import hashlib
import io
import json
import os
import random
import re
import stat
import struct
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError, EmptyImageError, MnistDesktopError, brief
from .files import check_regular_file
from .preprocess import to_mnist

try:  # POSIX
    import fcntl
except ImportError:  # Windows: no advisory locks here; writes stay atomic, concurrent adds may race
    fcntl = None

FORMAT = "mnist-desktop-my-digits"
VERSION = 1
INDEX = "index.json"
LOCK = ".lock"
CACHE = ".cache-28x28"
DRAWINGS = "drawings"
SMALL = "28x28"
ID = re.compile(r"[0-9a-f]{32}")
ID_RUN = re.compile(r"[0-9a-f]*")  # ids end to end, each 32 long
MAX_SIDE = 8192  # a drawing larger than this on either side is not a canvas drawing
MAX_PIXELS = 4096 * 4096  # nor one of more pixels: decoding and to_mnist stay within ~150 MB
MAX_PNG_BYTES = 64 * 2**20
MAX_SMALL_BYTES = 2**20  # a 28×28 PNG is under 1 KB
MAX_INDEX_BYTES = 64 * 2**20
MAX_CACHE_BYTES = 2**30
# Zip import: limits that a real export stays far below and a zip bomb does not.
MAX_ZIP_MEMBERS = 200_000
MAX_ZIP_DIRECTORY = MAX_ZIP_MEMBERS * 128  # bytes of central directory (each of our entries takes ~90)
MAX_ZIP_TOTAL = 2 * 2**30
MAX_ZIP_RATIO = 200  # uncompressed / compressed, per member (PNGs are compressed already)
# Zip import decodes this many digits (and at most this many bytes of PNG) ahead of the one it
# adds, on at most IMPORT_THREADS threads (Pillow's and zlib's decoders let go of the GIL).
IMPORT_AHEAD = 64
IMPORT_AHEAD_BYTES = 64 * 2**20
IMPORT_THREADS = 4
ZIP_READ_AHEAD = 2**20
# A drawing of more pixels than this is decoded by one thread at a time (up to ~150 MB each for
# the largest): the import's peak memory stays that of one such drawing, as on one thread.
IMPORT_LARGE_PIXELS = 2**20
ZIP_MEMBER = re.compile(rf"(?:{INDEX}|(?:{DRAWINGS}|{SMALL})/[0-9a-f]{{32}}\.png)")
# The app's own temporary files (``_write_atomic``): removed at open once they are this old.
OWN_TMP = re.compile(r"\.(?:index\.json|\.cache-28x28|[0-9a-f]{32}\.png)\.[a-z0-9_]{8}\.tmp")
STALE_TMP_S = 600
# Rewrite the cache at open when this many images had to be decoded (or this many are stale):
# an add or two since the last write costs the next open next to nothing.
CACHE_REWRITE = 64
CACHE_MAGIC = b"MDC1"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Cancelled(MnistDesktopError):
    """An import or export was cancelled: nothing was changed."""


def default_digits_folder() -> Path:
    """Where My digits live unless the user chooses another folder: ``<user data>/my-digits``."""
    from .paths import user_data_dir

    return user_data_dir() / "my-digits"


def _label(label) -> int:
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise ValueError(f"a label is a digit from 0 to 9, not {label!r}")
    return int(label)


def _png_bytes(image: np.ndarray, label: int | None = None) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if label is not None:
        info.add_text("label", str(label))
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode="L").save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (nothing decoded); ValueError if it is not a
    PNG, not 8-bit grayscale, or has more pixels than any drawing (a decompression bomb)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file (no header chunk)")
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    if depth != 8 or color != 0:
        raise ValueError(f"a PNG of bit depth {depth} and colour type {color}, not 8-bit grayscale")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise ValueError(f"{width}×{height} pixels is too large for a drawing")
    return width, height


@contextlib.contextmanager
def _png_image(data: bytes, small: bool) -> Iterator:
    """A grayscale PNG opened and decoded by Pillow; ValueError for anything else.

    The size is checked from the header before Pillow decodes a byte, and whatever Pillow
    raises on a hostile file (decompression bombs, deep recursion, memory) becomes a
    ValueError: a caller's ``except ValueError`` sees every failure. No warnings filter is
    set here: ``warnings.catch_warnings`` is process-wide state, and this runs on several
    threads at once (zip import); the header's pixel cap keeps Pillow far below the size
    at which it warns of a decompression bomb.
    """
    width, height = png_size(data)
    if small and (width, height) != (28, 28):
        raise ValueError(f"{width}×{height} pixels, not 28×28")
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
            if im.mode != "L" or im.size != (width, height):
                raise ValueError(f"a {im.mode} image of {im.width}×{im.height}, not the 8-bit grayscale its header says")
            im.load()
            yield im
    except ValueError:
        raise
    except (Exception, RecursionError, MemoryError) as e:  # noqa: BLE001 - a decoder's every failure is "not readable"
        raise ValueError(f"{type(e).__name__}: {brief(e, 120)}") from None


def _decode_png(data: bytes, small: bool) -> tuple[np.ndarray, int | None]:
    """A grayscale PNG's pixels (and its label chunk, if any); ValueError for anything else
    (:func:`_png_image`)."""
    with _png_image(data, small) as im:
        pixels = np.asarray(im, dtype=np.uint8).copy()
        label = im.text.get("label") if hasattr(im, "text") else None
        if pixels.shape != (im.height, im.width):
            raise ValueError("the pixels do not match the header")
    return pixels, (int(label) if isinstance(label, str) and label in tuple("0123456789") else None)


def _png_has_ink(data: bytes) -> bool:
    """Whether a grayscale PNG has a pixel that is not black, its pixels decoded but not
    copied out; ValueError if it cannot be read (:func:`_png_image`)."""
    with _png_image(data, small=False) as im:
        return im.getbbox() is not None


def _read_file(path: Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (never blocks on a FIFO, never
    reads a device or an endless file); DataError otherwise."""
    check_regular_file(path, what, max_bytes, DataError)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise DataError(f"{path}: cannot open ({e.strerror or e}).") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since the check
            raise DataError(f"{path}: is not a regular file.")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DataError(f"{path}: larger than any {what} this app reads.")
    return data


# Temporary names need only be unlikely to collide (O_EXCL makes a collision a retry, never a
# clobber): a seeded generator, not a system call for each of an import's 20,000 files.
_tmp_names = random.Random()


def _tmp_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{_tmp_names.getrandbits(32):08x}.tmp"


def _write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    """Write ``data`` to a new file beside ``path`` and move it into place: readers see the
    old file or the new one. The new file's mode is 0666 less the umask, like any file the
    user makes (``mkstemp`` would make it 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = _tmp_name(path)
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"{path.parent}: cannot make a temporary file")
    try:
        try:  # plain writes: an import makes 20,000 of these files, and a file object costs more than the write
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _gc_paused():
    """Python's cycle collector held off while an index of 10,000 entries is parsed and taken
    in: those dicts and tuples hold no cycles, and each collection they would trigger walks
    every object of the window (0.1 s and more in a full one)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _digest(image: np.ndarray, label: int) -> bytes:
    """What makes two digits the same: the same 28×28 pixels with the same label."""
    return hashlib.blake2b(bytes([label]) + np.ascontiguousarray(image, dtype=np.uint8).tobytes(), digest_size=16).digest()


def _entry_ok(item) -> bool:
    ident = item.get("id") if isinstance(item, dict) else None
    label = item.get("label") if isinstance(item, dict) else None
    return isinstance(ident, str) and bool(ID.fullmatch(ident)) and type(label) is int and 0 <= label <= 9


def _valid_entries(raw: list) -> list[tuple[str, int]] | None:
    """``(id, label)`` of each entry when every one is an id and a label from 0 to 9 and no
    id is listed twice (checked a list at a time: 10,000 entries in milliseconds); None
    otherwise, for :func:`_entry_ok` to find which."""
    try:
        ids = [item["id"] for item in raw]
        labels = [item["label"] for item in raw]
        if not (set(map(type, ids)) <= {str} and set(map(len, ids)) <= {32} and set(map(type, labels)) <= {int}):
            return None
        if labels and not 0 <= min(labels) <= max(labels) <= 9 or len(set(ids)) != len(ids):
            return None
        if not ID_RUN.fullmatch("".join(ids)):
            return None
    except (TypeError, KeyError, IndexError):
        return None
    return list(zip(ids, labels))


@dataclass
class Removed:
    """A deleted digit as :meth:`MyDigits.restore` brings it back: its index entry and the
    bytes of its two files (None where a file could not be read)."""

    entry: dict
    drawing: bytes | None
    small: bytes | None


@dataclass
class ExportResult:
    """What :meth:`MyDigits.export_zip` wrote: the zip, how many digits, and the digits it
    left out (one note each: a file that could not be read)."""

    path: Path
    digits: int
    skipped: list[str] = field(default_factory=list)

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def _zip_entry_count(path: Path) -> None:
    """Refuse a zip whose end-of-central-directory record declares more members (or a larger
    directory) than a My digits export has, before ``zipfile`` parses a byte of it."""
    size = os.stat(path).st_size
    with open(path, "rb") as f:
        tail_len = min(size, 65_535 + 22)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise DataError(f"{path}: not a readable zip file (no end-of-central-directory record).")
        _, _, _, _, entries, cd_size, _, _ = struct.unpack("<4sHHHHIIH", tail[at : at + 22])
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:  # ZIP64: the counts are in the ZIP64 record
            locator = tail[at - 20 : at] if at >= 20 else b""
            if not locator.startswith(b"PK\x06\x07"):
                raise DataError(f"{path}: a damaged ZIP64 zip file.")
            (record_at,) = struct.unpack("<Q", locator[8:16])
            if record_at > size - 56:
                raise DataError(f"{path}: a damaged ZIP64 zip file.")
            f.seek(record_at)
            record = f.read(56)
            if not record.startswith(b"PK\x06\x06"):
                raise DataError(f"{path}: a damaged ZIP64 zip file.")
            entries, cd_size = struct.unpack("<QQ", record[32:48])
    if entries > MAX_ZIP_MEMBERS or cd_size > MAX_ZIP_DIRECTORY:
        raise DataError(f"{path}: {entries:,} files, more than any My digits export has.")


class _ZipReader:
    """A zip file as ``zipfile`` reads it (``read``, ``seek``, ``tell``), read ahead
    :data:`ZIP_READ_AHEAD` bytes at a time. ``zipfile`` on a plain file makes three system
    calls per member (each a release and re-take of the GIL that the decoding threads
    share); an export's members are read in order, so this makes one per megabyte. Opened
    without following a FIFO's writer, and refused unless it is a regular file."""

    def __init__(self, path: Path):
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
        st = os.fstat(self._fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(self._fd)
            raise DataError(f"{path}: is not a regular file.")
        self._size, self._pos, self._at, self._buffer = st.st_size, 0, 0, b""

    def __enter__(self) -> _ZipReader:
        return self

    def __exit__(self, *exc) -> None:
        os.close(self._fd)

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        pos = (0, self._pos, self._size)[whence] + offset
        if pos < 0:
            raise OSError(22, "a seek before the start of the file")
        self._pos = pos
        return pos

    def _read_at(self, size: int, pos: int) -> bytes:
        if hasattr(os, "pread"):
            return os.pread(self._fd, size, pos)
        os.lseek(self._fd, pos, os.SEEK_SET)
        return os.read(self._fd, size)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self._size - self._pos)
        start = self._pos - self._at
        if 0 <= start and start + size <= len(self._buffer):
            data = self._buffer[start : start + size]
        elif size >= ZIP_READ_AHEAD:
            data = self._read_at(size, self._pos)
        else:
            self._buffer, self._at = self._read_at(ZIP_READ_AHEAD, self._pos), self._pos
            data = self._buffer[:size]
        self._pos += len(data)
        return data


def _import_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(IMPORT_THREADS, cores))


def _import_digit(
    path: Path, ident: str, label: int, drawing_png: bytes, small_png: bytes | None, large: threading.Lock
) -> tuple[np.ndarray, bytes, bytes]:
    """One digit of a zip being imported, checked: its 28×28 pixels, their PNG and their digest.

    DataError if the drawing is not a readable, non-empty grayscale PNG. The zip's own 28×28
    is used when it is one with this label (decoding it costs a tenth of making it anew
    from the drawing); otherwise it is made anew. Runs on the import's threads: it touches
    nothing but its arguments; ``large`` is held while a drawing of more than
    :data:`IMPORT_LARGE_PIXELS` is decoded."""
    try:
        width, height = png_size(drawing_png)
    except ValueError:
        width = height = 0  # refused by _png_image below, with the member's name
    with large if width * height > IMPORT_LARGE_PIXELS else contextlib.nullcontext():
        return _import_checked(path, ident, label, drawing_png, small_png)


def _import_checked(path: Path, ident: str, label: int, drawing_png: bytes, small_png: bytes | None) -> tuple[np.ndarray, bytes, bytes]:
    member = f"{DRAWINGS}/{ident}.png"
    small = None
    if small_png is not None:
        with contextlib.suppress(ValueError):
            pixels, found = _decode_png(small_png, small=True)
            if found == label:
                small = pixels
    try:
        if small is not None:  # the drawing checked, its pixels not needed
            ink = _png_has_ink(drawing_png)
        else:  # none in the zip (or not of this label, or not readable): made anew
            drawing, _ = _decode_png(drawing_png, small=False)
            ink = bool(drawing.any())
    except ValueError as err:
        raise DataError(f"{path}: {member} is not a readable grayscale PNG ({str(err)[:120]}).") from None
    if not ink:
        raise DataError(f"{path}: the drawing {member} is empty.")
    if small is None:
        small = np.round(to_mnist(drawing) * 255).astype(np.uint8)
        small_png = _png_bytes(small, label)
    return small, small_png, _digest(small, label)


def _import_write(files: tuple[tuple[Path, bytes], ...], written: list[Path]) -> tuple[int, int, int]:
    """Write a digit's files new-then-replace, each noted in ``written`` once in place; the
    key (size, mtime_ns, inode) of the last (its 28×28). Runs on the import's threads."""
    for where, data in files:
        _write_atomic(where, data, sync=False)
        written.append(where)
    st = os.stat(files[-1][0])
    return st.st_size, st.st_mtime_ns, st.st_ino


class MyDigits:
    """A folder of a person's own digits. ``len()``, iteration ``(id, label, image28)``,
    :meth:`images` and :meth:`labels` show what the folder holds now (re-read when another
    window has changed it).

    ``read_only``: open without creating or changing anything (no folders made, no orphans
    adopted, no cache written); every change raises DataError. ``evaluate --digits`` uses it.
    """

    def __init__(self, folder: str | os.PathLike, read_only: bool = False):
        self.folder = Path(folder).expanduser()
        self.read_only = read_only
        self.notes: list[str] = []
        self._entries: list[tuple[str, int]] = []  # (id, label) of the readable digits, in order
        self._images: dict[str, np.ndarray] = {}  # id → uint8 (28, 28)
        self._keys: dict[str, tuple[int, int, int]] = {}  # id → (size, mtime_ns, inode) of its 28×28 file
        self._cached: dict[str, tuple[int, int, int]] = {}  # id → key of each image the cache file holds
        self._foreign_notes: list[str] = []
        self._hidden: list[Path] = []  # names starting with "." (the app's temporary files among them)
        self._orphans: list[str] = []  # ids of 28×28 files the index does not list
        self._stamp = None
        self._raw: list | None = None  # the entries of the index as last read or written (its stamp: _stamp)
        if read_only:
            if not self.folder.is_dir():
                raise DataError(f"{self.folder}: no such folder.")
        else:
            try:
                for sub in ("", DRAWINGS, SMALL):
                    (self.folder / sub).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                if not self.folder.is_dir():
                    raise DataError(f"{self.folder}: cannot open or create the My digits folder ({e.strerror or e}).") from None
        self._sync(force=True)
        if not read_only:
            if self._stamp is None and not self._entries and not os.path.lexists(self.index_path) and not self._has_small_files():
                # A new collection gets its (empty) index at once: from then on a missing index
                # means a damaged folder, which is rebuilt from its files.
                with contextlib.suppress(DataError):
                    self._change(lambda raw: raw)
            self._tidy()

    # ---- reading ----------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX

    def _has_small_files(self) -> bool:
        with contextlib.suppress(OSError), os.scandir(self.folder / SMALL) as it:
            return any(ID.fullmatch(e.name[:-4]) and e.name.endswith(".png") for e in it)
        return False

    def _read_index(self, notes: list[str]) -> tuple[list, bool, bytes | None]:
        """The raw entries of the index, whether it was usable, and its bytes (if it was read).
        A missing index is an empty collection only if there are no 28×28 files either."""
        path = self.index_path
        if not os.path.lexists(path):
            if self._has_small_files():
                notes.append(f"{path}: missing; the digits were recovered from their 28×28 files.")
                return [], False, None
            return [], True, None
        data = None
        try:
            data = _read_file(path, "index", MAX_INDEX_BYTES)
            parsed = json.loads(data)
        except (DataError, OSError, ValueError, RecursionError, MemoryError) as e:
            what = "too deeply nested" if isinstance(e, RecursionError) else brief(e, 160)
            notes.append(f"{path}: the index is damaged or unreadable ({what}); the digits were recovered from their 28×28 files.")
            return [], False, data
        if not (isinstance(parsed, dict) and parsed.get("format") == FORMAT and isinstance(parsed.get("digits"), list)):
            notes.append(f"{path}: not a My digits index; the digits were recovered from their 28×28 files.")
            return [], False, data
        return parsed["digits"], True, data

    def _read_small(self, path: Path) -> tuple[np.ndarray, int | None, tuple[int, int, int]]:
        """A 28×28 file's pixels, label and key; DataError or ValueError if it cannot be read."""
        data = _read_file(path, "28×28 PNG", MAX_SMALL_BYTES)
        st = os.stat(path)
        pixels, label = _decode_png(data, small=True)
        return pixels, label, (st.st_size, st.st_mtime_ns, st.st_ino)

    def _recover(self, notes: list[str]) -> list[dict]:
        """Entries rebuilt from the 28×28 files (their label chunks), for a missing or damaged index."""
        found = []
        try:
            with os.scandir(self.folder / SMALL) as it:
                names = [e.name for e in it if e.name.endswith(".png") and ID.fullmatch(e.name[:-4])]
        except OSError as e:
            notes.append(f"{self.folder / SMALL}: cannot be read ({e.strerror or e}); no digits could be recovered.")
            return []
        for name in names:
            path = self.folder / SMALL / name
            try:
                pixels, label, key = self._read_small(path)
            except (DataError, OSError, ValueError) as e:
                notes.append(f"{path}: skipped, not a readable 28×28 PNG ({brief(e, 120)}).")
                continue
            if label is None:
                notes.append(f"{path}: skipped, its label is not recorded in the file.")
                continue
            self._images[name[:-4]], self._keys[name[:-4]] = pixels, key
            found.append((key[1], name[:-4], label))
        found.sort()
        return [{"id": ident, "label": label, "added": "recovered"} for _, ident, label in found]

    def _stat(self):
        try:
            st = os.stat(self.index_path)
            return (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def _sync(self, force: bool = False) -> None:
        """Re-read the folder if the index changed since the last read."""
        stamp = self._stat()
        if not force and stamp == self._stamp and stamp is not None:
            return
        notes: list[str] = []
        with _gc_paused():
            raw, ok, _ = self._read_index(notes)
            self._raw = raw if ok else None
            if not ok:
                raw = self._recover(notes)
            self._load(raw, notes)
        self._stamp = stamp

    def _read_cache(self) -> tuple[dict[str, int], list[tuple[int, int, int]], np.ndarray]:
        """The images of the last open: id → row, each row's file key, and the images (one
        array, read in one go); empty if the cache is missing or unusable.

        Binary, read without a parser: ``MDC1``, the count N (uint32), N ids (16 bytes each),
        N keys (3 int64 each: size, mtime_ns, inode), N 28×28 images (uint8)."""
        empty = ({}, [], np.zeros((0, 28, 28), np.uint8))
        path = self.folder / CACHE
        try:
            data = _read_file(path, "cache", MAX_CACHE_BYTES)
            if not data.startswith(CACHE_MAGIC) or len(data) < 8:
                return empty
            (n,) = struct.unpack("<I", data[4:8])
            if len(data) != 8 + n * (16 + 24 + 784):
                return empty
            hexed = data[8 : 8 + 16 * n].hex()
            ids = [hexed[k : k + 32] for k in range(0, 32 * n, 32)]
            keys = list(map(tuple, np.frombuffer(data, dtype="<i8", count=3 * n, offset=8 + 16 * n).reshape(n, 3).tolist()))
            images = np.frombuffer(data, dtype=np.uint8, offset=8 + 40 * n).reshape(n, 28, 28)
            rows = dict(zip(ids, range(n)))
            self._cached = dict(zip(ids, keys))
            return rows, keys, images
        except (DataError, OSError, ValueError, struct.error, MemoryError):
            return empty

    def _write_cache(self) -> None:
        ids = [i for i, _ in self._entries if i in self._keys]
        head = CACHE_MAGIC + struct.pack("<I", len(ids)) + bytes.fromhex("".join(ids))
        keys = np.array([self._keys[i] for i in ids], dtype="<i8").reshape(-1, 3).tobytes()
        body = np.stack([self._images[i] for i in ids]).tobytes() if ids else b""
        with contextlib.suppress(OSError):
            _write_atomic(self.folder / CACHE, head + keys + body, sync=False)
            self._cached = {i: self._keys[i] for i in ids}

    def _load(self, raw: list, notes: list[str], scan: bool = True) -> None:
        """Take ``raw`` (the index's entries) as the collection: each image from memory, the
        cache or its file. ``scan``: list the folder for files that are not ours (at open, and
        when another window changed the index); after a change of ours, the last scan's notes
        are kept."""
        valid = _valid_entries(raw)
        if valid is None:  # something to say about some entry: one at a time
            valid, seen = [], set()
            for i, item in enumerate(raw):
                if not _entry_ok(item):
                    notes.append(f"{self.index_path}: entry {i + 1} skipped, it is not an id and a label from 0 to 9 ({str(item)[:80]}).")
                    continue
                ident = item["id"]
                if ident in seen:
                    notes.append(f"{self.index_path}: entry {i + 1} skipped, a second entry for {ident}.")
                    continue
                seen.add(ident)
                valid.append((ident, item["label"]))
        else:
            seen = {ident for ident, _ in valid}
        entries: list[tuple[str, int]] = []
        images = self._images
        unknown = sum(1 for ident, _ in valid if ident not in images)
        cache = None if unknown >= 16 else ({}, [], None)  # a few new digits: decoded, the cache not read
        small_dir = os.path.join(self.folder, SMALL)
        dir_fd = None
        if unknown and os.stat in os.supports_dir_fd:  # a stat by name in the open folder: no path to walk each time
            with contextlib.suppress(OSError):
                dir_fd = os.open(small_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            for ident, label in valid:
                if ident not in images:
                    name = ident + ".png"
                    try:
                        st = os.stat(name, dir_fd=dir_fd) if dir_fd is not None else os.stat(os.path.join(small_dir, name))
                        key = (st.st_size, st.st_mtime_ns, st.st_ino)
                        if cache is None:
                            cache = self._read_cache()
                        row = cache[0].get(ident)
                        if row is not None and cache[1][row] == key and stat.S_ISREG(st.st_mode):
                            self._images[ident], self._keys[ident] = cache[2][row], key
                        else:
                            self._images[ident], _, self._keys[ident] = self._read_small(Path(small_dir, name))
                    except (DataError, OSError, ValueError) as e:
                        path = os.path.join(small_dir, name)
                        missing = not os.path.lexists(path)
                        notes.append(f"{path}: skipped, {'missing' if missing else 'not a readable 28×28 PNG'} ({brief(e, 120)}).")
                        continue
                entries.append((ident, label))
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        for ident in set(self._images) - seen:
            del self._images[ident]
            self._keys.pop(ident, None)
        if scan:
            self._foreign_notes = self._foreign(seen)
        else:
            self._foreign_notes = [n for n in self._foreign_notes if Path(n.split(": ", 1)[0]).stem not in seen]
        notes.extend(self._foreign_notes)
        self._entries = entries
        self.notes = notes
        # Rewritten when many images are not in it (the next open would decode them), or it
        # holds many that are gone: an add or two costs the next open next to nothing.
        # An image is in the cache only with its file's current key: a digit deleted and
        # brought back (new files) would otherwise be decoded again at every open.
        cached, keys = self._cached, self._keys
        uncached = sum(1 for ident, _ in entries if cached.get(ident) != keys.get(ident))
        gone = len(cached) - (len(entries) - uncached)
        if not self.read_only and (uncached >= CACHE_REWRITE or gone >= 16 * CACHE_REWRITE):
            self._write_cache()

    def _foreign(self, known: set[str]) -> list[str]:
        """Notes on files that are not part of the collection (left alone, never deleted).
        Also remembers the folder's hidden names (the app's temporary files among them) and
        the 28×28 files the index does not list (orphans), for :meth:`_tidy`."""
        out = []
        self._hidden, self._orphans = [], []
        try:
            names = os.listdir(self.folder)
        except OSError:
            names = []
        for name in sorted(names):
            if name.startswith("."):
                self._hidden.append(self.folder / name)
            elif name not in (INDEX, LOCK, DRAWINGS, SMALL) and not name.startswith(f"{INDEX}.damaged"):
                out.append(f"{self.folder / name}: not part of My digits; ignored.")
        expected = {ident + ".png" for ident in known}
        for sub in (DRAWINGS, SMALL):
            try:
                names = set(os.listdir(self.folder / sub))
            except OSError:
                continue
            for name in sorted(names - expected):  # set arithmetic: 10,000 names cost milliseconds
                if name.startswith("."):
                    self._hidden.append(self.folder / sub / name)
                    continue
                out.append(f"{self.folder / sub / name}: not in the index; ignored.")
                if sub == SMALL and name.endswith(".png") and ID.fullmatch(name[:-4]):
                    self._orphans.append(name[:-4])
        return out

    def summary(self) -> str:
        """The notes in one line ("" if there are none): how many files were skipped, and the first reason."""
        if not self.notes:
            return ""
        more = f" (and {len(self.notes) - 1} more)" if len(self.notes) > 1 else ""
        return f"My digits skipped {len(self.notes)} file{'s' if len(self.notes) > 1 else ''} or entr{'ies' if len(self.notes) > 1 else 'y'}: {self.notes[0]}{more}"

    def __len__(self) -> int:
        self._sync()
        return len(self._entries)

    def __iter__(self) -> Iterator[tuple[str, int, np.ndarray]]:
        self._sync()
        for ident, label in list(self._entries):
            yield ident, label, self._images[ident]

    def __contains__(self, ident: object) -> bool:
        self._sync()
        return any(ident == i for i, _ in self._entries)

    def ids(self) -> list[str]:
        self._sync()
        return [i for i, _ in self._entries]

    def images(self) -> np.ndarray:
        """uint8 ``(N, 28, 28)``: the digits as the model sees them (``to_mnist``)."""
        self._sync()
        if not self._entries:
            return np.zeros((0, 28, 28), np.uint8)
        return np.stack([self._images[i] for i, _ in self._entries])

    def labels(self) -> np.ndarray:
        """int64 ``(N,)``: the digit each one is."""
        self._sync()
        return np.array([label for _, label in self._entries], dtype=np.int64)

    def label(self, ident: str) -> int:
        self._sync()
        for i, label in self._entries:
            if i == ident:
                return label
        raise KeyError(ident)

    def drawing(self, ident: str) -> np.ndarray:
        """The drawing as it was saved (uint8, any size), e.g. to put it back on the canvas."""
        self.label(ident)  # KeyError if unknown
        path = self.folder / DRAWINGS / f"{ident}.png"
        try:
            return _decode_png(_read_file(path, "PNG", MAX_PNG_BYTES), small=False)[0]
        except (DataError, OSError, ValueError) as e:
            raise DataError(f"{path}: cannot read the drawing ({brief(e, 160)}).") from None

    # ---- changing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self):
        path = self.folder / LOCK
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o666)  # never through a link: nothing is made outside the folder
        except OSError as e:
            if os.path.islink(path):
                raise DataError(
                    f"{path}: is a symbolic link, which the app does not follow; remove it (the app makes its own). Nothing was changed."
                ) from None
            raise self._cannot_write(e) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise DataError(f"{path}: is not a regular file; remove it (the app makes its own). Nothing was changed.")
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _cannot_write(self, e: OSError) -> DataError:
        return DataError(
            f"{self.folder}: cannot save to My digits ({e.strerror or e}); the folder may be read-only or the disk full. "
            "Nothing was changed: your digits are as they were. Choose another folder in the settings."
        )

    def _change(self, edit: Callable[[list], list]) -> None:
        """Re-read the index under the lock, apply ``edit(raw_entries) -> raw_entries``, write it back.

        The index is not parsed again when it is the very file last read (same inode, mtime
        and size under the lock: every write of the app makes a new file), so a change to a
        large collection costs one write. ``edit`` returns a new list and never changes the
        entries it is given. The new index replaces the old one in one step; a damaged one is
        first copied aside (never moved: if the write fails, the folder is as it was).
        """
        if self.read_only:
            raise DataError(f"{self.folder}: opened read-only; nothing was changed.")
        try:
            with self._locked(), _gc_paused():
                notes: list[str] = []
                if self._raw is not None and self._stamp is not None and self._stat() == self._stamp:
                    raw, ok, old = self._raw, True, None
                else:
                    raw, ok, old = self._read_index(notes)
                self._raw = None  # until the new index is in place
                if not ok:
                    raw = self._recover(notes)
                raw = edit(list(raw))
                data = json.dumps({"format": FORMAT, "version": VERSION, "digits": raw}, separators=(",", ":")).encode()
                if len(data) > MAX_INDEX_BYTES:
                    raise DataError(
                        f"{self.folder}: My digits is full: the index would be {len(data) / 2**20:,.0f} MB, more than the "
                        f"{MAX_INDEX_BYTES / 2**20:,.0f} MB the app reads. Nothing was changed; export some digits and keep "
                        "them in another folder."
                    )
                if not ok and old is not None:  # keep the damaged index for a person to look at
                    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
                    _write_atomic(self.folder / f"{INDEX}.damaged-{stamp}", old)
                _write_atomic(self.index_path, data)
                self._load(raw, notes, scan=False)
                self._stamp = self._stat()
                self._raw = raw
        except OSError as e:
            self._sync(force=True)
            raise self._cannot_write(e) from None
        except DataError:
            self._sync(force=True)
            raise

    def _tidy(self) -> None:
        """At open: remove the app's own stale temporary files, adopt complete orphans."""
        now = time.time()
        for path in self._hidden:
            try:
                st = os.lstat(path)
                if OWN_TMP.fullmatch(path.name) and stat.S_ISREG(st.st_mode) and now - st.st_mtime > STALE_TMP_S:
                    os.unlink(path)
            except OSError:
                continue
        orphans = list(self._orphans)
        if not orphans:
            return
        adopt = []
        for ident in orphans:
            if not (self.folder / DRAWINGS / f"{ident}.png").is_file():
                continue
            with contextlib.suppress(DataError, OSError, ValueError):
                _, label, _ = self._read_small(self.folder / SMALL / f"{ident}.png")
                if label is not None:
                    adopt.append({"id": ident, "label": label, "added": "adopted"})
        if adopt:
            with contextlib.suppress(DataError):
                self._change(lambda raw: raw + [e for e in adopt if e["id"] not in {r.get("id") for r in raw if isinstance(r, dict)}])

    @staticmethod
    def _prepare(drawing, label) -> tuple[np.ndarray, int, np.ndarray]:
        label = _label(label)
        drawing = np.asarray(drawing)
        if (
            drawing.ndim != 2
            or drawing.dtype != np.uint8
            or min(drawing.shape) < 1
            or max(drawing.shape) > MAX_SIDE
            or drawing.size > MAX_PIXELS
        ):
            raise ValueError(f"a drawing is a 2-D uint8 image of at most {MAX_SIDE} pixels a side, not {drawing.dtype} {drawing.shape}")
        if not drawing.any():
            raise EmptyImageError("the drawing is empty: draw a digit first")
        return drawing, label, np.round(to_mnist(drawing) * 255).astype(np.uint8)

    def add(self, drawing, label) -> str:
        """Save ``drawing`` (2-D uint8, white ink on black, as the canvas gives it) as a ``label``; its id.

        EmptyImageError for a drawing with no ink; ValueError for a label that is not 0–9 or
        an array that is not a drawing; DataError if the folder cannot be written.
        """
        drawing, label, small = self._prepare(drawing, label)
        ident = uuid.uuid4().hex
        self._write_digits(
            [({"id": ident, "label": label, "added": _now()}, _png_bytes(drawing), _png_bytes(small, label))],
            sync=True,
            images={ident: small},
        )
        return ident

    def _write_digits(self, items: list[tuple[dict, bytes | None, bytes | None]], sync: bool, images: dict | None = None) -> None:
        """Write each ``(entry, drawing PNG, 28×28 PNG)``'s files (None: already in place),
        then add the entries to the index in one change (an id already listed is not listed
        twice); on failure take the files back."""
        if self.read_only:
            raise DataError(f"{self.folder}: opened read-only; nothing was changed.")
        written: list[Path] = []
        try:
            for entry, drawing_png, small_png in items:
                ident = entry["id"]
                for path, data in (
                    (self.folder / DRAWINGS / f"{ident}.png", drawing_png),
                    (self.folder / SMALL / f"{ident}.png", small_png),
                ):
                    if data is not None:
                        _write_atomic(path, data, sync=sync)
                        written.append(path)
            for ident, small in (images or {}).items():  # known already: the index's reload need not decode them
                st = os.stat(self.folder / SMALL / f"{ident}.png")
                self._images[ident], self._keys[ident] = small, (st.st_size, st.st_mtime_ns, st.st_ino)
            new = [entry for entry, _, _ in items]
            ids = {e["id"] for e in new}

            def edit(raw):
                have = {e.get("id") for e in raw if isinstance(e, dict)} & ids
                return raw + [e for e in new if e["id"] not in have]

            self._change(edit)
        except (OSError, DataError) as e:
            # Take back what this write added, unless an index lists it (another window's
            # write of the same digit); a damaged index lists nothing.
            raw, ok, _ = self._read_index([])
            listed = {item["id"] for item in raw if _entry_ok(item)} if ok else set()
            for path in written:
                if path.stem not in listed:
                    with contextlib.suppress(OSError):
                        path.unlink()
            self._sync(force=True)
            raise e if isinstance(e, DataError) else self._cannot_write(e) from None

    def remove(self, ident: str) -> None:
        """Delete a digit (its entry and its files). KeyError if there is no such digit."""
        self._sync()
        if ident not in {i for i, _ in self._entries}:
            raise KeyError(ident)
        self.remove_many([ident])

    def remove_many(self, ids: Iterable[str]) -> list[Removed]:
        """Delete the digits ``ids`` (unknown ones are ignored) with one write of the index;
        what :meth:`restore` needs to bring them back."""
        self._sync()
        wanted = set(ids) & {i for i, _ in self._entries}
        if not wanted:
            return []
        removed: list[Removed] = []

        def edit(raw):
            keep = []
            for e in raw:
                if isinstance(e, dict) and e.get("id") in wanted:
                    removed.append(Removed(dict(e), None, None))
                else:
                    keep.append(e)
            return keep

        # Read the files first (for undo), then drop the entries, then the files: a crash in
        # between leaves orphans, which the next open adopts (a digit back, never one lost).
        kept = {}
        for ident in wanted:
            files = []
            for sub, cap in ((DRAWINGS, MAX_PNG_BYTES), (SMALL, MAX_SMALL_BYTES)):
                try:
                    files.append(_read_file(self.folder / sub / f"{ident}.png", "PNG", cap))
                except (DataError, OSError):
                    files.append(None)
            kept[ident] = files
        self._change(edit)
        for r in removed:
            r.drawing, r.small = kept.get(r.entry["id"], (None, None))
            for sub in (DRAWINGS, SMALL):
                with contextlib.suppress(OSError):
                    (self.folder / sub / f"{r.entry['id']}.png").unlink()
        return removed

    def restore(self, removed: Iterable[Removed]) -> int:
        """Bring back digits :meth:`remove_many` deleted (one write of the index); how many."""
        self._sync()
        present = {i for i, _ in self._entries}
        items = [
            (dict(r.entry), r.drawing, r.small)
            for r in removed
            if _entry_ok(r.entry) and r.small is not None and r.entry["id"] not in present
        ]
        if items:
            self._write_digits(items, sync=False)  # one fsync, of the index: an undo of 300 stays well under a second
        return len(items)

    def relabel(self, ident: str, label) -> None:
        """Give a digit another label. KeyError if there is no such digit."""
        self.relabel_many([ident], label, strict=True)

    def relabel_many(self, ids: Iterable[str], label, strict: bool = False) -> int:
        """Give the digits ``ids`` the label ``label`` with one write of the index; how many."""
        label = _label(label)
        self._sync()
        present = {i for i, _ in self._entries}
        wanted = set(ids)
        if strict and not wanted <= present:
            raise KeyError(next(iter(wanted - present)))
        wanted &= present
        if not wanted:
            return 0
        self._change(lambda raw: [dict(e, label=label) if isinstance(e, dict) and e.get("id") in wanted else e for e in raw])
        # The label kept in the 28×28 file too (recovery after a damaged index); best effort.
        for ident in wanted:
            if ident in self._images:
                with contextlib.suppress(OSError):
                    _write_atomic(self.folder / SMALL / f"{ident}.png", _png_bytes(self._images[ident], label), sync=False)
        return len(wanted)

    # ---- zip -------------------------------------------------------------------------------

    def export_zip(
        self,
        path: str | os.PathLike,
        progress: Callable[[int, int], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> ExportResult:
        """The whole collection as one ``.zip`` (the index and both PNGs of each digit). Each
        file is checked and read on its own: a digit whose files cannot be read is left out
        with a note in the result, never the whole backup. ``progress(done, total)`` after
        each digit; ``stop()`` true: :class:`Cancelled` (nothing written)."""
        self._sync()
        path = Path(path).expanduser()
        entries = list(self._entries)
        skipped: list[str] = []
        try:
            tmp = _tmp_name(path)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
            try:
                with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
                    kept = []
                    for n, (ident, label) in enumerate(entries):
                        if stop is not None and stop():
                            raise Cancelled("Export cancelled: nothing was written.")
                        files = []
                        for sub, cap in ((DRAWINGS, MAX_PNG_BYTES), (SMALL, MAX_SMALL_BYTES)):
                            try:
                                files.append((f"{sub}/{ident}.png", _read_file(self.folder / sub / f"{ident}.png", "PNG", cap)))
                            except (DataError, OSError) as e:
                                skipped.append(f"{ident} ({label}) left out: {brief(e, 160)}")
                                break
                        else:
                            for name, data in files:
                                zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)  # PNGs are compressed already
                            kept.append({"id": ident, "label": label})
                        if progress is not None:
                            progress(n + 1, len(entries))
                    zf.writestr(INDEX, json.dumps({"format": FORMAT, "version": VERSION, "digits": kept}, separators=(",", ":")))
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as e:
            raise DataError(f"{path}: cannot write the zip ({e.strerror or e}).") from None
        return ExportResult(path, len(entries) - len(skipped), skipped)

    def import_zip(
        self,
        path: str | os.PathLike,
        progress: Callable[[int, int], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> int:
        """Add the digits of a zip made by :meth:`export_zip`; how many were added (a digit
        already here, the same pixels with the same label, is not added twice). DataError
        for a zip that is not such an export (nothing is added then).

        The member count is checked from the end-of-central-directory record before
        ``zipfile`` parses the directory. Members are read on this thread, in order; each
        digit is decoded (each PNG's pixel count checked from its header first) and its
        files written on a few threads, a window at a time (:data:`IMPORT_AHEAD` digits,
        :data:`IMPORT_AHEAD_BYTES` of PNG), so memory stays bounded whatever the zip holds;
        which digits are new is decided here, in the zip's order. The index is written once,
        when every file is in place. ``progress(done, total)`` after each digit; ``stop()``
        true: :class:`Cancelled`, and nothing is added.
        """
        if self.read_only:
            raise DataError(f"{self.folder}: opened read-only; nothing was changed.")
        path = Path(path).expanduser()
        check_regular_file(path, "zip", MAX_ZIP_TOTAL, DataError)
        self._sync()
        written: list[Path] = []  # appended by the writing threads: what a failure takes back
        pool = ThreadPoolExecutor(max_workers=_import_threads(), thread_name_prefix="mydigits-import")
        try:
            _zip_entry_count(path)
            with _ZipReader(path) as raw, zipfile.ZipFile(raw) as zf:
                digits, names = self._zip_index(zf, path)
                items = self._import_digits(zf, names, digits, path, pool, written, progress, stop)
            pool.shutdown(wait=True)
        except BaseException as e:
            pool.shutdown(wait=True, cancel_futures=True)  # nothing still being written when the files are taken back
            for where in written:
                with contextlib.suppress(OSError):
                    where.unlink()
            if isinstance(e, zipfile.BadZipFile):
                raise DataError(f"{path}: not a readable zip file ({brief(e)}).") from None
            if isinstance(e, (ValueError, RuntimeError, NotImplementedError, EOFError, OSError, zlib.error, struct.error, MemoryError)):
                # bad JSON, encrypted or damaged members, a JSON nested too deep (RecursionError)
                raise DataError(f"{path}: damaged or not a My digits export ({type(e).__name__}: {brief(e, 160)}).") from None
            raise
        if not items:
            return 0
        # The files are in place (written without a sync each: one import is one fsync of the
        # index); the index lists them in one change.
        try:
            self._write_digits(items, sync=False)
        except DataError:
            for where in written:
                with contextlib.suppress(OSError):
                    where.unlink()
            raise
        return len(items)

    @classmethod
    def _zip_index(cls, zf: zipfile.ZipFile, path: Path) -> tuple[list[dict], set[str]]:
        """The entries of an export's index, every one checked, and the names of its members;
        DataError for a zip that is not an export (or a bomb), before a digit is read."""
        members = zf.infolist()
        total = 0
        for m in members:
            if not ZIP_MEMBER.fullmatch(m.filename) or m.is_dir():
                raise DataError(
                    f"{path}: {m.filename[:100]!r} is not part of a My digits export "
                    f"(expected only {INDEX}, {DRAWINGS}/<id>.png and {SMALL}/<id>.png)."
                )
            total += m.file_size
            if m.file_size > MAX_PNG_BYTES or m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1) + 4096 or total > MAX_ZIP_TOTAL:
                raise DataError(f"{path}: {m.filename} unpacks to {m.file_size:,} bytes: too large (a zip bomb?).")
        names = {m.filename for m in members}
        if INDEX not in names:
            raise DataError(f"{path}: no {INDEX}: not a My digits export.")
        data = json.loads(cls._read_member(zf, INDEX, path, MAX_INDEX_BYTES))
        if not (isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("digits"), list)):
            raise DataError(f"{path}: its {INDEX} is not a My digits index.")
        for e in data["digits"]:
            if not _entry_ok(e):
                raise DataError(f"{path}: a bad entry in {INDEX} ({brief(e, 80)}).")
            if f"{DRAWINGS}/{e['id']}.png" not in names:
                raise DataError(f"{path}: {DRAWINGS}/{e['id']}.png is missing.")
        return data["digits"], names

    def _import_digits(
        self,
        zf: zipfile.ZipFile,
        names: set[str],
        digits: list[dict],
        path: Path,
        pool: ThreadPoolExecutor,
        written: list[Path],
        progress: Callable[[int, int], None] | None,
        stop: Callable[[], bool] | None,
    ) -> list[tuple[dict, None, None]]:
        """The pipeline of :meth:`import_zip`: read ahead (this thread), decode (``pool``),
        keep or drop (this thread, in order), write (``pool``). The index entries of the
        digits whose files are written; the caller waits for the pool before using them."""
        have = {_digest(self._images[i], label) for i, label in self._entries}
        present = {i for i, _ in self._entries}
        added = _now()
        items = []
        decoding: collections.deque = collections.deque()  # (ident, label, drawing PNG, future of _import_digit)
        writing: collections.deque = collections.deque()  # (ident, 28×28 pixels, PNG bytes held, future of _import_write)
        held = fed = 0  # bytes of PNG in the two queues; digits read from the zip
        large = threading.Lock()
        count = len(digits)

        def saved(job) -> tuple[int, int, int]:
            try:
                return job.result()
            except OSError as e:
                raise self._cannot_write(e) from None

        for n in range(count):
            if stop is not None and stop():
                raise Cancelled("Import cancelled: nothing was added.")
            while fed < count and (not decoding or (len(decoding) < IMPORT_AHEAD and held < IMPORT_AHEAD_BYTES)):
                ident, label = digits[fed]["id"], digits[fed]["label"]
                fed += 1
                if ident in present:  # an id already here is this very digit (an export of ours)
                    decoding.append((ident, label, b"", None))
                    continue
                drawing_png = self._read_member(zf, f"{DRAWINGS}/{ident}.png", path, MAX_PNG_BYTES)
                member = f"{SMALL}/{ident}.png"
                small_png = self._read_member(zf, member, path, MAX_SMALL_BYTES) if member in names else None
                decoding.append((ident, label, drawing_png, pool.submit(_import_digit, path, ident, label, drawing_png, small_png, large)))
                held += len(drawing_png)
            ident, label, drawing_png, job = decoding.popleft()
            if job is not None:
                small, small_png, digest = job.result()
                if ident not in present and digest not in have:
                    have.add(digest)
                    present.add(ident)
                    files = ((self.folder / DRAWINGS / f"{ident}.png", drawing_png), (self.folder / SMALL / f"{ident}.png", small_png))
                    writing.append((ident, small, len(drawing_png), pool.submit(_import_write, files, written)))
                    items.append(({"id": ident, "label": label, "added": added}, None, None))
                else:
                    held -= len(drawing_png)
            while writing and (writing[0][3].done() or len(writing) > IMPORT_AHEAD or held > IMPORT_AHEAD_BYTES):
                ident, small, size, job = writing.popleft()
                self._images[ident], self._keys[ident] = small, saved(job)
                held -= size
            if progress is not None:
                progress(n + 1, count)
        for ident, small, _, job in writing:
            self._images[ident], self._keys[ident] = small, saved(job)
        return items

    @staticmethod
    def _read_member(zf: zipfile.ZipFile, name: str, path: Path, cap: int) -> bytes:
        with zf.open(name) as f:
            data = f.read(cap + 1)
        if len(data) > cap:
            raise DataError(f"{path}: {name} is too large.")
        return data
