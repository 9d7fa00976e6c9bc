import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.model import DataError, EmptyImageError, MyDigits, default_digits_folder, to_mnist
from mnist_desktop.model.drawings import sample_drawings
from mnist_desktop.model.paths import user_data_dir

DRAWINGS = sample_drawings(6, size=120)


def test_round_trip_add_relabel_remove(tmp_path):
    folder = tmp_path / "digits"
    digits = MyDigits(folder)
    assert len(digits) == 0 and digits.images().shape == (0, 28, 28) and digits.labels().dtype == np.int64
    ids = [digits.add(d, label) for d, label in zip(DRAWINGS[:3], [3, 7, 1])]
    assert len(set(ids)) == 3 and len(digits) == 3
    images, labels = digits.images(), digits.labels()
    assert images.dtype == np.uint8 and images.shape == (3, 28, 28)
    assert labels.tolist() == [3, 7, 1]
    np.testing.assert_array_equal(images[0], np.round(to_mnist(DRAWINGS[0]) * 255).astype(np.uint8))
    np.testing.assert_array_equal(digits.drawing(ids[1]), DRAWINGS[1])  # kept as the canvas gave it

    digits.relabel(ids[1], 9)
    digits.remove(ids[0])
    assert [(i, label) for i, label, _ in digits] == [(ids[1], 9), (ids[2], 1)]

    again = MyDigits(folder)  # what another window, or the next start, sees
    assert again.labels().tolist() == [9, 1] and again.ids() == ids[1:]
    np.testing.assert_array_equal(again.images(), digits.images())
    assert again.notes == []
    index = json.loads((folder / "index.json").read_text())  # plain files a person can read
    assert [e["label"] for e in index["digits"]] == [9, 1]
    assert sorted(p.name for p in (folder / "drawings").iterdir()) == sorted(f"{i}.png" for i in ids[1:])
    with pytest.raises(KeyError):
        digits.remove(ids[0])


def test_bad_input_is_refused_and_changes_nothing(tmp_path):
    digits = MyDigits(tmp_path)
    digits.add(DRAWINGS[0], 5)
    with pytest.raises(EmptyImageError):
        digits.add(np.zeros((50, 50), np.uint8), 5)
    for label in (10, -1, 3.0, True, "7"):
        with pytest.raises(ValueError, match="digit from 0 to 9"):
            digits.add(DRAWINGS[1], label)
    with pytest.raises(ValueError):
        digits.add(DRAWINGS[1].astype(np.float32), 1)
    with pytest.raises(ValueError):
        digits.add(np.stack([DRAWINGS[1]] * 3, -1), 1)
    assert len(digits) == 1 and len(list((tmp_path / "drawings").iterdir())) == 1


def test_zip_export_then_import(tmp_path):
    source = MyDigits(tmp_path / "a")
    for d, label in zip(DRAWINGS, range(6)):
        source.add(d, label)
    archive = source.export_zip(tmp_path / "mine.zip")
    target = MyDigits(tmp_path / "b")
    target.add(DRAWINGS[0], 8)
    assert target.import_zip(archive) == 6
    assert target.labels().tolist() == [8, 0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(target.images()[1:], source.images())
    assert target.import_zip(archive) == 0  # the same drawings are not added twice


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("../evil.png", b"\x89PNG\r\n\x1a\n", "not part of a My digits export"),
        ("drawings/notes.txt", b"hello", "not part of a My digits export"),
        ("/etc/passwd", b"x", "not part of a My digits export"),
        ("drawings/" + "a" * 32 + ".png", b"\0" * 10_000_000, "too large"),
    ],
)
def test_import_refuses_traversal_foreign_members_and_bombs(tmp_path, name, data, message):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.json", json.dumps({"format": "mnist-desktop-my-digits", "version": 1, "digits": []}))
        zf.writestr(name, data)
    digits = MyDigits(tmp_path / "d")
    with pytest.raises(DataError, match=message):
        digits.import_zip(archive)
    assert len(digits) == 0 and not (tmp_path / "evil.png").exists()


def test_import_refuses_a_png_that_is_not_one(tmp_path):
    ident = "b" * 32
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("index.json", json.dumps({"format": "mnist-desktop-my-digits", "version": 1, "digits": [{"id": ident, "label": 1}]}))
        zf.writestr(f"drawings/{ident}.png", b"GIF89a not a png")
    with pytest.raises(DataError, match="not a readable grayscale PNG"):
        MyDigits(tmp_path / "d").import_zip(archive)
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="not a readable zip"):
        MyDigits(tmp_path / "d").import_zip(tmp_path / "junk.zip")


def test_corrupt_missing_and_foreign_files_are_skipped_with_a_note(tmp_path):
    digits = MyDigits(tmp_path)
    ids = [digits.add(d, label) for d, label in zip(DRAWINGS[:4], [1, 2, 3, 4])]
    (tmp_path / "28x28" / f"{ids[0]}.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "28x28" / f"{ids[1]}.png").unlink()
    (tmp_path / "holiday.jpg").write_bytes(b"not ours")
    (tmp_path / "drawings" / "stray.png").write_bytes(b"x")
    index = json.loads((tmp_path / "index.json").read_text())
    index["digits"].append({"id": "../../etc/passwd", "label": 3})
    index["digits"].append({"id": "c" * 32, "label": "seven"})
    (tmp_path / "index.json").write_text(json.dumps(index))

    again = MyDigits(tmp_path)
    assert again.ids() == ids[2:] and again.labels().tolist() == [3, 4]
    notes = "\n".join(again.notes)
    for what in (
        f"{ids[0]}.png: skipped",
        f"{ids[1]}.png: skipped, missing",
        "holiday.jpg",
        "stray.png",
        "entry 5 skipped",
        "entry 6 skipped",
    ):
        assert what in notes

    again.add(DRAWINGS[4], 5)  # a change keeps the entries it cannot read, for a person to repair
    kept = json.loads((tmp_path / "index.json").read_text())["digits"]
    assert [e["id"] for e in kept][:2] == ids[:2] and len(kept) == 7
    assert (tmp_path / "holiday.jpg").exists()


def test_a_damaged_index_is_recovered_from_the_files_and_kept(tmp_path):
    digits = MyDigits(tmp_path)
    ids = [digits.add(d, label) for d, label in zip(DRAWINGS[:3], [1, 2, 3])]
    digits.relabel(ids[2], 6)
    (tmp_path / "index.json").write_text('{"format": "mnist-desktop-my-digits", "digits": [')
    again = MyDigits(tmp_path)
    assert sorted(zip(again.ids(), again.labels().tolist())) == sorted(zip(ids, [1, 2, 6]))
    assert any("index is damaged" in n for n in again.notes)
    again.add(DRAWINGS[3], 4)
    assert len(MyDigits(tmp_path)) == 4
    assert len(list(tmp_path.glob("index.json.damaged-*"))) == 1


def test_a_folder_that_cannot_be_written_is_a_clear_error_and_nothing_is_lost(tmp_path, monkeypatch):
    digits = MyDigits(tmp_path)
    digits.add(DRAWINGS[0], 1)
    before = (tmp_path / "index.json").read_bytes()

    def refuse(*_args, **_kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(DataError, match="read-only"):
        digits.add(DRAWINGS[1], 2)
    with pytest.raises(DataError, match="Nothing was changed"):
        digits.relabel(digits.ids()[0], 7)
    monkeypatch.undo()
    assert (tmp_path / "index.json").read_bytes() == before
    assert len(digits) == 1 and digits.labels().tolist() == [1] and len(MyDigits(tmp_path)) == 1
    assert len(list((tmp_path / "drawings").iterdir())) == 1  # the half-saved drawing was taken back


def test_index_path_taken_by_a_folder_is_a_clear_error(tmp_path):
    (tmp_path / "index.json").mkdir()
    digits = MyDigits(tmp_path)
    assert len(digits) == 0 and digits.notes
    with pytest.raises(DataError, match="cannot save"):
        digits.add(DRAWINGS[0], 1)


ADDER = """
import sys
from mnist_desktop.model.drawings import sample_drawings
from mnist_desktop.model import MyDigits
digits = MyDigits(sys.argv[1])
for i, d in enumerate(sample_drawings(20, size=60, seed=int(sys.argv[2]))):
    digits.add(d, i % 10)
"""


def test_two_processes_adding_at_once_lose_nothing(tmp_path):
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    procs = [subprocess.Popen([sys.executable, "-c", ADDER, str(tmp_path), str(seed)], env=env, cwd=root) for seed in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    digits = MyDigits(tmp_path)
    assert len(digits) == 40 and digits.notes == []
    assert np.bincount(digits.labels(), minlength=10).tolist() == [4] * 10


def test_the_default_folder_is_in_the_user_data_folder():
    assert default_digits_folder() == user_data_dir() / "my-digits"


def _export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("src")
    digits = MyDigits(folder)
    for d, label in zip(DRAWINGS[:2], [4, 9]):
        digits.add(d, label)
    return digits.export_zip(folder.parent / f"{folder.name}.zip").path.read_bytes()


def test_mutated_zips_and_indexes_end_in_the_projects_error(tmp_path_factory):
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    original = _export(tmp_path_factory)

    @hypothesis.settings(max_examples=60, deadline=None, database=None)
    @hypothesis.given(
        st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)), min_size=1, max_size=8), st.binary(max_size=300)
    )
    def check(flips, index_bytes):
        work = tmp_path_factory.mktemp("w")
        data = bytearray(original)
        for at, value in flips:
            data[at] = value
        (work / "in.zip").write_bytes(bytes(data))
        digits = MyDigits(work / "d")
        try:
            added = digits.import_zip(work / "in.zip")
        except DataError:
            added = 0
        assert len(digits) == added <= 2
        (work / "d" / "index.json").write_bytes(index_bytes)  # whatever the index holds: notes, never a crash
        again = MyDigits(work / "d")
        assert len(again) <= 2 and again.images().shape[1:] == (28, 28)

    check()
