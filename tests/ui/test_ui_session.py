"""The Session (the window's state without a widget) and panels bound to a Session alone:
no window, so each panel's reaction to the state is seen by itself."""

import numpy as np
import pytest
from PySide6.QtWidgets import QMainWindow
from ui_helpers import SEVEN_TOP, make_predictor, stroke

from mnist_desktop.model.numpy_forward import NumpyPredictor
from mnist_desktop.ui.docks import PANELS, Docks
from mnist_desktop.ui.panel import Panel
from mnist_desktop.ui.session import MODEL_HISTORY, Drawing, Session, is_torch_model


@pytest.fixture
def linear():
    return make_predictor("linear")


def test_set_model_keeps_a_bounded_history_and_previous_goes_back(qtbot, linear):
    session = Session()
    models = [make_predictor("linear", seed=i) for i in range(MODEL_HISTORY + 2)]
    with qtbot.waitSignal(session.modelChanged) as changed:
        session.set_model(models[0], "a.safetensors")
    assert changed.args == [models[0]] and session.history == []
    for m in models[1:]:
        session.set_model(m, unsaved=True)
    assert len(session.history) == MODEL_HISTORY and session.history[-1].predictor is models[-2]
    previous = session.previous_model()
    assert previous.predictor is models[-2] and session.predictor is models[-2] and session.active.unsaved
    session.mark_saved("b.safetensors")
    assert (session.active.source, session.active.unsaved) == ("b.safetensors", False)
    while session.previous_model() is not None:
        pass
    assert session.history == [] and session.predictor is models[1]  # models[0] fell out of the history


def test_torch_loaded_swaps_the_twin_in_without_history_then_says_ready(qtbot, linear):
    session = Session(torch_ready=False)
    numpy_model = NumpyPredictor.default()
    session.set_model(numpy_model)
    assert not is_torch_model(session.predictor) and is_torch_model(linear) and not is_torch_model(None)
    order = []
    session.modelChanged.connect(lambda p: order.append(("model", p)))
    session.torchReady.connect(lambda: order.append(("ready", session.torch_ready)))
    session.torch_loaded(linear, None)
    assert order == [("model", linear), ("ready", True)] and session.history == []


def test_every_registered_panel_follows_the_protocol_and_has_its_own_dock(qtbot, settings):
    window = QMainWindow()
    qtbot.addWidget(window)
    docks = Docks(window, Session(), settings)
    assert len(docks.docks) == len(PANELS) and len(docks.panels) < len(PANELS)  # those behind other tabs: built when asked for
    for name in docks.docks:
        docks.panel(name)
    for name, panel in docks.panels.items():
        assert isinstance(panel, Panel) and panel.dock.name == name
        assert docks.docks[name].objectName() == f"{name}_dock" and docks.docks[name].windowTitle() == panel.dock.title
    assert {e.dock.group for e in docks.panels.values()} == {"side", "bottom"}
    docks.shutdown()


def test_the_inspector_follows_the_session_drawing(qtbot, linear):
    from mnist_desktop.ui.inspector import InspectorPanel

    session = Session()
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    panel.bind(session)
    panel.show()
    session.set_model(linear)
    x28 = np.zeros((28, 28), np.float32)
    x28[10:18, 12:16] = 1.0
    session.set_drawing(Drawing(np.zeros((280, 280), np.uint8), x28, None))
    np.testing.assert_array_equal(panel.current_image(), x28)
    session.set_drawing(Drawing(np.zeros((280, 280), np.uint8), None, None))
    assert panel.current_image() is None and "draw a digit" in panel.stats.text()


def test_panels_waiting_for_torch_say_why_it_is_not_coming(qtbot):
    from mnist_desktop.ui.evaluation import EvaluationPanel
    from mnist_desktop.ui.nudge import LOADING, NudgePanel
    from mnist_desktop.ui.training import TrainingPanel

    session = Session(torch_ready=False)
    nudge, evaluation, training = NudgePanel(torch_ready=False), EvaluationPanel(), TrainingPanel(torch_ready=False)
    for panel in (nudge, evaluation, training):
        qtbot.addWidget(panel)
        panel.bind(session)
    session.set_model(NumpyPredictor.default())  # the numpy copy: they wait for the torch model
    assert nudge.status.text() == LOADING and "Loading PyTorch" in evaluation.status.text()
    session.torch_failed("PyTorch could not be loaded (no libtorch)")
    assert "nudging is not available" in nudge.status.text() and "evaluation is not available" in evaluation.status.text()
    assert "training is not available" in training.message.text()
    assert "stepping is not available" in training.stepper.message.text()
    for panel in (nudge, evaluation, training):
        panel.shutdown()


def test_activations_follow_the_session_model_and_drawing(qtbot, linear):
    from mnist_desktop.ui.activations import ActivationsPanel

    session = Session()
    panel = ActivationsPanel()
    qtbot.addWidget(panel)
    panel.bind(session)
    panel.show()
    panel.set_on_screen(True)
    session.set_model(linear)
    assert panel.panels  # one view per layer of the new model
    x28 = np.zeros((28, 28), np.float32)
    x28[6:22, 13:15] = 1.0
    session.set_drawing(Drawing(None, x28, None))
    np.testing.assert_array_equal(panel._last_input, x28)
    assert all(v.image.isVisible() for v in panel.panels.values())
    # No drawing: blank tiles (zeros drew black squares where a map runs dark to bright).
    session.set_drawing(Drawing())
    assert not any(v.image.isVisible() for v in panel.panels.values())
    first = next(iter(panel.panels))
    panel.select_layer(first)
    assert not panel.detail.image.isVisible()
    session.set_drawing(Drawing(None, x28, None))
    assert all(v.image.isVisible() for v in panel.panels.values()) and panel.detail.image.isVisible()


def test_a_panel_behind_another_tab_is_built_when_first_shown_with_the_state_and_connections_of_now(window, qtbot):
    d = window.dock_manager
    assert {"training", "activations", "weights"} <= d.panels.keys()  # in front at start, or following every run
    assert "inspector" not in d.panels and window.docks["inspector"].widget().objectName() == "inspector_placeholder"
    stroke(window.canvas, SEVEN_TOP)  # the state moves on before the panel exists
    qtbot.waitUntil(lambda: window.x28 is not None)
    window.docks["inspector"].raise_()  # shown: built, bound, told it is on screen
    panel = d.panels["inspector"]
    assert window.docks["inspector"].widget().widget() is panel  # in its scroll area
    np.testing.assert_array_equal(panel.current_image(), window.x28)  # the drawing as it is now
    panel.show_sample("train", 3)
    with qtbot.waitSignal(window.canvas.changed):
        panel._to_canvas()  # its connections to the window were made when it was built
    assert d.panel("inspector") is panel and window.inspector is panel  # built once
