"""What an export is asked for: one validated, hashable parameter set.

The page (form and query string), the JSON API and `onset export` all build an
`ExportParams` through `parse_params`, so they refuse the same bad values with the same
message, naming the field. Defaults and their reasons are in README.md ("Exporting").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from app.models import EMOTIONS

POLICIES = ("onset", "percent", "peak")
# What the `onset` policy does with a sequence nobody marked an onset on: the percentage
# trim, or the suggested onset of its expression-intensity curve (app/services/assist).
FALLBACKS = ("percent", "suggested")
LABEL_SOURCES = ("effective", "original")
FACES = ("landmarks", "mtcnn", "none")
COLORS = ("gray", "rgb")
ORIGINAL_COLOR = "original"  # size 0 only: every frame as recorded
SPLIT_NAMES = ("train", "val", "test")

# Defaults (reasons in README.md "Exporting"): the default training config takes 48x48
# grayscale input (training/config.py), so that is what we write; 10 subject folds is the
# usual CK+ protocol; the percentage trim drops the first half, the longest neutral start
# CK+-like sequences have (see bench/export.py's trim table on the demo's true onsets).
DEFAULT_PERCENT = 50.0
DEFAULT_PEAK_FRAMES = 3
DEFAULT_SIZE = 48
DEFAULT_FOLDS = 10
MAX_SIZE = 1024


class ExportParamsError(ValueError):
    """A bad export option; the message names the field (the CLI exits 2, the API 422)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class ExportParams:
    policy: str = "onset"
    percent: float = DEFAULT_PERCENT
    fallback: str = "percent"  # policy onset, no onset marked: percent trim or suggestion
    peak_frames: int = DEFAULT_PEAK_FRAMES
    neutral_frames: int = 0
    exclude: tuple[str, ...] = ()
    merge: tuple[tuple[str, str], ...] = ()  # (from, into), sorted
    labels: str = "effective"
    face: str = "landmarks"
    size: int = DEFAULT_SIZE  # 0 = the original frames, unresized (face "none" only)
    color: str = "gray"  # "original" when size is 0
    margin: float | None = None  # None: the crop service's default
    folds: int = DEFAULT_FOLDS
    split: tuple[float, float, float] | None = None  # train/val/test percentages
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly, in the same vocabulary `parse_params` reads back."""
        data = asdict(self)
        data["exclude"] = list(self.exclude)
        data["merge"] = [f"{a}={b}" for a, b in self.merge]
        data["split"] = split_text(self.split) if self.split else None
        return data

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


_FIELDS = set(ExportParams.__dataclass_fields__)
# Spellings the CLI, forms and JSON may use for the same field.
_ALIASES = {"peak": "peak_frames", "peak-frames": "peak_frames",
            "neutral": "neutral_frames", "neutral-frames": "neutral_frames",
            "label_source": "labels", "colour": "color"}


def parse_params(data: Mapping[str, Any], *, ignore: Iterable[str] = ()) -> ExportParams:
    """Build ExportParams from loose input (strings from a form or the query string, JSON
    values, CLI options). Unknown keys and bad values raise ExportParamsError."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in ignore:
            continue
        name = _ALIASES.get(key, key)
        if name not in _FIELDS:
            raise ExportParamsError(key, f"unknown option; known: {', '.join(sorted(_FIELDS))}")
        if value is None or value == "" or value == []:
            continue
        values[name] = value
    defaults = ExportParams()
    policy = _choice(values, "policy", POLICIES, defaults.policy)
    percent = _number(values, "percent", defaults.percent)
    if not 0 <= percent < 100:
        raise ExportParamsError("percent", f"must be at least 0 and below 100, got {percent:g} "
                                           "(100 would drop every frame)")
    peak = _integer(values, "peak_frames", defaults.peak_frames, low=1)
    neutral = _integer(values, "neutral_frames", 0, low=0)
    exclude = tuple(sorted(set(_names(values.get("exclude", ())))))
    for name in exclude:
        _check_class("exclude", name)
    merge = _merges(values.get("merge", ()))
    _check_class_rules(exclude, merge, neutral)
    fallback = _choice(values, "fallback", FALLBACKS, defaults.fallback)
    if fallback != "percent" and policy != "onset":
        raise ExportParamsError("fallback", f"only the onset policy falls back (policy is "
                                            f"{policy})")
    face = _choice(values, "face", FACES, defaults.face)
    size = _integer(values, "size", defaults.size, low=0)
    if size == 0 and face != "none":
        raise ExportParamsError("size", "0 (original frames) only works with face 'none'; "
                                        "crops need a size of 8 px or more")
    if size != 0 and not 8 <= size <= MAX_SIZE:
        raise ExportParamsError("size", f"must be 8..{MAX_SIZE} px (or 0 for the original "
                                        f"frames with face 'none'), got {size}")
    margin = values.get("margin")
    if margin is not None:
        margin = _number(values, "margin", 0.0)
        if not 0 <= margin <= 2:
            raise ExportParamsError("margin", f"must be 0..2 (a fraction of the face box), "
                                              f"got {margin:g}")
    return ExportParams(
        policy=policy, percent=percent, fallback=fallback, peak_frames=peak,
        neutral_frames=neutral,
        exclude=exclude, merge=merge,
        labels=_choice(values, "labels", LABEL_SOURCES, defaults.labels),
        face=face, size=size, color=_color(values, size), margin=margin,
        folds=_integer(values, "folds", defaults.folds, low=2),
        split=parse_split(values["split"]) if "split" in values else None,
        seed=_integer(values, "seed", 0, low=0),
    )


def parse_split(value: Any) -> tuple[float, float, float]:
    """'70/15/15' (or a list of three numbers) -> percentages summing to 100."""
    if isinstance(value, Mapping):
        value = [value.get(name, 0) for name in SPLIT_NAMES]
    parts = value.split("/") if isinstance(value, str) else value
    example = "give train/val/test percentages summing to 100, like 70/15/15"
    if not isinstance(parts, (list, tuple)) or len(parts) != 3:
        raise ExportParamsError("split", f"{value!r} is not three numbers; {example}")
    try:
        numbers = tuple(float(str(p).strip()) for p in parts)
    except ValueError:
        raise ExportParamsError("split", f"{value!r} has a part that is not a number; "
                                         f"{example}") from None
    if any(not math.isfinite(n) or n < 0 for n in numbers):
        raise ExportParamsError("split", f"{value!r}: parts must be 0 or more; {example}")
    if abs(sum(numbers) - 100) > 1e-6:
        raise ExportParamsError("split", f"{value!r} sums to {sum(numbers):g}; {example}")
    if numbers[0] == 0:
        raise ExportParamsError("split", f"{value!r} leaves nothing to train on")
    return numbers  # type: ignore[return-value]


def _choice(values: dict, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = str(values.get(name, default)).strip().lower()
    if value in ("grey", "grayscale", "greyscale", "l") and name == "color":
        value = "gray"
    if value not in allowed:
        raise ExportParamsError(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _color(values: dict, size: int) -> str:
    """Size 0 means the original frames byte for byte, so in their recorded colour (CK+
    mixes gray and RGB subjects; training converts on reading): the colour is "original",
    whatever was asked, which also keeps the dataset id independent of an unused option."""
    color = _choice(values, "color", (*COLORS, ORIGINAL_COLOR), "gray")
    if size == 0:
        return ORIGINAL_COLOR
    if color == ORIGINAL_COLOR:
        raise ExportParamsError("color", "'original' keeps the frames as recorded, which "
                                         "needs size 0 (no resize)")
    return color


def _number(values: dict, name: str, default: float) -> float:
    raw = values.get(name, default)
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = float(raw)
    except (TypeError, ValueError):
        raise ExportParamsError(name, f"{raw!r} is not a number") from None
    if not math.isfinite(number):
        raise ExportParamsError(name, f"{raw!r} is not a finite number")
    return number


def _integer(values: dict, name: str, default: int, *, low: int) -> int:
    raw = values.get(name, default)
    number = _number(values, name, default)
    if not number.is_integer():
        raise ExportParamsError(name, f"{raw!r} is not a whole number")
    if number < low:
        raise ExportParamsError(name, f"must be at least {low}, got {int(number)}")
    return int(number)


def _names(value: Any) -> list[str]:
    """A list, or one comma-separated string, of class names."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        out.extend(str(item).split(","))
    return [s.strip().lower() for s in out if s.strip()]


def _check_class(field_name: str, name: str) -> None:
    if name not in EMOTIONS:
        raise ExportParamsError(field_name, f"unknown class {name!r}; classes are "
                                            f"{', '.join(EMOTIONS)}")


def _merges(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        pairs = [(str(a), str(b)) for a, b in value.items()]
    else:
        pairs = []
        for item in _names(value):
            source, sep, target = item.partition("=")
            if not sep or not source.strip() or not target.strip():
                raise ExportParamsError("merge", f"{item!r} is not FROM=INTO "
                                                 "(like contempt=disgust)")
            pairs.append((source, target))
    merged: dict[str, str] = {}
    for source, target in pairs:
        source, target = source.strip().lower(), target.strip().lower()
        _check_class("merge", source)
        _check_class("merge", target)
        if source == target:
            raise ExportParamsError("merge", f"{source}={target} merges a class into itself")
        if merged.get(source, target) != target:
            raise ExportParamsError("merge", f"{source} is merged into both "
                                             f"{merged[source]} and {target}")
        merged[source] = target
    chained = sorted(set(merged) & set(merged.values()))
    if chained:
        raise ExportParamsError("merge", f"{', '.join(chained)} is both merged away and "
                                         "merged into; merge each class straight into its "
                                         "final class")
    return tuple(sorted(merged.items()))


def _check_class_rules(exclude: tuple[str, ...], merge: tuple[tuple[str, str], ...],
                       neutral_frames: int) -> None:
    both = sorted(set(exclude) & {a for a, _ in merge})
    if both:
        raise ExportParamsError("merge", f"{', '.join(both)} is both left out and merged; "
                                         "choose one")
    into_excluded = sorted({b for _, b in merge} & set(exclude))
    if into_excluded:
        raise ExportParamsError("merge", f"merges into {', '.join(into_excluded)}, which is "
                                         "left out")
    if neutral_frames and "neutral" in exclude:
        raise ExportParamsError("exclude", "neutral is left out but --neutral-frames asks "
                                           "for neutral samples")
