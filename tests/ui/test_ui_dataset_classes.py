"""The panels ask the dataset for its classes: MNIST's for what shows MNIST, My digits' for
the buttons and menus that save a drawing into it."""

import pytest

from mnist_desktop.model.datasets import MnistDataset, MyDigitsDataset


@pytest.fixture
def five_classes(monkeypatch):
    """Datasets of five classes, to tell the dataset's classes from a written-in ten."""
    monkeypatch.setattr(MnistDataset, "classes", (0, 1, 2, 3, 4))
    monkeypatch.setattr(MyDigitsDataset, "classes", (5, 6, 7, 8, 9))


def test_panels_take_their_classes_from_the_dataset(qtbot, five_classes):
    from mnist_desktop.ui.data_view import DataViewPanel
    from mnist_desktop.ui.inspector import InspectorPanel
    from mnist_desktop.ui.number_mode import NumberPanel
    from mnist_desktop.ui.prediction import PredictionPanel

    prediction = PredictionPanel()
    qtbot.addWidget(prediction)
    assert [b.text() for b in prediction.correct_buttons] == ["5", "6", "7", "8", "9"]  # saved into My digits
    assert prediction.bars.classes == [0, 1, 2, 3, 4]  # before a model: the dataset's classes
    inspector = InspectorPanel()
    qtbot.addWidget(inspector)
    filters = [inspector.label_filter.itemData(i) for i in range(inspector.label_filter.count())]
    assert filters == [-1, 0, 1, 2, 3, 4]
    data = DataViewPanel()
    qtbot.addWidget(data)
    assert data.counts.columnCount() == 5 and [b.text() for b in data.mean_buttons] == ["0", "1", "2", "3", "4"]
    number = NumberPanel()
    qtbot.addWidget(number)
    assert number.classes == [0, 1, 2, 3, 4]
