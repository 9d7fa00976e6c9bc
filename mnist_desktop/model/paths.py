"""Where things are: what ships inside the package, and where the user's own files go.

The bundled data (MNIST, the default model, the icon) lives in ``mnist_desktop/resources``
and is found through ``importlib.resources``, so it is found the same way from a source
checkout, an editable install, ``pip install .``, a wheel or pipx. Installed packages are
unpacked folders, so ``files()`` is a real directory; the app reads it and never writes to it.

What the user makes (saved models) goes to the folder their OS expects for an application's
data (``platformdirs``): ``~/.local/share/mnist-desktop`` on Linux (``$XDG_DATA_HOME``),
``~/Library/Application Support/mnist-desktop`` on macOS, ``%LOCALAPPDATA%\\mnist-desktop``
on Windows. The window uses this function too, so the engine and the GUI agree on one folder.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

APP_NAME = "mnist-desktop"
RESOURCES_ENV = "MNIST_DESKTOP_RESOURCES"


def package_resources() -> Path:
    """The ``resources`` folder inside the installed package (read-only for the app)."""
    found = files("mnist_desktop") / "resources"
    # A regular package on disk gives a Path. A zipped package (zipimport) does not: its
    # string is a path that does not exist, which the readers then report by name.
    return found if isinstance(found, Path) else Path(str(found))


PACKAGE_RESOURCES = package_resources()
# The data root: the bundled copy, or a folder with the same layout (mnist/, models/) named
# by $MNIST_DESKTOP_RESOURCES.
RESOURCES = Path(os.environ[RESOURCES_ENV]).expanduser() if os.environ.get(RESOURCES_ENV) else PACKAGE_RESOURCES
ICON_PNG = PACKAGE_RESOURCES / "icons" / "mnist-desktop.png"
ICON_SVG = PACKAGE_RESOURCES / "icons" / "mnist-desktop.svg"
DESKTOP_ENTRY = PACKAGE_RESOURCES / "mnist-desktop.desktop"


def user_data_dir(create: bool = False) -> Path:
    """The folder for what the user makes (saved models), as their OS expects it.

    With ``create``, the folder is made if missing (an ``OSError`` if it cannot be).
    """
    import platformdirs

    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def is_inside_package(path: str | os.PathLike) -> bool:
    """Whether ``path`` lies inside the installed package, where the app must never write."""
    package = PACKAGE_RESOURCES.parent.resolve()
    try:
        return Path(path).expanduser().resolve().is_relative_to(package)
    except (OSError, ValueError):
        return False


def is_source_checkout() -> bool:
    """Whether the package runs from its source folder (an editable install, a clone), where the
    maintainers' own commands write the bundled model, rather than from an installed copy."""
    return (PACKAGE_RESOURCES.parent.parent / "pyproject.toml").is_file()
