"""My digits: a person's own drawings with their labels, kept as plain files they can read and back up.

The folder holds::

    index.json          {"format": "mnist-desktop-my-digits", "version": 1,
                         "digits": [{"id": "<32 hex>", "label": 7, "added": "<ISO time>"}, ...]}
    drawings/<id>.png   the drawing as the canvas gave it (white ink on black, any size)
    28x28/<id>.png      what the model sees (``to_mnist``), its label in a PNG text chunk
    .lock               taken (``fcntl.flock``) around every change of the index

The index is written to a temporary file and moved into place (``os.replace``), so a reader
sees the old index or the new one, never half of one. Every change re-reads the index under
the lock first, so two windows (or processes) adding at the same time both keep their
drawings. A damaged, missing or foreign file is skipped with a note in :attr:`MyDigits.notes`
and never removed: entries the app cannot read stay in the index for a person to repair.
If the index itself is damaged, the digits are recovered from the 28×28 files' labels and
the damaged index is kept beside the new one.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import re
import struct
import tempfile
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import DataError, EmptyImageError
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
DRAWINGS = "drawings"
SMALL = "28x28"
ID = re.compile(r"[0-9a-f]{32}")
MAX_SIDE = 8192  # a drawing larger than this on either side is not a canvas drawing
MAX_PNG_BYTES = 64 * 2**20
MAX_INDEX_BYTES = 64 * 2**20
# Zip import: limits that a real export stays far below and a zip bomb does not.
MAX_ZIP_MEMBERS = 200_000
MAX_ZIP_TOTAL = 2 * 2**30
MAX_ZIP_RATIO = 200  # uncompressed / compressed, per member (PNGs are compressed already)
ZIP_MEMBER = re.compile(rf"(?:{INDEX}|(?:{DRAWINGS}|{SMALL})/[0-9a-f]{{32}}\.png)")


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


def _decode_png(data: bytes, small: bool) -> tuple[np.ndarray, int | None]:
    """A grayscale PNG's pixels (and its label chunk, if any); ValueError for anything else."""
    from PIL import Image

    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
            if im.mode != "L":
                raise ValueError(f"a {im.mode} image, not 8-bit grayscale")
            if small and im.size != (28, 28):
                raise ValueError(f"{im.width}×{im.height} pixels, not 28×28")
            if max(im.size) > MAX_SIDE:
                raise ValueError(f"{im.width}×{im.height} pixels is too large")
            pixels = np.asarray(im, dtype=np.uint8).copy()
            label = im.text.get("label") if hasattr(im, "text") else None
    return pixels, (int(label) if isinstance(label, str) and label in tuple("0123456789") else None)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class MyDigits:
    """A folder of a person's own digits. ``len()``, iteration ``(id, label, image28)``,
    :meth:`images` and :meth:`labels` show what the folder holds now (re-read when another
    window has changed it)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder).expanduser()
        self.notes: list[str] = []
        self._entries: list[tuple[str, int]] = []  # (id, label) of the readable digits, in order
        self._images: dict[str, np.ndarray] = {}  # id → uint8 (28, 28)
        self._stamp = None
        try:
            for sub in ("", DRAWINGS, SMALL):
                (self.folder / sub).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            if not (self.folder / DRAWINGS).is_dir():
                raise DataError(f"{self.folder}: cannot open or create the My digits folder ({e.strerror or e}).") from None
        self._sync(force=True)

    # ---- reading ----------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX

    def _read_index(self, notes: list[str]) -> tuple[list, bool]:
        """The raw entries of the index and whether it was readable (a missing index is an empty one)."""
        path = self.index_path
        if not path.exists():
            return [], True
        try:
            check_regular_file(path, "index", MAX_INDEX_BYTES, DataError)
            data = json.loads(path.read_bytes())
        except (DataError, OSError, ValueError) as e:
            notes.append(f"{path}: the index is damaged or unreadable ({str(e)[:160]}); the digits were recovered from their 28×28 files.")
            return [], False
        if not (isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("digits"), list)):
            notes.append(f"{path}: not a My digits index; the digits were recovered from their 28×28 files.")
            return [], False
        return data["digits"], True

    def _recover(self, notes: list[str]) -> list[dict]:
        """Entries rebuilt from the 28×28 files (their label chunks), for a damaged index."""
        entries = []
        for path in sorted((self.folder / SMALL).glob("*.png"), key=lambda p: (p.stat().st_mtime_ns, p.name)):
            if not ID.fullmatch(path.stem):
                continue
            try:
                _, label = _decode_png(path.read_bytes(), small=True)
            except (OSError, ValueError, SyntaxError) as e:
                notes.append(f"{path}: skipped, not a readable 28×28 PNG ({str(e)[:120]}).")
                continue
            if label is None:
                notes.append(f"{path}: skipped, its label is not recorded in the file.")
                continue
            entries.append({"id": path.stem, "label": label, "added": "recovered"})
        return entries

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
        raw, ok = self._read_index(notes)
        if not ok:
            raw = self._recover(notes)
        self._load(raw, notes)
        self._stamp = stamp

    def _load(self, raw: list, notes: list[str]) -> None:
        entries: list[tuple[str, int]] = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            ident = item.get("id") if isinstance(item, dict) else None
            label = item.get("label") if isinstance(item, dict) else None
            if not (isinstance(ident, str) and ID.fullmatch(ident)) or type(label) is not int or not 0 <= label <= 9:
                notes.append(f"{self.index_path}: entry {i + 1} skipped, it is not an id and a label from 0 to 9 ({str(item)[:80]}).")
                continue
            if ident in seen:
                notes.append(f"{self.index_path}: entry {i + 1} skipped, a second entry for {ident}.")
                continue
            seen.add(ident)
            if ident not in self._images:
                path = self.folder / SMALL / f"{ident}.png"
                try:
                    check_regular_file(path, "PNG", MAX_PNG_BYTES, DataError)
                    self._images[ident] = _decode_png(path.read_bytes(), small=True)[0]
                except (DataError, OSError, ValueError, SyntaxError) as e:
                    notes.append(f"{path}: skipped, {'missing' if not path.exists() else 'not a readable 28×28 PNG'} ({str(e)[:120]}).")
                    continue
            entries.append((ident, label))
        for ident in set(self._images) - seen:
            del self._images[ident]
        notes.extend(self._foreign(seen))
        self._entries = entries
        self.notes = notes

    def _foreign(self, known: set[str]) -> list[str]:
        """Notes on files that are not part of the collection (left alone, never deleted)."""
        out = []
        with contextlib.suppress(OSError):
            for path in sorted(self.folder.iterdir()):
                name = path.name
                if name in (INDEX, LOCK, DRAWINGS, SMALL) or name.startswith((f"{INDEX}.damaged", ".")):
                    continue
                out.append(f"{path}: not part of My digits; ignored.")
            for sub in (DRAWINGS, SMALL):
                for path in sorted((self.folder / sub).iterdir()):
                    if path.name.startswith("."):
                        continue
                    if path.suffix != ".png" or path.stem not in known:
                        out.append(f"{path}: not in the index; ignored.")
        return out

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
            check_regular_file(path, "PNG", MAX_PNG_BYTES, DataError)
            return _decode_png(path.read_bytes(), small=False)[0]
        except (OSError, ValueError, SyntaxError) as e:
            raise DataError(f"{path}: cannot read the drawing ({str(e)[:160]}).") from None

    # ---- changing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self):
        try:
            handle = open(self.folder / LOCK, "a+b")  # noqa: SIM115
        except OSError as e:
            raise self._cannot_write(e) from None
        try:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield
        finally:
            handle.close()  # releases the lock

    def _cannot_write(self, e: OSError) -> DataError:
        return DataError(
            f"{self.folder}: cannot save to My digits ({e.strerror or e}); the folder may be read-only or the disk full. "
            "Nothing was changed: your digits are as they were. Choose another folder in the settings."
        )

    def _change(self, edit) -> None:
        """Re-read the index under the lock, apply ``edit(raw_entries) -> raw_entries``, write it back."""
        try:
            with self._locked():
                notes: list[str] = []
                raw, ok = self._read_index(notes)
                if not ok:
                    raw = self._recover(notes)
                    if self.index_path.is_file():  # keep the damaged index for a person to look at
                        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
                        os.replace(self.index_path, self.folder / f"{INDEX}.damaged-{stamp}")
                raw = edit(list(raw))
                data = json.dumps({"format": FORMAT, "version": VERSION, "digits": raw}, indent=1).encode()
                _write_atomic(self.index_path, data)
        except OSError as e:
            raise self._cannot_write(e) from None
        finally:
            self._sync(force=True)

    def add(self, drawing, label) -> str:
        """Save ``drawing`` (2-D uint8, white ink on black, as the canvas gives it) as a ``label``; its id.

        EmptyImageError for a drawing with no ink; ValueError for a label that is not 0–9 or
        an array that is not a drawing; DataError if the folder cannot be written.
        """
        return self._add_many([(drawing, label)])[0]

    def _add_many(self, items, ids: list[str] | None = None) -> list[str]:
        prepared = []
        for drawing, label in items:
            label = _label(label)
            drawing = np.asarray(drawing)
            if drawing.ndim != 2 or drawing.dtype != np.uint8 or min(drawing.shape) < 1 or max(drawing.shape) > MAX_SIDE:
                raise ValueError(f"a drawing is a 2-D uint8 image of at most {MAX_SIDE} pixels a side, not {drawing.dtype} {drawing.shape}")
            if not drawing.any():
                raise EmptyImageError("the drawing is empty: draw a digit first")
            small = np.round(to_mnist(drawing) * 255).astype(np.uint8)
            prepared.append((drawing, label, small))
        ids = ids or [uuid.uuid4().hex for _ in prepared]
        written: list[Path] = []
        try:
            for ident, (drawing, label, small) in zip(ids, prepared):
                for path, data in (
                    (self.folder / DRAWINGS / f"{ident}.png", _png_bytes(drawing)),
                    (self.folder / SMALL / f"{ident}.png", _png_bytes(small, label)),
                ):
                    _write_atomic(path, data)
                    written.append(path)
            added = _now()
            self._change(lambda raw: raw + [{"id": i, "label": lab, "added": added} for i, (_, lab, _) in zip(ids, prepared)])
        except (OSError, DataError) as e:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            self._sync(force=True)
            raise e if isinstance(e, DataError) else self._cannot_write(e) from None
        return ids

    def remove(self, ident: str) -> None:
        """Delete a digit (its entry and its files). KeyError if there is no such digit."""
        self._sync()
        if ident not in {i for i, _ in self._entries}:
            raise KeyError(ident)
        self._change(lambda raw: [e for e in raw if not (isinstance(e, dict) and e.get("id") == ident)])
        for sub in (DRAWINGS, SMALL):
            with contextlib.suppress(OSError):
                (self.folder / sub / f"{ident}.png").unlink()
        self._sync(force=True)

    def relabel(self, ident: str, label) -> None:
        """Give a digit another label. KeyError if there is no such digit."""
        label = _label(label)
        self._sync()
        if ident not in {i for i, _ in self._entries}:
            raise KeyError(ident)

        def edit(raw):
            return [dict(e, label=label) if isinstance(e, dict) and e.get("id") == ident else e for e in raw]

        self._change(edit)
        # The label kept in the 28×28 file too (recovery after a damaged index); best effort.
        with contextlib.suppress(OSError):
            _write_atomic(self.folder / SMALL / f"{ident}.png", _png_bytes(self._images[ident], label))

    # ---- zip -------------------------------------------------------------------------------

    def export_zip(self, path: str | os.PathLike) -> Path:
        """The whole collection as one ``.zip`` (the index and both PNGs of each digit)."""
        self._sync()
        path = Path(path).expanduser()
        entries = [{"id": i, "label": label} for i, label in self._entries]
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            try:
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                    zf.writestr(INDEX, json.dumps({"format": FORMAT, "version": VERSION, "digits": entries}, indent=1))
                    for e in entries:
                        for sub in (DRAWINGS, SMALL):
                            zf.write(self.folder / sub / f"{e['id']}.png", f"{sub}/{e['id']}.png")
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as e:
            raise DataError(f"{path}: cannot write the zip ({e.strerror or e}).") from None
        return path

    def import_zip(self, path: str | os.PathLike) -> int:
        """Add the digits of a zip made by :meth:`export_zip`; how many were added (those
        already here are not added twice). DataError for a zip that is not such an export."""
        path = Path(path).expanduser()
        check_regular_file(path, "zip", MAX_ZIP_TOTAL, DataError)
        try:
            with zipfile.ZipFile(path) as zf:
                members = zf.infolist()
                if len(members) > MAX_ZIP_MEMBERS:
                    raise DataError(f"{path}: {len(members):,} files, more than any My digits export has.")
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
                data = json.loads(self._read_member(zf, INDEX, path))
                if not (isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("digits"), list)):
                    raise DataError(f"{path}: its {INDEX} is not a My digits index.")
                have = set(self.ids())
                items, ids = [], []
                for e in data["digits"]:
                    ident = e.get("id") if isinstance(e, dict) else None
                    label = e.get("label") if isinstance(e, dict) else None
                    if not (isinstance(ident, str) and ID.fullmatch(ident)) or type(label) is not int or not 0 <= label <= 9:
                        raise DataError(f"{path}: a bad entry in {INDEX} ({str(e)[:80]}).")
                    if ident in have or ident in ids:
                        continue
                    member = f"{DRAWINGS}/{ident}.png"
                    if member not in names:
                        raise DataError(f"{path}: {member} is missing.")
                    try:
                        drawing, _ = _decode_png(self._read_member(zf, member, path), small=False)
                    except (OSError, ValueError, SyntaxError) as err:
                        raise DataError(f"{path}: {member} is not a readable grayscale PNG ({str(err)[:120]}).") from None
                    items.append((drawing, label))
                    ids.append(ident)
        except zipfile.BadZipFile as e:
            raise DataError(f"{path}: not a readable zip file ({e}).") from None
        except (
            ValueError,
            RuntimeError,
            NotImplementedError,
            EOFError,
            OSError,
            zlib.error,
            struct.error,
        ) as e:  # bad JSON, encrypted or damaged members
            if isinstance(e, EmptyImageError):
                raise
            raise DataError(f"{path}: damaged or not a My digits export ({str(e)[:160]}).") from None
        if not items:
            return 0
        try:
            self._add_many(items, ids)
        except EmptyImageError:
            raise DataError(f"{path}: a drawing in it is empty.") from None
        return len(items)

    @staticmethod
    def _read_member(zf: zipfile.ZipFile, name: str, path: Path) -> bytes:
        with zf.open(name) as f:
            data = f.read(MAX_PNG_BYTES + 1)
        if len(data) > MAX_PNG_BYTES:
            raise DataError(f"{path}: {name} is too large.")
        return data
