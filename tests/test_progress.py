import math

import numpy as np
import pytest

from mnist_desktop.model.progress import BoundedSeries, TrainingProgress, format_duration
from mnist_desktop.model.training import BatchInfo, EpochInfo


def test_bounded_series_keeps_every_point_until_full_then_merges_pairs():
    s = BoundedSeries(capacity=8)
    for i in range(7):
        s.append(i, 10 * i)
    x, y = s.arrays()
    assert list(x) == list(range(7)) and s.per_point == 1
    for i in range(7, 1000):
        s.append(i, 10 * i)
    x, y = s.arrays()
    assert len(x) <= 8 and s.per_point > 1
    # merged points are means: a straight line stays the same straight line, in order
    np.testing.assert_allclose(y, 10 * x)
    assert np.all(np.diff(x) > 0) and x[0] < 250 and x[-1] > 900


def test_bounded_series_grows_logarithmically_not_linearly():
    s = BoundedSeries(capacity=100)
    for i in range(1_000_000):
        s.append(i, 1.0)
    assert len(s) <= 100


def _batch(step, loss=1.0, sps=1000.0, batch=64, total=100, per_epoch=10):
    epoch = (step - 1) // per_epoch + 1
    return BatchInfo(epoch, total // per_epoch, step, total, (step - 1) % per_epoch + 1, per_epoch, loss, 0.1, sps, 1.0, step * batch)


def test_speed_is_a_moving_average_over_seconds_and_time_left_follows_it():
    p = TrainingProgress(window=1.0)
    assert math.isnan(p.speed()) and format_duration(p.seconds_left()) == "?"
    for step in range(1, 21):  # 64 samples a step at 1000/s: 0.064 s a report
        p.add_batch(_batch(step, sps=1000.0))
    assert p.speed() == pytest.approx(1000.0)
    for step in range(21, 51):  # the machine got twice as fast: after ~1 s of reports only that counts
        p.add_batch(_batch(step, sps=2000.0))
    assert p.speed() == pytest.approx(2000.0, rel=0.1)
    assert p.seconds_left() == pytest.approx(50 * 64 / p.speed())


def test_smoothed_loss_is_the_debiased_moving_average():
    p = TrainingProgress(smoothing=0.5)
    for step, loss in enumerate([4.0, 2.0], start=1):
        p.add_batch(_batch(step, loss=loss))
    _, smooth = p.smoothed.arrays()
    assert smooth[0] == pytest.approx(4.0)  # debiased: the first value is itself
    assert smooth[1] == pytest.approx((0.5 * 0.5 * 4 + 0.5 * 2) / (1 - 0.25))
    p.add_epoch(EpochInfo(1, 10, 1.0, 0.9, 0.8, 1.0))
    assert p.epochs[0].valid_accuracy == 0.8


def test_format_duration():
    assert format_duration(5) == "0:05" and format_duration(3725) == "1:02:05" and format_duration(float("nan")) == "?"


def test_an_evaluation_of_a_stopped_epoch_sits_where_the_run_stopped():
    p = TrainingProgress()
    for step in range(1, 14):  # 10 batches an epoch: epoch 1 done, then 3 batches of epoch 2
        p.add_batch(_batch(step))
        if step == 10:
            p.add_epoch(EpochInfo(1, 10, 1.0, 0.9, 0.8, 1.0))
    p.add_epoch(EpochInfo(2, 10, 1.0, 0.9, 0.85, 1.0))  # stopped after batch 3 of epoch 2
    assert p.epoch_x == [1.0, pytest.approx(1.3)]


def test_a_run_far_slower_than_usual_says_so_and_why():
    from mnist_desktop.model.progress import speed_note, usual_speed

    assert speed_note(9_000, 20_000).startswith("Training runs at 45 % of this machine's usual speed for this model (9,000 vs 20,000")
    assert speed_note(11_000, 20_000) is None  # over half the usual: nothing to say
    assert speed_note(5_000, None) is None and speed_note(float("nan"), 20_000) is None  # nothing to compare with
    busy = speed_note(5_000, 20_000, load=3.9, cores=2)
    assert busy.startswith("Training runs at 25 % of this machine's usual speed") and "load 3.9 on 2 cores" in busy
    quiet = speed_note(5_000, 20_000, load=0.5, cores=2)
    assert "another program may be using the processor" in quiet and "load" not in quiet
    assert usual_speed(None, 1000.0) == 1000.0 and usual_speed(1000.0, 2000.0) == pytest.approx(1300.0)
