"""The prediction: the top class large with its probability, a bar per class, and a
"what the model sees" preview of the 28×28 input."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from mnist_desktop.model.datasets import MNIST, MyDigitsDataset

from .captions import WrappedCaption, a_digit
from .overlay import image_pixmap

BARS_CLICK = "Click a bar to see, with Saliency on, what pushes the model towards that class."


def _share(value) -> float | None:
    """A fraction in [0, 1) read from a checkpoint's metadata (untrusted), or None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1 else None


def _count(value) -> int | None:
    """A positive count read from a checkpoint's metadata (untrusted), or None."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _passed(record: dict) -> str:
    """ ", the threshold that 99.75 % of 2,500 held-out digits (never trained on) reach", from what a fit stored (or nothing)."""
    rejected, digits = _share(record.get("held_out_rejected")), _count(record.get("held_out_digits"))
    if rejected is None:
        return ""
    of = f" of {digits:,}" if digits else ""
    return f", the threshold that {100 * (1 - rejected):.4g} %{of} held-out digits (never trained on) reach"


def probabilities_tip(predictor) -> str:
    """What the probability bars show for ``predictor``: how its probabilities are made from its
    outputs, as ``Predictor.predict`` makes them (its temperature included)."""
    t = float(getattr(predictor, "temperature", 1.0))
    scaled = f" divided by its temperature, {t:.2f} (temperature scaling, fitted on held-out digits)" if t != 1.0 else ""
    if getattr(predictor, "_sigmoid", False):
        how = f"the sigmoid of its one output{scaled} for the second class, 1 minus it for the first"
    else:
        how = f"the softmax of its outputs{scaled}"
    return f"The model's probability for every class it knows: {how}.\n{BARS_CLICK}"


def not_a_digit_tip(predictor) -> str:
    """Why ``predictor`` calls a drawing "not a digit": the test ``PredictorBase.digit_of`` applies
    (a digit head, the energy of the logits, or the top probability) and what it was fitted on."""
    recognition = predictor.meta.get("recognition") or {}
    guess = "The grey number is only its best guess among the digits it knows."
    sigmoid = getattr(predictor, "_sigmoid", False)
    if predictor.digit_head is not None and not sigmoid:
        head = recognition.get("digit_head") or {}
        digits, others = _count(head.get("fitted_digits")), _count(head.get("fitted_nondigits"))
        if predictor.digit_head.uses_pooled:
            # what it reads beside the logits: the conv ReLUs' means and maxima (none for an MLP)
            pooled = predictor.digit_head.hidden[0].shape[1] > len(predictor.classes)
            kind = "a small network on its logits" + (" and the pooled activations of its conv ReLUs" if pooled else "")
        else:
            kind = "a logistic regression on its output layer's inputs"
        fitted = f"{digits:,} digits against {others:,}" if digits and others else "digits against"
        return (
            f"Not a digit, by the model's digit test: its score is under its threshold{_passed(head)}.\n"
            "The score: the energy of its logits (how strongly it answers at all) plus the vote of a digit head,\n"
            f"{kind},\nfitted on {fitted} letters, symbols, scribbles and pieces of two digits.\n{guess}"
        )
    if predictor.energy_threshold is not None and not sigmoid:
        return (
            "Not a digit, by the model's digit test: the energy of its logits (log Σ exp of its raw outputs: how strongly it\n"
            f"answers at all) is under {predictor.energy_threshold:.2f}{_passed(recognition)}.\n{guess}"
        )
    threshold = f"{100 * predictor.digit_threshold:.1f} %"
    if "digit_threshold" in recognition:
        return f"Not a digit, by the model's digit test: its top probability is under {threshold}{_passed(recognition)}.\n{guess}"
    return f"Not a digit, by the model's digit test: its top probability is under {threshold} (no threshold was fitted for this model).\n{guess}"


class ProbabilityBars(QWidget):
    """One horizontal bar per class, in palette colours; the top class highlighted. Clicking a
    bar selects its class (outlined; clicking it again goes back to none): the class the
    saliency overlay explains."""

    classClicked = Signal(object)  # the selected class's index into ``classes``, or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.classes: list[int] = list(MNIST.classes)
        self.probabilities: np.ndarray | None = None
        self.selected: int | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip(f"The model's probability for every class it knows.\n{BARS_CLICK}")  # set_model says how

    def sizeHint(self) -> QSize:
        return QSize(220, 22 * len(self.classes))

    def minimumSizeHint(self) -> QSize:
        return QSize(120, 12 * len(self.classes))

    def set_classes(self, classes) -> None:
        self.classes = [int(c) for c in classes]
        self.probabilities = None
        self.selected = None
        self.updateGeometry()
        self.update()

    def row_at(self, y: float) -> int | None:
        """The index of the bar at height ``y`` (widget coordinates), or None."""
        n = len(self.classes)
        i = int(y // (self.height() / max(1, n)))
        return i if 0 <= i < n and y >= 0 else None

    def select(self, index: int | None) -> None:
        """Select the class at ``index`` (None: none); emits ``classClicked``."""
        self.selected = index if index is not None and 0 <= index < len(self.classes) else None
        self.update()
        self.classClicked.emit(self.selected)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            i = self.row_at(event.position().y())
            if i is not None:
                self.select(None if i == self.selected else i)
                return
        super().mousePressEvent(event)

    def set_probabilities(self, p: np.ndarray | None) -> None:
        self.probabilities = None if p is None else np.asarray(p, dtype=np.float32).copy()
        self.update()

    def paintEvent(self, event) -> None:
        pal = self.palette()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        n = max(1, len(self.classes))
        row = self.height() / n
        fm = p.fontMetrics()
        label_w = fm.horizontalAdvance("0") + 10
        value_w = fm.horizontalAdvance("100.0 %") + 8
        bar_w = max(10.0, self.width() - label_w - value_w)
        top = -1 if self.probabilities is None else int(np.argmax(self.probabilities))
        for i, c in enumerate(self.classes):
            y = i * row
            prob = 0.0 if self.probabilities is None else float(self.probabilities[i])
            p.setPen(pal.color(QPalette.ColorRole.WindowText))
            p.drawText(QRectF(0, y, label_w - 4, row), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(c))
            track = QRectF(label_w, y + row * 0.18, bar_w, row * 0.64)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            p.drawRoundedRect(track, 3, 3)
            if prob > 0:
                bar = QRectF(track.x(), track.y(), max(2.0, bar_w * prob), track.height())
                role = QPalette.ColorRole.Highlight if i == top else QPalette.ColorRole.Mid
                p.setBrush(pal.color(role))
                p.drawRoundedRect(bar, 3, 3)
            if i == self.selected:  # the class the saliency overlay explains
                p.setPen(pal.color(QPalette.ColorRole.Highlight))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(track.adjusted(-2, -2, 2, 2), 4, 4)
            p.setPen(pal.color(QPalette.ColorRole.WindowText))
            text = "" if self.probabilities is None else f"{100 * prob:.1f} %"
            p.drawText(QRectF(label_w + bar_w + 4, y, value_w, row), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        p.end()


class PredictionPanel(QWidget):
    """Shows what the active model makes of the drawing, and lets a person say what it is."""

    labelChosen = Signal(int)  # "That's not right — it is:" (or the model's own answer: it confirms)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("prediction")
        self.top_class: int | None = None
        self.top_probability: float | None = None

        self.digit = QLabel("?")
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 5)
        f.setBold(True)
        self.digit.setFont(f)
        self.digit.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.digit.setObjectName("prediction_digit")
        self.digit.setToolTip("The class with the highest probability.")
        # Said instead of a confident class when the model's digit test (``Predictor.is_digit``)
        # says the drawing is no digit; the guess goes grey. Its tooltip says the test (set_model).
        self.not_a_digit = QLabel("not a digit", objectName="not_a_digit")
        self.not_a_digit.setAlignment(Qt.AlignmentFlag.AlignCenter)
        nf = QFont(self.font())
        nf.setPointSizeF(nf.pointSizeF() * 1.6)
        nf.setBold(True)
        self.not_a_digit.setFont(nf)
        self.not_a_digit.setToolTip("Not a digit, by the model's digit test. The grey number is only its best guess.")
        self.not_a_digit.setVisible(False)
        self.is_digit: bool | None = None
        self.confidence = WrappedCaption("Draw a digit on the canvas")
        self.confidence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bars = ProbabilityBars()
        self.preview = QLabel()
        self.preview.setFixedSize(28 * 4 + 2, 28 * 4 + 2)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setFrameShape(QLabel.Shape.Box)
        self.preview.setToolTip(
            "What the model sees: the drawing cropped, scaled into a 20×20 box and centred by\n"
            "its centre of mass in a 28×28 field, the way MNIST's digits were made (to_mnist)."
        )
        # Above the picture, as wide as its column: beside the Saliency toggle (under the
        # picture) it had 60 px once "not a digit" widened the other column, four lines of it.
        self.sees = WrappedCaption("What the model sees (28×28)")
        self.sees.setObjectName("preview_caption")
        self.sees.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        # Saliency: red/blue over "what the model sees" and in the inspector.
        self.x28: np.ndarray | None = None
        self.saliency: np.ndarray | None = None
        self.saliency_class: int | None = None  # the class the overlay shows (a label, not an index)
        self.saliency_toggle = QToolButton(text="Saliency", checkable=True, objectName="saliency_toggle")
        self.saliency_toggle.setToolTip(
            "Colour what the model looks at: red where the ink pushes it towards the class,\n"
            "blue where it pushes away (gradient × input). The class is the top one, or the\n"
            "one whose probability bar you click."
        )

        # The answer on the left, what the model saw on the right: its caption above the
        # picture and the Saliency toggle (which colours it) under it, beside the guess's lines.
        grid = QGridLayout()
        grid.addWidget(self.sees, 0, 1)
        grid.addWidget(self.digit, 1, 0)
        grid.addWidget(self.preview, 1, 1, Qt.AlignmentFlag.AlignCenter)
        guess = QVBoxLayout()
        guess.setSpacing(0)
        guess.addWidget(self.not_a_digit)
        guess.addWidget(self.confidence)
        grid.addLayout(guess, 2, 0)
        grid.addWidget(self.saliency_toggle, 2, 1, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.bars, 1)
        self.correct_row = QWidget(objectName="correct_label")
        row = QHBoxLayout(self.correct_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.correct_title = QLabel("Not right? It is:")
        self.correct_title.setToolTip(
            "That's not right — it is: save the drawing into My digits with its true label, to fine-tune the model on your handwriting."
        )
        row.addWidget(self.correct_title)
        self.correct_buttons: list[QToolButton] = []
        for d in MyDigitsDataset.classes:
            b = QToolButton(text=str(d), objectName=f"correct_{d}")
            b.setToolTip(f"Save this drawing as {a_digit(d)} in My digits (Ctrl+Alt+{d}). Saving the model's own answer confirms it.")
            b.clicked.connect(lambda _checked=False, d=d: self.labelChosen.emit(d))
            b.setMinimumWidth(14)
            b.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            row.addWidget(b)
            self.correct_buttons.append(b)
        layout.addWidget(self.correct_row)
        self.show_empty()

    def hasHeightForWidth(self) -> bool:
        return False  # its captions keep their wrapped height as a minimum (see WrappedCaption)

    def set_classes(self, classes) -> None:
        self.bars.set_classes(classes)

    def set_model(self, predictor) -> None:
        """The active model (not None): its classes, and what its probabilities and its "not a
        digit" are, in the bars' and the label's tooltips."""
        self.set_classes(predictor.classes)
        self.bars.setToolTip(probabilities_tip(predictor))
        self.not_a_digit.setToolTip(not_a_digit_tip(predictor))

    def show_empty(self, message: str = "Draw a digit on the canvas") -> None:
        self.top_class = None
        self.top_probability = None
        self.set_is_digit(None)
        self.digit.setText("?")
        self.confidence.setText(message)
        self.bars.set_probabilities(None)
        self.x28 = None
        self.set_saliency(None)
        self.preview.setPixmap(QPixmap())
        self.preview.setText("empty")
        self.correct_row.setEnabled(message.startswith("No model"))  # a drawing with no model can be saved too

    def set_is_digit(self, is_digit: bool | None) -> None:
        """False: say "not a digit" and grey the guess; True or None (no drawing): as usual."""
        self.is_digit = is_digit
        self.not_a_digit.setVisible(is_digit is False)
        role = QPalette.ColorRole.PlaceholderText if is_digit is False else QPalette.ColorRole.WindowText
        pal = self.digit.palette()
        pal.setColor(QPalette.ColorRole.WindowText, self.palette().color(role))
        self.digit.setPalette(pal)

    def show_prediction(self, classes, probabilities: np.ndarray, x28: np.ndarray, is_digit: bool = True) -> None:
        i = int(np.argmax(probabilities))
        self.top_class = int(classes[i])
        self.top_probability = float(probabilities[i])
        self.set_is_digit(bool(is_digit))
        self.digit.setText(str(self.top_class))
        sure = f"{100 * self.top_probability:.1f}\u00a0%"  # "(49.6 %)" not broken before its "%)" in a narrow column
        self.confidence.setText(f"{sure} sure" if is_digit else f"best guess {self.top_class} ({sure})")
        self.bars.set_probabilities(probabilities)
        self.x28 = np.asarray(x28, dtype=np.float32).copy()
        # The last saliency stays over the new image until the next arrives (a frame later), so
        # that the overlay does not flicker while drawing.
        self.preview.setPixmap(image_pixmap(self.x28, 4, self.saliency if self.saliency_toggle.isChecked() else None))
        self.correct_row.setEnabled(True)

    def set_saliency_available(self, available: bool, why: str = "") -> None:
        """Enable the toggle (a model that has ``saliency``) or disable it, saying ``why``."""
        self.saliency_toggle.setEnabled(available)
        # the help strip shows what it does, or why it cannot be used yet
        self.saliency_toggle.setStatusTip(self.saliency_toggle.toolTip() if available else why)
        if not available:
            self.set_saliency(None)

    def set_saliency(self, saliency: np.ndarray | None, class_label: int | None = None) -> None:
        """Show ``saliency`` (28×28, for class ``class_label``) over the preview; None: no overlay."""
        self.saliency = None if saliency is None else np.asarray(saliency, dtype=np.float32).copy()
        self.saliency_class = None if saliency is None else class_label
        # The toggle names the class the colours are about.
        self.saliency_toggle.setText("Saliency" if self.saliency is None else f"Saliency: {class_label}")
        if self.x28 is not None:
            self.preview.setPixmap(image_pixmap(self.x28, 4, self.saliency))
