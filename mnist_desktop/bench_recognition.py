"""bench sections for the recognizer: accuracy on real handwriting and handwriting fonts,
robustness (the local MNIST-C), "not a digit", calibration and prediction latency, for the
bundled model and, where ``MNIST_DESKTOP_OLD_MODEL`` names a checkpoint, for that one beside it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

OLD_MODEL_ENV = "MNIST_DESKTOP_OLD_MODEL"
# What "not a digit" is measured on: (name, what it is).
NONDIGIT_SETS = (
    ("letters", "letters that look like no digit, 17 handwriting fonts"),
    ("symbols", "+ − = × ? in 17 handwriting fonts"),
    ("scribbles", "tangles of Bézier curves drawn with the canvas's pen"),
    ("strokes", "2–3 separate random curved strokes drawn with the canvas's pen"),
    ("digit_like", "O l I S Z B in 17 handwriting fonts (reported, not a goal)"),
)
DIGIT_SETS = (
    ("mnist", "MNIST test (10,000)"),
    ("redrawn", "MNIST test redrawn on the canvas: 30–90 % high, anywhere, thin or fat (600)"),
    ("optdigits", "UCI optdigits: 1,797 digits of 43 writers, not MNIST"),
    ("fonts", "digits in 17 handwriting fonts (1,020)"),
)


def _sets() -> tuple[dict, dict]:
    from .model import evalsets, load_mnist

    x, y = load_mnist("test")
    glyphs = evalsets.font_glyphs()
    digits = {
        "mnist": (x.numpy(), y.numpy()),
        "redrawn": evalsets.redrawn_mnist(600),
        "optdigits": evalsets.optdigits(),
        "fonts": (glyphs["digits"], glyphs["digit_labels"]),
    }
    others = {
        "letters": glyphs["letters"],
        "symbols": glyphs["symbols"],
        "scribbles": evalsets.measured_nondigits("scribbles", 500),
        "strokes": evalsets.measured_nondigits("strokes", 500),
        "digit_like": glyphs["digit_like"],
    }
    return digits, others


def _latency(predictor, runs: int = 500) -> dict:
    """A 280×280 drawing → ``to_mnist`` → ``predict``, as the canvas does it."""
    import torch

    from .model import to_mnist
    from .model.drawings import sample_drawings

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the window's GUI thread predicts
    try:
        drawings = sample_drawings()
        for d in drawings[:10]:
            predictor.predict(to_mnist(d))
        times = []
        for i in range(runs):
            t = time.perf_counter()
            predictor.predict(to_mnist(drawings[i % len(drawings)]))
            times.append((time.perf_counter() - t) * 1000)
    finally:
        torch.set_num_threads(threads)
    return {"median_ms": float(np.median(times)), "p99_ms": float(np.percentile(times, 99))}


def _is_digit_cost(predictor, images: np.ndarray, runs: int = 300) -> dict:
    """Milliseconds, one thread, one digit at a time: ``is_digit`` (a forward pass and the test),
    ``predict`` (the forward pass alone), and the test alone on logits already computed."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        xs = [images[i % len(images)] / 255 for i in range(runs)]
        for x in xs[:10]:
            predictor.is_digit(x)
        times: dict[str, list[float]] = {"is_digit_ms": [], "predict_ms": [], "test_ms": []}
        for x in xs:
            t = time.perf_counter()
            predictor.is_digit(x)
            times["is_digit_ms"].append(time.perf_counter() - t)
            t = time.perf_counter()
            predictor.predict(x)
            times["predict_ms"].append(time.perf_counter() - t)
        features, logits, pooled = predictor.forward_parts(images[:1])
        p = predictor.probabilities_of(logits)
        for _ in range(runs):
            t = time.perf_counter()
            predictor.digit_of(logits, p, features, pooled)
            times["test_ms"].append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    return {k: 1000 * float(np.median(v)) for k, v in times.items()}


def measure_model(predictor, digits: dict, others: dict, corruption_subset: int = 0) -> dict:
    """Every figure of one model: accuracy and "called a digit" on each set (by ``is_digit`` and,
    beside it, by the rules it replaced: the top probability and, for a model with a digit head,
    the energy), the corruption suite, ECE on MNIST test at temperature 1 and at its own,
    latency, file size."""
    from .model.corruptions import corruption_suite
    from .model.numpy_forward import digit_energy
    from .model.recognition import calibration

    out: dict = {"accuracy": {}, "called_digit": {}, "called_digit_top_probability": {}, "digit_rule": predictor.digit_rule}
    energy = predictor.energy_threshold if predictor.digit_head is not None else None
    if energy is not None:
        out["called_digit_energy"] = {}

    def called(name: str, x: np.ndarray) -> np.ndarray:
        features, logits, pooled = predictor.forward_parts(x)  # what predict_batch_checked does
        p = predictor.probabilities_of(logits)
        out["called_digit"][name] = float(predictor.digit_of(logits, p, features, pooled).mean())
        out["called_digit_top_probability"][name] = float((p.max(1) >= predictor.digit_threshold).mean())
        if energy is not None:
            out["called_digit_energy"][name] = float((digit_energy(logits) >= energy).mean())
        return p

    for name, (x, y) in digits.items():
        out["accuracy"][name] = float((called(name, x).argmax(1) == y).mean())
    for name, x in others.items():
        called(name, x)
    out["is_digit_cost"] = _is_digit_cost(predictor, digits["mnist"][0][:300])
    t = time.perf_counter()
    out["corruptions"] = corruption_suite(predictor, subset=corruption_subset)
    out["corruption_seconds"] = time.perf_counter() - t
    x, y = digits["mnist"]
    own = predictor.temperature
    out["ece"] = {"temperature": own, "own": calibration(predictor, x, y).ece}
    predictor.temperature = 1.0
    out["ece"]["t1"] = calibration(predictor, x, y).ece
    ox, oy = digits["optdigits"]
    out["ece"]["optdigits_t1"] = calibration(predictor, ox, oy).ece
    predictor.temperature = own
    out["ece"]["optdigits_own"] = calibration(predictor, ox, oy).ece
    out["digit_threshold"] = predictor.digit_threshold
    out["latency"] = _latency(predictor)
    return out


def bench_recognition(corruption_subset: int = 0) -> dict:
    from .model import DEFAULT_MODEL, Predictor

    digits, others = _sets()
    models = {"new": DEFAULT_MODEL}
    old = os.environ.get(OLD_MODEL_ENV)
    if old:
        models = {"old": Path(old), **models}
    report = {"sizes": {k: len(v[0]) for k, v in digits.items()} | {k: len(v) for k, v in others.items()}}
    for name, path in models.items():
        predictor = Predictor.load(path)
        report[name] = measure_model(predictor, digits, others, corruption_subset) | {
            "path": str(path),
            "kilobytes": Path(path).stat().st_size / 1000,
            "describe": predictor.describe(),
        }
    return report


def format_recognition(r: dict) -> list[str]:
    models = [m for m in ("old", "new") if m in r]
    head = " | ".join(models)
    lines = [f"recognition ({head}; 'new' is the bundled model):"]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"  {label:<48} " + " | ".join(f"{v:>8}" for v in values))

    lines += [f"  {key}: {what}" for key, what in DIGIT_SETS + NONDIGIT_SETS]
    row("", models)
    for key, _ in DIGIT_SETS:
        row(f"accuracy, {key}", [f"{100 * r[m]['accuracy'][key]:.2f} %" for m in models])
    lines += [f"  is_digit ({m}): {r[m].get('digit_rule', 'top probability')}" for m in models]
    both = [m for m in models if "called_digit_top_probability" in r[m]]

    def not_digit(m: str, key: str, digits: int) -> str:
        text = f"{100 * (1 - r[m]['called_digit'][key]):.{digits}f} %"
        if "called_digit_energy" in r[m]:  # the rule the digit head replaced, beside it
            text = f"{100 * (1 - r[m]['called_digit_energy'][key]):.{digits}f} → {text}"
        if m in both and r[m].get("digit_rule", "").startswith(("energy", "digit head")):  # the first rule, beside them
            text = f"{100 * (1 - r[m]['called_digit_top_probability'][key]):.{digits}f} → {text}"
        return text

    if any("called_digit_energy" in r[m] for m in models):
        lines.append("  called not a digit: top probability → energy (the previous rules) → is_digit (digit head)")
    elif any(r[m].get("digit_rule", "").startswith("energy") for m in both):
        lines.append("  called not a digit: top probability (the previous rule) → is_digit (energy)")
    for key, _ in DIGIT_SETS:
        row(f"called not a digit, {key}", [not_digit(m, key, 2) for m in models])
    for key, _ in NONDIGIT_SETS:
        row(f"called not a digit, {key} ({r['sizes'][key]})", [not_digit(m, key, 1) for m in models])
    row("digit threshold (top probability)", [f"{r[m]['digit_threshold']:.3f}" for m in models])
    if all("is_digit_cost" in r[m] for m in models):
        row(
            "is_digit / predict (ms), the test alone (µs)",
            [
                f"{r[m]['is_digit_cost']['is_digit_ms']:.2f} / {r[m]['is_digit_cost']['predict_ms']:.2f} / "
                f"{1000 * r[m]['is_digit_cost']['test_ms']:.0f} µs"
                for m in models
            ],
        )
    row("ECE on MNIST test, temperature 1", [f"{100 * r[m]['ece']['t1']:.2f} %" for m in models])
    row(
        "ECE on MNIST test, the model's temperature",
        [f"{100 * r[m]['ece']['own']:.2f} % (T {r[m]['ece']['temperature']:.2f})" for m in models],
    )
    row(
        "ECE on optdigits, temperature 1 → the model's",
        [f"{100 * r[m]['ece']['optdigits_t1']:.2f} → {100 * r[m]['ece']['optdigits_own']:.2f} %" for m in models],
    )
    row(
        "prediction, median (p99), one thread", [f"{r[m]['latency']['median_ms']:.2f} ({r[m]['latency']['p99_ms']:.2f}) ms" for m in models]
    )
    row("file size", [f"{r[m]['kilobytes']:.0f} KB" for m in models])
    lines.append("  corruption suite (MNIST-C, local), accuracy:")
    for name in r[models[-1]]["corruptions"]:
        row(f"  {name}", [f"{100 * r[m]['corruptions'][name]:.1f} %" for m in models])
    row("  mean", [f"{100 * np.mean(list(r[m]['corruptions'].values())):.1f} %" for m in models])
    row("  lowest", [f"{100 * min(r[m]['corruptions'].values()):.1f} %" for m in models])
    return lines
