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
    rng = np.random.default_rng(0)
    for shape in [(16, 8, 12, 12), (16, 10), (16, 2), (16, 1)]:  # maps, and output layers of 160, 32, 16 values
        values = rng.normal(size=shape).astype(np.float32)
        expected = np.percentile(np.abs(values).astype(np.float64), 99.5)
        np.testing.assert_allclose([level(values), level(-values)], expected, rtol=1e-12, err_msg=str(shape))
    assert abs(level(np.arange(1000.0)) - 994.005) < 1e-9  # interpolated: rank 0.995 × 999


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
        assert got.hi > 0 and abs(got.hi - np.percentile(np.abs(out).astype(np.float64), 99.5)) <= 1e-6 * got.hi
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
    assert gone() is None and len(_levels) < held and q in _levels  # the dropped model's levels went with it


def test_activations_are_this_calls_own_while_another_thread_runs_the_model():
    """The nearest digits' build runs the active model in its thread while the window asks for
    its levels: each call's outputs are its own images' (forward hooks on the shared layers
    handed one call another's batch of 500, about 3 calls in 100)."""
    import torch

    p = cnn(3)
    digits = reference_digits()
    stop = threading.Event()

    def other_pass():
        batch = torch.zeros(500, 1, 28, 28)
        with torch.inference_mode():
            while not stop.is_set():
                p.model(batch)

    other = threading.Thread(target=other_pass)
    other.start()
    try:
        for _ in range(200):
            assert all(len(out) == len(digits) for out in p.activations_batch(digits).values())
            assert all(
                out.shape == shape for out, shape in zip(p.activations(digits[0]).values(), [l.shape for l in reference_levels(p).values()])
            )
    finally:
        stop.set()
        other.join()
