"""The engine is plain Python + torch: importing it must not pull in Qt."""

import re
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "mnist_desktop" / "model"
QT = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "qtpy", "superqt", "shiboken6")


def test_engine_source_never_imports_qt():
    pattern = re.compile(rf"^\s*(from|import)\s+({'|'.join(QT)})\b", re.M)
    offenders = [p.name for p in ENGINE.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_importing_the_engine_loads_no_qt_module():
    code = f"import sys, mnist_desktop.model, mnist_desktop.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in {QT!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
