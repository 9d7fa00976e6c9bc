"""The docked panels: the registry (one line per panel), where each group of docks goes in
each layout, and the loops that build the docks, tell panels when they are on screen and
shut them down."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QPoint, QRect, QSettings, QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QScrollArea, QTabBar

from .activations import ActivationsPanel
from .data_view import DataViewPanel
from .evaluation import EvaluationPanel
from .inspector import InspectorPanel
from .mydigits import MyDigitsPanel
from .nudge import NudgePanel
from .panel import Panel
from .preprocess_lab import PreprocessLabPanel
from .session import Session
from .settings import MY_DIGITS_FOLDER
from .sgd_toy import SgdToyPanel
from .similarity import SimilarityPanel
from .training import TrainingPanel
from .weights import WeightsPanel


def _my_digits_folder(settings: QSettings) -> str | None:
    folder = settings.value(MY_DIGITS_FOLDER)
    return folder if isinstance(folder, str) and folder else None


def _evaluation_panel(settings: QSettings) -> EvaluationPanel:
    panel = EvaluationPanel()
    panel.my_digits_folder = _my_digits_folder(settings)  # its reliability diagram reads the user's folder
    return panel


# The registry: one line per panel, in the order of the View menu and of each group's tabs
# (the first of a group is the tab in front at start). Each makes its panel from the session
# and the settings; the panel's class says where its dock goes (``Panel.dock``).
PANELS: tuple[Callable[[Session, QSettings], Panel], ...] = (
    lambda session, settings: TrainingPanel(torch_ready=session.torch_ready),
    lambda session, settings: _evaluation_panel(settings),
    lambda session, settings: MyDigitsPanel(_my_digits_folder(settings)),
    lambda session, settings: NudgePanel(torch_ready=session.torch_ready),
    lambda session, settings: SgdToyPanel(),
    lambda session, settings: ActivationsPanel(),
    lambda session, settings: InspectorPanel(),
    lambda session, settings: PreprocessLabPanel(),
    lambda session, settings: SimilarityPanel(),
    lambda session, settings: DataViewPanel(),  # last of its group: read when first shown
    lambda session, settings: WeightsPanel(),
)

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


class Docks:
    """The window's docks: one per panel, keyed by ``panel.dock.name``."""

    def __init__(self, window: QMainWindow, session: Session, settings: QSettings):
        self.applied: str | None = None  # the layout last applied ("wide", "compact"); None: a saved one
        self.window = window
        self.panels: dict[str, Panel] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.groups: dict[str, str] = {}  # dock name → its group in DOCK_LAYOUTS
        window.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        window.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks | QMainWindow.DockOption.AllowNestedDocks
        )
        for make in PANELS:
            self._add(make(session, settings))

    def _add(self, panel: Panel) -> None:
        entry = panel.dock
        dock = QDockWidget(entry.title, self.window, objectName=f"{entry.name}_dock")
        if entry.help:
            panel.setStatusTip(entry.help)
        if entry.scroll:  # a dock can shrink below its panel's natural size: scroll instead
            scroll = QScrollArea(objectName=f"{entry.name}_scroll")
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(panel)
            dock.setWidget(scroll)
        else:
            dock.setWidget(panel)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.window.addDockWidget(DOCK_LAYOUTS["wide"][entry.group][0], dock)
        dock.visibilityChanged.connect(panel.set_on_screen)  # the one loop that tells panels they are seen
        self.panels[entry.name] = panel
        self.docks[entry.name] = dock
        self.groups[entry.name] = entry.group

    def bind(self, session: Session) -> None:
        for panel in self.panels.values():
            panel.bind(session)

    def shutdown(self) -> None:
        """Stop every panel's background work and wait for it (before the window goes away)."""
        for panel in self.panels.values():
            panel.shutdown()

    def raise_(self, name: str) -> None:
        """Show dock ``name`` and bring its tab to the front."""
        self.docks[name].show()
        self.docks[name].raise_()

    def screen_rect(self, name: str) -> QRect | None:
        """Dock ``name``'s place on the screen (global coordinates), if it is shown."""
        dock = self.docks.get(name)
        if dock is None or not dock.isVisible():
            return None
        return QRect(dock.mapToGlobal(QPoint(0, 0)), dock.size())

    def view_action(self, name: str) -> QAction:
        """The View menu's entry for dock ``name``: checked while the dock is open. Choosing it shows
        and raises a closed dock or one behind another tab, and closes only a dock already in front
        (a dock's own toggleViewAction closes a background tab, which looks like nothing happened)."""
        dock = self.docks[name]
        toggle = dock.toggleViewAction()
        action = QAction(toggle.text(), dock, checkable=True, checked=toggle.isChecked(), objectName=f"view_{name}")
        toggle.toggled.connect(action.setChecked)

        def chosen() -> None:
            if toggle.isChecked() and not dock.visibleRegion().isEmpty():
                dock.close()
            else:
                self.raise_(name)
            action.setChecked(toggle.isChecked())

        action.triggered.connect(chosen)
        return action

    def apply_layout(self, name: str) -> None:
        """Put every dock where layout ``name`` says: groups that share an area share one tab
        stack, in the registry's order."""
        window, areas = self.window, DOCK_LAYOUTS[name]
        self.applied = name
        # Moving the docks shows every one of them for a moment: their panels that compute
        # only while on screen (evaluation, data, ...) are told afterwards which really are.
        blockers = [QSignalBlocker(dock) for dock in self.docks.values()]
        for dock in self.docks.values():
            dock.setFloating(False)
            window.removeDockWidget(dock)
        stacks: dict[Qt.DockWidgetArea, list[QDockWidget]] = {}
        for dock_name, dock in self.docks.items():
            area = areas[self.groups[dock_name]][0]
            stack = stacks.setdefault(area, [])
            if stack:
                window.tabifyDockWidget(stack[-1], dock)
            else:
                window.addDockWidget(area, dock)
            stack.append(dock)
            dock.show()
        for stack in stacks.values():
            stack[0].raise_()
        for area, stack in stacks.items():
            group = next(g for g, (a, _) in areas.items() if a == area)
            share = areas[group][1]
            if area in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea):
                window.resizeDocks([stack[0]], [int(share * window.width())], Qt.Orientation.Horizontal)
            else:
                window.resizeDocks([stack[0]], [int(share * window.height())], Qt.Orientation.Vertical)
        QApplication.sendPostedEvents(window, QEvent.Type.LayoutRequest)  # the tab bars as the new layout has them
        self.hide_stray_tab_bars()
        del blockers
        QTimer.singleShot(0, window, self.tell_on_screen)  # not after the window is gone

    def tell_on_screen(self) -> None:
        for dock in self.docks.values():
            dock.visibilityChanged.emit(dock.isVisible() and not dock.visibleRegion().isEmpty())

    def hide_stray_tab_bars(self) -> None:
        """Tabifying a third dock leaves the two-dock group's tab bar behind, visible in the
        middle of the window (Qt 6.11): hide every tab bar that is no current group's."""
        groups = set()
        for dock in self.docks.values():
            tabbed = self.window.tabifiedDockWidgets(dock)
            if tabbed:
                groups.add(frozenset([dock.windowTitle(), *(d.windowTitle() for d in tabbed)]))
        for bar in self.window.findChildren(QTabBar):
            if bar.parentWidget() is self.window:
                bar.setVisible(frozenset(bar.tabText(i) for i in range(bar.count())) in groups)
