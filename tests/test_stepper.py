"""The stepper: train's SGD one phase at a time, checked against a hand computation and train itself."""

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from mnist_desktop.model import Stepper, TrainConfig, recommended_config, train
from mnist_desktop.model.stepper import PHASES


def chapter(**kw) -> TrainConfig:
    """The chapter's setting (3 vs 7, linear, mnist_loss, plain SGD, lr 1), small and on the CPU."""
    return replace(recommended_config("3v7", "linear"), device="cpu", subset=600, **kw)


def test_phases_come_in_the_chapters_order_and_fill_in_as_they_go():
    stepper = Stepper(chapter(batch_size=200, epochs=1))
    states = [stepper.advance() for _ in range(1 + 4 * 3 + 1)]
    assert [s.phase for s in states] == ["init"] + ["predict", "loss", "gradient", "step"] * 3 + ["stop"]
    assert all(s.phase in PHASES for s in states)
    init, predict, loss, gradient, step = states[:5]
    assert init.step == 0 and init.x is None and init.loss is None and init.gradients is None
    assert predict.loss is None and predict.gradients is None
    assert predict.x.shape == (200, 1, 28, 28) and predict.x.dtype == np.float32
    assert predict.y.shape == (200,) and set(np.unique(predict.y)) <= {0, 1}
    assert predict.predictions.shape == (200, 1) and predict.predicted().shape == (200,)
    assert isinstance(loss.loss, float) and 0 < loss.loss < 1 and loss.gradients is None
    assert set(gradient.gradients) == {"fc.weight", "fc.bias"} and gradient.gradients["fc.weight"].shape == (1, 784)
    assert [s.step for s in states[1:5]] == [0, 0, 0, 1]
    assert [s.batch for s in states[1:]] == [1] * 4 + [2] * 4 + [3] * 4 + [3]
    assert init.classes == (3, 7)
    stop = states[-1]
    assert stop.step == 3 and stop.total_steps == 3 and "epochs are done" in stop.message and not stop.diverged
    assert stepper.advance() is stop  # stopped stays stopped
    # A state is a snapshot: what it holds does not change as the run goes on.
    assert not np.array_equal(init.parameters["fc.weight"], stop.parameters["fc.weight"])
    with pytest.raises(ValueError):
        init.parameters["fc.weight"][0, 0] = 1.0


def test_a_step_is_parameters_minus_lr_times_gradients_by_hand():
    """momentum 0, weight decay 0: after the step phase, p = p − lr × grad, as the chapter writes it."""
    stepper = Stepper(chapter(batch_size=64, lr=0.7))
    state = stepper.advance()
    for _ in range(2):  # two batches, so that the second starts from stepped weights
        before = state.parameters
        predict = stepper.advance()
        # The hand computation: the chapter's linear model and mnist_loss on this batch.
        x = torch.from_numpy(predict.x.reshape(len(predict.x), -1).copy())
        w = torch.from_numpy(before["fc.weight"].copy()).requires_grad_()
        b = torch.from_numpy(before["fc.bias"].copy()).requires_grad_()
        target = torch.from_numpy(predict.y.copy())
        preds = (x @ w.T + b).sigmoid().reshape(-1)
        loss = torch.where(target == 1, 1 - preds, preds).mean()
        loss.backward()
        np.testing.assert_allclose(predict.predictions, (x @ w.T + b).detach().numpy(), rtol=1e-5, atol=1e-5)
        assert stepper.advance().loss == pytest.approx(loss.item(), rel=1e-5)
        gradient = stepper.advance()
        np.testing.assert_allclose(gradient.gradients["fc.weight"], w.grad.numpy(), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(gradient.gradients["fc.bias"], b.grad.numpy(), rtol=1e-4, atol=1e-7)
        state = stepper.advance()
        assert state.phase == "step" and state.lr == 0.7
        for name in ("fc.weight", "fc.bias"):
            assert state.parameters_before[name] is before[name]
            # float32 either way: torch's in-place add may round once where numpy rounds twice
            by_hand = before[name] - np.float32(0.7) * gradient.gradients[name]
            np.testing.assert_allclose(state.parameters[name], by_hand, rtol=1e-6, atol=1e-9)
            assert not np.allclose(state.parameters[name], before[name], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "settings",
    [
        dict(task="3v7", arch="linear", loss="mnist-loss", schedule="constant", momentum=0.0, weight_decay=0.0, lr=1.0),
        dict(task="digits", arch="mlp", hidden=16, lr=0.1),  # the default optimiser: one-cycle, Nesterov momentum, weight decay
        dict(task="digits", arch="cnn", lr=0.1, augment=True),
    ],
)
def test_the_same_training_as_train(settings):
    config = TrainConfig(**settings, subset=320, batch_size=64, epochs=2, device="cpu", seed=3)
    reference = train(config).predictor.model.state_dict()
    stepper = Stepper(config)
    states = []
    stepper.finish_epoch(on_batch=states.append)
    assert len(states) == 5 and states[-1].epoch == 1
    last = stepper.finish_epoch(on_batch=states.append)
    assert last.phase == "step" and last.step == 10 and last.epoch == 2 and last.batch == 5
    assert stepper.advance().phase == "stop"
    stepped = stepper.predictor().model.state_dict()
    assert stepped.keys() == reference.keys()
    for name in reference:
        torch.testing.assert_close(stepped[name], reference[name], rtol=1e-6, atol=1e-7, msg=name)


def test_the_learning_rate_follows_the_configs_schedule():
    from mnist_desktop.model.training import one_cycle

    stepper = Stepper(chapter(batch_size=100, schedule="onecycle", epochs=1))  # 600 images: 6 batches
    lrs = [stepper.finish_batch().lr for _ in range(6)]
    assert lrs == pytest.approx([one_cycle(i, 6, 1.0) for i in range(6)])
    assert len(set(lrs)) > 3


def test_predictor_is_the_model_as_it_is_now():
    stepper = Stepper(chapter(batch_size=100))
    stepper.advance()
    first = stepper.predictor()
    np.testing.assert_array_equal(first.model.fc.weight.detach().numpy(), stepper.state.parameters["fc.weight"])
    state = stepper.finish_batch()
    second = stepper.predictor()
    np.testing.assert_array_equal(second.model.fc.weight.detach().numpy(), state.parameters["fc.weight"])
    assert not np.array_equal(first.model.fc.weight.detach().numpy(), second.model.fc.weight.detach().numpy())
    assert second.classes == [3, 7] and second.arch == "linear"
    # The predictor classifies this batch as the state says the model did, after the step.
    images = state.x[:, 0] * 0.3081 + 0.1307
    probs = second.predict_batch(images)
    logits = stepper.model(torch.from_numpy(state.x.copy())).detach().numpy()[:, 0]
    np.testing.assert_array_equal(probs.argmax(1), (logits > 0).astype(int))
    stepper.advance()  # a copy: stepping on does not change it
    np.testing.assert_array_equal(second.model.fc.weight.detach().numpy(), state.parameters["fc.weight"])


def test_finish_epoch_stops_when_asked():
    stepper = Stepper(chapter(batch_size=50))
    stop = threading.Event()
    stop.set()
    state = stepper.finish_epoch(stop_event=stop)
    assert state.phase == "step" and state.step == 1


def test_a_diverging_learning_rate_says_so_and_stops():
    config = TrainConfig(
        task="digits", arch="linear", lr=1e6, momentum=0.0, weight_decay=0.0, schedule="constant", subset=500, batch_size=50, device="cpu"
    )
    stepper = Stepper(config)
    state = stepper.finish_epoch()
    assert state.phase == "stop" and state.diverged
    assert "diverged" in state.message and "1e+06" in state.message and "try 100000" in state.message
    assert stepper.error is not None and stepper.done
    assert state.step < 10
    steps = state.step
    assert stepper.advance() is state and stepper.finish_batch().step == steps  # stays stopped


def test_settings_it_cannot_step_are_refused():
    with pytest.raises(ValueError, match="learning rate"):
        Stepper(chapter(lr=-1.0))
    with pytest.raises(ValueError, match="no SGD"):
        Stepper(TrainConfig(arch="pixel-similarity", task="3v7", device="cpu"))


def test_a_batch_larger_than_a_chunk_steps_as_train_does():
    """Full-batch gradient descent on 5,000 images: chunks of 4,096 as in train, phases as usual."""
    config = TrainConfig(task="digits", arch="linear", subset=5000, batch_size=0, epochs=2, lr=0.3, device="cpu")
    reference = train(config).predictor.model.state_dict()
    stepper = Stepper(config)
    phases = [stepper.advance() for _ in range(5)]
    assert [s.phase for s in phases] == ["init", "predict", "loss", "gradient", "step"]
    assert phases[1].x.shape == (5000, 1, 28, 28) and phases[1].predictions.shape == (5000, 10)
    assert phases[1].loss is None and phases[2].gradients is None and phases[3].gradients is not None
    assert stepper.finish_batch().step == 2 and stepper.advance().phase == "stop"
    stepped = stepper.predictor().model.state_dict()
    for name in reference:
        torch.testing.assert_close(stepped[name], reference[name], rtol=1e-6, atol=1e-7, msg=name)
