"""The kinds of layer an architecture is made of, as data: no torch, no numpy.

An architecture (``config.ArchitectureSpec``) is a list of :class:`Layer`: a name (the
state dict's prefix, the activations panel's row), a kind and the kind's sizes. The torch
builder (``architectures.TORCH_LAYERS``) and the numpy forward pass
(``numpy_forward.NUMPY_LAYERS``) each implement every kind listed here, so an architecture
made of these kinds has its torch model and its numpy twin by construction; a new kind needs
all three (``tests/test_numpy_forward.py`` fails otherwise).

What each kind says here, the parameters it holds and their shapes, is what a checkpoint's
weights are checked against before a tensor is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Shapes = dict[str, tuple[int, ...]]

# Pixel similarity's logits are minus the mean absolute distance to each class's mean image
# times this, so that softmax turns them into usable probabilities. Not stored in checkpoints.
PIXEL_SIMILARITY_SCALE = 50.0


def _batchnorm(channels: int) -> Shapes:
    shapes: Shapes = {k: (channels,) for k in ("weight", "bias", "running_mean", "running_var")}
    shapes["num_batches_tracked"] = ()
    return shapes


# Each kind's parameters (name → shape) from its sizes, in the order the sizes are given:
#   similarity (classes)        the mean image of each class; predicts the nearest (28×28 input)
#   flatten ()                  (N, ...) → (N, features)
#   linear (in, out)            x @ weight.T + bias
#   conv (in, out, kernel)      a kernel×kernel convolution, stride 1, no padding
#   batchnorm (channels)        per-channel batch norm (2-D), with running statistics
#   relu ()                     max(x, 0)
#   maxpool (size)              the largest value of each size×size block
PARAMETERS: dict[str, Callable[..., Shapes]] = {
    "similarity": lambda classes: {"means": (classes, 28, 28)},
    "flatten": lambda: {},
    "linear": lambda n_in, n_out: {"weight": (n_out, n_in), "bias": (n_out,)},
    "conv": lambda c_in, c_out, kernel: {"weight": (c_out, c_in, kernel, kernel), "bias": (c_out,)},
    "batchnorm": _batchnorm,
    "relu": lambda: {},
    "maxpool": lambda size: {},
}
LAYER_KINDS = tuple(PARAMETERS)
# The parameter worth looking at in each kind that has one (the weights panel, ``layer_weights``).
SHOWN_WEIGHT = {"similarity": "means", "linear": "weight", "conv": "weight"}


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str
    sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in PARAMETERS:
            raise ValueError(f"unknown layer kind {self.kind!r}; choose one of: {', '.join(LAYER_KINDS)}")

    def parameters(self) -> Shapes:
        """The state dict's names and shapes of this layer's parameters and buffers."""
        return {f"{self.name}.{k}": shape for k, shape in PARAMETERS[self.kind](*self.sizes).items()}


def parameter_shapes(layers: tuple[Layer, ...] | list[Layer]) -> Shapes:
    """What the state dict of a model made of ``layers`` holds: every name and its shape."""
    shapes: Shapes = {}
    for layer in layers:
        shapes.update(layer.parameters())
    return shapes
