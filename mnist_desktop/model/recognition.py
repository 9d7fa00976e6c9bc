"""How far a model's confidence can be trusted: calibration (reliability and ECE), temperature
scaling, and the thresholds under which ``Predictor.is_digit`` says "not a digit".

Works with any predictor that has ``predict_batch`` (the torch one and the numpy twin).
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metadata import TEMPERATURE_RANGE
from .numpy_forward import digit_energy

# The fraction of held-out MNIST digits the calibrated threshold calls "not a digit".
DIGITS_REJECTED = 0.002


@dataclass(frozen=True)
class Calibration:
    """A reliability diagram in numbers: the predictions grouped by confidence (top
    probability) into ``bins`` equal-width bins of [0, 1].

    ``confidence[b]`` and ``accuracy[b]`` are the mean top probability and the fraction right
    in bin ``b`` (0 where ``count[b]`` is 0); ``ece`` (expected calibration error) is
    Σ count[b] / N · |accuracy[b] − confidence[b]|: 0 for a model whose "80 % sure" is right
    80 % of the time.
    """

    ece: float
    edges: np.ndarray  # (bins + 1,)
    confidence: np.ndarray  # (bins,)
    accuracy: np.ndarray  # (bins,)
    count: np.ndarray  # (bins,) int

    @property
    def bins(self) -> int:
        return len(self.count)


def _labels_to_indices(predictor, labels) -> np.ndarray:
    classes = list(predictor.classes)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    unknown = sorted(set(labels.tolist()) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the model's classes {classes}")
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[v] for v in labels.tolist()], dtype=np.int64)


def calibration_of(probabilities: np.ndarray, targets: np.ndarray, bins: int = 15) -> Calibration:
    """:class:`Calibration` of given probabilities ``(N, C)`` and target class indices ``(N,)``."""
    p = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets).reshape(-1)
    if p.ndim != 2 or len(p) != len(targets) or len(p) == 0:
        raise ValueError(f"expected probabilities (N, C) and N targets with N ≥ 1, got {p.shape} and {targets.shape}")
    if not isinstance(bins, int) or isinstance(bins, bool) or not 1 <= bins <= 1000:
        raise ValueError(f"bins must be an integer from 1 to 1000, not {bins!r}")
    conf = p.max(axis=1)
    right = (p.argmax(axis=1) == targets).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin b holds confidences in (edges[b], edges[b + 1]]; a confidence of exactly 0 goes in bin 0
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    conf_sum = np.bincount(which, weights=conf, minlength=bins)
    right_sum = np.bincount(which, weights=right, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(count > 0, conf_sum / np.maximum(count, 1), 0.0)
        accuracy = np.where(count > 0, right_sum / np.maximum(count, 1), 0.0)
    ece = float(np.sum(count / len(p) * np.abs(accuracy - confidence)))
    return Calibration(ece, edges, confidence, accuracy, count.astype(np.int64))


def calibration(predictor, images, labels, bins: int = 15) -> Calibration:
    """How well ``predictor``'s confidence matches its accuracy on ``images`` (uint8
    ``(N, 28, 28)`` or floats in [0, 1]) with digit ``labels``: a :class:`Calibration`."""
    targets = _labels_to_indices(predictor, labels)
    return calibration_of(predictor.predict_batch(images), targets, bins)


def _nll(log_p: np.ndarray, targets: np.ndarray, scale: float) -> float:
    z = log_p / scale
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(z)), targets]))


def fit_temperature(predictor, images, labels) -> float:
    """The temperature T that minimises the negative log-likelihood of ``labels`` under
    softmax(logits / T) on held-out ``images`` (temperature scaling, Guo et al. 2017).

    Works from the predictor's probabilities at its current temperature t: their logarithms
    are the logits / t up to a constant, so softmax(log p / s) = softmax(logits / (t · s)).
    A search over s on a log grid, then refined around the best: no optimiser, no torch.
    """
    targets = _labels_to_indices(predictor, labels)
    p = np.asarray(predictor.predict_batch(images), dtype=np.float64)
    if p.shape[1] < 2:
        raise ValueError("temperature scaling needs probabilities over at least two classes")
    log_p = np.log(np.clip(p, 1e-300, 1.0))
    t0 = float(getattr(predictor, "temperature", 1.0))
    low, high = (r / t0 for r in TEMPERATURE_RANGE)
    grid = np.geomspace(low, high, 121)
    best = grid[int(np.argmin([_nll(log_p, targets, s) for s in grid]))]
    fine = np.geomspace(best / 1.05, best * 1.05, 41)
    best = fine[int(np.argmin([_nll(log_p, targets, s) for s in fine]))]
    return float(np.clip(t0 * best, *TEMPERATURE_RANGE))


def digit_threshold(predictor, digits, rejected: float = 0.005) -> float:
    """The top-probability threshold under which at most a fraction ``rejected`` of the
    held-out ``digits`` (uint8 ``(N, 28, 28)``) would be called "not a digit"."""
    if not 0.0 <= rejected < 1.0:
        raise ValueError(f"rejected must be a fraction in [0, 1), not {rejected}")
    top = np.asarray(predictor.predict_batch(digits), dtype=np.float64).max(axis=1)
    return float(np.quantile(top, rejected, method="lower"))


def energy_threshold(predictor, digits, rejected: float = DIGITS_REJECTED) -> float:
    """The energy (:func:`~mnist_desktop.model.numpy_forward.digit_energy`, the log-sum-exp of
    the logits) under which at most a fraction ``rejected`` of the held-out ``digits`` (uint8
    ``(N, 28, 28)``) would be called "not a digit". Needs ``predictor.logits_batch``."""
    if not 0.0 <= rejected < 1.0:
        raise ValueError(f"rejected must be a fraction in [0, 1), not {rejected}")
    return float(np.quantile(digit_energy(predictor.logits_batch(digits)), rejected, method="lower"))


def calibrate_recognizer(predictor, digits, labels, rejected: float = DIGITS_REJECTED) -> dict:
    """Fit ``predictor``'s temperature and digit threshold on held-out ``digits`` (never trained
    on) and store them in its metadata (``meta["recognition"]``), which its checkpoint keeps.

    The temperature is kept only if it lowers the held-out ECE. The thresholds are set so that
    a fraction ``rejected`` of the held-out digits would be called "not a digit": on the energy
    of the logits (what ``is_digit`` tests; a softmax model only) and, for older readers and the
    number reader's cut scores, on the top probability. Returns what was stored.
    """
    before = calibration(predictor, digits, labels).ece
    old = predictor.temperature
    predictor.temperature = fit_temperature(predictor, digits, labels)
    after = calibration(predictor, digits, labels).ece
    if after >= before:
        predictor.temperature, after = old, before
    predictor.digit_threshold = digit_threshold(predictor, digits, rejected)
    recognition = {
        "temperature": predictor.temperature,
        "digit_threshold": predictor.digit_threshold,
        "held_out_digits": int(len(digits)),
        "held_out_ece_before": before,
        "held_out_ece_after": after,
        "held_out_rejected": rejected,
    }
    if not predictor._sigmoid and hasattr(predictor, "logits_batch"):
        predictor.energy_threshold = recognition["energy_threshold"] = energy_threshold(predictor, digits, rejected)
    predictor.meta["recognition"] = recognition
    return recognition
