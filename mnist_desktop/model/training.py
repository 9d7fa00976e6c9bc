"""Training: the seven steps of SGD as one plain loop that reports through callbacks.

init → predict → loss → gradient → step → repeat → stop. No Qt here: the GUI's worker
thread calls :func:`train` with callbacks, a test calls it with none. The whole dataset
sits on the device as one float tensor and batches are index gathers: no DataLoader.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import weights
from .architectures import build_model, get_architecture
from .config import DEVICES, SCHEDULES, TrainConfig, continue_config, recommended_config  # noqa: F401 (re-exported)
from .data import get_task, load_mnist, task_subset
from .errors import DivergedError, TrainingError
from .losses import LOSSES, correct, get_loss


def available_devices() -> list[str]:
    """The devices this machine can train on, fastest first."""
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices + ["cpu"]


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device(available_devices()[0])
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {name!r}")
    if name not in available_devices():
        raise ValueError(f"device {name!r} is not available on this machine (available: {', '.join(available_devices())})")
    return torch.device(name)


@dataclass(frozen=True)
class BatchInfo:
    """One progress report from the training loop (plain numbers: safe to send to another thread)."""

    epoch: int  # 1-based
    epochs: int
    step: int  # steps done so far, 1-based
    total_steps: int
    batch: int  # 1-based within the epoch
    batches_per_epoch: int
    loss: float  # mean training loss over the steps since the last report
    lr: float
    samples_per_s: float
    grad_norm: float
    samples: int = 0  # training images seen so far in this run


@dataclass(frozen=True)
class EpochInfo:
    epoch: int
    epochs: int
    train_loss: float
    valid_loss: float
    valid_accuracy: float
    seconds: float
    batches_done: int | None = None  # of ``batches``: fewer when the run was stopped inside this epoch
    batches: int | None = None

    @property
    def partial(self) -> bool:
        """A run stopped inside this epoch: its figures are of the batches it trained."""
        return self.batches is not None and self.batches_done is not None and self.batches_done < self.batches


@dataclass
class TrainResult:
    predictor: "Predictor"  # noqa: F821 — a CPU copy, independent of the training model
    stopped: bool
    metrics: dict
    history: list[EpochInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def prepare(task: str, normalization: tuple[float, float], device: torch.device, split: str, root=None, limit: int = 0):
    """Images as normalised float32 ``(N, 1, 28, 28)`` and class indices, on ``device``."""
    images, labels = task_subset(*load_mnist(split, root), task)
    if limit:
        images, labels = images[:limit], labels[:limit]
    mean, std = normalization
    x = images.to(device).float().div_(255).sub_(mean).div_(std).unsqueeze_(1)
    return x.contiguous(memory_format=torch.channels_last), labels.to(device)


def prepare_extra(images, labels, task: str, normalization: tuple[float, float], device: torch.device):
    """Digits from outside MNIST (uint8 ``(N, 28, 28)``, digit-value labels) as :func:`prepare`
    returns MNIST: normalised float32 ``(N, 1, 28, 28)`` and class indices, on ``device``.
    Images whose label is not one of the task's classes are left out."""
    images, labels = torch.as_tensor(images), torch.as_tensor(labels, dtype=torch.int64)
    if images.dtype != torch.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(
            f"expected uint8 images (N, 28, 28) and N labels, got {tuple(images.shape)} {images.dtype} and {tuple(labels.shape)}"
        )
    if len(labels) and not bool(((labels >= 0) & (labels <= 9)).all()):
        raise ValueError("labels must be digits from 0 to 9")
    images, labels = task_subset(images, labels, task)
    mean, std = normalization
    x = images.to(device).float().div_(255).sub_(mean).div_(std).unsqueeze_(1)
    return x.contiguous(memory_format=torch.channels_last), labels.to(device)


def random_shift(x: torch.Tensor, generator: torch.Generator, pixels: int = 2) -> torch.Tensor:
    """Move each image by up to ``pixels`` in each direction (MNIST's 4-pixel border keeps the ink)."""
    n = x.shape[0]
    fill = x.amin()  # the normalised value of a black pixel
    padded = F.pad(x, (pixels,) * 4, value=float(fill))
    offsets = torch.randint(0, 2 * pixels + 1, (2, n), generator=generator, device=generator.device).to(x.device)
    grid = torch.arange(28, device=x.device)
    rows = (offsets[0, :, None] + grid)[:, :, None]
    cols = (offsets[1, :, None] + grid)[:, None, :]
    return padded[torch.arange(n, device=x.device)[:, None, None], 0, rows, cols].unsqueeze(1)


def random_stroke(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Make each image's strokes half a pixel thinner, keep them, or make them half a pixel fatter.

    People draw with pens of every width; MNIST strokes are 2–3 pixels wide. Grey erosion or
    dilation at twice the resolution changes the width by about half a pixel on each side.
    """
    up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    fat = F.max_pool2d(up, 3, 1, 1)
    thin = -F.max_pool2d(-up, 3, 1, 1)
    choice = torch.randint(0, 3, (len(x), 1, 1, 1), generator=generator, device=generator.device).to(x.device)
    return F.avg_pool2d(torch.where(choice == 0, thin, torch.where(choice == 2, fat, up)), 2)


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    return (torch.rand(shape, generator=generator, device=generator.device) * (high - low) + low).to(device)


def pen_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image of the batch (normalised ``(N, 1, 28, 28)``) redrawn as another hand and pen
    might have drawn it: slanted (shear ±0.3), turned (±12°), narrower or wider (aspect
    ±20 %), a little smaller or larger, moved up to 2 pixels, wobbled by a smooth random
    displacement field (elastic distortion, about a pixel), strokes thinner or fatter by up
    to a pixel, in 15 % of the images a gap cut across the strokes, in a fifth softened
    by a blur. Then stretched to full white again, as ``to_mnist`` does. All on the batch in
    torch: a 64-image batch takes about a millisecond.
    """
    n, dev = x.shape[0], x.device
    black = x.amin()
    ink = (x - black).contiguous()
    white = ink.amax().clamp_min(1e-6)
    u = lambda *shape, lo=-1.0, hi=1.0: _uniform(shape, generator, dev, lo, hi)  # noqa: E731
    angle, shear = u(n) * math.radians(12), u(n) * 0.3
    aspect, size = torch.exp(u(n) * 0.2), u(n, lo=0.9, hi=1.12)
    sx, sy = 1 / (size * aspect.sqrt()), 1 / (size / aspect.sqrt())
    cos, sin = torch.cos(angle), torch.sin(angle)
    # theta maps output coordinates to input ones: rotation · shear · scale, plus a shift
    theta = torch.stack(
        [
            torch.stack([cos * sx, (cos * shear - sin) * sy, u(n) * 2 / 14], 1),
            torch.stack([sin * sx, (sin * shear + cos) * sy, u(n) * 2 / 14], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, (n, 1, 28, 28), align_corners=False)
    strength = u(n, 1, 1, 1, lo=0.0, hi=0.09)
    field = F.interpolate(u(n, 2, 4, 4) * strength, size=(28, 28), mode="bicubic", align_corners=False)
    ink = F.grid_sample(ink, grid + field.permute(0, 2, 3, 1), mode="bilinear", padding_mode="zeros", align_corners=False)
    # stroke width: blend towards a grey erosion or dilation by up to a pixel on each side
    amount = u(n, 1, 1, 1)
    eroded, dilated = -F.max_pool2d(-ink, 3, 1, 1), F.max_pool2d(ink, 3, 1, 1)
    ink = torch.lerp(ink, torch.where(amount < 0, eroded, dilated), amount.abs() * torch.where(amount < 0, 0.6, 1.0))
    # a gap across the strokes: a band about a pixel wide through a random point near the middle
    rows = torch.arange(28, device=dev, dtype=ink.dtype)[:, None]
    cols = torch.arange(28, device=dev, dtype=ink.dtype)[None, :]
    a = u(n) * math.pi
    centre = u(n, 2, lo=9.0, hi=19.0)
    dist = (
        (cols - centre[:, 1, None, None]) * torch.sin(a)[:, None, None] - (rows - centre[:, 0, None, None]) * torch.cos(a)[:, None, None]
    ).abs()
    gap = (dist - u(n, 1, 1, lo=0.4, hi=1.0)).clamp(0, 1)
    cut = u(n, 1, 1, lo=0.0, hi=1.0) < 0.15
    ink = ink * torch.where(cut, gap, torch.ones_like(gap))[:, None]
    blur = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], device=dev, dtype=ink.dtype)[None, None] / 16
    soft = u(n, 1, 1, 1, lo=0.0, hi=1.0) < 0.2
    ink = torch.where(soft, F.conv2d(ink, blur, padding=1), ink)
    ink = ink / ink.amax((2, 3), keepdim=True).clamp_min(1e-6) * white
    return (ink + black).contiguous(memory_format=torch.channels_last)


def _smooth_field(n: int, generator: torch.Generator, device) -> torch.Tensor:
    """Smooth random shading in [0, 1]: 3×3 and 6×6 grids of random levels, bicubic to 28×28,
    mixed in a random proportion per image."""
    coarse, fine = (
        F.interpolate(_uniform((n, 1, c, c), generator, device), size=(28, 28), mode="bicubic", align_corners=False) for c in (3, 6)
    )
    field = torch.lerp(coarse, fine, _uniform((n, 1, 1, 1), generator, device))
    lo, hi = field.amin((2, 3), keepdim=True), field.amax((2, 3), keepdim=True)
    return (field - lo) / (hi - lo).clamp_min(1e-6)


def robust_augment(x: torch.Tensor, generator: torch.Generator, p: float = 0.12) -> torch.Tensor:
    """What a scan, a photo or a messy page does to a digit, each to a share ``p`` of the batch
    (normalised ``(N, 1, 28, 28)``): the digit smaller and off-centre (70–100 %, moved up to 4
    pixels), grey paper (a background level of 0.2–0.7), uneven shading (a smooth field up to
    three times the ink's contrast, then scaled back), sensor noise (Gaussian or salt and
    pepper), stray straight lines (solid or dashed), bright bands along an edge (the page's
    border), and hollow strokes (only the outline of the ink).

    These are generic: none is made by :mod:`.corruptions`' code or seeds, which measure the
    model. All on the batch in torch.
    """
    n, dev = x.shape[0], x.device
    black = x.amin()
    white = (x - black).amax().clamp_min(1e-6)
    ink = ((x - black) / white).contiguous()  # [0, 1], white ink on black

    def pick() -> torch.Tensor:
        return _uniform((n, 1, 1, 1), generator, dev) < p

    u = lambda *shape, lo=0.0, hi=1.0: _uniform(shape, generator, dev, lo, hi)  # noqa: E731
    # smaller and off-centre
    size = u(n, lo=0.7, hi=1.0)
    shift = u(n, 2, lo=-4 / 14, hi=4 / 14)
    eye = torch.zeros(n, 2, 3, device=dev)
    eye[:, 0, 0] = eye[:, 1, 1] = 1 / size
    eye[:, :, 2] = shift
    moved = F.grid_sample(ink, F.affine_grid(eye, (n, 1, 28, 28), align_corners=False), mode="bilinear", align_corners=False)
    ink = torch.where(pick(), moved, ink)
    # hollow strokes: the outline of the ink
    outline = (F.max_pool2d(ink, 3, 1, 1) - (-F.max_pool2d(-ink, 3, 1, 1))).clamp(0, 1)
    ink = torch.where(pick(), outline, ink)
    # stray lines: one or two straight lines across, one in three dashed
    rows = torch.arange(28, device=dev, dtype=ink.dtype)[:, None]
    cols = torch.arange(28, device=dev, dtype=ink.dtype)[None, :]
    for _ in range(2):
        a = u(n, lo=0.0, hi=math.pi)[:, None, None]
        c = u(n, 2, lo=4.0, hi=24.0)
        along = (cols - c[:, 1, None, None]) * torch.cos(a) + (rows - c[:, 0, None, None]) * torch.sin(a)
        across = ((cols - c[:, 1, None, None]) * torch.sin(a) - (rows - c[:, 0, None, None]) * torch.cos(a)).abs()
        line = (u(n, 1, 1, lo=0.6, hi=1.4) - across).clamp(0, 1)
        dashed = u(n, 1, 1) < 1 / 3
        line = torch.where(dashed, line * (torch.sin(along * u(n, 1, 1, lo=0.8, hi=1.6)) > 0), line)
        ink = torch.where(pick(), torch.maximum(ink, line[:, None]), ink)
    # a bright band along one edge or two
    width = u(n, 1, 1, 1, lo=2.0, hi=8.0)
    left, right = cols < width, cols >= 28 - width
    top, bottom = rows < width, rows >= 28 - width
    side = torch.where(u(n, 1, 1, 1) < 0.5, left | right, top | bottom)
    ink = torch.where(pick() & side, 1 - ink, ink)
    # grey paper
    level = u(n, 1, 1, 1, lo=0.2, hi=0.7)
    ink = torch.where(pick(), level + (1 - level) * ink, ink)
    # uneven shading, then scaled back so the brightest pixel keeps its value
    strength = u(n, 1, 1, 1, lo=0.3, hi=3.0)
    peak = ink.amax((2, 3), keepdim=True)
    shaded = (ink + strength * _smooth_field(n, generator, dev)) * peak / (peak + strength)
    ink = torch.where(pick(), shaded, ink)
    # noise
    sigma = u(n, 1, 1, 1, lo=0.05, hi=0.35)
    gauss = (ink + sigma * torch.randn(ink.shape, generator=generator, device=generator.device).to(dev)).clamp(0, 1)
    salt = u(*ink.shape)
    rate = u(n, 1, 1, 1, lo=0.01, hi=0.08)
    pepper = torch.where(salt < rate / 2, torch.zeros_like(ink), torch.where(salt > 1 - rate / 2, torch.ones_like(ink), ink))
    ink = torch.where(pick(), torch.where(u(n, 1, 1, 1) < 0.5, gauss, pepper), ink)
    return (ink * white + black).contiguous(memory_format=torch.channels_last)


def outlier_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to the uniform distribution: smallest when every class is equally likely."""
    return -F.log_softmax(logits, dim=1).mean()


@torch.inference_mode()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, batch_size: int = 256):
    """(mean loss, accuracy) of ``model`` on ``x, y``; leaves the model in eval mode."""
    model.eval()
    total_loss, right = 0.0, 0.0
    for i in range(0, len(x), batch_size):
        out = model(x[i : i + batch_size])
        yb = y[i : i + batch_size]
        total_loss += float(loss_fn(out, yb)) * len(yb)
        right += float(correct(out, yb).sum())
    return total_loss / len(x), right / len(x)


BARELY_MOVED = 1e-6  # of the weights' size: a run that moved them less learned nothing (float32 keeps ~7 digits)
# When the learning rate is within these, another setting far out of its range is the likely cause
# of a divergence (blaming the learning rate then was wrong advice).
USUAL_LR = 10.0  # the recipes use 0.05-1; the chapter's linear model 1
FAR_DECAY_STEP = 1.0  # each step shrinks a weight by lr × weight decay × the weight: past 1 it overshoots zero
FAR_OUTLIER_WEIGHT = 10.0  # the bundled model's recipe uses 0.5


def _diverged(loss: float, where: str, config) -> DivergedError:
    """What went wrong and the setting most likely to blame: with a learning rate in its usual
    range, a weight decay whose step overshoots zero or an outlier weight far beyond its usual
    values; else the learning rate."""
    head = f"The loss became {loss:.4g} {where}: training diverged."
    if config.lr <= USUAL_LR and config.lr * config.weight_decay > FAR_DECAY_STEP:
        return DivergedError(
            f"{head} The weight decay {config.weight_decay:g} makes each step shrink a weight by more than the weight "
            f"(learning rate × weight decay = {config.lr * config.weight_decay:g}); its usual values are 5e-4 to 0.01: try 0.0005."
        )
    if config.lr <= USUAL_LR and getattr(config, "outliers", 0.0) > FAR_OUTLIER_WEIGHT:
        return DivergedError(f"{head} The outlier weight {config.outliers:g} is far above its usual values (0.5 to 1); try 0.5.")
    return DivergedError(f"{head} The learning rate {config.lr:g} is too high for this model; try {config.lr / 10:g}.")


def one_cycle(step: int, total: int, peak: float, pct_start: float = 0.25, div: float = 25.0, final_div: float = 1e4) -> float:
    """The learning rate of ``step`` (0-based) of ``total`` under a one-cycle schedule.

    The same curve as ``torch.optim.lr_scheduler.OneCycleLR`` (cosine warm-up from
    ``peak / div`` to ``peak`` over the first ``pct_start`` of the steps, then cosine
    annealing to ``peak / div / final_div``), written out so that short runs work too.
    """
    start, low = peak / div, peak / div / final_div
    warm_end = pct_start * total - 1
    if step <= warm_end and warm_end > 0:
        a, b, pct = start, peak, step / warm_end
    else:
        a, b = peak, low
        span = (total - 1) - max(warm_end, 0.0)
        pct = (step - max(warm_end, 0.0)) / span if span > 0 else 0.0
    return b + (a - b) / 2 * (math.cos(math.pi * min(max(pct, 0.0), 1.0)) + 1)


class SGD:
    """Stochastic gradient descent, written out: the chapter's ``p -= lr * p.grad`` plus
    momentum, Nesterov momentum and weight decay, exactly as ``torch.optim.SGD`` does them.

    Written here rather than taken from ``torch.optim`` because the first ``torch.optim``
    optimizer of a process imports ``torch._dynamo`` (over a second of Python imports and
    garbage collection holding the GIL), which froze the window when training started.
    """

    def __init__(self, params: list[torch.Tensor], momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        self.params = params
        self.momentum = momentum
        self.nesterov = nesterov and momentum > 0
        self.weight_decay = weight_decay
        self.velocity: list[torch.Tensor] | None = None

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float | torch.Tensor) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        if self.momentum:
            if self.velocity is None:
                self.velocity = [g.detach().clone() for g in grads]
            else:
                torch._foreach_mul_(self.velocity, self.momentum)
                torch._foreach_add_(self.velocity, grads)
            grads = torch._foreach_add(grads, self.velocity, alpha=self.momentum) if self.nesterov else self.velocity
        if isinstance(lr, torch.Tensor):  # a device scalar: the value can change between CUDA-graph replays
            torch._foreach_sub_(self.params, torch._foreach_mul(grads, lr))
        else:
            torch._foreach_add_(self.params, grads, alpha=-lr)

    def grad_norm(self) -> torch.Tensor:
        grads = [p.grad for p in self.params if p.grad is not None]
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())


class _Meter:
    """What happened since the last report: the loss stays on the device until a report reads it."""

    def __init__(self, device: torch.device):
        self.running = torch.zeros((), device=device)
        self.steps = self.samples = 0
        self.mark = time.perf_counter()

    def add(self, loss: torch.Tensor, n: int) -> None:
        self.running += loss.detach()
        self.steps += 1
        self.samples += n

    def read(self) -> tuple[float, float]:
        """(mean loss, samples per second) since the last read; one device sync."""
        now = time.perf_counter()
        mean, speed = float(self.running) / max(self.steps, 1), self.samples / max(now - self.mark, 1e-9)
        self.running.zero_()
        self.steps = self.samples = 0
        self.mark = now
        return mean, speed

    def exclude(self, seconds: float) -> None:
        """Leave a pause out of the speed."""
        self.mark += seconds


class _CudaGraphStep:
    """One training step (gather the batch, predict, loss, gradient, SGD step) captured once as
    a CUDA graph and replayed for every full batch.

    On a GPU a model this small is bound by Python and kernel launches, not arithmetic: eager,
    a step of the default recipe took 2.5 ms on an H200, almost all of it launching ~100
    kernels. Replaying the graph launches them all at once. The batch indices and the
    learning rate are device tensors the graph reads; the loss, the gradients and the SGD
    velocity are tensors it writes, in place.
    """

    def __init__(self, model, loss_fn, opt: SGD, x: torch.Tensor, y: torch.Tensor, first: torch.Tensor):
        self.opt = opt
        self.idx = first.clone()
        self.lr = torch.zeros((), device=x.device)
        if opt.momentum and opt.velocity is None:
            opt.velocity = [torch.zeros_like(p) for p in opt.params]  # the same first step as clone(grad)
        # Warm up on a side stream (cuDNN and the allocator settle), then put back what the warm-up
        # changed: batch-norm statistics and gradients. The weights are not stepped.
        buffers = [b.clone() for b in model.buffers()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                opt.zero_grad()
                loss_fn(model(x[self.idx]), y[self.idx]).backward()
        torch.cuda.current_stream().wait_stream(side)
        for b, saved in zip(model.buffers(), buffers):
            b.copy_(saved)
        opt.zero_grad()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            loss = loss_fn(model(x[self.idx]), y[self.idx])
            loss.backward()
            opt.step(self.lr)
        # The same storage without its autograd graph, which would keep the captured backward's
        # nodes alive and put later eager backward passes on the capture's stream.
        self.loss = loss.detach()
        self.grads = [p.grad for p in opt.params]

    def run(self, idx: torch.Tensor, lr: float) -> torch.Tensor:
        self.idx.copy_(idx)
        self.lr.fill_(lr)
        self.graph.replay()
        return self.loss

    def restore_grads(self) -> None:
        """After an eager step (a short last batch): the graph's gradients are the model's again."""
        for p, g in zip(self.opt.params, self.grads):
            p.grad = g


def _european(x_train: torch.Tensor, config: TrainConfig, task, normalization, device, data_root, note) -> torch.Tensor:
    """``x_train`` with a ``config.european_digits`` share of its 1s and 7s redrawn as much of
    the world writes them (``styles.european_digits``: a flag and a foot, a bar), each where
    its plain self was (a copy: the labels and the share of each digit stay as they were)."""
    from .styles import european_digits

    images, labels = task_subset(*load_mnist("train", data_root), config.task)
    images, labels = images[: len(x_train)].numpy(), labels[: len(x_train)].numpy()
    digits = np.asarray(task.classes)[labels]
    styled, where = european_digits(images, digits, config.european_digits, config.seed)
    note(f"Redrew {len(where):,} of the training 1s and 7s the European way (a flag and a foot, a bar across).")
    if len(where):
        x_styled, _ = prepare_extra(styled, digits[where], "digits", normalization, device)
        x_train = x_train.clone()
        x_train[torch.from_numpy(where).to(device)] = x_styled
    return x_train.contiguous(memory_format=torch.channels_last)


def _use_cuda_graph(config: TrainConfig, device: torch.device, batch_size: int) -> bool:
    """Replay CUDA graphs where the step has a fixed shape and no host-side randomness."""
    augmented = config.augment or config.pen_augment or config.robust_augment > 0
    return device.type == "cuda" and not (augmented or config.outliers) and batch_size <= CHUNK


OUTLIER_POOL = 20_000  # generated non-digits for outlier exposure (about 15 s to make)
OUTLIER_PAIRS = 6000  # two-digit pieces added to the pool with ``outlier_pairs``
HELD_OUT = 5000  # held-out training digits the calibration uses (at most)
FONT_REPEAT = 5  # each font digit (and letter) is seen this many times an epoch
FONT_GLYPHS = "train/font_glyphs.npz"


def _font_glyphs() -> dict:
    """The training font glyphs shipped with the app (``scripts/make_training_glyphs.py``)."""
    from .paths import RESOURCES

    with np.load(RESOURCES / FONT_GLYPHS, allow_pickle=False) as f:
        return {k: f[k] for k in ("digits", "digit_labels", "others")}


# A batch larger than this is computed in chunks whose gradients add up to the batch's
# gradient (batch norm then sees chunk statistics), so that stop takes effect within about
# a second even for full-batch gradient descent on the CPU.
CHUNK = 4096


def train(
    config: TrainConfig | None = None,
    *,
    on_batch: Callable[[BatchInfo], None] | None = None,
    on_epoch: Callable[[EpochInfo], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    on_weights: Callable[[weights.WeightSnapshot], None] | None = None,
    stop_event: threading.Event | None = None,
    pause_event: threading.Event | None = None,
    init=None,
    data_root=None,
    extra=None,
    extra_repeat: int = 1,
) -> TrainResult:
    """Train a model as ``config`` says. Call from any thread.

    ``stop_event`` set: stop after the current batch (or chunk of a large batch).
    ``pause_event`` set: wait between batches until it is cleared (or stop is set).
    ``on_weights``: called with a :class:`~.weights.WeightSnapshot` (copies of each layer's
    weights) before the first step and after each epoch; nothing is copied without it.
    ``init``: a :class:`Predictor` whose model is trained further (its architecture and task
    must match ``config``); it is copied, never changed.
    ``extra``: ``(images, labels)``, digits from outside MNIST (uint8 ``(N, 28, 28)``, digit
    values) added to the MNIST training images (``config.subset`` of them), ``extra_repeat``
    times each per epoch; those of classes the task does not have are left out. Fine-tuning
    on a person's own digits (``finetune.fine_tune``) uses it.
    """
    config = config or TrainConfig()
    config.validate()
    device = resolve_device(config.device)
    task = get_task(config.task)
    arch = get_architecture(config.arch)
    loss_def = get_loss(config.loss) if arch.trainable else LOSSES["cross-entropy"]
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if on_note:
            on_note(text)

    generator = seeded(config)
    n_out = 1 if loss_def.binary_only else len(task.classes)
    arch_config = config.arch_config()
    if init is not None:
        arch_config = _check_init(init, config, n_out)
    started = time.perf_counter()
    try:
        # channels_last: measured here, the CNN trains ~20 % faster and evaluates 5x faster
        # (at batch 256) in NHWC on the CPU; it changes nothing for the dense models.
        model = build_model(config.arch, n_out, **arch_config)
        if init is not None:
            model.load_state_dict(init.model.state_dict())
        model = model.to(device, memory_format=torch.channels_last)
        x_train, y_train = prepare(config.task, arch.normalization, device, "train", data_root, config.subset)
        x_valid, y_valid = prepare(config.task, arch.normalization, device, "test", data_root)
        if config.european_digits and arch.trainable:
            x_train = _european(x_train, config, task, arch.normalization, device, data_root, note)
        if extra is not None:
            if extra_repeat < 1:
                raise ValueError(f"extra_repeat must be ≥ 1, not {extra_repeat}")
            x_extra, y_extra = prepare_extra(*extra, config.task, arch.normalization, device)
            x_train = torch.cat([x_train, *[x_extra] * extra_repeat]).contiguous(memory_format=torch.channels_last)
            y_train = torch.cat([y_train, *[y_extra] * extra_repeat])
        glyphs = _font_glyphs() if config.font_glyphs else None
        if glyphs is not None:
            x_font, y_font = prepare_extra(
                glyphs["digits"], glyphs["digit_labels"].astype(np.int64), config.task, arch.normalization, device
            )
            x_train = torch.cat([x_train, *[x_font] * FONT_REPEAT]).contiguous(memory_format=torch.channels_last)
            y_train = torch.cat([y_train, *[y_font] * FONT_REPEAT])
        outliers = None
        if config.outliers and arch.trainable:
            from .nondigits import training_nondigits

            note(f"Generating {OUTLIER_POOL:,} non-digits (letters, symbols, scribbles) to teach the model to be unsure of.")
            pool = torch.from_numpy(training_nondigits(OUTLIER_POOL, seed=config.seed))
            if glyphs is not None:
                pool = torch.cat([pool, *[torch.from_numpy(glyphs["others"])] * FONT_REPEAT])
            if config.outlier_pairs:
                from .nondigits import digit_pairs

                images = task_subset(*load_mnist("train", data_root), config.task)[0]
                images = images[: config.subset or len(images)].numpy()
                pool = torch.cat([pool, torch.from_numpy(digit_pairs(images, OUTLIER_PAIRS, seed=config.seed))])
            mean, std = arch.normalization
            outliers = pool.to(device).float().div_(255).sub_(mean).div_(std).unsqueeze_(1)
        if arch.trainable:
            history, stopped, max_grad, moved = _sgd(
                model,
                config,
                loss_def.fn,
                (x_train, y_train),
                (x_valid, y_valid),
                generator,
                on_batch,
                on_epoch,
                stop_event,
                pause_event,
                on_weights,
                outliers,
            )
        else:
            missing = [str(c) for k, c in enumerate(task.classes) if not bool((y_train == k).any())]
            if missing:  # a mean of no images is NaN: the model would answer nothing
                raise ValueError(
                    f"pixel similarity needs at least one training image of each class, and there is none of {', '.join(missing)}: "
                    "use more training images (a larger subset)"
                )
            if config.loss != "cross-entropy":
                note("Pixel similarity has no loss to minimise: its training computes the mean image of each class.")
            unused = [
                name
                for name, on in (
                    ("augmentation", config.augment),
                    ("pen augmentation", config.pen_augment),
                    ("robust augmentation", config.robust_augment > 0),
                    ("outlier exposure", config.outliers > 0),
                )
                if on
            ]
            if unused:  # they act on SGD's batches and its loss, which pixel similarity has not
                verb = "has" if len(unused) == 1 else "have"
                note(
                    "Pixel similarity computes the mean image of each class from the training images as they are: "
                    f"{' and '.join(unused)} {verb} no effect on it."
                )
            model[0].fit(x_train, y_train)
            valid_loss, valid_acc = evaluate(model, x_valid, y_valid, loss_def.fn)
            train_loss, _ = evaluate(model, x_train, y_train, loss_def.fn)
            history = [EpochInfo(1, 1, train_loss, valid_loss, valid_acc, time.perf_counter() - started)]
            if on_epoch:
                on_epoch(history[0])
            stopped, max_grad, moved = False, None, 1.0
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as e:
        text = str(e).lower()
        if not isinstance(e, (torch.OutOfMemoryError, MemoryError)) and "out of memory" not in text and "can't allocate memory" not in text:
            raise
        advice = "try a smaller batch size or a smaller model" + (", or the CPU" if device.type != "cpu" else "")
        raise TrainingError(f"Out of memory on {device} with batch size {config.batch_size or 'full'}: {advice}.") from None

    if max_grad == 0.0:
        why = "Every gradient was exactly zero: "
        if config.loss == "accuracy":
            why += "accuracy only changes when a prediction flips, so a small change to any weight leaves it the same. "
        why += (
            "The weights did not move."
            if moved == 0.0
            else "The weights changed only through weight decay (shrinking towards zero): nothing was learned."
        )
        note(why)
    elif moved < BARELY_MOVED and history and not stopped:
        # Gradients there were, but the steps were too small to move the weights (--lr 1e-30):
        # the run trained nothing, and said nothing.
        note(
            f"No weight changed by more than {BARELY_MOVED:g} of its size: the steps (learning rate {config.lr:g} × the gradient) "
            "were too small. Nothing was learned; raise the learning rate."
        )
    last = history[-1] if history else None
    metrics = {
        "valid_loss": last.valid_loss if last else float("nan"),
        "valid_accuracy": last.valid_accuracy if last else float("nan"),
        "test_accuracy": last.valid_accuracy if last else float("nan"),  # the validation set is MNIST's test set
        "epochs_done": len(history),
        "seconds": time.perf_counter() - started,
    }
    training = asdict(config)
    if init is not None:
        before = init.meta.get("training") or {}
        done_before = before.get("epochs_total", before.get("epochs", 0))
        training["continued_from"] = init.describe()
        training["epochs_total"] = (done_before if isinstance(done_before, int) else 0) + len(history)
    predictor = make_predictor(model, config, arch_config, n_out, training, metrics)
    if config.outliers and arch.trainable and n_out > 1 and config.subset and not stopped:
        _calibrate(predictor, config, data_root, note)
    elif init is not None and arch.trainable and not stopped:
        personal = np.asarray(extra[0], dtype=np.uint8) if extra is not None else np.zeros((0, 28, 28), np.uint8)
        _recalibrate(init, predictor, config, personal, data_root, note, on_note, stop_event)
    return TrainResult(predictor, stopped, metrics, history, notes)


def digit_head_sets(
    images: np.ndarray, nondigits: int = 12000, pairs: int = 3000, written: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """What ``recognition.fit_digit_head`` is fitted on, from the training digits ``images``
    (uint8 ``(N, 28, 28)``, the ones the model trained on): ``(digits, nondigits)``.

    Digits: every 5th as it is and redrawn by the pen augmentation, and another 5th redrawn
    (other hands), and the 1,200 digits of the training fonts (``resources/train/font_glyphs.npz``).
    Non-digits: ``nondigits`` (12,000) of the training generators, ``pairs`` (3,000) pieces of
    two of the digits (``nondigits.digit_pairs``), ``written`` (default two thirds of
    ``nondigits``: 8,000) letters and symbols written stroke by stroke
    (``nondigits.written_nondigits``) and a quarter as many scrawls (hatching, tangles:
    ``nondigits.scrawls``), with seeds (9101–9103, 9111, 9112) that neither training
    (its ``--seed``) nor the validation of ``scripts/fit_digit_head.py`` nor ``bench`` uses, and
    the 1,758 letters and symbols of the training fonts (fonts neither validation nor ``bench``
    uses). Then a quarter of the digits again with soft edges and another quarter with crisp
    ones, and a third of the non-digits with soft edges (``nondigits.redrawn_edges``, seeds
    9131–9133): MNIST's digits are soft and the generated non-digits crisp, and a head fitted
    without these tells them apart by that (it let 89 % of upscaled non-digits through).
    The bundled model's head was fitted on the defaults."""
    from .nondigits import digit_pairs, redrawn_edges, scrawls, training_nondigits, written_nondigits

    written = nondigits * 2 // 3 if written is None else written

    images = np.asarray(images, dtype=np.uint8)

    def pen(x: np.ndarray, seed: int) -> np.ndarray:
        t = torch.from_numpy(x.copy()).float().div(255)[:, None]
        return (pen_augment(t, torch.Generator().manual_seed(seed))[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()

    glyphs = _font_glyphs()
    digits = np.concatenate([pen(images[::5], 11), images[::5], pen(images[1::5], 12), glyphs["digits"]])
    half = nondigits // 2
    others = np.concatenate(
        [
            training_nondigits(half, seed=9101),
            training_nondigits(nondigits - half, seed=9103),
            digit_pairs(images, pairs, seed=9102),
            written_nondigits(written, seed=9111),
            scrawls(written // 4, seed=9112),
            glyphs["others"],
        ]
    )
    digits = np.concatenate([digits, redrawn_edges(digits[0::4], seed=9131), redrawn_edges(digits[1::4], seed=9132, crisp=True)])
    others = np.concatenate([others, redrawn_edges(others[0::3], seed=9133)])
    return digits, others


def _calibrate(predictor, config: TrainConfig, data_root, note) -> None:
    """Temperature and "not a digit" threshold fitted on the MNIST training images the run
    left out (the first ``HELD_OUT`` from ``config.subset`` on): digits the model has never seen."""
    from .recognition import calibrate_recognizer, fit_digit_head

    images, labels = task_subset(*load_mnist("train", data_root), config.task)
    held, held_labels = images[config.subset : config.subset + HELD_OUT], labels[config.subset : config.subset + HELD_OUT]
    if len(held) < 1000:
        return
    digit_values = np.asarray(predictor.classes)[held_labels.numpy()]  # class indices → the digits they stand for
    r = calibrate_recognizer(predictor, held.numpy(), digit_values)
    head = None
    if not predictor._sigmoid and len(predictor.classes) == 10:
        # The digit head (recognition.fit_digit_head) on the digits the run trained on: about a
        # minute on a CPU for 55,000 of them, seconds for a few thousand.
        trained = images[: config.subset].numpy()
        n = min(12000, len(trained) // 2)
        digits, others = digit_head_sets(trained, nondigits=n, pairs=n // 4)
        head = fit_digit_head(predictor, digits, others, held.numpy())
    note(
        f"Calibrated on {len(held):,} held-out training digits: temperature {r['temperature']:.3f} "
        f"(ECE {100 * r['held_out_ece_before']:.2f} % → {100 * r['held_out_ece_after']:.2f} %), "
        + (
            f"'not a digit' below a digit-head score of {head['threshold']:.3f} (energy alone: {r['energy_threshold']:.3f})."
            if head is not None
            else f"'not a digit' below an energy of {r['energy_threshold']:.3f}."
            if "energy_threshold" in r
            else f"'not a digit' below {r['digit_threshold']:.3f}."
        )
    )


# Non-digits a continued model's digit head is fitted on (with a quarter as many pairs of digits;
# ``digit_head_sets``): the training command uses up to 12,000 and takes about a minute on a CPU.
# On the bundled CNN fine-tuned on 200 digits (2026-12-07, the 2-core AMD machine under load),
# 3,000 took 10 s (the sets 4 s, the fit 5 s) and caught 91.5 % of 2,250 letters, scrawls and
# generated non-digits flagging 0.20 % of 2,000 test digits; 1,000: 92.6 % / 0.45 %. Without a
# head (the energy alone, refitted) 67.0 %; without any refit 27.7 % (the bundled model before the
# fine-tune: 96.7 % / 0.35 %).
CONTINUED_HEAD_NONDIGITS = 3000
# Held-out digits a continued model's temperature and thresholds are fitted on: as many as the
# bundled model's digit head was (training digits 55,000–57,499), half of ``HELD_OUT``.
CONTINUED_HELD_OUT = 2500


def _recalibrate(init, predictor, config: TrainConfig, personal: np.ndarray, data_root, note, on_note, stop_event) -> None:
    """Fit a continued model's temperature and "not a digit" test again, as the training command
    fitted ``init``'s, when the run did not fit them itself (no outlier exposure: a fine-tune, One
    more epoch). Training moves the logits, and the model it made had none of ``init``'s: its "not a
    digit" fell back to a top probability under 50 % (a fine-tune of the bundled CNN then caught
    17.8 % of `bench recognition`'s letters, symbols, scribbles and strokes instead of 86.5 %).

    The held-out digits are the MNIST training images after those ``init`` trained on and after
    the ``config.subset`` this run trained on (none if it trained on all: then a note says so); the
    digit head, where ``init`` had one, is fitted anew on the run's MNIST digits and ``personal``
    ones (a fine-tune's: the user's own style stays a digit) against generated non-digits. A stop
    asked for meanwhile skips the digit head (the energy test stays, and a note says so)."""
    from .recognition import calibrate_recognizer, fit_digit_head

    recognition = init.meta.get("recognition") or {}
    if not recognition or predictor._sigmoid:
        return
    images, labels = task_subset(*load_mnist("train", data_root), config.task)
    trained = (init.meta.get("training") or {}).get("subset")
    trained = trained if isinstance(trained, int) and not isinstance(trained, bool) and trained > 0 else len(images)
    start = max(trained, config.subset or len(images))
    held, held_labels = images[start : start + CONTINUED_HELD_OUT].numpy(), labels[start : start + CONTINUED_HELD_OUT].numpy()
    if len(held) < 1000:
        note(
            'The new model has no "not a digit" test of its own: no MNIST training digits are left that neither it nor the '
            "model it came from trained on, so it calls a drawing not a digit when its top probability is under 50 %."
        )
        return
    if on_note:
        on_note(f'Fitting the new model\'s temperature and "not a digit" test on {len(held):,} held-out digits…')
    r = calibrate_recognizer(predictor, held, np.asarray(predictor.classes)[held_labels])
    head = None
    if init.digit_head is not None and len(predictor.classes) == 10:
        if stop_event is not None and stop_event.is_set():
            note('Stopped before its digit head was fitted: "not a digit" uses the energy of its logits alone.')
        else:
            trained_on = images[: config.subset or len(images)].numpy()
            digits, others = digit_head_sets(trained_on, nondigits=CONTINUED_HEAD_NONDIGITS, pairs=CONTINUED_HEAD_NONDIGITS // 4)
            head = fit_digit_head(predictor, np.concatenate([digits, personal]), others, held)
    note(
        f'Calibrated on {len(held):,} held-out digits: temperature {r["temperature"]:.3f}, "not a digit" '
        + (f"by a new digit head (threshold {head['threshold']:.3f})." if head else f"below an energy of {r['energy_threshold']:.3f}.")
    )


def seeded(config: TrainConfig) -> torch.Generator:
    """Seed torch's global generator (the model's initial weights) and return the run's own
    generator (the batch order and augmentation), as every run of ``config`` does."""
    torch.manual_seed(config.seed)
    return torch.Generator().manual_seed(config.seed)


def batch_lr(config: TrainConfig, step: int, total: int) -> float:
    """The learning rate of ``step`` (0-based) of ``total`` under the config's schedule."""
    return one_cycle(step, total, config.lr) if config.schedule == "onecycle" else config.lr


def exploded(loss: float, first: float | None) -> bool:
    """NaN or inf; or exploded: a loss of 100 means logits off by ~100, which no model that is
    still learning produces (it starts near ln 10 = 2.3)."""
    return not math.isfinite(loss) or loss > max(100.0, 100 * (loss if first is None else first))


def make_predictor(model, config: TrainConfig, arch_config: dict, n_out: int, training: dict, metrics: dict):
    """A :class:`Predictor` holding a CPU copy of ``model`` (independent of it) with its metadata."""
    from .checkpoints import make_metadata
    from .inference import Predictor

    cpu_model = copy.deepcopy(model).cpu().to(memory_format=torch.contiguous_format).eval()
    meta = make_metadata(
        config.arch,
        arch_config,
        config.task,
        "sigmoid" if n_out == 1 else "softmax",
        get_architecture(config.arch).normalization,
        training=training,
        metrics=metrics,
    )
    return Predictor(cpu_model, meta)


def _check_init(init, config: TrainConfig, n_out: int) -> dict:
    """The architecture config of ``init`` if training can go on from it, else ValueError."""
    if init.arch != config.arch or init.task != config.task:
        raise ValueError(f"cannot continue a {init.arch} model for {init.task} with settings for a {config.arch} model for {config.task}")
    outputs = 1 if init.meta.get("output") == "sigmoid" else len(init.classes)
    if outputs != n_out:
        raise ValueError(f"the model has {outputs} output(s) but the {config.loss} loss needs {n_out}: choose the loss it was trained with")
    return dict(init.meta.get("arch_config") or {})


class StopEvent(threading.Event):
    """A ``stop_event`` that can also say the run's result is no longer wanted (the window is
    closing): :meth:`abandon` stops the run as ``set`` does, without measuring the stopped epoch
    on the validation digits (10,000 test images for the digits: seconds that closing the window
    waited for). A plain :class:`threading.Event` works as before."""

    abandoned = False

    def abandon(self) -> None:
        self.abandoned = True
        self.set()


def _wait_while_paused(pause_event, stop_event) -> float:
    """Block while ``pause_event`` is set (and stop is not); the seconds spent."""
    if pause_event is None or not pause_event.is_set():
        return 0.0
    t = time.perf_counter()
    waiter = stop_event or threading.Event()
    while pause_event.is_set() and not waiter.is_set():
        waiter.wait(0.05)
    return time.perf_counter() - t


def _sgd(
    model, config, loss_fn, train_data, valid_data, generator, on_batch, on_epoch, stop_event, pause_event, on_weights=None, outliers=None
):
    """The loop: predict, loss, gradient, step, repeat; report every ``log_every`` steps."""
    (x_train, y_train), (x_valid, y_valid) = train_data, valid_data
    n = len(x_train)
    batch_size = config.batch_size or n
    batches = math.ceil(n / batch_size)
    total = batches * config.epochs
    opt = SGD([p for p in model.parameters() if p.requires_grad], config.momentum, config.nesterov, config.weight_decay)
    initial = [p.detach().clone() for p in opt.params]
    stopping = stop_event.is_set if stop_event is not None else (lambda: False)
    history: list[EpochInfo] = []
    step = samples = 0
    stopped, max_grad, first_loss = False, None, None
    meter = _Meter(x_train.device)
    use_graph, graph = _use_cuda_graph(config, x_train.device, batch_size), None
    # Augmentation draws its random numbers where the batch is: a draw on the CPU copied to a
    # GPU makes the CPU wait for the GPU, a few dozen times a step.
    draws = generator if x_train.device.type == "cpu" else torch.Generator(x_train.device).manual_seed(config.seed)
    if on_weights:
        on_weights(weights.snapshot(model, 0))

    # The last trained batch's learning rate and gradient strength: a large batch stopped between
    # its chunks has computed a new rate and part of new gradients, of a batch never trained.
    trained_lr, partial, last_grad = batch_lr(config, 0, total), False, 0.0

    def report(epoch: int, batch: int) -> None:  # batch: 1-based, the last one trained
        nonlocal first_loss, max_grad, last_grad
        mean_loss, speed = meter.read()
        first_loss = mean_loss if first_loss is None else first_loss
        if exploded(mean_loss, first_loss):
            raise _diverged(mean_loss, f"at step {step} (epoch {epoch})", config)
        grad_norm = last_grad if partial else float(opt.grad_norm())
        max_grad, last_grad = max(max_grad or 0.0, grad_norm), grad_norm
        if on_batch:
            on_batch(BatchInfo(epoch, config.epochs, step, total, batch, batches, mean_loss, trained_lr, speed, grad_norm, samples))

    for epoch in range(1, config.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        perm = torch.randperm(n, generator=generator).to(x_train.device)
        epoch_sum, seen = torch.zeros((), device=x_train.device), 0
        for b in range(batches):
            paused = _wait_while_paused(pause_event, stop_event)
            meter.exclude(paused)
            epoch_start += paused
            if stopping():
                stopped = True
                break
            idx = perm[b * batch_size : (b + 1) * batch_size]
            lr = batch_lr(config, step, total)
            if use_graph and len(idx) == batch_size:
                graph = graph or _CudaGraphStep(model, loss_fn, opt, x_train, y_train, idx)
                loss = graph.run(idx, lr)
            else:
                opt.zero_grad()
                loss = _forward_backward(model, loss_fn, x_train, y_train, idx, config, draws, stopping, outliers)
                if loss is None:  # stopped between chunks of a large batch: no step
                    stopped = partial = True
                    break
                opt.step(lr)
                if graph is not None:
                    graph.restore_grads()
            step += 1
            trained_lr = lr
            samples += len(idx)
            seen += len(idx)
            meter.add(loss, len(idx))
            epoch_sum += loss.detach() * len(idx)
            if step % config.log_every == 0 or b == batches - 1:
                report(epoch, b + 1)
        if stopped and meter.steps:
            # The batches trained since the last report, reported: the run's last progress is
            # then where it stopped, as its epoch's figures are (batches_done below), not up to
            # log_every - 1 batches earlier (the window said "batch 276" beside "277 batches").
            report(epoch, b)
        if seen and not (stopped and getattr(stop_event, "abandoned", False)):  # nobody waits for an abandoned run's figures
            valid_loss, valid_acc = evaluate(model, x_valid, y_valid, loss_fn)
            train_loss = float(epoch_sum) / seen
            if not math.isfinite(train_loss):
                raise _diverged(train_loss, f"in epoch {epoch}", config)
            if not math.isfinite(valid_loss):  # weights that overflow on the validation digits alone
                raise _diverged(valid_loss, f"on the validation digits after epoch {epoch}", config)
            done = b + 1 if not stopped else b  # the batch where a stop was seen was not trained
            info = EpochInfo(epoch, config.epochs, train_loss, valid_loss, valid_acc, time.perf_counter() - epoch_start, done, batches)
            history.append(info)
            if on_epoch:
                on_epoch(info)
            if on_weights:
                on_weights(weights.snapshot(model, epoch))
        if stopped:
            break
    # How far the weights moved, relative to their size: the largest of each tensor's
    # max |w - w0| / max |w0| (0.0: not at all). A batch norm's biases start at exactly 0, so
    # any step at all moves them "infinitely": those count as their own size of 1.
    moved = max(
        (float((p.detach() - a).abs().max()) / max(float(a.abs().max()), 1.0) for a, p in zip(initial, opt.params) if a.numel()),
        default=0.0,
    )
    return history, stopped, max_grad, moved


def _forward_backward(model, loss_fn, x, y, idx, config, generator, stopping, outliers=None):
    """Predict, loss and gradient for the batch ``idx``; the batch's mean loss (detached).

    A batch larger than ``CHUNK`` goes through in chunks whose gradients accumulate to the
    whole batch's; ``None`` if ``stopping()`` turned true between two chunks. With
    ``outliers`` (normalised non-digits), half a batch of them goes through with the digits
    and their :func:`outlier_loss`, times ``config.outliers``, is added to the loss.
    """
    total = torch.zeros((), device=x.device)
    for i in range(0, len(idx), CHUNK):
        if i and stopping():
            return None
        part = idx[i : i + CHUNK]
        xb, yb = x[part], y[part]
        k = len(part)
        if outliers is not None:
            pick = torch.randint(0, len(outliers), (max(1, k // 2),), generator=generator, device=generator.device).to(x.device)
            xb = torch.cat([xb, outliers[pick]])
        if config.pen_augment:
            xb = pen_augment(xb, generator)
        elif config.augment:
            xb = random_stroke(random_shift(xb, generator), generator)
        if config.robust_augment:
            xb = robust_augment(xb, generator, config.robust_augment)
        out = model(xb)
        loss = loss_fn(out[:k], yb)
        if outliers is not None:
            loss = loss + config.outliers * outlier_loss(out[k:])
        loss = loss * (len(part) / len(idx))
        loss.backward()
        total += loss.detach()
    return total
