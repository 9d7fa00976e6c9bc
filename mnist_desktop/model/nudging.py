"""Why accuracy cannot be a loss: nudge one weight (or all of them along the gradient) a little
and watch the loss and the accuracy.

The loss changes smoothly with every weight; the accuracy changes only when a prediction
flips, so between flips it is flat and its gradient is zero — SGD could not learn from it.
:func:`nudge` measures both for a sweep of nudges ε on a private copy of the model: the
predictor passed in is never changed.

(The module is ``nudging``, not ``nudge``: importing a submodule named like the function
would replace ``mnist_desktop.model.nudge``, the function, with the module.)
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .config import get_architecture_spec
from .errors import MnistDesktopError, TrainingError

MAX_EPSILONS = 1001  # a sweep of more steps than this shows nothing more and only takes longer
BATCH = 1000  # images per forward pass
CACHE_VALUES = 25_000_000  # the most activations (100 MB of float32) kept to skip the layers a nudge does not change


@dataclass(frozen=True)
class Nudge:
    """Loss and accuracy of a model with one weight (or all weights) moved by each ε."""

    epsilons: np.ndarray  # (K,) float64, as given (a sweep cut short by a stop holds the ones done)
    loss: np.ndarray  # (K,) float64: the mean of the model's own training loss
    accuracy: np.ndarray  # (K,) float64 in [0, 1]
    loss_name: str  # the loss measured ("cross-entropy", "mnist-loss")
    parameter: str | None  # the weight's parameter ("fc.weight"), None: all weights along the gradient
    index: int | None  # the weight's flat index in its parameter
    weight: float | None  # that weight's value before the nudge
    samples: int  # images measured
    stopped: bool = False

    def reading(self) -> str:
        """One line saying what the sweep shows, in plain words."""
        return reading(self)


def training_loss(predictor) -> str:
    """The differentiable loss ``predictor`` was trained with: its recorded loss, or its output's
    usual one (mnist_loss for one sigmoid output, cross-entropy otherwise). A model trained
    with the accuracy "loss" gets its output's usual loss, since accuracy has no gradient."""
    sigmoid = predictor.meta.get("output") == "sigmoid"
    recorded = (predictor.meta.get("training") or {}).get("loss")
    if (recorded == "mnist-loss" and sigmoid) or (recorded == "cross-entropy" and not sigmoid):
        return recorded
    return "mnist-loss" if sigmoid else "cross-entropy"


def nudgeable_parameters(predictor) -> dict[str, tuple[int, ...]]:
    """The trainable parameters of ``predictor`` by name, with their shapes; TrainingError for
    a model with none (pixel similarity), saying why."""
    spec = get_architecture_spec(predictor.arch)
    model = getattr(predictor, "model", None)
    if not spec.trainable or model is None:
        if not spec.trainable:
            raise TrainingError(
                f"{spec.label} has no weights to nudge: it keeps the mean image of each class and compares a digit with them. "
                "Nothing is learned by SGD, so there is no loss to follow. Train a linear model, a neural net or a CNN to try this."
            )
        raise MnistDesktopError("This model is the quick numpy copy used while PyTorch loads; nudging needs PyTorch.")
    return {name: tuple(p.shape) for name, p in model.named_parameters() if p.requires_grad}


def output_parameters(predictor) -> set[str]:
    """The names of the parameters of ``predictor``'s output layer (its last ``nn.Linear``): the
    rows of its weight are the model's outputs; the rows of any other layer are hidden units."""
    from torch import nn

    linears = [name for name, m in predictor.model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        return set()
    prefix = f"{linears[-1]}." if linears[-1] else ""
    return {name for name, _ in predictor.model.named_parameters() if name.startswith(prefix) and "." not in name[len(prefix) :]}


def epsilon_grid(span: float, steps: int = 61) -> np.ndarray:
    """``steps`` nudges from ``-span`` to ``span``, 0 among them (``steps`` is made odd)."""
    if not (np.isfinite(span) and span > 0):
        raise ValueError(f"the range of the nudge must be a positive number, not {span}")
    steps = max(3, int(steps) | 1)
    return np.linspace(-span, span, steps)


def nudge_data(classes, which: str = "batch", batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The digits a nudge is measured on: "batch", the first ``batch_size`` training digits of
    ``classes`` (what one SGD step sees), or "valid", MNIST's 10,000 test digits (the model's
    validation set; :func:`nudge` keeps those of its classes). Uint8 images and digit labels."""
    from .data import mnist_arrays

    if which == "valid":
        return mnist_arrays("test")
    if which != "batch":
        raise ValueError(f"the data to nudge on is 'batch' or 'valid', not {which!r}")
    images, labels = mnist_arrays("train")
    keep = np.flatnonzero(np.isin(labels, [int(c) for c in classes]))[:batch_size]
    return images[keep], labels[keep]


def _prepare(predictor, images, labels):
    """Normalised float32 ``(N, 1, 28, 28)`` and class indices of the images of the model's classes."""
    import torch

    images = images.numpy() if hasattr(images, "numpy") else np.asarray(images)  # a torch tensor, or an array
    labels = labels.numpy() if hasattr(labels, "numpy") else np.asarray(labels)
    y = labels.astype(np.int64).reshape(-1)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(y):
        raise ValueError(f"expected images (N, 28, 28) and N labels, got {images.shape} and {labels.shape}")
    classes = [int(c) for c in predictor.classes]
    keep = np.flatnonzero(np.isin(y, classes))
    if not len(keep):
        raise ValueError(f"none of the images is of the classes {', '.join(map(str, classes))}: there is nothing to measure the model on")
    index = np.full(10, -1, dtype=np.int64)
    index[classes] = np.arange(len(classes))
    x = torch.from_numpy(images[keep])  # fancy indexing copies: writable, whatever ``images`` was
    x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
    mean, std = float(predictor.meta["normalization"]["mean"]), float(predictor.meta["normalization"]["std"])
    # channels_last: the CNN evaluates several times faster on the CPU (see training.prepare)
    x = ((x - mean) / std).reshape(-1, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    return x, torch.from_numpy(index[y[keep]])


def _check_epsilons(epsilons) -> np.ndarray:
    eps = np.asarray(epsilons, dtype=np.float64)
    if eps.ndim != 1 or not 1 <= len(eps) <= MAX_EPSILONS:
        raise ValueError(f"epsilons must be a list of 1 to {MAX_EPSILONS} numbers, not shape {eps.shape}")
    if not np.isfinite(eps).all():
        raise ValueError("every ε must be a finite number")
    return eps


def nudge(
    predictor,
    images,
    labels,
    epsilons,
    parameter: str | None = None,
    index: int | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    stop_event: threading.Event | None = None,
) -> Nudge:
    """Loss and accuracy of ``predictor`` on ``images`` (uint8 ``(N, 28, 28)`` or floats in
    [0, 1]; ``labels`` digit values, those of other classes left out) with one weight moved
    by each of ``epsilons``: weight ``index`` (flat) of ``parameter`` ("fc.weight"), or with
    ``parameter=None`` every weight along the loss gradient on these images, normalised to
    length 1 (ε > 0 goes uphill; an SGD step is a negative ε).

    Works on a copy of the model: ``predictor`` is not changed. ``on_progress(done, total)``
    after each ε; once ``stop_event`` is set, returns what was measured (``stopped=True``).
    TrainingError for a model without weights to nudge, ValueError for bad arguments.
    """
    import torch

    from .losses import correct, get_loss

    shapes = nudgeable_parameters(predictor)
    eps = _check_epsilons(epsilons)
    if parameter is not None:
        if parameter not in shapes:
            raise ValueError(f"the model has no weight {parameter!r}; choose one of: {', '.join(shapes)}")
        size = int(np.prod(shapes[parameter]))
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < size:
            raise ValueError(f"the index of a weight in {parameter} must be a whole number from 0 to {size - 1}, not {index!r}")
        index = int(index)
    elif index is not None:
        raise ValueError("an index needs a parameter: give both, or neither for the gradient direction")
    x, y = _prepare(predictor, images, labels)
    loss_name = training_loss(predictor)
    loss_fn = get_loss(loss_name).fn
    # eval: batch norm uses its saved statistics, as when the model predicts
    model = copy.deepcopy(predictor.model).cpu().to(memory_format=torch.channels_last).eval()
    params = dict(model.named_parameters())
    stopping = stop_event.is_set if stop_event is not None else (lambda: False)

    batches = [x[i : i + BATCH] for i in range(0, len(x), BATCH)]
    run = model

    def measure() -> tuple[float, float] | None:
        total_loss, right = 0.0, 0.0
        for i, xb in enumerate(batches):
            if stopping():
                return None
            out = run(xb)
            yb = y[i * BATCH : (i + 1) * BATCH]
            total_loss += float(loss_fn(out, yb)) * len(yb)
            right += float(correct(out, yb).sum())
        return total_loss / len(x), right / len(x)

    weight = None
    if parameter is not None:
        data = params[parameter].data
        at = tuple(int(i) for i in np.unravel_index(index, shapes[parameter]))  # the row-major flat index
        weight = float(data[at])
        original = data[at].clone()

        def move(e: float) -> None:
            data[at] = original + e

        # The layers before the weight's own do not change: their output is computed once,
        # and each ε runs only the rest (a CNN's last layer: one small matrix product).
        layer = list(dict(model.named_children())).index(parameter.split(".")[0])
        if layer > 0:
            with torch.inference_mode():
                head, kept = model[:layer], []
                for xb in batches:
                    if stopping():
                        break
                    kept.append(head(xb))
            if len(kept) == len(batches) and sum(h.numel() for h in kept) <= CACHE_VALUES:
                batches, run = kept, model[layer:]

    else:
        names = [n for n in shapes]
        for p in model.parameters():
            p.grad = None
        with torch.enable_grad():
            for i in range(0, len(x), BATCH):
                if stopping():
                    break
                yb = y[i : i + BATCH]
                (loss_fn(model(x[i : i + BATCH]), yb) * (len(yb) / len(x))).backward()
        grads = [params[n].grad if params[n].grad is not None else torch.zeros_like(params[n]) for n in names]
        norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
        if not norm > 0 and not stopping():
            raise MnistDesktopError("The loss gradient is zero on these images: there is no direction to nudge the weights in.")
        start = {n: params[n].data.clone() for n in names}
        direction = {n: g / max(norm, 1e-30) for n, g in zip(names, grads)}

        def move(e: float) -> None:
            for n in names:
                params[n].data.copy_(start[n] + e * direction[n])

    losses, accuracies = [], []
    with torch.inference_mode():
        for k, e in enumerate(eps):
            if stopping():
                break
            move(float(e))
            result = measure()
            if result is None:
                break
            losses.append(result[0])
            accuracies.append(result[1])
            if on_progress is not None:
                on_progress(k + 1, len(eps))
    done = len(losses)
    return Nudge(
        epsilons=eps[:done].copy(),
        loss=np.asarray(losses, dtype=np.float64),
        accuracy=np.asarray(accuracies, dtype=np.float64),
        loss_name=loss_name,
        parameter=parameter,
        index=index,
        weight=weight,
        samples=len(x),
        stopped=done < len(eps),
    )


def reading(result: Nudge) -> str:
    """What a sweep shows, in one line for a learner."""
    if len(result.epsilons) < 2:
        return "Too few nudges to compare: the sweep was stopped early."
    what = "the weight" if result.parameter is not None else "the weights"
    lo, hi = float(result.epsilons.min()), float(result.epsilons.max())
    accuracies = np.unique(result.accuracy)
    loss_changed = float(np.ptp(result.loss)) > 0
    low, high = float(result.loss.min()), float(result.loss.max())
    loss_text = f"the loss moved smoothly between {low:.4g} and {high:.4g}" if loss_changed else "the loss did not move"
    if len(accuracies) == 1:
        return (
            f"Nudging {what} by any ε from {lo:.3g} to {hi:.3g} left the accuracy at exactly {100 * accuracies[0]:.2f} % "
            f"while {loss_text}: accuracy's gradient is zero here, so SGD could learn nothing from it. The loss can."
        )
    jumps = int(np.count_nonzero(np.diff(result.accuracy)))
    return (
        f"Accuracy is flat between jumps ({jumps} jump{'s' if jumps != 1 else ''} in {len(result.epsilons) - 1} steps, "
        f"{100 * result.accuracy.min():.2f}–{100 * result.accuracy.max():.2f} %) while {loss_text}: "
        "its gradient is zero almost everywhere, so SGD cannot learn from it. The loss changes at every step."
    )
