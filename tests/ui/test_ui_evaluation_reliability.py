"""The Evaluation dock's reliability diagram and corruption suite. A linear model keeps each
pass over the 10,000 test digits short; an untrained one spreads its confidence over many bins."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from ui_helpers import make_predictor

from mnist_desktop.model import calibration, corruption_suite, mnist_arrays
from mnist_desktop.model.corruptions import CORRUPTIONS


@pytest.fixture(scope="module")
def bundled():
    return make_predictor("linear")


def open_evaluation(window, qtbot, predictor):
    panel = window.evaluation
    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        window.set_predictor(predictor)
        window.docks["evaluation"].raise_()
    return panel


def test_reliability_diagram_is_the_calibration_of_the_test_set(window, qtbot, bundled):
    panel = open_evaluation(window, qtbot, bundled)
    panel.tabs.setCurrentIndex(panel.tabs.indexOf(panel.reliability_diagram.parentWidget()))
    diagram = panel.findChild(QWidget, "reliability_diagram")
    assert diagram.isVisible() and diagram.toolTip()
    images, labels = mnist_arrays("test")
    expected = calibration(bundled, images.copy(), labels)  # (the cached arrays are read-only)
    used = expected.count > 0
    x, y = panel.reliability_points.getData()
    np.testing.assert_allclose(x, 100 * expected.confidence[used], rtol=1e-5)
    np.testing.assert_allclose(y, 100 * expected.accuracy[used], rtol=1e-5)
    assert abs(panel.reliability["test"].ece - expected.ece) < 1e-6
    title = f"ECE {100 * expected.ece:.2f} % on 10,000 MNIST test digits"
    assert title in diagram.getPlotItem().titleLabel.text
    assert f"{100 * expected.ece:.2f} %" in panel.reliability_info.text()
    assert "rough" not in panel.reliability_info.text() and "rough" not in diagram.getPlotItem().titleLabel.text


def test_reliability_of_a_one_output_model_names_its_sigmoid(window, qtbot, bundled):
    """The chapter's 3-vs-7 models trained with mnist_loss have one output and a sigmoid (``Predictor``
    makes [1 - p, p]); the diagram's line said "softmax temperature" of every model."""
    from mnist_desktop.model import Predictor, build_model
    from mnist_desktop.model.checkpoints import make_metadata

    assert "(softmax temperature 1.00)" in open_evaluation(window, qtbot, bundled).reliability_info.text()
    sigmoid = Predictor(build_model("linear", 1), make_metadata("linear", {}, "3v7", "sigmoid", (0.1307, 0.3081)))
    panel = open_evaluation(window, qtbot, sigmoid)
    info = panel.reliability_info.text()
    assert sigmoid._sigmoid and "(sigmoid temperature 1.00)" in info and "softmax" not in info


def test_reliability_diagram_on_my_digits(window, qtbot, bundled, tmp_path):
    from mnist_desktop.model.mydigits import MyDigits

    images, labels = mnist_arrays("test")
    store = MyDigits(tmp_path / "digits")
    for i in range(40):
        store.add(images[i], int(labels[i]))
    panel = open_evaluation(window, qtbot, bundled)
    panel.my_digits_folder = tmp_path / "digits"
    with qtbot.waitSignal(panel.stageShown, timeout=30000, check_params_cb=lambda s: s == "mydigits"):
        panel.reliability_source.setCurrentIndex(panel.reliability_source.findData("mydigits"))
    expected = calibration(bundled, store.images(), store.labels())
    x, y = panel.reliability_points.getData()
    used = expected.count > 0
    np.testing.assert_allclose(x, 100 * expected.confidence[used], rtol=1e-5)
    np.testing.assert_allclose(y, 100 * expected.accuracy[used], rtol=1e-5)
    assert "on 40 of My digits" in panel.reliability_info.text()
    # 40 digits: said to be too few for the ECE to mean much, and by how much one digit moves it
    assert (
        "With only 40 digits this ECE is rough: one answer more or less right moves it by up to 2.5 points" in panel.reliability_info.text()
    )
    assert "(rough: few digits)" in panel.reliability_diagram.getPlotItem().titleLabel.text

    # none yet: says so, draws nothing
    panel.my_digits_folder = tmp_path / "none"
    with qtbot.waitSignal(panel.stageShown, timeout=30000, check_params_cb=lambda s: s == "mydigits"):
        panel.reliability_source.setCurrentIndex(0)
        panel.reliability_source.setCurrentIndex(1)
    assert panel.reliability_points.getData()[0] is None or len(panel.reliability_points.getData()[0]) == 0
    assert "no My digits yet" in panel.reliability_info.text()


def test_reliability_on_my_digits_follows_the_folder_change(window, qtbot, bundled, settings, tmp_path, monkeypatch):
    """The folder remembered from an earlier start (a str in the settings) is read; after My
    digits → Change… the diagram is drawn on the new folder's digits, not the old one's."""
    from PySide6.QtWidgets import QFileDialog

    from mnist_desktop.model.mydigits import MyDigits
    from mnist_desktop.ui.settings import MY_DIGITS_FOLDER

    images, labels = mnist_arrays("test")
    for name, count in (("old", 3), ("new", 2)):
        store = MyDigits(tmp_path / name)
        for i in range(count):
            store.add(images[i], int(labels[i]))
    settings.setValue(MY_DIGITS_FOLDER, str(tmp_path / "old"))
    my_digits = window.my_digits  # built reading the setting, as the evaluation panel is
    panel = open_evaluation(window, qtbot, bundled)
    panel.tabs.setCurrentIndex(panel.tabs.indexOf(panel.reliability_diagram.parentWidget()))
    with qtbot.waitSignal(panel.stageShown, timeout=30000, check_params_cb=lambda s: s == "mydigits"):
        panel.reliability_source.setCurrentIndex(panel.reliability_source.findData("mydigits"))
    assert "on 3 of My digits" in panel.reliability_info.text()

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "new"))
    with qtbot.waitSignal(panel.stageShown, timeout=30000, check_params_cb=lambda s: s == "mydigits"):
        my_digits.choose_folder()  # Change…
        assert "on 3 of" not in panel.reliability_info.text()  # the old folder's diagram is gone at once
    assert my_digits.count() == 2 and settings.value(MY_DIGITS_FOLDER) == str(tmp_path / "new")
    assert "on 2 of My digits" in panel.reliability_info.text()
    expected = calibration(bundled, MyDigits(tmp_path / "new").images(), MyDigits(tmp_path / "new").labels())
    np.testing.assert_allclose(panel.reliability_points.getData()[0], 100 * expected.confidence[expected.count > 0], rtol=1e-5)


def test_corruption_suite_fills_the_table_and_goes_with_the_model(window, qtbot, bundled):
    panel = open_evaluation(window, qtbot, bundled)
    panel.corruption_subset = 30
    run = panel.findChild(QWidget, "corruption_run")
    table = panel.findChild(QWidget, "corruption_table")
    assert run.isEnabled() and table.rowCount() == 0
    with qtbot.waitSignal(panel.stageShown, timeout=60000, check_params_cb=lambda s: s == "corruptions"):
        qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
        assert panel.corruption_cancel.isEnabled() and not run.isEnabled()
    expected = corruption_suite(bundled, *mnist_arrays("test"), subset=30, seed=0)
    assert table.rowCount() == len(CORRUPTIONS) + 1
    for r, (name, accuracy) in enumerate(expected.items()):
        assert table.item(r, 0).text() == name.replace("_", " ")
        assert table.item(r, 1).text() == f"{100 * accuracy:.1f}"
    assert table.item(len(expected), 0).text() == "mean"
    assert table.item(len(expected), 1).text() == f"{100 * np.mean(list(expected.values())):.1f}"
    assert "first 30 test digits" in panel.corruption_info.text()
    assert not panel.corruption_cancel.isEnabled()

    with qtbot.waitSignal(panel.evaluated, timeout=30000):
        window.set_predictor(make_predictor("linear", seed=1))  # the result described the other model
    assert table.rowCount() == 0 and panel.corruptions is None and run.isEnabled()


def test_corruption_suite_of_a_3_vs_7_model_counts_its_3s_and_7s(window, qtbot):
    """The chapter's 3-vs-7 models: the suite failed on the other digits ("Could not evaluate the
    model"); it measures the 3s and 7s among the first test digits, and says so."""
    model = make_predictor("linear", task="3v7")
    panel = open_evaluation(window, qtbot, model)
    panel.corruption_subset = 100
    with qtbot.waitSignal(panel.stageShown, timeout=60000, check_params_cb=lambda s: s == "corruptions"):
        panel.run_corruptions()
    images, labels = mnist_arrays("test")
    expected = corruption_suite(model, images, labels, subset=100, seed=0)
    assert [panel.corruption_table.item(r, 1).text() for r in range(len(expected))] == [f"{100 * a:.1f}" for a in expected.values()]
    used = int(np.isin(labels[:100], [3, 7]).sum())
    assert f"the {used:,} of its classes among the first 100 test digits" in panel.corruption_info.text()


def test_a_3_vs_7_model_is_said_to_be_measured_on_its_3s_and_7s(window, qtbot, bundled, monkeypatch):
    """The progress line said "Evaluating the 10,000 test digits…" and the robustness note "the
    first 1,000 test digits" for a 3-vs-7 model, which only its 3s and 7s measure (2,038 of them)."""
    from mnist_desktop.ui import evaluation

    said = []
    step = evaluation.EvaluationWorker._step
    monkeypatch.setattr(
        evaluation.EvaluationWorker, "_step", lambda self, done, total, text: said.append(text) or step(self, done, total, text)
    )
    _, labels = mnist_arrays("test")
    test, first = int(np.isin(labels, [3, 7]).sum()), int(np.isin(labels[:1000], [3, 7]).sum())
    assert test == 2038
    panel = open_evaluation(window, qtbot, make_predictor("linear", task="3v7"))
    assert f"Evaluating the {test:,} test digits that are 3s or 7s…" in said
    assert panel.robustness_note.text().startswith(f"Accuracy (%) on the {first:,} of the first 1,000 test digits that are 3s or 7s as ")
    assert f"measured on the {first:,} of the first 1,000 test digits that are 3s or 7s each" in panel.corruption_info.text()
    assert f"of {test:,} test digits right" in panel.status.text()
    # a model of all ten digits: all of them, as before
    said.clear()
    open_evaluation(window, qtbot, bundled)
    assert "Evaluating the 10,000 test digits…" in said
    assert panel.robustness_note.text().startswith("Accuracy (%) on the first 1,000 test digits as ")
    assert "measured on the first 1,000 test digits each" in panel.corruption_info.text()


def test_a_cancelled_corruption_suite_shows_nothing(window, qtbot, bundled, monkeypatch):
    import threading

    from mnist_desktop.ui import evaluation

    running, returned = threading.Event(), threading.Event()

    def held(*args, stop_event, **kwargs):
        """The real suite, once the test has pressed Cancel: the click lands while it runs."""
        running.set()
        stop_event.wait(30)
        try:
            return corruption_suite(*args, stop_event=stop_event, **kwargs)
        finally:
            returned.set()

    monkeypatch.setattr(evaluation, "corruption_suite", held)
    panel = open_evaluation(window, qtbot, bundled)
    seen = []
    panel.stageShown.connect(seen.append)
    qtbot.mouseClick(panel.corruption_run, Qt.MouseButton.LeftButton)
    # the worker reports the stage (a queued signal), then enters the suite: wait for both
    qtbot.waitUntil(lambda: running.is_set() and "Corruption suite" in panel.stage.text(), timeout=30000)
    assert panel.stage.isVisible()  # the stage under the bar, on one line ("…" where cut)
    assert panel.stage.toolTip() == panel.stage.full_text and "Corruption suite" in panel.stage.toolTip()  # whole
    qtbot.mouseClick(panel.corruption_cancel, Qt.MouseButton.LeftButton)
    assert "cancelled" in panel.corruption_info.text()
    # the cancelled run has ended and the rest (robustness curves) runs without the suite
    qtbot.waitUntil(lambda: returned.is_set() and panel._queued is None and panel.computing == 1, timeout=30000)
    assert "corruptions" not in seen and panel.corruption_table.rowCount() == 0 and panel.corruptions is None
    assert panel.corruption_run.isEnabled() and not panel.corruption_cancel.isEnabled()


def test_the_new_parts_fit_the_dock_at_1280x720(window, qtbot, bundled):
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QScrollArea

    window.resize(1280, 720)
    window.reset_layout()
    panel = open_evaluation(window, qtbot, bundled)
    panel.corruption_subset = 20
    with qtbot.waitSignal(panel.stageShown, timeout=60000, check_params_cb=lambda s: s == "corruptions"):
        panel.run_corruptions()
    viewport = window.docks["evaluation"].findChild(QScrollArea).viewport()

    def in_view(widget) -> bool:
        return viewport.rect().contains(QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size()))

    for page, parts in (
        (panel.reliability_diagram, (panel.reliability_source, panel.reliability_diagram, panel.reliability_info)),
        (panel.corruption_table, (panel.corruption_run, panel.corruption_cancel, panel.corruption_info, panel.corruption_table)),
    ):
        panel.tabs.setCurrentIndex(panel.tabs.indexOf(page.parentWidget()))
        qtbot.waitUntil(page.isVisible)
        for part in parts:
            assert in_view(part), part.objectName()  # nothing scrolled or cut off
    assert panel.reliability_diagram.height() >= 250
    assert not panel.corruption_table.verticalScrollBar().isVisible()  # all 15 and the mean in view


def test_each_evaluation_tab_is_its_parts_top_to_bottom_with_the_big_one_stretched(qtbot):
    from PySide6.QtWidgets import QLayout

    from mnist_desktop.ui.evaluation import EvaluationPanel

    panel = EvaluationPanel()
    qtbot.addWidget(panel)
    tabs = {panel.tabs.tabText(i): panel.tabs.widget(i) for i in range(panel.tabs.count())}
    assert list(tabs) == ["Confusion", "Top losses", "Threshold", "Reliability", "Robustness", "Corruptions", "Point map"]
    stretched = {
        "Top losses": panel.top_losses,
        "Threshold": panel.threshold_plot,
        "Reliability": panel.reliability_diagram,
        "Robustness": panel.robustness_view,
        "Corruptions": panel.corruption_table,
        "Point map": panel.point_map_view,
    }
    for title, big in stretched.items():
        layout = tabs[title].layout()
        assert layout.contentsMargins().left() == 0 and layout.contentsMargins().top() == 0, title
        for i in range(layout.count()):
            part = layout.itemAt(i)
            if part.widget() is not None:
                assert layout.stretch(i) == (1 if part.widget() is big else 0), (title, part.widget().objectName())
            else:
                assert isinstance(part.layout(), QLayout)
    # the rows of controls sit above what they act on
    reliability = tabs["Reliability"].layout()
    row = reliability.itemAt(0).layout()
    assert row.itemAt(1).widget() is panel.reliability_source and reliability.itemAt(1).widget() is panel.reliability_diagram
    corruptions = tabs["Corruptions"].layout()
    row = corruptions.itemAt(0).layout()
    assert [row.itemAt(i).widget() for i in range(2)] == [panel.corruption_run, panel.corruption_cancel]
    assert [corruptions.itemAt(i).widget() for i in (1, 2)] == [panel.corruption_info, panel.corruption_table]
