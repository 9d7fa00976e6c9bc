"""The preprocessing lab: the drawing under each recipe of ``preprocess_variants`` (to_mnist,
the naive resize, to_mnist with one step left out), side by side with what the active model
reads in each. A small or off-centre digit shows why each step is there."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QFont, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from mnist_desktop import model as engine

from .overlay import image_pixmap
from .panel import DockEntry
from .session import Drawing, Session

SCALE = 3  # 84×84 pixels a tile
COALESCE_MS = 30  # at most one update per 30 ms while drawing
TITLES = {
    "naive": "Naive resize",
    "mnist": "to_mnist",
    "no_crop": "No crop",
    "no_fit": "No 20×20 fit",
    "no_stretch": "No contrast stretch",
    "no_centring": "No centring",
}


class VariantTile(QWidget):
    """One recipe: its 28×28 image, its name, and the model's answer for it."""

    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self.setObjectName(f"preprocess_lab_{name}")
        self.setToolTip(f"{TITLES.get(name, name)}: {engine.PREPROCESS_VARIANTS[name]}.")
        self.image = QLabel(objectName=f"preprocess_lab_{name}_image")
        self.image.setFixedSize(28 * SCALE + 2, 28 * SCALE + 2)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setFrameShape(QLabel.Shape.Box)
        title = QLabel(TITLES.get(name, name))
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.answer = QLabel(objectName=f"preprocess_lab_{name}_prediction")
        self.answer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        f = QFont(self.answer.font())
        f.setBold(True)
        self.answer.setFont(f)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(title)
        layout.addWidget(self.answer)

    def show_result(self, x28: np.ndarray | None, label: int | None, probability: float | None, differs: bool) -> None:
        if x28 is None:
            self.image.setPixmap(QPixmap())
            self.answer.setText("–")
            self.answer.setStyleSheet("")
            return
        self.image.setPixmap(image_pixmap(x28, SCALE))
        self.answer.setText("no model" if label is None else f"{label} · {100 * probability:.1f} %")
        # Misread where to_mnist reads right: the point of the lab, in the palette's link colour.
        self.answer.setStyleSheet("color: palette(link);" if differs else "")


class PreprocessLabPanel(QWidget):
    """Live for the current drawing while its dock is on screen (``set_on_screen``); updates
    are coalesced with a timer, and nothing is computed while it is hidden."""

    dock = DockEntry(
        "preprocess_lab",
        "Preprocessing lab",
        "bottom",
        help="Your drawing made into 28×28 six ways, and what the model reads in each.",
        short="Prep.",
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("preprocess_lab")
        self._source: Callable[[], np.ndarray] | None = None
        self._session: Session | None = None
        self._predictor = None
        self._on_screen = False
        self._stale = True
        # name → (x28, class label, probability); empty when there is no drawing
        self.results: dict[str, tuple[np.ndarray, int | None, float | None]] = {}
        self.updates = 0  # computations done (tests: nothing is computed while hidden)

        intro = QLabel(
            "The same drawing made into 28×28 six ways, and what the model reads in each. "
            "Draw a small digit in a corner to see what each step of to_mnist is for.",
            wordWrap=True,
        )
        self.status = QLabel(objectName="preprocess_lab_status", wordWrap=True)
        self.tiles = {name: VariantTile(name) for name in engine.PREPROCESS_VARIANTS}
        grid = QGridLayout()
        for i, tile in enumerate(self.tiles.values()):
            grid.addWidget(tile, i // 3, i % 3)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self._timer = QTimer(self, singleShot=True, interval=COALESCE_MS)
        self._timer.timeout.connect(self.refresh)

    # ------------------------------------------------------------------ the Panel protocol
    def bind(self, session: Session) -> None:
        self._session = session
        session.drawingChanged.connect(self.schedule)
        session.follow_model(self.set_predictor)

    def shutdown(self) -> None:
        self._timer.stop()

    def set_source(self, source: Callable[[], np.ndarray]) -> None:
        """Where the drawing comes from: a function returning it as uint8 (H, W), or None for none."""
        self._source = source
        self.schedule()

    def set_predictor(self, predictor) -> None:
        self._predictor = predictor
        self.schedule()

    @Slot(bool)
    def set_on_screen(self, shown: bool) -> None:
        """Its dock became visible (True) or hidden / a background tab (False)."""
        self._on_screen = shown
        if shown and self._stale:
            self.schedule()
        elif not shown:
            self._timer.stop()

    @Slot()
    def schedule(self) -> None:
        """The drawing or the model changed: update soon if on screen, else when shown."""
        self._stale = True
        if self._on_screen and not self._timer.isActive():
            self._timer.start()

    @Slot()
    def refresh(self) -> None:
        """Compute the variants and the model's answers for the current drawing now."""
        self._stale = False
        self._timer.stop()
        if self._source is None:
            return
        self.updates += 1
        image = self._source()
        try:
            variants = {} if image is None else engine.preprocess_variants(image)
        except engine.EmptyImageError:
            variants = {}
        if not variants:
            self.results = {}
            for tile in self.tiles.values():
                tile.show_result(None, None, None, False)
            request = (self._session.drawing if self._session is not None else Drawing()).request
            self.status.setText(f"{request[0].upper()}{request[1:]}.")
            return
        names = list(variants)
        labels: list[int | None] = [None] * len(names)
        probs: list[float | None] = [None] * len(names)
        if self._predictor is not None:
            p = self._predictor.predict_batch(np.stack([variants[n] for n in names]))
            top = p.argmax(axis=1)
            labels = [int(self._predictor.classes[k]) for k in top]
            probs = [float(p[i, k]) for i, k in enumerate(top)]
        self.results = {n: (variants[n], labels[i], probs[i]) for i, n in enumerate(names)}
        reference = self.results["mnist"][1]
        for n, (x, label, prob) in self.results.items():
            self.tiles[n].show_result(x, label, prob, label is not None and label != reference)
        if self._predictor is None:
            self.status.setText("No model: the images only.")
        else:
            wrong = [TITLES[n] for n, (_, label, _) in self.results.items() if label != reference]
            self.status.setText(
                f"Read differently from to_mnist's {reference}: {', '.join(wrong)}." if wrong else f"Every recipe reads {reference}."
            )
