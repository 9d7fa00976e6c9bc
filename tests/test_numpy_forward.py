"""The numpy forward pass against PyTorch's: same probabilities, activations and weights, for every architecture."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnist_desktop.model import DEFAULT_MODEL, CheckpointError, Predictor, build_model, load_mnist, to_mnist
from mnist_desktop.model.architectures import ARCHITECTURES, TORCH_LAYERS
from mnist_desktop.model.checkpoints import make_metadata, save_checkpoint
from mnist_desktop.model.config import ARCHITECTURE_SPECS
from mnist_desktop.model.drawings import sample_drawings
from mnist_desktop.model.layers import LAYER_KINDS
from mnist_desktop.model.numpy_forward import NUMPY_LAYERS, NumpyPredictor, expected_shapes, load_weights
from mnist_desktop.model.preprocess import resize_antialiased

CASES = [
    ("pixel-similarity", {}, "digits", "softmax"),
    ("linear", {}, "digits", "softmax"),
    ("linear", {}, "3v7", "sigmoid"),
    ("mlp", {"hidden": 17}, "digits", "softmax"),
    ("mlp", {}, "3v7", "sigmoid"),
    ("cnn", {}, "digits", "softmax"),
    ("cnn", {"channels1": 3, "channels2": 5}, "3v7", "softmax"),
]


def _n_out(task, output):
    return 1 if output == "sigmoid" else (10 if task == "digits" else 2)


def _random_checkpoint(tmp_path, arch, config, task, output, seed=0):
    torch.manual_seed(seed)
    model = build_model(arch, _n_out(task, output), **config)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.uniform_(0.5, 2.0)  # batch norm with statistics that are not the initial 0 and 1
            elif not t.is_floating_point():
                continue
            elif name.endswith("running_mean") or name.startswith("bn"):
                t.normal_(0, 0.5)
            elif t.is_floating_point():
                t.normal_(0, 0.3 if arch != "pixel-similarity" else 1.0)
    meta = make_metadata(arch, config, task, output, ARCHITECTURES[arch].normalization)
    return save_checkpoint(tmp_path / f"{arch}-{task}-{output}.safetensors", model, meta)


@pytest.fixture(scope="module")
def inputs():
    drawings = [to_mnist(d) for d in sample_drawings(6)]
    images, _ = load_mnist("test")
    return drawings + [images[i].numpy().astype(np.float32) / 255 for i in range(4)]


@pytest.mark.parametrize("arch,config,task,output", CASES)
def test_numpy_and_torch_agree_for_random_weights(tmp_path, inputs, arch, config, task, output):
    path = _random_checkpoint(tmp_path, arch, config, task, output)
    torch_p, numpy_p = Predictor.load(path), NumpyPredictor.load(path)
    assert numpy_p.classes == torch_p.classes and numpy_p.describe() == torch_p.describe()
    for x in inputs:
        np.testing.assert_allclose(numpy_p.predict(x), torch_p.predict(x), atol=1e-5, rtol=0)
        a, b = numpy_p.activations(x), torch_p.activations(x)
        assert list(a) == list(b)
        for name in a:
            np.testing.assert_allclose(a[name], b[name], atol=1e-4, rtol=1e-5, err_msg=name)
        last = list(a)[-1]  # the activations panel labels the output layer with these
        np.testing.assert_allclose(numpy_p.output_probabilities(a[last]), torch_p.predict(x), atol=1e-5, rtol=0)
        np.testing.assert_allclose(torch_p.output_probabilities(b[last]), torch_p.predict(x), atol=1e-5, rtol=0)
    batch = np.stack(inputs)
    np.testing.assert_allclose(numpy_p.predict_batch(batch), torch_p.predict_batch(batch), atol=1e-5, rtol=0)
    # one pass over the batch gives, image by image, what activations gives one image at a time
    for p in (numpy_p, torch_p):
        many = p.activations_batch(batch)
        assert list(many) == list(p.activations(inputs[0]))
        for i, x in enumerate(inputs):
            for name, out in p.activations(x).items():
                assert many[name].dtype == np.float32 and many[name].shape == (len(inputs), *out.shape)
                np.testing.assert_allclose(many[name][i], out, atol=1e-4, rtol=1e-5, err_msg=f"{type(p).__name__} {name} {i}")
    w, v = numpy_p.layer_weights(), torch_p.layer_weights()
    assert list(w) == list(v) and all(np.array_equal(w[k], v[k]) for k in w)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURE_SPECS))
def test_every_registered_architecture_has_a_torch_model_and_a_numpy_twin(tmp_path, inputs, arch):
    """From the registry, not a list written here: a new architecture whose layers lack a torch
    module or a numpy function, or whose two disagree, fails."""
    spec = ARCHITECTURE_SPECS[arch]
    for task, output in (("digits", "softmax"), ("3v7", "sigmoid")):
        kinds = {layer.kind for layer in spec.layers(_n_out(task, output))}
        assert kinds <= set(TORCH_LAYERS) and kinds <= set(NUMPY_LAYERS)
        path = _random_checkpoint(tmp_path, arch, {}, task, output)
        torch_p, numpy_p = Predictor.load(path), NumpyPredictor.load(path)
        batch = np.stack(inputs)
        np.testing.assert_allclose(numpy_p.predict_batch(batch), torch_p.predict_batch(batch), atol=1e-5, rtol=0)
        a, b = numpy_p.activations(inputs[0]), torch_p.activations(inputs[0])
        assert list(a) == list(b) == [layer.name for layer in spec.layers(_n_out(task, output))]
        for name in a:
            np.testing.assert_allclose(a[name], b[name], atol=1e-4, rtol=1e-5, err_msg=name)
        w, v = numpy_p.layer_weights(), torch_p.layer_weights()
        assert list(w) == list(v) and all(np.array_equal(w[k], v[k]) for k in w)
        with torch.device("meta"):
            state = build_model(arch, _n_out(task, output)).state_dict()
        assert spec.parameter_shapes(_n_out(task, output)) == {k: tuple(v.shape) for k, v in state.items()}


def test_every_layer_kind_has_a_torch_module_and_a_numpy_function():
    assert set(LAYER_KINDS) == set(TORCH_LAYERS) == set(NUMPY_LAYERS)


def test_a_layer_kind_without_a_numpy_function_is_a_clear_error(tmp_path, monkeypatch):
    """What an architecture without its numpy twin meets: the registry test above fails, and
    loading one says which kind is missing instead of computing something else."""
    path = _random_checkpoint(tmp_path, "cnn", {}, "digits", "softmax")
    monkeypatch.delitem(NUMPY_LAYERS, "maxpool")
    with pytest.raises(ValueError, match="layer kind 'maxpool' has no numpy function"):
        NumpyPredictor.load(path)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURE_SPECS))
def test_every_registered_architecture_is_recognised_in_a_plain_state_dict(tmp_path, arch):
    """A ``.pt`` state dict of each architecture is imported as that architecture, its settings
    and outputs read from the shapes (``ArchitectureSpec.infer``)."""
    spec = ARCHITECTURE_SPECS[arch]
    config = {k: s.default + 1 for k, s in spec.settings.items()}  # not the defaults: they must be read
    model = build_model(arch, 10, **config)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    p = Predictor.load(tmp_path / "weights.pt")
    assert (p.arch, p.meta["arch_config"], p.classes) == (arch, config, list(range(10)))
    assert p.meta["normalization"] == dict(zip(("mean", "std"), spec.normalization))


@pytest.mark.parametrize("arch,config,task,output", CASES)
def test_an_empty_batch_gives_empty_answers_of_the_right_width(tmp_path, arch, config, task, output):
    """No images (a canvas whose number has no digit, an empty folder): no rows, not a
    torch.cat / reshape error, from every batch method of both predictors."""
    path = _random_checkpoint(tmp_path, arch, config, task, output)
    _check_empty_batches([Predictor.load(path), NumpyPredictor.load(path)], len(Predictor.load(path).classes))


def test_the_bundled_model_with_its_digit_head_answers_an_empty_batch():
    _check_empty_batches([Predictor.default(), NumpyPredictor.default()], 10)


def _check_empty_batches(predictors, n_classes):
    empty, one = np.zeros((0, 28, 28), np.uint8), np.full((1, 28, 28), 255, np.uint8)
    for p in predictors:
        assert p.predict_batch(empty).shape == (0, n_classes)
        assert p.logits_batch(empty).shape == (0, p.logits_batch(one).shape[1])
        parts, full = p.forward_parts(empty), p.forward_parts(one)
        assert [a.shape for a in parts] == [(0, *b.shape[1:]) for b in full]
        probabilities, digits = p.predict_batch_checked(empty)
        assert probabilities.shape == (0, n_classes) and digits.shape == (0,) and digits.dtype == bool
        assert p.is_digit_batch(empty).shape == (0,)


def test_numpy_and_torch_agree_for_the_trained_bundled_model():
    torch_p, numpy_p = Predictor.default(), NumpyPredictor.default()
    images, _ = load_mnist("test")
    x = images[:500].numpy()
    np.testing.assert_allclose(numpy_p.predict_batch(x), torch_p.predict_batch(x), atol=1e-5, rtol=0)
    for drawing in sample_drawings(10):
        np.testing.assert_allclose(numpy_p.predict(to_mnist(drawing)), torch_p.predict(to_mnist(drawing)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch,config,task,output", CASES)
def test_expected_shapes_are_the_torch_state_dicts(arch, config, task, output):
    n_out = _n_out(task, output)
    with torch.device("meta"):
        state = build_model(arch, n_out, **config).state_dict()
    assert expected_shapes(arch, n_out, config) == {k: tuple(v.shape) for k, v in state.items()}


def test_refuses_what_the_torch_loader_refuses(tmp_path):
    from safetensors.torch import save_file

    path = _random_checkpoint(tmp_path, "linear", {}, "digits", "softmax")
    weights, meta = load_weights(path)
    import json

    from mnist_desktop.model.checkpoints import METADATA_KEY

    bad = {k: torch.from_numpy(v) for k, v in weights.items()}
    bad["fc.bias"] = torch.full((10,), float("nan"))
    save_file(bad, str(tmp_path / "nan.safetensors"), metadata={METADATA_KEY: json.dumps(meta)})
    wrong = {"fc.weight": torch.zeros(10, 783), "fc.bias": torch.zeros(10)}
    save_file(wrong, str(tmp_path / "shape.safetensors"), metadata={METADATA_KEY: json.dumps(meta)})
    ints = {"fc.weight": torch.zeros(10, 784, dtype=torch.int32), "fc.bias": torch.zeros(10)}
    save_file(ints, str(tmp_path / "int.safetensors"), metadata={METADATA_KEY: json.dumps(meta)})
    save_file(ints, str(tmp_path / "nometa.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    for name, message in [
        ("nan", "NaN"),
        ("shape", "do not fit"),
        ("int", "floating-point"),
        ("nometa", "without mnist-desktop metadata"),
        ("junk", "not a safetensors"),
    ]:
        with pytest.raises(CheckpointError, match=message):
            NumpyPredictor.load(tmp_path / f"{name}.safetensors")
        with pytest.raises(CheckpointError):
            Predictor.load(tmp_path / f"{name}.safetensors")


def _torch_resize(crop, size):
    x = torch.from_numpy(np.ascontiguousarray(crop)).float()[None, None]
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0].clamp_(0, 255).numpy() / 255.0


def test_the_numpy_resize_is_torchs_antialiased_bilinear():
    rng = np.random.default_rng(0)
    for h, w in [(280, 280), (57, 13), (3, 40), (7, 7), (1, 1), (19, 21), (500, 230), (20, 20), (11, 2)]:
        crop = (rng.random((h, w)) * 255).astype(np.uint8)
        scale = 20 / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        np.testing.assert_allclose(resize_antialiased(crop, size), _torch_resize(crop, size), atol=1e-5, rtol=0, err_msg=f"{h}×{w}")


def test_prediction_without_torch_imports_no_torch():
    code = (
        "import sys\n"
        "from mnist_desktop.model.numpy_forward import NumpyPredictor\n"
        "from mnist_desktop.model.preprocess import to_mnist\n"
        "import numpy as np\n"
        "one = np.zeros((280, 280), np.uint8); one[40:240, 130:150] = 255\n"
        "p = NumpyPredictor.default()\n"
        "print(p.classes[int(p.predict(to_mnist(one)).argmax())], 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "False"]


def test_the_default_model_file_is_the_same():
    from mnist_desktop.model import numpy_forward

    assert numpy_forward.DEFAULT_MODEL == DEFAULT_MODEL
