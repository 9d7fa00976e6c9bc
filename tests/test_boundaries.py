"""The engine is plain Python + torch: importing it must not pull in Qt."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

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


TORCH_FREE_CLI = """
import sys
from mnist_desktop import cli
try:
    status = cli.main(sys.argv[1:])
except SystemExit as e:
    status = e.code
print(status, 'torch' in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args,status",
    [
        (["--help"], 0),
        (["--version"], 0),
        (["train", "--help"], 0),
        (["train", "--arch", "resnet", "--out", "x.safetensors"], 2),  # a usage error
        (["no-such-command"], 2),
    ],
)
def test_help_version_and_usage_errors_answer_without_importing_torch(args, status):
    """``import torch`` takes seconds: the command line's help and its usage errors never wait for it."""
    result = subprocess.run([sys.executable, "-c", TORCH_FREE_CLI, *args], capture_output=True, text=True, check=True)
    assert result.stderr.splitlines()[-1] == f"{status} False"


def test_the_engine_package_and_its_config_import_without_torch():
    code = "import sys, mnist_desktop.model, mnist_desktop.model.config, mnist_desktop.model.errors; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_the_engine_package_still_offers_every_name():
    import mnist_desktop.model as engine

    for name in engine.__all__:
        assert getattr(engine, name) is not None
    assert engine.training.SCHEDULES == ("onecycle", "constant")  # a submodule by attribute, as the UI uses it
    with pytest.raises(AttributeError):
        engine.no_such_name  # noqa: B018


def test_predict_with_the_bundled_model_does_not_import_torch(tmp_path):
    import numpy as np
    from PIL import Image

    one = np.full((120, 100), 255, np.uint8)
    one[15:105, 45:55] = 0  # a dark 1 on white paper
    Image.fromarray(one).save(tmp_path / "one.png")
    result = subprocess.run([sys.executable, "-c", TORCH_FREE_CLI, "predict", str(tmp_path / "one.png")], capture_output=True, text=True)
    assert result.stdout.split()[0] == "1"
    assert result.stderr.splitlines()[-1] == "0 False"
