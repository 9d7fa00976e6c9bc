"""Step mode's "the batch as tensors": the chapter's code with this batch's shapes.

A label (objectName ``step_shapes``) that lists, for the state Step mode shows, the lines of
the chapter (``torch.stack``, ``.view(-1, 28*28)``, ``xb @ w + b``, the loss, the gradients)
each with the shape its result has in this run (``mnist_desktop.model.tensor_shapes``). It
wraps to any width.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from mnist_desktop.model.tensor_shapes import ShapeLine, batch_shapes


class BatchShapesView(QLabel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("step_shapes")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setToolTip("The chapter's code for this batch, with the shape each tensor has here: updated at every phase.")
        self.lines: list[ShapeLine] = []
        self.clear_shapes()

    def clear_shapes(self) -> None:
        self.lines = []
        self.setText("<b>The batch as tensors</b>: the shapes appear at init.")

    def show_state(self, state, arch: str, config=None) -> None:
        """The lines for ``state`` (a StepState) of a model of architecture ``arch`` trained
        with ``config`` (its loss and optimiser name the loss and the step's lines)."""
        self.lines = batch_shapes(state, arch, config)
        rows = []
        for line in self.lines:
            note = f" <i>{'— ' if line.shape is not None else ''}{html.escape(line.note)}</i>" if line.note else ""
            shape = f"<b>{html.escape(line.name)}: {line.shape_text}</b>" if line.shape is not None else ""
            rows.append(f"<code>{html.escape(line.code)}</code><br>&nbsp;&nbsp;→ {shape}{note}")
        self.setText("<b>The batch as tensors</b> (the chapter's code, this run's shapes)<br>" + "<br>".join(rows))

    def shape_of(self, name: str) -> tuple[int, ...] | None:
        """The shape shown for ``name`` (its last line), for tests; None if not shown."""
        found = [line.shape for line in self.lines if line.name == name]
        return found[-1] if found else None
