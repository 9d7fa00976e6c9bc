"""Number mode: a wide canvas read as a whole number as you write (``read_number``), with a
box around each digit on the canvas, the number in large type, each digit's probabilities on
hover (its box) or click (the digit in the large number, or its button: a click on the canvas is
a dot of writing), and a way to send each digit to My digits with its label.

Reading an 8-digit canvas takes some 20–30 ms of a core (random strokes up to 70 ms), so it
runs in a :class:`ReadWorker`, a little below the GUI thread's priority, never on the GUI thread:
at most once per ``READ_INTERVAL_S`` while the pen moves, and at once when an edit is whole
(the pen lifts; a clear, undo, a picture), one reading at a time; a drawing changed while one
runs waits for it and is read next, and the reading of the older drawing is dropped (the boxes
would not fit the ink any more), so the number on screen is the one of the last pause of the
pen, shown a reading's time after the pen lifts. On the GUI
thread each 8-digit reading stalled drawing 20–70 ms (bench ``saliency``, ``number``).
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QFontMetrics, QFontMetricsF
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QStyle,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import model as engine
from mnist_desktop.model.datasets import MNIST, MyDigitsDataset

from .canvas import Canvas
from .captions import a_digit
from .prediction import ProbabilityBars
from .session import Drawing
from .workers import Worker, WorkerThreads

NUMBER_ASPECT = 3.0  # the canvas in Number mode: three times as wide as high
READ_INTERVAL_S = 0.1  # at most one reading per this while writing
CROP_MARGIN = 12  # pixels around a digit's box kept when it is saved to My digits


def probabilities_text(classes, probabilities) -> str:
    order = np.argsort(probabilities)[::-1][:3]
    return ", ".join(f"{classes[i]}: {100 * float(probabilities[i]):.1f} %" for i in order)


class NumberLabel(QLabel):
    """The number in large type; a click on one of its digits selects that digit
    (``digitClicked``). On the canvas a click is a dot, which may be part of the writing (it
    joins the digit it lands in), so the canvas never takes a click for a selection."""

    digitClicked = Signal(int)

    def digit_at(self, x: float) -> int | None:
        """The index of the character drawn at ``x`` (widget coordinates), or None."""
        text = self.text()
        if not text:
            return None
        fm = QFontMetricsF(self.font())
        r = self.contentsRect()
        left = r.x() + (r.width() - fm.horizontalAdvance(text)) / 2  # centred, as drawn
        for k in range(len(text)):
            if left + fm.horizontalAdvance(text[:k]) <= x < left + fm.horizontalAdvance(text[: k + 1]):
                return k
        return None

    def mousePressEvent(self, event) -> None:
        i = self.digit_at(event.position().x()) if event.button() == Qt.MouseButton.LeftButton else None
        if i is not None:
            self.digitClicked.emit(i)
            event.accept()
            return
        super().mousePressEvent(event)


class NumberPanel(QWidget):
    """The number read (``number_reading``), a button per digit (hover: its probabilities;
    click: its bars below; right-click or the menu arrow: save it to My digits).

    Its size never follows what it shows: the canvas above it is laid out in what the panel
    leaves, and a panel that grew or shrank with the first reading (the number in large type,
    the digit buttons) moved and rescaled the canvas between two strokes of one digit. Its
    height is reserved from the start for the tallest of what it shows (see
    :meth:`sizeHint`), and a long number scrolls in its row instead of widening it."""

    digitSelected = Signal(object)  # the selected digit's index, or None
    saveRequested = Signal(int, int)  # (digit index, label) to save into My digits

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("number_panel")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.reading: engine.NumberReading | None = None
        self.classes: list[int] = list(MNIST.classes)
        self.selected: int | None = None
        self.number = NumberLabel("", objectName="number_reading")
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 4)
        f.setBold(True)
        self.number.setFont(f)
        self.number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.number.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a long number does not widen the panel
        self.number.setToolTip(
            "The number the model reads, digit by digit, left to right ('?': not a digit).\n"
            "Click a digit: its probabilities, and the panels that look inside the model show it."
        )
        self.number.setCursor(Qt.CursorShape.PointingHandCursor)
        self.number.digitClicked.connect(lambda i: self.select(i))
        self.hint = QLabel("Write a number on the canvas, left to right, a gap between digits.")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.message = QLabel("", objectName="number_message")  # why the canvas could not be read
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        # The number, the hint (no reading yet) and the message (the canvas could not be read)
        # take turns in one place, as high as the number in large type.
        self.place = QStackedWidget(objectName="number_place")
        for label in (self.number, self.hint, self.message):
            self.place.addWidget(label)
        self.place.setCurrentWidget(self.hint)
        self.place.setFixedHeight(QFontMetrics(f).height() + 4)
        self.digit_strip = QWidget(objectName="number_digits")
        self.digit_row = QHBoxLayout(self.digit_strip)
        self.digit_row.setContentsMargins(0, 0, 0, 0)
        self.digit_row.setSpacing(4)
        self.digit_scroll = QScrollArea(objectName="number_digits_scroll")
        self.digit_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.digit_scroll.setWidgetResizable(True)
        self.digit_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.digit_scroll.setWidget(self.digit_strip)
        sample = self._digit_button(0)  # the row is as high as a button and a scroll bar from the start
        extent = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self.digit_scroll)
        self.digit_scroll.setFixedHeight(sample.sizeHint().height() + extent + 2)
        sample.deleteLater()
        self.digit_buttons: list[QToolButton] = []
        self.bars = ProbabilityBars()
        self.bars.setToolTip("The selected digit's probability for every class.")
        self.bars_title = QLabel("Click a digit to see its probabilities.")
        self.bars_title.setWordWrap(True)  # two lines where the column is narrow, reserved from the start
        self.bars_title.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        self.bars_title.setFixedHeight(2 * self.bars_title.fontMetrics().lineSpacing() + 2)
        self.bars.setMinimumHeight(160)
        self.digit_row.addStretch(1)  # the buttons go between the stretches, centred
        self.digit_row.addStretch(1)
        # The number and its digits on the left, the selected digit's bars on the right.
        reading = QVBoxLayout()
        reading.addWidget(self.place)
        reading.addWidget(self.digit_scroll)
        reading.addStretch(1)
        selected = QVBoxLayout()
        selected.addWidget(self.bars_title)
        selected.addWidget(self.bars, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(reading, 3)
        layout.addLayout(selected, 2)
        self._reading_column, self._selected_column = reading, selected

    def _reserved_height(self) -> int:
        """The panel's height whatever it shows: the taller of its two columns, at their
        fullest (the number and a row of digit buttons; the bars under their title)."""
        m = self.layout().contentsMargins()
        left = self.place.height() + self.digit_scroll.height() + self._reading_column.spacing()
        right = self.bars_title.height() + self.bars.minimumHeight() + self._selected_column.spacing()
        return max(left, right) + m.top() + m.bottom()

    def hasHeightForWidth(self) -> bool:
        return False  # the wrapped hint or message must not make the panel taller or shorter

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self._reserved_height())

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self._reserved_height())

    def _digit_button(self, i: int) -> QToolButton:
        b = QToolButton(objectName=f"number_digit_{i}")
        b.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        b.setText("8?")
        return b

    def set_classes(self, classes) -> None:
        self.classes = [int(c) for c in classes]
        self.bars.set_classes(self.classes)

    def show_message(self, text: str) -> None:
        """Say why the canvas was not read (one line); the next reading shown takes it away."""
        self.show_reading(None)
        self.message.setText(text)
        self.message.setToolTip(text)
        self.place.setCurrentWidget(self.message)

    def show_reading(self, reading: engine.NumberReading | None) -> None:
        """Show ``reading`` (None: an empty canvas)."""
        self.reading = reading
        digits = () if reading is None else reading.digits
        self.number.setText("" if reading is None else reading.marked)  # "?": not a digit, as its tooltip says
        self.place.setCurrentWidget(self.hint if reading is None else self.number)
        while len(self.digit_buttons) > len(digits):
            b = self.digit_buttons.pop()
            self.digit_row.removeWidget(b)
            b.deleteLater()
        while len(self.digit_buttons) < len(digits):
            i = len(self.digit_buttons)
            b = self._digit_button(i)
            b.clicked.connect(lambda _c=False, i=i: self.select(i))
            b.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            b.customContextMenuRequested.connect(lambda pos, i=i: self._menu(i).exec(self.digit_buttons[i].mapToGlobal(pos)))
            b.setMenu(QMenu(b))
            b.menu().aboutToShow.connect(lambda i=i: self._fill_menu(self.digit_buttons[i].menu(), i))
            self.digit_row.insertWidget(self.digit_row.count() - 1, b)
            self.digit_buttons.append(b)
        for b, d in zip(self.digit_buttons, digits, strict=True):
            b.setText(str(d.label) if d.is_digit else f"{d.label}?")
            b.setToolTip(
                f"{'Read' if d.is_digit else 'Not sure it is a digit; best guess'} {d.label} ({probabilities_text(self.classes, d.probabilities)}).\n"
                "Click: its probabilities, and the panels that look inside the model show it. Menu: save it to My digits."
            )
        if self.selected is not None and self.selected >= len(digits):
            self.selected = None
        self._show_selected()

    def select(self, index: int | None) -> None:
        self.selected = index
        self._show_selected()
        self.digitSelected.emit(index)

    def _show_selected(self) -> None:
        digits = () if self.reading is None else self.reading.digits
        for i, b in enumerate(self.digit_buttons):
            f = b.font()
            f.setBold(i == self.selected)
            b.setFont(f)
        if self.selected is None:
            self.bars.set_probabilities(None)
            self.bars_title.setText("Click a digit to see its probabilities.")
        else:
            d = digits[self.selected]
            self.bars.set_probabilities(d.probabilities)
            self.bars_title.setText(f"Digit {self.selected + 1}: read as {d.label}" + ("" if d.is_digit else " (not sure it is a digit)"))

    def _fill_menu(self, menu: QMenu, index: int) -> QMenu:
        menu.clear()
        digit = self.reading.digits[index]
        menu.addAction(f"Save as {a_digit(digit.label)} in My digits", lambda: self.saveRequested.emit(index, digit.label))
        other = menu.addMenu("Save as…")
        for c in MyDigitsDataset.classes:
            other.addAction(str(c), lambda c=c: self.saveRequested.emit(index, c))
        return menu

    def _menu(self, index: int) -> QMenu:
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        return self._fill_menu(menu, index)


class ReadWorker(Worker):
    """``read_number`` of one canvas image: finishes with the :class:`~engine.NumberReading`, or
    None for an image without ink; a little below the GUI thread's priority (drawing first)."""

    nice = 5

    def __init__(self, image: np.ndarray, predictor, generation: int):
        super().__init__(generation)
        self.image, self.predictor = image, predictor

    def work(self):
        try:
            return engine.read_number(self.image, self.predictor)
        except engine.EmptyImageError:
            return None


class NumberMode(QObject):
    """Reads the canvas as a number while Number mode is on: the canvas wide, the boxes on it,
    the reading in ``panel``. ``readingUpdated`` says the panel shows the latest drawing."""

    readingUpdated = Signal()
    toggled = Signal(bool)

    def __init__(self, session, canvas: Canvas, panel: NumberPanel, save_digit, parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.canvas, self.panel = session, canvas, panel
        self.save_digit = save_digit  # (drawing, label) → id or None: My digits' add
        self.active = False
        self.reading: engine.NumberReading | None = None
        self._last_read = 0.0
        self.threads = WorkerThreads("number-read", self)
        self.reading_worker: ReadWorker | None = None  # the reading running; one at a time
        self._read_again = False  # a reading was asked for while one ran: read the latest next
        self._edits = 0  # the canvas's changes so far: a reading of an older count is not shown
        self._edits_read = 0  # the count the running reading's image was taken at
        self._generation = 0  # of the readings asked for: only the latest one's is shown
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.read)
        canvas.changed.connect(self.schedule_read)
        canvas.edited.connect(self._on_edited)
        session.modelChanged.connect(self._on_model_changed)
        panel.digitSelected.connect(self._on_selected)
        panel.saveRequested.connect(self.save)
        canvas.installEventFilter(self)  # hovering a box shows that digit's probabilities

    def eventFilter(self, obj, event) -> bool:
        if obj is self.canvas and event.type() == QEvent.Type.ToolTip and self.active:
            text = self.box_tooltip(event.pos())
            if text is not None:
                QToolTip.showText(event.globalPos(), text, self.canvas)
                return True
        return super().eventFilter(obj, event)

    def set_active(self, on: bool) -> None:
        on = bool(on)
        if on == self.active:
            return
        self.active = on
        self._timer.stop()
        self._drop_running()
        if on:  # the panels that look inside show no drawing until a digit of the number is selected
            self.session.set_drawing(Drawing(number=True))
        aspect = NUMBER_ASPECT if on else 1.0
        if aspect != self.canvas.aspect:
            self.canvas.set_aspect(aspect)  # a whole edit: read (on) or nothing (off)
        elif on:
            self.read()
        if not on:
            self.canvas.set_boxes([])
        self.toggled.emit(on)

    def stop(self) -> None:
        """Stop reading (the window closes): the running reading's thread is waited for, and
        nothing reads after (its finish, queued, must not start a reading of a newer drawing)."""
        self.active = False
        self._timer.stop()
        self._drop_running()
        self.threads.shutdown()
        self.reading_worker = None

    def is_reading(self) -> bool:
        """A reading runs in its worker, or is waiting for the one running."""
        return self.reading_worker is not None or self._read_again

    def _drop_running(self) -> None:
        """What the running reading finds will not be shown (nor read again after it)."""
        self._generation += 1
        self._read_again = False

    @Slot(object)
    def _on_model_changed(self, predictor) -> None:
        # The reading shown is the previous model's, in its classes: it goes before the new
        # classes come (a digit's probabilities must never be read with another model's classes).
        self._drop_running()
        self._show(None)
        if predictor is not None:
            self.panel.set_classes(predictor.classes)
        if self.active:
            self.read()

    @Slot()
    def schedule_read(self) -> None:
        self._edits += 1  # a reading running now reads an older drawing
        if not self.active or self._timer.isActive():
            return  # coalesced: one reading per READ_INTERVAL_S
        wait = READ_INTERVAL_S - (time.perf_counter() - self._last_read)
        self._timer.start(max(0, int(wait * 1000)))

    @Slot()
    def _on_edited(self) -> None:
        """The pen lifted (or a clear, undo, a picture): read now, not at the next interval:
        this is the reading the writer waits for."""
        if self.active:
            self.read()

    @Slot()
    def read(self) -> None:
        """Read the canvas: in a :class:`ReadWorker` (an empty canvas, or no model, empties the
        reading at once); while one runs, the latest drawing waits for it."""
        self._last_read = time.perf_counter()
        self._timer.stop()  # this reading (or the one it waits for) is of the latest drawing
        if not self.active:
            return
        if self.reading_worker is not None:
            self._read_again = True
            return
        self._generation += 1  # what an earlier reading finds is older than this drawing
        predictor = self.session.predictor
        image = self.canvas.image_array()
        if predictor is None or not image.any():
            self._show(None)
            return
        self._edits_read = self._edits
        worker = ReadWorker(image, predictor, self._generation)
        worker.finished.connect(self._on_read_finished)
        worker.failed.connect(self._on_read_failed)
        self.reading_worker = worker
        self.threads.start(worker)

    def _read_ended(self, generation: int) -> bool:
        """The running reading is over: True if it is still the one to show."""
        self.reading_worker = None
        if self._read_again:
            self._read_again = False
            self.read()
            return False  # the canvas changed meanwhile: the newer drawing is being read
        if self._edits != self._edits_read:
            # The canvas changed while it ran, and its reading is asked for (the timer runs):
            # the older drawing's boxes would not fit the ink.
            if not self._timer.isActive():
                self.read()
            return False
        return generation == self._generation and self.active

    @Slot(int, object)
    def _on_read_finished(self, generation: int, reading) -> None:
        if self._read_ended(generation):
            self._show(reading)

    @Slot(int, str)
    def _on_read_failed(self, generation: int, message: str) -> None:
        if self._read_ended(generation):
            self._show(None)
            self.panel.show_message(f"Could not read the canvas: {message}")

    def _show(self, reading: engine.NumberReading | None) -> None:
        self.reading = reading
        self.panel.show_reading(reading)
        self._show_boxes()
        self._hand_selected()
        self.readingUpdated.emit()

    def _hand_selected(self) -> None:
        """The selected digit is the session's drawing while Number mode is on: the panels that
        look inside the model (activations, tensor inspector, preprocessing lab) show that digit,
        not the whole number squeezed into 28×28 nor the drawing before Number mode. No digit
        selected: an empty drawing. (Off, the live prediction hands over the canvas again.)"""
        if not self.active:
            return
        index = self.panel.selected
        if self.reading is None or index is None or index >= len(self.reading.digits):
            self.session.set_drawing(Drawing(number=True))
            return
        digit = self.reading.digits[index]
        self.session.set_drawing(Drawing(self.digit_image(index), digit.x28, digit.probabilities, digit=index, number=True))

    def _show_boxes(self) -> None:
        digits = () if self.reading is None else self.reading.digits
        self.canvas.set_boxes([(d.box, str(d.label) if d.is_digit else "?") for d in digits], self.panel.selected)

    @Slot(object)
    def _on_selected(self, _index) -> None:
        self._show_boxes()
        self._hand_selected()

    @Slot(int, int)
    def save(self, index: int, label: int):
        """Save digit ``index`` of the reading (its box and a margin, cut from the canvas) as ``label``."""
        if self.reading is None or not 0 <= index < len(self.reading.digits):
            return None
        return self.save_digit(self.digit_image(index), label)

    def digit_image(self, index: int) -> np.ndarray:
        """Digit ``index`` of the reading cut from the canvas: its box and a margin, only its own
        ink (a neighbour reaching into the margin is left out)."""
        x0, y0, x1, y1 = self.reading.digits[index].box
        image = self.canvas.image_array()
        h, w = image.shape
        crop = image[max(0, y0 - CROP_MARGIN) : min(h, y1 + CROP_MARGIN), max(0, x0 - CROP_MARGIN) : min(w, x1 + CROP_MARGIN)]
        keep = np.zeros_like(crop)
        oy, ox = y0 - max(0, y0 - CROP_MARGIN), x0 - max(0, x0 - CROP_MARGIN)
        keep[oy : oy + (y1 - y0), ox : ox + (x1 - x0)] = crop[oy : oy + (y1 - y0), ox : ox + (x1 - x0)]
        return keep

    def box_tooltip(self, pos: QPoint) -> str | None:
        """The probabilities of the digit under ``pos`` on the canvas, for a tooltip."""
        i = self.canvas.box_at(pos)
        if i is None or self.reading is None:
            return None
        d = self.reading.digits[i]
        return (
            f"Digit {i + 1}, read {d.label if d.is_digit else f'{d.label}?'} ({probabilities_text(self.panel.classes, d.probabilities)}).\n"
            "Click it in the number under the canvas, or its button, for its bars (a click on the canvas draws a dot)."
        )
