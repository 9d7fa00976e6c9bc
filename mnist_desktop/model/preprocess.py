"""From a drawing (any size, white ink on black) to a 28×28 image made the way MNIST was made.

NIST's digits were cropped, fitted into a 20×20 box keeping their aspect ratio with
anti-aliasing, and placed in a 28×28 field so that their centre of mass sits at the centre.
``to_mnist`` does the same, so a digit drawn small, large, or in a corner looks like MNIST.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DataError, EmptyImageError
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


def to_mnist(image: np.ndarray) -> np.ndarray:
    """A 2-D uint8 array (white ink 255 on black 0) → float32 (28, 28) in [0, 1]."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image (0–255), got {image.dtype}")
    rows = np.flatnonzero(image.any(axis=1))
    if rows.size == 0:
        raise EmptyImageError("the image is empty: draw a digit first")
    cols = np.flatnonzero(image.any(axis=0))
    crop = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    box = F.interpolate(
        torch.from_numpy(np.ascontiguousarray(crop)).float()[None, None],
        size=size,
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )[0, 0].clamp_(0, 255).numpy() / 255.0
    peak = box.max()
    if peak <= 0:  # ink too faint to survive the resize
        raise EmptyImageError("the image is empty: draw a digit first")
    # MNIST digits all peak at full white (255). A thin or light stroke, averaged down to
    # 20×20, would come out grey: stretch it so its brightest pixel is white too.
    box /= peak
    total = box.sum()
    cy = (box.sum(axis=1) @ np.arange(size[0])) / total
    cx = (box.sum(axis=0) @ np.arange(size[1])) / total
    # Put the centre of mass where MNIST has it (pixel 14, 14: measured over the test set,
    # 13.99 ± 0.29), but never push ink out of the field.
    top = int(np.clip(round(CENTRE - cy), 0, SIZE - size[0]))
    left = int(np.clip(round(CENTRE - cx), 0, SIZE - size[1]))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + size[0], left : left + size[1]] = box
    return out


def load_digit_image(path: str | os.PathLike, max_side: int = MAX_IMAGE_SIDE) -> np.ndarray:
    """Read a PNG/JPEG/... of one digit in either polarity → uint8 2-D, white ink on black.

    The background is taken from the image's border: a light border means dark ink, which
    is inverted. Values near the background become 0, so paper texture and JPEG noise do
    not count as ink. The result fits in a ``max_side`` square (aspect ratio kept): a JPEG is
    decoded at a reduced scale (``Image.draft``), anything else shrunk right after decoding.
    """
    from PIL import Image, UnidentifiedImageError

    check_regular_file(path, "image", MAX_IMAGE_BYTES, DataError)
    accepted = ", ".join(IMAGE_FORMATS)
    try:
        # Pillow warns from MAX_IMAGE_PIXELS and refuses from twice that (kept on, reported
        # below); in between, the image is only ever decoded small, so the warning is noise.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as im:
                transparent = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
                if transparent and im.mode != "RGBA":
                    im = im.convert("RGBA")
                elif not transparent and im.mode not in ("L", "RGB"):
                    im = im.convert("L")  # palette, 1-bit, CMYK, 16-bit: what the old code did too
                # For a JPEG, thumbnail() first asks the decoder for a scale of 1/2 to 1/8.
                im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
                if transparent:
                    flat = Image.new("RGBA", im.size, (255, 255, 255, 255))
                    # Transparent drawings: put them on white, ink stays as drawn.
                    im = Image.alpha_composite(flat, im)
                gray = np.asarray(im.convert("L"), dtype=np.float32)
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image this app reads (accepted formats: {accepted})") from None
    except Image.DecompressionBombError as e:
        raise DataError(f"{path}: too many pixels to open safely ({e})") from None
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise DataError(f"{path}: the image has no pixels")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 127:
        gray = 255.0 - gray
        background = 255.0 - background
    ink = gray.max() - background
    if ink < 32:
        raise EmptyImageError(f"{path}: no digit found (the image is nearly uniform)")
    out = (gray - background) * (255.0 / ink)
    out[out < 0.15 * 255] = 0
    return np.clip(out, 0, 255).astype(np.uint8)
