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
from .numpy_forward import NOT_FINITE, PredictorBase, finite_input
from .paths import RESOURCES

DEFAULT_MODEL = RESOURCES / "models" / "default.safetensors"
# Images a forward pass over many: a layer's input and output are held together, and the bundled
# CNN's first convolution makes 100 KB an image (2,000 at a time raised the window's peak by
# 290 MB; 500, by 75 MB, no slower).
BATCH = 500


class Predictor(PredictorBase):
    """A model ready to classify 28×28 images as ``to_mnist`` returns them."""

    def __init__(self, model: nn.Module, meta: dict):
        super().__init__(meta)
        self.model = model.cpu().eval()

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
        out = out / self.temperature
        if not torch.isfinite(out).all():  # finite pixels too large for float32's sums (5e37): NaN probabilities
            raise ValueError(NOT_FINITE)
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

    def _forward_split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(the output layer's inputs, flattened, the outputs, the pooled activations of the
        ReLUs before it)`` of one forward pass. The output layer is the model's last
        ``nn.Linear``: its input is what a linear digit head weighs; the pooled activations
        (each channel's mean and maximum, as ``numpy_forward.pooled_activations``) are what the
        small one reads beside the logits."""
        if not isinstance(self.model, nn.Sequential):  # every architecture is one; anything else: no features
            out = self.model(x)
            return out.new_zeros((len(out), 0)), out, out.new_zeros((len(out), 0))
        children = list(self.model.children())
        last = max((i for i, m in enumerate(children) if isinstance(m, nn.Linear)), default=len(children))
        pooled = []
        for m in children[:last]:
            x = m(x)
            if isinstance(m, nn.ReLU) and x.dim() == 4:
                pooled += [x.mean(dim=(2, 3)), x.amax(dim=(2, 3))]
        features = x
        for m in children[last:]:
            x = m(x)
        pooled_values = torch.cat(pooled, dim=1) if pooled else x.new_zeros((len(x), 0))
        return features.reshape(len(features), -1), x, pooled_values

    @torch.inference_mode()
    def predict_checked(self, x28: np.ndarray) -> tuple[np.ndarray, bool]:
        """``(predict(x28), is_digit(x28))`` from one forward pass."""
        features, out, pooled = self._forward_split(self._input(x28))
        p = self._probabilities(out)
        return p, bool(self.digit_of(out.numpy(), p[None], features.numpy(), pooled.numpy())[0])

    def _batch_input(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Many images (uint8 ``(N, 28, 28)`` or floats in [0, 1]) as the model reads them: ``(N, 1, 28, 28)``.
        ValueError for values that are not finite numbers once normalised (see ``finite_input``)."""
        if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
            x = images
        else:
            values = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
            if values.dtype != np.uint8:  # floats (or anything else): checked, a NaN made NaN probabilities
                return torch.from_numpy(finite_input(values, self._mean, self._std)).reshape(-1, 1, 28, 28)
            # torch refuses a view with a negative stride, and warns on a read-only array (the training set's)
            x = torch.from_numpy(values.copy() if not values.flags.writeable or not values.flags.c_contiguous else values)
        return ((x.float().div(255) - self._mean) / self._std).reshape(-1, 1, 28, 28)

    @torch.inference_mode()
    def _logits(self, images: np.ndarray | torch.Tensor, batch_size: int = BATCH) -> torch.Tensor:
        x = self._batch_input(images)
        if not len(x):  # no images: no rows, as many columns as ever (a blank's, sliced away)
            return self.model(torch.zeros(1, 1, 28, 28))[:0]
        return torch.cat([self.model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    def logits_batch(self, images: np.ndarray | torch.Tensor, batch_size: int = BATCH) -> np.ndarray:
        """The output layer's values ``(N, outputs)``, float32: uint8 ``(N, 28, 28)`` or floats in [0, 1]."""
        return self._logits(images, batch_size).numpy()

    @torch.inference_mode()
    def predict_batch(self, images: np.ndarray | torch.Tensor, batch_size: int = BATCH) -> np.ndarray:
        """Probabilities ``(N, len(classes))`` for many images: uint8 ``(N, 28, 28)`` or floats in [0, 1]."""
        return self._probabilities(self._logits(images, batch_size), batched=True)

    @torch.inference_mode()
    def forward_parts(self, images: np.ndarray | torch.Tensor, batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The output layer's inputs ``(N, D)``, its values ``(N, outputs)`` and the pooled
        activations of the ReLUs before it ``(N, P)``, float32, from one forward pass: uint8
        ``(N, 28, 28)`` or floats in [0, 1]."""
        x = self._batch_input(images)
        if not len(x):
            return tuple(part[:0].numpy() for part in self._forward_split(torch.zeros(1, 1, 28, 28)))
        parts = [self._forward_split(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return tuple(torch.cat([part[k] for part in parts]).numpy() for k in range(3))

    def features_and_logits(self, images: np.ndarray | torch.Tensor, batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
        """The output layer's inputs ``(N, D)`` and its values ``(N, outputs)``, float32, from one
        forward pass: uint8 ``(N, 28, 28)`` or floats in [0, 1]."""
        features, logits, _ = self.forward_parts(images, batch_size)
        return features, logits

    def predict_batch_checked(self, images: np.ndarray | torch.Tensor, batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
        """``(predict_batch(images), is_digit_batch(images))`` from one forward pass."""
        features, logits, pooled = self.forward_parts(images, batch_size)
        p = self._probabilities(torch.from_numpy(logits), batched=True)
        return p, self.digit_of(logits, p, features, pooled)

    def _layer_outputs(self, x: torch.Tensor, until: str | None = None) -> "OrderedDict[str, torch.Tensor]":
        """Each named layer's output for the batch ``x``, in order, up to layer ``until`` (default:
        all). The layers are run one by one (every architecture is an ``nn.Sequential``), not
        watched with forward hooks: a hook on a shared layer also fires for another thread's pass
        over the same model (the nearest digits' build, an evaluation) and put its batch in this
        one's place."""
        outputs: OrderedDict[str, torch.Tensor] = OrderedDict()
        if isinstance(self.model, nn.Sequential):
            for name, module in self.model.named_children():
                x = module(x)
                outputs[name] = x
                if name == until:
                    break
            return outputs
        outputs["output"] = self.model(x)  # not a Sequential: only what comes out
        return outputs

    @torch.inference_mode()
    def activations(self, x28: np.ndarray) -> "OrderedDict[str, np.ndarray]":
        """Each layer's output for ``x28`` in order (batch dimension removed)."""
        return OrderedDict((name, out[0].float().numpy().copy()) for name, out in self._layer_outputs(self._input(x28)).items())

    @torch.inference_mode()
    def activations_batch(self, images: np.ndarray | torch.Tensor) -> "OrderedDict[str, np.ndarray]":
        """Each layer's outputs ``(N, ...)`` for many images (uint8 ``(N, 28, 28)`` or floats in
        [0, 1]) in order, float32, from one forward pass (16 images: one pass instead of 16)."""
        return OrderedDict((name, out.float().numpy().copy()) for name, out in self._layer_outputs(self._batch_input(images)).items())

    def layer_weights(self) -> "OrderedDict[str, np.ndarray]":
        """The learned weights worth looking at: conv filters, dense weights, class means."""
        weights: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, module in self.model.named_children():
            if isinstance(module, PixelSimilarity):
                weights[name] = module.means.detach().numpy().copy()
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                weights[name] = module.weight.detach().numpy().copy()
        return weights

    # --- what the model looks at (the chapter-4 lab) ----------------------------------------------
    def _class_direction(self, class_index: int | None, x28: np.ndarray) -> tuple[int, torch.Tensor]:
        """``(class_index, v)``: the class (default: the top one) and the weights ``v`` over the
        model's outputs of the score saliency explains, ``v · outputs``.

        Softmax: the class's logit minus the mean of all logits (what moves its probability
        against the others; the probability itself saturates near 1 and explains nothing).
        Sigmoid (one output, the second class's logit): that logit for the second class, minus it for the first.
        """
        n = len(self.classes)
        if class_index is None:
            class_index = int(np.argmax(self.predict(x28)))
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) or not 0 <= class_index < n:
            raise ValueError(f"class_index must be an index into the model's {n} classes (0 to {n - 1}), not {class_index!r}")
        if self._sigmoid:
            return int(class_index), torch.tensor([1.0 if class_index == 1 else -1.0])
        v = torch.full((n,), -1.0 / n)
        v[class_index] += 1.0
        return int(class_index), v

    def saliency(self, x28: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """How much each pixel of ``x28`` pushes the model towards class ``class_index`` (an index
        into :attr:`classes`; default: the top class): float32 ``(28, 28)``, positive where the
        pixel's ink pushes towards the class, negative where it pushes away, 0 where there is no ink.

        Gradient × input, against a black image: ∂score/∂x · x, with the score of
        :meth:`_class_direction`. Exact (it sums to the score's change from a black image) for
        the linear model, and computed exactly for pixel similarity: each pixel's change of
        distance to the class's mean, against the other classes' means. Deterministic.
        """
        xn = torch.from_numpy(self.normalize(x28))  # checks the shape
        x = torch.from_numpy(np.array(x28, dtype=np.float32))
        class_index, v = self._class_direction(class_index, x28)
        similarity = next((m for m in self.model.children() if isinstance(m, PixelSimilarity)), None)
        if similarity is not None:
            with torch.no_grad():
                # Output k is -scale · mean over pixels of |x − mean_k|: a sum over pixels, so each
                # pixel's share of the change from a black image is exact (integrated gradients
                # and gradient × input agree on it, up to the kink of |·|).
                black = (0.0 - self._mean) / self._std
                means = similarity.means
                share = -similarity.scale / 784 * ((xn - means).abs() - (black - means).abs())  # (outputs, 28, 28)
                return torch.tensordot(v, share, dims=1).numpy().astype(np.float32)
        x.requires_grad_(True)
        with torch.enable_grad():
            out = self.model(((x - self._mean) / self._std).reshape(1, 1, 28, 28))  # normalize() in torch, for the gradient
            (grad,) = torch.autograd.grad((out[0] * v).sum(), x)
        return (grad * x).detach().numpy().astype(np.float32)
