"""A checkpoint's JSON metadata checked for type and range, without torch.

Shared by :mod:`checkpoints` (the torch model) and :mod:`numpy_forward` (the same model in
numpy, used before torch has loaded): both refuse the same files with the same messages.
"""

from __future__ import annotations

import math
import reprlib
from pathlib import Path

import numpy as np

from .config import ARCHITECTURE_SPECS as ARCHITECTURES
from .config import TASKS, check_config, get_architecture_spec
from .errors import CheckpointError, brief

FORMAT = "mnist-desktop-checkpoint"
FORMAT_VERSION = 1
METADATA_KEY = "mnist_desktop"
# The largest checkpoint file read. The biggest model the architectures allow (an MLP 8192
# wide, see architectures.MAX_HIDDEN) is 26 MB; the bundled CNN is 76 KB. 512 MB leaves room
# for any state dict a user may import while keeping a wrong file from filling the memory.
MAX_CHECKPOINT_BYTES = 512 * 2**20
# What "not a digit" and the probabilities mean for a checkpoint that does not say (one saved
# before they were calibrated): the logits as they are, and a digit when the model gives its
# best class at least even odds.
DEFAULT_TEMPERATURE = 1.0
DEFAULT_DIGIT_THRESHOLD = 0.5
TEMPERATURE_RANGE = (0.05, 20.0)
# The range a stored energy threshold (``recognition.energy_threshold``, the logsumexp of the
# logits under which a drawing is "not a digit") may take: the bundled model's is 2.9.
ENERGY_RANGE = (-1e6, 1e6)
# The range of each number of a stored digit head (``recognition.digit_head``: weights over the
# output layer's inputs, bias, energy weight and threshold; for the small network its layers'
# weights and biases too; ``recognition.fit_digit_head``).
HEAD_RANGE = (-1e6, 1e6)


_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60
_SHOW.maxlevel = 2


def _show(value: object) -> str:
    """``repr(value)`` cut short: metadata may hold a string of megabytes or JSON nested 999 deep."""
    return _SHOW.repr(value)


def _number(value: object, low: float, high: float) -> float | None:
    """``value`` as a float if it is a JSON number from ``low`` to ``high`` (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)  # an integer of 400 digits does not fit a float: OverflowError
    except OverflowError:
        return None
    return x if math.isfinite(x) and low <= x <= high else None


def _check_metadata(path: Path, meta: object) -> dict:
    """The checkpoint's metadata with every key the app uses checked for type and range.

    Metadata comes from the file: any key may hold any JSON value. What is returned is a new
    dict whose used keys have the types the rest of the app relies on (normalisation as
    floats, ``training``/``metrics``/``versions`` as dicts, ``arch_config`` checked against
    the architecture's ranges), so nothing downstream meets a ``TypeError``.
    """

    def bad(what: str) -> CheckpointError:
        return CheckpointError(
            f"{path}: bad metadata: {what}. The file was not saved by this app or was edited; retrain or re-save the model."
        )

    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an mnist-desktop checkpoint (no {FORMAT!r} metadata).")
    version = meta.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {_show(version)} is not supported (this version reads {FORMAT_VERSION}).")
    arch = meta.get("architecture")
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise CheckpointError(f"{path}: unknown architecture {_show(arch)} (known: {', '.join(ARCHITECTURES)}).")
    task, classes = meta.get("task"), meta.get("classes")
    if not (
        isinstance(task, str)
        and task in TASKS
        and isinstance(classes, list)
        and all(type(c) is int for c in classes)
        and classes == list(TASKS[task].classes)
    ):
        raise CheckpointError(f"{path}: unknown task or classes ({_show(task)}, {_show(classes)}).")
    output = meta.get("output")
    if not (isinstance(output, str) and output in ("softmax", "sigmoid")):
        raise CheckpointError(f"{path}: unknown output kind {_show(output)}.")
    if output == "sigmoid" and len(classes) != 2:
        raise bad(f"a sigmoid output (one logit) needs 2 classes, task {task!r} has {len(classes)}")
    norm = meta.get("normalization")
    mean = _number(norm.get("mean"), -1e3, 1e3) if isinstance(norm, dict) else None
    std = _number(norm.get("std"), 1e-6, 1e3) if isinstance(norm, dict) else None
    if mean is None or std is None:
        raise CheckpointError(
            f"{path}: bad normalisation {_show(norm)} (mean and std must be finite numbers, "
            "mean from -1000 to 1000, std above 0: from 1e-6 to 1000)."
        )
    try:
        arch_config = check_config(arch, meta.get("arch_config", {}))
    except ValueError as e:
        raise CheckpointError(f"{path}: bad architecture config ({brief(e)}).") from None
    checked = dict(
        meta,
        architecture=arch,
        arch_config=arch_config,
        task=task,
        classes=list(classes),
        output=output,
        normalization={"mean": mean, "std": std},
    )
    for key in ("training", "metrics", "versions"):
        value = meta.get(key, {})
        if not isinstance(value, dict):
            raise bad(f"{key!r} must be a mapping, not {type(value).__name__}")
        checked[key] = value
    recognition = meta.get("recognition", {})
    if not isinstance(recognition, dict):
        raise bad(f"'recognition' must be a mapping, not {type(recognition).__name__}")
    temperature = _number(recognition.get("temperature", DEFAULT_TEMPERATURE), *TEMPERATURE_RANGE)
    threshold = _number(recognition.get("digit_threshold", DEFAULT_DIGIT_THRESHOLD), 0.0, 1.0)
    if temperature is None:
        raise bad(
            f"the temperature must be a number from {TEMPERATURE_RANGE[0]} to {TEMPERATURE_RANGE[1]}, not {_show(recognition.get('temperature'))}"
        )
    if threshold is None:
        raise bad(f"the digit threshold must be a probability from 0 to 1, not {_show(recognition.get('digit_threshold'))}")
    checked["recognition"] = dict(recognition, temperature=temperature, digit_threshold=threshold)
    if "energy_threshold" in recognition:  # absent in checkpoints calibrated before it existed
        energy = _number(recognition["energy_threshold"], *ENERGY_RANGE)
        if energy is None:
            raise bad(
                f"the energy threshold must be a number from {ENERGY_RANGE[0]:g} to {ENERGY_RANGE[1]:g}, "
                f"not {_show(recognition['energy_threshold'])}"
            )
        checked["recognition"]["energy_threshold"] = energy
    if "digit_head" in recognition:  # absent in checkpoints fitted before it existed
        checked["recognition"]["digit_head"] = _check_digit_head(recognition["digit_head"], arch, arch_config, output, len(classes), bad)
    # The values the app reads from them (continue training, the model's description).
    # (The test accuracy is only shown, never used: one that is not a fraction is ignored with a
    # note, by test_accuracy_of, rather than refusing a model that works.)
    loss = checked["training"].get("loss")
    if loss is not None and not isinstance(loss, str):
        raise bad(f"training loss must be a name, not {_show(loss)}")
    for key in ("epochs", "epochs_total"):
        value = checked["training"].get(key)
        if value is not None and (type(value) is not int or not 0 <= value <= 10**9):
            raise bad(f"training {key} must be a count of epochs, not {_show(value)}")
    return checked


def test_accuracy_of(metrics: dict) -> tuple[float | None, str | None]:
    """The test accuracy a checkpoint's ``metrics`` claim, as a fraction from 0 to 1, and a note
    when a value is there but is not one (``(None, note)``: it is not shown). The file can claim
    anything, so this is the one gate to every place that shows it (``describe``, fine-tune's
    before and after). NaN, what training stores when it measured nothing, is absent, silently."""
    value = metrics.get("test_accuracy")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, None
    accuracy = _number(value, 0.0, 1.0)
    if accuracy is None:
        return None, f"its stored test accuracy {_show(value)} is not a fraction from 0 to 1; it is ignored (not shown)"
    return accuracy, None


def head_width(arch: str, n_out: int, arch_config: object) -> int | None:
    """How many values the output layer of ``arch`` reads (the inputs of its last linear layer:
    what a digit head weighs), or None for an architecture without one (pixel similarity)."""
    linear = [layer for layer in get_architecture_spec(arch).layers(n_out, arch_config) if layer.kind == "linear"]
    return linear[-1].sizes[0] if linear else None


def pooled_width(arch: str, n_out: int, arch_config: object) -> int:
    """How many pooled activations the forward pass gives a digit head (``numpy_forward.pooled_activations``):
    a mean and a maximum for each channel of each ReLU on feature maps before the output layer."""
    layers = get_architecture_spec(arch).layers(n_out, arch_config)
    last = max((i for i, layer in enumerate(layers) if layer.kind == "linear"), default=len(layers))
    width, channels, maps = 0, 1, True
    for layer in layers[:last]:
        if layer.kind == "conv":
            channels = layer.sizes[1]
        elif layer.kind in ("flatten", "linear", "similarity"):
            maps = False
        elif layer.kind == "relu" and maps:
            width += 2 * channels
    return width


# The most hidden units a stored small digit head may have (the bundled model's has 32).
MAX_HEAD_HIDDEN = 256


def _head_numbers(values: object, count: int, what: str, bad) -> list[float]:
    """``values`` as a list of ``count`` finite floats in HEAD_RANGE, or ``bad``."""
    if not isinstance(values, list) or len(values) != count:
        got = f"{len(values)} values" if isinstance(values, list) else _show(values)
        raise bad(f"the digit head's {what} must be a list of {count} numbers, not {got}")
    numbers = [_number(v, *HEAD_RANGE) for v in values]
    if any(v is None for v in numbers):
        i = next(i for i, v in enumerate(numbers) if v is None)
        raise bad(
            f"the digit head's {what}: value {i} must be a finite number from {HEAD_RANGE[0]:g} to {HEAD_RANGE[1]:g}, not {_show(values[i])}"
        )
    return numbers


def _head_scalars(head: dict, keys: tuple[str, ...], bad) -> dict[str, float]:
    """The digit head's single numbers ``keys``, each finite and in HEAD_RANGE, or ``bad``."""
    checked = {}
    for key in keys:
        v = _number(head.get(key), *HEAD_RANGE)
        if v is None:
            raise bad(
                f"the digit head's {key} must be a finite number from {HEAD_RANGE[0]:g} to {HEAD_RANGE[1]:g}, not {_show(head.get(key))}"
            )
        checked[key] = v
    return checked


def _check_mlp_head(head: dict, arch: str, arch_config: dict, n_classes: int, bad) -> dict:
    """A small digit head (``kind`` ``"mlp"``): ``hidden_weights`` (a list of H ≤ MAX_HEAD_HIDDEN
    lists, each of as many numbers as it reads: the logits and the pooled activations),
    ``hidden_bias`` and ``out_weights`` (H numbers each), ``out_bias``, ``energy_weight`` and
    ``threshold``: all finite."""
    inputs = n_classes + pooled_width(arch, n_classes, arch_config)
    rows = head.get("hidden_weights")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_HEAD_HIDDEN:
        got = f"{len(rows)} rows" if isinstance(rows, list) else _show(rows)
        raise bad(f"the digit head's hidden_weights must be a list of 1 to {MAX_HEAD_HIDDEN} rows of {inputs} numbers, not {got}")
    checked = dict(head, hidden_weights=[_head_numbers(r, inputs, f"hidden_weights row {i}", bad) for i, r in enumerate(rows)])
    checked["hidden_bias"] = _head_numbers(head.get("hidden_bias"), len(rows), "hidden_bias", bad)
    checked["out_weights"] = _head_numbers(head.get("out_weights"), len(rows), "out_weights", bad)
    return checked | _head_scalars(head, ("out_bias", "energy_weight", "threshold"), bad)


def _check_digit_head(head: object, arch: str, arch_config: dict, output: str, n_classes: int, bad) -> dict:
    """``recognition.digit_head`` checked, on a softmax model. The linear head (``kind`` absent
    or ``"linear"``): a mapping of ``weights`` (a list of as many finite numbers as the output
    layer has inputs), ``bias``, ``energy_weight`` and ``threshold`` (finite numbers). The small
    network (``kind`` ``"mlp"``): :func:`_check_mlp_head`. Returns a new dict of floats."""
    if not isinstance(head, dict):
        raise bad(f"'recognition.digit_head' must be a mapping, not {type(head).__name__}")
    if output != "softmax":
        raise bad("a digit head needs a softmax output (the energy of its logits)")
    kind = head.get("kind", "linear")
    if kind not in ("linear", "mlp"):
        raise bad(f"the digit head's kind must be 'linear' or 'mlp', not {_show(kind)}")
    if kind == "mlp":
        if head_width(arch, n_classes, arch_config) is None:
            raise bad("a digit head needs a model with an output layer (a linear layer)")
        return _check_mlp_head(head, arch, arch_config, n_classes, bad)
    width = head_width(arch, n_classes, arch_config)
    weights = head.get("weights")
    if width is None or not isinstance(weights, list) or len(weights) != width:
        got = f"{len(weights)} values" if isinstance(weights, list) else _show(weights)
        raise bad(f"the digit head's weights must be a list of {width} numbers (the output layer's inputs), not {got}")
    values = [_number(w, *HEAD_RANGE) for w in weights]
    if any(v is None for v in values):
        i = next(i for i, v in enumerate(values) if v is None)
        raise bad(
            f"the digit head's weight {i} must be a finite number from {HEAD_RANGE[0]:g} to {HEAD_RANGE[1]:g}, not {_show(weights[i])}"
        )
    checked = dict(head, weights=values)
    return checked | _head_scalars(head, ("bias", "energy_weight", "threshold"), bad)


def _n_out(meta: dict) -> int:
    return 1 if meta["output"] == "sigmoid" else len(meta["classes"])


def probe_images(meta: dict) -> np.ndarray:
    """float32 ``(2, 1, 28, 28)``: a blank canvas and a vertical stroke, normalised as the model of
    ``meta`` reads them. Every loaded model must answer them with finite numbers."""
    x = np.zeros((2, 1, 28, 28), np.float32)
    x[1, 0, 4:24, 13:16] = 1.0
    norm = meta.get("normalization") or {}
    return (x - float(norm.get("mean", 0.0))) / float(norm.get("std", 1.0))


def check_running_variances(path, weights: dict) -> None:
    """A batch norm's running variance below zero: its square root is NaN in every answer."""
    for name, t in weights.items():
        if name.endswith("running_var") and bool((t < 0).any()):
            raise CheckpointError(f"{path}: weight {name} holds negative variances; the model is broken. Retrain it.")


def unanswerable(path) -> CheckpointError:
    return CheckpointError(
        f"{path}: the model answers a blank or a simple image with NaN or infinity (its weights overflow); the model is broken. Retrain it."
    )
