"""Fit the bundled model's digit head (``recognition.fit_digit_head``) and compare it with the
energy rule on validation data only; ``--write`` stores it in the checkpoint's metadata.

    PYTHONPATH=. python scripts/fit_digit_head.py [--checkpoint PATH] [--cache /tmp/nad] [--write]

* Fitted on the first 55,000 MNIST training digits (the ones the bundled model trained on) and
  generated non-digits (``training.digit_head_sets``: the training generators with seeds 9101
  and 9103, pieces of two of those digits with seed 9102).
* Its threshold (and, for the comparison, the energy's) is set on held-out training digits
  55,000–57,499 (never trained on), so that 0.2 % of them are called "not a digit".
* Compared on the validation data of ``scripts/choose_not_a_digit.py`` (held-out digits
  57,500–59,999, the same redrawn and pen-redrawn, 14 fonts neither training nor bench uses;
  those fonts' letters and symbols, the training generators with seed 9001, bench's Bézier
  generators with seed 777) and pieces of two held-out validation digits (seed 9105). Nothing
  ``bench`` measures (MNIST test, optdigits, its fonts, its seed 12345) is used.
* ``--write`` saves the checkpoint again with the head in its metadata: its tensors are checked
  to be byte-identical before and after.

The settings (``recognition.HEAD_L2``, ``HEAD_WEIGHT``) were chosen with this comparison:
see the README ("Not a digit").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

NONDIGIT_SETS = (
    "val_letters",
    "val_symbols",
    "val_gen_letters",
    "val_gen_shapes",
    "val_gen_scribbles",
    "val_gen_strokes",
    "val_bez_scribbles",
    "val_bez_strokes",
)
DIGIT_SETS = ("val", "val_redrawn", "val_pen", "val_font_digits")


def tensors_of(path: Path) -> dict[str, bytes]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return {k: f.get_tensor(k).tobytes() for k in f.keys()}


def main() -> None:
    from choose_not_a_digit import make_sets

    from mnist_desktop.model import DEFAULT_MODEL, Predictor
    from mnist_desktop.model.data import mnist_arrays
    from mnist_desktop.model.nondigits import digit_pairs
    from mnist_desktop.model.numpy_forward import digit_energy
    from mnist_desktop.model.recognition import DIGITS_REJECTED, fit_digit_head
    from mnist_desktop.model.training import digit_head_sets

    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=str(DEFAULT_MODEL))
    ap.add_argument("--cache", default="/tmp/nad")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    path = Path(args.checkpoint)
    predictor = Predictor.load(path)
    images, _ = mnist_arrays("train")
    images = np.asarray(images)
    t = time.perf_counter()
    digits, nondigits = digit_head_sets(images[:55000])
    t_sets = time.perf_counter() - t
    t = time.perf_counter()
    head = fit_digit_head(predictor, digits, nondigits, images[55000:57500])
    print(f"sets {t_sets:.1f} s, fit {time.perf_counter() - t:.1f} s; threshold {head['threshold']:.4f}", flush=True)

    sets = make_sets(Path(args.cache))
    sets["val_pairs"] = digit_pairs(sets["val"], 1000, seed=9105)
    names = ["cal", *DIGIT_SETS, *NONDIGIT_SETS, "val_pairs"]
    rules = {"energy": {}, "digit head": {}}
    for name in names:
        f, logits = predictor.features_and_logits(sets[name])
        rules["energy"][name] = digit_energy(logits)
        rules["digit head"][name] = predictor.digit_head.scores(f, logits)
    print("flagged 'not a digit' (%), each threshold at 0.2 % of the calibration digits")
    print("rule | " + " | ".join(n.removeprefix("val_") for n in names[1:]) + " | non-digits, mean | at 1 % / 2 % pen-redrawn flagged")
    for rule, s in rules.items():
        thr = np.quantile(s["cal"], DIGITS_REJECTED, method="lower")
        flagged = {n: 100 * float((s[n] < thr).mean()) for n in names[1:]}
        mean = np.mean([flagged[n] for n in NONDIGIT_SETS])
        eq = [100 * np.mean([(s[n] < np.quantile(s["val_pen"], r)).mean() for n in NONDIGIT_SETS]) for r in (0.01, 0.02)]
        print(f"{rule} | " + " | ".join(f"{flagged[n]:.1f}" for n in names[1:]) + f" | {mean:.1f} | {eq[0]:.1f} / {eq[1]:.1f}")
    if args.write:
        before = tensors_of(path)
        predictor.save(path)
        after = tensors_of(path)
        if before != after:
            raise SystemExit(f"{path}: the weights changed on saving; restore the file from git")
        print(f"wrote the digit head into {path}'s metadata; weights byte-identical ({len(after)} tensors)")


if __name__ == "__main__":
    main()
