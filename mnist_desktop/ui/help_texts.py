"""The Help menu's texts and dialogs, and the help strip's idle text."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QMessageBox, QWidget

from mnist_desktop import __version__

from .settings import INTRODUCED, parse_bool

ABOUT = f"""<h3>mnist-desktop {__version__}</h3>
<p>Draw a digit, train a classifier, and look at the tensors inside it.</p>
<p>Training and test images: the <b>MNIST database of handwritten digits</b> by Yann LeCun,
Corinna Cortes and Christopher J. C. Burges (<a href="http://yann.lecun.com/exdb/mnist/">yann.lecun.com/exdb/mnist</a>),
made available under the terms of the Creative Commons Attribution-Share Alike 3.0 license.</p>
<p>The models and the order they come in follow chapter 4 of <i>Deep Learning for Coders
with fastai and PyTorch</i> (Howard &amp; Gugger).</p>"""


STRIP_IDLE = "Point at anything in the window to read here what it does."
INTRODUCTION = """<h3>Welcome</h3>
<p><b>Draw a digit</b> on the canvas with the mouse or a pen. Beside it, the model says which
digit it thinks it is and how sure it is, for each of the ten digits, or that what you drew is
not a digit at all.</p>
<p>A <b>model</b> is a function with many numbers (its weights) inside. <b>Training</b> finds good
weights: it shows the model thousands of handwritten digits from MNIST, measures how wrong it is
(the <i>loss</i>) and nudges every weight a little to be less wrong, again and again. The
{training} panel does this and draws the loss as it falls.</p>
<p><b>{activations}</b> shows what each layer of the model makes of your drawing, from the pixels to
the final probabilities. The <b>{inspector}</b> shows the numbers themselves.</p>
<p>New to this? The <b>Chapter 4</b> menu (or Help → The chapter-4 path) takes you through the
chapter step by step: pixels as numbers, the pixel-similarity baseline (L1 and L2 distance), SGD
on a toy curve, then SGD one step at a time on MNIST, why accuracy cannot be a loss, a neural net
and all ten digits, with a few questions at each stage to check yourself.</p>
<p>Point at anything: the strip at the bottom of the window says what it does.</p>"""


# Keys on every keyboard without a modifier; anything else alone (F13–F35, the Undo, Exit or Help
# keys that some platforms add to a standard shortcut) is a key few people have, and is not listed.
PLAIN_KEYS = {"Esc", "Del", "Space", "Backspace", "Return", "Enter", "Tab", "Ins", "Home", "End", "PgUp", "PgDown"}


def _pressable(key: QKeySequence) -> bool:
    text = key.toString(QKeySequence.SequenceFormat.PortableText)
    last = text.split("+")[-1] if text != "+" else text
    return "+" in text[:-1] or last in PLAIN_KEYS or len(last) == 1 or (last[:1] == "F" and last[1:].isdigit() and int(last[1:]) <= 12)


def shortcut_list(actions: Iterable[QAction], shortcuts: Iterable[QShortcut] = ()) -> list[tuple[str, str]]:
    """(what it does, its keys) for every action that has one, in order, then every ``QShortcut``
    (named by its ``whatsThis``), listing only the keys a person can press."""
    rows = []
    for action in actions:
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if _pressable(k))
        if keys:
            rows.append((action.text().replace("&", ""), keys))
    for shortcut in shortcuts:
        if shortcut.whatsThis() and _pressable(shortcut.key()):
            rows.append((shortcut.whatsThis(), shortcut.key().toString(QKeySequence.SequenceFormat.NativeText)))
    return rows


def shortcuts_table(rows: list[tuple[str, str]]) -> str:
    return (
        "<table>"
        + "".join(f"<tr><td>{escape(text)}</td><td>&nbsp;&nbsp;<b>{escape(keys)}</b></td></tr>" for text, keys in rows)
        + "</table>"
    )


def show_dialog(parent: QWidget, name: str, title: str, html: str) -> QMessageBox:
    """An information box (objectName ``name``), window-modal without blocking the event loop."""
    box = QMessageBox(QMessageBox.Icon.Information, title, "", QMessageBox.StandardButton.Ok, parent)
    box.setObjectName(name)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(html)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


# the panels the introduction names, by their full titles (a small screen's tabs say them short)
INTRODUCED_PANELS = {"activations": "Activations", "inspector": "Tensor inspector", "training": "Training"}


def introduction(titles: dict[str, str] | None = None) -> str:
    """The introduction, naming each panel as its tab says it now (``titles``: panel → tab
    title; on a small screen "Layers" for Activations, "Inspector" for the Tensor inspector)."""
    return INTRODUCTION.format(**(INTRODUCED_PANELS | {k: v for k, v in (titles or {}).items() if k in INTRODUCED_PANELS}))


def show_introduction(parent: QWidget, titles: dict[str, str] | None = None) -> QMessageBox:
    return show_dialog(parent, "introduction", "Introduction", introduction(titles))


def introduce_once(parent: QWidget, settings: QSettings, titles: dict[str, str] | None = None) -> QMessageBox | None:
    """At the first launch, the introduction (OK closes it; Help → Introduction has it after);
    None at every later launch."""
    if parse_bool(settings.value(INTRODUCED)):
        return None
    settings.setValue(INTRODUCED, True)
    return show_introduction(parent, titles)
