"""Train candidate recipes for the bundled model in parallel (one process each, on a GPU if
there is one) and compare them on validation data only, never on what ``bench`` measures.

    python scripts/sweep_bundled_model.py OUT_DIR [--epochs-scale 1.0] [--only NAME ...] [--seeds K ...]

``--seeds 0 1 2`` trains each candidate once per seed (``<name>-seed<K>``) and adds, per
candidate, the mean, lowest and highest of each column over its seeds: one run on a CPU moves
some columns by a point or two (models README, "Fourth try"), so recipes that differ by less
need several seeds each. On a lent GPU, ``--train-only`` trains and stops (the device's time is
short); validate the checkpoints back here with ``--validate-only`` and the same options
(validation reads the same numbers on any machine: about 20 s a checkpoint on 2 cores).

Each candidate is this project's own ``train`` command (so the one chosen is reproduced by
the command its checkpoint's metadata records). Validation, all from MNIST's last 5,000
training digits, which no candidate trains on (``--subset 55000``):

* ``val``: those digits as they are;
* ``redrawn``: the same digits redrawn on the canvas (30–90 % high, anywhere, thin or fat);
* ``corruptions``: the local MNIST-C on them with seed 1 (``bench`` uses MNIST test, seed 0);
* ``nondigits``: the training generators' non-digits with a seed no run uses, and pairs of
  validation digits (what a wrong cut in a number gives), called "not a digit" at each
  model's own threshold;
* ``touching``: numbers of 2–8 validation digits, neighbours touching, read exactly;
* ``coarse``: the digits as the UCI optdigits program made its 8×8 digits (fitted into a 32×32
  bitmap, black and white, ink counted in 4×4 blocks, 0–16) and then as ``bench`` reads
  optdigits (scaled up to 64×64, bicubic, ``to_mnist``): what resolution alone costs, without
  optdigits' 43 writers' styles;
* ``european``: every 1 and 7 of those digits redrawn the European way (``styles.european_digits``,
  a seed training does not use): a 1 with a flag and often a foot, a 7 with a bar across.

And from five handwriting fonts that neither training nor ``bench`` uses
(``make_training_glyphs.VALIDATION_FONTS``), drawn as ``bench`` draws its font digits:

* ``fonts``: their digits, read right;
* ``font_others``: their letters and symbols (those training and bench use), called "not a digit".

Writes ``OUT_DIR/<name>.safetensors``, ``<name>.log`` and ``validation.json``; prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())

import numpy as np  # noqa: E402

COMMON = "--subset 55000 --batch-size 128 --lr 0.1 --pen-augment --font-glyphs --seed 0".split()
CANDIDATES = {
    "base": "--epochs 30 --outliers 0.5 --channels 32 64",
    "robust": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.1",
    "robust-pairs": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.1 --outlier-pairs",
    "robust-pairs-oe1": "--epochs 30 --outliers 1.0 --channels 32 64 --robust-augment 0.1 --outlier-pairs",
    "robust05-pairs": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.05 --outlier-pairs",
    "wide-robust-pairs": "--epochs 30 --outliers 0.5 --channels 48 96 --robust-augment 0.1 --outlier-pairs",
    "robust-pairs-e50": "--epochs 50 --outliers 0.5 --channels 32 64 --robust-augment 0.1 --outlier-pairs",
    "wide-robust-pairs-e50": "--epochs 50 --outliers 0.5 --channels 48 96 --robust-augment 0.1 --outlier-pairs",
    # The second sweep (CPU, 2026-12-06): the bundled recipe, two seeds, with the font glyphs
    # made by ``scripts/make_training_glyphs.py --handwriting`` (eleven handwriting faces more).
    "hand-s0": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.05 --outlier-pairs",
    "hand-s1": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.05 --outlier-pairs --seed 1",
    # The fourth (CPU, 2026-12-06): the bundled recipe with 30 % of the training 1s and 7s
    # redrawn the European way (``styles.european_digits``).
    "european": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.05 --outlier-pairs --european-digits 0.3",
    "european-s1": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.05 --outlier-pairs --european-digits 0.3 --seed 1",
    # The bundled recipe itself on seed 1: the spread of two seeds, to judge the European runs by.
    "robust05-pairs-s1": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.05 --outlier-pairs --seed 1",
    # Half the European share: does it keep the European gain and lose less elsewhere?
    "european15": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.05 --outlier-pairs --european-digits 0.15",
    "european15-s1": "--epochs 30 --outliers 0.5 --channels 32 64 --robust-augment 0.05 --outlier-pairs --european-digits 0.15 --seed 1",
}


def _args(name: str, scale: float, extra: str = "") -> list[str]:
    args = CANDIDATES[name].split()
    i = args.index("--epochs")
    args[i + 1] = str(max(1, round(int(args[i + 1]) * scale)))
    return COMMON + args + extra.split()  # a later option wins: --extra "--subset 3000" for a smoke run


def runs(names: list[str], seeds: list[int] | None) -> dict[str, tuple[str, str]]:
    """``{run name: (candidate, options added)}``: each candidate once, or once per seed as
    ``<candidate>-seed<K>`` with ``--seed K`` (a later option wins over the candidate's own)."""
    if not seeds:
        return {name: (name, "") for name in names}
    return {f"{name}-seed{k}": (name, f"--seed {k}") for name in names for k in seeds}


def start_all(out: Path, plan: dict[str, tuple[str, str]], scale: float, extra: str) -> dict:
    procs = {}
    for name, (candidate, more) in plan.items():
        log = open(out / f"{name}.log", "w")
        args = _args(candidate, scale, f"{extra} {more}")
        cmd = [sys.executable, "-m", "mnist_desktop", "train", *args, "--out", str(out / f"{name}.safetensors")]
        log.write(" ".join(cmd[1:]) + "\n")
        log.flush()
        env = dict(os.environ, OMP_NUM_THREADS="1")
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), time.perf_counter(), log)
    return procs


def wait_all(procs: dict, timeout: float) -> dict[str, float]:
    seconds = {}
    deadline = time.perf_counter() + timeout
    for name, (p, start, log) in procs.items():
        try:
            p.wait(max(1.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            print(f"{name}: stopped after {timeout:.0f} s", flush=True)
        seconds[name] = time.perf_counter() - start
        log.close()
        print(f"{name}: exit {p.returncode}, {seconds[name]:.0f} s", flush=True)
    return seconds


def validation_sets() -> dict:
    from mnist_desktop.model import load_mnist
    from mnist_desktop.model.corruptions import CORRUPTIONS, corrupt
    from mnist_desktop.model.drawings import compose_number
    from mnist_desktop.model.evalsets import redrawn_mnist
    from mnist_desktop.model.nondigits import digit_pairs, training_nondigits

    x, y = load_mnist("train")
    vx, vy = x[55000:].numpy(), y[55000:].numpy().astype(np.int64)
    redrawn = redrawn_mnist(1000, seed=7, images=vx, labels=vy)
    touching = [compose_number(2 + n % 7, (99, n), touching=True, images=vx, labels=vy) for n in range(140)]
    fonts, font_labels, font_others = validation_fonts()
    return {
        "fonts": (fonts, font_labels),
        "font_others": font_others,
        "val": (vx, vy),
        "redrawn": redrawn,
        "corruptions": {name: corrupt(vx, name, 1) for name in CORRUPTIONS},
        "nondigits": training_nondigits(2000, seed=424242),
        "pairs": digit_pairs(vx, 1000, seed=424242),
        "touching": touching,
        "coarse": (coarse_scan(vx), vy),
        "european": european_validation(vx, vy),
    }


def european_validation(vx: np.ndarray, vy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from mnist_desktop.model.styles import european_digits

    images, where = european_digits(vx, vy, 1.0, seed=4242)
    return images, vy[where]


def coarse_scan(images: np.ndarray) -> np.ndarray:
    """``images`` (uint8 ``(N, 28, 28)``) made 8×8 as optdigits' digits were (see the module's
    docstring), then read as ``bench`` reads optdigits: uint8 ``(N, 28, 28)``."""
    from PIL import Image

    from mnist_desktop.model import to_mnist

    out = []
    for im in images:
        rows, cols = np.flatnonzero(im.max(1)), np.flatnonzero(im.max(0))
        crop = im[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        h, w = crop.shape
        scale = 32 / max(h, w)
        big = np.asarray(Image.fromarray(crop).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR))
        bitmap = np.zeros((32, 32), bool)
        top, left = (32 - big.shape[0]) // 2, (32 - big.shape[1]) // 2
        bitmap[top : top + big.shape[0], left : left + big.shape[1]] = big > 127
        counts = bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3))
        up = Image.fromarray((counts * (255 / 16)).round().astype(np.uint8)).resize((64, 64), Image.Resampling.BICUBIC)
        out.append(np.round(to_mnist(np.asarray(up)) * 255).astype(np.uint8))
    return np.stack(out)


def validation_fonts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digits (six variants, as bench's font digits) and letters and symbols of the validation fonts."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_eval_sets import glyph
    from make_training_glyphs import VALIDATION_FONTS

    from mnist_desktop.model.nondigits import TRAINING_LETTERS, TRAINING_SYMBOLS

    digits, labels, others = [], [], []
    for path in VALIDATION_FONTS:
        for ch in "0123456789":
            for angle in (-6, 0, 6):
                for fatter in (0, 2):
                    g = glyph(path, ch, angle, fatter)
                    if g is not None:
                        digits.append(g)
                        labels.append(int(ch))
        for ch in TRAINING_LETTERS + TRAINING_SYMBOLS:
            g = glyph(path, ch, 0, 0)
            if g is not None:
                others.append(g)
    return np.stack(digits), np.array(labels, np.int64), np.stack(others)


def validate(path: Path, sets: dict) -> dict:
    from mnist_desktop.model import Predictor
    from mnist_desktop.model.numbers import read_number

    p = Predictor.load(path)
    out: dict = {"kilobytes": path.stat().st_size / 1000, "threshold": p.digit_threshold, "temperature": p.temperature}
    for key in ("val", "redrawn", "fonts"):
        images, labels = sets[key]
        out[key] = float((p.predict_batch(images).argmax(1) == labels).mean())
    vx, vy = sets["val"]
    out["corruptions"] = {name: float((p.predict_batch(images).argmax(1) == vy).mean()) for name, images in sets["corruptions"].items()}
    out["corruption_mean"] = float(np.mean(list(out["corruptions"].values())))
    out["corruption_min"] = float(min(out["corruptions"].values()))
    out["nondigits"] = float(1 - p.is_digit_batch(sets["nondigits"]).mean())
    out["pairs"] = float(1 - p.is_digit_batch(sets["pairs"]).mean())
    out["font_others"] = float(1 - p.is_digit_batch(sets["font_others"]).mean())
    out["fonts_flagged"] = float(1 - p.is_digit_batch(sets["fonts"][0]).mean())
    for key in ("coarse", "european"):
        images, labels = sets[key]
        out[key] = float((p.predict_batch(images).argmax(1) == labels).mean())
    out["touching"] = float(np.mean([read_number(c.image, p).text == c.text for c in sets["touching"]]))
    return out


# The table's columns: (title, key in validate's result, width, decimals), in percent.
COLUMNS = [
    ("val", "val", 7, 2),
    ("redrawn", "redrawn", 8, 2),
    ("fonts", "fonts", 7, 2),
    ("c.mean", "corruption_mean", 7, 1),
    ("c.min", "corruption_min", 7, 1),
    ("nondig", "nondigits", 7, 1),
    ("f.oth", "font_others", 7, 1),
    ("pairs", "pairs", 7, 1),
    ("touch", "touching", 7, 1),
    ("coarse", "coarse", 7, 2),
    ("europ", "european", 7, 2),
]


def _cells(results: list[dict], reduce=np.mean) -> str:
    """One row of the table: each column of ``results`` reduced (one result: itself)."""
    return "".join(f"{100 * reduce([r[key] for r in results]):{width}.{decimals}f}" for _, key, width, decimals in COLUMNS)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--epochs-scale", type=float, default=1.0)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--validate-only", action="store_true")
    ap.add_argument("--extra", default="", help="options added to every train command")
    ap.add_argument("--seeds", type=int, nargs="*", default=None, help="train each candidate once per seed")
    ap.add_argument("--train-only", action="store_true", help="train, validate later (--validate-only)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    plan = runs(a.only or list(CANDIDATES), a.seeds)
    if a.train_only:
        wait_all(start_all(a.out, plan, a.epochs_scale, a.extra), a.timeout)
        return 0
    procs = {} if a.validate_only else start_all(a.out, plan, a.epochs_scale, a.extra)
    t = time.perf_counter()
    sets = validation_sets()  # made while the candidates train
    print(f"validation sets made in {time.perf_counter() - t:.0f} s", flush=True)
    seconds = wait_all(procs, a.timeout - (time.perf_counter() - t))
    results = {}
    for name, (candidate, more) in plan.items():
        path = a.out / f"{name}.safetensors"
        if path.exists():
            results[name] = validate(path, sets) | {
                "seconds": seconds.get(name),
                "args": _args(candidate, a.epochs_scale, f"{a.extra} {more}"),
            }
    (a.out / "validation.json").write_text(json.dumps(results, indent=1))
    print(f"{'candidate':<24}" + "".join(f"{title:>{width}}" for title, _, width, _ in COLUMNS) + f"{'KB':>6}{'s':>6}")
    for name, r in results.items():
        print(f"{name:<24}" + _cells([r]) + f"{r['kilobytes']:6.0f}{r['seconds'] or 0:6.0f}")
    if a.seeds and len(a.seeds) > 1:  # each candidate over its seeds: the mean, then the lowest and highest
        print(f"\nover seeds {' '.join(map(str, a.seeds))}: mean, then lowest and highest")
        for candidate in dict.fromkeys(c for c, _ in plan.values()):
            seeded = [results[n] for n, (c, _) in plan.items() if c == candidate and n in results]
            if seeded:
                print(f"{candidate:<24}" + _cells(seeded, np.mean))
                print(f"{'':<24}" + _cells(seeded, np.min))
                print(f"{'':<24}" + _cells(seeded, np.max))
    return 0


if __name__ == "__main__":
    sys.exit(main())
