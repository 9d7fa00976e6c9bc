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
  with a seed training does not use, and the bench's Bézier generators with another seed.
* Besides the rates at each calibrated threshold, each candidate's non-digit catch is shown
  where it flags 1 % and 2 % of the pen-redrawn validation digits (the digits most unlike
  MNIST here, a stand-in for real handwriting): what it buys at an equal cost on such digits.

The features are the 1,024 inputs of the bundled CNN's output layer (``neighbours.hidden_features``).
Takes about 12 minutes on the busy 2-core machine (most of it the kNN searches); the images and
features are cached in ``--cache``. Its output is summarised in docs/recognition.md ("Not a digit", "How it was chosen").
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
REJECT = (0.002, 0.005, 0.01)  # fractions of the calibration digits called "not a digit"
DIGIT_SETS = ("val", "val_redrawn", "val_pen", "val_font_digits")


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
    evaluate(predictor, sets, F, L, cache)


def _shrunk_precision(x: np.ndarray, shrink: float) -> np.ndarray:
    cov = x.T @ x / len(x)
    return np.linalg.inv(cov + shrink * np.trace(cov) / len(cov) * np.eye(len(cov)))


def linear_head(predictor, sets, F, cache: Path):
    """A reference that is not post hoc: a logistic digit/non-digit head on the frozen features,
    fitted on every 5th training digit (as they are and pen-augmented) against 6,000 non-digits of
    the training generators with a seed neither training nor the validation sets use."""
    import torch

    from mnist_desktop.model.nondigits import training_nondigits
    from mnist_desktop.model.training import pen_augment

    f = cache / "head.npz"
    if f.exists():
        with np.load(f) as d:
            pos, neg = d["pos"], d["neg"]
    else:
        x = torch.from_numpy(sets["fit"][::5].copy()).float().div(255)[:, None]
        pen = (pen_augment(x, torch.Generator().manual_seed(11))[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        pos = np.concatenate([features_and_logits(predictor, pen)[0], F["fit"][::5]])
        neg = features_and_logits(predictor, training_nondigits(6000, seed=9101))[0]
        np.savez(f, pos=pos, neg=neg)
    X = torch.from_numpy(np.concatenate([pos, neg])).float()
    y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
    mu, sd = X.mean(0), X.std(0) + 1e-6
    w, b = torch.zeros(X.shape[1], requires_grad=True), torch.zeros(1, requires_grad=True)
    weight = torch.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum())
    opt = torch.optim.LBFGS([w, b], max_iter=200)

    def closure():
        opt.zero_grad()
        z = ((X - mu) / sd) @ w + b
        loss = (weight * torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none")).sum() + 1e-2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w, b = w.detach(), b.detach()
    return lambda g, _z: (((torch.from_numpy(g).float() - mu) / sd) @ w + b).numpy()


def scores(predictor, sets, F, cache: Path) -> dict:
    """name → function(features, logits) → score, higher = more like a digit."""
    from mnist_desktop.model.numpy_forward import digit_energy

    T = predictor.temperature
    f = F["fit"].astype(np.float64)
    y = sets["fit_labels"]
    out = {}

    def msp(_g, z):
        z = z / T
        z = z - z.max(1, keepdims=True)
        return 1 / np.exp(z).sum(1)

    out["max probability (the previous rule)"] = msp
    out["energy, T 1 (chosen)"] = lambda _g, z: digit_energy(z)
    out["energy, T 0.5"] = lambda _g, z: 0.5 * digit_energy(z / 0.5)
    out["energy, T 2"] = lambda _g, z: 2 * digit_energy(z / 2)
    out["max logit"] = lambda _g, z: z.max(1)

    # Mahalanobis (Lee et al. 2018): class means, one shared covariance (shrunk towards a multiple
    # of the identity), the distance to the nearest class mean; on the features as they are and
    # L2-normalised; and relative (Ren et al. 2021: less the distance under one Gaussian of all).
    def mahalanobis(normalise: bool, relative: bool = False):
        g0 = f / np.linalg.norm(f, axis=1, keepdims=True) if normalise else f
        means = np.stack([g0[y == c].mean(0) for c in range(10)])
        prec = _shrunk_precision(g0 - means[y], 1e-2)
        centre = g0.mean(0)
        prec_all = _shrunk_precision(g0 - centre, 1e-2)

        def score(g, _z):
            g = g.astype(np.float64)
            if normalise:
                g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
            d = np.stack([np.einsum("ij,jk,ik->i", g - m, prec, g - m) for m in means], 1).min(1)
            if relative:
                d = d - np.einsum("ij,jk,ik->i", g - centre, prec_all, g - centre)
            return -d

        return score

    out["Mahalanobis"] = mahalanobis(False)
    out["Mahalanobis, normalised features"] = mahalanobis(True)
    out["relative Mahalanobis, normalised"] = mahalanobis(True, True)

    # kNN (Sun et al. 2022): minus the distance to the k-th nearest L2-normalised training feature
    fn = (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)
    rng = np.random.default_rng(0)
    for k, bank in ((1, fn), (10, fn), (1, fn[rng.choice(len(fn), 5000, replace=False)])):

        def knn(g, _z, bank=bank, k=k):
            g = (g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)).astype(np.float32)
            s = np.empty(len(g))
            for i in range(0, len(g), 1000):
                s[i : i + 1000] = np.partition(-(g[i : i + 1000] @ bank.T), k - 1, axis=1)[:, k - 1]
            return -np.sqrt(np.maximum(2 + 2 * s, 0))

        out[f"kNN, k {k}, {len(bank)} training digits"] = knn
    out["(reference, fitted) linear digit/non-digit head"] = linear_head(predictor, sets, F, cache)
    return out


def evaluate(predictor, sets, F, L, cache: Path) -> None:
    fns = scores(predictor, sets, F, cache)
    others = [k for k in F if k.startswith("val_") and k not in DIGIT_SETS]
    S = {}
    for name, fn in fns.items():
        S[name] = {k: fn(F[k], L[k]) for k in ["cal", *DIGIT_SETS, *others]}
    # Combined with the previous rule: "not a digit" when either test says so, both thresholds
    # at the same quantile of the calibration digits, chosen so that the pair rejects the budget.
    base = "max probability (the previous rule)"
    combos = {}
    for name in S:
        if name != base and not name.startswith("("):
            a, b = np.sort(S[base]["cal"]), np.sort(S[name]["cal"])
            combos[f"max probability or {name.removesuffix(' (chosen)')}"] = {
                k: np.minimum(np.searchsorted(a, S[base][k], "right"), np.searchsorted(b, S[name][k], "right")) + 1e-9 * S[name][k]
                for k in S[name]
            }
    S.update(combos)
    short = [k.removeprefix("val_") for k in (*DIGIT_SETS, *others)]
    print("flagged as not a digit (%), threshold at a fraction of the calibration digits")
    print("method | calibration | " + " | ".join(short) + " | non-digits, mean")
    for name, s in S.items():
        for r in REJECT:
            thr = np.quantile(s["cal"], r, method="lower")
            flagged = {k: 100 * float((s[k] < thr).mean()) for k in (*DIGIT_SETS, *others)}
            mean = np.mean([flagged[k] for k in others])
            print(f"{name} | {100 * r:.1f} | " + " | ".join(f"{flagged[k]:.1f}" for k in (*DIGIT_SETS, *others)) + f" | {mean:.1f}")
    print("\nnon-digits caught (mean %) where 1 % / 2 % of the pen-redrawn digits are flagged")
    for name, s in S.items():
        caught = [np.mean([(s[k] < np.quantile(s["val_pen"], r)).mean() for k in others]) for r in (0.01, 0.02)]
        print(f"{name} | {100 * caught[0]:.1f} / {100 * caught[1]:.1f}")


if __name__ == "__main__":
    main()
