import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from mnist_desktop.model import CheckpointError, Predictor, TrainConfig, load_mnist, train
from mnist_desktop.model import checkpoints


@pytest.fixture(scope="module")
def test_images():
    images, _ = load_mnist("test")
    return images[:64].float().numpy() / 255


@pytest.fixture(scope="module")
def trained():
    """One small trained predictor per architecture (and a 1-output mnist-loss model)."""
    configs = {
        "pixel-similarity": TrainConfig(arch="pixel-similarity", device="cpu"),
        "linear": TrainConfig(arch="linear", subset=1000, epochs=1, device="cpu"),
        "mlp": TrainConfig(arch="mlp", hidden=17, subset=1000, epochs=1, device="cpu"),
        "cnn": TrainConfig(arch="cnn", subset=1000, epochs=1, device="cpu"),
        "mlp-3v7": TrainConfig(arch="mlp", task="3v7", loss="mnist-loss", subset=1000, epochs=1, device="cpu"),
    }
    return {name: train(c).predictor for name, c in configs.items()}


@pytest.mark.parametrize("name", ["pixel-similarity", "linear", "mlp", "cnn", "mlp-3v7"])
def test_round_trip_gives_identical_predictions(trained, test_images, tmp_path, name):
    original = trained[name]
    path = original.save(tmp_path / "model.safetensors")
    loaded = Predictor.load(path)
    assert (loaded.arch, loaded.task, loaded.classes) == (original.arch, original.task, original.classes)
    assert loaded.metrics == original.metrics and loaded.meta["training"] == original.meta["training"]
    np.testing.assert_array_equal(loaded.predict_batch(test_images), original.predict_batch(test_images))
    np.testing.assert_array_equal(loaded.predict(test_images[0]), original.predict(test_images[0]))


def test_saved_file_is_plain_safetensors_with_metadata(trained, tmp_path):
    from safetensors import safe_open

    path = trained["mlp"].save(tmp_path / "m")
    assert path.name == "m.safetensors" and oct(path.stat().st_mode & 0o077) != "0o0"
    with safe_open(str(path), "pt") as f:
        assert set(f.keys()) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
        assert '"architecture": "mlp"' in f.metadata()["mnist_desktop"]
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_interrupted_save_keeps_the_previous_file(trained, tmp_path, monkeypatch):
    path = trained["linear"].save(tmp_path / "model.safetensors")
    before = path.read_bytes()

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "save_file", crash)
    with pytest.raises(CheckpointError, match="cannot save"):
        trained["cnn"].save(path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


class Payload:
    """Unpickling this would create a folder: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_malicious_pickles_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    zipped = tmp_path / "evil.pt"
    torch.save({"fc.weight": torch.zeros(10, 784), "fc.bias": Payload(str(marker))}, zipped)
    assert zipfile.is_zipfile(zipped)
    legacy = tmp_path / "evil.pkl"
    legacy.write_bytes(pickle.dumps({"fc.weight": Payload(str(marker))}, protocol=2))
    for path in (zipped, legacy):
        with pytest.raises(CheckpointError, match="refused"):
            Predictor.load(path)
    assert not marker.exists()
    # The payload is real: unpickling it the unsafe way does create the file.
    pickle.loads(legacy.read_bytes())
    assert marker.exists()


def test_plain_state_dict_is_imported_safely(trained, test_images, tmp_path):
    original = trained["cnn"]
    path = tmp_path / "weights.pt"
    torch.save(original.model.state_dict(), path)
    imported = Predictor.load(path)
    assert imported.arch == "cnn" and imported.classes == list(range(10))
    np.testing.assert_allclose(imported.predict_batch(test_images), original.predict_batch(test_images), atol=1e-6)


def test_weights_of_another_architecture_are_a_clear_error(trained, tmp_path):
    path = trained["linear"].save(tmp_path / "linear.safetensors")
    with pytest.raises(CheckpointError, match="holds a Linear model, not a CNN one"):
        Predictor.load(path, expect_arch="cnn")
    # Metadata that claims another architecture than the weights are.
    forged = checkpoints.make_metadata("cnn", {}, "digits", "softmax", (0.1307, 0.3081))
    from safetensors.torch import save_file
    import json

    save_file(trained["linear"].model.state_dict(), str(tmp_path / "forged.safetensors"), metadata={"mnist_desktop": json.dumps(forged)})
    with pytest.raises(CheckpointError, match="do not fit architecture 'cnn'"):
        Predictor.load(tmp_path / "forged.safetensors")


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "not a readable safetensors"),
        (os.urandom(4096), "not a readable safetensors"),
        (b"\xff" * 8 + b"{}", "not a readable safetensors"),
    ],
)
def test_garbage_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        Predictor.load(path)


def test_truncated_checkpoint_and_foreign_safetensors(trained, tmp_path):
    path = trained["cnn"].save(tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError):
        Predictor.load(path)
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(3)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(CheckpointError, match="without mnist-desktop metadata"):
        Predictor.load(tmp_path / "foreign.safetensors")
    with pytest.raises(CheckpointError, match="cannot open"):
        Predictor.load(tmp_path / "missing.safetensors")
