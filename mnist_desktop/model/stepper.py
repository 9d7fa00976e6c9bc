"""SGD one phase at a time: the chapter's seven steps, each one something you can look at.

*init → predict → loss → gradient → step → repeat → stop.* :class:`Stepper` runs the same
training as :func:`~.training.train` (the same data, model, loss, batch order, ``SGD`` and
learning-rate schedule: with the same config, N batches here leave the same weights as N
batches there) but stops after every phase and hands back a :class:`StepState`: a frozen
snapshot of numpy copies, safe to send to another thread. No Qt here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from threading import Event

import numpy as np
import torch

from .architectures import build_model, get_architecture
from .config import TrainConfig
from .data import get_task
from .errors import DivergedError
from .losses import get_loss
from .training import (
    CHUNK,
    SGD,
    _diverged,
    batch_lr,
    exploded,
    make_predictor,
    prepare,
    random_shift,
    random_stroke,
    resolve_device,
    seeded,
)

# The chapter's seven steps, in order. "repeat" is not a state of its own: after a step the
# next advance predicts the next batch (or stops when the epochs are done).
SEVEN_STEPS = ("init", "predict", "loss", "gradient", "step", "repeat", "stop")
PHASES = ("init", "predict", "loss", "gradient", "step", "stop")


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A read-only C-contiguous numpy copy (a tensor the run goes on writing into is not shared)."""
    a = t.detach().cpu().contiguous().clone().numpy()
    a.flags.writeable = False  # states share these arrays: nobody may change them
    return a


@dataclass(frozen=True)
class StepState:
    """Where a :class:`Stepper` stands after one phase. Arrays are read-only numpy copies."""

    phase: str  # one of PHASES
    step: int  # batches done (SGD steps taken)
    epoch: int  # 1-based; 0 at init
    epochs: int
    batch: int  # 1-based within the epoch; 0 at init
    batches_per_epoch: int
    lr: float  # the learning rate of this batch's step (the schedule's)
    loss: float | None  # this batch's loss: None before the loss phase
    parameters: dict[str, np.ndarray]  # name → the parameter as it is now
    gradients: dict[str, np.ndarray] | None  # name → this batch's gradient: None before the gradient phase
    x: np.ndarray | None = None  # the batch as the model gets it: normalised float32 (B, 1, 28, 28)
    y: np.ndarray | None = None  # the batch's targets: class indices (B,)
    predictions: np.ndarray | None = None  # the model's raw outputs (B, outputs), once made
    parameters_before: dict[str, np.ndarray] | None = None  # at a step phase: the parameters the step started from
    classes: tuple[int, ...] = ()  # the digit each class index stands for
    train_counts: tuple[int, ...] = ()  # how many training images of each class the run steps through
    message: str = ""  # at stop: why (the epochs are done, or the loss diverged)
    diverged: bool = False

    @property
    def total_steps(self) -> int:
        return self.epochs * self.batches_per_epoch

    def predicted(self) -> np.ndarray | None:
        """The predicted class index of each image of the batch (None before predict)."""
        if self.predictions is None:
            return None
        p = self.predictions
        return (p[:, 0] > 0).astype(np.int64) if p.shape[1] == 1 else p.argmax(1)


@dataclass
class _Batch:
    """The batch in flight: what the phases so far have computed."""

    x: np.ndarray
    y: np.ndarray
    yt: torch.Tensor
    predictions: np.ndarray
    lr: float
    output: torch.Tensor | None = None  # with its autograd graph (a batch of at most CHUNK)
    loss_t: torch.Tensor | None = None
    hidden_loss: torch.Tensor | None = None  # a batch over CHUNK: computed chunk by chunk in predict
    loss: float | None = None
    gradients: dict[str, np.ndarray] | None = field(default=None)


class Stepper:
    """``train(config)``, one phase at a time: ``advance()`` → the next :class:`StepState`.

    A batch of more than ``CHUNK`` images goes through in chunks as in ``train`` (a
    whole-batch autograd graph would not fit): its loss and gradient are then computed with
    the predictions and shown at their own phases.
    """

    def __init__(self, config: TrainConfig, data_root=None):
        config = replace(config)
        config.validate()
        arch = get_architecture(config.arch)
        if not arch.trainable:
            raise ValueError(f"{arch.label} has no SGD to step through: choose the linear model, the MLP or the CNN.")
        self.config = config
        self.device = resolve_device(config.device)
        task = get_task(config.task)
        self.classes = tuple(task.classes)
        self.loss_fn = get_loss(config.loss).fn
        self.n_out = 1 if get_loss(config.loss).binary_only else len(task.classes)
        self.arch_config = config.arch_config()
        self.generator = seeded(config)  # as train: the weights first, then the batch order
        self.model = build_model(config.arch, self.n_out, **self.arch_config).to(self.device, memory_format=torch.channels_last)
        self.x_train, self.y_train = prepare(config.task, arch.normalization, self.device, "train", data_root, config.subset)
        self.train_counts = tuple(int(n) for n in torch.bincount(self.y_train.cpu(), minlength=len(self.classes)).tolist())
        self.names = [name for name, p in self.model.named_parameters() if p.requires_grad]
        self.opt = SGD([p for p in self.model.parameters() if p.requires_grad], config.momentum, config.nesterov, config.weight_decay)
        n = len(self.x_train)
        self.batch_size = config.batch_size or n
        self.batches = math.ceil(n / self.batch_size)
        self.total = self.batches * config.epochs
        self.step = self.epoch = self.b = 0
        self.first_loss: float | None = None
        self.error: DivergedError | None = None
        self._perm: torch.Tensor | None = None
        self._batch: _Batch | None = None
        self._parameters = self._snapshot()
        self.state: StepState | None = None

    # ------------------------------------------------------------------ public
    @property
    def done(self) -> bool:
        return self.state is not None and self.state.phase == "stop"

    def advance(self) -> StepState:
        """Do the next phase and return where that leaves the run. At stop, stop again."""
        phase = self.state.phase if self.state is not None else None
        if phase is None:
            state = self._state("init")
        elif phase == "stop":
            return self.state
        elif phase in ("init", "step"):
            state = self._predict() if self.step < self.total else self._stop("Done: all the epochs are done.")
        elif phase == "predict":
            state = self._loss()
        elif phase == "loss":
            state = self._gradient()
        else:
            state = self._step()
        self.state = state
        return state

    def finish_batch(self) -> StepState:
        """Advance at least once, on to the end of this batch's step (or stop)."""
        state = self.advance()
        while state.phase not in ("step", "stop"):
            state = self.advance()
        return state

    def finish_epoch(self, on_batch=None, stop_event: Event | None = None) -> StepState:
        """Whole batches to the end of this epoch (or of the next one, when this one has just
        ended); ``on_batch(state)`` after each; returns early once ``stop_event`` is set."""
        s = self.state
        ended = s is None or s.phase == "init" or (s.phase == "step" and s.batch == self.batches)
        target = self.epoch + 1 if ended else self.epoch
        while True:
            state = self.finish_batch()
            if on_batch is not None:
                on_batch(state)
            if state.phase == "stop" or (state.epoch >= target and state.batch == self.batches and state.phase == "step"):
                return state
            if stop_event is not None and stop_event.is_set():
                return state

    def predictor(self):
        """The model as it is now: a :class:`Predictor` with an independent CPU copy."""
        training = {**self.config.__dict__, "steps_done": self.step}
        return make_predictor(self.model, self.config, self.arch_config, self.n_out, training, {"steps_done": self.step})

    # ------------------------------------------------------------------ the phases
    def _predict(self) -> StepState:
        if self._perm is None or self.b >= self.batches:  # a new epoch: a new order (as train)
            self.epoch += 1
            self.b = 0
            self.model.train()
            self._perm = torch.randperm(len(self.x_train), generator=self.generator).to(self.device)
        idx = self._perm[self.b * self.batch_size : (self.b + 1) * self.batch_size]
        self.b += 1
        lr = batch_lr(self.config, self.step, self.total)
        self.opt.zero_grad()
        xs, outs = [], []
        hidden = None if len(idx) <= CHUNK else torch.zeros((), device=self.device)
        for i in range(0, len(idx), CHUNK):
            part = idx[i : i + CHUNK]
            xb = self.x_train[part]
            if self.config.augment:
                xb = random_stroke(random_shift(xb, self.generator), self.generator)
            out = self.model(xb)
            if hidden is not None:  # chunk by chunk, as train: loss and gradient now, shown later
                loss = self.loss_fn(out, self.y_train[part]) * (len(part) / len(idx))
                loss.backward()
                hidden += loss.detach()
            xs.append(_numpy(xb))
            outs.append(out)
        yt = self.y_train[idx]
        self._batch = _Batch(
            x=np.concatenate(xs) if len(xs) > 1 else xs[0],
            y=_numpy(yt),
            yt=yt,
            predictions=np.concatenate([_numpy(o) for o in outs]),
            lr=lr,
            output=outs[0] if hidden is None else None,
            hidden_loss=hidden,
        )
        return self._state("predict")

    def _loss(self) -> StepState:
        batch = self._batch
        if batch.hidden_loss is None:
            batch.loss_t = self.loss_fn(batch.output, batch.yt) * 1.0  # × the chunk's share, as train
            batch.output = None
        loss_t = batch.loss_t if batch.loss_t is not None else batch.hidden_loss
        batch.loss = float(loss_t.detach())
        if exploded(batch.loss, self.first_loss):
            return self._diverge(batch.loss)
        self.first_loss = batch.loss if self.first_loss is None else self.first_loss
        return self._state("loss")

    def _gradient(self) -> StepState:
        batch = self._batch
        if batch.loss_t is not None:
            batch.loss_t.backward()
            batch.loss_t = None
        grads = {}
        for name, p in zip(self.names, self.opt.params):
            grads[name] = _numpy(p.grad) if p.grad is not None else _numpy(torch.zeros_like(p))
        batch.gradients = grads
        if not all(np.isfinite(g).all() for g in grads.values()):
            return self._diverge(float("nan"), "gradient")
        return self._state("gradient")

    def _step(self) -> StepState:
        before = self._parameters
        self.opt.step(self._batch.lr)
        self.step += 1
        self._parameters = self._snapshot()
        return self._state("step", parameters_before=before)

    def _stop(self, message: str, diverged: bool = False) -> StepState:
        return self._state("stop", message=message, diverged=diverged)

    def _diverge(self, loss: float, what: str = "loss") -> StepState:
        self.error = _diverged(loss, f"at step {self.step + 1} (epoch {self.epoch})", self.config)
        message = str(self.error).replace("The loss became", "The gradient became") if what == "gradient" else str(self.error)
        return self._stop(message + " Stepping stopped.", diverged=True)

    # ------------------------------------------------------------------ snapshots
    def _snapshot(self) -> dict[str, np.ndarray]:
        return {name: _numpy(p) for name, p in zip(self.names, self.opt.params)}

    def _state(self, phase: str, **extra) -> StepState:
        batch = self._batch if phase != "init" else None
        return StepState(
            phase=phase,
            step=self.step,
            epoch=self.epoch,
            epochs=self.config.epochs,
            batch=self.b,
            batches_per_epoch=self.batches,
            lr=batch.lr if batch is not None else batch_lr(self.config, self.step, self.total),
            loss=batch.loss if batch is not None and phase != "predict" else None,
            parameters=self._parameters,
            gradients=batch.gradients if batch is not None and phase in ("gradient", "step", "stop") else None,
            x=batch.x if batch is not None else None,
            y=batch.y if batch is not None else None,
            predictions=batch.predictions if batch is not None else None,
            classes=self.classes,
            train_counts=self.train_counts,
            **extra,
        )
