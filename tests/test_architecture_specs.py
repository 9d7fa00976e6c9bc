"""Each architecture is one spec (``config.ARCHITECTURE_SPECS``) that training settings, the
torch builder, the numpy twin and the checkpoint readers all read."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mnist_desktop.model import Predictor, build_model, continue_config
from mnist_desktop.model.checkpoints import make_metadata, save_checkpoint
from mnist_desktop.model.config import ARCHITECTURE_SPECS, TrainConfig
from mnist_desktop.model.layers import Layer
from mnist_desktop.model.numpy_forward import NumpyPredictor

TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURE_SPECS))
def test_every_setting_is_a_training_field_with_its_default_in_range(arch):
    spec = ARCHITECTURE_SPECS[arch]
    for name, setting in spec.settings.items():
        assert name in TRAIN_FIELDS and setting.low <= setting.default <= setting.high
        assert getattr(TrainConfig(arch=arch), name) == setting.default
    assert TrainConfig(arch=arch).arch_config() == spec.resolve() == {k: s.default for k, s in spec.settings.items()}
    assert [layer.name for layer in spec.layers(10)] == [name for name, _ in build_model(arch, 10).named_children()]


def test_arch_config_is_checked_against_the_spec():
    assert TrainConfig(arch="mlp", hidden=64).arch_config() == {"hidden": 64}
    assert TrainConfig(arch="cnn", channels1=4, channels2=8, hidden=99).arch_config() == {"channels1": 4, "channels2": 8}
    with pytest.raises(ValueError, match="hidden must be an integer from 1 to 8192"):
        TrainConfig(arch="mlp", hidden=10**8).arch_config()
    with pytest.raises(ValueError, match="unknown setting"):
        ARCHITECTURE_SPECS["linear"].layers(10, {"hidden": 3})


def test_an_unknown_layer_kind_is_refused():
    with pytest.raises(ValueError, match="unknown layer kind 'attention'"):
        Layer("a", "attention")


def test_continue_config_rebuilds_the_model_a_checkpoint_without_settings_holds():
    """A checkpoint that leaves a setting out was built with the spec's default, whatever the base recipe says."""
    predictor = SimpleNamespace(arch="mlp", task="digits", meta={"arch_config": {}, "training": {}})
    assert continue_config(predictor, TrainConfig(arch="mlp", hidden=128)).hidden == 30
    predictor = SimpleNamespace(arch="cnn", task="digits", meta={"arch_config": {"channels1": 32}, "training": {}})
    config = continue_config(predictor, TrainConfig(channels1=8, channels2=8))
    assert (config.channels1, config.channels2) == (32, 32)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURE_SPECS))
def test_checkpoints_saved_without_their_settings_still_load(tmp_path, arch):
    """The metadata format is unchanged: ``arch_config`` may be empty (how default CNNs were
    saved), and both readers build the spec's defaults."""
    spec = ARCHITECTURE_SPECS[arch]
    torch.manual_seed(0)
    model = build_model(arch, 10)
    path = save_checkpoint(tmp_path / "m.safetensors", model, make_metadata(arch, {}, "digits", "softmax", spec.normalization))
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(NumpyPredictor.load(path).predict_batch(x), Predictor.load(path).predict_batch(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURE_SPECS))
def test_what_the_ui_asks_of_a_kind_of_model_agrees_with_the_torch_model(arch):
    """The UI decides by these properties, never by an architecture's name: each must say what
    the built model is."""
    spec = ARCHITECTURE_SPECS[arch]
    model = build_model(arch, 10)
    modules = list(model.children())
    shapes = {name: tuple(p.shape) for name, p in model.state_dict().items() if p.dim() > 0}
    assert spec.has_conv_layers == any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert spec.flattens_input == isinstance(modules[0], torch.nn.Flatten)
    # the weight heatmaps: one 784-pixel template per class and nothing else
    assert spec.weights_are_templates == (set(shapes.values()) <= {(10, 784), (10,)} and (10, 784) in shapes.values())
    # the class-means view: the parameters are one 28×28 image per class
    assert spec.has_class_means == (list(shapes.values()) == [(10, 28, 28)])
    assert not (spec.has_class_means and spec.trainable)
