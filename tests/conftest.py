import os

# Qt must never need a display in tests; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _user_data_home(tmp_path_factory, monkeypatch):
    """What the app makes for the user (saved models, desktop entries) goes to a temporary
    folder in tests, never into the real ~/.local/share (platformdirs follows XDG_DATA_HOME)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


@pytest.fixture(scope="session")
def trained():
    """One small trained predictor per architecture (and a 1-output mnist-loss model), trained
    once for every test that reads them (they must not change them)."""
    from mnist_desktop.model import TrainConfig, train
    from mnist_desktop.model.config import ARCHITECTURE_SPECS

    # Every registered architecture (a new one is round-tripped without a line here), small.
    configs = {name: TrainConfig(arch=name, subset=1000, epochs=1, device="cpu") for name in ARCHITECTURE_SPECS}
    configs["pixel-similarity"] = TrainConfig(arch="pixel-similarity", device="cpu")
    configs["mlp"] = TrainConfig(arch="mlp", hidden=17, subset=1000, epochs=1, device="cpu")
    configs["mlp-3v7"] = TrainConfig(arch="mlp", task="3v7", loss="mnist-loss", subset=1000, epochs=1, device="cpu")
    return {name: train(c).predictor for name, c in configs.items()}
