"""The docked panels: the registry (one line per panel), where each group of docks goes in
each layout, and the loops that build the docks, tell panels when they are on screen and
shut them down.

A panel is built when its dock first comes on screen, or when something asks for it
(:meth:`Docks.panel`); until then its dock holds an empty placeholder, so that the window
shows without building what is behind other tabs. The first panel of each group (the tab in
front of the default layouts) and those in ``EAGER`` are built with the window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSettings, QSignalBlocker, QSize, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QScrollArea, QTabBar, QWidget

from .activations import ActivationsPanel
from .data_view import DataViewPanel
from .evaluation import EvaluationPanel
from .inspector import InspectorPanel
from .mydigits import MyDigitsPanel
from .nudge import NudgePanel
from .panel import DockEntry, Panel
from .preprocess_lab import PreprocessLabPanel
from .session import Session
from .settings import MY_DIGITS_FOLDER
from .sgd_toy import SgdToyPanel
from .similarity import SimilarityPanel
from .training import TrainingPanel
from .weights import WeightsPanel

MakePanel = Callable[[Session, QSettings], Panel]


def _my_digits_folder(settings: QSettings) -> str | None:
    folder = settings.value(MY_DIGITS_FOLDER)
    return folder if isinstance(folder, str) and folder else None


def _evaluation_panel(settings: QSettings) -> EvaluationPanel:
    panel = EvaluationPanel()
    panel.my_digits_folder = _my_digits_folder(settings)  # its reliability diagram reads the user's folder
    return panel


# The registry: one line per panel, in the order of the View menu and of each group's tabs
# (the first of a group is the tab in front at start): the panel's class (its ``dock`` says
# where its dock goes) and how to make it from the session and the settings.
PANELS: tuple[tuple[type, MakePanel], ...] = (
    (TrainingPanel, lambda session, settings: TrainingPanel(torch_ready=session.torch_ready)),
    (EvaluationPanel, lambda session, settings: _evaluation_panel(settings)),
    (MyDigitsPanel, lambda session, settings: MyDigitsPanel(_my_digits_folder(settings))),
    (NudgePanel, lambda session, settings: NudgePanel(torch_ready=session.torch_ready)),
    (ActivationsPanel, lambda session, settings: ActivationsPanel()),
    (SgdToyPanel, lambda session, settings: SgdToyPanel()),
    (InspectorPanel, lambda session, settings: InspectorPanel()),
    (PreprocessLabPanel, lambda session, settings: PreprocessLabPanel()),
    (SimilarityPanel, lambda session, settings: SimilarityPanel()),
    (DataViewPanel, lambda session, settings: DataViewPanel()),  # last of its group: read when first shown
    (WeightsPanel, lambda session, settings: WeightsPanel()),
)
# Built with the window although behind another tab: the Weights panel records every
# training run's weights as it goes, seen or not.
EAGER = {"weights"}
RELAYOUT_MS = 250  # a resize that crosses the small-screen threshold is laid out again once it pauses this long

# Where each group of docks goes, and the share of the window's width (side areas) or height
# (top/bottom) it starts with. Groups in one area share one tab stack. A small screen gets one
# stack on the right, so that every panel (the loss plot, all the activations) has the full height.
DOCK_LAYOUTS: dict[str, dict[str, tuple[Qt.DockWidgetArea, float]]] = {
    "wide": {"side": (Qt.DockWidgetArea.RightDockWidgetArea, 0.33), "bottom": (Qt.DockWidgetArea.BottomDockWidgetArea, 0.43)},
    "compact": {"side": (Qt.DockWidgetArea.RightDockWidgetArea, 0.57), "bottom": (Qt.DockWidgetArea.RightDockWidgetArea, 0.57)},
}
WIDE_LAYOUT_FROM = (1400, 860)  # the window's size (90 % of the screen at first start, at most 1400×920) for "wide"


def layout_for_size(width: int, height: int) -> str:
    return "wide" if width >= WIDE_LAYOUT_FROM[0] and height >= WIDE_LAYOUT_FROM[1] else "compact"


def available_screen_size(widget: QWidget) -> QSize:
    """The room ``widget``'s screen gives windows (without the desktop's panels)."""
    return widget.screen().availableGeometry().size()


def first_window_size(available: QSize) -> QSize:
    """The window's size at its first start on a screen with ``available`` room: 90 % of a
    large screen (at most 1400×920); all of a small one, where 90 % (1152×648 on 1280×720)
    left the canvas ~200 px wide and cut every tab title."""
    size = QSize(min(1400, int(available.width() * 0.9)), min(920, int(available.height() * 0.9)))
    return size if layout_for_size(size.width(), size.height()) == "wide" else available


def whole_titles(bar: QTabBar) -> None:
    """Whole tab titles, scrolled with the bar's arrows when they do not all fit (a window under
    1280 px wide): elided they read "T…", "M…", "L…"."""
    bar.setElideMode(Qt.TextElideMode.ElideNone)
    bar.setUsesScrollButtons(True)


class Docks(QObject):
    """The window's docks: one per registered panel, keyed by ``panel.dock.name``; ``panels``
    holds those built so far."""

    def __init__(self, window: QMainWindow, session: Session, settings: QSettings):
        super().__init__(window)
        self.applied: str | None = None  # the layout last applied ("wide", "compact"); None: a saved one
        self.window, self.session, self.settings = window, session, settings
        self.panels: dict[str, Panel] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.groups: dict[str, str] = {}  # dock name → its group in DOCK_LAYOUTS
        self._entries: dict[str, tuple[DockEntry, MakePanel]] = {}
        self._hooks: dict[str, list[Callable[[Panel], None]]] = {}
        self._bound = False
        self.relayout = QTimer(self, singleShot=True, interval=RELAYOUT_MS)
        self.kept_widths: dict[QDockWidget, int] = {}  # see keep_side_widths
        self.relayout.timeout.connect(lambda: self.apply_layout())
        window.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        window.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks | QMainWindow.DockOption.AllowNestedDocks
        )
        for kind, make in PANELS:
            self._add(kind.dock, make)
        fronts = {}
        for name, group in self.groups.items():
            fronts.setdefault(group, name)
        for name in self.docks:
            if name in EAGER or name in fronts.values():
                self.panel(name)
        window.installEventFilter(self)

    def _add(self, entry: DockEntry, make: MakePanel) -> None:
        dock = QDockWidget(entry.title, self.window, objectName=f"{entry.name}_dock")
        dock.setWidget(QWidget(objectName=f"{entry.name}_placeholder"))  # until the panel is built
        if entry.help:
            dock.widget().setStatusTip(entry.help)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.window.addDockWidget(DOCK_LAYOUTS["wide"][entry.group][0], dock)
        dock.visibilityChanged.connect(lambda shown, name=entry.name: self._on_visibility(name, shown))
        self._entries[entry.name] = (entry, make)
        self.docks[entry.name] = dock
        self.groups[entry.name] = entry.group

    def panel(self, name: str) -> Panel:
        """Panel ``name``, built now if it was not yet."""
        panel = self.panels.get(name)
        return panel if panel is not None else self._build(name)

    def on_built(self, name: str, hook: Callable[[Panel], None]) -> None:
        """Call ``hook(panel)`` once panel ``name`` is built: now if it is (its connections to
        the rest of the window go here, so that they are made whenever it is built)."""
        self._hooks.setdefault(name, []).append(hook)
        if name in self.panels:
            hook(self.panels[name])

    def _build(self, name: str) -> Panel:
        entry, make = self._entries[name]
        panel = make(self.session, self.settings)
        if entry.help:
            panel.setStatusTip(entry.help)
        dock = self.docks[name]
        placeholder = dock.widget()
        if entry.scroll:  # a dock can shrink below its panel's natural size: scroll instead
            scroll = QScrollArea(objectName=f"{entry.name}_scroll")
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(panel)
            dock.setWidget(scroll)
        else:
            dock.setWidget(panel)
        placeholder.deleteLater()
        self.panels[name] = panel
        if self._bound:  # built after the window: it reads the session's state and is told whether it is seen
            panel.bind(self.session)
            panel.set_on_screen(self._on_screen(dock))
        for hook in self._hooks.get(name, []):
            hook(panel)
        return panel

    def _on_visibility(self, name: str, shown: bool) -> None:
        """The one place that tells panels they are seen; a panel not built yet is built when it first is."""
        panel = self.panels.get(name)
        focus = QApplication.focusWidget()
        if not shown and focus is not None and self.docks[name].isAncestorOf(focus):
            focus.clearFocus()  # keys typed now must not change what went behind another tab
        if panel is None and shown and self._bound:
            self._build(name)  # tells it
        elif panel is not None:
            panel.set_on_screen(shown)

    @staticmethod
    def _on_screen(dock: QDockWidget) -> bool:
        return dock.isVisible() and not dock.visibleRegion().isEmpty()

    def covered(self) -> list[QDockWidget]:
        """The docks in the window that Qt counts as visible but nobody sees: behind another tab."""
        return [d for d in self.docks.values() if d.isVisible() and not d.isFloating() and d.visibleRegion().isEmpty()]

    @contextmanager
    def covered_out_of_tab_order(self) -> Iterator[None]:
        """Within it, the widgets of covered docks take no Tab focus. Qt 6 keeps a dock behind
        another tab visible (only covered), so its widgets stayed in the focus chain: Tab went
        from the Activations tiles into the hidden Weights panel, and the arrow keys changed its
        layer unseen. The window moves the focus inside this, with Qt's own rules otherwise.

        Only widgets without a focus proxy are changed: Qt judges one with a proxy by its proxy's
        policy, and setting its policy would set the proxy's too (a plot's viewport passed its
        StrongFocus on to its plot widget)."""
        kept = [
            (w, w.focusPolicy())
            for dock in self.covered()
            for w in dock.findChildren(QWidget)
            if w.focusPolicy() & Qt.FocusPolicy.TabFocus and w.focusProxy() is None
        ]
        for w, _policy in kept:
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        try:
            yield
        finally:
            for w, policy in kept:
                w.setFocusPolicy(policy)

    @property
    def entries(self) -> dict[str, DockEntry]:
        """Every registered dock's entry, built or not."""
        return {name: entry for name, (entry, _make) in self._entries.items()}

    def first_size(self) -> QSize:
        """The window's size at its first start, for its screen (:func:`first_window_size`)."""
        return first_window_size(available_screen_size(self.window))

    def bind(self, session: Session) -> None:
        """Bind the panels built so far; those built later are bound as they are built."""
        for panel in self.panels.values():
            panel.bind(session)
        self._bound = True

    def shutdown(self) -> None:
        """Stop every built panel's background work and wait for it (before the window goes away)."""
        self.relayout.stop()
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
        action = QAction(self.entries[name].title, dock, checkable=True, checked=toggle.isChecked(), objectName=f"view_{name}")
        toggle.toggled.connect(action.setChecked)

        def chosen() -> None:
            if toggle.isChecked() and not dock.visibleRegion().isEmpty():
                dock.close()
            else:
                self.raise_(name)
            action.setChecked(toggle.isChecked())

        action.triggered.connect(chosen)
        return action

    def layout_name(self) -> str:
        """The default layout that fits the window: "compact" on a small screen, else "wide"."""
        return layout_for_size(self.window.width(), self.window.height())

    def eventFilter(self, obj, event) -> bool:
        """A window resized across the small-screen threshold is laid out for its new size (once
        the resizing pauses): the wide layout squeezed into 1280×720 cut the loss plot off. A
        tab bar the window makes later (docks dragged into a new stack) gets whole titles too."""
        if obj is self.window and event.type() == QEvent.Type.Resize and self.applied not in (None, self.layout_name()):
            self.relayout.start()
        elif obj is self.window and event.type() == QEvent.Type.ChildPolished and isinstance(event.child(), QTabBar):
            whole_titles(event.child())
        return super().eventFilter(obj, event)

    def apply_layout(self, name: str | None = None) -> None:
        """Put every dock where layout ``name`` (default: :meth:`layout_name`) says: groups that
        share an area share one tab stack, in the registry's order."""
        self.relayout.stop()
        name = name or self.layout_name()
        window, areas = self.window, DOCK_LAYOUTS[name]
        self.applied = name
        self.kept_widths = {}  # widths of the layout before: not to be put back into this one
        # Moving the docks shows every one of them for a moment: their panels that compute
        # only while on screen (evaluation, data, ...) are told afterwards which really are.
        blockers = [QSignalBlocker(dock) for dock in self.docks.values()]
        self.name_tabs()  # before the tab bars are made: they take the titles
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

    def keep_side_widths(self) -> None:
        """Remember the width of each dock stack in the left or right area (one dock a stack:
        resizing every tab of a stack would share the width out among them), for
        :meth:`restore_side_widths`; forgotten when a layout is applied."""
        sides = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
        widths, seen = {}, set()
        for d in self.docks.values():
            if d in seen or not d.isVisible() or d.isFloating() or self.window.dockWidgetArea(d) not in sides:
                continue
            seen.update(self.window.tabifiedDockWidgets(d))
            widths[d] = d.width()
        self.kept_widths = widths

    def _front_of_stack(self, dock: QDockWidget) -> QDockWidget:
        """The dock of ``dock``'s tab stack that is on screen (the raised tab), else ``dock``.
        Qt 6 keeps the other tabs visible, only covered, and resizing a covered dock does
        nothing: the width must go to the raised one."""
        stack = [dock, *self.window.tabifiedDockWidgets(dock)]
        return next((d for d in stack if self._on_screen(d)), dock)

    def restore_side_widths(self) -> None:
        """Give back the width a stack lost since :meth:`keep_side_widths` (the wide number canvas
        took it), once the window has laid out what changed; a stack now as wide or wider (the
        user widened it) is left as it is. The width goes to the stack's raised tab, whichever
        it is now."""
        widths, self.kept_widths = self.kept_widths, {}
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        squeezed = {}
        for d, w in widths.items():
            front = self._front_of_stack(d)
            if front.isVisible() and not front.isFloating() and front.width() < w:
                squeezed[front] = w
        if squeezed:
            self.window.resizeDocks(list(squeezed), list(squeezed.values()), Qt.Orientation.Horizontal)

    def tell_on_screen(self) -> None:
        for dock in self.docks.values():
            dock.visibilityChanged.emit(self._on_screen(dock))

    def name_tabs(self) -> None:
        """Each dock's tab title: its short one where every dock shares one stack (the compact
        layout), so that each title shows whole; the full title and what the panel is for in
        the tab's tooltip."""
        short = self.applied == "compact"
        tips = {}
        for name, dock in self.docks.items():
            entry = self.entries[name]
            dock.setWindowTitle(entry.short if short and entry.short else entry.title)
            tips[dock.windowTitle()] = f"{entry.title}: {entry.help}" if entry.help else entry.title
        for bar in self.window.findChildren(QTabBar):
            if bar.parentWidget() is self.window:
                for i in range(bar.count()):
                    if bar.tabText(i) in tips:
                        bar.setTabToolTip(i, tips[bar.tabText(i)])

    def hide_stray_tab_bars(self) -> None:
        """Tabifying a third dock leaves the two-dock group's tab bar behind, visible in the
        middle of the window (Qt 6.11): hide every tab bar that is no current group's."""
        self.name_tabs()
        groups = set()
        for dock in self.docks.values():
            tabbed = self.window.tabifiedDockWidgets(dock)
            if tabbed:
                groups.add(frozenset([dock.windowTitle(), *(d.windowTitle() for d in tabbed)]))
        for bar in self.window.findChildren(QTabBar):
            if bar.parentWidget() is self.window:
                bar.setVisible(frozenset(bar.tabText(i) for i in range(bar.count())) in groups)
                whole_titles(bar)
