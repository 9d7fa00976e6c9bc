"""The "Chapter 4" menu: fastai's chapter 4 as a path through the window.

One entry per stage of the chapter (the table is the engine's ``model.chapter.STAGES``).
Each sets the window up for its stage (one function per stage below) and shows the guide:
a non-modal window with what the stage is about, what to try and what to look for, and
buttons to the previous and the next stage.

The stage functions read the :class:`Session` (the active model) and act through
:class:`ChapterActions`, the few things the window lets the chapter do; the accuracy stage
makes a model with weights active when the active one has none and says so under the guide's
text (``chapter_note``).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, replace

from PySide6.QtCore import QPoint, QRect, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.model import chapter
from mnist_desktop.model.config import ARCHITECTURE_SPECS, TrainConfig, recommended_config

from .captions import count_of
from .session import Session


@dataclass(frozen=True)
class ChapterActions:
    """What the chapter may do in the window, by name."""

    inspect_sample: Callable[[str, int], None]  # show MNIST split's digit index in the tensor inspector
    show_panel: Callable[[str], None]  # show a dock and bring its tab to the front
    set_training: Callable[[TrainConfig, str], None]  # the training panel's settings and mode ("train" or "step")
    train: Callable[[TrainConfig, str], bool]  # start training with a message; False if it could not start
    is_training: Callable[[], bool]
    use_stepped_model: Callable[[], int | None]  # Step mode's model made active: its steps; None if it has none
    say: Callable[[str, int], None]  # a status-bar message, shown for so many ms
    panel_rect: Callable[[str], QRect | None] = lambda name: None  # a dock's place on the screen (global), if shown


@dataclass(frozen=True)
class Chapter:
    session: Session
    actions: ChapterActions


def _set_training(c: Chapter, config, mode: str = "train") -> None:
    c.actions.set_training(replace(config), mode)  # "train": a stage before may have left it stepping
    c.actions.show_panel("training")


# --- one function per stage: what it sets up --------------------------------------------
def stage_pixels(c: Chapter) -> None:
    c.actions.inspect_sample("train", chapter.FIRST_THREE)


def stage_ideal(c: Chapter) -> None:
    _set_training(c, chapter.get_stage("ideal").config)  # Train there makes pixel similarity the canvas's model
    c.actions.show_panel("similarity")  # L1 against L2, and broadcasting


def stage_sgd_toy(c: Chapter) -> None:
    c.actions.show_panel("sgd_toy")


def stage_linear(c: Chapter) -> None:
    _set_training(c, chapter.get_stage("linear").config, "step")  # the training panel's SGD step mode


def stage_accuracy(c: Chapter) -> str:
    """Nudging needs weights: if the active model has none (the ideal stage's pixel similarity), the
    chapter's linear model becomes active, the one stepped in the linear stage if it took a step, else
    one trained for an epoch in the training panel (its worker thread). Says which, for the guide."""
    note = "" if _nudgeable(c.session.predictor) else _make_a_chapter_model_active(c)
    c.actions.set_training(replace(chapter.get_stage("accuracy").config), "train")
    c.actions.show_panel("nudge")
    return note


def _nudgeable(predictor) -> bool:
    return predictor is not None and ARCHITECTURE_SPECS[predictor.arch].trainable


def _make_a_chapter_model_active(c: Chapter) -> str:
    predictor = c.session.predictor
    what = "The active model" if predictor is None else ARCHITECTURE_SPECS[predictor.arch].label
    steps = c.actions.use_stepped_model()  # Step mode's "Use this model"
    linear = stage_number("linear")
    if steps is not None:
        return f"{what} has no weights to nudge, so the linear model you stepped in stage {linear} (after {count_of(steps, 'step')}) is now the active model."
    config = replace(chapter.get_stage("linear").config, epochs=1)
    if c.actions.train(config, "Training the chapter's linear model for one epoch, so that there are weights to nudge…"):
        return (
            f"{what} has no weights to nudge: the chapter's linear model for 3 vs 7 "
            "is training for one epoch in the Training panel, and becomes the active model in a few seconds. Then press Nudge."
        )
    return f"{what} has no weights to nudge: train a linear model in the Training panel (stage {linear}'s), then press Nudge."


def stage_neural_net(c: Chapter) -> None:
    _set_training(c, chapter.get_stage("neural-net").config)


def stage_ten_digits(c: Chapter) -> None:
    _set_training(c, chapter.get_stage("ten-digits").config)


def stage_number(key: str) -> int:
    """Stage ``key``'s number on the path, from 1."""
    return [s.key for s in chapter.STAGES].index(key) + 1


# The panel each stage asks the learner to use: the guide goes beside it, never over it.
STAGE_PANELS = {
    "pixels": "inspector",
    "ideal": "similarity",
    "sgd-toy": "sgd_toy",
    "linear": "training",
    "accuracy": "nudge",
    "neural-net": "training",
    "ten-digits": "training",
}


def beside(guide: QRect, panel: QRect, screen: QRect, gap: int = 8) -> QPoint | None:
    """Where a window of ``guide``'s size goes next to ``panel`` without covering it, inside
    ``screen``: left of the panel, else right, above, below (the first that fits); None if none does."""
    w, h = guide.width(), guide.height()
    top = min(max(panel.top(), screen.top()), screen.bottom() - h)
    left = min(max(panel.left(), screen.left()), screen.right() - w)
    for x, y in (
        (panel.left() - gap - w, top),
        (panel.x() + panel.width() + gap, top),
        (left, panel.top() - gap - h),
        (left, panel.y() + panel.height() + gap),
    ):
        place = QRect(x, y, w, h)
        if screen.contains(place) and not place.intersects(panel):
            return QPoint(x, y)
    return None


STAGE_ACTIONS: dict[str, Callable[[Chapter], str | None]] = {
    "pixels": stage_pixels,
    "ideal": stage_ideal,
    "sgd-toy": stage_sgd_toy,
    "linear": stage_linear,
    "accuracy": stage_accuracy,
    "neural-net": stage_neural_net,
    "ten-digits": stage_ten_digits,
}


def accuracy_config(predictor):
    """Settings to train a fresh model like ``predictor`` (the chapter's linear 3-vs-7 model
    if it has no weights to train) with accuracy as the loss, for one epoch, without weight
    decay: it would move the weights with every gradient zero (the CNN's recipe has it), and
    the stage says that the weights never move."""
    arch, task = ("linear", "3v7")
    if predictor is not None and ARCHITECTURE_SPECS[predictor.arch].trainable:
        arch, task = predictor.arch, predictor.task
    return replace(recommended_config(task, arch), loss="accuracy", epochs=1, weight_decay=0.0)


def train_with_accuracy_loss(c: Chapter) -> bool:
    """Train with accuracy as the loss: the training panel shows the run and, at its end, the
    trainer's note that every gradient was zero. False if training could not start."""
    if c.actions.is_training():  # before anything changes: the run keeps its settings on screen
        c.actions.say("A training run is going on: stop it first, then try again.", 8000)
        return False
    config = accuracy_config(c.session.predictor)
    _set_training(c, config)
    return c.actions.train(config, "Training with accuracy as the loss: watch the loss curve and the note at the end…")


# --- the guide -----------------------------------------------------------------------------
class QuestionsView(QWidget):
    """A stage's questions (objectName ``chapter_questions``), each with its answer hidden until
    its button is pressed: question ``i`` is the label ``chapter_question_<i>``, its button
    ``chapter_reveal_<i>`` (checkable: press again to hide) and its answer ``chapter_answer_<i>``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("chapter_questions")
        self._layout = QVBoxLayout(self)
        self._rows: list[QWidget] = []
        self.answers: list[QLabel] = []
        self.reveal_buttons: list[QPushButton] = []

    def set_questions(self, questions) -> None:
        for row in self._rows:  # out of the tree at once: the new stage's widgets take the same names
            self._layout.removeWidget(row)
            row.setParent(None)
            row.deleteLater()
        self._rows, self.answers, self.reveal_buttons = [], [], []
        while self._layout.count():  # the stretch of the stage before
            self._layout.takeAt(0)
        for i, q in enumerate(questions):
            row = QWidget()
            box = QVBoxLayout(row)
            box.setContentsMargins(0, 0, 0, 6)
            question = QLabel(f"<b>{i + 1}.</b> {html.escape(q.question, quote=False)}", objectName=f"chapter_question_{i}", wordWrap=True)
            reveal = QPushButton("Show the answer", objectName=f"chapter_reveal_{i}", checkable=True)
            reveal.setToolTip("Think of your answer first, then check it.")
            answer = QLabel(q.answer, objectName=f"chapter_answer_{i}", wordWrap=True, visible=False)
            answer.setTextFormat(Qt.TextFormat.PlainText)
            answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            answer.setIndent(12)
            reveal.toggled.connect(
                lambda on, a=answer, b=reveal: (a.setVisible(on), b.setText("Hide the answer" if on else "Show the answer"))
            )
            box.addWidget(question)
            box.addWidget(reveal, 0, Qt.AlignmentFlag.AlignLeft)
            box.addWidget(answer)
            self._layout.addWidget(row)
            self._rows.append(row)
            self.answers.append(answer)
            self.reveal_buttons.append(reveal)
        self._layout.addStretch(1)


class ChapterGuide(QDialog):
    """The text of one stage, with Previous and Next; non-modal, so the window stays usable."""

    stageRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("chapter_guide")
        self.setWindowTitle("Chapter 4, step by step")
        self.setModal(False)
        self.key: str | None = None
        self.step = QLabel(objectName="chapter_step")
        self.title = QLabel(objectName="chapter_title", wordWrap=True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.text = QTextBrowser(objectName="chapter_text")
        self.questions = QuestionsView()
        questions = QScrollArea(objectName="chapter_questions_scroll", widgetResizable=True)
        questions.setWidget(self.questions)
        self.tabs = QTabWidget(objectName="chapter_tabs")
        self.tabs.addTab(self.text, "The stage")
        self.tabs.addTab(questions, "Check yourself")
        self.tabs.setTabToolTip(1, "A few questions on this stage; each answer shows when you ask for it.")
        self.note = QLabel(objectName="chapter_note", wordWrap=True, visible=False)  # what the stage did for you
        self.text.setOpenLinks(False)
        self.previous_button = QPushButton("◀ Previous", objectName="chapter_previous")
        self.next_button = QPushButton("Next stage ▶", objectName="chapter_next")
        self.next_button.setDefault(True)
        close = QPushButton("Close", objectName="chapter_close")
        self.previous_button.clicked.connect(lambda: self._go(-1))
        self.next_button.clicked.connect(lambda: self._go(+1))
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.previous_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.step)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        self.resize(440, 480)

    def show_stage(self, key: str) -> None:
        stage = chapter.get_stage(key)
        keys = [s.key for s in chapter.STAGES]
        i = keys.index(key)
        self.key = key
        self.step.setText(f"Stage {i + 1} of {len(keys)}")
        self.title.setText(stage.title)
        self.text.setHtml(f"<p>{stage.explanation}</p><h4>Try this</h4><p>{stage.try_this}</p><h4>Look for</h4><p>{stage.look_for}</p>")
        self.questions.set_questions(stage.questions)
        self.tabs.setTabText(1, f"Check yourself ({len(stage.questions)})")
        self.tabs.setTabEnabled(1, bool(stage.questions))
        self.tabs.setCurrentIndex(0)
        self.previous_button.setEnabled(i > 0)
        self.next_button.setEnabled(i < len(keys) - 1)
        self.set_note("")
        self.show()
        self.raise_()

    def set_note(self, text: str) -> None:
        """A line under the stage's text: what setting the stage up did (empty: none)."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _go(self, step: int) -> None:
        keys = [s.key for s in chapter.STAGES]
        i = keys.index(self.key) + step if self.key in keys else 0
        if 0 <= i < len(keys):
            self.stageRequested.emit(keys[i])


class ChapterMenu(QMenu):
    """The "Chapter 4" menu (objectName ``chapter_menu``): one action per stage
    (objectName ``chapter_<key>``), each setting the window up and showing the guide."""

    stageShown = Signal(str)

    def __init__(self, chapter_: Chapter, parent: QWidget):
        super().__init__("Chapter &4", parent)
        self.setObjectName("chapter_menu")
        self.setToolTipsVisible(True)
        self.chapter = chapter_
        self.guide = ChapterGuide(parent)
        self.guide.stageRequested.connect(self.go)
        self.stage_actions: dict[str, QAction] = {}
        for i, stage in enumerate(chapter.STAGES):
            action = QAction(f"&{i + 1}. {stage.title}", self, objectName=f"chapter_{stage.key}")
            action.setStatusTip(stage.explanation.split(". ")[0] + ".")
            action.setToolTip(stage.explanation)
            action.triggered.connect(lambda _checked=False, key=stage.key: self.go(key))
            self.addAction(action)
            self.stage_actions[stage.key] = action
        # Help → The chapter-4 path: the first stage
        tip = "Walk through chapter 4 of the fastai book, stage by stage, in this window (also in the Chapter 4 menu)"
        self.path_action = QAction("The &chapter-4 path", self, toolTip=tip, statusTip=tip)
        self.path_action.triggered.connect(lambda: self.go(chapter.STAGES[0].key))

    @Slot(str)
    def go(self, key: str) -> None:
        """Set the window up for stage ``key`` and show its explanation."""
        self.guide.show_stage(key)
        note = STAGE_ACTIONS[key](self.chapter)
        self.guide.set_note(note or "")
        self._place_guide(key)
        self.guide.raise_()
        self.stageShown.emit(key)
        self.chapter.actions.say(f"Chapter 4 — {chapter.get_stage(key).title}", 5000)

    def _place_guide(self, key: str) -> None:
        panel = self.chapter.actions.panel_rect(STAGE_PANELS[key])
        screen = self.guide.screen().availableGeometry() if self.guide.screen() is not None else None
        if panel is None or screen is None:
            return
        where = beside(self.guide.frameGeometry(), panel, screen)
        if where is not None:
            self.guide.move(where)


def build_chapter_menu(session: Session, actions: ChapterActions, parent: QWidget) -> ChapterMenu:
    menu = ChapterMenu(Chapter(session, actions), parent)
    menu.guide.setWindowFlag(Qt.WindowType.Tool, True)  # stays above the window, no taskbar entry
    return menu
