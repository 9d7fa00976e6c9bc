"""Make mnist_desktop/resources/train/font_glyphs.npz: digits and non-digits written in fonts
that the measured sets (scripts/make_eval_sets.py) do not use, for training (``--font-glyphs``).

    apt-get install fonts-dancingscript fonts-kaushanscript fonts-leckerli-one fonts-lobster \\
        fonts-havana fonts-kiloji fonts-dejavu-core fonts-dejavu-extra fonts-freefont-ttf
    python scripts/make_training_glyphs.py [--handwriting]

Digits show the model styles MNIST has few of (a 1 with a flag and a foot, a crossed 7, an
open 4); the letters and symbols join the generated non-digits of outlier exposure.

``--handwriting`` adds eleven handwriting faces (``HANDWRITING_FONTS``; 1,860 digits and 2,636
letters and symbols in all). Tried on 2026-12-06 (two seeds of the bundled recipe, on the CPU):
no gain beyond the seeds' spread on validation (``mnist_desktop/resources/models/README.md``),
so the bundled file holds the 20 fonts above. ``VALIDATION_FONTS`` are five more handwriting
faces that neither training nor ``bench`` uses; the sweep (``scripts/sweep_bundled_model.py``)
measures font digits and letters on them. Both lists need

    apt-get install fonts-tlwg-purisa fonts-rufscript fonts-navilu fonts-tomsontalks fonts-staypuft \\
        fonts-dustin fonts-aoyagi-soseki fonts-kouzan-mouhitsu fonts-seto
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_eval_sets import glyph  # noqa: E402

from mnist_desktop.model.nondigits import TRAINING_LETTERS, TRAINING_SYMBOLS  # noqa: E402

OUT = ROOT / "mnist_desktop" / "resources" / "train"
FONTS = [
    "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf",
    "/usr/share/fonts/opentype/dancingscript/DancingScript-Bold.otf",
    "/usr/share/fonts/opentype/havana/Havana-Regular.otf",
    "/usr/share/fonts/opentype/kaushanscript/KaushanScript-Regular.otf",
    "/usr/share/fonts/opentype/lobster/lobster.otf",
    "/usr/share/fonts/truetype/leckerli-one/LeckerliOne-Regular.ttf",
    "/usr/share/fonts/truetype/kiloji/kiloji.ttf",
    "/usr/share/fonts/truetype/kiloji/kiloji_b.ttf",
    "/usr/share/fonts/truetype/kiloji/kiloji_d.ttf",
    "/usr/share/fonts/truetype/kiloji/kiloji_p.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-ExtraLight.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSerif.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSerifItalic.ttf",
    "/usr/share/fonts/truetype/freefont/FreeMono.ttf",
]
HANDWRITING_FONTS = [
    "/usr/share/fonts/truetype/tlwg/Purisa.ttf",
    "/usr/share/fonts/truetype/tlwg/Purisa-Bold.ttf",
    "/usr/share/fonts/truetype/tlwg/Purisa-Oblique.ttf",
    "/usr/share/fonts/truetype/rufscript/Rufscript010.ttf",
    "/usr/share/fonts/truetype/Navilu/Navilu.ttf",
    "/usr/share/fonts/truetype/tomsontalks/TomsonTalks.ttf",
    "/usr/share/fonts/truetype/staypuft/StayPuft.ttf",
    "/usr/share/fonts/truetype/dustin/Domestic_Manners.ttf",
    "/usr/share/fonts/truetype/dustin/Junkyard.ttf",
    "/usr/share/fonts/truetype/aoyagi-soseki/aoyagi-soseki.ttf",
    "/usr/share/fonts/truetype/kouzan-mouhitsu/KouzanBrushFontSousyo.ttf",
]
VALIDATION_FONTS = [
    "/usr/share/fonts/truetype/dustin/El_Abogado_Loco.ttf",
    "/usr/share/fonts/truetype/dustin/PenguinAttack.ttf",
    "/usr/share/fonts/truetype/dustin/Dustismo_Roman_Italic.ttf",
    "/usr/share/fonts/truetype/seto/setofont.ttf",
    "/usr/share/fonts/truetype/kouzan-mouhitsu/kouzan-mouhitsu.ttf",
]


def render(chars: str, variants, fonts=FONTS):
    images, texts = [], []
    for path in fonts:
        for ch in chars:
            for angle, fatter in variants:
                g = glyph(path, ch, angle, fatter)
                if g is not None:
                    images.append(g)
                    texts.append(ch)
    return np.stack(images), texts


def main() -> None:
    fonts = FONTS + HANDWRITING_FONTS if "--handwriting" in sys.argv[1:] else FONTS
    OUT.mkdir(parents=True, exist_ok=True)
    digits, dt = render("0123456789", [(a, w) for a in (-8, 0, 8) for w in (0, 3)], fonts)
    others, ot = render(TRAINING_LETTERS + TRAINING_SYMBOLS, [(0, 0), (-8, 3)], fonts)
    np.savez_compressed(
        OUT / "font_glyphs.npz",
        digits=digits,
        digit_labels=np.array([int(c) for c in dt], np.uint8),
        others=others,
        other_text=np.array(ot),
        fonts=np.array([Path(p).name for p in fonts]),
    )
    print(f"{len(digits)} digits, {len(others)} letters and symbols")


if __name__ == "__main__":
    main()
