"""From a drawing (any size, white ink on black) to a 28×28 image made the way MNIST was made.

NIST's digits were cropped, fitted into a 20×20 box keeping their aspect ratio with
anti-aliasing, and placed in a 28×28 field so that their centre of mass sits at the centre.
``to_mnist`` does the same, so a digit drawn small, large, or in a corner looks like MNIST.
"""

from __future__ import annotations

import functools
import os
import warnings

import numpy as np

from .errors import DataError, EmptyImageError, brief
from .files import check_regular_file

BOX = 20
SIZE = 28
CENTRE = 14
# Images from outside: raster formats only. Pillow picks a decoder from the file's bytes,
# whatever its name, and its EPS/PS plugin runs Ghostscript on the file.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
MAX_IMAGE_BYTES = 100 * 2**20  # far above any photo of a digit
# An opened image is scaled down to fit this square before it becomes floats: the canvas
# shows at most a few hundred pixels, and to_mnist keeps a 20×20 box. A 12000×12000 photo
# would otherwise take gigabytes as float32.
MAX_IMAGE_SIDE = 1024
# Pixels decoded at full size (all but JPEG): 64 M, a 48-megapixel phone photo fits; a PNG of
# 20000×20000 blank pixels is a few hundred KB on disk and 1.6 GB as RGBA.
MAX_IMAGE_PIXELS = 2**26


def quiet_pillow_decoders() -> None:
    """Filter, once for the process, the warnings ``load_digit_image`` reads past: Pillow's
    decompression-bomb warning (between its limit and twice it the image is only ever decoded
    small; from twice it Pillow raises, which is reported) and its decoders' complaints about a
    damaged part they skip ("Corrupt EXIF data", with a site-packages path), noise beside the
    digit read. Installed at import, not around each decode: ``warnings.catch_warnings`` swaps
    the process's filters, and the decode runs in worker threads (the canvas's image loader)
    beside others that warn or set filters themselves. Pillow is not imported for it: the
    filters name the warnings by category, module and message."""
    warnings.filterwarnings(
        "ignore", r"Image size \(\d+ pixels\) exceeds limit of \d+ pixels, could be decompression bomb", RuntimeWarning, r"PIL\.Image$"
    )
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


quiet_pillow_decoders()


@functools.lru_cache(maxsize=1024)  # read_number resizes many pieces of the same few sizes
def _aa_weights(in_size: int, out_size: int) -> np.ndarray:
    """The ``(out_size, in_size)`` matrix of an antialiased bilinear (triangle) resize along one axis.

    The weights of PyTorch's ``F.interpolate(mode="bilinear", antialias=True, align_corners=False)``
    (and Pillow's BILINEAR): when shrinking, the triangle widens to cover every input pixel
    that falls in an output pixel, so a thin stroke averages to grey instead of vanishing.
    """
    scale = in_size / out_size
    support = scale if scale >= 1.0 else 1.0  # half the triangle's width, in input pixels
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    weights = np.zeros((out_size, in_size))
    for i in range(out_size):
        centre = scale * (i + 0.5)
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), in_size)
        j = np.arange(lo, hi)
        w = np.maximum(0.0, 1.0 - np.abs((j - centre + 0.5) * invscale))
        total = w.sum()
        weights[i, lo:hi] = w / total if total != 0 else w
    weights.flags.writeable = False  # shared by every caller through the cache
    return weights


def resize_antialiased(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A 2-D float image resized to ``size`` (rows, columns) as ``F.interpolate(..., antialias=True)`` does, in numpy.

    Separable: one matrix multiply along the columns, one along the rows. float32 out.
    """
    rows, cols = _aa_weights(image.shape[0], size[0]), _aa_weights(image.shape[1], size[1])
    return (rows @ np.asarray(image, dtype=np.float64) @ cols.T).clip(0, 255).astype(np.float32) / np.float32(255.0)


# --- to_mnist, step by step: the preprocessing lab (preprocess_variants) leaves one out at a time


def _checked(image: np.ndarray) -> np.ndarray:
    """``image`` as a 2-D uint8 array with some ink, or ValueError / EmptyImageError."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image (0–255), got {image.dtype}")
    if not image.any():
        raise EmptyImageError("the image is empty: draw a digit first")
    return image


def ink_box(image: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the smallest rectangle holding all the ink (``image`` has some)."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def crop(image: np.ndarray) -> np.ndarray:
    """Step 1: the smallest rectangle holding all the ink (``image`` has some)."""
    return image[ink_box(image)]


def _scaled_size(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def _banded(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``_aa_weights`` as a band: ``(indices, weights)``, each ``(out_size, width)``; output pixel i
    is ``weights[i] · input[indices[i]]``. (Indices past the edge repeat the last one, with weight 0.)"""
    dense = _aa_weights(in_size, out_size)
    nonzero = dense != 0
    lo = nonzero.argmax(axis=1)
    hi = in_size - nonzero[:, ::-1].argmax(axis=1)
    span = lo[:, None] + np.arange(max(1, int((hi - lo).max())))
    indices = np.minimum(span, in_size - 1)
    weights = np.where(span < in_size, np.take_along_axis(dense, indices, axis=1), 0.0)
    return indices, weights


def resize_banded(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``resize_antialiased(image, size)``, equal up to rounding (1e-6), in a fraction of its
    work: each output pixel reads only the input pixels under its triangle (a band), summed
    without BLAS. A 280×280 matrix product wakes every BLAS thread, which costs milliseconds on
    a busy machine; this stays on the calling thread, under a millisecond. (``to_mnist`` keeps
    ``resize_antialiased``: its results stay what they were, bit for bit.)"""
    rows_i, rows_w = _banded(image.shape[0], size[0])
    cols_i, cols_w = _banded(image.shape[1], size[1])
    x = image.astype(np.float64)
    x = np.einsum("ok,okc->oc", rows_w, x[rows_i])  # (size[0], W)
    x = np.einsum("pk,opk->op", cols_w, x[:, cols_i])  # (size[0], size[1])
    return x.clip(0, 255).astype(np.float32) / np.float32(255.0)


def fit_box(image: np.ndarray, box: int = BOX) -> np.ndarray:
    """Step 2: ``image`` scaled to fit a ``box``×``box`` square, aspect ratio kept, float32 in [0, 1]."""
    return resize_antialiased(image.astype(np.float32), _scaled_size(image.shape, box / max(image.shape)))


def stretch(box: np.ndarray) -> np.ndarray:
    """Step 3: ``box`` divided by its brightest pixel (in place), so that it peaks at full white.

    MNIST digits all peak at full white (255). A thin or light stroke, averaged down to
    20×20, would come out grey. EmptyImageError if no ink survived the resize.
    """
    peak = box.max()
    if peak <= 0:  # ink too faint to survive the resize
        raise EmptyImageError("the image is empty: draw a digit first")
    box /= peak
    return box


def _place(box: np.ndarray, top: int, left: int) -> np.ndarray:
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + box.shape[0], left : left + box.shape[1]] = box
    return out


def place_by_centre_of_mass(box: np.ndarray) -> np.ndarray:
    """Step 4: ``box`` (at most 28×28) in a 28×28 field with its centre of mass at the centre.

    Where MNIST has it (pixel 14, 14: measured over the test set, 13.99 ± 0.29), but never
    pushing ink out of the field.
    """
    h, w = box.shape
    total = box.sum()
    cy = (box.sum(axis=1) @ np.arange(h)) / total
    cx = (box.sum(axis=0) @ np.arange(w)) / total
    # min/max of Python ints rather than np.clip: the same numbers, without np.clip's overhead
    # on scalars (a tenth of to_mnist's time; read_number calls it for every piece).
    top = min(max(round(CENTRE - cy), 0), SIZE - h)
    left = min(max(round(CENTRE - cx), 0), SIZE - w)
    return _place(box, top, left)


def place_in_middle(box: np.ndarray) -> np.ndarray:
    """``box`` (at most 28×28) in the middle of a 28×28 field, by its bounding box: step 4 left out."""
    h, w = box.shape
    return _place(box, (SIZE - h) // 2, (SIZE - w) // 2)


def _checked_empty(box: np.ndarray) -> np.ndarray:
    if box.max() <= 0:  # as stretch() says when it is there
        raise EmptyImageError("the image is empty: draw a digit first")
    return box


def to_mnist(image: np.ndarray) -> np.ndarray:
    """A 2-D uint8 array (white ink 255 on black 0) → float32 (28, 28) in [0, 1].

    Crop, fit a 20×20 box, stretch the contrast, centre the centre of mass.
    """
    return place_by_centre_of_mass(stretch(fit_box(crop(_checked(image)))))


# The preprocessing lab's recipes, in the order it shows them: what each does to the drawing.
PREPROCESS_VARIANTS = {
    "naive": "the whole canvas resized to 28×28, nothing else",
    "mnist": "to_mnist: crop, fit 20×20 keeping the aspect ratio, stretch the contrast, centre of mass at the centre",
    "no_crop": "to_mnist without the crop: the whole canvas is fitted into 20×20",
    "no_fit": "to_mnist without the 20×20 fit: the ink keeps the size it has on the canvas (scaled as the canvas is to 28)",
    "no_stretch": "to_mnist without the contrast stretch: thin or light strokes stay grey",
    "no_centring": "to_mnist without the centre-of-mass shift: the 20×20 box sits in the middle by its bounding box",
}


def preprocess_variants(image: np.ndarray) -> dict[str, np.ndarray]:
    """The canvas ``image`` (as :func:`to_mnist` takes it) under every recipe of :data:`PREPROCESS_VARIANTS`:
    name → float32 (28, 28) in [0, 1]. ``"mnist"`` is exactly :func:`to_mnist`; each ``"no_..."``
    is to_mnist with that one step left out (the same code, one call skipped); ``"naive"`` is the
    whole canvas resized to 28×28. ValueError or EmptyImageError as :func:`to_mnist` says them.
    """
    image = _checked(image)
    cropped = crop(image)
    boxed = fit_box(cropped)
    return {
        "naive": resize_banded(image, (SIZE, SIZE)),
        "mnist": place_by_centre_of_mass(stretch(boxed.copy())),
        "no_crop": place_by_centre_of_mass(stretch(resize_banded(image, _scaled_size(image.shape, BOX / max(image.shape))))),
        "no_fit": place_by_centre_of_mass(stretch(resize_banded(cropped, _scaled_size(cropped.shape, SIZE / max(image.shape))))),
        "no_stretch": place_by_centre_of_mass(_checked_empty(boxed)),
        "no_centring": place_in_middle(stretch(boxed.copy())),
    }


def _to_gray(im, levels: dict | None = None) -> np.ndarray:
    """A decoded (and shrunk) Pillow image of any mode → float32 2-D, 0 (black) to 255 (white).

    * 32-bit integer, 16-bit and float images have no fixed white: they are scaled by their own
      value range (a float image with all values in [0, 1] by 255, the float convention).
    * With transparency, transparent is paper and the ink is what is opaque: the image is put
      on black if its opaque pixels are light (white ink on a transparent background), on
      white if they are dark, so the ink stands out either way.

    ``levels`` (from :func:`_gray_levels`): those two decisions made once for a whole image,
    whose bands are converted one at a time.
    """
    levels = levels or {}
    if im.mode in ("F", "I") or im.mode.startswith("I;"):
        a = np.asarray(im.convert("F") if im.mode != "F" else im, dtype=np.float64)
        finite = a[np.isfinite(a)]
        if finite.size == 0 and "range" not in levels:
            return np.zeros(a.shape, dtype=np.float32)
        low, high = levels["range"] if "range" in levels else (float(finite.min()), float(finite.max()))
        if im.mode == "F" and low >= 0.0 and high <= 1.0:
            low, high = 0.0, 1.0
        a = np.nan_to_num(a, nan=low, posinf=high, neginf=low)
        span = high - low
        return (np.zeros(a.shape) if span <= 0 else (a - low) * (255.0 / span)).astype(np.float32)
    if im.mode == "RGBA":
        la = np.asarray(im.convert("LA"), dtype=np.float32)
        lum, alpha = la[..., 0], la[..., 1] / 255.0
        if alpha.min() < 1.0 or "paper" in levels:
            paper = levels.get("paper")
            if paper is None:
                weight = alpha.sum()
                ink_is_light = weight > 0 and float((lum * alpha).sum() / weight) > 127.5
                paper = 0.0 if ink_is_light else 255.0
            return lum * alpha + paper * (1.0 - alpha)
        return lum
    return np.asarray(im.convert("L"), dtype=np.float32)


def _gray_levels(im) -> dict:
    """What :func:`_to_gray` decides from a whole image, to convert it one band at a time alike:
    the value range of an integer or float image; the paper under a transparent one (from the
    image averaged down, small: the same weighted mean of the opaque pixels' lightness)."""
    if im.mode in ("F", "I"):
        low, high = im.getextrema()
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and np.isfinite([low, high]).all():
            return {"range": (float(low), float(high))}
        return {}
    if im.mode == "RGBA":
        small = im.reduce(max(1, max(im.size) // 256))
        la = np.asarray(small.convert("LA"), dtype=np.float64)
        weight = la[..., 1].sum()
        return {"paper": 0.0 if weight > 0 and float((la[..., 0] * la[..., 1]).sum() / weight) > 127.5 else 255.0}
    return {}


def load_digit_image(path: str | os.PathLike, max_side: int = MAX_IMAGE_SIDE) -> np.ndarray:
    """Read a PNG/JPEG/... of one digit in either polarity → uint8 2-D, white ink on black.

    The picture is turned upright from its EXIF orientation (phone photos). The background
    is taken from the image's border: a light border means dark ink, which is inverted.
    Values near the background become 0, so paper texture and JPEG noise do not count as ink,
    and specks (marks under SPECK_AREA of the largest, as ``read_number`` drops) are dropped.
    The result fits in a ``max_side`` square (aspect ratio kept): a JPEG is decoded at a
    reduced scale (``Image.draft``), anything else shrunk right after decoding. A stroke too
    thin to survive that averaging shrink (a 3-pixel line across 20,000) is read again with a
    shrink that keeps each block's most inked pixel; an image so long and thin that it shrinks
    to a line or two is refused saying so. Every failure to read is a :class:`DataError`
    naming the file (or :class:`EmptyImageError`).
    """
    if check_regular_file(path, "image", MAX_IMAGE_BYTES, DataError) == 0:
        raise DataError(f"{path}: the file is empty (0 bytes), not an image.")
    gray, size = _decode(path, max_side)
    try:
        return _ink(path, gray, size)
    except EmptyImageError:
        if max(size) <= max_side:  # not shrunk: nothing was lost
            raise
    if min(gray.shape) < 3:  # the border is (nearly) the whole image: no paper to tell ink from
        raise DataError(
            f"{path}: {size[0]}×{size[1]} pixels is too long and thin to read: shrunk to fit {max_side} pixels it is "
            f"{gray.shape[1]}×{gray.shape[0]}; crop it closer around the digits."
        )
    light_paper = float(np.median(_border(gray))) > 127
    gray, _ = _decode(path, max_side, keep_ink="dark" if light_paper else "light")
    # Each block's darkest pixel is also the paper's noise at its darkest: on a noisy blank
    # photo that tail stood 32 levels out of the border's median (a 3000² grey sheet with
    # noise σ 10 read as a "6"). The ink must stand out of the pooled border's own spread too.
    border = _border(gray)
    spread = float(np.median(np.abs(border - np.median(border))))
    return _ink(path, gray, size, floor=MIN_INK + NOISE_SPREADS * spread)


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


MIN_INK = 32  # levels of 255 the ink must stand out of the paper, or the image is blank
NOISE_SPREADS = 6  # after the ink-keeping shrink: also this many median absolute deviations of the border


def _ink(path, gray: np.ndarray, size: tuple[int, int], floor: float = MIN_INK) -> np.ndarray:
    """The decoded ``gray`` as white ink on black (the paper from the border), or EmptyImageError
    when nothing stands ``floor`` levels out of the paper."""
    border = _border(gray)
    background = float(np.median(border))
    if background > 127:
        gray = 255.0 - gray
        background = 255.0 - background
    ink = gray.max() - background
    if ink < floor:
        raise EmptyImageError(f"{path}: no digit found (the image is nearly uniform)")
    out = (gray - background) * (255.0 / ink)
    out[out < 0.15 * 255] = 0
    return _drop_specks(np.clip(out, 0, 255).astype(np.uint8))


def _decode(path, max_side: int, keep_ink: str | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """The image at ``path`` as float32 gray (0 black, 255 white) fitting a ``max_side`` square,
    and its size (width, height) as stored. Shrunk by averaging (Lanczos), or with ``keep_ink``
    ("dark" or "light") by keeping the darkest or lightest pixel of each block."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    accepted = ", ".join(IMAGE_FORMATS)
    try:
        # Pillow warns from its MAX_IMAGE_PIXELS and refuses from twice that (kept on, reported
        # below); the warning, and its decoders' complaints, are filtered once at import
        # (quiet_pillow_decoders): no filter is set here, where threads decode side by side.
        with Image.open(path, formats=IMAGE_FORMATS) as im:
            size = im.size
            if im.width * im.height > MAX_IMAGE_PIXELS and im.format != "JPEG":  # a JPEG is decoded reduced
                raise Image.DecompressionBombError(f"{im.width}×{im.height} pixels, more than {MAX_IMAGE_PIXELS:,}")
            # Resized in a mode that averages (palette and 1-bit images would be resized
            # nearest-neighbour), with transparency as premultiplied RGBA.
            if im.mode.startswith("I;16") and "transparency" in im.info:
                # A 16-bit grey image with a transparent value: Pillow's RGBA conversion clips
                # at 255 (all but the darkest grey turned white), so 8 bits first, the key as alpha.
                a = np.asarray(im).astype(np.uint32)
                grey = (a >> 8).astype(np.uint8)
                alpha = np.where(a == int(im.info["transparency"]), 0, 255).astype(np.uint8)
                im = Image.fromarray(np.stack([grey, grey, grey, alpha], axis=-1), "RGBA")
            elif im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
                im = im.convert("RGBA")
            elif im.mode.startswith("I;"):
                im = im.convert("I")  # 16-bit: resized as 32-bit integers
            elif im.mode not in ("L", "RGB", "I", "F"):
                im = im.convert("L")  # palette, 1-bit, CMYK, YCbCr...
            if keep_ink is None:
                # For a JPEG, thumbnail() first asks the decoder for a scale of 1/2 to 1/8.
                im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
                gray = _to_gray(_exif_transpose(im, ImageOps))
            else:
                if im.width * im.height > MAX_IMAGE_PIXELS:  # a JPEG: decoded reduced (by 1/2 to 1/8) to fit
                    scale = (MAX_IMAGE_PIXELS / (im.width * im.height)) ** 0.5
                    im.draft(im.mode, (int(im.width * scale) + 1, int(im.height * scale) + 1))
                gray = _shrink_keeping_ink(im, max_side, keep_ink)
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image this app reads (accepted formats: {accepted})") from None
    except Image.DecompressionBombError as e:
        raise DataError(f"{path}: too many pixels to open safely ({brief(e)})") from None
    except OSError as e:
        if e.errno is not None and e.filename is not None:  # the file itself (permissions...), as a checkpoint's says it
            raise DataError(f"{path}: cannot open ({e.strerror or e}).") from None
        raise DataError(f"{path}: not a readable image ({brief(e)})") from None
    except ValueError as e:
        raise DataError(f"{path}: not a readable image ({brief(e)})") from None
    except Exception as e:  # a damaged file can make a decoder fail in any way (struct.error, SyntaxError...)
        raise DataError(f"{path}: not a readable image, it is damaged ({type(e).__name__}: {brief(e, 160)})") from None
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise DataError(f"{path}: the image has no pixels")
    return gray, size


def _exif_transpose(im, ImageOps):
    try:
        return ImageOps.exif_transpose(im)  # still fits the square: rotations by 90° only
    except Exception:  # damaged EXIF: the picture as stored
        return im


def _shrink_keeping_ink(im, max_side: int, keep_ink: str):
    """``im`` shrunk to fit a ``max_side`` square by keeping, of each f×f block, its darkest
    (``keep_ink="dark"``) or lightest pixel: a stroke thinner than a block stays a full-contrast
    line where averaging leaves a grey too faint to tell from the paper. Computed one band of
    blocks at a time (a band of the image in memory, not the whole image as floats); the result
    is float32 gray as ``_to_gray`` gives it, turned upright from the EXIF orientation."""
    from PIL import Image

    f = max(1, -(-max(im.size) // max_side))
    width, height = im.size
    levels = _gray_levels(im)
    out_w, out_h = -(-width // f), -(-height // f)
    out = np.empty((out_h, out_w), np.float32)
    pool = np.minimum.reduce if keep_ink == "dark" else np.maximum.reduce
    for r in range(out_h):
        band = _to_gray(im.crop((0, r * f, width, min(height, (r + 1) * f))), levels)
        if out_w * f != width:  # the last block of a row: the row's last pixel repeated
            band = np.pad(band, ((0, 0), (0, out_w * f - width)), mode="edge")
        out[r] = pool(pool(band.reshape(band.shape[0], out_w, f), axis=2), axis=0)
    try:
        orientation = im.getexif().get(0x0112)
    except Exception:  # damaged EXIF: the picture as stored
        orientation = None
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)  # as ImageOps.exif_transpose turns it
    shrunk = Image.fromarray(out, "F")
    return np.asarray(shrunk.transpose(method) if method is not None else shrunk, dtype=np.float32)


def _drop_specks(image: np.ndarray) -> np.ndarray:
    """``image`` without its specks: lit marks (with their faint edges) of less than SPECK_AREA of
    the largest one's lit pixels, the share ``read_number`` drops (it counts the ink above
    INK_FRACTION only). ``to_mnist`` crops to every lit pixel, so one dark speck of dust in a
    photo's corner shrank the digit to a few pixels."""
    from .numbers import SPECK_AREA, label_components  # numbers builds on this module

    labels, count = label_components(image > 0)
    if count < 2:
        return image
    area = np.bincount(labels.ravel(), minlength=count + 1)
    area[0] = 0
    speck = area < SPECK_AREA * area.max()
    speck[0] = False
    return np.where(speck[labels], 0, image).astype(np.uint8) if speck.any() else image
