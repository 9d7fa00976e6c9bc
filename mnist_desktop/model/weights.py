"""Weights over time: per-layer snapshots taken while training, histograms, and how far each
layer has moved from where it started.

The trainer hands out a :class:`WeightSnapshot` (CPU numpy copies of each layer's weights
and the last batch's gradient norm per layer) at the start of a run (epoch 0) and after
each epoch, only when asked (``train(on_weights=...)``). :class:`WeightHistory` turns the
snapshots into what a view shows: each layer's distance from its initial weights, epoch by
epoch. Numpy only; torch is touched only by :func:`snapshot`, which is given a torch model.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

BINS = 41  # bins of a layer's histogram: odd, so that zero sits in the middle of one
TAIL_QUANTILE = 0.999  # the histogram's range reaches this quantile of |weights|


@dataclass(frozen=True)
class WeightSnapshot:
    """One moment of a run: ``epoch`` 0 is before the first step."""

    epoch: int
    weights: "OrderedDict[str, np.ndarray]"  # layer name → float32 copy of its weight tensor
    grad_norms: dict[str, float] = field(default_factory=dict)  # layer name → ‖gradient‖ of the last batch


def layer_modules(model):
    """``(name, module)`` of the layers whose weights are worth looking at: convolutions and
    dense layers, named as ``Predictor.layer_weights`` and the activations view name them."""
    from torch import nn

    return [(name, m) for name, m in model.named_children() if isinstance(m, (nn.Conv2d, nn.Linear))]


def snapshot(model, epoch: int) -> WeightSnapshot:
    """Copies of ``model``'s layer weights (safe to send to another thread while training goes
    on) and the norm of each layer's current gradient, if it has one."""
    weights: OrderedDict[str, np.ndarray] = OrderedDict()
    grads: dict[str, float] = {}
    for name, m in layer_modules(model):
        w = m.weight.detach()
        weights[name] = np.array(w.cpu().float().numpy(), dtype=np.float32, order="C", copy=True)
        if m.weight.grad is not None:
            grads[name] = float(m.weight.grad.detach().float().norm())
    return WeightSnapshot(epoch, weights, grads)


def histogram_edges(*arrays: np.ndarray, bins: int = BINS, quantile: float = TAIL_QUANTILE) -> np.ndarray:
    """``bins + 1`` edges, symmetric about zero, shared by ``arrays`` (a layer's weights now and
    at the start, so that the two compare bin by bin). They reach the ``quantile`` of each
    array's |values|: trained weights have long tails, and a few large weights would
    otherwise squeeze the rest into two bins (the few beyond count in the outermost bins)."""
    top = max((float(np.quantile(np.abs(a), quantile)) for a in arrays if np.size(a)), default=0.0)
    if not (np.isfinite(top) and top > 0):  # all zero (or not finite): the largest finite value, else ±1
        finite = [np.abs(a[np.isfinite(a)]) for a in map(np.asarray, arrays) if np.size(a)]
        top = max((float(f.max()) for f in finite if f.size), default=0.0) or 1.0
    return np.linspace(-top, top, bins + 1)


def histogram(w: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``w``'s values in ``edges`` (int64, sums to ``w.size``: values beyond them are
    counted in the outermost bins, NaN in the middle one)."""
    a = np.nan_to_num(np.asarray(w, dtype=np.float64).ravel(), nan=0.0)
    counts, _ = np.histogram(np.clip(a, edges[0], edges[-1]), bins=edges)
    return counts.astype(np.int64)


def relative_distance(w: np.ndarray, w0: np.ndarray) -> float:
    """‖w − w0‖ / ‖w0‖: how far a layer has moved from its initial weights, relative to their size."""
    w, w0 = np.asarray(w, dtype=np.float64), np.asarray(w0, dtype=np.float64)
    if w.shape != w0.shape:
        raise ValueError(f"weights of shape {w.shape} cannot be compared with initial weights of shape {w0.shape}")
    start = float(np.linalg.norm(w0))
    moved = float(np.linalg.norm(w - w0))
    return moved / start if start > 0 else (0.0 if moved == 0 else float("inf"))


@dataclass(frozen=True)
class LayerHistogram:
    """A layer's weights now, and at the start of the run if known, on the same bins."""

    name: str
    shape: tuple[int, ...]
    edges: np.ndarray
    counts: np.ndarray
    initial_counts: np.ndarray | None
    distance: float | None  # relative_distance to the initial weights, if known


def layer_histogram(name: str, w: np.ndarray, w0: np.ndarray | None = None, bins: int = BINS) -> LayerHistogram:
    """The histogram of ``w`` (and of ``w0`` on the same bins, with the distance, if given)."""
    if w0 is not None and np.shape(w0) != np.shape(w):
        w0 = None  # another model's start: nothing to compare
    edges = histogram_edges(w, *([] if w0 is None else [w0]), bins=bins)
    return LayerHistogram(
        name,
        tuple(np.shape(w)),
        edges,
        histogram(w, edges),
        None if w0 is None else histogram(w0, edges),
        None if w0 is None else relative_distance(w, w0),
    )


class WeightHistory:
    """A run's snapshots, kept as its start and its latest moment, and each layer's distance
    from the start epoch by epoch (what a plot of "how far each layer has moved" needs)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.initial: WeightSnapshot | None = None
        self.latest: WeightSnapshot | None = None
        self.epochs: list[int] = []
        self.distances: dict[str, list[float]] = {}  # layer → one value per entry of ``epochs``
        self.grad_norms: dict[str, list[float]] = {}  # layer → the last batch's ‖gradient‖ per entry (NaN if none)

    def add(self, snap: WeightSnapshot) -> None:
        if snap.epoch == 0 or self.initial is None:
            self.clear()
            self.initial = snap
        self.latest = snap
        self.epochs.append(snap.epoch)
        for name, w in snap.weights.items():
            w0 = self.initial.weights.get(name)
            d = relative_distance(w, w0) if w0 is not None and w0.shape == w.shape else float("nan")
            self.distances.setdefault(name, []).append(d)
            self.grad_norms.setdefault(name, []).append(snap.grad_norms.get(name, float("nan")))

    def layers(self) -> list[str]:
        return list(self.latest.weights) if self.latest is not None else []
