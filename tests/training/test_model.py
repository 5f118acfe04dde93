"""build_model for each preset and for configs sampled from the tuner's search space."""

import numpy as np
import pytest

from training.config import preset

pytestmark = pytest.mark.slow


def sample_config(base, seed: int):
    """A random point of the tuner's search space, through `config_from_hp` as the tuner
    calls it: declare every hyperparameter, then draw each active one."""
    import random

    import keras_tuner

    from training.search_space import config_from_hp

    hp = keras_tuner.HyperParameters()
    config_from_hp(hp, base)  # declares every hyperparameter with its default
    rng = random.Random(seed)
    # Parents come before their children in hp.space, so conditions see sampled parents.
    for param in hp.space:
        if hp.is_active(param):
            hp.values[param.name] = param.random_sample(rng.randint(0, 2**31 - 1))
    return config_from_hp(hp, base)


def _probabilities(model, size, channels=1):
    # Raw 0-255 pixels in: the model rescales them itself.
    x = np.random.default_rng(0).integers(0, 256, (3, size, size, channels)).astype("float32")
    return np.asarray(model.predict(x, verbose=0))


@pytest.mark.parametrize("name", ["scratch", "baseline", "pretrained"])
def test_presets_build_and_output_probabilities(name):
    from training.model import build_model

    config = preset(name)
    model = build_model(config, num_classes=7)
    assert model.input_shape == (None, config.input_size, config.input_size, 1)
    assert model.layers[1].name == "rescale"  # preprocessing lives inside the model
    probs = _probabilities(model, config.input_size)
    assert probs.shape == (3, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_each_layer_gets_its_own_activation_dropout_and_width():
    from training.config import ConvBlock, DenseLayer
    from training.model import build_model

    config = preset("scratch").replace(
        conv_blocks=[ConvBlock(filters=8, activation="tanh", dropout=0.2, convs=2),
                     ConvBlock(filters=12, activation="selu", normalization="none",
                               dropout=0.3)],
        dense_layers=[DenseLayer(units=20, activation="elu", dropout=0.4)])
    model = build_model(config, num_classes=4)
    layers = {layer.name: layer for layer in model.layers}
    assert layers["block1_conv2"].filters == 8 and layers["block2_conv1"].filters == 12
    assert layers["block1_act1"].get_config()["activation"] == "tanh"
    assert layers["block2_act1"].get_config()["activation"] == "selu"
    assert type(layers["block2_dropout"]).__name__ == "AlphaDropout"  # keeps selu normalised
    assert layers["block1_dropout"].rate == pytest.approx(0.2)
    assert layers["dense1"].units == 20 and layers["dense1_dropout"].rate == pytest.approx(0.4)
    assert "block2_norm1" not in layers


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_configs_sampled_from_the_search_space_build(seed):
    from training.config import from_dict
    from training.model import build_model

    config = sample_config(preset("scratch"), seed)
    assert from_dict(config.to_dict()) == config  # valid, and saveable as a --config file
    model = build_model(config, num_classes=7)
    assert _probabilities(model, config.input_size).shape == (3, 7)


def test_search_space_samples_differ_per_layer():
    configs = [sample_config(preset("scratch"), seed) for seed in range(8)]
    activations = {b.activation for c in configs for b in c.conv_blocks}
    assert {"elu", "tanh"} & activations and len(activations) >= 3
    assert len({c.training.batch_size for c in configs}) > 1
    assert len({len(c.conv_blocks) for c in configs}) > 1
