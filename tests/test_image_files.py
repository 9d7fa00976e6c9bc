"""Image files that hold a clear digit are read as that digit, whatever Pillow mode they are in.

Each picture is built here with Pillow: a 7 (white on black as ``SEVEN``), stored in the mode,
polarity, orientation or transparency under test. ``load_digit_image`` must give back the same
white-on-black 7 (correlation near 1), not "no digit found" or a rotated 7.
"""

import numpy as np
import pytest
from PIL import Image

from mnist_desktop.model import DataError, load_digit_image


def _seven(size: int = 64) -> np.ndarray:
    a = np.zeros((size, size), np.float32)
    a[12:18, 14:50] = 1.0  # the bar
    for row in range(18, 56):  # the diagonal
        x = int(50 - (row - 18) * 0.6)
        a[row, x - 3 : x + 3] = 1.0
    return a


SEVEN = _seven()
INK = (SEVEN * 255).astype(np.uint8)  # white ink on black


def _read(tmp_path, image: Image.Image, fmt: str, **save) -> np.ndarray:
    path = tmp_path / f"digit.{fmt.lower()}"
    image.save(path, fmt, **save)
    return load_digit_image(path)


def _is_the_seven(out: np.ndarray) -> bool:
    assert out.shape == SEVEN.shape and out.dtype == np.uint8
    return np.corrcoef(out.astype(np.float64).ravel(), SEVEN.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("dark_ink", [False, True], ids=["white-ink", "dark-ink"])
@pytest.mark.parametrize(
    "mode, fmt",
    [("1", "PNG"), ("L", "PNG"), ("P", "PNG"), ("RGB", "PNG"), ("CMYK", "TIFF"), ("CMYK", "JPEG"), ("LA", "PNG"), ("RGBA", "PNG")],
)
def test_every_8_bit_mode(tmp_path, mode, fmt, dark_ink):
    gray = 255 - INK if dark_ink else INK
    assert _is_the_seven(_read(tmp_path, Image.fromarray(gray).convert(mode), fmt))


@pytest.mark.parametrize("dark_ink", [False, True], ids=["white-ink", "dark-ink"])
@pytest.mark.parametrize(
    "values",
    [
        pytest.param(lambda s: s.astype(np.float32), id="float-0-to-1"),  # gave "no digit found"
        pytest.param(lambda s: s.astype(np.float32) * 1000 - 200, id="float-any-range"),
        pytest.param(lambda s: s.astype(np.int32), id="int32-0-or-1"),  # gave "no digit found"
        pytest.param(lambda s: s.astype(np.int32) * 100_000, id="int32-large"),
        pytest.param(lambda s: s.astype(np.uint16) * 4095, id="16-bit-12-bit-range"),
        pytest.param(lambda s: s.astype(np.uint16) * 65535, id="16-bit-full"),
    ],
)
def test_float_and_wide_integer_tiffs_are_scaled_by_their_range(tmp_path, values, dark_ink):
    a = values(1 - SEVEN if dark_ink else SEVEN)
    image = Image.fromarray(a)
    assert image.mode in ("F", "I", "I;16")
    assert _is_the_seven(_read(tmp_path, image, "TIFF"))


@pytest.mark.parametrize("under", [0, 255], ids=["black-under", "white-under"])
@pytest.mark.parametrize("ink", [255, 0], ids=["white-ink", "black-ink"])
@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_ink_on_a_transparent_background(tmp_path, mode, ink, under):
    """Transparent is paper, the ink is what is opaque: white ink on transparent gave "no digit found"."""
    channels = 4 if mode == "RGBA" else 2
    a = np.zeros((64, 64, channels), np.uint8)
    a[..., :-1] = under  # the colour of the transparent pixels means nothing
    a[SEVEN > 0, :-1] = ink
    a[SEVEN > 0, -1] = 255
    image = Image.fromarray(a)
    assert image.mode == mode
    assert _is_the_seven(_read(tmp_path, image, "PNG"))


def test_palette_image_with_a_transparent_colour(tmp_path):
    p = Image.fromarray(INK).convert("P")
    assert _is_the_seven(_read(tmp_path, p, "PNG", transparency=0))  # black = transparent: white ink on paper


@pytest.mark.parametrize(
    "orientation, stored", [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)]
)
def test_phone_photo_rotated_by_its_exif_orientation(tmp_path, orientation, stored):
    """A phone stores the sensor's pixels and an orientation tag: the 7 was read on its side."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = Image.fromarray(255 - INK).transpose(stored).convert("RGB")
    assert not _is_the_seven(255 - np.asarray(photo.convert("L")))  # stored on its side
    assert _is_the_seven(_read(tmp_path, photo, "JPEG", exif=exif, quality=95))


def test_animated_gif_reads_its_first_frame(tmp_path):
    frames = [Image.fromarray(255 - INK), Image.new("L", (64, 64), 255), Image.fromarray(INK)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert _is_the_seven(load_digit_image(path))


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.png: the file is empty"):
        load_digit_image(tmp_path / "empty.png")


def test_huge_dimensions_are_refused_before_decoding(tmp_path):
    from mnist_desktop.model.preprocess import MAX_IMAGE_PIXELS

    side = int(MAX_IMAGE_PIXELS**0.5) + 16
    Image.new("1", (side, side), 0).save(tmp_path / "wide.png")  # 1-bit: a few KB on disk, 1 GB as RGBA
    assert (tmp_path / "wide.png").stat().st_size < 2**20
    with pytest.raises(DataError, match=r"wide\.png: too many pixels to open safely"):
        load_digit_image(tmp_path / "wide.png")


@pytest.mark.parametrize("dark_ink", [False, True], ids=["white-ink", "dark-ink"])
def test_a_16_bit_png_whose_paper_is_its_transparent_value(tmp_path, dark_ink):
    """A 16-bit grey PNG with a transparency key: Pillow's RGBA conversion clipped its values at
    255 of 65,535, so all but the darkest grey became white (a 7 read as a 6 at 21 %)."""
    a = ((1 - SEVEN if dark_ink else SEVEN) * 65535).astype(np.uint16)
    a[20:40, 52:58] = 30000 if dark_ink else 35535  # a grey stroke: 16-bit levels must survive
    image = Image.fromarray(a)
    assert image.mode == "I;16"
    out = _read(tmp_path, image, "PNG", transparency=65535 if dark_ink else 0)
    assert _is_the_seven(np.where(np.arange(64) >= 50, 0, out))  # the 7 (the grey stroke aside)
    assert 100 < out[20:40, 52:58].mean() < 160  # the grey stroke: grey, not clipped


def test_a_dark_speck_far_from_the_digit_does_not_shrink_it(tmp_path):
    """to_mnist crops to every lit pixel: a speck of dust in a photo's corner made the digit a few
    pixels in the 28×28 (and read wrong). Specks are dropped as read_number drops them."""
    from mnist_desktop.model import Predictor, load_mnist, to_mnist

    x, y = load_mnist("test")
    big = np.asarray(Image.fromarray((x[0].numpy() * 255).astype(np.uint8)).resize((280, 280), Image.Resampling.BILINEAR))
    page = np.full((400, 400), 255, np.uint8)  # dark ink on white paper
    page[60:340, 60:340] = 255 - big
    clean = load_digit_image(_save(tmp_path / "clean.png", page))
    page[380:384, 385:389] = 0  # a speck of dust, 4x4, in the corner
    specked = load_digit_image(_save(tmp_path / "speck.png", page))
    assert not specked[370:, 370:].any()  # the speck is gone
    # the same 28x28 (the speck, the brightest pixel, set the contrast a little differently)
    np.testing.assert_allclose(to_mnist(specked), to_mnist(clean), atol=0.05)
    p = Predictor.default()
    assert p.predict(to_mnist(specked)).argmax() == int(y[0])
    # a mark as large as a stroke is no speck: it stays
    page[300:390, 370:376] = 0
    assert load_digit_image(_save(tmp_path / "mark.png", page))[300:390, 370:376].any()


def _save(path, gray: np.ndarray):
    Image.fromarray(gray).save(path)
    return path


def test_a_damaged_exif_block_is_read_past(tmp_path):
    """The picture as stored. (Pillow's "Corrupt EXIF data" warning, with a site-packages path,
    reached the terminal: the app's filter for it is checked by
    test_pillows_noise_is_filtered_once_for_the_process_and_nothing_else; pytest's recwarn, which
    records every warning whatever the filters, cannot see it.)"""
    from mnist_desktop.model.preprocess import load_digit_image

    assert load_digit_image(_bad_exif_jpeg(tmp_path / "bad.jpg")).any()


def test_an_image_that_cannot_be_opened_says_why_as_a_checkpoint_does(tmp_path, monkeypatch):
    """It read "not a readable image ([Errno 13] Permission denied: 'locked.png')"."""
    from PIL import Image

    from mnist_desktop.model import DataError
    from mnist_desktop.model.preprocess import load_digit_image

    path = tmp_path / "locked.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(DataError) as caught:
        load_digit_image(path)
    assert str(caught.value) == f"{path}: cannot open (Permission denied)."


def _bad_exif_jpeg(path):
    """A JPEG whose EXIF block is damaged: Pillow warns "Corrupt EXIF data" as it opens it."""
    from PIL import Image

    a = np.full((200, 200), 255, np.uint8)
    a[30:170, 90:110] = 0
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(path, exif=exif)
    data = bytearray(path.read_bytes())
    i = data.find(b"Exif")
    data[i + 10 : i + 20] = b"\xff" * 10
    path.write_bytes(bytes(data))
    return path


def test_the_decode_sets_no_warnings_filter_so_threads_cannot_clobber_each_others(tmp_path, monkeypatch):
    """load_digit_image ran Pillow under warnings.catch_warnings, which swaps the process's
    filters: on the canvas's decode thread, beside others, it could restore a stale list (an
    "ignore" left installed for the whole app, another thread's filter lost)."""
    import threading
    import warnings

    from PIL import Image as PILImage

    from mnist_desktop.model.preprocess import load_digit_image

    entered, real = [], warnings.catch_warnings
    monkeypatch.setattr(warnings, "catch_warnings", lambda *a, **k: (entered.append(threading.current_thread().name), real(*a, **k))[1])
    bad = _bad_exif_jpeg(tmp_path / "bad.jpg")  # "Corrupt EXIF data"
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 25000)  # its 40,000 pixels: between once and twice, a bomb warning too
    before = list(warnings.filters)
    results = []

    def decode():
        for path in (bad, bad):
            try:
                results.append(load_digit_image(path))
            except Exception as e:  # noqa: BLE001 - said by the assert below, not lost in the thread
                results.append(e)

    worker = threading.Thread(target=decode, name="decoder")
    worker.start()
    worker.join()
    assert "decoder" not in entered and warnings.filters == before
    assert [type(r).__name__ for r in results] == ["ndarray", "ndarray"] and all(r.any() for r in results)


def test_pillows_noise_is_filtered_once_for_the_process_and_nothing_else(tmp_path, monkeypatch):
    """What the app filters (quiet_pillow_decoders, at import): Pillow's "Corrupt EXIF data" and
    its decompression-bomb warning, with every other filter reset; another warning still shows."""
    import warnings

    from PIL import Image as PILImage

    from mnist_desktop.model.preprocess import load_digit_image, quiet_pillow_decoders

    bad = _bad_exif_jpeg(tmp_path / "bad.jpg")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 25000)  # its 40,000 pixels: Pillow warns of a bomb too
    with warnings.catch_warnings(record=True) as log:  # the test's own thread: no other decodes
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet_pillow_decoders()
        assert load_digit_image(bad).any()
        warnings.warn("someone else's", UserWarning, stacklevel=1)
        warnings.warn("someone else's", RuntimeWarning, stacklevel=1)
    assert [str(w.message) for w in log] == ["someone else's", "someone else's"]
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 10000)  # over twice the limit: still refused
    with pytest.raises(DataError, match="too many pixels to open safely"):
        load_digit_image(bad)


@pytest.mark.parametrize("mode", ["dark-on-light", "light-on-dark", "transparent"])
def test_a_thin_stroke_survives_the_shrink_of_a_long_image(tmp_path, mode):
    """A 3-pixel line across a 20000×400 image averaged to a grey too faint to tell from the
    paper once shrunk to fit 1024 pixels: it read as "no digit found (nearly uniform)"."""
    from mnist_desktop.model.preprocess import load_digit_image

    if mode == "transparent":
        a = np.zeros((400, 20000, 4), np.uint8)
        a[199:202, 1000:19000, 3] = 255  # black ink, opaque, on nothing
        Image.fromarray(a, "RGBA").save(tmp_path / "line.png")
    else:
        a = np.full((400, 20000), 255 if mode == "dark-on-light" else 0, np.uint8)
        a[199:202, 1000:19000] = 255 - a[0, 0]
        Image.fromarray(a).save(tmp_path / "line.png")
    image = load_digit_image(tmp_path / "line.png")
    assert max(image.shape) <= 1024 and image.max() == 255
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    assert len(rows) <= 2 and cols[0] == 1000 // 20 and cols[-1] == 19000 // 20 - 1  # the line, where it was, nothing else


def test_a_noisy_blank_photo_stays_blank_after_the_ink_keeping_shrink(tmp_path):
    """The ink-keeping shrink takes each block's darkest pixel, the paper's noise at its darkest
    too: a 3000² grey sheet with noise σ 10 stood 32 levels out of the border and read as a "6".
    A thin stroke on the same noisy paper still reads."""
    from mnist_desktop.model.errors import EmptyImageError
    from mnist_desktop.model.preprocess import load_digit_image

    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(200, 10, (3000, 3000)), 0, 255).astype(np.uint8)
    Image.fromarray(paper).save(tmp_path / "blank.png")
    with pytest.raises(EmptyImageError, match="nearly uniform"):
        load_digit_image(tmp_path / "blank.png")
    # A 2-pixel pencil line on such paper, 12000×600: averaged over 12×12 blocks it fades under
    # the 32 levels, so it is read by the ink-keeping shrink, and stands out of the noise there.
    paper = np.clip(rng.normal(200, 10, (600, 12000)), 0, 255).astype(np.uint8)
    paper[299:301, 1200:10800] = 40
    Image.fromarray(paper).save(tmp_path / "line.png")
    image = load_digit_image(tmp_path / "line.png")
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    assert len(rows) <= 2 and abs(cols[0] - 100) <= 1 and abs(cols[-1] - 899) <= 1  # the line, nothing else


def test_an_image_too_thin_to_read_once_shrunk_says_so(tmp_path, capsys):
    """20000×20 shrinks to 1024×1: the border is the whole image, there is no paper to tell the ink from."""
    from mnist_desktop.cli import main

    a = np.full((20, 20000), 255, np.uint8)
    a[9:11, 1000:19000] = 0
    Image.fromarray(a).save(tmp_path / "thin.png")
    for command in ("read", "predict"):
        assert main([command, str(tmp_path / "thin.png")]) == 1
        err = capsys.readouterr().err
        assert "20000×20 pixels is too long and thin to read: shrunk to fit 1024 pixels it is 1024×1" in err and "uniform" not in err
