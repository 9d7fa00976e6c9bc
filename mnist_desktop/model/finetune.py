"""Fine-tuning: a trained model goes on learning from a person's own digits.

The personal digits (a few per class) are mixed with MNIST training images ("replay", so
that the model does not forget MNIST while it learns the new style), each seen several times
per epoch with random shifts and stroke widths, and trained with a gentle one-cycle schedule.
It is :func:`training.train` continuing the given model with extra data: the same device
choice, callbacks, stop, pause and divergence handling, and the given model is never changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import torch

from .architectures import get_architecture
from .training import BatchInfo, EpochInfo, TrainResult, continue_config, train

# Chosen by measurement (``mnist-desktop bench``, section "mydigits"): the bundled CNN and 20
# drawings per digit of a style it reads at 93.9 % (``bench.thick_shifted``: strokes 1 pixel
# fatter, shifted 3 pixels right and down), measured on 5,000 other drawings of that style.
# 2 epochs, 3,000 replayed, 5 repeats, no augmentation: 96.1 %; with augmentation 96.7 %;
# 4 epochs, 10 repeats: 98.2 % but MNIST test fell to 98.8 % (augmented replay moves the
# model); 10,000 replayed at peak lr 0.03: 97.8 % with MNIST test at 99.2 %, about 6 s.
EPOCHS = 4
REPLAY = 10_000  # MNIST training images mixed in per epoch
REPEAT = 20  # each personal digit is seen this many times per epoch, each time augmented anew
LR = 0.03  # peak learning rate of the one-cycle schedule (a fifth of the recipe's 0.15)
# Personal images per epoch, at most (repeats included): the training set is held in memory
# as float32, so 10,000 digits seen 20 times would take 630 MB more; past this, each digit
# is seen fewer times (at least once), and past it with one repeat a random subset is used.
MAX_PERSONAL = 20_000


def fine_tune_config(
    predictor, epochs: int | None = None, lr: float = LR, augment: bool = True, replay: int = REPLAY, device: str = "auto", seed: int = 0
):
    """The settings a fine-tune of ``predictor`` trains with: its architecture, task and loss,
    ``epochs`` (default EPOCHS) of ``replay`` MNIST images and the personal digits, in batches
    of 64 with a one-cycle schedule peaking at ``lr``. What the window shows while it runs."""
    return replace(
        continue_config(predictor, epochs=epochs or EPOCHS),
        lr=lr,
        batch_size=64,
        schedule="onecycle",
        augment=augment,
        subset=replay,
        device=device,
        seed=seed,
    )


def fine_tune(
    predictor,
    images,
    labels,
    *,
    epochs: int | None = None,
    on_batch: Callable[[BatchInfo], None] | None = None,
    on_epoch: Callable[[EpochInfo], None] | None = None,
    stop_event: threading.Event | None = None,
    pause_event: threading.Event | None = None,
    on_note: Callable[[str], None] | None = None,
    replay: int = REPLAY,
    repeat: int = REPEAT,
    lr: float = LR,
    augment: bool = True,
    device: str = "auto",
    seed: int = 0,
    data_root=None,
) -> TrainResult:
    """Train a copy of ``predictor`` further on ``images`` (uint8 ``(N, 28, 28)``, as
    ``MyDigits.images()`` gives them) with digit-value ``labels``, mixed with ``replay`` MNIST
    training images. Only the digits of the model's classes are used (a 5 means nothing to a
    3-vs-7 model); ``predictor`` itself is never changed.

    Raises ValueError for a model with nothing to train (pixel similarity) or when none of
    the digits is of the model's classes.
    """
    if not get_architecture(predictor.arch).trainable:
        raise ValueError(
            "pixel similarity has nothing to fine-tune: it has no weights that training adjusts, only the mean image of each class. "
            "Choose a linear, MLP or CNN model."
        )
    images = torch.as_tensor(images)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    if images.dtype != torch.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(
            f"expected uint8 images (N, 28, 28) and N labels, got {tuple(images.shape)} {images.dtype} and {tuple(labels.shape)}"
        )
    if replay < 1 or repeat < 1:
        raise ValueError(f"replay and repeat must be ≥ 1, not {replay} and {repeat}")
    loss = continue_config(predictor).loss
    if loss == "accuracy":
        raise ValueError(
            "this model was trained with accuracy as its loss, which has a zero gradient everywhere: fine-tuning cannot "
            "change it. Fine-tune a model trained with cross-entropy (or the MNIST loss) instead."
        )
    usable = torch.isin(labels, torch.tensor(predictor.classes))
    used, skipped = int(usable.sum()), int((~usable).sum())
    classes = ", ".join(map(str, predictor.classes))
    if used == 0:
        what = f"none of your {len(labels)} digits is" if len(labels) else "there are no digits to fine-tune on: save some first; none is"
        raise ValueError(f"{what} one of this model's classes ({classes})")
    notes: list[str] = []
    if skipped:
        were = "was" if skipped == 1 else "were"
        notes.append(
            f"{skipped} of your {len(labels)} digits {'is' if skipped == 1 else 'are'} not among this model's classes ({classes}) "
            f"and {were} left out."
        )
        if on_note:
            on_note(notes[-1])
    images, labels = images[usable], labels[usable]
    if used > MAX_PERSONAL:
        keep = torch.randperm(used, generator=torch.Generator().manual_seed(seed))[:MAX_PERSONAL].sort().values
        images, labels = images[keep], labels[keep]
        notes.append(f"{MAX_PERSONAL:,} of your {used:,} digits, chosen at random, were used (memory stays bounded).")
        if on_note:
            on_note(notes[-1])
    repeat = max(1, min(repeat, MAX_PERSONAL // len(labels)))
    config = fine_tune_config(predictor, epochs, lr, augment, replay, device, seed)
    result = train(
        config,
        on_batch=on_batch,
        on_epoch=on_epoch,
        on_note=on_note,
        stop_event=stop_event,
        pause_event=pause_event,
        init=predictor,
        data_root=data_root,
        extra=(images, labels),
        extra_repeat=repeat,
    )
    result.predictor.meta["training"]["fine_tuned"] = {
        "from": predictor.describe(),
        "personal_digits": used,
        "personal_digits_skipped": skipped,
        "mnist_replay": replay,
        "repeat": repeat,
    }
    result.notes[:0] = notes
    return result
