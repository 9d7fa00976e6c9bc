"""A word-wrapped label that a squeezed layout cannot draw over."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


class WrappedCaption(QLabel):
    """A word-wrapped label whose minimum height is that of the lines it wraps to at its width.

    A wrapped label only wishes for a height for its width (``heightForWidth``); a column that
    holds such wishes (the prediction above the nearest training digits) took one's wish as its
    minimum and squeezed its neighbour below its own: in a 1400×900 window "What the model
    sees (28×28)" got one line of height for two and was drawn half under the picture above
    it. A minimum height is kept. The widget holding such captions should answer False to
    ``hasHeightForWidth``, so that its own minimum (with theirs) is what its parent sees."""

    def __init__(self, text: str = ""):
        super().__init__(text, wordWrap=True)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit_height()

    def _fit_height(self) -> None:
        height = self.heightForWidth(self.width())
        if height > 0 and height != self.minimumHeight():  # wraps to more or fewer lines
            self.setMinimumHeight(height)
