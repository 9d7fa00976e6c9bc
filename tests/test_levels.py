"""The Activations view's colour levels: one per layer, from the reference digits, kept with the model."""

import gc
import threading
import weakref
from collections import OrderedDict

import numpy as np

from mnist_desktop.model import Predictor, build_model
from mnist_desktop.model.architectures import get_architecture
from mnist_desktop.model.checkpoints import make_metadata
from mnist_desktop.model.levels import LayerLevel, _levels, level, reference_digits, reference_levels


def cnn(seed: int, **config) -> Predictor:
    import torch

    torch.manual_seed(seed)
    meta = make_metadata("cnn", config, "digits", "softmax", get_architecture("cnn").normalization)
    return Predictor(build_model("cnn", 10, **config), meta)


def test_a_level_is_the_995th_percentile_of_the_magnitudes():
    values = np.random.default_rng(0).normal(size=(16, 8, 12, 12)).astype(np.float32)
    expected = np.percentile(np.abs(values), 99.5, method="lower")
    assert level(values) == expected and level(-values) == expected  # magnitudes: the sign does not matter
    assert level(np.arange(1000.0)) == 994.0  # nearest rank below: index 0.995 × 999 = 994.005


def test_reference_levels_are_each_layers_level_over_the_reference_digits():
    p = cnn(0, channels1=8, channels2=16)
    digits = reference_digits()
    assert digits.shape == (16, 28, 28) and digits.dtype == np.float32 and 0 <= digits.min() and digits.max() <= 1
    outputs = p.activations_batch(digits)
    levels = reference_levels(p)
    assert list(levels) == list(outputs) == list(p.activations(digits[0]))
    for name, out in outputs.items():
        got = levels[name]
        assert isinstance(got, LayerLevel) and got.shape == out.shape[1:]
        assert got.signed == bool(out.min() < 0)
        assert got.hi == np.percentile(np.abs(out), 99.5, method="lower") > 0
    assert levels["conv1"].shape == (8, 24, 24) and levels["conv1"].signed and not levels["relu1"].signed


def levels_from_a_thread(predictor) -> "OrderedDict[str, LayerLevel]":
    """``reference_levels`` computed in another thread, as the window's trainer does before it
    hands its model over; the caller's later call must find the very same object."""
    found = []
    worker = threading.Thread(target=lambda: found.append(reference_levels(predictor)))
    worker.start()
    worker.join()
    return found[0]


def test_reference_levels_are_kept_with_the_model_from_any_thread():
    p, q = cnn(1), cnn(2)
    from_thread = levels_from_a_thread(p)
    assert reference_levels(p) is from_thread  # the GUI thread finds them: no second forward pass
    assert reference_levels(q) is not from_thread and reference_levels(q)["fc"].hi != from_thread["fc"].hi
    held, gone = len(_levels), weakref.ref(p)
    del p
    gc.collect()
    assert gone() is None and len(_levels) == held - 1 and q in _levels  # the dropped model's levels went with it
