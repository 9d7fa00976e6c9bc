"""Labels that show their text whole, or say that they do not: a word-wrapped caption that a
squeezed layout cannot draw over, and one line that ends in "…" when it is cut."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QLabel


def a_digit(digit: int) -> str:
    """ "a 7", "an 8": a digit with its article, as the window's messages say it."""
    return f"an {digit}" if int(digit) == 8 else f"a {digit}"


def count_of(n: int, noun: str) -> str:
    """ "1 digit", "3 digits"."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


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


class ElidedLabel(QLabel):
    """One line of text that ends in "…" where the label is too narrow for it, instead of
    stopping mid-word at its edge (the help strip at the bottom of the window: most status
    tips are longer than the 830 px beside the model's name at 1280×720). ``full_text`` is
    the whole line; ``text()`` what is shown."""

    def __init__(self, text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.setTextFormat(Qt.TextFormat.PlainText)  # cut by its characters, not in the middle of markup
        self.full_text = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):  # other widths of the same text
            self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, max(0, self.contentsRect().width()))
        super().setText(shown)
