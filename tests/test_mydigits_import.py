"""Zip import decodes and writes on a few threads, a window of digits at a time: a cancel, a
bad member or a failed write part-way through still leaves the collection as it was."""

import json
import threading
import warnings
import zipfile

import numpy as np
import pytest

from mnist_desktop.model import DataError, MyDigits
from mnist_desktop.model import mydigits as md


def _drawing(k: int) -> np.ndarray:
    d = np.zeros((60, 60), np.uint8)
    d[8 + k % 5 : 50, 10 + 2 * (k % 13) : 22 + 2 * (k % 13)] = 255
    d[30 : 34 + k % 7, 5:55] = 255
    return d


@pytest.fixture
def export(tmp_path):
    """An export of 12 digits, and a folder that already holds 2 others."""
    source = MyDigits(tmp_path / "source")
    for k in range(12):
        source.add(_drawing(k), k % 10)
    target = MyDigits(tmp_path / "target")
    kept = [target.add(_drawing(20 + k), 1) for k in range(2)]
    return source.export_zip(tmp_path / "out.zip").path, tmp_path / "target", kept


@pytest.fixture
def small_window(monkeypatch):
    """A window of 3 digits, so that 12 fill it four times; every write recorded."""
    monkeypatch.setattr(md, "IMPORT_AHEAD", 3)
    written = []
    real = md._write_atomic
    monkeypatch.setattr(md, "_write_atomic", lambda path, data, sync=True: (written.append(path), real(path, data, sync))[1])
    return written


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != ".lock")


def _as_before(folder, kept, before):
    again = MyDigits(folder)
    return sorted(again.ids()) == sorted(kept) and _files(folder) == before and not again.notes


def test_cancel_mid_import_takes_back_every_file_already_written(export, small_window):
    archive, folder, kept = export
    before = _files(folder)
    seen, asked = [], []

    def stop():
        asked.append(1)
        return len(asked) > 8

    with pytest.raises(md.Cancelled):
        MyDigits(folder).import_zip(archive, progress=lambda d, t: seen.append((d, t)), stop=stop)
    assert seen[-1] == (8, 12)
    assert sum(p.parent.name == "28x28" for p in small_window) >= 4  # writes had begun before the cancel
    assert _as_before(folder, kept, before)


def test_a_bad_drawing_after_others_were_written_adds_nothing(export, small_window, tmp_path):
    archive, folder, kept = export
    before = _files(folder)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive) as zin, zipfile.ZipFile(broken, "w") as zout:
        last = json.loads(zin.read("index.json"))["digits"][-1]["id"]
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, data[:40] if info.filename == f"drawings/{last}.png" else data)
    with pytest.raises(DataError, match=f"drawings/{last}.png is not a readable grayscale PNG"):
        MyDigits(folder).import_zip(broken)
    assert sum(p.parent.name == "28x28" for p in small_window) >= 4
    assert _as_before(folder, kept, before)


def test_a_write_that_fails_part_way_is_a_clear_error_and_adds_nothing(export, monkeypatch):
    archive, folder, kept = export
    before = _files(folder)
    monkeypatch.setattr(md, "IMPORT_AHEAD", 3)
    real, calls = md._write_atomic, []

    def full_after_ten(path, data, sync=True):
        calls.append(path)
        if len(calls) > 10:
            raise OSError(28, "No space left on device")
        real(path, data, sync)

    monkeypatch.setattr(md, "_write_atomic", full_after_ten)
    with pytest.raises(DataError, match="No space left on device.*Nothing was changed"):
        MyDigits(folder).import_zip(archive)
    monkeypatch.undo()
    assert _as_before(folder, kept, before)


def test_the_same_digit_twice_in_one_zip_is_added_once_in_the_zips_order(tmp_path, small_window):
    source = MyDigits(tmp_path / "source")
    ids = [source.add(_drawing(k), 3) for k in range(5)]
    archive = source.export_zip(tmp_path / "out.zip").path
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(archive) as zin, zipfile.ZipFile(twice, "w") as zout:
        index = json.loads(zin.read("index.json"))
        copy = "f" * 32  # the first digit again, under another id, at the end
        for name in zin.namelist():
            if name != "index.json":
                zout.writestr(name, zin.read(name))
        zout.writestr(f"drawings/{copy}.png", zin.read(f"drawings/{ids[0]}.png"))
        index["digits"].append({"id": copy, "label": 3})
        zout.writestr("index.json", json.dumps(index))
    target = MyDigits(tmp_path / "target")
    assert target.import_zip(twice) == 5
    assert target.ids() == ids and not (tmp_path / "target" / "drawings" / f"{copy}.png").exists()


def test_the_decoding_threads_leave_the_process_warnings_filters_alone(export, monkeypatch):
    # catch_warnings saves and restores process-wide state: threads entering and leaving it
    # at once can leave an "error" filter installed for the whole app.
    archive, folder, _ = export
    entered = []
    real = warnings.catch_warnings
    monkeypatch.setattr(warnings, "catch_warnings", lambda *a, **k: (entered.append(threading.current_thread().name), real(*a, **k))[1])
    before = list(warnings.filters)
    assert MyDigits(folder).import_zip(archive) == 12
    assert warnings.filters == before and not [name for name in entered if name != threading.main_thread().name]


def test_large_drawings_are_decoded_one_at_a_time(export, monkeypatch):
    # Each worker may hold ~150 MB while it decodes the largest drawing: two of those at once
    # would double the import's peak memory. The first large decode waits (a bounded time)
    # for a second to start beside it, which only the lock prevents.
    archive, folder, _ = export
    monkeypatch.setattr(md, "IMPORT_LARGE_PIXELS", 50 * 50)  # the 60×60 drawings count as large
    monkeypatch.setattr(md, "_import_threads", lambda: 2)
    lock, inside, most, calls, second = threading.Lock(), [0], [0], [0], threading.Event()
    real = md._import_checked

    def tracked(*args):
        with lock:
            inside[0] += 1
            calls[0] += 1
            first = calls[0] == 1
            most[0] = max(most[0], inside[0])
            if inside[0] > 1:
                second.set()
        if first:
            second.wait(1.0)
        try:
            return real(*args)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(md, "_import_checked", tracked)
    assert MyDigits(folder).import_zip(archive) == 12
    assert most[0] == 1
