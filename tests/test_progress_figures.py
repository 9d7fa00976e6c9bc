"""The figures the training panel prints and the accuracy axis's range (issue #10, item 3)."""

import math

from mnist_desktop.model.progress import accuracy_range, epoch_table, partial_note
from mnist_desktop.model.training import EpochInfo


def test_accuracy_range_separates_close_accuracies():
    lo, hi = accuracy_range([0.986, 0.990, 0.992])
    assert lo < 0.986 and hi > 0.992  # every point inside
    assert hi - lo < 0.02  # 98.6 % and 99.2 % are a third of the axis apart, not a hair
    assert (0.992 - 0.986) / (hi - lo) > 0.5


def test_accuracy_range_of_one_point_and_of_none():
    lo, hi = accuracy_range([0.95])
    assert lo < 0.95 < hi and hi - lo <= 0.01
    assert accuracy_range([1.0])[1] == 1.0 and accuracy_range([1.0])[0] < 1.0  # never above 100 %
    assert accuracy_range([]) == (0.0, 1.0)
    assert accuracy_range([math.nan]) == (0.0, 1.0)


def test_epoch_table():
    epochs = [EpochInfo(1, 2, 0.31234, 0.0712, 0.986, 12.34), EpochInfo(2, 2, 0.05, 0.04, 0.99215, 11.0)]
    rows = epoch_table(epochs)
    assert rows[0] == ("epoch", "train loss", "valid loss", "valid accuracy", "time")
    assert rows[1] == ("1/2", "0.3123", "0.0712", "98.60 %", "12.3 s")
    assert rows[2][3] == "99.22 %"
    # a model that minimises no loss (pixel similarity): no loss columns
    assert epoch_table(epochs[:1], losses=False) == [("epoch", "valid accuracy", "time"), ("1/2", "98.60 %", "12.3 s")]
    # a run stopped inside an epoch: that row is marked (it looked like a whole epoch), in a
    # cell as narrow as a whole epoch's, and the footnote says how many batches ran
    stopped = EpochInfo(1, 4, 0.3, 0.07, 0.9936, 2.3, 50, 97)
    assert epoch_table([stopped])[1][0] == "1/4*"
    assert partial_note([stopped]) == "* Stopped in epoch 1 after 50 of its 97 batches: its figures are of those batches."
    whole = EpochInfo(1, 4, 0.3, 0.07, 0.9936, 2.3, 97, 97)
    assert epoch_table([whole])[1][0] == "1/4" and partial_note([whole]) is None and partial_note([]) is None
    assert partial_note(epochs) is None  # figures of a run that did not say how many batches: whole epochs
