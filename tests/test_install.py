"""A real, non-editable install works: the wheel carries MNIST, the bundled model and the
icon, and the installed package finds them from any folder, without the source tree."""

import gzip
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mnist_desktop.model.drawings import sample_drawings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [
    "mnist_desktop/resources/mnist/train-images-idx3-ubyte.gz",
    "mnist_desktop/resources/mnist/train-labels-idx1-ubyte.gz",
    "mnist_desktop/resources/mnist/t10k-images-idx3-ubyte.gz",
    "mnist_desktop/resources/mnist/t10k-labels-idx1-ubyte.gz",
    "mnist_desktop/resources/mnist/SHA256SUMS.raw",
    "mnist_desktop/resources/models/default.safetensors",
    "mnist_desktop/resources/models/README.md",
    "mnist_desktop/resources/icons/mnist-desktop.png",
    "mnist_desktop/resources/icons/mnist-desktop.svg",
    "mnist_desktop/resources/mnist-desktop.desktop",
]

CHECK = """
import json, sys
import mnist_desktop
from mnist_desktop.model import DEFAULT_MODEL, Predictor, load_mnist
from mnist_desktop.model.data import DEFAULT_ROOT
images, labels = load_mnist("test")
print(json.dumps({
    "package": mnist_desktop.__file__, "data": str(DEFAULT_ROOT), "model": str(DEFAULT_MODEL),
    "images": list(images.shape), "labels": int(labels.shape[0]), "describe": Predictor.default().describe(),
}))
"""


def run(args, **kwargs):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a copy of the sources (so no build/ lands in the checkout)."""
    pytest.importorskip("setuptools", minversion="70.1")  # builds wheels by itself from 70.1 on
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "mnist_desktop", src / "mnist_desktop", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(tmp / "dist"), str(src)])
    (built,) = (tmp / "dist").glob("mnist_desktop-*.whl")
    return built


def test_the_wheel_carries_the_data_model_and_icon(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert set(SHIPPED) <= names, set(SHIPPED) - names
        model = z.read("mnist_desktop/resources/models/default.safetensors")
        entry_points = next(z.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
        metadata = next(z.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert model == (ROOT / "mnist_desktop/resources/models/default.safetensors").read_bytes()
    assert "mnist-desktop = mnist_desktop.cli:main" in entry_points
    assert "Requires-Dist: platformdirs" in metadata
    from mnist_desktop import __version__

    assert f"\nVersion: {__version__}\n" in metadata and wheel.name.startswith(f"mnist_desktop-{__version__}-")
    # the package and its metadata, nothing else (no tests, no scripts, no screenshots)
    assert {n.split("/")[0] for n in names} == {"mnist_desktop", f"mnist_desktop-{__version__}.dist-info"}


def test_the_installed_package_finds_mnist_and_its_model_from_anywhere(wheel, tmp_path):
    site = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    digit = elsewhere / "digit.png"
    from PIL import Image

    Image.fromarray(sample_drawings(1)[0]).save(digit)
    env = {k: v for k, v in os.environ.items() if k != "MNIST_DESKTOP_RESOURCES"}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")
    before = files_under(site)

    info = json.loads(run([sys.executable, "-c", CHECK], cwd=elsewhere, env=env).stdout)
    package = site / "mnist_desktop"
    assert Path(info["package"]).parent == package  # the installed copy, not this checkout
    assert Path(info["data"]) == package / "resources" / "mnist"
    assert Path(info["model"]) == package / "resources" / "models" / "default.safetensors"
    assert info["images"] == [10000, 28, 28] and info["labels"] == 10000 and "test accuracy" in info["describe"]

    top = json.loads(run([sys.executable, "-m", "mnist_desktop", "predict", str(digit), "--json"], cwd=elsewhere, env=env).stdout)["top"]
    assert len(top) == 3 and top[0]["probability"] > 0.5
    # the SHA-256 checks still guard the installed copy: a tampered file is reported by name
    labels = package / "resources/mnist/t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(labels.read_bytes()))
    data[100] = (data[100] + 1) % 10  # one label changed
    labels.write_bytes(gzip.compress(bytes(data)))
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_desktop", "evaluate", str(package / "resources/models/default.safetensors")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=elsewhere,
        env=env,
    )
    assert proc.returncode == 1 and "t10k-labels-idx1-ubyte.gz: checksum mismatch" in proc.stderr, proc.stderr
    assert files_under(site) == before  # the app wrote nothing inside the installed package
