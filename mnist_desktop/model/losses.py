"""Loss functions. ``accuracy`` is here on purpose: a learner can watch it fail to train.

Every loss takes the model's raw output and target class indices. A model trained with
``mnist-loss`` has one output (a logit for "second class", e.g. 7 in 3-vs-7); the others
have one output per class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import LOSS_SPECS


def mnist_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The chapter's loss: the distance of sigmoid(output) from the right answer."""
    p = output.reshape(-1).sigmoid()
    return torch.where(target == 1, 1 - p, p).mean()


def correct(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1.0 where the prediction is right, 0.0 where wrong, through ``sign`` — a step function.

    Autograd differentiates ``sign`` as 0 everywhere, which is exactly the point: a tiny
    change to a weight almost never flips a prediction, so the gradient is zero.
    """
    if output.shape[-1] == 1:
        margin = output.reshape(-1) * (2 * target - 1)
    else:
        right = output.gather(1, target[:, None]).squeeze(1)
        others = output.scatter(1, target[:, None], float("-inf")).amax(1)
        margin = right - others
    return (torch.sign(margin) + 1) / 2


def accuracy_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 1 - correct(output, target).mean()


@dataclass(frozen=True)
class Loss:
    name: str
    label: str
    description: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    binary_only: bool = False


_FUNCTIONS = {"cross-entropy": F.cross_entropy, "mnist-loss": mnist_loss, "accuracy": accuracy_loss}
# Names, labels and descriptions live torch-free in ``config``; here each gets its function.
LOSSES: dict[str, Loss] = {name: Loss(s.name, s.label, s.description, _FUNCTIONS[name], s.binary_only) for name, s in LOSS_SPECS.items()}


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}") from None
