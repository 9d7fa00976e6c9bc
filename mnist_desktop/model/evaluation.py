"""Where a model goes wrong: accuracy, per-class accuracy, the confusion matrix and the most
confident mistakes (``top_losses``: the wrong answers ranked by the probability of the digit said;
fastai's ``plot_top_losses`` ranks every answer by its loss, the true digit's probability lowest first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions that compute with it: the window builds its
# Evaluation dock (the damage kinds, the layer list) before PyTorch has loaded.


@dataclass(frozen=True)
class Evaluation:
    """A model's verdict on a set of digits. Classes are digit values (for 3v7: 3 and 7)."""

    classes: tuple[int, ...]
    accuracy: float
    per_class: np.ndarray  # (K,) accuracy of each class (NaN for a class with no image)
    confusion: np.ndarray  # int64 (K, K): rows the true class, columns the predicted one
    probabilities: np.ndarray  # (N, K) for the images that count
    predicted: np.ndarray  # (N,) digit values
    labels: np.ndarray  # (N,) digit values
    indices: np.ndarray  # (N,) where each row came from in the images given
    top_losses: np.ndarray  # positions in ``indices`` of the wrong predictions, most confident first

    def as_dict(self) -> dict:
        """Plain numbers, for JSON."""
        return {
            "classes": list(self.classes),
            "samples": int(len(self.labels)),
            "accuracy": self.accuracy,
            # None (JSON null) for a class with no samples: NaN is not JSON
            "per_class_accuracy": {str(c): float(a) if a == a else None for c, a in zip(self.classes, self.per_class)},
            "confusion_matrix": self.confusion.tolist(),
        }


def _counted(predictor, labels: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    """``(the model's classes, the positions of the labels among them)``; ValueError when there
    are none: no labels at all, or none of the model's classes."""
    classes = tuple(int(c) for c in predictor.classes)
    keep = np.flatnonzero(np.isin(labels, classes))
    if not len(labels):
        raise ValueError("there are no images to evaluate: the set is empty")
    if not len(keep):
        raise ValueError(
            f"none of the {len(labels)} images is one of this model's classes ({', '.join(map(str, classes))}); nothing to evaluate"
        )
    return classes, keep


def evaluate(predictor, images, labels) -> Evaluation:
    """Evaluate ``predictor`` on uint8 ``(N, 28, 28)`` ``images`` with digit ``labels`` (N,);
    ValueError for other dtypes or shapes.

    Only the images of the model's classes count (a 3v7 model sees only the 3s and 7s).
    ValueError when none does (no images, or none of the model's classes): an accuracy of
    nothing is no number (it was NaN).
    """
    images = images.numpy() if hasattr(images, "numpy") else np.asarray(images)  # a torch tensor, or an array
    labels = labels.numpy() if hasattr(labels, "numpy") else np.asarray(labels)
    # uint8 only, as training and fine_tune take them: floats or int64 of 0 to 255 were read as
    # predict_batch reads floats (0 to 1) and evaluated silently wrong (the bundled model: 87 %, not 99 %)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"expected uint8 images (N, 28, 28) and N labels, got {images.shape} {images.dtype} and {labels.shape}")
    classes, keep = _counted(predictor, labels)
    probabilities = predictor.predict_batch(np.ascontiguousarray(images[keep]))
    truth = (
        np.searchsorted(classes, labels[keep]) if list(classes) == sorted(classes) else np.array([classes.index(v) for v in labels[keep]])
    )
    guess = probabilities.argmax(1)
    k = len(classes)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth, guess), 1)
    totals = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(totals > 0, confusion.diagonal() / np.maximum(totals, 1), np.nan)
    wrong = np.flatnonzero(guess != truth)
    top_losses = wrong[np.argsort(-probabilities[wrong, guess[wrong]], kind="stable")]
    return Evaluation(
        classes=classes,
        accuracy=float((guess == truth).mean()),
        per_class=per_class,
        confusion=confusion,
        probabilities=probabilities,
        predicted=np.asarray(classes)[guess],
        labels=labels[keep].astype(np.int64),
        indices=keep,
        top_losses=top_losses,
    )


# ---------------------------------------------------------------------- confidence threshold
def confidence_curve(evaluation: Evaluation, thresholds=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ "Answer only when at least p sure": for each threshold p, the share of the images
    whose top probability is ≥ p (answered) and the accuracy on those (NaN where none is).

    Returns ``(thresholds, answered, accuracy)``, float64 arrays of the same length.
    """
    thresholds = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    confidence = evaluation.probabilities.max(1) if len(evaluation.labels) else np.zeros(0)
    right = evaluation.predicted == evaluation.labels
    n = len(confidence)
    # sorted once: the answered ones for threshold p are the tail from searchsorted(p)
    order = np.argsort(confidence, kind="stable")
    conf_sorted = confidence[order].astype(np.float64)
    right_tail = np.concatenate([np.cumsum(right[order][::-1])[::-1], [0]])
    start = np.searchsorted(conf_sorted, thresholds, side="left")
    answered_n = n - start
    with np.errstate(invalid="ignore", divide="ignore"):
        answered = answered_n / n if n else np.full(len(thresholds), np.nan)
        accuracy = np.where(answered_n > 0, right_tail[start] / np.maximum(answered_n, 1), np.nan)
    return thresholds, np.asarray(answered, dtype=np.float64), accuracy.astype(np.float64)


# ---------------------------------------------------------------------- robustness
# Each kind of damage, the amounts the curve goes through (0 or 1: no damage) and their unit.
DAMAGES: dict[str, tuple[str, tuple[float, ...], str]] = {
    "noise": ("Gaussian noise", (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6), "σ (of the 0–1 range)"),
    "rotation": ("Rotation", (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0), "degrees"),
    "thickness": ("Stroke thickness", (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0), "pixels of stroke width"),
    "shift": ("Shift", (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0), "pixels"),
    "scale": ("Scale", (0.5, 0.67, 0.83, 1.0, 1.17, 1.33, 1.5), "× size"),
}


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    import torch

    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def damage(images, kind: str, amount: float, seed: int = 0) -> np.ndarray:
    """``images`` (uint8 ``(N, 28, 28)``) damaged by ``kind`` (a key of :data:`DAMAGES`) of
    ``amount``, as uint8. Random parts (noise, the direction of a shift or rotation) come
    from ``seed``, so a curve is the same every time.

    - noise: Gaussian noise of standard deviation ``amount`` (in units of full white), clipped;
    - rotation: each image turned by ``amount`` degrees, clockwise or not at random;
    - thickness: strokes ``amount`` pixels wider (negative: thinner), by grey dilation or
      erosion at twice the resolution (half a pixel on each side a step);
    - shift: each image moved ``amount`` pixels in a random direction;
    - scale: each image scaled by ``amount`` about its centre.
    """
    if kind not in DAMAGES:
        raise ValueError(f"kind must be one of {', '.join(DAMAGES)}, not {kind!r}")
    import torch

    x = torch.tensor(np.asarray(images)).float().div(255).unsqueeze(1)
    n = len(x)
    g = torch.Generator().manual_seed(seed)
    amount = float(amount)
    if kind == "noise":
        x = x + amount * torch.randn(x.shape, generator=g)
    elif kind == "rotation":
        sign = torch.randint(0, 2, (n,), generator=g).float() * 2 - 1
        a = torch.deg2rad(torch.tensor(amount)) * sign
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
        x = _affine(x, theta)
    elif kind == "shift":
        angle = torch.rand(n, generator=g) * 2 * torch.pi
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        # affine_grid works in [-1, 1]: one pixel is 2/28; the grid moves opposite to the image
        theta[:, 0, 2] = -amount * angle.cos() * 2 / 28
        theta[:, 1, 2] = -amount * angle.sin() * 2 / 28
        x = _affine(x, theta)
    elif kind == "scale":
        if amount <= 0:
            raise ValueError(f"a scale must be > 0, not {amount}")
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / amount
        x = _affine(x, theta)
    elif kind == "thickness":
        steps = int(round(amount))
        if steps:
            up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            for _ in range(abs(steps)):
                up = torch.nn.functional.max_pool2d(up, 3, 1, 1) if steps > 0 else -torch.nn.functional.max_pool2d(-up, 3, 1, 1)
            x = torch.nn.functional.avg_pool2d(up, 2)
    return x.squeeze(1).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()


def robustness(predictor, images, labels, kind: str, amounts=None, *, seed: int = 0, stop_event=None) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of ``predictor`` (by :func:`evaluate`) on ``images`` damaged by ``kind`` of each
    of ``amounts`` (default: the kind's curve in :data:`DAMAGES`). Returns ``(amounts,
    accuracies)``; stops early (the rest NaN) once ``stop_event`` is set. ValueError, before
    any damage is done, for an unknown ``kind`` or a set :func:`evaluate` refuses (empty)."""
    if kind not in DAMAGES:
        raise ValueError(f"kind must be one of {', '.join(DAMAGES)}, not {kind!r}")
    _counted(predictor, labels.numpy() if hasattr(labels, "numpy") else np.asarray(labels))
    amounts = np.asarray(DAMAGES[kind][1] if amounts is None else amounts, dtype=np.float64)
    accuracies = np.full(len(amounts), np.nan)
    for i, amount in enumerate(amounts):
        if stop_event is not None and stop_event.is_set():
            break
        accuracies[i] = evaluate(predictor, damage(images, kind, amount, seed), labels).accuracy
    return amounts, accuracies


# ---------------------------------------------------------------------- point map
def layer_names(predictor) -> list[str]:
    """The layers whose outputs :func:`layer_activations` can give: "input" and the model's own."""
    return ["input", *(name for name, _ in predictor.model.named_children())]


def layer_activations(predictor, images, layer: str, batch_size: int = 500) -> torch.Tensor:
    """The output of ``layer`` (a name from :func:`layer_names`) for uint8 ``(N, 28, 28)``
    ``images``, flattened to float32 ``(N, D)``; "input" is the normalised pixels."""
    import torch

    with torch.inference_mode():
        return _layer_activations(predictor, images, layer, batch_size)


def _layer_activations(predictor, images, layer: str, batch_size: int):
    import torch

    if layer not in layer_names(predictor):
        raise ValueError(f"the model has no layer {layer!r}; it has {', '.join(layer_names(predictor))}")
    x = torch.tensor(np.asarray(images)).float().div(255)
    x = ((x - predictor._mean) / predictor._std).reshape(-1, 1, 28, 28)
    if layer == "input":
        return x.reshape(len(x), -1).clone()
    # The layers up to ``layer``, run one by one (Predictor._layer_outputs: no forward hook that
    # would also catch another thread's pass over the same model while the window predicts).
    parts = [predictor._layer_outputs(x[i : i + batch_size], until=layer)[layer] for i in range(0, len(x), batch_size)]
    return torch.cat([out.reshape(len(out), -1).float() for out in parts]) if parts else torch.zeros(0, 0)


def pca_2d(x) -> np.ndarray:
    """The rows of ``x`` ``(N, D)`` projected on their first two principal components,
    float32 ``(N, 2)``. Exact (SVD of the smaller Gram or covariance matrix, in torch);
    each axis' sign chosen so that its largest loading is positive, so it is stable."""
    import torch

    x = torch.as_tensor(x, dtype=torch.float64)
    n, d = x.shape
    if n == 0:
        return np.zeros((0, 2), np.float32)
    xc = x - x.mean(0, keepdim=True)
    if d <= n:
        _, vecs = torch.linalg.eigh(xc.T @ xc)  # ascending eigenvalues
        components = vecs[:, -2:].flip(1) if d >= 2 else torch.cat([vecs, torch.zeros(d, 1, dtype=x.dtype)], 1)
    else:  # N < D: the left singular vectors from the N×N Gram matrix, mapped back
        vals, u = torch.linalg.eigh(xc @ xc.T)
        u, vals = u[:, -2:].flip(1), vals[-2:].flip(0)
        components = (xc.T @ u) / vals.clamp_min(1e-12).sqrt()
    big = components.abs().argmax(0)
    signs = torch.sign(components[big, torch.arange(components.shape[1])])
    components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
    return (xc @ components).float().numpy()


def point_map(predictor, images, layer: str) -> np.ndarray:
    """The test digits' activations at ``layer`` projected to 2-D by PCA: float32 ``(N, 2)``."""
    return pca_2d(layer_activations(predictor, images, layer))
