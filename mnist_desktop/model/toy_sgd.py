"""The chapter's SGD before MNIST: a quadratic fitted to a roller coaster's speed, step by step.

The chapter measures the speed of a roller coaster as it goes over a hump for 20 seconds
(``time = 0..19``, ``speed = noise + 0.75·(time − 9.5)² + 1``), guesses that it is a
quadratic ``a·t² + b·t + c``, and finds ``a, b, c`` with SGD on the mean squared error, from
random parameters. :class:`QuadraticSGD` does the same, one step per call, in numpy: the
gradient is the MSE's own (``2·mean(error·t²)``, ``2·mean(error·t)``, ``2·mean(error)``),
which a test checks against PyTorch's autograd. A learning rate above ~3.5e-5 makes each step
overshoot the minimum by more than it started from: the loss grows, and the run says so and
stops before any number overflows. No Qt, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS = 20  # the chapter's 20 seconds
# Too small, right and too large for these 20 points: the MSE's steepest curvature (along a)
# is ~56,500, so a learning rate over 2 / 56,500 ≈ 3.5e-5 diverges.
LEARNING_RATES = {"small": 1e-6, "right": 1e-5, "large": 1e-4}
LR_LABELS = {"small": "Too small", "right": "About right", "large": "Too large"}
DIVERGED_FACTOR = 1e6  # a loss this many times the first one: the run has diverged (a few steps at "too large")


def speed_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The chapter's measurements: ``time`` 0..19 and a noisy quadratic ``speed`` (float64)."""
    rng = np.random.default_rng(seed)
    time = np.arange(STEPS, dtype=np.float64)
    speed = rng.standard_normal(STEPS) * 3 + 0.75 * (time - 9.5) ** 2 + 1
    return time, speed


def quadratic(time: np.ndarray, params: np.ndarray) -> np.ndarray:
    """The chapter's ``f(t, params)``: ``a·t² + b·t + c``."""
    a, b, c = params
    return a * time**2 + b * time + c


def mse(predictions: np.ndarray, targets: np.ndarray) -> float:
    return float(((predictions - targets) ** 2).mean())


def mse_gradient(time: np.ndarray, params: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """d mse(quadratic(time, params), targets) / d (a, b, c)."""
    error = quadratic(time, params) - targets
    return 2 * np.array([(error * time**2).mean(), (error * time).mean(), error.mean()])


@dataclass(frozen=True)
class ToyState:
    """Where the fit stands after ``step`` steps. Arrays are read-only copies."""

    step: int
    lr: float
    params: np.ndarray  # (3,): a, b, c
    predictions: np.ndarray  # (20,): the quadratic at each time
    loss: float  # the MSE of these predictions
    gradient: np.ndarray  # (3,): the loss's gradient at these params (what the next step follows)
    diverged: bool = False
    message: str = ""  # why stepping stopped (empty: it goes on)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


class QuadraticSGD:
    """``params -= lr · gradient``, one step per :meth:`step`, from the chapter's random start
    (three standard normal numbers). ``state`` is where the fit stands."""

    def __init__(self, lr: float, seed: int = 0, data: tuple[np.ndarray, np.ndarray] | None = None):
        if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
            raise ValueError(f"the learning rate must be a positive number, not {lr!r}")
        self.lr = float(lr)
        self.time, self.speed = data if data is not None else speed_data(seed)
        self.first_loss: float | None = None
        self.state = self._state(0, np.random.default_rng(seed + 1).standard_normal(3))

    @property
    def stopped(self) -> bool:
        return self.state.diverged

    def step(self) -> ToyState:
        """One SGD step. A step whose loss has blown up (over ``DIVERGED_FACTOR`` × the first, or
        not a finite number) ends the run with a message; a diverged run steps no more."""
        s = self.state
        if s.diverged:
            return s
        with np.errstate(over="ignore", invalid="ignore"):
            params = s.params - self.lr * s.gradient
            state = self._state(s.step + 1, params)
        if not np.isfinite(state.loss) or state.loss > DIVERGED_FACTOR * self.first_loss or not np.isfinite(state.gradient).all():
            message = (
                f"Diverged: the loss went from {_figure(self.first_loss)} to {_figure(state.loss)} in {state.step} steps. "
                f"A learning rate of {self.lr:g} is too large: each step jumps past the bottom of the loss "
                "and lands higher up on the other side, further every time. Stepping stopped."
            )
            state = ToyState(**{**state.__dict__, "diverged": True, "message": message})
        self.state = state
        return state

    def run(self, steps: int) -> ToyState:
        """Up to ``steps`` steps (fewer if the run diverges)."""
        for _ in range(steps):
            if self.state.diverged:
                break
            self.step()
        return self.state

    def _state(self, step: int, params: np.ndarray) -> ToyState:
        predictions = quadratic(self.time, params)
        loss = mse(predictions, self.speed)
        if self.first_loss is None:
            self.first_loss = loss
        gradient = mse_gradient(self.time, params, self.speed)
        return ToyState(step, self.lr, _frozen(params), _frozen(predictions), loss, _frozen(gradient))


def _figure(x: float) -> str:
    """A loss in words: plain below a million, else in powers of ten (never 'nan' or 'inf')."""
    if not np.isfinite(x):
        return "more than a computer's float holds"
    return f"{x:,.1f}" if abs(x) < 1e6 else f"{x:.2e}"
