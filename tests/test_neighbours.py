"""nearest_training: the training digits nearest a drawing in the model's last hidden layer, against brute force."""

import numpy as np
import pytest
import torch

from mnist_desktop.model import Predictor, build_model, mnist_arrays, nearest_training, neighbours, training_features
from mnist_desktop.model.numpy_forward import NumpyPredictor


def predictor_of(arch: str, seed: int = 0, classes=tuple(range(10)), **config) -> Predictor:
    torch.manual_seed(seed)
    model = build_model(arch, len(classes), **config)
    meta = {
        "architecture": arch,
        "arch_config": config,
        "task": "all" if len(classes) == 10 else "3v7",
        "classes": list(classes),
        "output": "softmax",
        "normalization": {"mean": 0.1307, "std": 0.3081},
    }
    return Predictor(model, meta)


@pytest.fixture(autouse=True)
def fresh_cache():
    neighbours.clear_cache()
    yield
    neighbours.clear_cache()


SMALL = 6000


@pytest.fixture
def small_training_set(monkeypatch):
    """The first SMALL training digits stand for all 60,000, for tests about the cache and its
    progress rather than the neighbours themselves: a few batches instead of thirty."""
    from mnist_desktop.model import data

    full = data.mnist_arrays

    def first(split, *args, **kwargs):
        images, labels = full(split, *args, **kwargs)
        return (images[:SMALL], labels[:SMALL]) if split == "train" else (images, labels)

    monkeypatch.setattr(data, "mnist_arrays", first)


def brute_force(features: np.ndarray, q: np.ndarray, k: int):
    d = np.sqrt(((features.astype(np.float64) - q.astype(np.float64)) ** 2).sum(axis=1))
    order = np.argsort(d, kind="stable")[:k]
    return order, d[order]


@pytest.mark.parametrize("half", [False, True])
def test_mlp_neighbours_are_the_brute_force_ones_in_its_hidden_layer(half, monkeypatch):
    monkeypatch.setattr(neighbours, "HALF_PRECISION", half)
    p = predictor_of("mlp", hidden=30)
    train, _ = mnist_arrays("train")
    # The reference features come from a forward hook on the output layer's input, not from the module's code.
    seen = []
    hook = p.model.fc2.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0].detach().numpy().copy()))
    with torch.no_grad():
        p.model(((torch.from_numpy(train.copy()).float() / 255 - 0.1307) / 0.3081).reshape(-1, 1, 28, 28))
    hook.remove()
    reference = seen[0]
    built = training_features(p)
    assert "30 inputs" in built.space and built.features.shape == (60000, 30)
    # the hidden layer's values (at half precision rounded to float16)
    assert built.features.dtype == (np.float16 if half else np.float32)
    assert np.all(np.abs(built.features.astype(np.float32) - reference) <= (2**-11 if half else 0) * np.abs(reference) + 1e-5)
    test, _ = mnist_arrays("test")
    rng = np.random.default_rng(0)
    for i in rng.choice(len(test), 12, replace=False):
        x28 = test[i].astype(np.float32) / 255
        indices, distances = nearest_training(p, x28, k=8)
        with torch.no_grad():
            q = p.model[:3](torch.from_numpy((x28 - 0.1307) / 0.3081).reshape(1, 1, 28, 28)).numpy()[0]
        want, want_d = brute_force(built.features, q, 8)  # exact over the stored values
        assert indices.dtype == np.int64 and len(indices) == 8
        assert np.allclose(distances, want_d, rtol=1e-4, atol=1e-4)
        assert np.all(np.diff(distances) >= 0)
        assert set(indices.tolist()) == set(want.tolist()) or np.allclose(distances[-1], distances[-2], rtol=1e-4)
        # and (at half precision within float16's rounding) the answer over the float32 features
        _, full_d = brute_force(reference, q, 8)
        assert np.allclose(distances, full_d, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("half", [False, True])
def test_cnn_neighbours_match_brute_force_and_a_training_digit_finds_itself(half, monkeypatch):
    monkeypatch.setattr(neighbours, "HALF_PRECISION", half)
    p = predictor_of("cnn", channels1=4, channels2=8)  # small: the features of 60,000 digits in seconds
    built = training_features(p)
    assert built.features.shape == (60000, 128) and "'fc'" in built.space
    assert built.features.dtype == (np.float16 if half else np.float32) and built.features.nbytes == 60000 * 128 * (2 if half else 4)
    train, labels = mnist_arrays("train")
    for i in (0, 123, 59999):
        x28 = train[i].astype(np.float32) / 255
        indices, distances = nearest_training(p, x28, k=5)
        # its stored copy is its features (at half precision rounded to float16: off by at most 2^-11 of them)
        assert indices[0] == i and distances[0] <= 2**-11 * np.linalg.norm(neighbours.hidden_features(p, x28[None])[0]) + 1e-6
    test, _ = mnist_arrays("test")
    x28 = test[7].astype(np.float32) / 255
    indices, distances = nearest_training(p, x28, k=8)
    q = neighbours.hidden_features(p, x28[None])[0]
    want, want_d = brute_force(built.features, q, 8)
    assert indices.tolist() == want.tolist() and np.allclose(distances, want_d, rtol=1e-4)


@pytest.mark.parametrize("half", [False, True])
def test_a_drawing_far_from_every_digit_scans_them_all_and_is_still_exact(half, monkeypatch):
    """Scribbles and strokes are far from every training digit: the projected bound prunes
    nothing, and past FULL_SCAN candidates one matrix product over all of them answers (the
    doubling it replaces took up to 0.8 s on the bundled CNN). The answer is brute force's."""
    monkeypatch.setattr(neighbours, "HALF_PRECISION", half)
    p = predictor_of("cnn", channels1=4, channels2=8)
    built = training_features(p)
    assert built.features.dtype == (np.float16 if half else np.float32)
    scans = []
    real = neighbours._full_scan
    monkeypatch.setattr(neighbours, "_full_scan", lambda *a: scans.append(1) or real(*a))
    monkeypatch.setattr(neighbours, "FIRST_CANDIDATES", 16)  # so that it falls through at once
    monkeypatch.setattr(neighbours, "FULL_SCAN", 16)
    rng = np.random.default_rng(1)
    for x28 in [rng.random((28, 28)).astype(np.float32), np.eye(28, dtype=np.float32), mnist_arrays("test")[0][3] / np.float32(255)]:
        indices, distances = nearest_training(p, x28, k=8)
        q = neighbours.hidden_features(p, x28[None])[0]
        want, want_d = brute_force(built.features, q, 8)
        assert np.allclose(distances, want_d, rtol=1e-4, atol=1e-4)
        assert indices.tolist() == want.tolist() or np.allclose(distances[-1], distances[-2], rtol=1e-4)
    assert len(scans) == 3
    monkeypatch.undo()
    # more neighbours asked than are compared first: still brute force's
    x28 = mnist_arrays("test")[0][5] / np.float32(255)
    _, distances = nearest_training(p, x28, k=1500)
    _, want_d = brute_force(built.features, neighbours.hidden_features(p, x28[None])[0], 1500)
    assert np.allclose(distances, want_d, rtol=1e-4, atol=1e-4)
    # given the features (as the window's query worker is), it never builds them again
    neighbours.clear_cache()
    nearest_training(p, np.eye(28, dtype=np.float32), k=3, features=built)
    assert neighbours.cached_features(p) is None


def test_features_too_large_for_float16_stay_float32_and_exact(monkeypatch):
    """Half precision ends at 65,504: a model whose hidden values are larger keeps float32
    features (no infinities), and the queries, the candidates' and the full scan's, stay exact."""
    monkeypatch.setattr(neighbours, "HALF_PRECISION", True)
    p = predictor_of("mlp", hidden=8)
    with torch.no_grad():
        p.model.fc1.weight.mul_(1e6)
        p.model.fc1.bias.mul_(1e6)
    built = training_features(p)
    assert built.features.dtype == np.float32 and np.isfinite(built.features).all()
    assert built.features.max() > neighbours.FLOAT16_MAX
    test, _ = mnist_arrays("test")
    for x28 in [test[0] / np.float32(255), np.eye(28, dtype=np.float32)]:
        indices, distances = nearest_training(p, x28, k=5)
        want, want_d = brute_force(built.features, neighbours.hidden_features(p, x28[None])[0], 5)
        assert np.allclose(distances, want_d, rtol=1e-4)
        assert indices.tolist() == want.tolist() or np.allclose(distances[-1], distances[-2], rtol=1e-4)
        assert neighbours._full_scan(built, neighbours.hidden_features(p, x28[None])[0], 5)[0].tolist() == indices.tolist()


def test_a_later_batch_too_large_for_float16_makes_every_row_float32(monkeypatch):
    """When only a later batch of training digits overflows float16, the rows stored before it are
    not left rounded to float16: the whole table is built again as float32."""
    monkeypatch.setattr(neighbours, "HALF_PRECISION", True)
    p = predictor_of("mlp", hidden=8)
    train, _ = mnist_arrays("train")
    huge = train[neighbours.BATCH + 3]
    real = neighbours._hidden_tensor

    def one_huge_digit(predictor, images):
        out = real(predictor, images)
        hit = torch.from_numpy((np.asarray(images) == huge).all(axis=(1, 2)))
        return torch.where(hit[:, None], out * 1e6 + 1e6, out)

    monkeypatch.setattr(neighbours, "_hidden_tensor", one_huge_digit)
    built = training_features(p)
    assert built.features.dtype == np.float32 and built.features.max() > neighbours.FLOAT16_MAX
    first = neighbours.hidden_features(p, train[:50])
    rounded = first.astype(np.float16).astype(np.float32)
    assert np.allclose(built.features[:50], first, rtol=1e-5, atol=1e-6)  # float32 values (up to the batch's own rounding)
    assert not np.allclose(rounded, first, rtol=1e-5, atol=1e-6)  # not float16-rounded ones, which differ more


def test_models_without_a_hidden_layer_use_pixels():
    p = predictor_of("linear")
    built = training_features(p)
    assert built.space.startswith("pixels") and built.features.shape == (60000, 784)
    train, _ = mnist_arrays("train")
    x28 = train[42].astype(np.float32) / 255
    indices, distances = nearest_training(p, x28, k=3)
    assert indices[0] == 42 and distances[0] <= 2**-11 * np.linalg.norm((x28.reshape(-1) - 0.1307) / 0.3081) + 1e-6
    want, want_d = brute_force(built.features, (x28.reshape(-1) - 0.1307) / 0.3081, 3)
    assert indices.tolist() == want.tolist() and np.allclose(distances, want_d, rtol=1e-4, atol=1e-4)


def test_a_retrained_or_other_model_never_reuses_a_stale_cache(small_training_set):
    p = predictor_of("mlp", hidden=8)
    first = training_features(p)
    assert training_features(p) is first and neighbours.cached_features(p) is first
    with torch.no_grad():
        p.model.fc1.weight[0, 0] += 1.0  # trained a little more, in place
    assert neighbours.cached_features(p) is None
    second = training_features(p)
    assert second.key != first.key and not np.array_equal(second.features, first.features)
    other = predictor_of("mlp", seed=1, hidden=8)
    assert neighbours.cached_features(other) is None
    third = training_features(other)
    # bounded: at most MAX_CACHED models' features are kept, the least recently used goes
    keys = list(neighbours._cache)
    assert len(keys) <= neighbours.MAX_CACHED and third.key in keys and first.key not in keys


def test_progress_and_stop(small_training_set):
    p = predictor_of("mlp", hidden=8)
    calls = []
    training_features(p, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (SMALL, SMALL) and [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) > 1
    neighbours.clear_cache()
    calls.clear()
    stopped = training_features(p, progress=lambda done, total: calls.append(done), should_stop=lambda: len(calls) >= 2)
    assert stopped is None and calls == [neighbours.BATCH, 2 * neighbours.BATCH]
    assert neighbours.cached_features(p) is None


def test_bad_queries():
    p = predictor_of("mlp", hidden=8)
    with pytest.raises(ValueError, match="k must be"):
        nearest_training(p, np.zeros((28, 28), np.float32), k=0)
    with pytest.raises(ValueError, match=r"\(28, 28\)"):
        nearest_training(p, np.zeros((20, 20), np.float32))
    for bad in (np.nan, np.inf):  # gave 8 arbitrary digits at distance NaN
        x = np.zeros((28, 28), np.float32)
        x[3, 4] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            nearest_training(p, x)
    with pytest.raises(TypeError, match="torch Predictor"):
        nearest_training(NumpyPredictor.default(), np.zeros((28, 28), np.float32))


def test_keep_only_holds_the_active_models_features_alone(small_training_set):
    models = [predictor_of("mlp", seed=seed, hidden=8) for seed in range(3)]
    for p in models:
        training_features(p)
        assert neighbours.cached_models() <= neighbours.MAX_CACHED == 1
    assert neighbours.cached_features(models[-1]) is not None
    training_features(models[0])
    assert neighbours.keep_only(models[0]) == 0 and neighbours.cached_features(models[0]) is not None
    assert neighbours.keep_only(models[1]) == 1 and neighbours.cached_models() == 0
    training_features(models[1])
    assert neighbours.keep_only(NumpyPredictor.default()) == 1 and neighbours.cached_models() == 0  # not a torch model: nothing is its
    training_features(models[2])
    assert neighbours.keep_only(None) == 1 and neighbours.cached_models() == 0


@pytest.mark.parametrize("full_scan", [False, True])
def test_a_two_class_models_neighbours_are_of_its_classes_only(small_training_set, monkeypatch, full_scan):
    """A 3-vs-7 model learned from 3s and 7s alone: its nearest training digits are among those
    (the window showed 1s and a 5 beside a 3-vs-7 model's reading), exactly as brute force over them."""
    p = predictor_of("mlp", classes=(3, 7), hidden=32)
    scans = []
    if full_scan:  # every query answered by the one product over all the training digits
        monkeypatch.setattr(neighbours, "FULL_SCAN", 0)
        real_scan = neighbours._full_scan
        monkeypatch.setattr(neighbours, "_full_scan", lambda *a: scans.append(1) or real_scan(*a))
    built = training_features(p)
    from mnist_desktop.model import data

    train, labels = data.mnist_arrays("train")  # the small set the fixture puts in its place
    mine = np.isin(labels, [3, 7])
    assert built.of_classes is not None and (built.of_classes == mine).all()
    rows = np.flatnonzero(mine)
    for x28 in (train[np.flatnonzero(labels == 1)[0]], np.random.default_rng(0).random((28, 28))):  # a 1, a digit it never saw, and noise
        x28 = x28.astype(np.float32) / (255 if x28.max() > 1 else 1)
        indices, distances = nearest_training(p, x28, k=8)
        assert set(labels[indices].tolist()) <= {3, 7}
        q = neighbours.hidden_features(p, x28[None])[0]
        want, want_d = brute_force(built.features[rows], q, 8)
        assert indices.tolist() == rows[want].tolist() and np.allclose(distances, want_d, rtol=1e-3, atol=1e-3)
    assert len(scans) == (2 if full_scan else 0)
    # a model of all ten digits keeps every training digit
    assert training_features(predictor_of("mlp", hidden=32)).of_classes is None
