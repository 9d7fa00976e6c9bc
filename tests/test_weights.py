"""Weights over time: snapshots from the trainer, histograms, distance from the start."""

import numpy as np
import pytest
import torch

from mnist_desktop.model import TrainConfig, WeightHistory, build_model, train
from mnist_desktop.model.weights import histogram, histogram_edges, layer_histogram, relative_distance, snapshot


def test_histogram_counts_every_weight_on_symmetric_bins():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(30, 784)).astype(np.float32)
    w0 = w * 0.5
    h = layer_histogram("fc1", w, w0)
    assert h.counts.sum() == w.size and h.initial_counts.sum() == w0.size
    top = np.quantile(np.abs(w), 0.999)  # the range reaches the tails, not the few largest weights
    assert h.edges[0] == pytest.approx(-top) and h.edges[-1] == pytest.approx(top)
    assert top < np.abs(w).max()
    assert len(h.edges) == len(h.counts) + 1
    # the start, half as wide, sits in the middle bins
    assert h.initial_counts[:5].sum() == 0 and h.counts[:5].sum() > 0
    assert h.distance == pytest.approx(1.0)  # ‖w − w/2‖ / ‖w/2‖
    # a value outside the bins (or NaN) is still counted
    edges = histogram_edges(np.array([1.0]))
    assert edges[-1] == 1.0
    counts = histogram(np.array([5.0, -5.0, np.nan, 0.0]), edges)
    assert counts.sum() == 4 and counts[0] == counts[-1] == 1
    assert histogram_edges(np.zeros(3))[-1] == 1.0  # all zero: a range all the same
    # another model's start (other shape) is not compared
    assert layer_histogram("fc1", w, w0[:3]).initial_counts is None


def test_relative_distance_is_zero_at_the_start_and_grows_with_the_change():
    w0 = np.ones((4, 4), np.float32)
    assert relative_distance(w0, w0) == 0.0
    assert relative_distance(w0 * 1.1, w0) == pytest.approx(0.1, rel=1e-6)
    with pytest.raises(ValueError, match="cannot be compared"):
        relative_distance(w0, w0[:2])


def test_snapshot_copies_the_layer_weights_and_gradients():
    torch.manual_seed(0)
    model = build_model("cnn", 10)
    s = snapshot(model, 0)
    names = [n for n, m in model.named_children() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert list(s.weights) == names and s.grad_norms == {}
    conv = names[0]
    assert np.array_equal(s.weights[conv], getattr(model, conv).weight.detach().numpy())
    with torch.no_grad():
        getattr(model, conv).weight.add_(1.0)  # training goes on: the snapshot keeps what it had
    assert not np.array_equal(s.weights[conv], getattr(model, conv).weight.detach().numpy())
    model(torch.zeros(2, 1, 28, 28)).sum().backward()
    assert set(snapshot(model, 1).grad_norms) == set(names)


def test_train_reports_weights_at_the_start_and_after_each_epoch():
    snaps = []
    config = TrainConfig(arch="mlp", hidden=16, subset=512, epochs=2, batch_size=64, device="cpu")
    result = train(config, on_weights=snaps.append)
    assert [s.epoch for s in snaps] == [0, 1, 2]
    assert list(snaps[0].weights) == ["fc1", "fc2"] and snaps[0].grad_norms == {}
    assert all(g > 0 for g in snaps[1].grad_norms.values())
    # the last snapshot is the trained model's weights; the first its start
    final = result.predictor.layer_weights()
    assert np.array_equal(snaps[-1].weights["fc1"], final["fc1"])
    history = WeightHistory()
    for s in snaps:
        history.add(s)
    assert history.epochs == [0, 1, 2] and history.layers() == ["fc1", "fc2"]
    assert history.distances["fc1"][0] == 0.0
    assert 0 < history.distances["fc1"][1] < history.distances["fc1"][2]
    assert history.distances["fc2"][2] > 0
    # a new run starts a new history
    history.add(snaps[0])
    assert history.epochs == [0]


def test_train_without_on_weights_copies_nothing(monkeypatch):
    from mnist_desktop.model import weights

    monkeypatch.setattr(weights, "snapshot", lambda *a: pytest.fail("snapshot taken without on_weights"))
    train(TrainConfig(arch="linear", subset=256, epochs=1, batch_size=64, device="cpu"))
