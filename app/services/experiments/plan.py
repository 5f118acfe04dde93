"""From an ExperimentSpec to checked cells, before anything is exported or trained.

The plan selects every variant's frames (the export service's own selection, nothing
written), assigns subject folds once on the base selection, finds the common test set (the
last `test_frames` frames of the sequences every variant has, with the same label), and
refuses a request that cannot give a fair answer: an unknown option, a subject the base
does not have, a class that some fold's training would never see, a fold with no common
test image. Every cell (variant x seed) gets a key that names what decides its run.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.services.experiments.spec import ExperimentSpec, Variant

Key = tuple[str, str, int]  # (subject, sequence code, frame number)


class ExperimentError(ValueError):
    """A request that cannot run; the message says why (the CLI exits 2, a page shows it)."""


@dataclass
class VariantPlan:
    variant: Variant
    export: Any  # the ExportSpec this variant exports
    dataset_id: str
    labels: dict[Key, str]  # every selected frame and its class
    config: dict  # the training config (epochs applied), as config.json records it

    @property
    def name(self) -> str:
        return self.variant.name


@dataclass
class Cell:
    variant: str
    seed: int
    key: str


@dataclass
class Plan:
    spec: ExperimentSpec
    folds: dict[str, int]  # subject -> fold 0..k-1, from the base selection
    variants: list[VariantPlan]
    common: dict[Key, str]  # the common test set: frame -> class
    cells: list[Cell] = field(default_factory=list)

    def variant(self, name: str) -> VariantPlan:
        return next(v for v in self.variants if v.name == name)


def make_plan(session: Session, spec: ExperimentSpec) -> Plan:
    from app.services.export import ExportParamsError, parse_params, select_frames

    base = base_options(session, spec)
    try:
        base_spec = parse_params({**base, "folds": spec.folds, "seed": spec.seed})
    except ExportParamsError as exc:
        raise ExperimentError(f"base option {exc}") from None
    folds = base_folds(session, base_spec, spec)
    peak = parse_params({**base_spec.as_dict(), "policy": "peak", "fallback": "percent",
                         "peak_frames": spec.test_frames, "neutral_frames": 0})
    peak_keys = {(r.subject, r.sequence, r.number) for r in select_frames(session, peak).rows}
    variants = [plan_variant(session, spec, base_spec, v, folds) for v in spec.variants()]
    common = common_test_set(peak_keys, variants)
    missing = sorted(set(range(spec.folds)) - {folds[k[0]] for k in common})
    if missing:
        raise ExperimentError(f"fold(s) {', '.join(str(f + 1) for f in missing)} have no "
                              "test image every variant shares (fewer --folds, or fewer "
                              "variants that drop sequences)")
    plan = Plan(spec=spec, folds=folds, variants=variants, common=common)
    plan.cells = [Cell(v.name, seed, cell_key(v, folds, seed, spec))
                  for v in variants for seed in range(spec.seeds)]
    return plan


def base_options(session: Session, spec: ExperimentSpec) -> dict[str, Any]:
    """The base selection's export options: a snapshot's (if named), then `spec.base`."""
    options: dict[str, Any] = {}
    if spec.base_snapshot:
        from app.services.export import SnapshotNotFound, get_snapshot

        try:
            options = dict(get_snapshot(session, spec.base_snapshot).params or {})
        except SnapshotNotFound as exc:
            raise ExperimentError(f"base snapshot: {exc}") from None
        for name in ("folds", "split", "seed"):
            options.pop(name, None)
    return {**options, **spec.base}


def base_folds(session: Session, base_spec: Any, spec: ExperimentSpec) -> dict[str, int]:
    from app.services.export import ExportError, ExportParamsError, select_frames
    from app.services.export.pipeline import assign_groups

    try:
        rows = select_frames(session, base_spec).rows
    except ExportError as exc:
        raise ExperimentError(str(exc)) from None
    if not rows:
        raise ExperimentError("the base selection selects no frames")
    try:
        folds, _ = assign_groups(rows, base_spec)
    except ExportParamsError as exc:
        raise ExperimentError(f"--folds: {str(exc).split(': ', 1)[-1]}") from None
    return folds


def plan_variant(session: Session, spec: ExperimentSpec, base_spec: Any, variant: Variant,
                 folds: dict[str, int]) -> VariantPlan:
    from app.services.export import (
        ExportError,
        ExportParamsError,
        dataset_id,
        parse_params,
        select_frames,
    )

    options = variant_options(base_spec.as_dict(), variant)
    try:
        export = parse_params(options)
        rows = select_frames(session, export).rows
    except (ExportParamsError, ExportError) as exc:
        raise ExperimentError(f"variant {variant.name}: {exc}") from None
    if not rows:
        raise ExperimentError(f"variant {variant.name}: selects no frames")
    outside = sorted({r.subject for r in rows} - set(folds))
    if outside:
        raise ExperimentError(f"variant {variant.name}: subject(s) {', '.join(outside[:5])} "
                              "are not in the base selection, so they have no fold; widen "
                              "the base (e.g. its labels or exclusions)")
    check_classes(variant.name, rows, folds, spec.folds)
    return VariantPlan(variant=variant, export=export, dataset_id=dataset_id(rows, export),
                       labels={(r.subject, r.sequence, r.number): r.label for r in rows},
                       config=training_config(spec, variant))


def variant_options(base: dict[str, Any], variant: Variant) -> dict[str, Any]:
    options = dict(base)
    if "contempt" in variant.settings:  # the factor decides contempt, not the base
        options["exclude"] = [c for c in options.get("exclude") or [] if c != "contempt"]
        options["merge"] = [m for m in options.get("merge") or []
                            if not str(m).startswith("contempt=")]
    for key, value in variant.export_options().items():
        if key in ("exclude", "merge"):
            options[key] = list(options.get(key) or []) + list(value)
        else:
            options[key] = value
    return options


def check_classes(name: str, rows: list, folds: dict[str, int], k: int) -> None:
    """Every class must be in the training part of every fold: in at least two folds."""
    in_folds: dict[str, set[int]] = {}
    for row in rows:
        in_folds.setdefault(row.label, set()).add(folds[row.subject])
    if len(in_folds) < 2:
        raise ExperimentError(f"variant {name}: only the class {', '.join(in_folds)} is left")
    for label, found in sorted(in_folds.items()):
        if len(found) < 2:
            raise ExperimentError(f"variant {name}: class {label} has images in fold "
                                  f"{min(found) + 1} only, so that fold's training has none "
                                  f"(fewer --folds, or drop or merge {label})")
    empty = sorted(set(range(k)) - {f for found in in_folds.values() for f in found})
    if empty:
        raise ExperimentError(f"variant {name}: fold(s) {', '.join(str(f + 1) for f in empty)}"
                              " have no images")


def common_test_set(peak_keys: set[Key], variants: list[VariantPlan]) -> dict[Key, str]:
    """Peak frames every variant selects, with one label in all of them."""
    common = {}
    for key in sorted(peak_keys):
        labels = {v.labels.get(key) for v in variants}
        if len(labels) == 1 and None not in labels:
            common[key] = labels.pop()
    return common


def training_config(spec: ExperimentSpec, variant: Variant) -> dict:
    """The config a variant trains (a preset or a file, epochs applied), as a dict."""
    from training.config import ConfigError, load, preset

    name, path = variant.training()
    if name is None and path is None:
        name, path = (None, spec.config) if spec.config else (spec.preset, None)
    try:
        config = load(Path(path)) if path else preset(name)
    except ConfigError as exc:
        raise ExperimentError(f"variant {variant.name}: config: {exc}") from None
    except OSError as exc:
        raise ExperimentError(f"variant {variant.name}: config {path}: {exc}") from None
    if spec.epochs is not None:
        config = config.with_epochs(spec.epochs)
    return config.to_dict()


def cell_key(v: VariantPlan, folds: dict[str, int], seed: int, spec: ExperimentSpec) -> str:
    """What decides a cell's run: the export's content id (a hash of the selected frames and
    labels, the image and the split options), the training config, the fold assignment, the
    seed and the epochs. Same key, same run: it is reused, also by two variants whose
    options select the very same images (say `suggested` where no onset can be suggested)."""
    payload = {"dataset": v.dataset_id, "config": v.config, "folds": sorted(folds.items()),
               "seed": seed, "epochs": spec.epochs}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def fold_sizes(common: dict[Key, str], folds: dict[str, int]) -> list[int]:
    counts = Counter(folds[key[0]] for key in common)
    return [counts.get(f, 0) for f in range(max(folds.values()) + 1)]
