"""Typed training configuration: pydantic models, strict JSON load/save (presets: presets.py).

One `Config` describes a whole experiment: the network (input, an optional pretrained backbone,
conv blocks, dense layers), the optimizer and schedule, augmentation and the training loop.
`build_model` and the tuner's search space both speak this type, so a tuned trial and a
hand-written `--config` file take one path. A config that lists `members` is an ensemble: each
member is a whole config of its own, trained with one or more seeds, and the run predicts with
the average of their probabilities.

Every range and choice is stated once, on its field. The models are strict (no booleans for
numbers, no strings for numbers; an integer is a fine float), refuse unknown keys, and are
frozen: `replace(**changes)` gives a checked copy. Any problem is a `ConfigError` naming the
dotted field, e.g. ``config.training.epochs: must be at least 1, got 0``.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from training.backbones import BACKBONES

Activation = Literal["relu", "elu", "selu", "gelu", "tanh", "swish", "leaky_relu", "linear"]
Normalization = Literal["none", "batch", "layer"]
Pooling = Literal["max", "avg", "none"]
Positive = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
Rate = Annotated[float, Field(gt=0, lt=1)]
NonNegative = Annotated[float, Field(ge=0)]


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message names the offending key."""


class _Block(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    where: ClassVar[str] = "config"  # how messages name this block when it is built alone

    def replace(self, **changes: Any):
        """A checked copy with `changes` (a ConfigError names a bad one)."""
        return checked(type(self), {**dict(self), **changes}, self.where)

    def to_dict(self) -> dict:
        return self.model_dump()


class ConvBlock(_Block):
    where: ClassVar[str] = "conv_block"
    filters: Positive
    kernel_size: Positive = 3
    convs: Positive = 1  # conv layers before the pooling
    activation: Activation = "relu"
    normalization: Normalization = "batch"
    pooling: Pooling = "max"
    dropout: Fraction = 0.0


class DenseLayer(_Block):
    where: ClassVar[str] = "dense_layer"
    units: Positive
    activation: Activation = "relu"
    normalization: Normalization = "none"
    dropout: Fraction = 0.0


class Augmentation(_Block):
    where: ClassVar[str] = "augmentation"
    flip: bool = True  # faces are close to mirror-symmetric; expressions are too
    rotation_deg: NonNegative = 10.0
    zoom: NonNegative = 0.1
    translation: NonNegative = 0.08
    contrast: NonNegative = 0.2
    brightness: NonNegative = 0.15


class Optimizer(_Block):
    where: ClassVar[str] = "optimizer"
    name: Literal["adam", "adamw", "sgd", "rmsprop", "nadam"] = "adamw"
    learning_rate: Rate = 1e-3
    weight_decay: NonNegative = 1e-4
    schedule: Literal["constant", "cosine", "plateau"] = "cosine"
    warmup_epochs: Count = 2


class Training(_Block):
    where: ClassVar[str] = "training"
    batch_size: Positive = 32
    epochs: Positive = 40
    patience: Positive = 12
    # "none": no early stopping and no held-out subjects; every fit runs its configured epochs.
    monitor: Literal["val_loss", "val_accuracy", "none"] = "val_loss"
    label_smoothing: Fraction = 0.1
    class_weighting: Literal["balanced", "none"] = "balanced"
    # share of training subjects held out for early stopping
    validation_fraction: Annotated[float, Field(gt=0, lt=0.5)] = 0.15


class FineTune(_Block):
    """How a pretrained backbone is adapted: first the new head alone, then every layer at
    the optimizer's (smaller) learning rate and schedule."""

    where: ClassVar[str] = "finetune"
    head_epochs: Count = 6  # epochs with the backbone frozen; 0 starts fine-tuning at once
    head_learning_rate: Rate = 1e-2
    # Keep the backbone's BatchNorm statistics from FER2013 (Keras's transfer-learning
    # advice): re-estimating them from a few hundred lab faces a batch at a time is noisy.
    freeze_batchnorm: bool = True


def _rule(field: str, message: str) -> PydanticCustomError:
    """A cross-field problem, reported at `field` (a dotted path inside the model)."""
    return PydanticCustomError("config_rule", "{message}", {"field": field, "message": message})


class Member(_Block):
    """One model of an ensemble: a whole config, trained once per seed."""

    where: ClassVar[str] = "member"
    config: Config
    seeds: Positive = 1

    @model_validator(mode="before")
    @classmethod
    def _one_network(cls, data: Any) -> Any:
        config = data.get("config") if isinstance(data, dict) else None
        members = (config.get("members") if isinstance(config, dict)
                   else getattr(config, "members", None))
        if members:
            raise _rule("config", "an ensemble member cannot be an ensemble")
        return data


class Config(_Block):
    name: str = "custom"
    input_size: Annotated[int, Field(ge=8)] = 48
    channels: int = 1  # 1 (grayscale) or 3 (RGB); checked below (a Literal would take True)
    # per_image: each face to zero mean, unit variance (skin tone and lighting drop out);
    # scale: pixels to [-1, 1] only.
    input_norm: Literal["per_image", "scale"] = "per_image"
    # "none": the conv blocks below, trained from scratch; a pretrained backbone replaces them.
    backbone: Literal[BACKBONES] = "none"
    # "new": a fresh classifier for the export's labels, trained. "pretrained": the backbone's
    # own classifier, its classes mapped onto the export's labels by name, nothing trained
    # (a zero-shot member that keeps what FER2013's 35k in-the-wild faces taught it).
    head: Literal["new", "pretrained"] = "new"
    conv_blocks: list[ConvBlock] = Field(default_factory=list)
    global_pooling: Literal["avg", "max", "flatten"] = "avg"
    dense_layers: list[DenseLayer] = Field(default_factory=list)
    head_dropout: Fraction = 0.0  # dropout right before the output layer
    optimizer: Optimizer = Field(default_factory=Optimizer)
    training: Training = Field(default_factory=Training)
    augmentation: Augmentation = Field(default_factory=Augmentation)
    finetune: FineTune = Field(default_factory=FineTune)
    members: list[Member] = Field(default_factory=list)  # non-empty: an ensemble

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)

    @property
    def trains(self) -> bool:
        """False for a zero-shot model (the backbone's own head): it is used as shipped."""
        return self.head == "new"

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def with_epochs(self, epochs: int) -> Config:
        """The same config trained for `epochs` (every member's, for an ensemble)."""
        members = [m.replace(config=m.config.with_epochs(epochs)) for m in self.members]
        return self.replace(training=self.training.replace(epochs=epochs), members=members)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if self.channels not in (1, 3):
            raise _rule("channels", f"must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if self.members:
            for i, member in enumerate(self.members):
                if member.config.channels != self.channels:
                    raise _rule(f"members[{i}].config.channels",
                                f"every member must take the ensemble's {self.channels} "
                                f"channel(s), got {member.config.channels}")
        elif self.backbone != "none":
            self._check_backbone()
        else:
            self._check_conv_blocks()
        return self

    def _check_backbone(self) -> None:
        if self.conv_blocks:
            raise _rule("conv_blocks", f"must be empty with backbone {self.backbone!r} "
                                       "(the backbone replaces them)")
        if self.channels != 1:
            raise _rule("channels", f"backbone {self.backbone!r} takes grayscale faces "
                                    f"(1 channel), got {self.channels}")
        if self.input_size < 32:
            raise _rule("input_size", f"backbone {self.backbone!r} needs at least 32 px, "
                                      f"got {self.input_size}")

    def _check_conv_blocks(self) -> None:
        if self.head == "pretrained":
            raise _rule("head", "'pretrained' keeps a backbone's own classifier, but "
                                "backbone is 'none'")
        if not self.conv_blocks:
            raise _rule("conv_blocks", "at least one conv block is needed")
        size = self.input_size
        for i, block in enumerate(self.conv_blocks):
            size //= 2 if block.pooling != "none" else 1
            if size < 1:
                raise _rule(f"conv_blocks[{i}]", f"too many pooling blocks for input_size "
                            f"{self.input_size} (feature map shrinks to nothing)")


Member.model_rebuild()


# --- errors naming the field ----------------------------------------------------------------

def checked(model: type[_Block], data: Any, where: str = "config"):
    """`model` validated from plain data (or a dict of field values); a ConfigError naming
    the dotted field of the first problem otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, model, where)) from None


def describe(exc: ValidationError, model: type[BaseModel], where: str) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = list(first["loc"])
    if first["type"] == "config_rule":
        loc += [first["ctx"]["field"]]
    path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{path}: {_problem(first, model)}{more}"


_TYPES = {"int_type": "an integer", "float_type": "a number", "bool_type": "true/false",
          "string_type": "a string", "list_type": "a list", "model_type": "an object",
          "dict_type": "an object", "model_attributes_type": "an object"}


def _problem(error: dict, model: type[BaseModel]) -> str:
    kind, loc, value = error["type"], error["loc"], error.get("input")
    if kind == "config_rule":
        return error["ctx"]["message"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = f"; allowed: {sorted(owner.model_fields)}" if owner else ""
        return f"unknown key{allowed}"
    if kind == "missing":
        return "missing required key"
    if kind == "literal_error":
        return f"unknown value {value!r}; choose one of {error['ctx']['expected']}"
    if kind in _TYPES:
        return f"expected {_TYPES[kind]}, got {value!r}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{_range(_field_at(model, loc))}, got {value!r}"
    return f"{error['msg'][0].lower()}{error['msg'][1:]}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _field_at(model: type[BaseModel] | None, loc) -> Any:
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = _model_in(info.annotation)
    return info


def _model_at(model: type[BaseModel], loc) -> type[BaseModel] | None:
    if not loc:
        return model
    info = _field_at(model, loc)
    return _model_in(info.annotation) if info else None


def _range(info: Any) -> str:
    """"must be in [0, 1)" and the like, from the field's constraints."""
    bounds = {}
    for constraint in (info.metadata if info else []):
        kind = type(constraint).__name__.lower()
        if kind in ("ge", "gt", "le", "lt"):
            bounds[kind] = getattr(constraint, kind)
    low = ("[", bounds["ge"]) if "ge" in bounds else ("(", bounds.get("gt"))
    high = (bounds["le"], "]") if "le" in bounds else (bounds.get("lt"), ")")
    if low[1] is not None and high[0] is not None:
        return f"must be in {low[0]}{low[1]}, {high[0]}{high[1]}"
    if low[1] is not None:
        return f"must be at least {low[1]}" if low[0] == "[" else f"must be above {low[1]}"
    return f"must be at most {high[0]}" if high[1] == "]" else f"must be below {high[0]}"


# --- loading and saving ----------------------------------------------------------------------

def from_dict(data: Any, where: str = "config") -> Config:
    """Build a Config from plain JSON data; unknown keys and bad values raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    return checked(Config, data, where)


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


def __getattr__(name: str) -> Any:
    # The presets build Configs, so they live in their own module, loaded on first use.
    if name in ("preset", "PRESETS", "PRESET_DESCRIPTIONS"):
        from training import presets

        return getattr(presets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
