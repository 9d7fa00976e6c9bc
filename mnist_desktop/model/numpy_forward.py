"""Every architecture's forward pass in plain numpy: a model is matrix multiplies and a nonlinearity.

The chapter's point, and a practical one: numpy imports in a tenth of a second, torch in
seconds. The window classifies the first strokes, and ``mnist-desktop predict`` the bundled
model, with :class:`NumpyPredictor` while torch is still loading. Its probabilities equal
:class:`inference.Predictor`'s to 1e-5 for every architecture (``tests/test_numpy_forward.py``).

Weights come from the safetensors file through ``safetensors.safe_open(framework="numpy")``,
checked the way :mod:`checkpoints` checks them (the same metadata checks, names and shapes
from the header before a tensor is read, dtypes, finite values). Only ``.safetensors``
checkpoints: a ``.pt`` state dict needs ``torch.load``. No torch import here.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .config import TASKS, get_architecture_spec
from .errors import CheckpointError, brief
from .files import check_regular_file
from .layers import PIXEL_SIMILARITY_SCALE, SHOWN_WEIGHT, Layer
from .metadata import (
    DEFAULT_DIGIT_THRESHOLD,
    DEFAULT_TEMPERATURE,
    MAX_CHECKPOINT_BYTES,
    METADATA_KEY,
    _check_metadata,
    _n_out,
    check_running_variances,
    probe_images,
    test_accuracy_of,
    unanswerable,
)
from .paths import RESOURCES

DEFAULT_MODEL = RESOURCES / "models" / "default.safetensors"  # the same file as inference.DEFAULT_MODEL
BN_EPS = 1e-5  # nn.BatchNorm2d's default


# --- the layers ---------------------------------------------------------------------------


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` * ``(O, C, k, k)`` → ``(N, O, H-k+1, W-k+1)``: every k×k window dotted with every filter."""
    k = weight.shape[-1]
    windows = sliding_window_view(x, (k, k), axis=(2, 3))  # (N, C, OH, OW, k, k), a view: no copy
    out = np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, O)
    return out.transpose(0, 3, 1, 2) + bias[:, None, None]


def batch_norm(x: np.ndarray, weight, bias, running_mean, running_var, eps: float = BN_EPS) -> np.ndarray:
    """Batch norm in eval mode: each channel shifted and scaled by the statistics saved in training."""
    scale = weight / np.sqrt(running_var + eps)
    return (x - running_mean[:, None, None]) * scale[:, None, None] + bias[:, None, None]


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def max_pool2d(x: np.ndarray, size: int = 2) -> np.ndarray:
    """The largest value of each ``size``×``size`` block (odd edges dropped, as ``nn.MaxPool2d`` does)."""
    n, c, h, w = x.shape
    h, w = h // size * size, w // size * size
    return x[:, :, :h, :w].reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return x @ weight.T + bias


def flatten(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def pixel_similarity(x: np.ndarray, means: np.ndarray, scale: float = PIXEL_SIMILARITY_SCALE) -> np.ndarray:
    """Minus the mean absolute distance to each class's mean image, scaled."""
    return -scale * np.abs(x.reshape(-1, 1, 28, 28) - means).mean(axis=(-1, -2))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def digit_energy(logits: np.ndarray) -> np.ndarray:
    """The energy score of each row of ``logits`` ``(N, C)``: log Σ exp(logit), of the logits as
    the output layer gives them (temperature 1; Liu et al. 2020, "Energy-based out-of-distribution
    detection"), float64 ``(N,)``. High for a drawing the model knows, low for one it does not:
    unlike the top probability it keeps how strongly the model answers, not only how its answer
    compares with the other classes."""
    z = np.asarray(logits, dtype=np.float64)
    top = z.max(axis=1)
    return top + np.log(np.exp(z - top[:, None]).sum(axis=1))


# --- the layers, kind by kind (``layers.LAYER_KINDS``; the torch modules are architectures.TORCH_LAYERS) ---


NOT_FINITE = "the image holds NaN or infinity (or values too large to compute with); expected values from 0 to 1 as to_mnist returns"


def finite_input(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    """``(x - mean) / std`` as float32, or ValueError when a value is not a finite number once
    normalised (NaN or infinity in ``x``, or a value beyond float32's range): the model would
    answer NaN probabilities and "not a digit", silently."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"expected images of numbers from 0 to 1 as to_mnist returns, got {x.dtype} values")
    with np.errstate(over="ignore", invalid="ignore"):
        out = (x.astype(np.float32) - np.float32(mean)) / np.float32(std)
    if not np.isfinite(out).all():
        raise ValueError(NOT_FINITE)
    return out


def _batch_norm_of(name: str, w: dict[str, np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: batch_norm(x, w[f"{name}.weight"], w[f"{name}.bias"], w[f"{name}.running_mean"], w[f"{name}.running_var"])


# Each kind as a numpy function of the input, given the layer's name, its sizes and the weights.
NUMPY_LAYERS: dict[str, Callable[..., Callable[[np.ndarray], np.ndarray]]] = {
    "similarity": lambda name, w, classes: lambda x: pixel_similarity(x, w[f"{name}.means"]),
    "flatten": lambda name, w: flatten,
    "linear": lambda name, w, n_in, n_out: lambda x: linear(x, w[f"{name}.weight"], w[f"{name}.bias"]),
    "conv": lambda name, w, c_in, c_out, kernel: lambda x: conv2d(x, w[f"{name}.weight"], w[f"{name}.bias"]),
    "batchnorm": lambda name, w, channels: _batch_norm_of(name, w),
    "relu": lambda name, w: relu,
    "maxpool": lambda name, w, size: lambda x: max_pool2d(x, size),
}


def numpy_layer(layer: Layer, w: dict[str, np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    try:
        make = NUMPY_LAYERS[layer.kind]
    except KeyError:
        raise ValueError(f"layer kind {layer.kind!r} has no numpy function in numpy_forward.NUMPY_LAYERS") from None
    return make(layer.name, w, *layer.sizes)


def expected_shapes(arch: str, n_out: int, config: dict) -> dict[str, tuple[int, ...]]:
    """The state dict's names and shapes for architecture ``arch``: what ``build_model(...).state_dict()`` holds."""
    return get_architecture_spec(arch).parameter_shapes(n_out, config)


# --- reading a checkpoint without torch ---------------------------------------------------


def load_weights(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """``(weights as float32 numpy arrays, checked metadata)`` of a ``.safetensors`` checkpoint, or CheckpointError."""
    from safetensors import safe_open

    path = Path(path)
    check_regular_file(path, "checkpoint", MAX_CHECKPOINT_BYTES, CheckpointError)
    try:
        with safe_open(str(path), framework="numpy") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY)
            if raw is None:
                raise CheckpointError(f"{path}: a safetensors file without mnist-desktop metadata; the model cannot be rebuilt from it.")
            try:
                meta = json.loads(raw)
            except (ValueError, RecursionError) as e:
                raise CheckpointError(f"{path}: its metadata is not valid JSON ({brief(e, 120)}).") from None
            meta = _check_metadata(path, meta)
            expected = expected_shapes(meta["architecture"], _n_out(meta), meta["arch_config"])
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            if shapes != expected:  # names and shapes from the header, before any tensor is read
                wrong = sorted(set(shapes) ^ set(expected)) or sorted(k for k in expected if shapes[k] != expected[k])
                raise CheckpointError(
                    f"{path}: the weights do not fit architecture {meta['architecture']!r} with {_n_out(meta)} output(s) ({wrong[0]})."
                )
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except CheckpointError:
        raise
    except Exception as e:  # safetensors' own errors; numpy has no bfloat16
        raise CheckpointError(f"{path}: not a safetensors checkpoint numpy can read ({brief(e)}).") from None
    weights = {}
    for name, t in tensors.items():
        if name.endswith("num_batches_tracked"):
            if t.dtype.kind not in "iu":
                raise CheckpointError(f"{path}: weight {name} is stored as {t.dtype}, expected integers.")
            continue  # a training counter: the forward pass does not use it
        if t.dtype.kind != "f":
            raise CheckpointError(f"{path}: weight {name} is stored as {t.dtype}, expected floating-point numbers.")
        if not np.isfinite(t).all():
            raise CheckpointError(f"{path}: weight {name} holds NaN or infinite values; the model is broken. Retrain it.")
        weights[name] = t.astype(np.float32)
    check_running_variances(path, weights)
    return weights, meta


# --- the predictor ------------------------------------------------------------------------


class DigitHead:
    """A fitted digit/non-digit test (``recognition.fit_digit_head``), as a checkpoint's metadata
    stores it under ``recognition.digit_head`` (checked by ``metadata._check_digit_head``).

    Two kinds. The linear head (``kind`` absent or ``"linear"``, the first one): the score
    ``energy_weight`` · :func:`digit_energy` (logits) + ``weights`` · features + ``bias``, where
    the features are the output layer's inputs. The small network (``kind`` ``"mlp"``): one
    hidden layer of ReLUs on the logits and the pooled activations (:func:`pooled_activations`)
    of the same forward pass, ``energy_weight`` · energy + ``out_weights`` · relu(``hidden_weights``
    · inputs + ``hidden_bias``) + ``out_bias``. A digit when the score reaches ``threshold``."""

    def __init__(self, weights, bias: float, energy_weight: float, threshold: float, hidden=None):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias, self.energy_weight, self.threshold = float(bias), float(energy_weight), float(threshold)
        # (hidden_weights (H, inputs), hidden_bias (H,)) for the small network, None for the linear head
        self.hidden = None if hidden is None else (np.asarray(hidden[0], dtype=np.float64), np.asarray(hidden[1], dtype=np.float64))
        if self.hidden is None:
            self.weights = self.weights.reshape(-1)

    @classmethod
    def of(cls, stored: dict | None) -> "DigitHead | None":
        if stored is None:
            return None
        if stored.get("kind", "linear") == "mlp":
            return cls(
                stored["out_weights"],
                stored["out_bias"],
                stored["energy_weight"],
                stored["threshold"],
                (stored["hidden_weights"], stored["hidden_bias"]),
            )
        return cls(stored["weights"], stored["bias"], stored["energy_weight"], stored["threshold"])

    @property
    def uses_pooled(self) -> bool:
        """Whether it reads the logits and pooled activations (the small network) rather than
        the output layer's inputs (the linear head)."""
        return self.hidden is not None

    def inputs(self, logits: np.ndarray, pooled: np.ndarray) -> np.ndarray:
        """What the small network reads: the logits and the pooled activations side by side, float64 ``(N, D)``."""
        logits = np.asarray(logits, dtype=np.float64)
        return np.concatenate([logits, np.asarray(pooled, dtype=np.float64).reshape(len(logits), -1)], axis=1)

    def scores(self, features: np.ndarray | None, logits: np.ndarray, pooled: np.ndarray | None = None) -> np.ndarray:
        """The score of each row, float64 ``(N,)``: higher is more like a digit. ``features``:
        the output layer's inputs (the linear head); ``pooled``: :func:`pooled_activations` of
        the same pass (the small network)."""
        if not len(logits):
            return np.zeros(0)
        if self.hidden is not None:
            if pooled is None:
                raise ValueError("this digit head needs the pooled activations of the same forward pass")
            x = self.inputs(logits, pooled)
            w1, b1 = self.hidden
            if x.shape[1] != w1.shape[1]:
                raise ValueError(f"the digit head reads {w1.shape[1]} values, got {x.shape[1]}")
            score = np.maximum(x @ w1.T + b1, 0) @ self.weights + self.bias
        else:
            if features is None:
                raise ValueError("this model's digit head needs the output layer's inputs (features) of the same forward pass")
            f = np.asarray(features, dtype=np.float64).reshape(len(logits), -1)
            if f.shape[1] != len(self.weights):
                raise ValueError(f"the digit head weighs {len(self.weights)} features, got {f.shape[1]}")
            score = f @ self.weights + self.bias
        if self.energy_weight:
            score = score + self.energy_weight * digit_energy(logits)
        return score


def pooled_activations(maps: list[np.ndarray]) -> np.ndarray:
    """Each channel's mean and maximum over the image of each feature map ``(N, C, H, W)`` in
    ``maps`` (the outputs of the ReLUs before the output layer, in order): float64 ``(N, Σ 2C)``,
    a map's means then its maxima. What the small digit head reads beside the logits: whether
    any detector of strokes, corners or loops fired strongly anywhere, which the output layer's
    inputs (pooled to 4×4) blur."""
    parts = []
    for m in maps:
        m = np.asarray(m, dtype=np.float64)
        parts += [m.mean(axis=(2, 3)), m.max(axis=(2, 3))]
    n = len(maps[0]) if maps else 0
    return np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))


class PredictorBase:
    """What the torch :class:`~mnist_desktop.model.inference.Predictor` and the numpy
    :class:`NumpyPredictor` share: what they read from a checkpoint's metadata, their
    description, the normalisation of the input and the output's probabilities."""

    def __init__(self, meta: dict):
        self.meta = meta
        self.arch: str = meta["architecture"]
        self.task: str = meta["task"]
        self.classes: list[int] = list(meta["classes"])
        self.metrics: dict = dict(meta.get("metrics", {}))
        # What the app says about the file as it reads it (a stored figure it ignores, and why).
        self.notes: list[str] = []
        accuracy, note = test_accuracy_of(self.metrics)
        if accuracy is None:
            self.metrics.pop("test_accuracy", None)  # shown nowhere: the file's claim stays in meta
        else:
            self.metrics["test_accuracy"] = accuracy
        if note is not None:
            self.notes.append(note)
        self._mean = float(meta["normalization"]["mean"])
        self._std = float(meta["normalization"]["std"])
        self._sigmoid = meta["output"] == "sigmoid"
        recognition = meta.get("recognition") or {}
        # Probabilities are softmax(logits / temperature): temperature scaling, fitted on held-out
        # digits so that "90 % sure" is right about 90 % of the time (``recognition.fit_temperature``).
        self.temperature = float(recognition.get("temperature", DEFAULT_TEMPERATURE))
        # The rule of checkpoints calibrated before the energy threshold: a drawing is a digit
        # when the top probability reaches this (``recognition.calibrate_recognizer``).
        self.digit_threshold = float(recognition.get("digit_threshold", DEFAULT_DIGIT_THRESHOLD))
        # A drawing is a digit when the energy of its logits reaches this (``digit_energy``);
        # None for a checkpoint without it, which keeps the top-probability rule.
        energy = recognition.get("energy_threshold")
        self.energy_threshold: float | None = None if energy is None else float(energy)
        # A digit head fitted on the model's frozen features (``recognition.fit_digit_head``):
        # when the checkpoint carries one, it is the rule; None otherwise.
        self.digit_head: DigitHead | None = DigitHead.of(recognition.get("digit_head"))

    @property
    def digit_rule(self) -> str:
        """Which test :meth:`is_digit` applies, in words."""
        if self.digit_head is not None and not self._sigmoid:
            h = self.digit_head
            if h.uses_pooled:
                return (
                    f"digit head: {h.energy_weight:g} × energy + a network of {len(h.weights)} ReLUs "
                    f"on the logits and pooled activations ≥ {h.threshold:.3f}"
                )
            return f"digit head: {h.energy_weight:g} × energy + weights · features + bias ≥ {h.threshold:.3f}"
        if self.energy_threshold is not None and not self._sigmoid:
            return f"energy (log-sum-exp of the logits) ≥ {self.energy_threshold:.3f}"
        return f"top probability ≥ {self.digit_threshold:.3f}"

    def digit_of(
        self, logits: np.ndarray, probabilities: np.ndarray, features: np.ndarray | None = None, pooled: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`is_digit`'s answer from a forward pass already made: the output layer's
        ``logits`` ``(N, outputs)``, the probabilities ``(N, classes)`` made from them and, for
        a checkpoint with a digit head, the output layer's inputs ``features`` ``(N, D)`` (a
        linear head) or the ``pooled`` activations (:func:`pooled_activations`; the small
        network) of the same pass. bool ``(N,)``."""
        if self.digit_head is not None and not self._sigmoid:
            return self.digit_head.scores(features, logits, pooled) >= self.digit_head.threshold
        if self.energy_threshold is not None and not self._sigmoid:
            return digit_energy(logits) >= self.energy_threshold
        return np.asarray(probabilities).max(axis=1) >= self.digit_threshold

    def is_digit(self, x28: np.ndarray) -> bool:
        """Whether ``x28`` (as ``to_mnist`` returns it) looks like a digit to this model. With a
        digit head in the checkpoint (:class:`DigitHead`): its score, the energy of the logits
        plus the head's log-odds (a small network on the logits and the pooled activations of
        the conv ReLUs, or the first, linear head on the output layer's inputs), reaches its
        threshold. Without one: the energy of the logits (:func:`digit_energy`) reaches
        :attr:`energy_threshold`, or for a checkpoint without that either, the top probability
        reaches :attr:`digit_threshold`. A letter, a symbol or a scribble: False.
        The same forward pass as :meth:`predict` (:meth:`predict_checked` gives both)."""
        return self.predict_checked(x28)[1]

    def is_digit_batch(self, images: np.ndarray) -> np.ndarray:
        """:meth:`is_digit` of many images (as ``predict_batch`` takes them): bool ``(N,)``."""
        return self.predict_batch_checked(images)[1]

    def predict_checked(self, x28: np.ndarray) -> tuple[np.ndarray, bool]:
        """``(predict(x28), is_digit(x28))`` from one forward pass."""
        self.normalize(x28)  # checks the shape
        p, digit = self.predict_batch_checked(np.asarray(x28, dtype=np.float32)[None])
        return p[0], bool(digit[0])

    def predict_batch_checked(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(predict_batch(images), is_digit_batch(images))`` from one forward pass."""
        features, logits, pooled = self.forward_parts(images)
        p = self.probabilities_of(logits)
        return p, self.digit_of(logits, p, features, pooled)

    def features_and_logits(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The output layer's inputs ``(N, D)`` and its values ``(N, outputs)`` for ``images``
        (as ``predict_batch`` takes them), from one forward pass."""
        features, logits, _ = self.forward_parts(images)
        return features, logits

    def forward_parts(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a digit head can read, from one forward pass of ``images`` (as ``predict_batch``
        takes them): the output layer's inputs ``(N, D)``, its values ``(N, outputs)`` and the
        pooled activations of the ReLUs before it (:func:`pooled_activations`, ``(N, P)``)."""
        raise NotImplementedError

    def probabilities_of(self, logits: np.ndarray) -> np.ndarray:
        """The probabilities ``(N, classes)`` of the output layer's ``logits`` ``(N, outputs)``, float32."""
        z = np.asarray(logits, dtype=np.float64) / self.temperature
        if self._sigmoid:
            p = sigmoid(z.reshape(-1))
            return np.stack([1 - p, p], axis=1).astype(np.float32)
        return softmax(z).astype(np.float32)

    def logits_batch(self, images: np.ndarray) -> np.ndarray:
        """The output layer's values ``(N, outputs)`` for ``images`` (as ``predict_batch`` takes them)."""
        raise NotImplementedError

    def describe(self, accuracy: bool = True) -> str:
        """The model's architecture and task, then (``accuracy``) its MNIST test accuracy."""
        text = f"{get_architecture_spec(self.arch).label} · {TASKS[self.task].label}"
        acc = self.metrics.get("test_accuracy") if accuracy else None
        return text + (f" · test accuracy {100 * acc:.2f} %" if acc is not None else "")  # checked in __init__

    def normalize(self, x28: np.ndarray) -> np.ndarray:
        """What the model is fed: ``(x - mean) / std`` of a float32 (28, 28) image in [0, 1].
        ValueError for another shape, values that are not real numbers, or values that are not
        finite once normalised (NaN, infinity, or beyond float32): they made NaN probabilities."""
        x = np.asarray(x28)
        if x.dtype.kind not in "biuf":
            raise ValueError(f"expected a (28, 28) image of numbers from 0 to 1 as to_mnist returns, got {x.dtype} values")
        if x.shape != (28, 28):
            raise ValueError(f"expected a (28, 28) image as to_mnist returns, got shape {x.shape}")
        return finite_input(x, self._mean, self._std)

    def output_probabilities(self, output: np.ndarray) -> np.ndarray:
        """The probabilities over :attr:`classes` that the output layer's ``output`` (one
        input's logits, as ``activations`` returns the last layer's) stands for: softmax, or
        for a one-unit two-class model sigmoid as (1 - p, p). float32."""
        z = np.asarray(output, dtype=np.float64).reshape(1, -1) / self.temperature
        if self._sigmoid:
            p = sigmoid(z.reshape(-1))
            return np.stack([1 - p, p], axis=1)[0].astype(np.float32)
        return softmax(z)[0].astype(np.float32)


class NumpyPredictor(PredictorBase):
    """The read-only part of :class:`inference.Predictor` (predict, activations, weights), in numpy.

    Computes in float64 and returns float32, like the torch predictor: the two agree to
    about 1e-7, far below what the prediction bars or the percentages show.
    """

    def __init__(self, weights: dict[str, np.ndarray], meta: dict):
        super().__init__(meta)
        self.weights = {k: v.astype(np.float64) for k, v in weights.items()}
        spec_layers = get_architecture_spec(self.arch).layers(_n_out(meta), meta.get("arch_config"))
        self._layers = [(layer.name, numpy_layer(layer, self.weights)) for layer in spec_layers]
        self._kinds = {layer.name: layer.kind for layer in spec_layers}
        # The output layer: the last linear one (its input is what a digit head weighs).
        self._last_linear = max((i for i, layer in enumerate(spec_layers) if layer.kind == "linear"), default=len(spec_layers))

    @classmethod
    def default(cls) -> "NumpyPredictor":
        return cls.load(DEFAULT_MODEL)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NumpyPredictor":
        predictor = cls(*load_weights(path))
        # Finite weights can still overflow into NaN answers: refused here as the torch loader
        # refuses them (it computes in float32, where this float64 pass must fit too).
        out = predictor._forward(probe_images(predictor.meta).astype(np.float64))
        if not (np.isfinite(out).all() and np.abs(out).max() <= np.finfo(np.float32).max):
            raise unanswerable(path)
        return predictor

    def _forward(self, x: np.ndarray, record: OrderedDict | None = None, batch: bool = False) -> np.ndarray:
        """The output of batch ``x``; each layer's output in ``record`` (float32; the first
        image's only, unless ``batch``)."""
        for name, layer in self._layers:
            x = layer(x)
            if record is not None:
                record[name] = (x if batch else x[0]).astype(np.float32)
        return x

    def predict(self, x28: np.ndarray) -> np.ndarray:
        """Probabilities over :attr:`classes`, float32."""
        x = self.normalize(x28).astype(np.float64).reshape(1, 1, 28, 28)
        return self.probabilities_of(self._forward(x))[0]

    def _forward_split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(the output layer's inputs, flattened, the outputs, the pooled activations of the
        ReLUs before it)`` of one forward pass."""
        features, maps = x, []
        for i, (name, layer) in enumerate(self._layers):
            if i == self._last_linear:
                features = x
            x = layer(x)
            if i < self._last_linear and self._kinds[name] == "relu" and x.ndim == 4:
                maps.append(x)
        return features.reshape(len(features), -1), x, pooled_activations(maps)

    def _normalized(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images)
        if x.dtype == np.uint8:
            x = (x.astype(np.float32) / 255 - self._mean) / self._std
        else:
            x = finite_input(x, self._mean, self._std)
        return x.astype(np.float64).reshape(-1, 1, 28, 28)

    def logits_batch(self, images: np.ndarray) -> np.ndarray:
        """The output layer's values ``(N, outputs)``, float64: uint8 ``(N, 28, 28)`` or floats in [0, 1]."""
        x = self._normalized(images)
        if not len(x):  # no images: no rows, as many columns as ever (a blank's, sliced away)
            return self._forward(np.zeros((1, 1, 28, 28)))[:0]
        return self._forward(x)

    def forward_parts(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The output layer's inputs ``(N, D)``, its values ``(N, outputs)`` and the pooled
        activations ``(N, P)``, float64, from one pass."""
        x = self._normalized(images)
        if not len(x):
            return tuple(part[:0] for part in self._forward_split(np.zeros((1, 1, 28, 28))))
        return self._forward_split(x)

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, len(classes))``: uint8 ``(N, 28, 28)`` or floats in [0, 1]."""
        return self.probabilities_of(self.logits_batch(images))

    def activations(self, x28: np.ndarray) -> "OrderedDict[str, np.ndarray]":
        """Each layer's output for ``x28`` in order (batch dimension removed)."""
        outputs: OrderedDict[str, np.ndarray] = OrderedDict()
        self._forward(self.normalize(x28).astype(np.float64).reshape(1, 1, 28, 28), outputs)
        return outputs

    def activations_batch(self, images: np.ndarray) -> "OrderedDict[str, np.ndarray]":
        """Each layer's outputs ``(N, ...)`` for many images (uint8 ``(N, 28, 28)`` or floats in
        [0, 1]) in order, float32, from one forward pass."""
        outputs: OrderedDict[str, np.ndarray] = OrderedDict()
        self._forward(self._normalized(images), outputs, batch=True)
        return outputs

    def layer_weights(self) -> "OrderedDict[str, np.ndarray]":
        """The learned weights worth looking at: conv filters, dense weights, class means."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, _ in self._layers:
            shown = SHOWN_WEIGHT.get(self._kinds[name])
            if shown is not None:
                out[name] = self.weights[f"{name}.{shown}"].astype(np.float32)
        return out
