"""Choose how ``Predictor.is_digit`` says "not a digit", by measurement on validation data only.

    PYTHONPATH=. python scripts/choose_not_a_digit.py [--cache /tmp/nad]

Nothing ``bench`` measures (MNIST test, optdigits, the 17 handwriting fonts of
``resources/eval``, the Bézier scribbles and strokes of seed 12345) is used here.

* Statistics (class means, covariance, training features) are fitted on MNIST's first 55,000
  training digits, the ones the bundled model trained on.
* Every threshold is set on calibration digits: the held-out training digits 55,000–57,499
  (never trained on), so that a fraction REJECT of them is called "not a digit".
* Candidates are compared on validation data: held-out digits 57,500–59,999, the same redrawn
  on the canvas and put through the training's pen augmentation (other hands), digits of
  fonts neither training nor bench uses (Liberation, URW base-35, Noto Mono, Joscelyn); and as
  non-digits, the letters and symbols of those fonts, the training's non-digit generators
  with a seed training does not use, and the bench's Bézier generators with other seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Fonts on the development machine that neither training (make_training_glyphs.py) nor the
# measured sets (make_eval_sets.py) use, nor any face of their families.
VALIDATION_FONTS = [
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf",
    "/usr/share/fonts/opentype/urw-base35/C059-Roman.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Italic.otf",
    "/usr/share/fonts/opentype/urw-base35/P052-Roman.otf",
    "/usr/share/fonts/opentype/urw-base35/URWBookman-Light.otf",
    "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf",
    "/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf",
    "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
    "/usr/share/fonts/opentype/joscelyn/Joscelyn-Regular.otf",
]
REJECT = (0.002, 0.005, 0.01)


def _render(chars: str, variants) -> np.ndarray:
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_eval_sets import glyph

    out = []
    for path in VALIDATION_FONTS:
        if not Path(path).exists():
            continue
        for ch in chars:
            for angle, fatter in variants:
                g = glyph(path, ch, angle, fatter)
                if g is not None:
                    out.append(g)
    return np.stack(out)


def make_sets(cache: Path) -> dict[str, np.ndarray]:
    """Every image set, uint8 (N, 28, 28), cached in ``cache``."""
    f = cache / "sets.npz"
    if f.exists():
        with np.load(f) as d:
            return {k: d[k] for k in d.files}
    import torch

    from mnist_desktop.model import evalsets
    from mnist_desktop.model.data import mnist_arrays
    from mnist_desktop.model.nondigits import GENERATORS, training_nondigits
    from mnist_desktop.model.training import pen_augment

    images, labels = mnist_arrays("train")
    images, labels = np.asarray(images), np.asarray(labels)
    sets = {"fit": images[:55000], "fit_labels": labels[:55000], "cal": images[55000:57500], "val": images[57500:]}
    sets["val_redrawn"], _ = evalsets.redrawn_mnist(600, seed=7, images=images[57500:], labels=labels[57500:])
    g = torch.Generator().manual_seed(7)
    x = torch.from_numpy(images[57500:]).float().div(255)[:, None]
    sets["val_pen"] = (pen_augment(x, g)[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    every = [(a, w) for a in (-6, 0, 6) for w in (0, 2)]
    sets["val_font_digits"] = _render("0123456789", every)
    from make_eval_sets import LETTERS, SYMBOLS

    sets["val_letters"] = _render(LETTERS, [(0, 0)])
    sets["val_symbols"] = _render(SYMBOLS, [(-6, 0), (0, 0), (6, 2)])
    train_kind = training_nondigits(2000, seed=9001)  # training uses seed 0 (its --seed)
    for i, kind in enumerate(GENERATORS):
        sets[f"val_gen_{kind}"] = train_kind[i :: len(GENERATORS)]
    for kind in ("scribbles", "strokes"):
        sets[f"val_bez_{kind}"] = evalsets.measured_nondigits(kind, 500, seed=777)  # the bench uses seed 12345
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(f, **sets)
    return sets


def features_and_logits(predictor, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from mnist_desktop.model.neighbours import hidden_features

    feats = np.concatenate([hidden_features(predictor, images[i : i + 2000]) for i in range(0, len(images), 2000)])
    with torch.inference_mode():
        logits = predictor.model.fc(torch.from_numpy(feats)).numpy()
    return feats, logits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/nad")
    args = ap.parse_args()
    cache = Path(args.cache)
    from mnist_desktop.model import Predictor

    predictor = Predictor.default()
    sets = make_sets(cache)
    ff = cache / "features.npz"
    if ff.exists():
        with np.load(ff) as d:
            F = {k[2:]: d[k] for k in d.files if k.startswith("f_")}
            L = {k[2:]: d[k] for k in d.files if k.startswith("l_")}
    else:
        F, L = {}, {}
        for name, x in sets.items():
            if name.endswith("labels"):
                continue
            t = time.perf_counter()
            F[name], L[name] = features_and_logits(predictor, x)
            print(f"{name}: {len(x)} in {time.perf_counter() - t:.1f} s", flush=True)
        np.savez(ff, **{f"f_{k}": v for k, v in F.items()}, **{f"l_{k}": v for k, v in L.items()})
    evaluate(predictor, sets, F, L)


def scores(predictor, F, L, fit_labels) -> dict:
    """name → function(features, logits) → score, higher = more like a digit."""
    T = predictor.temperature
    f = F["fit"].astype(np.float64)
    y = fit_labels
    means = np.stack([f[y == c].mean(0) for c in range(10)])
    centred = f - means[y]
    cov = centred.T @ centred / len(f)
    out = {}

    def msp(_f, z):
        z = z / T
        z = z - z.max(1, keepdims=True)
        return 1 / np.exp(z).sum(1)

    def energy(_f, z):
        m = z.max(1)
        return m + np.log(np.exp(z - m[:, None]).sum(1))

    out["max probability (today)"] = msp
    out["energy (T 1)"] = energy
    for t in (0.5, 2.0, 4.0):
        out[f"energy (T {t:g})"] = lambda _f, z, t=t: t * energy(None, z / t)
    out["max logit"] = lambda _f, z: z.max(1)
    out["feature norm"] = lambda g, _z: np.linalg.norm(g, axis=1)
    fn0 = f / np.linalg.norm(f, axis=1, keepdims=True)
    means_n = np.stack([fn0[y == c].mean(0) for c in range(10)])
    cn = fn0 - means_n[y]
    cov_n = cn.T @ cn / len(fn0)
    prec_n = np.linalg.inv(cov_n + 1e-2 * np.trace(cov_n) / len(cov_n) * np.eye(len(cov_n)))
    gmean = fn0.mean(0)
    cg = fn0 - gmean
    cov_g = cg.T @ cg / len(fn0)
    prec_g = np.linalg.inv(cov_g + 1e-2 * np.trace(cov_g) / len(cov_g) * np.eye(len(cov_g)))

    def maha_n(g, _z, relative=False):
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        d = np.stack([np.einsum("ij,jk,ik->i", g - m, prec_n, g - m) for m in means_n], 1).min(1)
        if relative:
            d = d - np.einsum("ij,jk,ik->i", g - gmean, prec_g, g - gmean)
        return -d

    out["Mahalanobis, normalised features"] = maha_n
    out["relative Mahalanobis, normalised"] = lambda g, z: maha_n(g, z, True)
    for shrink in (1e-3, 1e-2):
        prec = np.linalg.inv(cov + shrink * np.trace(cov) / len(cov) * np.eye(len(cov)))
        mp = means @ prec
        mpm = np.einsum("ij,ij->i", mp, means)

        def maha(g, _z, prec=prec, mp=mp, mpm=mpm):
            g = g.astype(np.float64)
            gp = g @ prec
            d = np.einsum("ij,ij->i", gp, g)[:, None] - 2 * g @ mp.T + mpm[None]
            return -d.min(1)

        out[f"Mahalanobis (shrink {shrink:g})"] = maha
    # kNN on normalised features (Sun et al. 2022): minus the k-th nearest distance
    fn = f / np.linalg.norm(f, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    for k, sub in ((1, 55000), (1, 5000)):
        bank = fn[rng.choice(len(fn), sub, replace=False)].astype(np.float32) if sub < len(fn) else fn.astype(np.float32)

        def knn(g, _z, bank=bank, k=k):
            g = (g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)).astype(np.float32)
            out = np.empty(len(g))
            for i in range(0, len(g), 1000):
                sim = g[i : i + 1000] @ bank.T
                out[i : i + 1000] = np.partition(-sim, k - 1, axis=1)[:, k - 1]
            return -np.sqrt(np.maximum(2 + 2 * out, 0))  # distance = sqrt(2 - 2 cos)

        out[f"kNN k={k}, {sub} digits"] = knn
    return out


def evaluate(predictor, sets, F, L) -> None:
    fns = scores(predictor, F, L, sets["fit_labels"])
    digit_sets = ["val", "val_redrawn", "val_pen", "val_font_digits"]
    other_sets = [k for k in F if k.startswith("val_") and k not in digit_sets]
    S = {}
    for name, fn in fns.items():
        t = time.perf_counter()
        S[name] = {k: fn(F[k], L[k]) for k in ["cal", *digit_sets, *other_sets]}
        print(f"scored {name} in {time.perf_counter() - t:.1f} s", flush=True)
    # combinations: the empirical p-value on the calibration digits, the smaller of the two
    base = "max probability (today)"
    for name in list(S):
        if name == base:
            continue
        cal_a, cal_b = np.sort(S[base]["cal"]), np.sort(S[name]["cal"])
        S[f"{base} + {name}"] = {
            k: np.minimum(np.searchsorted(cal_a, S[base][k], "right"), np.searchsorted(cal_b, S[name][k], "right")).astype(float)
            for k in S[name]
        }
    header = "method | reject | " + " | ".join(s.removeprefix("val_") for s in digit_sets + other_sets) + " | non-digits mean"
    print(header)
    for name, s in S.items():
        for r in REJECT:
            thr = np.quantile(s["cal"], r, method="lower")
            flagged = {k: float((s[k] < thr).mean()) for k in digit_sets + other_sets}
            mean_nd = np.mean([flagged[k] for k in other_sets])
            print(
                f"{name} | {100 * r:.1f} % | "
                + " | ".join(f"{100 * flagged[k]:.1f}" for k in digit_sets + other_sets)
                + f" | {100 * mean_nd:.1f}"
            )
    print("method | non-digits caught (mean over sets) when 1 % / 2 % of the pen-redrawn digits are flagged | AUROC pen vs non-digits")
    for name, s in S.items():
        caught = []
        for r in (0.01, 0.02):
            thr = np.quantile(s["val_pen"], r)
            caught.append(np.mean([(s[k] < thr).mean() for k in other_sets]))
        nd = np.concatenate([s[k] for k in other_sets])
        d = s["val_pen"]
        ranks = np.argsort(np.argsort(np.concatenate([d, nd])))
        auroc = (ranks[: len(d)].sum() - len(d) * (len(d) - 1) / 2) / (len(d) * len(nd))
        print(f"{name} | {100 * caught[0]:.1f} / {100 * caught[1]:.1f} | {auroc:.4f}")


if __name__ == "__main__":
    main()
