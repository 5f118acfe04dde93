"""The tuner's search space, expressed as a function from KerasTuner hyperparameters to a
`Config`: whatever the tuner samples goes through the same `build_model` as a hand-written
config, so a tuned config can always be re-trained, saved and loaded like any other."""

from __future__ import annotations

import dataclasses

from training.config import Config, ConvBlock, DenseLayer

MAX_CONV_BLOCKS = 4
MAX_DENSE_LAYERS = 2
SEARCH_ACTIVATIONS = ["relu", "elu", "tanh", "selu", "gelu", "swish"]
FILTERS = [16, 24, 32, 48, 64, 96, 128, 192]
UNITS = [32, 64, 128, 256]
OPTIMIZERS = ["adam", "adamw", "nadam", "rmsprop", "sgd"]
BATCH_SIZES = [16, 32, 64]


def config_from_hp(hp, base: Config) -> Config:
    """Declare (first call) or read (later calls) the hyperparameters; return the Config.

    Every conv block and dense layer has its own width, activation and dropout. Layers past
    the sampled depth sit in conditional scopes, so they are inactive (absent from the
    trial's values) instead of silently sampled and ignored.
    """
    n_conv = hp.Int("conv_blocks", 2, MAX_CONV_BLOCKS, default=3)
    blocks = []
    for i in range(1, MAX_CONV_BLOCKS + 1):
        with hp.conditional_scope("conv_blocks", list(range(i, MAX_CONV_BLOCKS + 1))):
            filters = hp.Choice(f"conv{i}_filters", FILTERS, default=min(16 * 2 ** i, 192))
            activation = hp.Choice(f"conv{i}_activation", SEARCH_ACTIVATIONS, default="relu")
            dropout = hp.Float(f"conv{i}_dropout", 0.0, 0.4, step=0.05, default=0.1)
        if i <= n_conv:
            blocks.append(ConvBlock(filters=filters, activation=activation, dropout=dropout,
                                    normalization="none" if activation == "selu" else "batch"))
    pooling = hp.Choice("global_pooling", ["avg", "flatten"], default="avg")
    n_dense = hp.Int("dense_layers", 0, MAX_DENSE_LAYERS, default=1)
    dense = []
    for i in range(1, MAX_DENSE_LAYERS + 1):
        with hp.conditional_scope("dense_layers", list(range(i, MAX_DENSE_LAYERS + 1))):
            units = hp.Choice(f"dense{i}_units", UNITS, default=128)
            activation = hp.Choice(f"dense{i}_activation", SEARCH_ACTIVATIONS, default="elu")
            dropout = hp.Float(f"dense{i}_dropout", 0.0, 0.6, step=0.1, default=0.5)
        if i <= n_dense:
            dense.append(DenseLayer(units=units, activation=activation, dropout=dropout))
    optimizer = dataclasses.replace(
        base.optimizer,
        name=hp.Choice("optimizer", OPTIMIZERS, default="adamw"),
        learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=2e-3),
        weight_decay=hp.Choice("weight_decay", [0.0, 1e-4, 5e-4, 2e-3], default=5e-4),
    )
    training = dataclasses.replace(
        base.training, batch_size=hp.Choice("batch_size", BATCH_SIZES, default=32))
    # Pooling must not shrink the map to nothing: deep stacks at small input sizes stop
    # pooling in their last blocks.
    size = base.input_size
    for block in blocks:
        if size < 4:
            block.pooling = "none"
        else:
            size //= 2
    return base.replace(name="tuned", conv_blocks=blocks, global_pooling=pooling,
                        dense_layers=dense, optimizer=optimizer, training=training)


def sample_config(base: Config, seed: int) -> Config:
    """A random point of the search space (for tests and smoke checks)."""
    import random

    import keras_tuner

    hp = keras_tuner.HyperParameters()
    config_from_hp(hp, base)  # declares every hyperparameter with its default
    rng = random.Random(seed)
    # Parents come before their children in hp.space, so conditions see sampled parents.
    for param in hp.space:
        if hp.is_active(param):
            hp.values[param.name] = param.random_sample(rng.randint(0, 2**31 - 1))
    return config_from_hp(hp, base)
