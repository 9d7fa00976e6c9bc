"""The protocol every docked panel follows, so that adding one is one file and one line in
``docks.PANELS``.

A panel is a widget with a class attribute ``dock`` (a :class:`DockEntry`: where it goes and
what it is called), and three methods the window calls: ``bind(session)`` once, to read and
subscribe to the application's state; ``set_on_screen(shown)`` whenever its dock comes into or
goes out of view (a panel computes only while seen); ``shutdown()`` once, at close, to stop
and wait for its background work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .session import Session


@dataclass(frozen=True)
class DockEntry:
    """One dock: ``name`` (its key in ``MainWindow.docks``, objectName ``<name>_dock``),
    ``title``, ``group`` (a key of each layout in ``docks.DOCK_LAYOUTS``; the first dock of a
    group is the tab in front at start), ``scroll`` (wrap the panel in a scroll area; False:
    it fits any size itself) and ``help`` (what the panel is for, in plain words: its status
    tip, which the help strip shows on hover) and ``short`` (its title where all the docks
    share one tab stack, so that every tab shows its title whole; empty: ``title``)."""

    name: str
    title: str
    group: str
    scroll: bool = True
    help: str = ""
    short: str = ""


@runtime_checkable
class Panel(Protocol):
    dock: ClassVar[DockEntry]

    def bind(self, session: Session) -> None: ...

    def set_on_screen(self, shown: bool) -> None: ...

    def shutdown(self) -> None: ...
