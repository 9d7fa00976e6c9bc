import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from mnist_desktop.model import CheckpointError, Predictor, checkpoints, load_mnist
from mnist_desktop.model.config import ARCHITECTURE_SPECS


@pytest.fixture(scope="module")
def test_images():
    images, _ = load_mnist("test")
    return images[:64].float().numpy() / 255


@pytest.mark.parametrize("name", [*ARCHITECTURE_SPECS, "mlp-3v7"])
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
    with pytest.raises(CheckpointError, match=r"holds a Linear model, not a Convolutional net \(CNN\) one"):
        Predictor.load(path, expect_arch="cnn")
    # Metadata that claims another architecture than the weights are.
    forged = checkpoints.make_metadata("cnn", {}, "digits", "softmax", (0.1307, 0.3081))
    import json

    from safetensors.torch import save_file

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


@pytest.mark.parametrize(
    "content",
    [None, b"", os.urandom(4096), b"\xff" * 8 + b"{}", b"root:x:0:0:root:/root:/bin/bash\n" * 40, (4).to_bytes(8, "little") + b"{ab}"],
)
def test_the_torch_free_check_refuses_as_the_loader_does(tmp_path, content):
    """check_checkpoint_file (the command line's, before torch loads) says what load_checkpoint says."""
    from mnist_desktop.model.checkpoint_files import check_checkpoint_file

    path = tmp_path / "bad.safetensors"
    if content is not None:  # None: no such file
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as loaded:
        Predictor.load(path)
    with pytest.raises(CheckpointError) as checked:
        check_checkpoint_file(path)
    assert str(checked.value) == str(loaded.value)
    torch.save(Predictor.default().model.state_dict(), tmp_path / "ok.pt")
    for good in (Predictor.default().save(tmp_path / "ok.safetensors"), tmp_path / "ok.pt"):
        check_checkpoint_file(good)  # a checkpoint passes: the loader decides the rest


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


# ---------------------------------------------------------------- hostile and unusable files
import json  # noqa: E402
import threading  # noqa: E402

from safetensors.torch import save_file  # noqa: E402

from mnist_desktop.model import DEFAULT_MODEL  # noqa: E402


def raises_promptly(call, error=CheckpointError, timeout=10.0) -> str:
    """The message of the ``error`` that ``call()`` raises, failing (not hanging) if it blocks."""
    outcome = {}

    def run():
        try:
            call()
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{call} blocked for {timeout} s"
    assert isinstance(outcome.get("error"), error), outcome
    return str(outcome["error"])


def unblock(fifo):
    """Let a reader stuck in open() on ``fifo`` (today's code) go, so the test run ends."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def test_a_named_pipe_device_or_folder_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    try:
        assert "named pipe" in raises_promptly(lambda: Predictor.load(fifo))
    finally:
        unblock(fifo)
    assert "device" in raises_promptly(lambda: Predictor.load("/dev/zero"))
    assert "folder" in raises_promptly(lambda: Predictor.load(tmp_path))


def test_a_file_larger_than_any_checkpoint_is_refused(tmp_path):
    huge = tmp_path / "huge.safetensors"
    with open(huge, "wb") as f:
        f.truncate(checkpoints.MAX_CHECKPOINT_BYTES + 1)  # sparse: nothing written
    with pytest.raises(CheckpointError, match="larger than any checkpoint"):
        Predictor.load(huge)


def hostile(tmp_path, tensors=None, name="hostile.safetensors", **changes):
    """The bundled model's weights and metadata with ``changes`` applied to the metadata."""
    from safetensors import safe_open

    with safe_open(str(DEFAULT_MODEL), "pt") as f:
        meta = json.loads(f.metadata()[checkpoints.METADATA_KEY])
        weights = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(changes)
    if "arch_config" in changes:  # the digit head weighs the bundled CNN's features: another size refuses it first
        meta.get("recognition", {}).pop("digit_head", None)
    path = tmp_path / name
    save_file(weights if tensors is None else tensors(weights), str(path), metadata={checkpoints.METADATA_KEY: json.dumps(meta)})
    return path


def test_huge_architecture_config_is_refused_before_building(tmp_path, monkeypatch):
    built = []
    real = checkpoints.build_model

    def spy(*args, **kwargs):
        model = real(*args, **kwargs)
        built.append(next(model.parameters()).device.type)
        return model

    monkeypatch.setattr(checkpoints, "build_model", spy)
    path = hostile(tmp_path, arch_config={"channels1": 4096, "channels2": 4096})
    with pytest.raises(CheckpointError, match="channels1 must be an integer from 1 to 512"):
        Predictor.load(path)
    assert built == []
    # In range, but not what the weights are: refused from the shapes in the file's header,
    # with the expected shapes from a model on the meta device (no memory).
    path = hostile(tmp_path, arch_config={"channels1": 512, "channels2": 512})
    with pytest.raises(
        CheckpointError, match=r"do not fit architecture 'cnn'.*conv1\.weight is \(32, 1, 5, 5\), expected \(512, 1, 5, 5\)"
    ):
        Predictor.load(path)
    assert built == ["meta"]
    for config, message in (({"hidden": 30}, "unknown setting"), ({"channels1": True}, "channels1 must be"), ([], "mapping")):
        with pytest.raises(CheckpointError, match=message):
            Predictor.load(hostile(tmp_path, arch_config=config))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(tmp_path, value):
    def poison(weights):
        weights["fc.weight"][3, 7] = value
        return weights

    with pytest.raises(CheckpointError, match="fc.weight holds NaN or infinite values"):
        Predictor.load(hostile(tmp_path, tensors=poison))


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("bn1.running_var", -1.0, "bn1.running_var holds negative variances"),  # sqrt of it: NaN in every answer
        ("fc.weight", 3e38, "answers a blank or a simple image with NaN or infinity"),  # finite, but it overflows
    ],
)
def test_finite_weights_that_answer_nan_are_refused_by_both_loaders(tmp_path, name, value, message):
    """They passed every check and the command line printed "nan %" for every class, exit 0."""
    from mnist_desktop.model.numpy_forward import NumpyPredictor

    def poison(weights):
        weights[name].fill_(value)
        return weights

    path = hostile(tmp_path, tensors=poison)
    with pytest.raises(CheckpointError, match=message):
        Predictor.load(path)
    with pytest.raises(CheckpointError, match=message):
        NumpyPredictor.load(path)


@pytest.mark.parametrize("std", [float("nan"), float("inf"), 0.0, -1.0, True, "0.3"])
def test_bad_normalisation_is_refused(tmp_path, std):
    with pytest.raises(CheckpointError, match="bad normalisation"):
        Predictor.load(hostile(tmp_path, normalization={"mean": 0.1307, "std": std}))
    with pytest.raises(CheckpointError, match="bad normalisation"):
        Predictor.load(hostile(tmp_path, normalization={"mean": float("nan"), "std": 0.3081}))


def test_too_large_state_dict_is_not_imported(tmp_path):
    path = tmp_path / "wide.pt"
    torch.save(
        {
            "fc1.weight": torch.zeros(9000, 784),
            "fc1.bias": torch.zeros(9000),
            "fc2.weight": torch.zeros(10, 9000),
            "fc2.bias": torch.zeros(10),
        },
        path,
    )
    with pytest.raises(CheckpointError, match="hidden must be an integer from 1 to 8192"):
        Predictor.load(path)


def test_a_compressed_state_dict_that_unpacks_past_the_cap_is_refused_before_loading(tmp_path, monkeypatch):
    """torch.load reads deflated zip entries: a small file could unpack to gigabytes (1,000:1 seen).
    The cap (here 1 MiB) holds for what the file unpacks to, checked before torch reads it."""
    import zipfile

    plain = tmp_path / "plain.pt"
    torch.save({"fc.weight": torch.zeros(10, 784), "fc.bias": torch.zeros(10), "pad": torch.zeros(2**19)}, plain)
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 2**16 < 2**20 < plain.stat().st_size
    monkeypatch.setattr(checkpoints, "MAX_CHECKPOINT_BYTES", 2**20)
    loaded = []
    monkeypatch.setattr(checkpoints.torch, "load", lambda *a, **k: loaded.append(1))
    with pytest.raises(CheckpointError, match=r"unpacks to 2 MB, more than the 1 MB a checkpoint may take"):
        Predictor.load(bomb)
    assert loaded == []  # refused before torch read a byte of it


def test_pickle_refusal_never_suggests_unsafe_loading(tmp_path, capfd):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(784, 10), path)  # a whole module: a pickle of Python objects
    with pytest.raises(CheckpointError) as info:
        Predictor.load(path)
    message = str(info.value)
    assert "weights_only" not in message and "not a safe checkpoint" in message and "state_dict()" in message
    assert len(message.splitlines()) == 1
    assert capfd.readouterr().err == ""  # torch's own warnings are not shown either


@pytest.mark.parametrize("where", ["missing/x.safetensors", "file/x.safetensors", "folder.safetensors", "/sys/x.safetensors"])
def test_a_failed_save_is_a_checkpoint_error_naming_the_file(trained, tmp_path, where):
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "folder.safetensors").mkdir()
    target = tmp_path / where
    with pytest.raises(CheckpointError, match=rf"{target}: cannot save \(.+\)\. Choose a folder you can write to"):
        trained["linear"].save(target)
    with pytest.raises(CheckpointError, match="cannot save"):
        checkpoints.check_writable(target)
    assert checkpoints.check_writable(tmp_path / "ok") == tmp_path / "ok.safetensors"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder.safetensors"]  # no probe left behind


def test_saving_to_a_folder_is_refused_not_written_beside_it(tmp_path):
    """save("/tmp") wrote /tmp.safetensors next to the folder."""
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(CheckpointError, match="it is a folder; give a file name in it"):
        Predictor.default().save(folder)
    from mnist_desktop.model.checkpoints import check_writable

    with pytest.raises(CheckpointError, match="it is a folder; give a file name in it"):
        check_writable(folder)  # said before training as the save would say it after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"] and not any(folder.iterdir())


def test_a_name_that_is_not_utf8_is_refused_before_saving(tmp_path):
    """A model saved as b'm\\xe9.safetensors' could not be opened again (safetensors wants UTF-8 paths)."""
    from pathlib import Path

    from mnist_desktop.model.checkpoints import check_writable

    name = Path(os.fsdecode(bytes(tmp_path) + b"/m\xe9.safetensors"))
    for attempt in (lambda: check_writable(name), lambda: Predictor.default().save(name)):
        with pytest.raises(CheckpointError, match="its name is not UTF-8 text"):
            attempt()
    assert list(tmp_path.iterdir()) == []
