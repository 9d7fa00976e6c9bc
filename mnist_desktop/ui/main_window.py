"""The main window: canvas and prediction in the centre, docks for training, the tensor
inspector and activations; menus, toolbar, status bar and settings."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from html import escape
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QProcess, QSettings, QSignalBlocker, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QTextDocumentFragment
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QStyle,
    QTabBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import __version__
from mnist_desktop import model as engine
from mnist_desktop.model.numpy_forward import NumpyPredictor
from mnist_desktop.model.paths import is_inside_package, user_data_dir

from .activations import ActivationsPanel
from .canvas import MODEL_SIZE, Canvas
from .chapter import build_chapter_menu, train_with_accuracy_loss
from .data_view import DataViewPanel
from .evaluation import EvaluationPanel
from .inspector import InspectorPanel
from .mydigits import MyDigitsPanel
from .nudge import NudgePanel
from .prediction import PredictionPanel
from .preprocess_lab import PreprocessLabPanel
from .settings import (
    BRUSH,
    GEOMETRY,
    LAST_MODEL,
    MY_DIGITS_FOLDER,
    THEME,
    WINDOW_STATE,
    detached_copy,
    name_application,
    not_our_file,
    parse_setting,
)
from .theme import app_icon, install_theme_menu
from .torch_loading import UserIdleGate, import_torch_gently
from .training import TrainingPanel
from .weights import WeightsPanel

FALLBACK_KEYS = {
    QKeySequence.StandardKey.Quit: "Ctrl+Q",
    QKeySequence.StandardKey.Undo: "Ctrl+Z",
    QKeySequence.StandardKey.Redo: "Ctrl+Shift+Z",
    QKeySequence.StandardKey.Open: "Ctrl+O",
    QKeySequence.StandardKey.Save: "Ctrl+S",
    QKeySequence.StandardKey.Delete: "Del",
    QKeySequence.StandardKey.HelpContents: "F1",
}


class DockEntry(NamedTuple):
    """One dock: its key in ``MainWindow.docks`` (objectName ``<name>_dock``), title, panel and
    group (a key of each layout in DOCK_LAYOUTS); ``scroll``: wrap the panel in a scroll area;
    ``help``: the panel's plain-words explanation (its status tip)."""

    name: str
    title: str
    widget: QWidget
    group: str
    scroll: bool = True
    help: str = ""  # what the panel is for, in plain words: the help strip shows it on hover


# Where each group of docks goes, and the share of the window's width (side areas) or height
# (top/bottom) it starts with. Groups in one area share one tab stack. A small screen gets one
# stack on the right, so that every panel (the loss plot, all the activations) has the full height.
DOCK_LAYOUTS: dict[str, dict[str, tuple[Qt.DockWidgetArea, float]]] = {
    "wide": {"side": (Qt.DockWidgetArea.RightDockWidgetArea, 0.33), "bottom": (Qt.DockWidgetArea.BottomDockWidgetArea, 0.47)},
    "compact": {"side": (Qt.DockWidgetArea.RightDockWidgetArea, 0.56), "bottom": (Qt.DockWidgetArea.RightDockWidgetArea, 0.56)},
}
WIDE_LAYOUT_FROM = (1400, 860)  # the window's size (90 % of the screen at first start, at most 1400×920) for "wide"


def layout_for_size(width: int, height: int) -> str:
    return "wide" if width >= WIDE_LAYOUT_FROM[0] and height >= WIDE_LAYOUT_FROM[1] else "compact"


FRAME_S = 1 / 60  # the drawing is classified at most once per frame
STATE_VERSION = 2  # 2: docks placed by DOCK_LAYOUTS; an older saved layout gives way to it
MODEL_HISTORY = 5  # models Edit → Previous model can go back to
MODEL_FILTER = "mnist-desktop models (*.safetensors);;PyTorch state dicts (*.pt *.pth);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"

ABOUT = f"""<h3>mnist-desktop {__version__}</h3>
<p>Draw a digit, train a classifier, and look at the tensors inside it.</p>
<p>Training and test images: the <b>MNIST database of handwritten digits</b> by Yann LeCun,
Corinna Cortes and Christopher J. C. Burges (<a href="http://yann.lecun.com/exdb/mnist/">yann.lecun.com/exdb/mnist</a>),
made available under the terms of the Creative Commons Attribution-Share Alike 3.0 license.</p>
<p>The models and the order they come in follow chapter 4 of <i>Deep Learning for Coders
with fastai and PyTorch</i> (Howard &amp; Gugger).</p>"""


HELP_STRIP_IDLE = "Point at anything in the window to read here what it does."
INTRODUCTION = """<h3>Welcome</h3>
<p><b>Draw a digit</b> on the white canvas with the mouse. On the right, the model says which
digit it thinks it is and how sure it is, for each of the ten digits.</p>
<p>A <b>model</b> is a function with many numbers (its weights) inside. <b>Training</b> finds good
weights: it shows the model thousands of handwritten digits from MNIST, measures how wrong it is
(the <i>loss</i>) and nudges every weight a little to be less wrong, again and again. The
Training panel does this and draws the loss as it falls.</p>
<p><b>Activations</b> shows what each layer of the model makes of your drawing, from the pixels to
the final probabilities. The <b>Tensor inspector</b> shows the numbers themselves.</p>
<p>Point at anything: the strip at the bottom of the window says what it does.</p>"""


class MainWindow(QMainWindow):
    """The app's window. ``settings`` and ``predictor`` may be injected (tests); neither is required."""

    predictionUpdated = Signal()
    predictorChanged = Signal(object)
    torchReady = Signal()  # PyTorch has loaded and the active model is its torch twin (see torch_ready)
    onnxExported = Signal(bool, str)  # File → Export to ONNX ended: (succeeded, what it said)
    _torchLoaded = Signal(object)  # from the loading thread: (predictor, source, error) or an exception

    def __init__(self, settings: QSettings | None = None, predictor=None, parent: QWidget | None = None, torch_ready: bool = True):
        """``torch_ready=False`` (the app's start-up): nothing here imports torch. The window
        classifies with the model's numpy twin (``numpy_forward``); what needs torch (training,
        opening, saving, exporting models) shows that PyTorch is loading, until
        :meth:`load_torch_in_background` has imported it and swapped in the torch model."""
        super().__init__(parent)
        self.setObjectName("main_window")
        self.setWindowTitle("mnist-desktop")
        self.setWindowIcon(app_icon())  # also the About box's; set here too for a host app's QApplication
        if settings is None:
            app = QApplication.instance()
            if app is not None and not app.organizationName():  # a host app that did not name itself
                name_application(app)
            settings = QSettings()
        self._settings_refused = not_our_file(settings)
        if self._settings_refused:  # never written through: a session copy takes the changes
            settings, self._settings_folder = detached_copy(settings)
        self.settings = settings
        self.predictor = None
        self.model_source: str | None = None
        self.unsaved = False  # the active model came from training and was not saved
        self._previous: list[tuple] = []  # (predictor, source, unsaved): Edit → Previous model
        self.x28: np.ndarray | None = None
        self.probabilities: np.ndarray | None = None
        self._last_classify = 0.0
        self._closing = False
        self.torch_ready = torch_ready
        self._torch_threads: int | None = None
        self._torch_source: str | None = None  # the model the torch twin is loaded from
        self._loader: threading.Thread | None = None
        self._idle_gate: UserIdleGate | None = None  # watches for a pause while torch loads (torch_loading)
        self._export = None  # (QProcess, temporary folder) while an ONNX export runs
        if torch_ready:
            self._set_torch_threads()

        self.canvas = Canvas()
        self.prediction = PredictionPanel()
        self.training = TrainingPanel(torch_ready=torch_ready)
        self.inspector = InspectorPanel()
        self.activations = ActivationsPanel()
        self.evaluation = EvaluationPanel()
        folder = settings.value(MY_DIGITS_FOLDER)
        self.my_digits = MyDigitsPanel(folder if isinstance(folder, str) and folder else None)
        self.nudge = NudgePanel(torch_ready=torch_ready)  # chapter-4 lab: accuracy vs loss
        self.preprocess_lab = PreprocessLabPanel()  # chapter-4 lab: preprocessing recipes side by side
        self._fine_tuning = False

        self._build_central()
        self._build_docks()
        self._build_lab()  # the chapter-4 lab: preprocessing lab, saliency
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._build_chapter_lab()  # chapter-4 lab: Accuracy vs loss dock, Chapter 4 menu

        self._classify_timer = QTimer(self, singleShot=True)
        self._classify_timer.timeout.connect(self.classify)
        self.canvas.changed.connect(self._schedule_classify)
        self.canvas.imageRejected.connect(lambda msg: self._warn("Cannot use this image", msg))
        self.training.modelTrained.connect(self._on_model_trained)
        self.training.saveRequested.connect(self.save_model_dialog)
        self.predictorChanged.connect(self.training.set_active_predictor)
        self.training.started.connect(self._on_training_started)
        self.training.finished.connect(self._on_training_finished)
        self.inspector.toCanvas.connect(self.canvas.set_image)
        self._torchLoaded.connect(self._on_torch_loaded)
        self.predictorChanged.connect(self.evaluation.set_predictor)
        self.evaluation.inspectRequested.connect(self.inspect_sample)
        self.evaluation.toCanvas.connect(self.canvas.set_image)
        self.prediction.labelChosen.connect(self.save_my_digit)
        self.predictorChanged.connect(self.my_digits.set_predictor)
        self.my_digits.fineTuneRequested.connect(self.fine_tune_my_digits)
        self.my_digits.toCanvas.connect(self.canvas.set_image)
        self.my_digits.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.my_digits.folderChanged.connect(lambda path: self.settings.setValue(MY_DIGITS_FOLDER, path))

        self._restore_settings(predictor)  # ends in set_predictor, which classifies
        self.explain_widgets()
        self.predictorChanged.connect(lambda _p: self.explain_widgets(self.activations))  # its views are rebuilt
        app = QApplication.instance()
        if app is not None:  # app.quit() without closing the window must not leave the worker running
            app.aboutToQuit.connect(self._on_about_to_quit)
        if not torch_ready:
            # Installed last: its event filter sees every event, tens of thousands while the window is built.
            self._idle_gate = UserIdleGate(parent=self)

    @Slot()
    def _on_about_to_quit(self) -> None:
        if not self._closing:
            self.training.shutdown()
            self.evaluation.shutdown()
            self.nudge.shutdown()  # chapter-4 lab
            self.my_digits.shutdown()

    # ------------------------------------------------------------------ layout
    def _build_central(self) -> None:
        self.brush = QSlider(Qt.Orientation.Horizontal, objectName="brush_size", minimum=4, maximum=48)
        self.brush.setValue(round(self.canvas.brush_size * MODEL_SIZE))
        self.brush.setToolTip("Brush size. MNIST's strokes are about 2–3 pixels of 28 wide, i.e. 20–30 here.")
        self.brush.valueChanged.connect(lambda v: self.canvas.set_brush_size(v / MODEL_SIZE))
        self.brush_value = QLabel()
        self.brush.valueChanged.connect(lambda v: self.brush_value.setText(f"{v} px"))
        self.brush_value.setText(f"{self.brush.value()} px")
        self.eraser_button = QToolButton(objectName="eraser_button")

        row = QHBoxLayout()
        row.addWidget(QLabel("Brush"))
        row.addWidget(self.brush, 1)
        row.addWidget(self.brush_value)
        row.addWidget(self.eraser_button)  # undo, redo and clear are in the toolbar, once
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addLayout(row)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addLayout(left, 3)
        layout.addWidget(self.prediction, 2)
        self.prediction.setStatusTip("The model's answer for your drawing: how likely each class is.")
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.docks: dict[str, QDockWidget] = {}
        self.dock_groups: dict[str, str] = {}  # dock name → its group in DOCK_LAYOUTS
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks | QMainWindow.DockOption.AllowNestedDocks
        )
        # ---- the docks: one entry each. ``group`` says where it goes (DOCK_LAYOUTS); the first
        # dock of a group is the tab shown at start. scroll=False: the panel fits any size itself.
        for entry in (
            DockEntry(
                "training", "Training", self.training, "side", help="Train a model: choose what to learn and how, then watch the loss fall."
            ),
            DockEntry(
                "evaluation",
                "Evaluation",
                self.evaluation,
                "side",
                help="How well the active model does on MNIST's test images, and where it goes wrong.",
            ),
            DockEntry(
                "my_digits",
                "My digits",
                self.my_digits,
                "side",
                help="Digits you drew and labelled: test the model on them or fine-tune it.",
            ),
            DockEntry(
                "nudge",
                "Accuracy vs loss",
                self.nudge,
                "side",
                help="Move the model's weights a little and watch loss and accuracy: why accuracy cannot be a loss.",
            ),
            DockEntry(
                "activations",
                "Activations",
                self.activations,
                "bottom",
                scroll=False,
                help="What each layer of the model makes of your drawing.",
            ),
            DockEntry(
                "inspector", "Tensor inspector", self.inspector, "bottom", help="The numbers themselves: the 28×28 image the model gets."
            ),
            DockEntry(
                "preprocess_lab",
                "Preprocessing lab",
                self.preprocess_lab,
                "bottom",
                help="Your drawing made into 28×28 six ways, and what the model reads in each.",
            ),
        ):
            self._add_dock(entry)
        self.docks["inspector"].visibilityChanged.connect(lambda v: v and self.inspector.refresh())
        self.docks["activations"].visibilityChanged.connect(self.activations.set_on_screen)
        self.docks["evaluation"].visibilityChanged.connect(self.evaluation.set_on_screen)
        # Data and Weights docks
        # Last in their groups, so not the tab in front: Data beside Training (reads MNIST in a
        # thread when first shown), Weights beside Activations (histogram, distance from start).
        self.data_view = DataViewPanel()
        self.weights_view = WeightsPanel()
        for entry in (
            DockEntry(
                "data",
                "Data",
                self.data_view,
                "side",
                scroll=False,
                help="MNIST itself: how many images of each digit, the mean image of each, and all of them.",
            ),
            DockEntry(
                "weights",
                "Weights",
                self.weights_view,
                "bottom",
                scroll=False,
                help="A layer's weights as a histogram, and how far training moved them from where they started.",
            ),
        ):
            self._add_dock(entry)
        self.docks["data"].visibilityChanged.connect(self.data_view.set_on_screen)
        self.docks["weights"].visibilityChanged.connect(self.weights_view.set_on_screen)
        self.data_view.inspectRequested.connect(self.inspect_sample)
        self.data_view.toCanvas.connect(self.canvas.set_image)
        self.predictorChanged.connect(self.weights_view.set_predictor)
        self.training.started.connect(self.weights_view.run_started)
        self.training.weightsReported.connect(self.weights_view.add_snapshot)
        self.training.modelTrained.connect(self.weights_view.model_trained)
        self.training.finished.connect(self.weights_view.run_finished)
        self.activations.layerSelected.connect(self.weights_view.set_layer)  # one selected layer for both views

    def _add_dock(self, entry: "DockEntry") -> QDockWidget:
        dock = QDockWidget(entry.title, self, objectName=f"{entry.name}_dock")
        if entry.help:
            entry.widget.setStatusTip(entry.help)
        if entry.scroll:  # a dock can shrink below its panel's natural size: scroll instead
            scroll = QScrollArea(objectName=f"{entry.name}_scroll")
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(entry.widget)
            dock.setWidget(scroll)
        else:
            dock.setWidget(entry.widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(DOCK_LAYOUTS["wide"][entry.group][0], dock)
        self.docks[entry.name] = dock
        self.dock_groups[entry.name] = entry.group
        return dock

    def layout_name(self) -> str:
        """The default layout that fits this window: "compact" on a small screen, else "wide"."""
        return layout_for_size(self.width(), self.height())

    def apply_layout(self, name: str | None = None) -> None:
        """Put every dock where layout ``name`` (default: :meth:`layout_name`) says: groups
        that share an area share one tab stack, in the order the docks were added."""
        name = name or self.layout_name()
        areas = DOCK_LAYOUTS[name]
        # Moving the docks shows every one of them for a moment: their panels that compute
        # only while on screen (evaluation, data, ...) are told afterwards which really are.
        blockers = [QSignalBlocker(dock) for dock in self.docks.values()]
        for dock in self.docks.values():
            dock.setFloating(False)
            self.removeDockWidget(dock)
        stacks: dict[Qt.DockWidgetArea, list[QDockWidget]] = {}
        for dock_name, dock in self.docks.items():
            area = areas[self.dock_groups[dock_name]][0]
            stack = stacks.setdefault(area, [])
            if stack:
                self.tabifyDockWidget(stack[-1], dock)
            else:
                self.addDockWidget(area, dock)
            stack.append(dock)
            dock.show()
        for stack in stacks.values():
            stack[0].raise_()
        for area, stack in stacks.items():
            group = next(g for g, (a, _) in areas.items() if a == area)
            share = areas[group][1]
            if area in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea):
                self.resizeDocks([stack[0]], [int(share * self.width())], Qt.Orientation.Horizontal)
            else:
                self.resizeDocks([stack[0]], [int(share * self.height())], Qt.Orientation.Vertical)
        QApplication.sendPostedEvents(self, QEvent.Type.LayoutRequest)  # the tab bars as the new layout has them
        self._hide_stray_tab_bars()
        del blockers
        QTimer.singleShot(0, self._tell_docks_on_screen)

    @Slot()
    def _tell_docks_on_screen(self) -> None:
        for dock in self.docks.values():
            dock.visibilityChanged.emit(dock.isVisible() and not dock.visibleRegion().isEmpty())

    # ------------------------------------------------------------------ chapter-4 lab: accuracy vs loss, the Chapter 4 menu
    def _build_chapter_lab(self) -> None:
        """The Accuracy vs loss panel's links and the Chapter 4 menu (before Help); the dock is in _build_docks."""
        self.chapter_menu = build_chapter_menu(self)
        bar = self.menuBar()
        bar.insertMenu(bar.actions()[-1], self.chapter_menu)  # before Help
        self.predictorChanged.connect(self.nudge.set_predictor)
        self.nudge.trainWithAccuracyRequested.connect(lambda: train_with_accuracy_loss(self))
        first = next(iter(self.chapter_menu.stage_actions))
        self.chapter_path_action = self._action(
            "The &chapter-4 path",
            lambda: self.chapter_menu.go(first),
            (),
            "Walk through chapter 4 of the fastai book, stage by stage, in this window (also in the Chapter 4 menu)",
        )
        self.help_menu.insertAction(self.help_menu.actions()[2], self.chapter_path_action)  # after the introduction and shortcuts

    # ------------------------------------------------------------------ chapter-4 lab: preprocessing, saliency
    def _build_lab(self) -> None:
        """The preprocessing lab dock (tabified with the inspector and activations, computing
        only while on screen) and the saliency overlay (a frame after each prediction)."""
        self.docks["preprocess_lab"].visibilityChanged.connect(self.preprocess_lab.set_on_screen)
        self.preprocess_lab.set_source(self.canvas.image_array)
        self.predictionUpdated.connect(self.preprocess_lab.schedule)
        self.predictorChanged.connect(self.preprocess_lab.set_predictor)

        # Saliency is computed after the prediction is on screen (a zero timer runs after the
        # paint events already posted), never delaying it.
        self._saliency_timer = QTimer(self, singleShot=True, interval=0)
        self._saliency_timer.timeout.connect(self.update_saliency)
        self.prediction.saliency_toggle.toggled.connect(self._schedule_saliency)
        self.prediction.bars.classClicked.connect(self._on_saliency_class)
        self.predictionUpdated.connect(self._schedule_saliency)
        self.predictorChanged.connect(self._on_saliency_predictor)

    @Slot(object)
    def _on_saliency_predictor(self, predictor) -> None:
        available = predictor is not None and hasattr(predictor, "saliency")
        why = "Saliency needs PyTorch's gradients: available once PyTorch has loaded." if predictor is not None else "No model."
        self.prediction.set_saliency_available(available, why)
        if not available:
            self.inspector.set_saliency(None)

    @Slot(object)
    def _on_saliency_class(self, index) -> None:
        """A probability bar was clicked: explain that class (turning the overlay on)."""
        toggle = self.prediction.saliency_toggle
        if index is not None and toggle.isEnabled() and not toggle.isChecked():
            toggle.setChecked(True)  # schedules
        else:
            self._schedule_saliency()

    def _saliency_wanted(self) -> bool:
        return (
            self.prediction.saliency_toggle.isChecked()
            and self.x28 is not None
            and self.predictor is not None
            and hasattr(self.predictor, "saliency")
        )

    @Slot()
    def _schedule_saliency(self) -> None:
        if self._saliency_wanted():
            self._saliency_timer.start()
        else:
            self._saliency_timer.stop()
            # Called at every prediction: clear only an overlay that is there (clearing
            # redraws the preview show_prediction has just drawn).
            if self.prediction.saliency is not None:
                self.prediction.set_saliency(None)
            if self.inspector.saliency is not None:
                self.inspector.set_saliency(None)

    @Slot()
    def update_saliency(self) -> None:
        """The overlay for the current drawing and the chosen class (default: the top one), now."""
        if not self._saliency_wanted():
            self._schedule_saliency()
            return
        index = self.prediction.bars.selected
        if index is None or index >= len(self.predictor.classes):
            index = int(np.argmax(self.probabilities))
        saliency = self.predictor.saliency(self.x28, index)
        self.prediction.set_saliency(saliency, int(self.predictor.classes[index]))
        self.inspector.set_saliency(saliency)

    # ------------------------------------------------------------------ layout helpers
    def _hide_stray_tab_bars(self) -> None:
        """Tabifying a third dock leaves the two-dock group's tab bar behind, visible in the
        middle of the window (Qt 6.11): hide every tab bar that is no current group's."""
        groups = set()
        for dock in self.docks.values():
            tabbed = self.tabifiedDockWidgets(dock)
            if tabbed:
                groups.add(frozenset([dock.windowTitle(), *(d.windowTitle() for d in tabbed)]))
        for bar in self.findChildren(QTabBar):
            if bar.parentWidget() is self:
                bar.setVisible(frozenset(bar.tabText(i) for i in range(bar.count())) in groups)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._hide_stray_tab_bars()

    def _action(self, text: str, slot, shortcuts=(), tip: str = "", icon=None, checkable: bool = False) -> QAction:
        a = QAction(text, self)
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon) if isinstance(icon, QStyle.StandardPixmap) else icon)
        keys = []
        for s in shortcuts:
            if isinstance(s, QKeySequence.StandardKey):
                # the platform's binding; a few platforms have none for some keys (Quit)
                keys.extend(QKeySequence.keyBindings(s) or [QKeySequence(FALLBACK_KEYS.get(s, ""))])
            else:
                keys.append(QKeySequence(s))
        keys = [k for k in keys if not k.isEmpty()]
        if keys:
            a.setShortcuts(keys)
        if tip:
            a.setToolTip(tip + (f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})" if keys else ""))
            a.setStatusTip(tip)
        a.setCheckable(checkable)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        SP = QStyle.StandardPixmap
        self.clear_action = self._action(
            "&Clear drawing",
            self.canvas.clear,
            [Qt.Key.Key_Escape, QKeySequence.StandardKey.Delete],
            "Clear the canvas (undoable)",
            SP.SP_DialogResetButton,
        )
        self.undo_action = self._action(
            "&Undo stroke", self.canvas.undo, [QKeySequence.StandardKey.Undo], "Undo the last stroke", SP.SP_ArrowBack
        )
        self.redo_action = self._action(
            "&Redo stroke", self.canvas.redo, [QKeySequence.StandardKey.Redo], "Redo the stroke you undid", SP.SP_ArrowForward
        )
        self.undo_action.setEnabled(False)
        self.redo_action.setEnabled(False)
        self.canvas.undoAvailable.connect(self.undo_action.setEnabled)
        self.canvas.redoAvailable.connect(self.redo_action.setEnabled)
        self.eraser_action = self._action(
            "&Eraser", self.canvas.set_eraser, ["E"], "Draw with the eraser (the right mouse button always erases)", checkable=True
        )
        self.open_image_action = self._action(
            "Open &image…", self.open_image_dialog, ["Ctrl+I"], "Put an image file of a digit on the canvas", SP.SP_FileIcon
        )
        self.open_model_action = self._action(
            "&Open model…",
            self.open_model_dialog,
            [QKeySequence.StandardKey.Open],
            "Load a saved model and make it active",
            SP.SP_DialogOpenButton,
        )
        self.save_model_action = self._action(
            "&Save model…",
            self.save_model_dialog,
            [QKeySequence.StandardKey.Save],
            "Save the active model (safetensors)",
            SP.SP_DialogSaveButton,
        )
        self.export_onnx_action = self._action(
            "&Export to ONNX…",
            self.export_onnx_dialog,
            (),
            "Save the active model as ONNX, for a web page (ONNX Runtime Web) or other runtimes",
        )
        self.predictorChanged.connect(lambda p: self.export_onnx_action.setEnabled(p is not None and self.torch_ready))
        self.default_model_action = self._action(
            "Use the &bundled model", self.use_default_model, (), "Go back to the model that ships with the app"
        )
        self.previous_model_action = self._action(
            "&Previous model", self.previous_model, ["Ctrl+Alt+Z"], "Make the model that was active before this one active again"
        )
        self.previous_model_action.setEnabled(False)
        self.quit_action = self._action("&Quit", self.close, [QKeySequence.StandardKey.Quit], "Quit (stops training first)")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.train_action = self._action(
            "&Train", self.training.train, ["Ctrl+T"], "Train a model with the Training panel's settings", SP.SP_MediaPlay
        )
        self.stop_action = self._action(
            "S&top training", self._stop_training, ["Ctrl+."], "Stop training after this batch", SP.SP_MediaStop
        )
        self.stop_action.setEnabled(False)
        self.fine_tune_action = self._action(
            "&Fine-tune on my digits", self.fine_tune_my_digits, (), "Train the active model further on the digits in My digits"
        )
        # "That's not right — it is: d", with a modifier so that typing a digit in a spin box is not taken
        self.correct_actions = [
            self._action(
                f"Save the drawing as a {d}",
                lambda _c=False, d=d: self.save_my_digit(d),
                [f"Ctrl+Alt+{d}"],
                f"Save the drawing as a {d} in My digits",
            )
            for d in range(10)
        ]
        self.reset_layout_action = self._action("&Reset layout", self.reset_layout, (), "Put every panel back where it started")
        self.about_action = self._action("&About mnist-desktop", self.about, (), "Version and where MNIST comes from")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.introduction_action = self._action(
            "&Introduction",
            self.show_introduction,
            [QKeySequence.StandardKey.HelpContents],
            "What this app is for and where to start",
        )
        self.shortcuts_action = self._action(
            "&Keyboard shortcuts", self.show_shortcuts, (), "Every keyboard shortcut of the menus and the toolbar"
        )
        self.eraser_button.setDefaultAction(self.eraser_action)

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        m = bar.addMenu("&File")
        m.addActions(
            [self.open_image_action, self.open_model_action, self.save_model_action, self.export_onnx_action, self.default_model_action]
        )
        m.addSeparator()
        m.addAction(self.quit_action)
        m = bar.addMenu("&Edit")
        m.addActions([self.undo_action, self.redo_action, self.clear_action])
        m.addSeparator()
        m.addAction(self.eraser_action)
        m.addSeparator()
        m.addAction(self.previous_model_action)
        m = bar.addMenu("&Training")
        m.addActions([self.train_action, self.stop_action])
        m.addSeparator()
        m.addAction(self.fine_tune_action)
        m.addMenu("&Save the drawing as…").addActions(self.correct_actions)
        self.view_menu = bar.addMenu("&View")
        for dock in self.docks.values():
            a = dock.toggleViewAction()
            a.setStatusTip(f"Show or hide the {dock.windowTitle()} panel")
            self.view_menu.addAction(a)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.reset_layout_action)
        self.view_menu.addSeparator()  # View → Theme (System, Light, Dark): applied at once, remembered
        self.theme_menu = install_theme_menu(self.view_menu, self.settings, THEME)
        # Help: the Chapter 4 menu adds "The chapter-4 path" (_build_chapter_lab)
        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addActions([self.introduction_action, self.shortcuts_action])
        self.help_menu.addSeparator()
        self.help_menu.addAction(self.about_action)

        tb = self.addToolBar("Toolbar")
        tb.setObjectName("main_toolbar")
        self.toolbar = tb
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setIconSize(QSize(16, 16))
        tb.addActions([self.open_model_action, self.save_model_action])
        tb.addSeparator()
        tb.addActions([self.undo_action, self.redo_action, self.clear_action])
        tb.addSeparator()
        tb.addActions([self.train_action, self.stop_action])
        toggle = tb.toggleViewAction()
        toggle.setStatusTip("Show or hide the toolbar (open, save, undo, clear, train)")
        self.view_menu.insertAction(self.view_menu.actions()[len(self.docks)], toggle)

    def _build_status_bar(self) -> None:
        # The help strip: what the thing under the mouse does (its status tip; see event()).
        self.help_strip = QLabel(HELP_STRIP_IDLE, objectName="help_strip")
        self.help_strip.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.statusBar().addWidget(self.help_strip, 1)
        self.device_label = QLabel(objectName="device_label")
        self._show_device()
        self.device_label.setToolTip("Where training runs when the device is Auto. The canvas always predicts on the CPU.")
        self.model_label = QLabel(objectName="model_label")
        self.model_label.setToolTip("The active model: architecture, task and accuracy on MNIST's 10,000 test images.")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.device_label)

    def _show_device(self) -> None:
        if not self.torch_ready:
            self.device_label.setText("Loading PyTorch…")
            return
        try:
            device = str(engine.resolve_device("auto"))
        except (ValueError, RuntimeError):
            device = "cpu"
        self.device_label.setText(f"Device: {device.upper() if device != 'cpu' else 'CPU'}")

    # ------------------------------------------------------------------ PyTorch, loaded after the window
    def _set_torch_threads(self) -> None:
        import torch

        from .training_worker import train_threads

        # The GUI thread predicts one 28×28 image at a time: one thread is fastest and leaves
        # the other cores to the trainer (torch's OpenMP setting is per thread; the worker
        # sets its own, taken here first). Restored on close.
        train_threads()
        self._torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def _update_torch_actions(self) -> None:
        ready, has_model = self.torch_ready, self.predictor is not None
        for action in (self.open_model_action, self.default_model_action):
            action.setEnabled(ready)
        self.train_action.setEnabled(ready and not self.training.is_training())
        self.save_model_action.setEnabled(ready and has_model)
        self.export_onnx_action.setEnabled(ready and has_model)
        self.previous_model_action.setEnabled(ready and bool(self._previous))

    def load_torch_in_background(self) -> threading.Thread:
        """Import torch and load the torch twin of the start-up model in a thread; the window
        swaps it in when it is done (``torchReady``). Call once, after the window is shown."""
        if self._loader is None:
            self._loader = threading.Thread(target=self._load_torch, args=(self._torch_source,), name="torch-loader", daemon=True)
            self._loader.start()
        return self._loader

    def _load_torch(self, source: str | None) -> None:
        """In the loading thread: never touches a widget, reports by the queued ``_torchLoaded``."""
        try:
            import_torch_gently(self._idle_gate.wait if self._idle_gate is not None else None)
            error = None
            try:
                predictor = self._load_predictor(source)
            except Exception as e:  # noqa: BLE001 — whatever is on disk, the app starts
                if source is None:
                    raise
                predictor, source, error = self._load_predictor(None), None, e
            result = (predictor, source, error)
        except Exception as e:  # noqa: BLE001 — reported in the window, which keeps its numpy model
            result = e
        self._torchLoaded.emit(result)

    @Slot(object)
    def _on_torch_loaded(self, result) -> None:
        if self._idle_gate is not None:
            self._idle_gate.close()
        if self._closing:
            return
        if isinstance(result, Exception):
            why = f"PyTorch could not be loaded ({result})"
            self.training.show_message(f"{why}: training is not available.", error=True)
            self.training.stepper.show_message(f"{why}: stepping is not available.", error=True)
            # The panels that waited for the torch model say why it is not coming.
            for label, what in ((self.nudge.status, "nudging"), (self.evaluation.status, "evaluation")):
                label.setText(f"⚠ {why}: {what} is not available.")
                label.setVisible(True)
            self.device_label.setText("PyTorch not available")
            return
        predictor, source, error = result
        self.torch_ready = True
        self._set_torch_threads()
        self._show_device()
        self.training.set_torch_ready()
        if error is not None:
            self.statusBar().showMessage(f"Could not reopen the last model: {error}", 10000)
            self.settings.remove(LAST_MODEL)
        # The same weights in torch: the probabilities agree with numpy's to ~1e-7, the bars do not move.
        self._activate(predictor, source, self.unsaved)
        self.torchReady.emit()

    # ------------------------------------------------------------------ model
    def set_predictor(self, predictor, source: str | None = None, unsaved: bool = False) -> None:
        """Make ``predictor`` the active model of the canvas and every panel; the one it
        replaces is kept for Edit → Previous model."""
        if self.predictor is not None and predictor is not self.predictor:
            self._previous = [*self._previous, (self.predictor, self.model_source, self.unsaved)][-MODEL_HISTORY:]
        self._activate(predictor, source, unsaved)

    @Slot()
    def previous_model(self) -> bool:
        """Make the model that was active before the current one active again."""
        if not self._previous:
            return False
        *self._previous, (predictor, source, unsaved) = self._previous
        self._activate(predictor, source, unsaved)
        self.statusBar().showMessage(f"Previous model: {predictor.describe()}", 5000)
        return True

    def _activate(self, predictor, source: str | None, unsaved: bool) -> None:
        self.predictor = predictor
        self.model_source = source
        self.unsaved = unsaved
        if predictor is None:
            self.model_label.setText("No model — train one or open one")
        else:
            self.model_label.setText(f"Model: {predictor.describe()}")
            self.prediction.set_classes(predictor.classes)
        self._update_torch_actions()
        self.inspector.set_predictor(predictor)
        self.activations.set_predictor(predictor)
        self.predictorChanged.emit(predictor)
        self.classify()

    def _load_predictor(self, path: str | None):
        if path:
            return engine.Predictor.load(path)
        return engine.Predictor.default()

    def open_model(self, path: str) -> bool:
        try:
            predictor = self._load_predictor(path)
        except engine.MnistDesktopError as e:
            self._warn("Cannot open the model", str(e))
            return False
        self.set_predictor(predictor, path)
        self.settings.setValue(LAST_MODEL, str(path))
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save_model(self, path: str, predictor=None) -> str | None:
        """Save ``predictor`` (default: the active model) to ``path``; the saved path, or None
        (and a warning) if it cannot be saved there.

        A failed save changes nothing: the model stays and can be saved elsewhere.
        """
        predictor = predictor if predictor is not None else self.predictor
        if predictor is None:
            return None
        try:
            saved = predictor.save(path)
        except engine.MnistDesktopError as e:
            self._warn("Cannot save the model", f"{e} The model is still open and can be saved elsewhere.")
            return None
        if predictor is self.predictor:
            self.model_source = str(saved)
            self.unsaved = False
            self.settings.setValue(LAST_MODEL, str(saved))
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return str(saved)

    @Slot()
    def use_default_model(self) -> None:
        try:
            predictor = engine.Predictor.default()
        except engine.MnistDesktopError as e:
            self._warn("Cannot open the bundled model", str(e))
            return
        self.settings.remove(LAST_MODEL)
        self.set_predictor(predictor, None)

    @Slot()
    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self._model_dir(), MODEL_FILTER)
        if path:
            self.open_model(path)

    @Slot()
    def save_model_dialog(self, predictor=None) -> str | None:
        """Ask where to save ``predictor`` (default: the active model); the saved path or None."""
        predictor = predictor if predictor is not None else self.predictor
        if predictor is None:
            return None
        suggested = str(Path(self._model_dir()) / f"{predictor.arch}-{predictor.task}.safetensors")
        title = "Save model"
        while True:  # a place that cannot be written: say why (save_model warns) and ask again
            path, _ = QFileDialog.getSaveFileName(self, title, suggested, "mnist-desktop models (*.safetensors)")
            if not path:
                return None
            saved = self.save_model(path, predictor)
            if saved is not None:
                return saved
            title, suggested = "Save model: that place cannot be written, choose another", path

    @Slot()
    def export_onnx_dialog(self) -> str | None:
        """Ask where to export the active model as ONNX and start the export; the path, or None."""
        predictor = self.predictor
        if predictor is None:
            return None
        suggested = str(Path(self._model_dir()) / f"{predictor.arch}-{predictor.task}.onnx")
        path, _ = QFileDialog.getSaveFileName(self, "Export to ONNX", suggested, "ONNX models (*.onnx)")
        if not path:
            return None
        return path if self.export_onnx(path) else None

    def export_onnx(self, path: str) -> bool:
        """Export the active model to ``path`` in a separate process (``mnist-desktop export``);
        ``onnxExported`` tells the outcome. False if it could not start.

        torch's ONNX exporter imports ``torch._dynamo`` (~900 modules, sympy included): in
        this process that held the GIL, and froze the window, for 1–3 s. The model goes to
        the exporter as a temporary checkpoint, so an unsaved model exports too.
        """
        predictor = self.predictor
        if predictor is None or self._export is not None:
            return False
        folder = tempfile.TemporaryDirectory(prefix="mnist-desktop-export-")
        try:
            checkpoint = predictor.save(Path(folder.name) / "model.safetensors")
        except engine.MnistDesktopError as e:
            folder.cleanup()
            self._warn("Cannot export the model", str(e))
            return False
        process = QProcess(self)
        process.setProgram(sys.executable)
        process.setArguments(["-m", "mnist_desktop", "export", str(checkpoint), "--onnx", path])
        process.finished.connect(self._on_export_finished)
        process.errorOccurred.connect(lambda error: error == QProcess.ProcessError.FailedToStart and self._on_export_finished(-1))
        self._export = (process, folder)
        self.export_onnx_action.setEnabled(False)
        self.statusBar().showMessage(f"Exporting the {predictor.arch} model to ONNX…")
        process.start()
        return True

    @Slot()
    def _on_export_finished(self, code=-1, _status=None) -> None:
        if self._export is None:
            return
        process, folder = self._export
        self._export = None
        out = bytes(process.readAllStandardOutput().data()).decode(errors="replace").strip()
        err = bytes(process.readAllStandardError().data()).decode(errors="replace").strip()
        folder.cleanup()
        self.export_onnx_action.setEnabled(self.predictor is not None and self.torch_ready)
        if self._closing:
            return
        if code == 0:
            self.statusBar().showMessage(f"{out[:1].upper()}{out[1:]} (input: (N, 1, 28, 28) in [0, 1]; output: probabilities)", 10000)
            self.onnxExported.emit(True, out)
            return
        lines = err.splitlines() or [process.errorString()]
        message = lines[-1].removeprefix("mnist-desktop: error: ")
        self._warn("Cannot export the model", message)
        self.onnxExported.emit(False, message)

    @Slot()
    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self._last_dir(), IMAGE_FILTER)
        if path:
            self.canvas.open_image(path)

    def _last_dir(self) -> str:
        last = self.settings.value(LAST_MODEL)
        return str(Path(last).parent) if isinstance(last, str) and last and Path(last).parent.is_dir() else str(Path.home())

    def _model_dir(self) -> str:
        """Where the model dialogs start: the last model's folder, else the user's data folder
        (the engine's ``user_data_dir``, the folder the OS expects), never inside the package."""
        last = self.settings.value(LAST_MODEL)
        folder = Path(last).parent if isinstance(last, str) and last else None
        if folder is not None and folder.is_dir() and not is_inside_package(folder):
            return str(folder)
        try:
            return str(user_data_dir(create=True))
        except OSError:  # e.g. a read-only home: the dialog still opens, in the home folder
            return str(Path.home())

    @Slot(object)
    def _on_model_trained(self, predictor) -> None:
        self.set_predictor(predictor, None, unsaved=True)
        self.statusBar().showMessage("The trained model is active. File → Save model keeps it; Edit → Previous model undoes.", 8000)

    @Slot(int)
    def save_my_digit(self, label: int) -> str | None:
        """Save the drawing on the canvas into My digits as ``label``; its id, or None."""
        image = self.canvas.image_array()
        if not image.any():
            self.statusBar().showMessage("Nothing to save: draw a digit first.", 5000)
            return None
        return self.my_digits.add(image, label)

    @Slot()
    def fine_tune_my_digits(self) -> bool:
        """Fine-tune the active model on My digits in the training worker (live plot, Stop)."""
        self.my_digits.reload()
        why = self.my_digits.fine_tune_blocker() or (None if self.training.torch_ready else "PyTorch is still loading.")
        if why is not None or self.predictor is None or self.training.is_training():
            self.statusBar().showMessage(why or "Training is running.", 8000)
            return False
        from mnist_desktop.model import finetune  # torch: loaded by now

        task = self.my_digits.fine_tune_task(self.predictor)
        config = engine.continue_config(self.predictor, epochs=finetune.EPOCHS)
        self._fine_tuning = True
        base = self.predictor
        started = self.training.start(
            config, task=task, message=f"Fine-tuning {base.describe()} on My digits…", offer_if=lambda: self.predictor is not base
        )
        if not started:
            self._fine_tuning = False
            return False
        self.docks["training"].show()
        self.docks["training"].raise_()  # the live loss plot, progress and Stop
        return True

    @Slot(str, int)
    def inspect_sample(self, split: str, index: int) -> None:
        """Show MNIST ``split``'s digit ``index`` in the tensor inspector (raising its dock)."""
        self.inspector.show_sample(split, index)
        dock = self.docks["inspector"]
        dock.show()
        dock.raise_()

    @Slot()
    def _stop_training(self) -> None:
        self.training.stop()
        self.stop_action.setEnabled(False)

    @Slot()
    def _on_training_started(self) -> None:
        self.train_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        self.my_digits.set_busy(True)

    @Slot(object)
    def _on_training_finished(self, result) -> None:
        self.train_action.setEnabled(True)
        self.stop_action.setEnabled(False)
        self.my_digits.set_busy(False)
        if self._fine_tuning:
            self._fine_tuning = False
            self.my_digits.fine_tune_finished(result, offered=self.training.offered)
            dock = self.docks["my_digits"]
            dock.show()
            dock.raise_()  # before → after
        if result is None:
            self.statusBar().showMessage("Training failed; see the Training panel.", 8000)

    # ------------------------------------------------------------------ live classification
    @Slot()
    def _schedule_classify(self) -> None:
        if self._classify_timer.isActive():
            return  # coalesced: one classification per frame
        wait = FRAME_S - (time.perf_counter() - self._last_classify)
        self._classify_timer.start(max(0, int(wait * 1000)))

    @Slot()
    def classify(self) -> None:
        """Classify the drawing now and update the prediction, inspector and activations."""
        self._last_classify = time.perf_counter()
        image = self.canvas.image_array()
        try:
            x28 = engine.to_mnist(image)
        except engine.EmptyImageError:
            x28 = None
        self.x28 = x28
        if x28 is None:
            self.probabilities = None
            self.prediction.show_empty("Draw a digit on the canvas")
        elif self.predictor is None:
            self.probabilities = None
            self.prediction.show_empty("No model: train one (Training panel) or open one (File → Open model)")
        else:
            self.probabilities = self.predictor.predict(x28)
            self.prediction.show_prediction(self.predictor.classes, self.probabilities, x28)
        self.predictionUpdated.emit()
        self.inspector.set_drawing(x28, image.shape)
        self.activations.set_input(x28)

    # ------------------------------------------------------------------ settings
    def _restore_settings(self, predictor) -> None:
        s = self.settings
        refused = self.training.restore_settings(s)
        brush = s.value(BRUSH)
        if brush is not None:
            value = parse_setting(brush, self.brush)
            if value is None:
                refused.append(BRUSH)
            else:
                self.brush.setValue(value)
        if refused:
            self.statusBar().showMessage(
                f"Some saved settings could not be used and were reset to their defaults: {', '.join(refused)}.", 15000
            )
        if self._settings_refused or not s.isWritable():  # said now, not only when the window closes
            self._report_settings_not_saved()
        geometry = s.value(GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            screen = self.screen().availableGeometry()
            self.resize(min(1400, int(screen.width() * 0.9)), min(920, int(screen.height() * 0.9)))
        state = s.value(WINDOW_STATE)
        if not (isinstance(state, QByteArray) and not state.isEmpty() and self.restoreState(state, STATE_VERSION)):
            self.apply_layout()  # first start: the layout that fits the screen
        source = None
        if predictor is None and not self.torch_ready:
            # The window is up before torch: the start-up model's numpy twin classifies until
            # load_torch_in_background() brings the torch one. A file numpy cannot read (a .pt
            # state dict) waits for torch; the bundled model shows meanwhile.
            last = s.value(LAST_MODEL)
            self._torch_source = str(last) if isinstance(last, str) and last else None
            predictor = None
            if self._torch_source is not None and self._torch_source.endswith(".safetensors"):
                try:
                    predictor, source = NumpyPredictor.load(self._torch_source), self._torch_source
                except Exception:  # noqa: BLE001 — torch reports it, with the file's name, once loaded
                    predictor = None
            if predictor is None:
                predictor = NumpyPredictor.default()
        elif predictor is None:
            last = s.value(LAST_MODEL)
            for path in ([str(last)] if isinstance(last, str) and last else []) + [None]:
                try:
                    predictor = self._load_predictor(path)
                    source = path
                    break
                except Exception as e:  # noqa: BLE001 — whatever is on disk, the app starts
                    if path is not None:
                        self.statusBar().showMessage(f"Could not reopen the last model: {e}", 10000)
                        s.remove(LAST_MODEL)  # do not try (or point file dialogs at) it again
        self.set_predictor(predictor, source)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue(GEOMETRY, self.saveGeometry())
        s.setValue(WINDOW_STATE, self.saveState(STATE_VERSION))
        s.setValue(BRUSH, self.brush.value())
        self.training.save_settings(s)
        s.sync()
        if self._settings_refused or s.status() != QSettings.Status.NoError:
            self._report_settings_not_saved()

    def _report_settings_not_saved(self) -> None:
        if getattr(self, "_settings_error_shown", False):
            return  # said once, not at every save
        self._settings_error_shown = True
        where = self._settings_refused or self.settings.fileName() or "the settings store"
        self.statusBar().showMessage(f"Settings cannot be saved to {where}: the window's layout and choices will not be remembered.", 15000)

    @Slot()
    def reset_layout(self) -> None:
        """Every panel back in the default layout for this screen (see ``apply_layout``)."""
        self.toolbar.show()
        self.apply_layout()

    def ask_to_save(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel, for an unsaved trained model at quit (tests replace it)."""
        return QMessageBox.question(
            self,
            "Save the trained model?",
            f"The active model ({self.predictor.describe()}) was trained here and is not saved. Save it before quitting?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.unsaved and self.predictor is not None and not self._closing:
            answer = self.ask_to_save()
            if answer == QMessageBox.StandardButton.Cancel or (
                answer == QMessageBox.StandardButton.Save and self.save_model_dialog() is None
            ):
                event.ignore()
                return
        # Stop the worker and wait for it before anything is destroyed.
        self._closing = True
        self.training.shutdown()
        self.evaluation.shutdown()
        if self._export is not None:  # an ONNX export in progress: it writes nothing once killed
            self._export[0].kill()
            self._export[0].waitForFinished(3000)
        self.nudge.shutdown()  # chapter-4 lab
        self.my_digits.shutdown()  # an import or export in its thread
        self._classify_timer.stop()
        self._saliency_timer.stop()
        self.save_settings()
        if self._torch_threads is not None:
            sys.modules["torch"].set_num_threads(self._torch_threads)
        event.accept()

    # ------------------------------------------------------------------ dialogs
    def _warn(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal, does not block the event loop
        self.last_warning = message

    @Slot()
    def about(self) -> None:
        QMessageBox.about(self, "About mnist-desktop", ABOUT)

    # ------------------------------------------------------------------ help
    def event(self, event) -> bool:
        """Status tips (a hovered widget's, a menu item's) go to the help strip, so that the
        status bar's own messages (saved, failed) stay until their time is up."""
        if event.type() == QEvent.Type.StatusTip and hasattr(self, "help_strip"):
            tip = event.tip().replace("\n", " ")
            self.help_strip.setText(tip or HELP_STRIP_IDLE)
            self.help_strip.setToolTip(tip)
            return True
        return super().event(event)

    def explain_widgets(self, root: QWidget | None = None) -> None:
        """Every widget under ``root`` (default: the window) that has a tooltip but no status
        tip gets its tooltip as status tip, so that the help strip shows it on hover."""
        for w in (root or self).findChildren(QWidget):
            if not w.statusTip() and w.toolTip():
                w.setStatusTip(QTextDocumentFragment.fromHtml(w.toolTip()).toPlainText())

    def shortcut_list(self) -> list[tuple[str, str]]:
        """(action, its shortcuts) for every action of the window that has one, menu order."""
        rows = []
        for action in self.actions():
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            if keys:
                rows.append((action.text().replace("&", ""), keys))
        return rows

    def _help_dialog(self, name: str, title: str, html: str) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Information, title, "", QMessageBox.StandardButton.Ok, self)
        box.setObjectName(name)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(html)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal, does not block the event loop
        return box

    @Slot()
    def show_introduction(self) -> QMessageBox:
        return self._help_dialog("introduction", "Introduction", INTRODUCTION)

    @Slot()
    def show_shortcuts(self) -> QMessageBox:
        rows = "".join(f"<tr><td>{escape(text)}</td><td>&nbsp;&nbsp;<b>{escape(keys)}</b></td></tr>" for text, keys in self.shortcut_list())
        return self._help_dialog("keyboard_shortcuts", "Keyboard shortcuts", f"<table>{rows}</table>")
