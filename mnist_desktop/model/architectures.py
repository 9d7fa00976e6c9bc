"""The models a learner meets in order: pixel similarity, a linear model, a small net, a CNN.

Every architecture is an ``nn.Sequential`` of named layers, so forward hooks give the
activations layer by layer, and is rebuilt from ``(name, config)`` alone — that pair is
what a checkpoint stores next to the weights.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# Upper bounds of the sizes a model may have: far above anything useful for 28×28 digits,
# far below what would swamp a desktop (an 8192-wide MLP is 26 MB of weights; two 512-channel
# convolutions are 26 MB too).
MAX_HIDDEN = 8192
MAX_CHANNELS = 512


class PixelSimilarity(nn.Module):
    """The chapter's first try: the mean image of each class; predict the nearest mean.

    The output is the negative mean absolute distance to each class mean, scaled so that
    softmax turns it into usable probabilities. "Training" is computing the means.
    """

    def __init__(self, n_classes: int, scale: float = 50.0):
        super().__init__()
        self.register_buffer("means", torch.zeros(n_classes, 28, 28))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distance = (x.reshape(-1, 1, 28, 28) - self.means).abs().mean(dim=(-1, -2))
        return -self.scale * distance

    @torch.no_grad()
    def fit(self, images: torch.Tensor, targets: torch.Tensor) -> None:
        for k in range(self.means.shape[0]):
            self.means[k] = images[targets == k].reshape(-1, 28, 28).mean(0)


@dataclass(frozen=True)
class Architecture:
    name: str
    label: str
    description: str
    build: Callable[..., nn.Module]
    # Pixel statistics the model's input is normalised with (mean, std).
    normalization: tuple[float, float] = (MNIST_MEAN, MNIST_STD)
    trainable: bool = True
    # The settings ``build`` takes, each with its allowed range (inclusive). A checkpoint's
    # config is checked against these before anything is built.
    config_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    # How the default training recipe (``TrainConfig()``) changes for this model: the
    # ``TrainConfig`` fields to set, for a two-class task (True) or all ten digits (False).
    recipe: Callable[[bool], dict] = lambda binary: {}


def _pixel_similarity(n_out: int, **_: object) -> nn.Module:
    return nn.Sequential(OrderedDict(similarity=PixelSimilarity(n_out)))


def _linear(n_out: int, **_: object) -> nn.Module:
    return nn.Sequential(OrderedDict(flatten=nn.Flatten(), fc=nn.Linear(784, n_out)))


def _mlp(n_out: int, hidden: int = 30, **_: object) -> nn.Module:
    return nn.Sequential(
        OrderedDict(
            flatten=nn.Flatten(),
            fc1=nn.Linear(784, hidden),
            relu1=nn.ReLU(),
            fc2=nn.Linear(hidden, n_out),
        )
    )


def _cnn(n_out: int, channels1: int = 16, channels2: int = 32, **_: object) -> nn.Module:
    # Two 5×5 convolutions without padding: 28 → 24 → 12 → 8 → 4. Small enough to train
    # to 99 % test accuracy in one epoch on two CPU cores, big enough to look inside.
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, channels1, 5),
            bn1=nn.BatchNorm2d(channels1),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(channels1, channels2, 5),
            bn2=nn.BatchNorm2d(channels2),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc=nn.Linear(channels2 * 16, n_out),
        )
    )


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


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "pixel-similarity",
            "Pixel similarity",
            "The mean image of each class; a digit gets the class whose mean is nearest (mean absolute difference). No SGD.",
            _pixel_similarity,
            normalization=(0.0, 1.0),
            trainable=False,
            recipe=lambda binary: dict(epochs=1),
        ),
        Architecture(
            "linear", "Linear", "One weight per pixel and class: 784 → classes. Its weights are templates.", _linear, recipe=_linear_recipe
        ),
        Architecture(
            "mlp",
            "MLP",
            "A small neural net: 784 → hidden → ReLU → classes (the chapter's simple_net).",
            _mlp,
            config_ranges={"hidden": (1, MAX_HIDDEN)},
            recipe=_mlp_recipe,
        ),
        Architecture(
            "cnn",
            "CNN",
            "Two convolutions with batch norm, ReLU and max-pooling, then a linear layer.",
            _cnn,
            config_ranges={"channels1": (1, MAX_CHANNELS), "channels2": (1, MAX_CHANNELS)},
            recipe=_cnn_recipe,
        ),
    )
}


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of: {', '.join(ARCHITECTURES)}") from None


def check_config(name: str, config: object) -> dict[str, int]:
    """``config`` as architecture ``name`` takes it, or ValueError: known keys, integers in range."""
    ranges = get_architecture(name).config_ranges
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


def build_model(name: str, n_out: int, **config: object) -> nn.Module:
    """A fresh model of architecture ``name`` with ``n_out`` outputs (config: e.g. ``hidden``).

    The config is checked first (ValueError): an MLP 10**8 wide would take 300 GB, and on
    Linux the allocation may succeed and the kernel kill the process while it is filled.
    """
    return get_architecture(name).build(n_out, **check_config(name, config))
