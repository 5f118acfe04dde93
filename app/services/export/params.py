"""What an export is asked for: `ExportSpec`, one validated, hashable option set.

The export page (form and query string), the JSON API body, `onset export` and export jobs
all build an `ExportSpec`, so they share one set of names, defaults, ranges and messages
(each naming the field). Defaults and their reasons are in README.md ("Exporting").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from app.models import EMOTIONS
from app.specs import SpecError, parse_spec

Policy = Literal["onset", "percent", "peak"]
# What the `onset` policy does with a sequence nobody marked an onset on: the percentage
# trim, or the suggested onset of its expression-intensity curve (app/services/assist).
Fallback = Literal["percent", "suggested"]
LabelSource = Literal["effective", "original"]
Face = Literal["landmarks", "mtcnn", "none"]
Color = Literal["gray", "rgb", "original"]  # "original": size 0 only, frames as recorded
POLICIES: tuple[str, ...] = Policy.__args__
FALLBACKS: tuple[str, ...] = Fallback.__args__
LABEL_SOURCES: tuple[str, ...] = LabelSource.__args__
FACES: tuple[str, ...] = Face.__args__
COLORS = ("gray", "rgb")
COLOR_NAMES = {"gray": "grayscale", "rgb": "RGB"}  # how every page names them
ORIGINAL_COLOR = "original"
SPLIT_NAMES = ("train", "val", "test")

# Defaults (reasons in README.md "Exporting"): 48x48 grayscale is CK+48's format, which the
# presets read (the ensemble's members resize it themselves); 10 subject folds is the usual
# CK+ protocol; the percentage trim drops the first half, the longest neutral start
# CK+-like sequences have (see bench/export.py's trim table on the demo's true onsets).
DEFAULT_SIZE = 48
MAX_SIZE = 1024
MAX_FOLDS = 50


class ExportParamsError(SpecError):
    """A bad export option; the message names the field (the CLI exits 2, the API 422)."""


class ExportSpec(BaseModel):
    """An export's options. Field order matters: later checks read earlier fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: Policy = Field("onset", description="onset: marked onset to apex (no onset: the "
                           "fallback); percent: drop the first P% of frames; peak: the last "
                           "K frames.")
    percent: float = Field(50.0, ge=0, lt=100, description="P: keep frames whose number > "
                           "floor(N * P / 100) (100 would drop every frame).")
    fallback: Fallback = Field("percent", description="Policy onset, sequences nobody "
                               "marked: 'percent' (the P% trim) or 'suggested' (the suggested "
                               "onset of its intensity curve, `onset onsets`).")
    peak_frames: int = Field(3, ge=1, description="K for policy peak.")
    neutral_frames: int = Field(0, ge=0, description="Also take the first N frames of each "
                                "sequence as 'neutral' (never frames that show the emotion).")
    exclude: tuple[str, ...] = Field((), description="Classes to leave out, e.g. contempt.")
    merge: tuple[tuple[str, str], ...] = Field((), description="Classes merged into another, "
                                               "as FROM=INTO, e.g. contempt=disgust.")
    labels: LabelSource = Field("effective", description="effective (reviews and admin "
                                "decisions) or original (CK+ Emotion files).")
    face: Face = Field("landmarks", description="landmarks (CK+ landmark files), mtcnn "
                       "(detector), or none (the whole frame).")
    size: int = Field(DEFAULT_SIZE, ge=0, le=MAX_SIZE, description="Image side in px; 0 with "
                      "face none copies the original frames byte for byte.")
    color: Color = Field("gray", description="gray or rgb ('original' with size 0).")
    margin: float | None = Field(None, ge=0, le=2, description="Legacy framing: the face box "
                                 "plus this fraction of its side on each side (default: the "
                                 "eyes-and-mouth framing that reproduces CK+48's crops).")
    folds: int = Field(10, ge=2, le=MAX_FOLDS, description="Subject-grouped folds.")
    split: tuple[float, float, float] | None = Field(None, description="Also a train/val/test "
                                                     "split by subject, e.g. 70/15/15.")
    seed: int = Field(0, ge=0, description="Seed of the fold/split assignment.")

    @field_validator("percent")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return value

    @field_validator("fallback")
    @classmethod
    def _only_onset_falls_back(cls, value: str, info) -> str:
        policy = info.data.get("policy", "onset")
        if value != "percent" and policy != "onset":
            raise ValueError(f"only the onset policy falls back (policy is {policy})")
        return value

    @field_validator("exclude", mode="before")
    @classmethod
    def _classes(cls, value: Any, info) -> tuple[str, ...]:
        names = tuple(sorted(set(_names(value))))
        for name in names:
            _check_class(name)
        if info.data.get("neutral_frames") and "neutral" in names:
            raise ValueError("neutral is left out but neutral_frames asks for neutral samples")
        return names

    @field_validator("merge", mode="before")
    @classmethod
    def _merges(cls, value: Any) -> tuple[tuple[str, str], ...]:
        return _merges(value)

    @field_validator("merge")
    @classmethod
    def _merge_fits_exclude(cls, value: tuple, info) -> tuple:
        exclude = set(info.data.get("exclude", ()))
        both = sorted(exclude & {a for a, _ in value})
        if both:
            raise ValueError(f"{', '.join(both)} is both left out and merged; choose one")
        into_excluded = sorted({b for _, b in value} & exclude)
        if into_excluded:
            raise ValueError(f"merges into {', '.join(into_excluded)}, which is left out")
        return value

    @field_validator("size")
    @classmethod
    def _size_fits_face(cls, value: int, info) -> int:
        if value == 0 and info.data.get("face", "landmarks") != "none":
            raise ValueError("0 (original frames) only works with face 'none'; crops need a "
                             "size of 8 px or more")
        if value != 0 and value < 8:
            raise ValueError(f"must be 8..{MAX_SIZE} px (or 0 for the original frames with "
                             f"face 'none'), got {value}")
        return value

    @field_validator("color", mode="before")
    @classmethod
    def _color_spelling(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("color")
    @classmethod
    def _color_fits_size(cls, value: str, info) -> str:
        """Size 0 means the original frames byte for byte, so in their recorded colour (CK+
        mixes gray and RGB subjects; training converts on reading): the colour is
        "original", whatever was asked, which also keeps the dataset id independent of an
        unused option."""
        if info.data.get("size") == 0:
            return ORIGINAL_COLOR
        if value == ORIGINAL_COLOR:
            raise ValueError("'original' keeps the frames as recorded, which needs size 0 "
                             "(no resize)")
        return value

    @field_validator("split", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return None if value in (None, "") else parse_split(value)

    @field_serializer("merge")
    def _merge_text(self, merge: tuple[tuple[str, str], ...]) -> list[str]:
        return [f"{a}={b}" for a, b in merge]

    @field_serializer("split")
    def _split_text(self, split: tuple[float, float, float] | None) -> str | None:
        return split_text(split) if split else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly, in the vocabulary the spec reads back (what a job stores)."""
        return self.model_dump(mode="json")

    def selection_dict(self) -> dict[str, Any]:
        """What decides which frames get which label (dataset.json's `selection`)."""
        data = self.as_dict()
        return {k: data[k] for k in ("policy", "percent", "fallback", "peak_frames",
                                     "neutral_frames", "exclude", "merge", "labels")}

    def split_dict(self) -> dict[str, Any]:
        fractions = dict(zip(SPLIT_NAMES, self.split, strict=True)) if self.split else None
        return {"folds": self.folds, "split": fractions, "seed": self.seed}

    def merge_map(self) -> dict[str, str]:
        return dict(self.merge)


def split_text(split: tuple[float, float, float]) -> str:
    return "/".join(f"{v:g}" for v in split)


def parse_params(data: Mapping[str, Any], *, ignore: Iterable[str] = ()) -> ExportSpec:
    """An ExportSpec from loose input (form or query strings, JSON, CLI options)."""
    return parse_spec(ExportSpec, data, ignore=ignore, error=ExportParamsError)


def parse_split(value: Any) -> tuple[float, float, float]:
    """'70/15/15' (or a list of three numbers) -> percentages summing to 100."""
    if isinstance(value, Mapping):
        value = [value.get(name, 0) for name in SPLIT_NAMES]
    parts = value.split("/") if isinstance(value, str) else value
    example = "give train/val/test percentages summing to 100, like 70/15/15"
    if not isinstance(parts, (list, tuple)) or len(parts) != 3:
        raise ValueError(f"{value!r} is not three numbers; {example}")
    try:
        numbers = tuple(float(str(p).strip()) for p in parts)
    except ValueError:
        raise ValueError(f"{value!r} has a part that is not a number; "
                                         f"{example}") from None
    if any(not math.isfinite(n) or n < 0 for n in numbers):
        raise ValueError(f"{value!r}: parts must be 0 or more; {example}")
    if abs(sum(numbers) - 100) > 1e-6:
        raise ValueError(f"{value!r} sums to {sum(numbers):g}; {example}")
    if numbers[0] == 0:
        raise ValueError(f"{value!r} leaves nothing to train on")
    return numbers  # type: ignore[return-value]


def _names(value: Any) -> list[str]:
    """A list, or one comma-separated string, of class names."""
    if not isinstance(value, str | list | tuple):
        raise ValueError(f"{value!r} is neither a list of class names nor one comma-separated "
                         "string of them")
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        out.extend(str(item).split(","))
    return [s.strip().lower() for s in out if s.strip()]


def _check_class(name: str) -> None:
    if name not in EMOTIONS:
        raise ValueError(f"unknown class {name!r}; classes are {', '.join(EMOTIONS)}")


def _merges(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        pairs = [(str(a), str(b)) for a, b in value.items()]
    elif not isinstance(value, str | list | tuple):
        raise ValueError(f"{value!r} is not a list of FROM=INTO merges (like contempt=disgust)")
    elif all(isinstance(item, (tuple, list)) and len(item) == 2 for item in value):
        pairs = [(str(a), str(b)) for a, b in value]  # already pairs (a spec's own field)
    else:
        pairs = []
        for item in _names(value):
            source, sep, target = item.partition("=")
            if not sep or not source.strip() or not target.strip():
                raise ValueError(f"{item!r} is not FROM=INTO "
                                                 "(like contempt=disgust)")
            pairs.append((source, target))
    merged: dict[str, str] = {}
    for source, target in pairs:
        source, target = source.strip().lower(), target.strip().lower()
        _check_class(source)
        _check_class(target)
        if source == target:
            raise ValueError(f"{source}={target} merges a class into itself")
        if merged.get(source, target) != target:
            raise ValueError(f"{source} is merged into both "
                                             f"{merged[source]} and {target}")
        merged[source] = target
    chained = sorted(set(merged) & set(merged.values()))
    if chained:
        raise ValueError(f"{', '.join(chained)} is both merged away and "
                                         "merged into; merge each class straight into its "
                                         "final class")
    return tuple(sorted(merged.items()))


