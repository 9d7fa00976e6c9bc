"""My digits against hostile folders and failing disks: every file is read with guards, no
failure loses a digit, and the collection stays whole at every instant."""

import json
import os
import stat
import struct
import zipfile
import zlib

import numpy as np
import pytest

from mnist_desktop.model import DataError, MyDigits
from mnist_desktop.model import mydigits as md


def _drawing(k: int) -> np.ndarray:
    d = np.zeros((60, 60), np.uint8)
    d[8 + k % 5 : 50, 10 + 2 * (k % 13) : 22 + 2 * (k % 13)] = 255
    d[30 : 34 + k % 7, 5:55] = 255
    return d


def _collection(folder, count: int = 20):
    digits = MyDigits(folder)
    ids = [digits.add(_drawing(k), k % 10) for k in range(count)]
    return digits, ids


def _png_claiming(width: int, height: int) -> bytes:
    """A grayscale PNG header claiming ``width``×``height`` over a tiny body: a bomb if decoded."""
    chunk = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes(1000))
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )


def test_a_deeply_nested_index_is_recovered_from_the_files(tmp_path):
    _, ids = _collection(tmp_path, 5)
    (tmp_path / "index.json").write_text("[" * 100_000 + "]" * 100_000)
    digits = MyDigits(tmp_path)
    assert sorted(digits.ids()) == sorted(ids)
    assert any("too deeply nested" in n for n in digits.notes)


def test_a_28x28_file_claiming_20000x10000_pixels_is_skipped_not_decoded(tmp_path):
    _, ids = _collection(tmp_path, 3)
    (tmp_path / "28x28" / f"{ids[0]}.png").write_bytes(_png_claiming(20000, 10000))
    digits = MyDigits(tmp_path)
    assert digits.ids() == ids[1:]
    assert any(ids[0] in n and "28×28" in n for n in digits.notes)
    assert digits.summary().startswith("My digits skipped")


def test_a_failed_write_never_leaves_the_collection_without_its_index(tmp_path, monkeypatch):
    digits, ids = _collection(tmp_path, 20)
    damaged = b'{"format": "mnist-desktop-my-digits", "digits": ['
    (tmp_path / "index.json").write_bytes(damaged)
    real = md._write_atomic

    def disk_full(path, data, sync=True):
        if path.name == "index.json":
            raise OSError(28, "No space left on device")
        return real(path, data, sync)

    monkeypatch.setattr(md, "_write_atomic", disk_full)
    with pytest.raises(DataError, match="Nothing was changed"):
        MyDigits(tmp_path).add(_drawing(99), 1)
    monkeypatch.undo()
    assert (tmp_path / "index.json").read_bytes() == damaged  # never moved away first
    again = MyDigits(tmp_path)
    assert sorted(again.ids()) == sorted(ids)  # all 20, recovered from their files
    again.add(_drawing(98), 2)
    assert len(MyDigits(tmp_path)) == 21


def test_a_missing_index_with_drawings_is_rebuilt_never_empty(tmp_path):
    _, ids = _collection(tmp_path, 6)
    (tmp_path / "index.json").unlink()
    digits = MyDigits(tmp_path)
    assert sorted(digits.ids()) == sorted(ids) and any("missing" in n for n in digits.notes)
    digits.add(_drawing(50), 5)  # the next add keeps all of them
    assert len(MyDigits(tmp_path)) == 7


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX: named pipes and device links")
def test_recovery_skips_fifos_devices_huge_and_dangling_files(tmp_path):
    _, ids = _collection(tmp_path, 4)
    (tmp_path / "index.json").write_text("not json")
    small = tmp_path / "28x28"
    os.mkfifo(small / ("a" * 32 + ".png"))
    os.symlink("/dev/zero", small / ("b" * 32 + ".png"))
    os.symlink(tmp_path / "nowhere", small / ("c" * 32 + ".png"))
    with open(small / ("e" * 32 + ".png"), "wb") as f:  # 3 GB, sparse
        f.truncate(3 * 2**30)
    digits = MyDigits(tmp_path)  # would hang on the FIFO, or read /dev/zero forever
    assert sorted(digits.ids()) == sorted(ids)
    notes = "\n".join(digits.notes)
    for name in "abce":
        assert name * 32 in notes


def test_zip_import_caps_pixels_from_the_header_before_decoding(tmp_path):
    ident = "a" * 32
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.json", json.dumps({"format": md.FORMAT, "version": 1, "digits": [{"id": ident, "label": 1}]}))
        zf.writestr(f"drawings/{ident}.png", _png_claiming(50_000, 50_000))
    digits = MyDigits(tmp_path / "d")
    with pytest.raises(DataError, match="too large"):
        digits.import_zip(archive)
    assert len(digits) == 0 and not list((tmp_path / "d" / "drawings").iterdir())


def test_zip_member_count_is_checked_from_the_end_record_before_zipfile_parses(tmp_path, monkeypatch):
    archive = tmp_path / "many.zip"
    # A ZIP64 end record declaring 8 million entries (the directory itself is not there).
    zip64 = b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, 8_000_000, 8_000_000, 8_000_000 * 60, 0)
    locator = b"PK\x06\x07" + struct.pack("<IQI", 0, 0, 1)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    archive.write_bytes(zip64 + locator + end)

    def never(*_a, **_k):
        raise AssertionError("zipfile parsed the directory")

    monkeypatch.setattr(zipfile, "ZipFile", never)
    with pytest.raises(DataError, match="8,000,000 files"):
        MyDigits(tmp_path / "d").import_zip(archive)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX: named pipes and device links")
def test_export_skips_what_it_cannot_read_and_says_so(tmp_path):
    digits, ids = _collection(tmp_path / "d", 5)
    drawings = tmp_path / "d" / "drawings"
    (drawings / f"{ids[0]}.png").unlink()
    (drawings / f"{ids[1]}.png").unlink()
    os.mkfifo(drawings / f"{ids[1]}.png")
    (drawings / f"{ids[2]}.png").unlink()
    os.symlink("/dev/zero", drawings / f"{ids[2]}.png")
    result = MyDigits(tmp_path / "d", read_only=True).export_zip(tmp_path / "out.zip")  # neither hangs nor grows forever
    assert result.digits == 2 and len(result.skipped) == 3
    assert all(any(i in s for s in result.skipped) for i in ids[:3])
    target = MyDigits(tmp_path / "t")
    assert target.import_zip(result.path) == 2 and sorted(target.ids()) == sorted(ids[3:])


def test_export_and_import_report_progress_and_cancel_changes_nothing(tmp_path):
    _, ids = _collection(tmp_path / "d", 6)
    seen = []
    result = MyDigits(tmp_path / "d").export_zip(tmp_path / "out.zip", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (6, 6) and result.digits == 6
    with pytest.raises(md.Cancelled):
        MyDigits(tmp_path / "d").export_zip(tmp_path / "other.zip", stop=lambda: True)
    assert not (tmp_path / "other.zip").exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    target = MyDigits(tmp_path / "t")
    calls = []

    def stop_after_three():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(md.Cancelled):
        target.import_zip(result.path, stop=stop_after_three)
    assert len(MyDigits(tmp_path / "t")) == 0 and not list((tmp_path / "t" / "28x28").iterdir())


def test_two_imports_of_the_same_zip_and_the_same_digit_twice_add_it_once(tmp_path):
    _, ids = _collection(tmp_path / "d", 4)
    archive = MyDigits(tmp_path / "d").export_zip(tmp_path / "out.zip").path
    first, second = MyDigits(tmp_path / "t"), MyDigits(tmp_path / "t")  # two windows, opened before either imports
    assert first.import_zip(archive) == 4
    second.import_zip(archive)
    assert sorted(MyDigits(tmp_path / "t").ids()) == sorted(ids)
    # The same drawing under another id (a copy of the export edited by hand): the same digit.
    copy = tmp_path / "copy.zip"
    with zipfile.ZipFile(archive) as zin, zipfile.ZipFile(copy, "w") as zout:
        index = json.loads(zin.read("index.json"))
        for e in index["digits"]:
            new = e["id"][::-1]
            zout.writestr(f"drawings/{new}.png", zin.read(f"drawings/{e['id']}.png"))
            e["id"] = new
        zout.writestr("index.json", json.dumps(index))
    assert MyDigits(tmp_path / "t").import_zip(copy) == 0 and len(MyDigits(tmp_path / "t")) == 4


def test_an_interrupted_import_is_adopted_and_only_our_temporary_files_go(tmp_path):
    digits, ids = _collection(tmp_path, 3)
    # What a killed import leaves: both files of a digit not in the index, our temporary files.
    orphan = "f" * 32
    (tmp_path / "drawings" / f"{orphan}.png").write_bytes(md._png_bytes(_drawing(7)))
    small = np.round(md.to_mnist(_drawing(7)) * 255).astype(np.uint8)
    (tmp_path / "28x28" / f"{orphan}.png").write_bytes(md._png_bytes(small, 4))
    half = "e" * 32  # only its 28×28 file: not complete, left alone
    (tmp_path / "28x28" / f"{half}.png").write_bytes(md._png_bytes(small, 5))
    stale = [tmp_path / ".index.json.0a1b2c3d.tmp", tmp_path / "28x28" / f".{orphan}.png.deadbeef.tmp"]
    fresh = tmp_path / ".index.json.00000000.tmp"
    theirs = [tmp_path / ".notes.tmp", tmp_path / "drawings" / "mine.tmp"]
    for path in [*stale, fresh, *theirs]:
        path.write_bytes(b"x")
    old = 1_000_000_000
    for path in [*stale, *theirs]:
        os.utime(path, (old, old))
    again = MyDigits(tmp_path)
    assert again.ids() == [*ids, orphan] and again.label(orphan) == 4
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and all(p.exists() for p in theirs)  # one in flight, and files not ours
    assert (tmp_path / "28x28" / f"{half}.png").exists() and half not in again


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="POSIX")
def test_a_lock_that_is_a_symlink_makes_nothing_outside_the_folder(tmp_path):
    digits, _ = _collection(tmp_path / "d", 1)
    (tmp_path / "d" / ".lock").unlink()
    os.symlink(tmp_path / "outside", tmp_path / "d" / ".lock")
    with pytest.raises(DataError, match="symbolic link"):
        digits.add(_drawing(3), 3)
    assert not (tmp_path / "outside").exists() and len(MyDigits(tmp_path / "d")) == 1


def test_a_read_only_open_creates_nothing_and_changes_nothing(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    digits = MyDigits(folder, read_only=True)
    assert len(digits) == 0 and list(folder.iterdir()) == []
    with pytest.raises(DataError, match="read-only"):
        digits.add(_drawing(1), 1)
    assert list(folder.iterdir()) == []
    with pytest.raises(DataError, match="no such folder"):
        MyDigits(tmp_path / "nowhere", read_only=True)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_kept_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        digits, ids = _collection(tmp_path / "d", 1)
        result = digits.export_zip(tmp_path / "out.zip")
    finally:
        os.umask(old)
    for path in (
        tmp_path / "d" / "index.json",
        tmp_path / "d" / "drawings" / f"{ids[0]}.png",
        tmp_path / "d" / "28x28" / f"{ids[0]}.png",
        result.path,
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_the_index_is_compact_and_never_written_past_the_read_limit(tmp_path, monkeypatch):
    digits, _ = _collection(tmp_path, 3)
    before = (tmp_path / "index.json").read_bytes()
    assert b"\n" not in before and b", " not in before
    monkeypatch.setattr(md, "MAX_INDEX_BYTES", len(before) + 10)
    with pytest.raises(DataError, match="full"):
        digits.add(_drawing(5), 5)
    assert (tmp_path / "index.json").read_bytes() == before and len(MyDigits(tmp_path)) == 3


def test_removing_many_is_one_index_write_and_restore_brings_them_back(tmp_path, monkeypatch):
    digits, ids = _collection(tmp_path, 30)
    writes = []
    real = md._write_atomic
    monkeypatch.setattr(md, "_write_atomic", lambda path, data, sync=True: (writes.append(path.name), real(path, data, sync))[1])
    removed = digits.remove_many(ids[5:25])
    assert writes.count("index.json") == 1 and len(removed) == 20
    assert digits.ids() == ids[:5] + ids[25:] and not (tmp_path / "drawings" / f"{ids[5]}.png").exists()
    writes.clear()
    assert digits.restore(removed) == 20 and writes.count("index.json") == 1
    again = MyDigits(tmp_path)
    assert sorted(again.ids()) == sorted(ids) and again.label(ids[7]) == 7
    np.testing.assert_array_equal(again.drawing(ids[7]), _drawing(7))


def test_the_image_cache_is_used_and_a_changed_file_is_read_again(tmp_path):
    digits, ids = _collection(tmp_path, md.CACHE_REWRITE + 2)
    MyDigits(tmp_path)  # no cache yet: every image decoded once, then cached
    assert (tmp_path / md.CACHE).is_file()
    other = np.full((28, 28), 9, np.uint8)
    (tmp_path / "28x28" / f"{ids[0]}.png").write_bytes(md._png_bytes(other, 0))
    again = MyDigits(tmp_path)
    np.testing.assert_array_equal(again.images()[0], other)  # not the cached one
    (tmp_path / md.CACHE).write_bytes(b"MDC1" + b"\xff" * 100)  # a damaged cache is ignored
    assert len(MyDigits(tmp_path)) == len(ids)


def test_digits_deleted_and_brought_back_are_cached_again(tmp_path, monkeypatch):
    digits, ids = _collection(tmp_path, 2 * md.CACHE_REWRITE)
    MyDigits(tmp_path)  # writes the cache
    removed = digits.remove_many(ids[: md.CACHE_REWRITE + 1])
    assert digits.restore(removed) == md.CACHE_REWRITE + 1  # new files: their cached keys are stale
    MyDigits(tmp_path)  # decodes them once and writes the cache again
    decoded = []
    real = MyDigits._read_small
    monkeypatch.setattr(MyDigits, "_read_small", lambda self, path: decoded.append(path) or real(self, path))
    again = MyDigits(tmp_path)
    assert sorted(again.ids()) == sorted(ids) and decoded == []


def test_fine_tune_memory_is_bounded_however_many_digits(monkeypatch):
    from types import SimpleNamespace

    from mnist_desktop.model import Predictor, finetune

    seen = {}

    def fake_train(config, *, extra, extra_repeat, **_kw):
        seen["images"], seen["repeat"] = len(extra[0]), extra_repeat
        return SimpleNamespace(predictor=SimpleNamespace(meta={"training": {}}), notes=[])

    monkeypatch.setattr(finetune, "train", fake_train)
    predictor = Predictor.default()
    for count in (100, 10_000, 30_000):
        images, labels = np.zeros((count, 28, 28), np.uint8), np.arange(count) % 10
        result = finetune.fine_tune(predictor, images, labels)
        assert seen["images"] * seen["repeat"] <= finetune.MAX_PERSONAL and seen["repeat"] >= 1
        assert seen["images"] == min(count, finetune.MAX_PERSONAL)
        assert (count <= finetune.MAX_PERSONAL) == (not any("chosen at random" in n for n in result.notes))
    assert seen["repeat"] == 1


def test_fine_tuning_a_model_trained_on_accuracy_says_why_it_cannot_learn():
    import copy

    from mnist_desktop.model import Predictor, fine_tune

    predictor = Predictor.default()
    stuck = Predictor(copy.deepcopy(predictor.model), dict(predictor.meta, training={"loss": "accuracy"}))
    with pytest.raises(ValueError, match="zero gradient everywhere"):
        fine_tune(stuck, np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3]))


@pytest.mark.parametrize(
    "bad",
    [
        [["a" * 32, 1]],
        ["a" * 32],
        [None],
        [{"id": "a" * 32, "label": True}],
        [{"id": "a" * 32, "label": 10}],
        [{"id": "a" * 32, "label": -1}],
        [{"id": "a" * 32, "label": 1.0}],
        [{"id": "a" * 32}],
        [{"label": 1}],
        [{"id": "A" * 32, "label": 1}],
        [{"id": "a" * 31, "label": 1}, {"id": "b" * 33, "label": 1}],
        [{"id": "a" * 31 + "\n", "label": 1}],
        [{"id": 5, "label": 1}],
    ],
)
def test_every_kind_of_bad_index_entry_is_skipped_with_a_note_and_the_rest_read(tmp_path, bad):
    digits, ids = _collection(tmp_path, 3)
    index = json.loads((tmp_path / "index.json").read_text())
    index["digits"][1:1] = bad + [dict(index["digits"][0])]  # and the first digit listed twice
    (tmp_path / "index.json").write_text(json.dumps(index))
    again = MyDigits(tmp_path)
    assert again.ids() == ids
    notes = "\n".join(again.notes)
    assert notes.count("skipped, it is not an id") == len(bad) and "a second entry for" in notes


def test_a_change_sees_what_another_store_wrote_since_its_last_read(tmp_path):
    a, ids = _collection(tmp_path, 2)
    b = MyDigits(tmp_path)
    one = b.add(_drawing(13), 3)
    two = a.add(_drawing(14), 4)  # a's last read is stale: it must read b's index, not reuse its own
    b.relabel(ids[0], 8)
    a.remove(ids[1])
    again = MyDigits(tmp_path)
    assert again.ids() == [ids[0], one, two] and again.labels().tolist() == [8, 3, 4]
