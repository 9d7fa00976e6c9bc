"""Fit the bundled model's digit head (``recognition.fit_digit_head``) and compare it with the
energy rule and the head the checkpoint carries on validation data only; ``--write`` stores it
in the checkpoint's metadata.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python scripts/fit_digit_head.py [--checkpoint PATH]
        [--cache /tmp/nad] [--hidden 32] [--weight 0.5] [--rejected 0.0025] [--seed 0] [--write]

* Fitted on the first 55,000 MNIST training digits (the ones the bundled model trained on) and
  generated non-digits (``training.digit_head_sets``: the training generators with seeds 9101
  and 9103, pieces of two of those digits with seed 9102, letters and symbols written stroke by
  stroke with seed 9111, the training fonts' letters and symbols). ``--hidden 0``: the linear
  head on the output layer's inputs (the first one); otherwise the small network on the logits
  and pooled activations. (One BLAS thread: the small network's minibatches are tiny, and on a
  busy machine more threads make its fitting ten times slower.)
* Its threshold (and, for the comparison, every other rule's) is set on held-out training digits
  55,000–57,499 (never trained on), so that ``--rejected`` of them are called "not a digit"
  (the energy's and the stored head's at the 0.2 % they were set at).
* Compared on the validation data of ``scripts/choose_not_a_digit.py`` (held-out digits
  57,500–59,999, the same redrawn and pen-redrawn, 14 fonts neither training nor bench uses;
  those fonts' letters and symbols, the training generators with seed 9001, bench's Bézier
  generators with seed 777), pieces of two held-out validation digits (seed 9105) and letters and
  symbols written stroke by stroke with seed 9121. Nothing ``bench`` measures (MNIST test,
  optdigits, its fonts, its seed 12345) is used.
* ``--write`` saves the checkpoint again with the head in its metadata: its tensors are checked
  to be byte-identical before and after.

The settings (``recognition.HEAD_L2``, ``HEAD_WEIGHT``) were chosen with this comparison:
see docs/recognition.md ("Not a digit").
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
    from mnist_desktop.model.nondigits import digit_pairs, redrawn_edges, scrawls, written_nondigits
    from mnist_desktop.model.numpy_forward import DigitHead, digit_energy
    from mnist_desktop.model.recognition import DIGITS_REJECTED, HEAD_HIDDEN, HEAD_REJECTED, HEAD_WEIGHT, fit_digit_head
    from mnist_desktop.model.training import digit_head_sets

    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=str(DEFAULT_MODEL))
    ap.add_argument("--cache", default="/tmp/nad")
    ap.add_argument("--hidden", type=int, default=HEAD_HIDDEN)
    ap.add_argument("--weight", type=float, default=HEAD_WEIGHT)
    ap.add_argument("--rejected", type=float, default=HEAD_REJECTED)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    path = Path(args.checkpoint)
    predictor = Predictor.load(path)
    stored = predictor.meta.get("recognition", {}).get("digit_head")
    images, _ = mnist_arrays("train")
    images = np.asarray(images)
    t = time.perf_counter()
    digits, nondigits = digit_head_sets(images[:55000])
    t_sets = time.perf_counter() - t
    t = time.perf_counter()
    head = fit_digit_head(
        predictor, digits, nondigits, images[55000:57500], args.rejected, head_weight=args.weight, hidden=args.hidden, seed=args.seed
    )
    print(f"sets {t_sets:.1f} s, fit {time.perf_counter() - t:.1f} s; threshold {head['threshold']:.4f}", flush=True)

    sets = make_sets(Path(args.cache))
    sets["val_pairs"] = digit_pairs(sets["val"], 1000, seed=9105)
    sets["val_written"] = written_nondigits(1000, seed=9121)
    sets["val_scrawls"] = scrawls(500, seed=9122)
    # the same with soft edges (scaled up, as an opened small picture is) and, for digits, crisp ones
    for name in [*DIGIT_SETS, *NONDIGIT_SETS, "val_written"]:
        sets[f"{name}_soft"] = redrawn_edges(sets[name], seed=9141)
    sets["val_crisp"] = redrawn_edges(sets["val"], seed=9142, crisp=True)
    soft = [f"{n}_soft" for n in NONDIGIT_SETS]
    extra = ["val_pairs", "val_written", "val_scrawls", *[f"{n}_soft" for n in DIGIT_SETS], "val_crisp", *soft, "val_written_soft"]
    names = ["cal", *DIGIT_SETS, *NONDIGIT_SETS, *extra]
    rules = {"energy": {}, "stored head": {}, "new head": {}}
    rejected = {"energy": DIGITS_REJECTED, "stored head": DIGITS_REJECTED, "new head": args.rejected}
    old = DigitHead.of(stored)
    for name in names:
        f, logits, pooled = predictor.forward_parts(sets[name])
        rules["energy"][name] = digit_energy(logits)
        if old is not None:
            rules["stored head"][name] = old.scores(f, logits, pooled)
        rules["new head"][name] = predictor.digit_head.scores(f, logits, pooled)
    if old is None:
        rules.pop("stored head")
    print("flagged 'not a digit' (%), each threshold at its fraction of the calibration digits")
    print(
        "rule | "
        + " | ".join(n.removeprefix("val_") for n in names[1:])
        + " | non-digits, mean | soft non-digits, mean | at 1 % / 2 % pen-redrawn flagged"
    )
    for rule, s in rules.items():
        thr = np.quantile(s["cal"], rejected[rule], method="lower")
        flagged = {n: 100 * float((s[n] < thr).mean()) for n in names[1:]}
        mean = np.mean([flagged[n] for n in NONDIGIT_SETS])
        soft_mean = np.mean([flagged[n] for n in soft])
        eq = [100 * np.mean([(s[n] < np.quantile(s["val_pen"], r)).mean() for n in NONDIGIT_SETS]) for r in (0.01, 0.02)]
        print(
            f"{rule} ({100 * rejected[rule]:g} %) | "
            + " | ".join(f"{flagged[n]:.1f}" for n in names[1:])
            + f" | {mean:.1f} | {soft_mean:.1f} | {eq[0]:.1f} / {eq[1]:.1f}"
        )
    if args.write:
        before = tensors_of(path)
        predictor.save(path)
        after = tensors_of(path)
        if before != after:
            raise SystemExit(f"{path}: the weights changed on saving; restore the file from git")
        print(f"wrote the digit head into {path}'s metadata; weights byte-identical ({len(after)} tensors)")


if __name__ == "__main__":
    main()
