"""How far a model's confidence can be trusted: calibration (reliability and ECE), temperature
scaling, and the tests under which ``Predictor.is_digit`` says "not a digit": thresholds on the
top probability and on the energy of the logits, and a fitted digit head (:func:`fit_digit_head`).

Works with any predictor that has ``predict_batch`` (the torch one and the numpy twin).
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metadata import TEMPERATURE_RANGE
from .numpy_forward import DigitHead, digit_energy

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


def _labels_to_indices(predictor, labels, purpose: str = "measure") -> np.ndarray:
    """The class index of each digit value in ``labels``; ValueError for a value that is not one of
    the model's classes, or for no labels at all (nothing to ``purpose`` on)."""
    classes = list(predictor.classes)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if not len(labels):
        raise ValueError(f"there are no digits to {purpose} on: the set is empty")
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
    ``(N, 28, 28)`` or floats in [0, 1]) with digit ``labels``: a :class:`Calibration`.
    ValueError for an empty set."""
    targets = _labels_to_indices(predictor, labels, "measure the calibration")
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
    targets = _labels_to_indices(predictor, labels, "fit a temperature")
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
    if not len(digits):
        raise ValueError("there are no digits to set a threshold on: the set is empty")
    top = np.asarray(predictor.predict_batch(digits), dtype=np.float64).max(axis=1)
    return float(np.quantile(top, rejected, method="lower"))


def energy_threshold(predictor, digits, rejected: float = DIGITS_REJECTED) -> float:
    """The energy (:func:`~mnist_desktop.model.numpy_forward.digit_energy`, the log-sum-exp of
    the logits) under which at most a fraction ``rejected`` of the held-out ``digits`` (uint8
    ``(N, 28, 28)``) would be called "not a digit". Needs ``predictor.logits_batch``."""
    if not 0.0 <= rejected < 1.0:
        raise ValueError(f"rejected must be a fraction in [0, 1), not {rejected}")
    if not len(digits):
        raise ValueError("there are no digits to set a threshold on: the set is empty")
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
    if not predictor._sigmoid:
        predictor.energy_threshold = recognition["energy_threshold"] = energy_threshold(predictor, digits, rejected)
    predictor.meta["recognition"] = recognition
    return recognition


# The digit head's settings, chosen on validation data (``scripts/fit_digit_head.py``,
# docs/recognition.md, "Not a digit"): the L2 penalty of the linear head's logistic regression on standardised
# features, and the weight of its log-odds beside the energy of the logits in the score; the
# small network's hidden units and weight decay; the fraction of held-out digits under the threshold.
HEAD_L2 = 1e-2
HEAD_WEIGHT = 0.5
HEAD_HIDDEN = 32
HEAD_DECAY = 1e-2
HEAD_REJECTED = 0.0025


def logistic_regression(x: np.ndarray, y: np.ndarray, l2: float = HEAD_L2, iterations: int = 30) -> tuple[np.ndarray, float]:
    """``(w, b)`` minimising the class-balanced logistic loss of ``x @ w + b`` against ``y`` (1 or
    0; each class weighs half) plus ``l2`` · ‖w‖² (the bias not penalised). Newton's method with
    step halving: exact to float64 rounding in a few iterations, no optimiser library."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or len(x) != len(y) or not ((y == 0) | (y == 1)).all() or y.min() == y.max():
        raise ValueError("logistic_regression needs features (N, D) and N labels of 0 and 1, both present")
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    weight = np.where(y == 1, 0.5 / y.sum(), 0.5 / (n - y.sum()))
    penalty = np.full(d + 1, 2 * l2)
    penalty[-1] = 0.0

    def loss(theta: np.ndarray) -> float:
        z = a @ theta
        return float(weight @ (np.logaddexp(0, z) - y * z) + l2 * theta[:-1] @ theta[:-1])

    theta = np.zeros(d + 1)
    current = loss(theta)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(a @ theta)))
        grad = a.T @ (weight * (p - y)) + penalty * theta
        hess = (a * (weight * p * (1 - p))[:, None]).T @ a + np.diag(penalty) + 1e-12 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-4:
            trial = loss(theta - t * step)
            if trial <= current:
                break
            t /= 2
        theta, previous, current = theta - t * step, current, trial
        if previous - current < 1e-12 * max(1.0, abs(current)):
            break
    return theta[:-1], float(theta[-1])


def mlp_classifier(
    x: np.ndarray,
    y: np.ndarray,
    hidden: int = HEAD_HIDDEN,
    weight_decay: float = HEAD_DECAY,
    epochs: int = 30,
    batch: int = 512,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A network of one hidden layer of ``hidden`` ReLUs whose output is the log-odds of ``y``
    (1 or 0) given ``x`` ``(N, D)``: ``(w1 (hidden, D), b1 (hidden,), w2 (hidden,), b2)``,
    acting on ``x`` as given (standardised inside, the standardisation folded into ``w1`` and
    ``b1``). Class-balanced logistic loss (each class weighs half), minibatches of ``batch``,
    AdamW (decoupled ``weight_decay``) with a one-cycle learning rate (warm up for 30 % of the
    steps to ``lr``, then down along a cosine). Plain numpy, deterministic in ``seed``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or len(x) != len(y) or not ((y == 0) | (y == 1)).all() or y.min() == y.max():
        raise ValueError("mlp_classifier needs inputs (N, D) and N labels of 0 and 1, both present")
    if not isinstance(hidden, int) or not 1 <= hidden <= 4096:
        raise ValueError(f"hidden must be a number of units from 1 to 4096, not {hidden!r}")
    n, d = x.shape
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    xs = ((x - mean) / std).astype(np.float32)
    ys = y.astype(np.float32)
    cost = np.where(y == 1, 0.5 / y.sum(), 0.5 / (n - y.sum())).astype(np.float32) * n  # per example, mean 1
    rng = np.random.default_rng(seed)
    bound1, bound2 = 1 / np.sqrt(d), 1 / np.sqrt(hidden)  # torch.nn.Linear's initialisation
    params = [
        rng.uniform(-bound1, bound1, (hidden, d)).astype(np.float32),
        rng.uniform(-bound1, bound1, hidden).astype(np.float32),
        rng.uniform(-bound2, bound2, hidden).astype(np.float32),
        rng.uniform(-bound2, bound2, 1).astype(np.float32),
    ]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    batch = min(batch, n)
    per_epoch = n // batch
    total, t = epochs * per_epoch, 0
    for _ in range(epochs):
        order = rng.permutation(n)
        for i in range(per_epoch):
            idx = order[i * batch : (i + 1) * batch]
            xb, yb, cb = xs[idx], ys[idx], cost[idx]
            w1, b1, w2, b2 = params
            pre = xb @ w1.T + b1
            h = np.maximum(pre, 0)
            z = h @ w2 + b2[0]
            dz = cb * (1 / (1 + np.exp(-np.clip(z, -60, 60))) - yb) / len(idx)
            dh = np.outer(dz, w2) * (pre > 0)
            grads = [dh.T @ xb, dh.sum(axis=0), h.T @ dz, np.array([dz.sum()], np.float32)]
            t += 1
            warm = 0.3 * total
            if t <= warm:
                rate = lr / 25 + (lr - lr / 25) * (1 - np.cos(np.pi * t / warm)) / 2
            else:
                rate = lr / 25e4 + (lr - lr / 25e4) * (1 + np.cos(np.pi * (t - warm) / (total - warm))) / 2
            for k, (p, g) in enumerate(zip(params, grads)):
                p *= 1 - rate * weight_decay
                m1[k] = 0.9 * m1[k] + 0.1 * g
                m2[k] = 0.999 * m2[k] + 0.001 * g * g
                p -= (rate * (m1[k] / (1 - 0.9**t)) / (np.sqrt(m2[k] / (1 - 0.999**t)) + 1e-8)).astype(np.float32)
    w1, b1, w2, b2 = (p.astype(np.float64) for p in params)
    # An input constant over the data (a ReLU channel that never fires) has no gradient: its
    # weights would stay at their random start and, divided by its ~1e-6 spread, make the score
    # swing wildly the day it does fire. It told the data nothing, so it weighs nothing.
    w1[:, x.std(axis=0) < 1e-9] = 0.0
    return w1 / std, b1 - (w1 / std) @ mean, w2, float(b2[0])


def fit_digit_head(
    predictor,
    digits,
    nondigits,
    held_out,
    rejected: float = HEAD_REJECTED,
    l2: float = HEAD_L2,
    head_weight: float = HEAD_WEIGHT,
    hidden: int = HEAD_HIDDEN,
    seed: int = 0,
) -> dict:
    """Fit a digit head on ``predictor``'s frozen forward pass and store it in its metadata
    (``meta["recognition"]["digit_head"]``), which makes it the rule of ``is_digit``.

    Digits (``digits``: uint8 ``(N, 28, 28)``, e.g. training digits as they are and redrawn by
    another hand) against ``nondigits`` (generated letters, symbols, scribbles, strokes, pieces
    of two digits). With ``hidden`` units (the default), a small network (:func:`mlp_classifier`,
    ``kind`` ``"mlp"``) on the logits and the pooled activations of the ReLUs before the output
    layer (each channel's mean and maximum: ``numpy_forward.pooled_activations``); with
    ``hidden=0`` the first head, a logistic regression on the output layer's inputs,
    standardised, with an L2 penalty ``l2``. The score is the energy of the logits plus
    ``head_weight`` times the head's log-odds: the head adds what the forward pass tells apart,
    the energy keeps the outlier exposure the model was trained with. Its threshold is set on
    ``held_out`` digits (never trained on, not in ``digits``) so that a fraction ``rejected`` of
    them would be called "not a digit". Needs a softmax model whose predictor has
    ``forward_parts`` (both predictors). Returns what was stored.
    """
    if predictor._sigmoid:
        raise ValueError("a digit head needs a softmax model (the energy of its logits)")
    if not 0.0 <= rejected < 1.0:
        raise ValueError(f"rejected must be a fraction in [0, 1), not {rejected}")
    pos_f, pos_l, pos_p = predictor.forward_parts(digits)
    neg_f, neg_l, neg_p = predictor.forward_parts(nondigits)
    y = np.concatenate([np.ones(len(pos_l)), np.zeros(len(neg_l))])
    if hidden:
        inputs = np.concatenate([np.concatenate([pos_l, pos_p], axis=1), np.concatenate([neg_l, neg_p], axis=1)]).astype(np.float64)
        w1, b1, w2, b2 = mlp_classifier(inputs, y, hidden, seed=seed)
        head = {
            "kind": "mlp",
            "hidden_weights": [[float(v) for v in row] for row in w1],
            "hidden_bias": [float(v) for v in b1],
            "out_weights": [float(v) for v in head_weight * w2],
            "out_bias": float(head_weight * b2),
            "energy_weight": 1.0,
            "threshold": 0.0,
        }
    else:
        x = np.concatenate([pos_f, neg_f]).astype(np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        w, b = logistic_regression((x - mean) / std, y, l2)
        head = {
            "weights": [float(v) for v in head_weight * w / std],
            "bias": float(head_weight * (b - mean @ (w / std))),
            "energy_weight": 1.0,
            "threshold": 0.0,
        }
    f, logits, pooled = predictor.forward_parts(held_out)
    scores = DigitHead.of(head).scores(f, logits, pooled)
    head.update(
        threshold=float(np.quantile(scores, rejected, method="lower")),
        held_out_digits=int(len(held_out)),
        held_out_rejected=rejected,
        fitted_digits=int(len(pos_l)),
        fitted_nondigits=int(len(neg_l)),
        head_weight=head_weight,
    )
    head.update({"hidden": hidden, "weight_decay": HEAD_DECAY, "seed": seed} if hidden else {"l2": l2})
    predictor.digit_head = DigitHead.of(head)
    predictor.meta.setdefault("recognition", {})["digit_head"] = head
    return head
