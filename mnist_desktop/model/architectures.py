"""The models a learner meets in order: pixel similarity, a linear model, a small net, a CNN.

Every architecture is an ``nn.Sequential`` of named layers, so its activations are read by
running the layers one by one (``Predictor._layer_outputs``), and is rebuilt from ``(name, config)`` alone — that pair is
what a checkpoint stores next to the weights. What the layers are is the architecture's
spec (``config.ARCHITECTURE_SPECS``); here each kind of layer (``layers.LAYER_KINDS``) gets
its torch module.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from .config import (  # noqa: F401 (re-exported)
    ARCHITECTURE_SPECS,
    MAX_CHANNELS,
    MAX_HIDDEN,
    MNIST_MEAN,
    MNIST_STD,
    ArchitectureSpec,
    check_config,
    get_architecture_spec,
)
from .layers import PIXEL_SIMILARITY_SCALE, Layer


class PixelSimilarity(nn.Module):
    """The chapter's first try: the mean image of each class; predict the nearest mean.

    The output is the negative mean absolute distance to each class mean, scaled so that
    softmax turns it into usable probabilities. "Training" is computing the means.
    """

    def __init__(self, n_classes: int, scale: float = PIXEL_SIMILARITY_SCALE):
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


# Each layer kind as a torch module, from its sizes (``layers.PARAMETERS`` says what they are).
TORCH_LAYERS: dict[str, Callable[..., nn.Module]] = {
    "similarity": PixelSimilarity,
    "flatten": nn.Flatten,
    "linear": nn.Linear,
    "conv": nn.Conv2d,
    "batchnorm": nn.BatchNorm2d,
    "relu": nn.ReLU,
    "maxpool": nn.MaxPool2d,
}

# One registry: an architecture is its spec. ``Architecture`` stays the name torch code uses.
Architecture = ArchitectureSpec
ARCHITECTURES: dict[str, ArchitectureSpec] = ARCHITECTURE_SPECS
get_architecture = get_architecture_spec


def torch_layer(layer: Layer) -> nn.Module:
    try:
        make = TORCH_LAYERS[layer.kind]
    except KeyError:
        raise ValueError(f"layer kind {layer.kind!r} has no torch module in architectures.TORCH_LAYERS") from None
    return make(*layer.sizes)


def build_model(name: str, n_out: int, **config: object) -> nn.Module:
    """A fresh model of architecture ``name`` with ``n_out`` outputs (config: e.g. ``hidden``).

    The config is checked first (ValueError): an MLP 10**8 wide would take 300 GB, and on
    Linux the allocation may succeed and the kernel kill the process while it is filled.
    """
    layers = get_architecture_spec(name).layers(n_out, config)
    return nn.Sequential(OrderedDict((layer.name, torch_layer(layer)) for layer in layers))
