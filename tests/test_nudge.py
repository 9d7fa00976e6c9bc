"""The chapter-4 lab's engine: accuracy cannot be a loss (``nudge``), and the chapter's stages."""

import copy
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from mnist_desktop import model as engine
from mnist_desktop.model import Nudge, Predictor, TrainingError, build_model, mnist_arrays, nudge
from mnist_desktop.model.architectures import get_architecture
from mnist_desktop.model.chapter import FIRST_THREE, STAGES, get_stage
from mnist_desktop.model.checkpoints import make_metadata
from mnist_desktop.model.losses import mnist_loss
from mnist_desktop.model.nudging import epsilon_grid, nudgeable_parameters, output_parameters, reading, training_loss

CENTRE = 14 * 28 + 14  # a pixel most digits have ink on


def predictor(arch="linear", task="3v7", output="sigmoid", loss="mnist-loss", seed=0, **config):
    torch.manual_seed(seed)
    n_out = 1 if output == "sigmoid" else (2 if task == "3v7" else 10)
    model = build_model(arch, n_out, **config)
    meta = make_metadata(arch, config, task, output, get_architecture(arch).normalization, training={"loss": loss})
    return Predictor(model, meta)


@pytest.fixture(scope="module")
def digits():
    images, labels = mnist_arrays("test")
    return images[:600], labels[:600]


def state(p):
    return {k: v.clone() for k, v in p.model.state_dict().items()}


@pytest.mark.parametrize("parameter, index", [(None, None), ("fc.weight", CENTRE)])
def test_a_tiny_nudge_leaves_the_accuracy_exactly_unchanged_and_moves_the_loss(digits, parameter, index):
    p = predictor()
    r = nudge(p, *digits, [-1e-5, -1e-6, 0.0, 1e-6, 1e-5], parameter, index)
    assert isinstance(r, Nudge) and r.loss_name == "mnist-loss" and r.samples == int(np.isin(digits[1], (3, 7)).sum())
    assert np.all(r.accuracy == r.accuracy[2])  # exactly: no prediction flipped
    assert np.all(np.diff(r.loss) != 0)  # every nudge moved the loss
    assert 0.3 < r.accuracy[2] < 0.7  # an untrained model: near chance, so a flat accuracy is not a saturated one


def test_a_large_nudge_makes_the_accuracy_jump_between_flat_stretches(digits):
    r = nudge(predictor(), *digits, epsilon_grid(40.0, 81), "fc.weight", CENTRE)
    steps = np.diff(r.accuracy)
    assert 0 < np.count_nonzero(steps) < len(steps)  # flat between jumps
    assert np.all(np.diff(r.loss) != 0)


def test_nudging_one_weight_matches_changing_it_by_hand(digits):
    p = predictor(seed=3)
    r = nudge(p, *digits, [0.5], "fc.weight", CENTRE)
    model = build_model("linear", 1)
    model.load_state_dict(p.model.state_dict())
    with torch.no_grad():
        model.fc.weight[0, CENTRE] += 0.5
        keep = np.isin(digits[1], (3, 7))
        x = (torch.from_numpy(digits[0][keep]).float() / 255 - 0.1307) / 0.3081
        y = torch.from_numpy((digits[1][keep] == 7).astype(np.int64))
        out = model(x.reshape(-1, 1, 28, 28))
    assert r.loss[0] == pytest.approx(float(mnist_loss(out, y)), rel=1e-5)
    assert r.accuracy[0] == pytest.approx(float(((out.reshape(-1) > 0).long() == y).float().mean()))
    assert r.weight == pytest.approx(float(p.model.fc.weight[0, CENTRE].detach()))


def test_the_gradient_direction_goes_uphill_and_an_sgd_step_downhill(digits):
    p = predictor(arch="mlp", task="3v7", hidden=8)
    r = nudge(p, *digits, [-0.01, 0.0, 0.01])
    assert r.parameter is None and r.index is None and r.weight is None
    assert r.loss[0] < r.loss[1] < r.loss[2]


@pytest.mark.parametrize("arch", ["linear", "cnn"])
def test_the_predictor_passed_in_is_not_changed(digits, arch):
    p = predictor(arch=arch, task="digits", output="softmax", loss="cross-entropy")
    before = state(p)
    nudge(p, *digits, [-1.0, 2.0])
    nudge(p, *digits, [3.0], "fc.weight", 5)
    after = p.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not p.model.training  # still in eval mode


def test_the_loss_is_the_models_own(digits):
    assert training_loss(predictor()) == "mnist-loss"
    assert training_loss(predictor(task="digits", output="softmax", loss="cross-entropy")) == "cross-entropy"
    # trained with accuracy, which has no gradient: measured with its output's usual loss
    assert training_loss(predictor(output="softmax", loss="accuracy")) == "cross-entropy"
    assert nudge(predictor(task="digits", output="softmax", loss="cross-entropy"), *digits, [0.0]).loss_name == "cross-entropy"


def test_pixel_similarity_has_nothing_to_nudge(digits):
    p = predictor(arch="pixel-similarity", task="3v7", output="softmax", loss="cross-entropy")
    with pytest.raises(TrainingError, match="no weights to nudge"):
        nudge(p, *digits, [0.0, 0.1])
    with pytest.raises(TrainingError, match="mean image"):
        nudgeable_parameters(p)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epsilons=[0.1], parameter="fc.nothing", index=0), "no weight 'fc.nothing'"),
        (dict(epsilons=[0.1], parameter="fc.weight", index=784), "from 0 to 783"),
        (dict(epsilons=[0.1], parameter="fc.weight", index=None), "whole number"),
        (dict(epsilons=[0.1], parameter=None, index=3), "needs a parameter"),
        (dict(epsilons=[float("nan")]), "finite"),
        (dict(epsilons=[]), "1 to"),
        (dict(epsilons=[[0.1]]), "1 to"),
    ],
)
def test_bad_arguments_are_one_clear_error(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        nudge(predictor(), *digits, **kwargs)


def test_images_of_other_classes_only_are_an_error(digits):
    images, labels = digits
    ones = labels == 1
    with pytest.raises(ValueError, match="none of the images is of the classes 3, 7"):
        nudge(predictor(), images[ones], labels[ones], [0.0])
    with pytest.raises(ValueError, match="expected images"):
        nudge(predictor(), images[:, :27], labels, [0.0])


def test_progress_and_stop(digits):
    p, seen, stop = predictor(), [], threading.Event()

    def progress(done, total):
        seen.append((done, total))
        if done == 2:
            stop.set()

    r = nudge(p, *digits, [0.0, 0.1, 0.2, 0.3], "fc.bias", 0, on_progress=progress, stop_event=stop)
    assert seen == [(1, 4), (2, 4)]
    assert r.stopped and list(r.epsilons) == [0.0, 0.1] and len(r.loss) == len(r.accuracy) == 2
    r = nudge(p, *digits, [0.0, 0.1], stop_event=stop)  # stopped before the gradient was found
    assert r.stopped and len(r.epsilons) == len(r.loss) == 0


def test_the_reading_says_what_the_curves_show():
    flat = Nudge(np.array([-1e-4, 0, 1e-4]), np.array([0.3, 0.31, 0.32]), np.array([0.9, 0.9, 0.9]), "mnist-loss", None, None, None, 10)
    assert "exactly 90.00 %" in reading(flat) and "gradient is zero" in flat.reading()
    jumps = Nudge(
        np.array([-1.0, 0, 1.0, 2.0]), np.array([0.5, 0.3, 0.4, 0.6]), np.array([0.8, 0.9, 0.9, 0.7]), "x", "fc.weight", 0, 0.1, 10
    )
    text = reading(jumps)
    assert "flat between jumps" in text and "2 jumps in 3 steps" in text and "zero almost everywhere" in text
    assert "70.00–90.00 %" in text and "between 0.3 and 0.6" in text


def test_epsilon_grid_holds_zero_and_is_symmetric():
    g = epsilon_grid(2.0, 40)
    assert len(g) == 41 and 0.0 in g and g[0] == -2.0 and g[-1] == 2.0
    with pytest.raises(ValueError, match="positive"):
        epsilon_grid(0.0)


def test_public_from_the_engine():
    assert engine.nudge is nudge and engine.Nudge is Nudge and engine.STAGES is STAGES


# ---------------------------------------------------------------------- the chapter's stages
def test_the_stages_follow_the_chapter():
    assert [s.key for s in STAGES] == ["pixels", "ideal", "sgd-toy", "linear", "accuracy", "neural-net", "ten-digits"]
    for s in STAGES:
        assert s.title and len(s.explanation) > 80 and s.try_this and s.look_for
        assert "import " not in s.explanation + s.try_this + s.look_for  # plain words, no code
    assert get_stage("ideal").config.arch == "pixel-similarity"
    linear = get_stage("linear").config
    assert (linear.task, linear.arch, linear.loss, linear.momentum) == ("3v7", "linear", "mnist-loss", 0.0)  # the chapter's SGD
    assert get_stage("accuracy").config.loss == "accuracy"
    net = get_stage("neural-net").config
    assert (net.arch, net.hidden, net.task) == ("mlp", 30, "3v7")  # 784-30-1
    ten = get_stage("ten-digits").config
    assert (ten.task, ten.arch, ten.loss) == ("digits", "cnn", "cross-entropy")
    with pytest.raises(ValueError, match="unknown stage"):
        get_stage("nope")


def test_the_first_three_is_a_three():
    assert mnist_arrays("train")[1][FIRST_THREE] == 3


@pytest.mark.parametrize("stage", [s for s in STAGES if s.config is not None], ids=lambda s: s.key)
def test_each_stages_settings_are_valid_and_train(stage):
    config = replace(stage.config, epochs=1, subset=256, device="cpu")
    config.validate()
    result = engine.train(config)
    p = result.predictor
    assert (p.arch, p.task) == (stage.config.arch, stage.config.task)
    assert result.history and np.isfinite(result.history[-1].valid_loss)
    if stage.key == "accuracy":
        assert any("gradient was exactly zero" in n for n in result.notes)


def test_the_data_to_nudge_on():
    from mnist_desktop.model.nudging import nudge_data

    images, labels = nudge_data((3, 7), "batch")
    assert images.shape == (64, 28, 28) and set(labels.tolist()) == {3, 7}
    images, labels = nudge_data(range(10), "valid")
    assert len(images) == len(labels) == 10_000
    with pytest.raises(ValueError, match="'batch' or 'valid'"):
        nudge_data((3, 7), "all")


def test_a_late_layers_weight_is_nudged_as_in_the_whole_model(digits):
    """The layers before the nudged one are run once: the result is the whole model's."""
    p = predictor(arch="cnn", task="digits", output="softmax", loss="cross-entropy")
    eps = [-2.0, 0.0, 2.0]
    late = nudge(p, *digits, eps, "fc.weight", 3 * 512 + 7)
    model = p.model
    images, labels = digits
    x = (torch.from_numpy(images.copy()).float() / 255 - 0.1307) / 0.3081
    y = torch.from_numpy(labels.astype(np.int64))
    for k, e in enumerate(eps):
        m = copy.deepcopy(model).eval()
        with torch.no_grad():
            m.fc.weight[3, 7] += e
            out = m(x.reshape(-1, 1, 28, 28))
        assert late.loss[k] == pytest.approx(float(torch.nn.functional.cross_entropy(out, y)), rel=1e-4)
        assert late.accuracy[k] == pytest.approx(float((out.argmax(1) == y).float().mean()))


@pytest.mark.parametrize(
    "arch, task, output, config, expected",
    [
        ("linear", "3v7", "sigmoid", {}, {"fc.weight", "fc.bias"}),
        ("mlp", "digits", "softmax", {"hidden": 10}, {"fc2.weight", "fc2.bias"}),  # 10 hidden units are not the 10 digits
        ("cnn", "digits", "softmax", {}, None),
    ],
)
def test_output_parameters_are_the_last_linear_layers(arch, task, output, config, expected):
    p = predictor(arch, task, output, **config)
    names = output_parameters(p)
    linears = [n for n, m in p.model.named_modules() if isinstance(m, torch.nn.Linear)]
    assert names == (expected if expected is not None else {f"{linears[-1]}.weight", f"{linears[-1]}.bias"})
    assert all(n in nudgeable_parameters(p) for n in names)
