"""Training as the menus and the toolbar start it: Train (with the Training panel in front,
where its progress and Stop are), Stop, and fine-tuning on My digits; while a run goes on,
Train is off, Stop is on and My digits waits; a finished run's model becomes active.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction

from .captions import count_of
from .docks import Docks
from .mydigits import MyDigitsPanel
from .session import Session
from .training import TrainingPanel


class TrainingRuns(QObject):
    message = Signal(str, int)  # what to say in the status bar, for how many milliseconds

    def __init__(self, session: Session, docks: Docks, parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.docks = session, docks
        self.train_action: QAction | None = None
        self.stop_action: QAction | None = None
        self._fine_tuning = False
        training = self.training
        training.started.connect(self._on_started)
        training.finished.connect(self._on_finished)
        training.modelTrained.connect(self._on_model_trained)
        # My digits waits while a run goes on, also when it is built during one.
        docks.on_built("my_digits", lambda panel: panel.set_busy(self.training.is_training()))

    @property
    def training(self) -> TrainingPanel:
        return self.docks.panel("training")

    @property
    def my_digits(self) -> MyDigitsPanel:
        return self.docks.panel("my_digits")

    def set_actions(self, train: QAction, stop: QAction) -> None:
        """The window's Train and Stop actions, turned on and off as runs start and end."""
        self.train_action, self.stop_action = train, stop

    @Slot()
    def train(self) -> None:
        """Train with the Training panel's settings (toolbar, Ctrl+T), with that panel in front: its
        progress and Stop are where the run shows."""
        self.docks.raise_("training")
        self.training.train()

    @Slot()
    def stop(self) -> None:
        self.training.stop()
        self.stop_action.setEnabled(False)

    @Slot()
    def fine_tune_my_digits(self) -> bool:
        """Fine-tune the active model on My digits in the training worker (live plot, Stop)."""
        my_digits, training, predictor = self.my_digits, self.training, self.session.predictor
        my_digits.reload()
        why = my_digits.fine_tune_blocker() or (None if training.torch_ready else "PyTorch is still loading.")
        if why is not None or predictor is None or training.is_training():
            self.message.emit(why or "Training is running.", 8000)
            return False
        from mnist_desktop.model import finetune  # torch: loaded by now

        task = my_digits.fine_tune_task(predictor)
        # What the fine-tune trains with: the Training panel shows it while it runs (its form
        # showed the user's own settings, greyed, as if they were the run's), then theirs again.
        config = finetune.fine_tune_config(predictor)
        self._fine_tuning = True
        started = training.start(
            config,
            task=task,
            message=(
                # the model's test accuracy here, before "on My digits", read as an accuracy on My digits
                f"Fine-tuning {predictor.describe(accuracy=False)} on My digits ({count_of(my_digits.count(), 'digit')}), "
                f"mixed with {config.subset:,} MNIST training digits: "
                f"{config.epochs} epochs, learning rate up to {config.lr:g}. Your settings come back when it ends."
            ),
        )  # offered, not made active, if another model is active when it ends (start's default)
        if not started:
            self._fine_tuning = False
            my_digits.fine_tune_finished(None)  # its "Fine-tuning…" goes; the Training panel says why
            return False
        self.docks.raise_("training")  # the live loss plot, progress and Stop
        return True

    @Slot()
    def _on_started(self) -> None:
        self.train_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        if "my_digits" in self.docks.panels:
            self.my_digits.set_busy(True)

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.train_action.setEnabled(True)
        self.stop_action.setEnabled(False)
        if "my_digits" in self.docks.panels:
            self.my_digits.set_busy(False)
        if self._fine_tuning:
            self._fine_tuning = False
            self.my_digits.fine_tune_finished(result, offered=self.training.offered)
            if result is not None and not result.stopped:
                self.docks.raise_("my_digits")  # before → after
            # stopped or failed: the Training panel stays in front, with why or the stopped model's Use row
        if result is None:
            self.message.emit("Training failed; see the Training panel.", 8000)
        elif result.stopped:
            # in place of what an earlier run said ("The trained model is active…")
            offer = " The Training panel offers the stopped model." if self.training.stopped_result is not None else ""
            self.message.emit(f"Stopped: the active model is unchanged.{offer}", 8000)

    @Slot(object)
    def _on_model_trained(self, predictor) -> None:
        self.session.set_model(predictor, None, unsaved=True)
        self.message.emit("The trained model is active. File → Save model keeps it; Edit → Previous model undoes.", 8000)
