"""The chapter's pieces in the engine: the SGD toy, L1/L2 pixel similarity with broadcasting,
the batch's shapes as the chapter writes them, and the sigmoid before mnist_loss."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from mnist_desktop.model import Stepper, recommended_config
from mnist_desktop.model.chapter import STAGES
from mnist_desktop.model.losses import mnist_loss
from mnist_desktop.model.sigmoid import sigmoid, sigmoid_batch
from mnist_desktop.model.similarity import l1_distance, l2_distance, pixel_similarity_lab
from mnist_desktop.model.tensor_shapes import batch_shapes, shape_text
from mnist_desktop.model.toy_sgd import LEARNING_RATES, QuadraticSGD, mse_gradient, quadratic, speed_data


# --------------------------------------------------------------------------- the SGD toy
def test_the_toy_is_the_chapters_roller_coaster():
    time, speed = speed_data(0)
    np.testing.assert_array_equal(time, np.arange(20))
    noise = speed - (0.75 * (time - 9.5) ** 2 + 1)
    assert 1 < noise.std() < 5  # the chapter's randn * 3


def test_the_toy_gradient_is_autograds():
    time, speed = speed_data(3)
    params = np.array([0.3, -1.2, 2.0])
    p = torch.tensor(params, requires_grad=True)
    t, s = torch.tensor(time), torch.tensor(speed)
    loss = ((p[0] * t**2 + p[1] * t + p[2] - s) ** 2).mean()
    loss.backward()
    np.testing.assert_allclose(mse_gradient(time, params, speed), p.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(quadratic(time, params), (p[0] * t**2 + p[1] * t + p[2]).detach().numpy())


def test_a_toy_step_is_params_minus_lr_times_gradient():
    run = QuadraticSGD(LEARNING_RATES["right"], seed=1)
    before = run.state
    after = run.step()
    np.testing.assert_allclose(after.params, before.params - 1e-5 * before.gradient)
    assert after.step == 1 and after.loss < before.loss


def test_too_small_creeps_right_falls_fast_and_too_large_diverges_and_says_so():
    losses = {}
    for key, lr in LEARNING_RATES.items():
        run = QuadraticSGD(lr, seed=0)
        first = run.state.loss
        losses[key] = (first, run.run(10))
    (first, small), (_, right), (_, large) = losses["small"], losses["right"], losses["large"]
    assert small.loss < first and right.loss < small.loss and not small.diverged and not right.diverged
    assert right.loss < 0.5 * first
    assert large.diverged and large.step < 10 and large.loss > 1000 * first  # it went up, far
    assert "Diverged" in large.message and "too large" in large.message
    assert "nan" not in large.message.lower() and "inf" not in large.message.lower()
    assert np.isfinite(large.params).all() and np.isfinite(large.loss)
    run = QuadraticSGD(LEARNING_RATES["large"], seed=0)
    stopped = run.run(50)
    assert run.step() is stopped  # a diverged run steps no more


def test_a_huge_learning_rate_stops_before_any_number_overflows():
    run = QuadraticSGD(1e6, seed=0)
    state = run.run(5)
    assert state.diverged and state.step == 1
    assert "more than a computer's float holds" in state.message or "e+" in state.message


@pytest.mark.parametrize("lr", [0, -1e-5, float("nan"), "fast"])
def test_a_bad_toy_learning_rate_is_one_clear_error(lr):
    with pytest.raises(ValueError, match="learning rate"):
        QuadraticSGD(lr)


# --------------------------------------------------------------------------- pixel similarity
@pytest.fixture(scope="module")
def lab():
    return pixel_similarity_lab()


def test_pixel_similarity_reproduces_the_chapters_figures(lab):
    assert lab.train_counts == (6131, 6265)
    assert lab.valid_3_tens.shape == (1010, 28, 28) and lab.valid_7_tens.shape == (1028, 28, 28)
    l1 = lab.accuracy["l1"]
    assert (round(l1.threes, 4), round(l1.sevens, 4)) == (0.9168, 0.9854)  # the book's accuracy_3s, accuracy_7s
    l2 = lab.accuracy["l2"]
    assert 0.9 < l2.threes < 1 and 0.9 < l2.sevens < 1 and l2.overall != l1.overall


def test_the_distances_are_the_chapters_torch_code(lab):
    a = torch.from_numpy(np.array(lab.valid_3_tens[:50]))
    m = torch.from_numpy(np.array(lab.mean3))
    l1 = torch.nn.functional.l1_loss(a[0], m).item()
    l2 = torch.nn.functional.mse_loss(a[0], m).sqrt().item()
    assert lab.sample_distances(0)["l1"][0] == pytest.approx(l1, rel=1e-5)
    assert lab.sample_distances(0)["l2"][0] == pytest.approx(l2, rel=1e-5)
    # broadcasting: one call on the stack is the loop over its images
    stacked = l1_distance(lab.valid_3_tens[:50], lab.mean3)
    assert stacked.shape == (50,)
    np.testing.assert_allclose(stacked, [l1_distance(x, lab.mean3) for x in lab.valid_3_tens[:50]], rtol=1e-6)
    np.testing.assert_allclose(l2_distance(lab.valid_3_tens[:50], lab.mean3), ((a - m) ** 2).mean((-1, -2)).sqrt().numpy(), rtol=1e-5)
    # the accuracies come from these distances
    d = lab.distances["l2"]
    assert lab.accuracy["l2"].threes == pytest.approx(float((d["3s to mean3"] < d["3s to mean7"]).mean()))


def test_the_broadcast_steps_name_the_real_shapes(lab):
    steps = lab.broadcast_steps()
    assert steps[0][0] == "valid_3_tens - mean3"
    assert "valid_3_tens: [1010, 28, 28] - mean3: [28, 28] → [1010, 28, 28]" in steps[0][1]
    assert "[1010, 28, 28] → [1010]" in steps[2][1]
    assert shape_text(()) == "[]" and shape_text((256, 784)) == "[256, 784]"


# --------------------------------------------------------------------------- the batch's shapes
def shapes(lines) -> dict[str, tuple]:
    return {line.name: line.shape for line in lines}


def step_to(stepper: Stepper, phase: str):
    state = stepper.advance()
    while state.phase != phase:
        state = stepper.advance()
    return state


def test_the_linear_batch_has_the_chapters_shapes_at_each_phase():
    torch.set_num_threads(1)
    stepper = Stepper(replace(recommended_config("3v7", "linear"), device="cpu", subset=700, batch_size=200))
    init = stepper.advance()
    s = shapes(batch_shapes(init, "linear"))
    n3, n7 = init.train_counts
    assert n3 + n7 == 700 and n3 > 0 and n7 > 0
    assert s["stacked_threes"] == (n3, 28, 28) and s["stacked_sevens"] == (n7, 28, 28)
    assert s["train_x"] == (700, 784) and s["w"] == (784, 1) and s["b"] == (1,) and "xb" not in s
    predict = stepper.advance()
    lines = batch_shapes(predict, "linear")
    s = shapes(lines)
    assert s["xb"] == (200, 784) and s["preds"] == (200, 1) == predict.predictions.shape
    preds = next(line for line in lines if line.name == "preds")
    assert preds.code == "preds = xb @ w + b" and preds.note == "[200, 784] @ [784, 1] + [1] → [200, 1]"
    assert "loss" not in s
    loss = stepper.advance()
    assert shapes(batch_shapes(loss, "linear"))["loss"] == () and f"{loss.loss:.4f}" in batch_shapes(loss, "linear")[-1].note
    grad = shapes(batch_shapes(stepper.advance(), "linear"))
    assert grad["w.grad"] == (784, 1) and grad["b.grad"] == (1,)
    # the epoch's last batch is smaller: the shapes follow it
    for _ in range(3):
        last = step_to(stepper, "predict")
    assert last.batch == 4 and shapes(batch_shapes(last, "linear"))["xb"] == (100, 784)


def test_the_mlp_and_the_cnn_show_their_own_shapes():
    torch.set_num_threads(1)
    mlp = Stepper(replace(recommended_config("3v7", "mlp"), device="cpu", subset=300, batch_size=100))
    s = shapes(batch_shapes(step_to(mlp, "predict"), "mlp"))
    assert s["w1"] == (784, 30) and s["w2"] == (30, 1) and s["res"] == (100, 30) and s["preds"] == (100, 1)
    cnn = Stepper(replace(recommended_config("digits", "cnn"), device="cpu", subset=300, batch_size=100))
    lines = batch_shapes(step_to(cnn, "gradient"), "cnn")
    s = shapes(lines)
    assert s["train_x"] == (300, 1, 28, 28) and s["xb"] == (100, 1, 28, 28) and s["preds"] == (100, 10) and s["yb"] == (100,)
    assert s["conv1.weight"] == (16, 1, 5, 5) and s["conv1.weight.grad"] == (16, 1, 5, 5)
    assert "F.cross_entropy" in next(line.code for line in lines if line.name == "loss")


# --------------------------------------------------------------------------- the sigmoid
def test_the_sigmoid_before_mnist_loss_is_the_engines_mnist_loss():
    rng = np.random.default_rng(0)
    predictions = (rng.standard_normal((64, 1)) * 5).astype(np.float32)
    targets = rng.integers(0, 2, 64)
    batch = sigmoid_batch(predictions, targets)
    expected = mnist_loss(torch.from_numpy(predictions), torch.from_numpy(targets)).item()
    assert batch.loss == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(batch.squashed, torch.sigmoid(torch.from_numpy(predictions[:, 0]).double()).numpy())
    assert batch.right == int(((predictions[:, 0] > 0) == (targets == 1)).sum())


def test_the_sigmoid_is_stable_far_out_and_needs_one_output():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(sigmoid([-1000.0, 0.0, 1000.0]), [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="one output"):
        sigmoid_batch(np.zeros((4, 10)), np.zeros(4))


# --------------------------------------------------------------------------- the questions
def test_every_stage_has_questions_with_answers():
    keys = [s.key for s in STAGES]
    assert keys.index("ideal") < keys.index("sgd-toy") < keys.index("linear")  # the chapter's order
    for stage in STAGES:
        assert len(stage.questions) >= 3, stage.key
        for q in stage.questions:
            assert q.question.endswith("?") and len(q.answer) > 20


def test_a_two_output_model_shows_its_own_targets_and_loss():
    """3 vs 7 with two outputs: the targets are class indices, one per image (F.cross_entropy
    rejects the mnist_loss column [n, 1]), and the loss line names the loss the run computes."""
    torch.set_num_threads(1)
    for loss, code in (("cross-entropy", "F.cross_entropy"), ("accuracy", "accuracy_loss")):
        config = replace(recommended_config("3v7", "linear"), loss=loss, device="cpu", subset=300, batch_size=100)
        stepper = Stepper(config)
        init = shapes(batch_shapes(stepper.advance(), "linear", config))
        assert init["train_y"] == (300,) and init["w"] == (784, 2)
        state = step_to(stepper, "loss")
        lines = batch_shapes(state, "linear", config)
        assert shapes(lines)["yb"] == state.y.shape == (100,)
        assert next(line.code for line in lines if line.name == "loss") == f"loss = {code}(preds, yb)"
    # the chapter's one output keeps its column of 0s and 1s
    config = replace(recommended_config("3v7", "linear"), device="cpu", subset=300, batch_size=100)
    state = step_to(Stepper(config), "loss")
    s = shapes(batch_shapes(state, "linear", config))
    assert s["train_y"] == (300, 1) and s["yb"] == (100, 1)


@pytest.mark.parametrize("momentum, nesterov, weight_decay", [(0.0, False, 0.0), (0.0, False, 5e-4), (0.9, False, 0.0), (0.9, True, 5e-4)])
def test_the_step_line_is_the_update_the_trainer_makes(momentum, nesterov, weight_decay):
    """The step line's code, run on tensors, moves them as ``training.SGD`` does, two steps."""
    from mnist_desktop.model.tensor_shapes import update_code
    from mnist_desktop.model.training import SGD

    code = update_code(momentum, nesterov, weight_decay)
    if not (momentum or weight_decay):
        assert code == "p.data -= lr * p.grad.data"  # the chapter's line
    gen = torch.Generator().manual_seed(0)
    ours, theirs = torch.randn(5, generator=gen), None
    theirs = ours.clone()
    opt = SGD([theirs], momentum, nesterov, weight_decay)
    v = torch.zeros(5)
    for _ in range(2):
        grad = torch.randn(5, generator=gen)
        theirs.grad = grad.clone()
        opt.step(0.1)
        scope = {"p": ours, "v": v, "lr": 0.1}
        ours.grad = grad.clone()
        exec(code, {}, scope)
        v = scope["v"]
    torch.testing.assert_close(ours, theirs)


# --------------------------------------------------------------------------- the figures the stages quote
def test_the_ideal_stage_quotes_the_accuracies_the_lab_measures(lab):
    import re

    from mnist_desktop.model.chapter import get_stage

    text = get_stage("ideal").look_for
    quoted = {key: int(re.search(rf"{key.upper()}(?: gets)? about (\d+) %", text).group(1)) for key in ("l1", "l2")}
    assert quoted == {key: round(100 * lab.accuracy[key].overall) for key in ("l1", "l2")}


def _quoted_percent(text: str) -> int:
    import re

    return int(re.search(r"About (\d+) %", text).group(1))


def test_the_neural_net_stage_quotes_what_it_and_the_linear_model_reach():
    """ "About 98 % on 3 vs 7, like the linear model": both stages' settings, trained as their Train does."""
    from mnist_desktop.model.chapter import get_stage
    from mnist_desktop.model.training import train

    torch.set_num_threads(1)
    quoted = _quoted_percent(get_stage("neural-net").look_for)
    for key in ("linear", "neural-net"):
        result = train(replace(get_stage(key).config, device="cpu"))
        assert round(100 * result.metrics["valid_accuracy"]) == quoted, key


def test_the_toys_curvatures_are_the_ones_quoted():
    """toy_sgd: the steepest curvature ~56,500, so 2 / 56,500 ≈ 3.5e-5 divides "right" from
    "large"; the README: 3,500 and 220,000 times less steep in the directions nearly b and nearly c."""
    time, _ = speed_data(0)
    x = np.stack([time**2, time, np.ones_like(time)], 1)
    curvatures, directions = np.linalg.eigh(2 * x.T @ x / len(time))  # the MSE's Hessian, ascending
    assert round(curvatures[-1], -2) == 56_500 and LEARNING_RATES["right"] < 2 / curvatures[-1] < LEARNING_RATES["large"]
    assert round(2 / curvatures[-1], 6) == 3.5e-5
    assert (round(curvatures[-1] / curvatures[1], -2), round(curvatures[-1] / curvatures[0], -4)) == (3_500, 220_000)
    # the steepest direction is nearly a alone, the next nearly b, the flattest nearly c (unit vectors)
    assert min(abs(directions[0, 2]), abs(directions[1, 1]), abs(directions[2, 0])) > 0.95
