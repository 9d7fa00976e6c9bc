"""The evaluation's curves and point map: threshold, robustness (damage), PCA."""

import threading

import numpy as np
import pytest
import torch

from mnist_desktop.model import Predictor, evaluate, mnist_arrays
from mnist_desktop.model.evaluation import (
    DAMAGES,
    Evaluation,
    confidence_curve,
    damage,
    layer_activations,
    layer_names,
    pca_2d,
    point_map,
    robustness,
)


@pytest.fixture(scope="module")
def default():
    return Predictor.default()


@pytest.fixture(scope="module")
def test_set():
    images, labels = mnist_arrays("test")
    return images[:300], labels[:300]


def _evaluation(probabilities, labels) -> Evaluation:
    probabilities = np.asarray(probabilities, np.float32)
    labels = np.asarray(labels)
    predicted = probabilities.argmax(1)
    return Evaluation(
        classes=(0, 1),
        accuracy=float((predicted == labels).mean()),
        per_class=np.zeros(2),
        confusion=np.zeros((2, 2), np.int64),
        probabilities=probabilities,
        predicted=predicted,
        labels=labels,
        indices=np.arange(len(labels)),
        top_losses=np.zeros(0, np.int64),
    )


def test_confidence_curve_by_hand():
    # confidences 0.6 (right), 0.7 (wrong), 0.9 (right), 1.0 (right)
    e = _evaluation([[0.6, 0.4], [0.3, 0.7], [0.9, 0.1], [0.0, 1.0]], [0, 0, 0, 1])
    t, answered, accuracy = confidence_curve(e, [0.0, 0.65, 0.8, 0.95, 1.0])
    assert answered.tolist() == [1.0, 0.75, 0.5, 0.25, 0.25]
    np.testing.assert_allclose(accuracy, [0.75, 2 / 3, 1.0, 1.0, 1.0])
    _, answered, accuracy = confidence_curve(_evaluation([[0.6, 0.4]], [0]), [0.9])
    assert answered.tolist() == [0.0] and np.isnan(accuracy[0])  # nothing answered: no accuracy


def test_confidence_curve_of_the_bundled_model(default, test_set):
    e = evaluate(default, *test_set)
    t, answered, accuracy = confidence_curve(e)
    assert answered[0] == 1.0 and accuracy[0] == pytest.approx(e.accuracy)
    assert np.all(np.diff(answered) <= 0)  # a higher bar answers fewer
    # above the most confident mistake, every answer is right
    worst = e.probabilities[e.top_losses[0]].max()
    _, answered, accuracy = confidence_curve(e, [np.nextafter(worst, 1)])
    assert accuracy[0] == 1.0 and 0 < answered[0] < 1


def test_damage_amount_zero_is_the_identity_and_damage_is_deterministic(test_set):
    images = test_set[0][:20]
    for kind in ("noise", "rotation", "shift"):
        np.testing.assert_array_equal(damage(images, kind, 0.0), images)
    np.testing.assert_array_equal(damage(images, "scale", 1.0), images)
    np.testing.assert_array_equal(damage(images, "thickness", 0), images)
    np.testing.assert_array_equal(damage(images, "noise", 0.3, seed=1), damage(images, "noise", 0.3, seed=1))
    with pytest.raises(ValueError, match="kind must be one of"):
        damage(images, "blur", 1)


def test_damage_does_what_it_says(test_set):
    images = test_set[0][:50]
    ink = images.astype(np.float64).sum()
    assert damage(images, "thickness", 2).astype(np.float64).sum() > 1.3 * ink  # fatter strokes, more ink
    assert damage(images, "thickness", -1).astype(np.float64).sum() < 0.8 * ink
    assert damage(images, "scale", 0.5).astype(np.float64).sum() < 0.4 * ink  # a quarter of the area
    # a shift moves the centre of mass by the amount, in some direction
    rows = np.arange(28)[:, None]
    cols = np.arange(28)[None, :]

    def centre(a):
        a = a.astype(np.float64)
        return np.stack([(a * rows).sum((1, 2)), (a * cols).sum((1, 2))], 1) / a.sum((1, 2))[:, None]

    moved = np.linalg.norm(centre(damage(images, "shift", 3)) - centre(images), axis=1)
    assert np.median(moved) == pytest.approx(3, abs=0.4)
    turned = damage(images, "rotation", 90)
    # a quarter turn of a digit about the centre, up to interpolation
    one = images[0].astype(np.float64)
    assert min(np.abs(turned[0] - np.rot90(one, k)).mean() for k in (1, -1)) < 0.15 * one.mean() + 5


def test_robustness_curves_fall_as_the_damage_grows(default, test_set):
    images, labels = test_set[0][:200], test_set[1][:200]
    for kind in DAMAGES:
        amounts, acc = robustness(default, images, labels, kind)
        assert len(amounts) == len(acc) == len(DAMAGES[kind][1])
        clean = evaluate(default, images, labels).accuracy
        no_damage = 3 if kind == "scale" else (2 if kind == "thickness" else 0)
        assert acc[no_damage] == pytest.approx(clean)
        assert acc.min() < clean - 0.05, kind  # the strongest damage costs accuracy
    stop = threading.Event()
    stop.set()
    _, acc = robustness(default, images, labels, "noise", stop_event=stop)
    assert np.isnan(acc).all()


def test_pca_matches_numpy_svd():
    rng = np.random.default_rng(0)
    for shape in ((50, 5), (8, 40)):  # covariance path and Gram path
        x = rng.normal(size=shape) * np.linspace(3, 0.5, shape[1])
        y = pca_2d(x)
        xc = x - x.mean(0)
        u, s, vt = np.linalg.svd(xc, full_matrices=False)
        ref = xc @ vt[:2].T
        for k in range(2):  # up to sign
            assert min(np.abs(y[:, k] - ref[:, k]).max(), np.abs(y[:, k] + ref[:, k]).max()) < 1e-4


def test_point_map_of_a_layer_separates_the_digits(default, test_set):
    images, labels = test_set
    assert layer_names(default)[0] == "input" and "fc" in layer_names(default)
    acts = layer_activations(default, images[:10], "relu2")
    assert acts.shape == (10, 64 * 8 * 8) and acts.dtype == torch.float32
    for i in (0, 9):  # each row is that image's output of the layer, as activations gives it
        expected = default.activations(np.asarray(images[i], dtype=np.float32) / 255)["relu2"].ravel()
        np.testing.assert_allclose(acts[i].numpy(), expected, atol=1e-4, rtol=1e-5)
    xy = point_map(default, images, "fc")
    assert xy.shape == (len(images), 2) and np.isfinite(xy).all()
    # the last layer's map keeps digits apart: each point's nearest neighbour mostly shares its label
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).mean() > 0.6
    with pytest.raises(ValueError, match="no layer"):
        layer_activations(default, images[:2], "nope")


# ---------------------------------------------------------------------- an empty set
EMPTY = (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64))


def test_evaluate_refuses_an_empty_set_instead_of_an_accuracy_of_nan(default, test_set):
    """No image, or none of the model's classes, was an Evaluation with accuracy NaN."""
    with pytest.raises(ValueError, match="^there are no images to evaluate: the set is empty$"):
        evaluate(default, *EMPTY)
    with pytest.raises(ValueError, match="^there are no images to evaluate"):
        evaluate(default, torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64))  # as load_mnist gives them
    with pytest.raises(ValueError, match=r"^none of the 3 images is one of this model's classes \(0, 1, .*9\); nothing to evaluate$"):
        evaluate(default, test_set[0][:3], np.array([10, 11, -1]))
    one = evaluate(default, test_set[0][:1], test_set[1][:1])  # one image is a set
    assert one.accuracy in (0.0, 1.0) and len(one.labels) == 1


def test_evaluate_refuses_images_that_are_not_uint8_28x28_or_not_one_per_label(default, test_set):
    """Floats (or int64) of 0 to 255 were read as floats of 0 to 1 (predict_batch's other input)
    and evaluated silently wrong: the bundled model 87 % on images it reads 99 % as uint8."""
    images, labels = np.asarray(test_set[0][:200]), np.asarray(test_set[1][:200])
    assert evaluate(default, images, labels).accuracy > 0.95
    for wrong, said in [
        (images.astype(np.float32), r"\(200, 28, 28\) float32 and \(200,\)"),
        (images.astype(np.int64), r"\(200, 28, 28\) int64 and \(200,\)"),
        (images[:, :14], r"\(200, 14, 28\) uint8 and \(200,\)"),
        (images.reshape(200, 784), r"\(200, 784\) uint8 and \(200,\)"),
    ]:
        with pytest.raises(ValueError, match=r"^expected uint8 images \(N, 28, 28\) and N labels, got " + said + "$"):
            evaluate(default, wrong, labels)
    for wrong_labels, said in [(labels[:150], r"\(150,\)"), (labels.reshape(200, 1), r"\(200, 1\)")]:
        with pytest.raises(ValueError, match=r"got \(200, 28, 28\) uint8 and " + said + "$"):
            evaluate(default, images, wrong_labels)


def test_the_corruption_suite_refuses_images_and_labels_that_are_not_as_many(default, test_set):
    """It raised numpy's IndexError ("boolean index did not match"), and with ``subset`` measured
    the first images against labels that were not theirs, without a word."""
    from mnist_desktop.model.corruptions import corruption_suite

    images, labels = np.asarray(test_set[0][:50]), np.asarray(test_set[1][:50])
    for x, y, said in [
        (images, labels[:30], "50 images and 30 labels"),
        (images[:30], labels, "30 images and 50 labels"),
        (images, labels.reshape(5, 10), r"50 images and labels of shape \(5, 10\)"),
    ]:
        for subset in (0, 10):
            with pytest.raises(ValueError, match=f"^expected one label per image, got {said}$"):
                corruption_suite(default, x, y, subset=subset, names=["stripe"])


def test_robustness_refuses_an_empty_set_or_an_unknown_kind_before_any_damage(default, monkeypatch):
    import mnist_desktop.model.evaluation as ev

    monkeypatch.setattr(ev, "damage", lambda *a, **k: pytest.fail("damaged a set that is refused"))
    with pytest.raises(ValueError, match="there are no images to evaluate"):
        robustness(default, *EMPTY, "rotation")
    with pytest.raises(ValueError, match="kind must be one of noise, rotation"):
        robustness(default, *EMPTY, "blur")


def test_calibration_and_the_corruption_suite_refuse_an_empty_set(default, test_set):
    """calibration said "expected probabilities (N, C) and N targets with N ≥ 1, got (0, 10)";
    the corruption suite failed inside torch ("non-positive groups is not supported"), or with
    a NaN accuracy; the thresholds raised IndexError, the temperature came from a NaN loss."""
    from mnist_desktop.model.corruptions import corruption_suite
    from mnist_desktop.model.recognition import calibration, digit_threshold, energy_threshold, fit_temperature

    with pytest.raises(ValueError, match="^there are no digits to measure the calibration on: the set is empty$"):
        calibration(default, *EMPTY)
    with pytest.raises(ValueError, match="^there are no digits to fit a temperature on"):
        fit_temperature(default, *EMPTY)
    for threshold in (digit_threshold, energy_threshold):
        with pytest.raises(ValueError, match="^there are no digits to set a threshold on"):
            threshold(default, EMPTY[0])
    with pytest.raises(ValueError, match="^there are no digits to measure the corruptions on: the set is empty$"):
        corruption_suite(default, *EMPTY)
    for subset in (-1, 2.5, True):
        with pytest.raises(ValueError, match="subset must be a count of images"):
            corruption_suite(default, *test_set, subset=subset)
    assert set(corruption_suite(default, *test_set, subset=2, names=["shot_noise"]).values()) <= {0.0, 0.5, 1.0}
