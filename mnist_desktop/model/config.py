"""What the engine offers, by name, without importing torch: tasks, architectures, losses, training settings.

The command line's choices and defaults, the window's menus and the numpy forward pass need
these names and numbers, not PyTorch: keeping them here lets ``mnist-desktop --help`` answer
and the window appear before ``import torch`` (seconds) has finished. The torch modules
(``architectures``, ``losses``, ``training``) build on these specs and re-export them.

Each architecture is one :class:`ArchitectureSpec` in :data:`ARCHITECTURE_SPECS`: its layers,
settings, normalisation, whether SGD trains it, its recipe. The torch model
(``architectures.build_model``) and the numpy twin (``numpy_forward.NumpyPredictor``) are
both built from its layers, whose kinds ``layers`` lists.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .layers import Layer, Shapes, parameter_shapes

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# Upper bounds of the sizes a model may have: far above anything useful for 28×28 digits,
# far below what would swamp a desktop (an 8192-wide MLP is 26 MB of weights; two 512-channel
# convolutions are 26 MB too).
MAX_HIDDEN = 8192
MAX_CHANNELS = 512
FLOAT32_MAX = 3.4028234663852886e38  # the weights are float32: a larger learning rate or weight decay overflows


@dataclass(frozen=True)
class Task:
    name: str
    label: str
    classes: tuple[int, ...]


TASKS = {
    "digits": Task("digits", "All ten digits", tuple(range(10))),
    "3v7": Task("3v7", "3 vs 7", (3, 7)),
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}") from None


@dataclass(frozen=True)
class Setting:
    """One integer an architecture is built with (a width, a number of channels): its default
    and its allowed range (inclusive). A checkpoint's config is checked against the range
    before anything is built; a setting a checkpoint leaves out takes the default."""

    default: int
    low: int
    high: int


@dataclass(frozen=True)
class ArchitectureSpec:
    """An architecture, the one place it is described: the torch builder
    (``architectures.build_model``), the numpy twin (``numpy_forward``), the checkpoint
    readers, the training recipes and the menus all read it."""

    name: str
    label: str
    description: str
    # ``make_layers(n_out, **settings)``: the layers in order (``layers.Layer``), every setting given.
    make_layers: Callable[..., tuple[Layer, ...]]
    # Pixel statistics the model's input is normalised with (mean, std).
    normalization: tuple[float, float] = (MNIST_MEAN, MNIST_STD)
    trainable: bool = True
    # The settings ``make_layers`` takes, by name. Each is also a ``TrainConfig`` field.
    settings: dict[str, Setting] = field(default_factory=dict)
    # How the default training recipe (``TrainConfig()``) changes for this model: the
    # ``TrainConfig`` fields to set, for a two-class task (True) or all ten digits (False).
    recipe: Callable[[bool], dict] = lambda binary: {}
    # ``(settings, n_out)`` of a plain state dict (name → shape) of this architecture, or None
    # when its names are not this architecture's: how an imported ``.pt`` file is recognised.
    infer: Callable[[Shapes], tuple[dict[str, int], int] | None] = lambda shapes: None

    @property
    def config_ranges(self) -> dict[str, tuple[int, int]]:
        return {k: (s.low, s.high) for k, s in self.settings.items()}

    def resolve(self, config: object = None) -> dict[str, int]:
        """Every setting: those of ``config`` (checked, ValueError) and the defaults of the rest."""
        checked = check_config(self.name, {} if config is None else config)
        return {k: checked.get(k, s.default) for k, s in self.settings.items()}

    def layers(self, n_out: int, config: object = None) -> tuple[Layer, ...]:
        """The layers of this architecture with ``n_out`` outputs and ``config`` (ValueError if out of range)."""
        return tuple(self.make_layers(n_out, **self.resolve(config)))

    def parameter_shapes(self, n_out: int, config: object = None) -> Shapes:
        """The state dict's names and shapes: what ``build_model(...).state_dict()`` holds."""
        return parameter_shapes(self.layers(n_out, config))

    # What a view asks of a kind of model, so that a new architecture needs no edit in the UI.
    @property
    def layer_kinds(self) -> tuple[str, ...]:
        """The kinds of its layers in order (``layers.LAYER_KINDS``), with the default settings
        (the kinds do not depend on the settings or the number of classes)."""
        return tuple(layer.kind for layer in self.layers(2))

    @property
    def has_conv_layers(self) -> bool:
        return "conv" in self.layer_kinds

    @property
    def flattens_input(self) -> bool:
        """Its first layer turns the 28×28 image into 784 numbers (``view(-1, 784)``)."""
        return self.layer_kinds[:1] == ("flatten",)

    @property
    def weights_are_templates(self) -> bool:
        """One weight per pixel and class and nothing else (flatten → linear): each class's
        weights are a 28×28 image."""
        return self.layer_kinds == ("flatten", "linear")

    @property
    def has_class_means(self) -> bool:
        """Its parameters are a mean image per class (a ``similarity`` layer), not SGD's weights."""
        return "similarity" in self.layer_kinds


def _pixel_similarity_layers(n_out: int) -> tuple[Layer, ...]:
    return (Layer("similarity", "similarity", (n_out,)),)


def _linear_layers(n_out: int) -> tuple[Layer, ...]:
    return (Layer("flatten", "flatten"), Layer("fc", "linear", (784, n_out)))


def _mlp_layers(n_out: int, hidden: int) -> tuple[Layer, ...]:
    return (
        Layer("flatten", "flatten"),
        Layer("fc1", "linear", (784, hidden)),
        Layer("relu1", "relu"),
        Layer("fc2", "linear", (hidden, n_out)),
    )


CNN_KERNEL = 5


def _cnn_layers(n_out: int, channels1: int, channels2: int) -> tuple[Layer, ...]:
    # Two 5×5 convolutions without padding: 28 → 24 → 12 → 8 → 4. Small enough to train
    # to 99 % test accuracy in one epoch on two CPU cores, big enough to look inside.
    side = ((28 - CNN_KERNEL + 1) // 2 - CNN_KERNEL + 1) // 2
    return (
        Layer("conv1", "conv", (1, channels1, CNN_KERNEL)),
        Layer("bn1", "batchnorm", (channels1,)),
        Layer("relu1", "relu"),
        Layer("pool1", "maxpool", (2,)),
        Layer("conv2", "conv", (channels1, channels2, CNN_KERNEL)),
        Layer("bn2", "batchnorm", (channels2,)),
        Layer("relu2", "relu"),
        Layer("pool2", "maxpool", (2,)),
        Layer("flatten", "flatten"),
        Layer("fc", "linear", (channels2 * side * side, n_out)),
    )


def _infer_pixel_similarity(shapes: Shapes):
    return ({}, shapes["similarity.means"][0]) if set(shapes) == {"similarity.means"} else None


def _infer_linear(shapes: Shapes):
    return ({}, shapes["fc.weight"][0]) if set(shapes) == {"fc.weight", "fc.bias"} else None


def _infer_mlp(shapes: Shapes):
    if set(shapes) != {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}:
        return None
    return {"hidden": shapes["fc1.weight"][0]}, shapes["fc2.weight"][0]


def _infer_cnn(shapes: Shapes):
    if not {"conv1.weight", "conv2.weight", "fc.weight"} <= set(shapes):
        return None  # a missing batch norm or bias is reported when the weights are checked
    return {"channels1": shapes["conv1.weight"][0], "channels2": shapes["conv2.weight"][0]}, shapes["fc.weight"][0]


def _linear_recipe(binary: bool) -> dict:
    if binary:  # the chapter: mnist_loss, plain SGD, lr 1
        return dict(loss="mnist-loss", lr=1.0, momentum=0.0, weight_decay=0.0, batch_size=256, epochs=3, schedule="constant")
    return dict(lr=0.05, weight_decay=0.0, batch_size=128, epochs=3)


def _mlp_recipe(binary: bool) -> dict:
    if binary:  # the chapter's simple_net: 784-30-1
        return dict(loss="mnist-loss", hidden=30, lr=0.5, momentum=0.0, weight_decay=0.0, batch_size=256, epochs=5, schedule="constant")
    return dict(hidden=128, lr=0.2, batch_size=128, epochs=3)


def _cnn_recipe(binary: bool) -> dict:
    return dict(lr=0.2, batch_size=128, epochs=1) if binary else {}  # all ten digits: the default recipe


ARCHITECTURE_SPECS: dict[str, ArchitectureSpec] = {
    a.name: a
    for a in (
        ArchitectureSpec(
            "pixel-similarity",
            "Pixel similarity",
            "The mean image of each class; a digit gets the class whose mean is nearest (mean absolute difference). No SGD.",
            _pixel_similarity_layers,
            normalization=(0.0, 1.0),
            trainable=False,
            recipe=lambda binary: dict(epochs=1),
            infer=_infer_pixel_similarity,
        ),
        ArchitectureSpec(
            "linear",
            "Linear",
            "One weight per pixel and class: 784 → classes. Its weights are templates.",
            _linear_layers,
            recipe=_linear_recipe,
            infer=_infer_linear,
        ),
        ArchitectureSpec(
            "mlp",
            "Small neural net (MLP)",
            "A small neural net: 784 → hidden → ReLU → classes (the chapter's simple_net).",
            _mlp_layers,
            settings={"hidden": Setting(30, 1, MAX_HIDDEN)},
            recipe=_mlp_recipe,
            infer=_infer_mlp,
        ),
        ArchitectureSpec(
            "cnn",
            "Convolutional net (CNN)",
            "Two convolutions with batch norm, ReLU and max-pooling, then a linear layer.",
            _cnn_layers,
            settings={"channels1": Setting(16, 1, MAX_CHANNELS), "channels2": Setting(32, 1, MAX_CHANNELS)},
            recipe=_cnn_recipe,
            infer=_infer_cnn,
        ),
    )
}


def get_architecture_spec(name: str) -> ArchitectureSpec:
    try:
        return ARCHITECTURE_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of: {', '.join(ARCHITECTURE_SPECS)}") from None


def check_config(name: str, config: object) -> dict[str, int]:
    """``config`` as architecture ``name`` takes it, or ValueError: known keys, integers in range."""
    ranges = get_architecture_spec(name).config_ranges
    if not isinstance(config, dict):
        raise ValueError(f"the architecture config must be a mapping, not {type(config).__name__}")
    unknown = sorted(set(config) - set(ranges))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))} for architecture {name!r}")
    for key, value in config.items():
        low, high = ranges[key]
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise ValueError(f"{key} must be an integer from {low} to {high}, not {value!r}")
    return dict(config)


@dataclass(frozen=True)
class LossSpec:
    """A loss as data: what ``losses.Loss`` is without its torch function."""

    name: str
    label: str
    description: str
    binary_only: bool = False


LOSS_SPECS: dict[str, LossSpec] = {
    l.name: l
    for l in (
        LossSpec("cross-entropy", "Cross-entropy", "Softmax, then the negative log of the right class's probability."),
        LossSpec(
            "mnist-loss",
            "MNIST loss (sigmoid distance)",
            "The chapter's loss for two classes: how far sigmoid(output) is from the right answer.",
            binary_only=True,
        ),
        LossSpec(
            "accuracy",
            "Accuracy (cannot learn)",
            "Accuracy only changes when a prediction flips, so its gradient is zero almost everywhere: the weights never move.",
        ),
    )
}


def get_loss_spec(name: str) -> LossSpec:
    try:
        return LOSS_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSS_SPECS)}") from None


SCHEDULES = ("onecycle", "constant")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    """Everything a training run depends on. The defaults are the default recipe."""

    task: str = "digits"
    arch: str = "cnn"
    loss: str = "cross-entropy"
    # The default recipe: one epoch at batch 64 (938 steps) reaches ≥ 99.0 % on seeds 0, 1, 2
    # in about a third of the time of two epochs at batch 128 (measured).
    lr: float = 0.15
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 64  # 0 = the full training set each step: plain gradient descent
    epochs: int = 1
    schedule: str = "onecycle"
    seed: int = 0
    device: str = "auto"
    hidden: int = ARCHITECTURE_SPECS["mlp"].settings["hidden"].default  # mlp only
    augment: bool = False  # random shifts of up to 2 pixels and thinner or fatter strokes
    # Handwriting as a pen makes it: slant, rotation, aspect, elastic wobble, stroke width, gaps.
    pen_augment: bool = False
    # Outlier exposure: this weight times the cross-entropy to the uniform distribution of
    # generated non-digits (letters, symbols, scribbles) added to every batch (0 = none).
    outliers: float = 0.0
    # Also learn from digits (and, with outliers, letters and symbols) written in 20 fonts that
    # no measured set uses (``resources/train/font_glyphs.npz``).
    font_glyphs: bool = False
    # What scans and photos do: smaller and off-centre, grey paper, shading, noise, stray lines,
    # bright edges, hollow strokes (``training.robust_augment``), each to this share of every
    # batch (0 = none).
    robust_augment: float = 0.0
    # This share of the training 1s and 7s redrawn the European way: a 1 with a flag (and often
    # a foot), a 7 with a bar across (``styles.european_digits``; 0 = none).
    european_digits: float = 0.0
    # With outliers: also two training digits side by side (or one and a part of another) as
    # non-digits, so that a piece of a number holding more than one digit reads as unsure.
    outlier_pairs: bool = False
    # cnn only: the first and second convolutions' channels
    channels1: int = ARCHITECTURE_SPECS["cnn"].settings["channels1"].default
    channels2: int = ARCHITECTURE_SPECS["cnn"].settings["channels2"].default
    log_every: int = 5  # report (and read the loss, a GPU sync) every N steps
    subset: int = 0  # train on the first N images of the task only (0 = all): small data, quick experiments

    def validate(self) -> None:
        """Raise ValueError with a message a person can act on."""
        task = get_task(self.task)
        get_architecture_spec(self.arch)
        loss = get_loss_spec(self.loss)
        if loss.binary_only and len(task.classes) != 2:
            raise ValueError(f"the {loss.label} needs two classes: use the 3v7 task or cross-entropy")
        # Types first: 1.5 epochs passed the range checks and failed in the trainer (TypeError);
        # "0.1" as a learning rate failed inside them.
        for name in ("batch_size", "epochs", "hidden", "log_every", "subset", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name.replace('_', ' ')} must be a whole number, not {value!r}")
        for name in ("lr", "momentum", "weight_decay", "outliers", "robust_augment", "european_digits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{'learning rate' if name == 'lr' else name.replace('_', ' ')} must be a number, not {value!r}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be from 0 to 2**63 - 1, not {self.seed}")
        checks = [
            (
                math.isfinite(self.lr) and 0 < self.lr <= FLOAT32_MAX,
                f"learning rate must be a positive number float32 can hold (at most 3.4e38), not {self.lr}",
            ),
            (0 <= self.momentum < 1, f"momentum must be in [0, 1), not {self.momentum}"),
            (
                0 <= self.weight_decay <= FLOAT32_MAX,
                f"weight decay must be a number ≥ 0 float32 can hold (at most 3.4e38), not {self.weight_decay}",
            ),
            (self.batch_size >= 0, f"batch size must be ≥ 1 (or 0 for the full batch), not {self.batch_size}"),
            (self.epochs >= 1, f"epochs must be ≥ 1, not {self.epochs}"),
            (self.hidden >= 1, f"hidden width must be ≥ 1, not {self.hidden}"),
            (self.log_every >= 1, f"log_every must be ≥ 1, not {self.log_every}"),
            (self.subset >= 0, f"subset must be ≥ 0 (0 = all images), not {self.subset}"),
            (math.isfinite(self.outliers) and self.outliers >= 0, f"the outlier weight must be ≥ 0, not {self.outliers}"),
            (
                math.isfinite(self.robust_augment) and 0 <= self.robust_augment <= 1,
                f"the robust augmentation's share must be in [0, 1], not {self.robust_augment}",
            ),
            (
                math.isfinite(self.european_digits) and 0 <= self.european_digits <= 1,
                f"the share of 1s and 7s to redraw must be in [0, 1], not {self.european_digits}",
            ),
            (not self.outlier_pairs or self.outliers > 0, "digit pairs are taught as outliers: give --outliers a weight above 0"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}"),
            (self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def arch_config(self) -> dict:
        """The settings the architecture is built with (its ``ArchitectureSpec.settings``, each a
        field here), checked against their ranges (ValueError): what a checkpoint stores."""
        return check_config(self.arch, {k: getattr(self, k) for k in get_architecture_spec(self.arch).settings})


def recommended_config(task: str = "digits", arch: str = "cnn") -> TrainConfig:
    """Sensible defaults for a task and architecture (every one reaches a good model quickly):
    the default recipe, changed as the architecture's registry entry recommends."""
    binary = len(get_task(task).classes) == 2
    return replace(TrainConfig(task=task, arch=arch), **get_architecture_spec(arch).recipe(binary))


def continue_config(predictor, base: TrainConfig | None = None, epochs: int = 1) -> TrainConfig:
    """Settings to train ``predictor`` for ``epochs`` more: its own architecture, task and loss
    (where it recorded them), the optimiser settings of ``base``."""
    base = base or recommended_config(predictor.task, predictor.arch)
    trained = predictor.meta.get("training") or {}
    loss = trained.get("loss") if trained.get("loss") in LOSS_SPECS else base.loss
    arch_config = predictor.meta.get("arch_config") or {}
    # A setting the checkpoint leaves out is the architecture's default: the model it was built as.
    settings = get_architecture_spec(predictor.arch).resolve(arch_config)
    return replace(base, arch=predictor.arch, task=predictor.task, loss=loss, epochs=epochs, **settings)
