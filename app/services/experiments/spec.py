"""`ExperimentSpec`: what an experiment is asked for, stated once (CLI, job, page read it).

An experiment = one base selection (export options, or a recorded snapshot's), factors that
vary, the same subject folds and seeds for every variant, one preset or config. Each factor
value is a short string (`percent:30`, `merge:disgust`) that becomes export options or a
training config; `variants()` is the cartesian product, in the order the values were given.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.models import EMOTIONS
from training.config import PRESET_DESCRIPTIONS

PresetName = Literal[tuple(PRESET_DESCRIPTIONS)]  # type: ignore[valid-type]
FACTORS = {
    "policy": "onset (marked onsets, else the percent rule), suggested (marked, else the "
              "suggested onset), percent:P, peak:K",
    "neutral": "none, or N: the first N frames of each sequence as 'neutral'",
    "contempt": "keep, drop, or merge:CLASS",
    "face": "landmarks, mtcnn or none",
    "labels": "effective or original",
    "preset": "a preset name (" + ", ".join(PRESET_DESCRIPTIONS) + ")",
    "config": "a config JSON file (or a run's config.json)",
}
TRAINING_FACTORS = ("preset", "config")
# Options the experiment itself decides: the folds are the experiment's, never an export's.
BASE_RESERVED = ("folds", "split")
MAX_VARIANTS = 32
MAX_FOLDS = 20
MAX_SEEDS = 10


class ExperimentSpec(BaseModel):
    """An experiment's options; `vary` maps each factor to its values, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vary: dict[str, tuple[str, ...]] = Field(..., description="Factors and their values, "
                                             "e.g. policy=onset,percent:50,peak:3 (repeat "
                                             "for more factors; variants are every "
                                             "combination).")
    base: dict[str, Any] = Field(default_factory=dict, description="Export options of the "
                                 "base selection (as `onset export` names them), KEY=VALUE.")
    base_snapshot: str | None = Field(None, description="Start from a recorded export "
                                      "snapshot's options (its id) instead of the defaults.")
    folds: int = Field(5, ge=2, le=MAX_FOLDS, description="Subject folds, the same for "
                       "every variant (assigned on the base selection).")
    seeds: int = Field(1, ge=1, le=MAX_SEEDS, description="Training seeds per variant; the "
                       "paired test runs over folds x seeds.")
    epochs: int | None = Field(None, ge=1, le=1000, description="Override the config's "
                               "epoch budget (every member's).")
    preset: PresetName = Field("default", description="Named training config for every "
                               "variant (unless preset/config is a factor).")
    config: str | None = Field(None, description="A config JSON file instead of --preset.")
    test_frames: int = Field(3, ge=1, le=20, description="The common test set: the last K "
                             "frames of each sequence every variant has.")
    seed: int = Field(0, ge=0, description="Seed of the subject-to-fold assignment.")

    @field_validator("vary", mode="before")
    @classmethod
    def _vary(cls, value: Any) -> dict[str, tuple[str, ...]]:
        if isinstance(value, str):  # a form's text: one factor a line (or ; between)
            value = [line for line in value.replace(";", "\n").splitlines() if line.strip()]
        if isinstance(value, (list, tuple)):  # ["policy=onset,peak:3", ...] from the CLI
            value = parse_vary(value)
        if not isinstance(value, Mapping) or not value:
            raise ValueError("give at least one factor, like policy=onset,percent:50")
        out: dict[str, tuple[str, ...]] = {}
        for factor, values in value.items():
            if factor not in FACTORS:
                raise ValueError(f"unknown factor {factor!r}; factors are "
                                 f"{', '.join(FACTORS)}")
            items = [values] if isinstance(values, str) else list(values)
            items = [v for item in items for v in str(item).split(",")]
            items = [v.strip() for v in items if v.strip()]
            if not items:
                raise ValueError(f"{factor}: no values given")
            normal = [factor_value(factor, v) for v in items]
            if len(set(normal)) != len(normal):
                raise ValueError(f"{factor}: a value is given twice ({', '.join(items)})")
            out[factor] = tuple(normal)
        return out

    @field_validator("base", mode="before")
    @classmethod
    def _base_text(cls, value: Any) -> Any:
        """A form's text, KEY=VALUE a line, or a list of KEY=VALUE, as a dict."""
        if isinstance(value, str):
            value = [line for line in value.replace(";", "\n").splitlines() if line.strip()]
        if isinstance(value, (list, tuple)):
            pairs = [str(item).partition("=") for item in value]
            bad = [k for k, sep, _ in pairs if not sep or not k.strip()]
            if bad:
                raise ValueError(f"{bad[0]!r} is not KEY=VALUE (like face=none)")
            value = {k.strip().replace("-", "_"): v.strip() for k, _, v in pairs}
        return value

    @field_validator("base")
    @classmethod
    def _base(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(set(value) & set(BASE_RESERVED))
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: the experiment assigns the folds "
                             "(use --folds)")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> ExperimentSpec:
        if self.config and self.preset != "default":
            raise ValueError("give either preset or config, not both")
        if "preset" in self.vary and "config" in self.vary:
            raise ValueError("vary preset or config, not both")
        count = 1
        for values in self.vary.values():
            count *= len(values)
        if count > MAX_VARIANTS:
            raise ValueError(f"{count} variants; at most {MAX_VARIANTS}")
        return self

    def variants(self) -> list[Variant]:
        names = list(self.vary)
        return [Variant(dict(zip(names, combo, strict=True)))
                for combo in itertools.product(*(self.vary[n] for n in names))]

    def digest(self) -> str:
        """The experiment's id: a hash of its settings (same settings, same id)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Variant:
    settings: dict[str, str]

    @property
    def name(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.items())

    def export_options(self) -> dict[str, Any]:
        """The export options this variant overrides in the base selection."""
        out: dict[str, Any] = {}
        for factor, value in self.settings.items():
            out.update(_EXPORT_OPTIONS[factor](value) if factor in _EXPORT_OPTIONS else {})
        return out

    def training(self) -> tuple[str | None, str | None]:
        """(preset, config path) this variant asks for; None where it keeps the spec's."""
        return self.settings.get("preset"), self.settings.get("config")


def parse_vary(items: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    """['policy=onset,percent:50', 'contempt=keep,drop'] -> {factor: [values]}."""
    out: dict[str, list[str]] = {}
    for item in items:
        factor, sep, values = str(item).partition("=")
        factor = factor.strip().lower()
        if not sep or not factor:
            raise ValueError(f"{item!r} is not FACTOR=V1,V2 (like policy=onset,percent:50)")
        if factor in out:
            raise ValueError(f"{factor} is varied twice; give all its values at once")
        out[factor] = values.split(",")
    return out


def factor_value(factor: str, raw: str) -> str:
    """One value in its canonical spelling, or ValueError naming the factor."""
    value = raw.strip()
    low = value.lower()
    if factor == "policy":
        if low in ("onset", "suggested"):
            return low
        kind, _, number = low.partition(":")
        if kind == "percent":
            p = _number(factor, value, number)
            if not 0 <= p < 100:
                raise ValueError(f"policy: {value!r}: P must be 0 <= P < 100")
            return f"percent:{p:g}"
        if kind == "peak":
            k = _number(factor, value, number)
            if k < 1 or not k.is_integer():
                raise ValueError(f"policy: {value!r}: K must be a whole number >= 1")
            return f"peak:{int(k)}"
    elif factor == "neutral":
        if low in ("none", "0"):
            return "none"
        if low.isdigit():
            return str(int(low))
    elif factor == "contempt":
        if low in ("keep", "drop"):
            return low
        kind, _, target = low.partition(":")
        if kind == "merge" and target in EMOTIONS and target != "contempt":
            return f"merge:{target}"
    elif factor == "face" and low in ("landmarks", "mtcnn", "none"):
        return low
    elif factor == "labels" and low in ("effective", "original"):
        return low
    elif factor == "preset" and low in PRESET_DESCRIPTIONS:
        return low
    elif factor == "config" and value:
        return value
    raise ValueError(f"{factor}: {value!r} is not a value; {factor} takes {FACTORS[factor]}")


def _number(factor: str, value: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{factor}: {value!r} needs a number after the colon") from None


def _policy(value: str) -> dict[str, Any]:
    if value == "onset":
        return {"policy": "onset", "fallback": "percent"}
    if value == "suggested":
        return {"policy": "onset", "fallback": "suggested"}
    kind, _, number = value.partition(":")
    return {"policy": "percent", "percent": float(number)} if kind == "percent" else {
        "policy": "peak", "peak_frames": int(number)}


def _contempt(value: str) -> dict[str, Any]:
    if value == "drop":
        return {"exclude": ["contempt"], "merge": []}
    if value.startswith("merge:"):
        return {"merge": [f"contempt={value.split(':', 1)[1]}"]}
    return {}


_EXPORT_OPTIONS = {
    "policy": _policy,
    "neutral": lambda v: {"neutral_frames": 0 if v == "none" else int(v)},
    "contempt": _contempt,
    "face": lambda v: {"face": v},
    "labels": lambda v: {"labels": v},
}
