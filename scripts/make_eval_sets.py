"""Make the measured sets in mnist_desktop/resources/eval/ (run once; the files are committed).

    apt-get install fonts-dkg-handwriting fonts-breip fonts-bwht fonts-femkeklaver \\
        fonts-humor-sans fonts-comic-neue fonts-klee fonts-kristi fonts-ecolier-court
    pip install scikit-learn   # only for optdigits_8x8.npz
    python scripts/make_eval_sets.py

* ``optdigits_8x8.npz``: scikit-learn's ``load_digits`` (UCI optdigits test set), as stored.
* ``font_glyphs.npz``: digits, letters and symbols written in handwriting fonts (outline
  fonts such as femkeklaver left out: nobody writes hollow digits), drawn big on
  a black canvas (turned by -6°, 0° or +6°, stroke as the font has it or 2 px fatter) and put
  through ``to_mnist``. None of these fonts is used in training.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_desktop.model.nondigits import DIGIT_LIKE  # noqa: E402
from mnist_desktop.model.preprocess import to_mnist  # noqa: E402

OUT = ROOT / "mnist_desktop" / "resources" / "eval"
FONTS = [
    "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
    "/usr/share/fonts/truetype/fifthhorseman/dkgIt.ttf",
    "/usr/share/fonts/truetype/fifthhorseman/dkgBd.ttf",
    "/usr/share/fonts/truetype/breip/Breip.ttf",
    "/usr/share/fonts/opentype/bwht/BecauseWeBuild-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeConnect-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeCreate-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeLearn-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeMentor-Regular.otf",
    "/usr/share/fonts/opentype/bwht/BecauseWeOrganize-Regular.otf",
    "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Italic.otf",
    "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf",
    "/usr/share/fonts/truetype/kristi/Kristi.ttf",
    "/usr/share/fonts/truetype/ecolier-court/Ecolier-court.ttf",
]
DIGITS = "0123456789"
LETTERS = "".join(c for c in "ACEFHKMNPRUVWXYacdefhkmnpruvwx" if c not in DIGIT_LIKE)
SYMBOLS = "+-=×?"
DIGIT_LIKE_LETTERS = "OlISZB"


def glyph(font_path: str, ch: str, angle: float, fatter: int, size: int = 140) -> np.ndarray | None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, 100)
    if bytes(font.getmask(ch)) == bytes(font.getmask("\uffff")):  # the font has no such glyph: its .notdef box
        return None
    im = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(im).text((size, size), ch, fill=255, font=font, anchor="mm", stroke_width=fatter, stroke_fill=255)
    im = im.rotate(angle, resample=Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.uint8)
    if a.max() < 128:
        return None
    return np.round(to_mnist(a) * 255).astype(np.uint8)


def render(chars: str, variants) -> tuple[np.ndarray, list[str], list[int]]:
    images, texts, fonts = [], [], []
    for f, path in enumerate(FONTS):
        for ch in chars:
            for angle, fatter in variants:
                g = glyph(path, ch, angle, fatter)
                if g is not None:
                    images.append(g)
                    texts.append(ch)
                    fonts.append(f)
    return np.stack(images), texts, fonts


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        from sklearn.datasets import load_digits

        d = load_digits()
        np.savez_compressed(OUT / "optdigits_8x8.npz", images=d.images.astype(np.uint8), labels=d.target.astype(np.uint8))
    except ImportError:
        print("scikit-learn not installed: optdigits_8x8.npz left as it is")
    every = [(a, w) for a in (-6, 0, 6) for w in (0, 2)]
    digits, dt, df = render(DIGITS, every)
    letters, lt, lf = render(LETTERS, [(0, 0)])
    symbols, st, sf = render(SYMBOLS, [(-6, 0), (0, 0), (6, 2)])
    like, kt, kf = render(DIGIT_LIKE_LETTERS, [(0, 0)])
    np.savez_compressed(
        OUT / "font_glyphs.npz",
        digits=digits,
        digit_labels=np.array([int(c) for c in dt], np.uint8),
        digit_fonts=np.array(df, np.uint8),
        letters=letters,
        letter_text=np.array(lt),
        symbols=symbols,
        symbol_text=np.array(st),
        digit_like=like,
        digit_like_text=np.array(kt),
        fonts=np.array([Path(p).name for p in FONTS]),
    )
    print(f"{len(digits)} digits, {len(letters)} letters, {len(symbols)} symbols, {len(like)} digit-like letters")


if __name__ == "__main__":
    main()
