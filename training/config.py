"""Typed training configuration: dataclasses, presets, strict JSON load/save.

One `Config` describes a whole experiment: the network (input, conv blocks, dense layers), the
optimizer and schedule, augmentation and the training loop. `build_model` and the tuner's search
space both speak this type, so a tuned trial and a hand-written `--config` file take one path.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

ACTIVATIONS = ("relu", "elu", "selu", "gelu", "tanh", "swish", "leaky_relu", "linear")
NORMALIZATIONS = ("none", "batch", "layer")
POOLINGS = ("max", "avg", "none")
GLOBAL_POOLINGS = ("avg", "max", "flatten")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam")
SCHEDULES = ("constant", "cosine", "plateau")
CLASS_WEIGHTINGS = ("balanced", "none")
INPUT_NORMS = ("per_image", "scale")
MONITORS = ("val_loss", "val_accuracy")

# Allowed string values per (dataclass, field); checked on load and by `validate`.
_CHOICES = {
    ("ConvBlock", "activation"): ACTIVATIONS,
    ("ConvBlock", "normalization"): NORMALIZATIONS,
    ("ConvBlock", "pooling"): POOLINGS,
    ("DenseLayer", "activation"): ACTIVATIONS,
    ("DenseLayer", "normalization"): NORMALIZATIONS,
    ("Config", "global_pooling"): GLOBAL_POOLINGS,
    ("Config", "input_norm"): INPUT_NORMS,
    ("Optimizer", "name"): OPTIMIZERS,
    ("Optimizer", "schedule"): SCHEDULES,
    ("Training", "class_weighting"): CLASS_WEIGHTINGS,
    ("Training", "monitor"): MONITORS,
}


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message names the offending key."""


@dataclass
class ConvBlock:
    filters: int
    kernel_size: int = 3
    convs: int = 1  # conv layers before the pooling
    activation: str = "relu"
    normalization: str = "batch"
    pooling: str = "max"
    dropout: float = 0.0


@dataclass
class DenseLayer:
    units: int
    activation: str = "relu"
    normalization: str = "none"
    dropout: float = 0.0


@dataclass
class Augmentation:
    flip: bool = True  # faces are close to mirror-symmetric; expressions are too
    rotation_deg: float = 10.0
    zoom: float = 0.1
    translation: float = 0.08
    contrast: float = 0.2
    brightness: float = 0.15


@dataclass
class Optimizer:
    name: str = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: int = 2


@dataclass
class Training:
    batch_size: int = 32
    epochs: int = 40
    patience: int = 12
    monitor: str = "val_loss"
    label_smoothing: float = 0.1
    class_weighting: str = "balanced"
    validation_fraction: float = 0.15  # share of training subjects held out for early stopping


@dataclass
class Config:
    name: str = "custom"
    input_size: int = 48
    channels: int = 1
    # per_image: each face to zero mean, unit variance (skin tone and lighting drop out);
    # scale: pixels to [-1, 1] only.
    input_norm: str = "per_image"
    conv_blocks: list[ConvBlock] = field(default_factory=list)
    global_pooling: str = "avg"
    dense_layers: list[DenseLayer] = field(default_factory=list)
    optimizer: Optimizer = field(default_factory=Optimizer)
    training: Training = field(default_factory=Training)
    augmentation: Augmentation = field(default_factory=Augmentation)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)


def preset(name: str) -> Config:
    """A named, ready-made config (a fresh copy each call)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def _baseline() -> Config:
    # The original team's first model: a plain small CNN, no normalisation, no augmentation,
    # no class weighting, constant Adam. Kept as the reference the default must beat.
    return Config(
        name="baseline",
        input_size=48,
        channels=1,
        input_norm="scale",
        conv_blocks=[
            ConvBlock(32, normalization="none"),
            ConvBlock(64, normalization="none"),
        ],
        global_pooling="flatten",
        dense_layers=[DenseLayer(128, dropout=0.5)],
        optimizer=Optimizer(name="adam", learning_rate=1e-3, weight_decay=0.0,
                            schedule="constant", warmup_epochs=0),
        training=Training(batch_size=32, epochs=30, patience=8, monitor="val_loss",
                          label_smoothing=0.0, class_weighting="none"),
        augmentation=Augmentation(flip=False, rotation_deg=0, zoom=0, translation=0,
                                  contrast=0, brightness=0),
    )


def _default() -> Config:
    # Reasons for every choice are in training/README.md ("The default model, and why").
    return Config(
        name="default",
        input_size=48,
        channels=1,
        input_norm="per_image",
        conv_blocks=[
            ConvBlock(32, activation="relu", dropout=0.0),
            ConvBlock(64, activation="relu", dropout=0.1),
            ConvBlock(128, activation="relu", dropout=0.2),
        ],
        global_pooling="flatten",
        dense_layers=[DenseLayer(128, activation="elu", normalization="batch", dropout=0.5)],
        optimizer=Optimizer(name="adamw", learning_rate=1e-3, weight_decay=1e-4,
                            schedule="cosine", warmup_epochs=1),
        training=Training(batch_size=32, epochs=30, patience=10, monitor="val_accuracy",
                          label_smoothing=0.05, class_weighting="balanced"),
        augmentation=Augmentation(flip=True, rotation_deg=5, zoom=0.05, translation=0.05,
                                  contrast=0.0, brightness=0.0),
    )


PRESETS = {"baseline": _baseline, "default": _default}


# --- strict loading -------------------------------------------------------------------------

def from_dict(data: dict, where: str = "config") -> Config:
    """Build a Config from plain JSON data; unknown keys and bad values raise ConfigError."""
    config = _build(Config, data, where)
    validate(config)
    return config


def load(path: str | Path) -> Config:
    """Load a config file; a run folder's config.json (which nests it under "config") works too."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict) and "run" in data:
        data = data["config"]
    try:
        return from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def save(config: Config, path: str | Path) -> None:
    Path(path).write_text(config.to_json() + "\n")


def _build(cls, data, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}: missing required key {f.name!r}")
            continue
        kwargs[f.name] = _coerce(hints[f.name], data[f.name], f"{where}.{f.name}")
    return cls(**kwargs)


def _coerce(hint, value, where: str):
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not (isinstance(value, int)
                                           or isinstance(value, float) and value.is_integer()):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {hint}")  # pragma: no cover - schema bug


def validate(config: Config) -> None:
    """Range and choice checks, naming the key path of the first problem."""
    _check_choices(config, "config")
    if config.input_size < 8:
        raise ConfigError(f"config.input_size: must be at least 8, got {config.input_size}")
    if config.channels not in (1, 3):
        raise ConfigError(f"config.channels: must be 1 (grayscale) or 3 (RGB), "
                          f"got {config.channels}")
    if not config.conv_blocks:
        raise ConfigError("config.conv_blocks: at least one conv block is needed")
    size = config.input_size
    for i, block in enumerate(config.conv_blocks):
        where = f"config.conv_blocks[{i}]"
        _positive(block.filters, f"{where}.filters")
        _positive(block.kernel_size, f"{where}.kernel_size")
        _positive(block.convs, f"{where}.convs")
        _fraction(block.dropout, f"{where}.dropout")
        if block.pooling != "none":
            size //= 2
        if size < 1:
            raise ConfigError(f"{where}: too many pooling blocks for input_size "
                              f"{config.input_size} (feature map shrinks to nothing)")
    for i, layer in enumerate(config.dense_layers):
        _positive(layer.units, f"config.dense_layers[{i}].units")
        _fraction(layer.dropout, f"config.dense_layers[{i}].dropout")
    opt, tr = config.optimizer, config.training
    if not 0 < opt.learning_rate < 1:
        raise ConfigError(f"config.optimizer.learning_rate: must be in (0, 1), "
                          f"got {opt.learning_rate}")
    if opt.weight_decay < 0:
        raise ConfigError("config.optimizer.weight_decay: must be >= 0")
    _positive(tr.batch_size, "config.training.batch_size")
    _positive(tr.epochs, "config.training.epochs")
    _positive(tr.patience, "config.training.patience")
    _fraction(tr.label_smoothing, "config.training.label_smoothing")
    if not 0 < tr.validation_fraction < 0.5:
        raise ConfigError("config.training.validation_fraction: must be in (0, 0.5)")


def _check_choices(obj, where: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{where}.{f.name}"
        choices = _CHOICES.get((type(obj).__name__, f.name))
        if choices is not None and value not in choices:
            raise ConfigError(f"{path}: unknown value {value!r}; choose one of {list(choices)}")
        if dataclasses.is_dataclass(value):
            _check_choices(value, path)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    _check_choices(item, f"{path}[{i}]")


def _positive(value: int, where: str) -> None:
    if value < 1:
        raise ConfigError(f"{where}: must be a positive integer, got {value}")


def _fraction(value: float, where: str) -> None:
    if not 0 <= value < 1:
        raise ConfigError(f"{where}: must be in [0, 1), got {value}")
