"""The tensor inspector and the activations panel show the real tensors."""

import numpy as np
from PySide6.QtCore import Qt
from ui_helpers import ONE, SEVEN_DOWN, SEVEN_TOP, make_predictor, settle, stroke

from mnist_desktop.model import load_mnist, to_mnist
from mnist_desktop.ui.activations import as_tiles, fitted_columns, mosaic


def test_inspector_values_equal_to_mnist(window, qtbot):
    inspector = window.findChild(type(window.inspector), "inspector")
    window.docks["inspector"].raise_()
    assert inspector.displayed_values() is None  # nothing drawn yet
    stroke(window.canvas, SEVEN_TOP)
    stroke(window.canvas, SEVEN_DOWN)
    settle(window, qtbot)
    x = to_mnist(window.canvas.image_array())
    inspector.set_mode("float")
    np.testing.assert_array_equal(inspector.displayed_values(), x)
    np.testing.assert_array_equal(inspector.grid.values, x)  # what the grid paints
    inspector.set_mode("uint8")
    np.testing.assert_array_equal(inspector.displayed_values(), np.round(x * 255).astype(np.uint8))
    assert "dtype uint8" in inspector.stats.text() and "max 255" in inspector.stats.text()
    inspector.set_mode("normalized")
    np.testing.assert_allclose(inspector.displayed_values(), window.predictor.normalize(x))
    assert "(1, 1, 28, 28)" in inspector.shapes.text() and "(280, 280)" in inspector.shapes.text()

    # it follows the drawing live
    stroke(window.canvas, ONE)
    settle(window, qtbot)
    inspector.set_mode("float")
    np.testing.assert_array_equal(inspector.grid.values, to_mnist(window.canvas.image_array()))


def test_the_inspectors_normalisation_is_the_models_own(window, qtbot):
    """It said "(x − mean) / std of the training set" for every model; pixel similarity's
    normalisation is the identity (mean 0, std 1): its "normalised" values are the floats."""
    from PySide6.QtWidgets import QRadioButton

    inspector = window.inspector
    window.docks["inspector"].raise_()
    button = inspector.findChild(QRadioButton, "mode_normalized")
    inspector.show_sample("test", 0)
    inspector.set_mode("float")
    x = inspector.displayed_values()
    for arch, same in [("pixel-similarity", True), ("cnn", False)]:
        window.set_predictor(make_predictor(arch))
        inspector.set_mode("normalized")
        np.testing.assert_allclose(inspector.displayed_values(), window.predictor.normalize(x))
        assert np.array_equal(inspector.displayed_values(), x) == same
        if same:
            assert "as they are" in button.toolTip() and "training" not in button.toolTip()
            assert "no normalisation (mean 0, std 1)" in inspector.shapes.text() and "normalise (x" not in inspector.shapes.text()
        else:
            assert "(x − 0.1307) / 0.3081, the mean and standard deviation of MNIST's training pixels" in button.toolTip()
            assert "normalise (x − 0.1307) / 0.3081" in inspector.shapes.text()


def test_inspector_dataset_samples(window):
    inspector = window.inspector
    images, labels = load_mnist("test")
    inspector.set_mode("uint8")
    inspector.show_sample("test", 0)
    np.testing.assert_array_equal(inspector.displayed_values(), images[0].numpy())
    assert inspector.sample_label == int(labels[0])
    inspector.show_sample("test", 3, label=7)  # the fourth 7 of the test set
    sevens = np.flatnonzero(labels.numpy() == 7)
    np.testing.assert_array_equal(inspector.displayed_values(), images[sevens[3]].numpy())
    assert inspector.sample_label == 7
    inspector.random_sample()
    assert inspector.sample_label == 7
    sample = inspector.displayed_values()
    inspector.canvas_button.click()  # classify the sample: it goes through the canvas like a drawing
    window.classify()
    np.testing.assert_array_equal(window.x28, to_mnist(window.canvas.image_array()))
    shown = window.canvas.image_array().reshape(28, 10, 28, 10).mean(axis=(1, 3))  # back to 28×28
    assert np.corrcoef(shown.ravel(), sample.ravel())[0, 1] > 0.95
    assert window.prediction.top_class is not None


def test_inspector_hover(window, qtbot):
    window.resize(1280, 720)  # room for the inspector beside the canvas (the compact layout's right side)
    window.reset_layout()
    inspector = window.inspector
    window.docks["inspector"].raise_()
    qtbot.waitUntil(inspector.grid.isVisible)
    inspector.show_sample("test", 0)
    inspector.set_mode("uint8")
    grid = inspector.grid
    assert inspector.fit_button.isChecked()  # the whole grid in view
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    seen = []  # the window settles its docks after showing: wait until the grid stays put

    def settled():
        seen.append(grid.mapTo(window, grid.rect().topLeft()))
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    qtbot.waitUntil(settled)
    cell = min(grid.width(), grid.height()) / 28
    x0, y0 = (grid.width() - 28 * cell) / 2, (grid.height() - 28 * cell) / 2
    from PySide6.QtCore import QPoint

    with qtbot.waitSignal(grid.hovered, timeout=1000) as blocker:
        qtbot.mouseMove(grid, QPoint(int(x0 + cell * 14.5), int(y0 + cell * 7.5)))
    row, col, value = blocker.args
    assert (row, col) == (7, 14)
    assert value == inspector.displayed_values()[7, 14]
    assert f"row 7, column 14: {value:.0f}" == inspector.hover.text()


def test_one_activation_panel_per_layer(window, qtbot):
    panel = window.findChild(type(window.activations), "activations")
    window.docks["activations"].raise_()
    stroke(window.canvas, ONE)
    settle(window, qtbot)
    expected = window.predictor.activations(window.x28)
    assert list(panel.panels) == list(expected)  # one per layer, in order
    conv1 = panel.panels["conv1"]
    tiles, _ = as_tiles(expected["conv1"])
    np.testing.assert_allclose(conv1.image.image, mosaic(tiles, conv1.columns), equal_nan=True)
    assert conv1.image.levels is not None
    assert "conv1" in panel.weight_panels  # the first convolution's filters

    # updated in place for a new stroke: same ImageItem, new data
    item = conv1.image
    stroke(window.canvas, SEVEN_TOP)
    settle(window, qtbot)
    assert panel.panels["conv1"].image is item
    tiles, _ = as_tiles(window.predictor.activations(window.x28)["conv1"])
    np.testing.assert_allclose(item.image, mosaic(tiles, panel.panels["conv1"].columns), equal_nan=True)


def test_fitted_columns_show_the_tiles_largest():
    assert fitted_columns(16, 24, 24, 400, 400) == 4  # a square view: the square grid
    assert fitted_columns(32, 24, 24, 900, 110) == 16  # a wide strip: two long rows
    assert fitted_columns(32, 24, 24, 110, 900) == 2  # a tall one: two columns
    assert fitted_columns(10, 28, 28, 2000, 60) == 10  # one row when the height is the limit
    assert fitted_columns(1, 5, 64, 10, 10) == 1
    for n, width, height in [(32, 900, 110), (64, 500, 300), (7, 300, 700), (16, 120, 36)]:
        scales = [min(width / (c * 25 - 1), height / (-(-n // c) * 25 - 1)) for c in range(1, n + 1)]
        best = fitted_columns(n, 24, 24, width, height)
        assert scales[best - 1] == max(scales)  # none larger (brute force)


def test_the_large_view_lays_the_maps_out_to_fit_its_shape(window, qtbot):
    """The selected layer's feature maps fill the large view: in a wide, low view a square grid
    of 16 maps (4×4) left each map a quarter of the view's height; in two long rows each map is
    about twice that, and a tall view gets a tall grid again."""
    panel = window.activations
    window.docks["activations"].raise_()
    stroke(window.canvas, ONE)
    settle(window, qtbot)
    panel.select_layer("conv1")
    tiles, _ = as_tiles(window.predictor.activations(window.x28)["conv1"])
    n, h, w = tiles.shape
    detail = panel.detail

    def on_screen() -> float:  # a map's side in pixels, as the locked-aspect view fits the image
        ih, iw = detail.image.image.shape
        return min(detail.view.width() / iw, detail.view.height() / ih) * w

    detail.view.setFixedSize(1000, 130)  # the wide layout's large view, about
    qtbot.waitUntil(lambda: detail.columns != 4)
    square = min(1000 / (4 * (w + 1) - 1), 130 / (4 * (h + 1) - 1)) * w
    assert detail.columns >= 8 and on_screen() >= 1.8 * square  # 64 px against 31
    np.testing.assert_allclose(detail.image.image, mosaic(tiles, detail.columns), equal_nan=True)  # the same maps, in order
    detail.view.setFixedSize(200, 700)
    qtbot.waitUntil(lambda: detail.columns <= 2)
    np.testing.assert_allclose(detail.image.image, mosaic(tiles, detail.columns), equal_nan=True)
    stroke(window.canvas, SEVEN_TOP)  # a new stroke keeps the fitted grid
    settle(window, qtbot)
    assert detail.image.image.shape == mosaic(tiles, detail.columns).shape and detail.columns <= 2


def test_laid_out_again_the_views_of_an_empty_canvas_stay_blank(window, qtbot):
    """With nothing drawn the layer views are blank (zeros looked like a broken picture); a view
    resized so that its grid changes must not show its placeholder again."""
    panel = window.activations
    window.docks["activations"].raise_()
    qtbot.waitUntil(panel.isVisible)
    assert window.x28 is None
    views = [*panel.panels.values(), panel.detail]
    assert not any(v.image.isVisible() for v in views)
    for width, height in ((1000, 130), (200, 700)):
        before = [v.columns for v in views]
        for v in views:
            v.view.setFixedSize(width, height)
        qtbot.waitUntil(lambda b=before: [v.columns for v in views] != b)  # laid out again…
        assert not any(v.image.isVisible() for v in views)  # …and still blank


def test_one_click_on_a_tile_selects_its_layer_once(window, qtbot):
    panel = window.activations
    window.docks["activations"].raise_()
    qtbot.waitUntil(panel.isVisible)
    tile = panel.panels["relu1"]
    clicks = []
    tile.clicked.connect(lambda: clicks.append("view"))
    qtbot.mouseClick(tile.view.viewport(), Qt.MouseButton.LeftButton)  # on the picture
    assert clicks == ["view"] and panel.selected_layer() == "relu1"
    qtbot.mouseClick(tile.title, Qt.MouseButton.LeftButton)  # on its title
    assert clicks == ["view", "view"]


def test_linear_model_shows_templates(window, qtbot):
    window.set_predictor(make_predictor("linear"))
    panel = window.activations
    assert list(panel.panels) == ["flatten", "fc"]
    fc = panel.weight_panels["fc"]
    w = window.predictor.layer_weights()["fc"]
    assert fc.image.image.shape == (28, 10 * 29 - 1)  # ten 28×28 templates side by side
    lo, hi = fc.levels
    assert lo == -hi  # diverging map, centred on zero
    np.testing.assert_allclose(fc.image.image[:, :28], w[0].reshape(28, 28))


def test_a_model_of_the_same_shape_reuses_the_activation_views(window, qtbot):
    from ui_helpers import make_predictor

    panel = window.activations
    window.set_predictor(make_predictor("linear", seed=1))
    views = dict(panel.weight_panels)
    before = panel.weight_panels["fc"].image.image.copy()
    window.set_predictor(make_predictor("linear", seed=2))  # a retrained model: same layers
    assert panel.weight_panels == views  # the very same widgets…
    assert not np.array_equal(panel.weight_panels["fc"].image.image, before)  # …showing the new weights
    window.set_predictor(make_predictor("cnn"))  # other layers: views rebuilt
    assert "fc" not in panel.weight_panels and set(panel.panels) != set()
    # the same layers with other channel counts (the bundled CNN's 32/64, the default recipe's
    # 16/32): the same widgets, showing images of the new shapes
    views = dict(panel.panels), dict(panel.weight_panels)
    shapes = {name: view.image.image.shape for name, view in panel.weight_panels.items()}
    window.set_predictor(make_predictor("cnn", channels1=8, channels2=16))
    assert (panel.panels, panel.weight_panels) == views
    assert all(view.image.image.shape != shapes[name] for name, view in panel.weight_panels.items())
    window.docks["activations"].raise_()  # it follows the drawing while on screen
    stroke(window.canvas, ONE)
    settle(window, qtbot)
    tiles, _ = as_tiles(window.predictor.activations(window.x28)["conv1"])
    assert len(tiles) == 8  # conv1's tile shows the new model's 8 maps
    np.testing.assert_allclose(panel.panels["conv1"].image.image, mosaic(tiles, panel.panels["conv1"].columns), equal_nan=True)


def test_the_inspectors_shape_steps_follow_the_kind_of_model(qtbot):
    """The step after (1, 1, 28, 28) is the model's first layer, as its architecture spec says."""
    from types import SimpleNamespace

    from mnist_desktop.ui.inspector import InspectorPanel

    inspector = InspectorPanel()
    qtbot.addWidget(inspector)
    steps = {}
    for arch in ("pixel-similarity", "linear", "mlp", "cnn"):
        inspector._predictor = SimpleNamespace(arch=arch)
        steps[arch] = inspector._shape_steps()
    assert all("view(-1, 784)" in steps[a] and "conv1" not in steps[a] for a in ("linear", "mlp"))
    assert "conv1 (N, C, H, W)" in steps["cnn"] and "view(-1, 784)" not in steps["cnn"]
    assert "view(-1, 784)" not in steps["pixel-similarity"] and "conv1" not in steps["pixel-similarity"]


def test_a_nets_first_layer_weights_are_called_hidden_units_not_classes(window):
    """The neural-net stage sends the learner to the 30 weight images of fc1: each is a hidden
    unit's, which feeds the ReLU, not a class's score."""
    window.set_predictor(make_predictor("mlp", task="3v7"))
    fc1 = window.activations.weight_panels["fc1"]
    assert "hidden unit" in fc1.toolTip() and "class's score" not in fc1.toolTip()
    window.set_predictor(make_predictor("linear"))
    assert "class's score" in window.activations.weight_panels["fc"].toolTip()
