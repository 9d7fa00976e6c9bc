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

from .config import ARCHITECTURE_SPECS, MAX_CHANNELS, MAX_HIDDEN, MNIST_MEAN, MNIST_STD, check_config  # noqa: F401 (re-exported)


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


_BUILDERS: dict[str, Callable[..., nn.Module]] = {"pixel-similarity": _pixel_similarity, "linear": _linear, "mlp": _mlp, "cnn": _cnn}
# The specs (names, labels, normalisation, config ranges) live torch-free in ``config``; here each gets its builder.
ARCHITECTURES: dict[str, Architecture] = {
    name: Architecture(s.name, s.label, s.description, _BUILDERS[name], s.normalization, s.trainable, s.config_ranges)
    for name, s in ARCHITECTURE_SPECS.items()
}


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of: {', '.join(ARCHITECTURES)}") from None


def build_model(name: str, n_out: int, **config: object) -> nn.Module:
    """A fresh model of architecture ``name`` with ``n_out`` outputs (config: e.g. ``hidden``).

    The config is checked first (ValueError): an MLP 10**8 wide would take 300 GB, and on
    Linux the allocation may succeed and the kernel kill the process while it is filled.
    """
    return get_architecture(name).build(n_out, **check_config(name, config))
