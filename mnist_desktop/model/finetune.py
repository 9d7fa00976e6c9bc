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

import numpy as np
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
    if not result.stopped:
        _recalibrate(predictor, result, images.numpy(), replay, data_root, on_note, stop_event)
    return result


# Non-digits the fine-tuned model's digit head is fitted on (with a quarter as many pairs of
# digits; ``training.digit_head_sets``): the training command uses up to 12,000 and takes about a
# minute on a CPU. On the bundled CNN fine-tuned on 200 digits (2026-12-07, the 2-core AMD machine
# under load), 3,000 took 10 s (the sets 4 s, the fit 5 s) and caught 91.5 % of 2,250 letters,
# scrawls and generated non-digits flagging 0.20 % of 2,000 test digits; 1,000: 92.6 % / 0.45 %.
# Without a head (the energy alone, refitted) 67.0 %; without any refit 27.7 % (the bundled model
# before the fine-tune: 96.7 % / 0.35 %).
HEAD_NONDIGITS = 3000
# Held-out digits the temperature and the thresholds are fitted on: as many as the bundled
# model's digit head was (training digits 55,000–57,499), half what the training command uses.
HELD_OUT = 2500


def _recalibrate(before, result: TrainResult, personal, replay: int, data_root, on_note, stop_event=None) -> None:
    """Fit the fine-tuned model's temperature and "not a digit" test again, as the training
    command fitted ``before``'s: a fine-tune trains without outlier exposure and moves the logits,
    and the model it makes had none (its "not a digit" fell back to a top probability under 50 %:
    27.7 % of non-digits caught instead of 96.7 %). The held-out digits are ``before``'s (the MNIST
    training images after those it trained on, and after the ``replay`` the fine-tune used); the
    digit head, where ``before`` had one, is fitted anew on the replayed digits and ``personal``
    ones (so that the user's own style stays a digit) against generated non-digits. A stop asked
    for meanwhile skips the digit head (the energy test stays, and a note says so)."""
    from .data import load_mnist, task_subset
    from .recognition import calibrate_recognizer, fit_digit_head
    from .training import digit_head_sets

    after = result.predictor
    recognition = before.meta.get("recognition") or {}
    trained = (before.meta.get("training") or {}).get("subset")
    if not recognition or after._sigmoid:
        return
    say = on_note or (lambda _text: None)
    start = max(trained if isinstance(trained, int) and not isinstance(trained, bool) and trained > 0 else 0, replay)
    images, labels = task_subset(*load_mnist("train", data_root), after.task)
    held, held_labels = images[start : start + HELD_OUT].numpy(), labels[start : start + HELD_OUT].numpy()
    if not trained or len(held) < 1000:
        text = (
            'The fine-tuned model has no "not a digit" test of its own: the model it came from left no MNIST training '
            "digits out to fit one on, so it calls a drawing not a digit when its top probability is under 50 %."
        )
        result.notes.append(text)
        say(text)
        return
    say(f'Fitting the fine-tuned model\'s temperature and "not a digit" test on {len(held):,} held-out digits…')
    r = calibrate_recognizer(after, held, np.asarray(after.classes)[held_labels])
    head = None
    if before.digit_head is not None and len(after.classes) == 10 and stop_event is not None and stop_event.is_set():
        result.notes.append('Stopped before its digit head was fitted: "not a digit" uses the energy of its logits alone.')
    elif before.digit_head is not None and len(after.classes) == 10:
        digits, others = digit_head_sets(images[:replay].numpy(), nondigits=HEAD_NONDIGITS, pairs=HEAD_NONDIGITS // 4)
        head = fit_digit_head(after, np.concatenate([digits, personal]), others, held)
    text = f'Calibrated on {len(held):,} held-out digits: temperature {r["temperature"]:.3f}, "not a digit" ' + (
        f"by a new digit head (threshold {head['threshold']:.3f})." if head else f"below an energy of {r['energy_threshold']:.3f}."
    )
    result.notes.append(text)
    say(text)
