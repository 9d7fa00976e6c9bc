"""Inference for the canvas: probabilities, activations and weights of one model on the CPU."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .architectures import PixelSimilarity
from .checkpoints import load_checkpoint, save_checkpoint
from .numpy_forward import PredictorBase
from .paths import RESOURCES

DEFAULT_MODEL = RESOURCES / "models" / "default.safetensors"


class Predictor(PredictorBase):
    """A model ready to classify 28×28 images as ``to_mnist`` returns them."""

    def __init__(self, model: nn.Module, meta: dict):
        self.model = model.cpu().eval()
        self.meta = meta
        self.arch: str = meta["architecture"]
        self.task: str = meta["task"]
        self.classes: list[int] = list(meta["classes"])
        self.metrics: dict = dict(meta.get("metrics", {}))
        self._mean = float(meta["normalization"]["mean"])
        self._std = float(meta["normalization"]["std"])
        self._sigmoid = meta["output"] == "sigmoid"

    @classmethod
    def default(cls) -> "Predictor":
        """The bundled model: a CNN trained on all ten digits by this project's ``train`` command."""
        return cls.load(DEFAULT_MODEL)

    @classmethod
    def load(cls, path: str | os.PathLike, expect_arch: str | None = None) -> "Predictor":
        return cls(*load_checkpoint(path, expect_arch))

    def save(self, path: str | os.PathLike) -> Path:
        return save_checkpoint(path, self.model, self.meta)

    def _input(self, x28: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.normalize(x28)).reshape(1, 1, 28, 28)

    def _probabilities(self, out: torch.Tensor, batched: bool = False) -> np.ndarray:
        if self._sigmoid:
            p = out.reshape(-1).sigmoid()
            probs = torch.stack([1 - p, p], dim=1)
        else:
            probs = out.softmax(dim=1)
        return probs.numpy() if batched else probs[0].numpy()

    @torch.inference_mode()
    def predict(self, x28: np.ndarray) -> np.ndarray:
        """Probabilities over :attr:`classes`, float32."""
        return self._probabilities(self.model(self._input(x28)))

    @torch.inference_mode()
    def predict_batch(self, images: np.ndarray | torch.Tensor, batch_size: int = 2000) -> np.ndarray:
        """Probabilities ``(N, len(classes))`` for many images: uint8 ``(N, 28, 28)`` or floats in [0, 1]."""
        x = torch.as_tensor(images)
        x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
        x = ((x - self._mean) / self._std).reshape(-1, 1, 28, 28)
        return np.concatenate([self._probabilities(self.model(x[i : i + batch_size]), batched=True) for i in range(0, len(x), batch_size)])

    @torch.inference_mode()
    def activations(self, x28: np.ndarray) -> "OrderedDict[str, np.ndarray]":
        """Each layer's output for ``x28`` in order (batch dimension removed), from forward hooks."""
        outputs: OrderedDict[str, np.ndarray] = OrderedDict()
        hooks = [
            module.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out[0].numpy().copy()))
            for name, module in self.model.named_children()
        ]
        try:
            self.model(self._input(x28))
        finally:
            for h in hooks:
                h.remove()
        return outputs

    def layer_weights(self) -> "OrderedDict[str, np.ndarray]":
        """The learned weights worth looking at: conv filters, dense weights, class means."""
        weights: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, module in self.model.named_children():
            if isinstance(module, PixelSimilarity):
                weights[name] = module.means.detach().numpy().copy()
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                weights[name] = module.weight.detach().numpy().copy()
        return weights
