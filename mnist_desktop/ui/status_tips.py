"""A widget's tooltip, as it is now, in the help strip on hover.

The strip shows status tips (Qt sends a widget's status tip up to the window when the mouse
enters it). Most widgets only have a tooltip, and many tooltips change as the window's state
does ("My digits is empty: …" becomes "Train the active model further on your 7 digits"). A
copy taken once at start-up went stale, so :class:`TooltipStatusTips` keeps each widget's
status tip the plain text of its current tooltip: it watches every widget under a root, the
ones made later included, and follows each tooltip change (Qt's ``ToolTipChange`` event). A
status tip a widget was given of its own (one unlike its tooltip) is left as it is.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QStatusTipEvent, QTextDocumentFragment
from PySide6.QtWidgets import QApplication, QWidget

FROM_TOOLTIP = "statusTipFromToolTip"  # the status tip this filter gave the widget


def plain(tooltip: str) -> str:
    """A tooltip (plain text or rich text) as the strip shows it: plain text."""
    return QTextDocumentFragment.fromHtml(tooltip).toPlainText() if tooltip else ""


class TooltipStatusTips(QObject):
    """Keeps the status tips of the widgets under ``root`` equal to their tooltips, as the
    tooltips change, and shows a hovered widget's new tip in the strip at once."""

    def __init__(self, root: QWidget) -> None:
        super().__init__(root)
        self.watch(root)

    def watch(self, root: QWidget) -> None:
        """``root`` and every widget under it (once each: Qt does not add a filter twice)."""
        for w in (root, *root.findChildren(QWidget)):
            w.installEventFilter(self)
            self._follow(w)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind == QEvent.Type.ToolTipChange:
            if self._follow(obj) and obj.underMouse() and not self._child_explains(obj):
                QApplication.sendEvent(obj, QStatusTipEvent(obj.statusTip()))  # hovered now: the strip says it now
        elif kind == QEvent.Type.ChildPolished:  # a widget made later (a panel built on first show, a rebuilt view)
            child = event.child()
            if isinstance(child, QWidget):
                self.watch(child)
        return False

    @staticmethod
    def _follow(w: QWidget) -> bool:
        """Give ``w`` its tooltip as status tip unless it has one of its own; True if it changed."""
        tip, mine = plain(w.toolTip()), w.property(FROM_TOOLTIP)
        # first seen: a status tip that says what the tooltip says is the tooltip's too
        if w.statusTip() not in ("", tip if mine is None else mine):
            return False  # its own status tip (set, say, to why it is disabled)
        w.setProperty(FROM_TOOLTIP, tip)
        if tip == w.statusTip():
            return False
        w.setStatusTip(tip)
        return True

    @staticmethod
    def _child_explains(w: QWidget) -> bool:
        """True if the mouse is on a child of ``w`` that has a status tip: the strip shows that one."""
        return any(c.underMouse() and c.statusTip() for c in w.findChildren(QWidget))
