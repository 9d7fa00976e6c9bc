"""The main window: the frame (the centre, the panels' docks, menus, toolbar, status bar, help
strip) and its settings. The state lives in the :class:`Session`, the panels in :mod:`docks`,
the canvas, the prediction and Number mode in :mod:`central`, model files in
:mod:`model_files`, runs started from the menus in :mod:`training_runs`."""

from __future__ import annotations

import threading

from PySide6.QtCore import QByteArray, QEvent, QSettings, QSize, Qt, Slot
from PySide6.QtGui import QCloseEvent, QShortcut
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QMainWindow, QMessageBox, QSizePolicy, QWidget

from . import help_texts
from .actions import build_actions
from .canvas import Canvas
from .captions import ElidedLabel
from .central import CentralArea
from .chapter import ChapterActions, build_chapter_menu, train_with_accuracy_loss
from .docks import Docks
from .model_files import ModelFiles
from .session import Session
from .settings import BRUSH, GEOMETRY, MY_DIGITS_FOLDER, THEME, WINDOW_STATE, detached_copy, name_application, not_our_file, parse_setting
from .status_tips import TooltipStatusTips
from .theme import app_icon, install_theme_menu
from .torch_loading import TorchStartup
from .training_runs import TrainingRuns

STATE_VERSION = 2  # 2: docks placed by docks.DOCK_LAYOUTS; an older saved layout gives way to it
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"


class MainWindow(QMainWindow):
    """The app's window. ``settings`` and ``predictor`` may be injected (tests); neither is required."""

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
        self.session = Session(torch_ready, parent=self)
        self.help_strip: QLabel | None = None  # built with the status bar; status tips go to it
        self.last_warning: str | None = None
        self._closing = False
        self._settings_error_shown = False
        self._hint: str | None = None  # the status message about the drawing, until the drawing changes
        self.torch = TorchStartup(self.session, settings, parent=self)

        self.dock_manager = Docks(self, self.session, settings)
        self.docks, self.dock_groups = self.dock_manager.docks, self.dock_manager.groups
        self.canvas = Canvas()
        self.centre = CentralArea(self.session, self.canvas, lambda image, label: self.my_digits.add(image, label))
        self.prediction, self.live, self.number_panel, self.number_mode = (
            self.centre.prediction,
            self.centre.live,
            self.centre.number_panel,
            self.centre.number_mode,
        )
        self.nearest_strip, self.nearest = self.centre.nearest_strip, self.centre.nearest
        self.runs = TrainingRuns(self.session, self.dock_manager, parent=self)
        self.files = ModelFiles(self.session, settings, parent=self)
        # The signals other code waits on, by the window's names for them.
        self.predictionUpdated = self.live.predictionUpdated  # the prediction panel shows the drawing's answer
        self.predictorChanged = self.session.modelChanged
        self.torchReady = self.session.torchReady  # PyTorch has loaded and the active model is its torch twin
        self.onnxExported = self.files.exportFinished  # File → Export to ONNX ended: (succeeded, what it said)

        self.brush, self.eraser_button = self.centre.drawing.brush, self.centre.drawing.eraser_button
        self.setCentralWidget(self.centre)
        build_actions(self)
        self.runs.set_actions(self.train_action, self.stop_action)
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._build_chapter_menu()
        self.session.modelChanged.connect(self._on_model_changed)  # the window's own parts first
        self.dock_manager.bind(self.session)
        self.live.bind_model()  # after the panels: the drawing is classified with the new model
        self._connect()

        self._restore_settings(predictor)  # ends in set_predictor, which classifies
        # every tooltip, as it is when hovered, in the help strip (panels built later and rebuilt views too)
        self.status_tips = TooltipStatusTips(self)
        app = QApplication.instance()
        if app is not None:  # app.quit() without closing the window must not leave the worker running
            app.aboutToQuit.connect(self._on_about_to_quit)
        self.torch.watch_user()  # last: it watches every event from now on

    def _connect(self) -> None:
        """What one part of the window tells another. A panel's own signals are connected when it
        is built (``on_built``); what goes to a panel builds it if it was not yet."""
        on_built, d = self.dock_manager.on_built, self.dock_manager
        self.canvas.imageRejected.connect(self._image_rejected)
        self.centre.hint.connect(self._drawing_hint)
        self.canvas.changed.connect(self._drawing_changed)
        self.centre.number_panel.digitSelected.connect(self._drawing_changed)
        for part in (self.files, self.centre, self.runs):
            part.message.connect(self.statusBar().showMessage)
        self.files.warning.connect(self._warn)
        self.files.exportRunning.connect(lambda _running: self._update_torch_actions())
        self.torch.deviceChanged.connect(self.device_label.setText)
        self.torch.message.connect(self.statusBar().showMessage)
        self.centre.numberModeChanged.connect(self.number_mode_action.setChecked)
        self.training.saveRequested.connect(lambda p: self.save_model_dialog(p))
        self.training.started.connect(self.weights_view.run_started)
        self.training.weightsReported.connect(self.weights_view.add_snapshot)
        self.training.modelTrained.connect(self.weights_view.model_trained)
        self.training.finished.connect(self.weights_view.run_finished)
        # The nearest digits' features wait while a model trains (see nearest.NearestDigits.hold_builds).
        self.training.started.connect(lambda: self.nearest.hold_builds(True))
        self.training.finished.connect(lambda _result: self.nearest.hold_builds(False))
        self.activations.layerSelected.connect(self.weights_view.set_layer)  # one selected layer for both views
        self.live.saliencyChanged.connect(
            lambda saliency: d.panels["inspector"].set_saliency(saliency) if "inspector" in d.panels else None
        )
        on_built("inspector", lambda p: p.set_saliency(self.prediction.saliency))
        on_built("preprocess_lab", lambda p: p.set_source(lambda: self.session.drawing.image))  # Number mode: the digit clicked
        for name in ("inspector", "evaluation", "my_digits", "data"):
            on_built(name, lambda p: p.toCanvas.connect(self.canvas.set_image))
        for name in ("evaluation", "data"):
            on_built(name, lambda p: p.inspectRequested.connect(self.inspect_sample))
        self.nearest_strip.sampleClicked.connect(lambda index: self.inspect_sample("train", index))
        self.prediction.labelChosen.connect(self.save_my_digit)
        on_built("my_digits", self._connect_my_digits)
        on_built("nudge", lambda p: p.trainWithAccuracyRequested.connect(lambda: train_with_accuracy_loss(self.chapter_menu.chapter)))

    def _connect_my_digits(self, panel) -> None:
        panel.fineTuneRequested.connect(self.runs.fine_tune_my_digits)
        panel.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        panel.folderChanged.connect(self._my_digits_folder_changed)

    @Slot(str)
    def _my_digits_folder_changed(self, path: str) -> None:
        """Remembered for the next start, and the reliability diagram reads the new folder now."""
        self.settings.setValue(MY_DIGITS_FOLDER, path)
        if "evaluation" in self.dock_manager.panels:  # one built later reads the setting
            self.evaluation.set_my_digits_folder(path)

    # ------------------------------------------------------------------ the panels, built when first asked for
    training = property(lambda self: self.dock_manager.panel("training"))
    evaluation = property(lambda self: self.dock_manager.panel("evaluation"))
    my_digits = property(lambda self: self.dock_manager.panel("my_digits"))
    nudge = property(lambda self: self.dock_manager.panel("nudge"))
    activations = property(lambda self: self.dock_manager.panel("activations"))
    inspector = property(lambda self: self.dock_manager.panel("inspector"))
    preprocess_lab = property(lambda self: self.dock_manager.panel("preprocess_lab"))
    data_view = property(lambda self: self.dock_manager.panel("data"))
    weights_view = property(lambda self: self.dock_manager.panel("weights"))

    # ------------------------------------------------------------------ the session's state, read here
    @property
    def predictor(self):
        return self.session.predictor

    @property
    def model_source(self) -> str | None:
        return self.session.active.source

    @property
    def unsaved(self) -> bool:
        """The active model came from training and was not saved."""
        return self.session.active.unsaved

    @property
    def torch_ready(self) -> bool:
        return self.session.torch_ready

    @property
    def x28(self):
        return self.session.drawing.x28

    @property
    def probabilities(self):
        return self.session.drawing.probabilities

    def classify(self) -> None:
        self.live.classify()

    @Slot()
    def _on_about_to_quit(self) -> None:
        if not self._closing:
            self.dock_manager.shutdown()
            self.centre.shutdown()

    # ------------------------------------------------------------------ the Chapter 4 menu
    def _build_chapter_menu(self) -> None:
        actions = ChapterActions(
            inspect_sample=self.inspect_sample,
            show_panel=self.dock_manager.raise_,
            set_training=self.training.set_up,
            train=lambda config, message: self.training.start(config, message=message),
            is_training=self.training.is_training,
            use_stepped_model=self.training.use_stepped_model,
            say=self.statusBar().showMessage,
            panel_rect=self.dock_manager.screen_rect,
        )
        self.chapter_menu = build_chapter_menu(self.session, actions, self)
        bar = self.menuBar()
        bar.insertMenu(bar.actions()[-1], self.chapter_menu)  # before Help
        self.chapter_path_action = self.chapter_menu.path_action
        self.help_menu.insertAction(self.help_menu.actions()[2], self.chapter_path_action)  # after the introduction and shortcuts

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.dock_manager.hide_stray_tab_bars()

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
        for name, dock in self.docks.items():
            a = self.dock_manager.view_action(name)
            a.setStatusTip(f"Show the {dock.windowTitle()} panel and bring it to the front (hide it when it is in front)")
            self.view_menu.addAction(a)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.number_mode_action)
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
        tb.addSeparator()
        tb.addAction(self.number_mode_action)
        toggle = tb.toggleViewAction()
        toggle.setStatusTip("Show or hide the toolbar (open, save, undo, clear, train)")
        self.view_menu.insertAction(self.view_menu.actions()[len(self.docks)], toggle)

    def _build_status_bar(self) -> None:
        # The help strip: what the thing under the mouse does (its status tip; see event()).
        self.help_strip = ElidedLabel(help_texts.STRIP_IDLE, objectName="help_strip")  # "…" where cut: the whole tip is its tooltip
        self.help_strip.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.statusBar().addWidget(self.help_strip, 1)
        self.device_label = QLabel(self.torch.device_text(), objectName="device_label")
        self.device_label.setToolTip("Where training runs when the device is Auto. The canvas always predicts on the CPU.")
        self.model_label = QLabel(objectName="model_label")
        self.model_label.setToolTip(
            "The active model: architecture, task and accuracy on MNIST's test images (all 10,000, or those of its classes:\n"
            "the 2,038 3s and 7s for 3 vs 7)."
        )
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.device_label)

    # ------------------------------------------------------------------ PyTorch, loaded after the window
    def _update_torch_actions(self) -> None:
        ready, has_model = self.torch_ready, self.predictor is not None
        for action in (self.open_model_action, self.default_model_action):
            action.setEnabled(ready)
        self.train_action.setEnabled(ready and not self.training.is_training())
        self.save_model_action.setEnabled(ready and has_model)
        self.export_onnx_action.setEnabled(ready and has_model and not self.files.exporting())
        self.previous_model_action.setEnabled(ready and bool(self.session.history))

    def load_torch_in_background(self) -> threading.Thread:
        """Import torch and load the torch twin of the start-up model in a thread; the window
        swaps it in when it is done (``torchReady``). Call once, after the window is shown."""
        self.torch.source = self.files.torch_source
        return self.torch.start()

    # ------------------------------------------------------------------ the active model
    def set_predictor(self, predictor, source: str | None = None, unsaved: bool = False) -> None:
        """Make ``predictor`` the active model; the one it replaces is kept for Edit → Previous model."""
        self.session.set_model(predictor, source, unsaved)

    @Slot()
    def previous_model(self) -> bool:
        """Make the model that was active before the current one active again."""
        previous = self.session.previous_model()
        if previous is not None:
            self.statusBar().showMessage(f"Previous model: {previous.predictor.describe()}", 5000)
        return previous is not None

    @Slot(object)
    def _on_model_changed(self, predictor) -> None:
        if predictor is None:
            self.model_label.setText("No model — train one or open one")
        else:
            self.model_label.setText(f"Model: {predictor.describe()}")
        self._update_torch_actions()

    @Slot()
    def save_model_dialog(self, predictor=None) -> str | None:
        """Ask where to save ``predictor`` (default: the active model); the saved path or None."""
        return self.files.save_model_dialog(predictor)

    @Slot()
    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self.files.last_dir(), IMAGE_FILTER)
        if path:
            self.canvas.open_image(path)

    @Slot(int)
    def save_my_digit(self, label: int) -> str | None:
        """Save the drawing (in Number mode: the selected digit) into My digits as ``label``; its id, or None."""
        return self.centre.save_drawing(label)

    @Slot()
    def fine_tune_my_digits(self) -> bool:
        return self.runs.fine_tune_my_digits()

    @Slot(str, int)
    def inspect_sample(self, split: str, index: int) -> None:
        """Show MNIST ``split``'s digit ``index`` in the tensor inspector (raising its dock)."""
        self.inspector.show_sample(split, index)
        self.dock_manager.raise_("inspector")

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
            self.resize(self.dock_manager.first_size())
        state = s.value(WINDOW_STATE)
        if not (isinstance(state, QByteArray) and not state.isEmpty() and self.restoreState(state, STATE_VERSION)):
            self.dock_manager.apply_layout()  # first start: the layout that fits the screen
        else:
            self.dock_manager.applied = self.dock_manager.layout_name()  # a saved layout, for the size it was saved at
        source = None
        if predictor is None:
            predictor, source = self.files.startup_model(self.torch_ready)
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
        if self._settings_error_shown:
            return  # said once, not at every save
        self._settings_error_shown = True
        where = self._settings_refused or self.settings.fileName() or "the settings store"
        self.statusBar().showMessage(f"Settings cannot be saved to {where}: the window's layout and choices will not be remembered.", 15000)

    @Slot(bool)
    def set_number_mode(self, on: bool) -> None:
        """Number mode on or off (the central area's); off gives the side panels back the width
        the wide number canvas took from them (QMainWindow keeps them squeezed otherwise)."""
        if on and not self.centre.number_mode.active:
            self.dock_manager.keep_side_widths()
        self.centre.set_number_mode(on)
        if not on:
            self.dock_manager.restore_side_widths()

    @Slot()
    def reset_layout(self) -> None:
        """Every panel back in the default layout for this screen (see ``apply_layout``)."""
        self.toolbar.show()
        self.dock_manager.apply_layout()

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
        # Stop the workers and wait for them before anything is destroyed.
        self._closing = True
        self.dock_manager.shutdown()
        self.files.shutdown()
        self.centre.shutdown()
        self.save_settings()
        self.torch.stop()
        event.accept()

    # ------------------------------------------------------------------ messages about the drawing
    @Slot(str, int)
    def _drawing_hint(self, text: str, ms: int) -> None:
        """A status message about the drawing ("Nothing to save: draw a digit first."), taken
        back as soon as the drawing or the selected digit changes: it said what was no longer so."""
        self.statusBar().showMessage(text, ms)
        self._hint = text

    @Slot(str)
    def _image_rejected(self, message: str) -> None:
        self._warn("Cannot use this image", message)
        self._hint = message  # stale once another image (or a stroke) is on the canvas

    @Slot()
    def _drawing_changed(self, *_) -> None:
        if self._hint is not None and self.statusBar().currentMessage() == self._hint:
            self.statusBar().clearMessage()
        self._hint = None

    # ------------------------------------------------------------------ dialogs
    def _warn(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal, does not block the event loop
        self.last_warning = message

    # ------------------------------------------------------------------ help
    def event(self, event) -> bool:
        """Status tips (a hovered widget's, a menu item's) go to the help strip, so that the
        status bar's own messages (saved, failed) stay until their time is up."""
        if event.type() == QEvent.Type.StatusTip and self.help_strip is not None:
            tip = event.tip().replace("\n", " ")
            self.help_strip.setText(tip or help_texts.STRIP_IDLE)
            self.help_strip.setToolTip(tip)
            return True
        return super().event(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab and Shift+Tab, as Qt moves the focus, but never into a dock behind another tab."""
        with self.dock_manager.covered_out_of_tab_order():
            return super().focusNextPrevChild(next)

    def shortcut_list(self) -> list[tuple[str, str]]:
        """(what it does, its keys) for every action of the window that has one, menu order, then
        the panels' own shortcuts (the Step mode's Space)."""
        return help_texts.shortcut_list(self.actions(), self.findChildren(QShortcut))

    @Slot()
    def about(self) -> None:
        QMessageBox.about(self, "About mnist-desktop", help_texts.ABOUT)

    def tab_titles(self) -> dict[str, str]:
        """Each panel's name as its tab says it now (short on a small screen)."""
        return {name: dock.windowTitle() for name, dock in self.docks.items()}

    @Slot()
    def show_introduction(self) -> QMessageBox:
        return help_texts.show_introduction(self, self.tab_titles())

    @Slot()
    def show_shortcuts(self) -> QMessageBox:
        return help_texts.show_dialog(self, "keyboard_shortcuts", "Keyboard shortcuts", help_texts.shortcuts_table(self.shortcut_list()))
