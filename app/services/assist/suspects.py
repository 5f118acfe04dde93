"""Suspected mislabels: the labelled sequences a run's out-of-fold predictions most
confidently disagree with, ranked by confident learning (cleanlab).

A run's `predictions.csv` holds one row per exported image, predicted by the fold model that
never saw that image's subject. Rows map back to sequences through the export's
`manifest.csv` (`sequence_id`, `source_frame_id`). A sequence's probabilities are the mean
over its emotion frames; its given label is its *current* effective label. Sequences the run
cannot speak for (gone or re-imported since the export, relabelled since, no effective label
now, a class the run does not know) are left out and named in `notes`, never mixed in.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import EMOTIONS, AuditEntry, ExportSnapshot, Frame, Sequence, Subject
from app.services.assist import AssistError
from app.services.effective import effective_map
from app.services.runs import RunError, active_run, get_run

NAMES_SHOWN = 8  # how many sequence names a note lists before "and N more"


@dataclass(frozen=True)
class Suspect:
    sequence_id: int
    subject: str
    sequence: str
    label: str  # the effective label now
    predicted: str  # the class with the highest mean out-of-fold probability
    score: float  # 1 - cleanlab's self-confidence: higher is more suspect
    flagged: bool  # confident learning counts it as a label issue
    top3: list[tuple[str, float]]
    reason: str
    run: str
    rank: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "sequence": self.sequence, "label": self.label,
                "predicted": self.predicted, "score": round(self.score, 6), "run": self.run,
                "rank": self.rank, "flagged": self.flagged, "sequence_id": self.sequence_id,
                "top3": [{"label": name, "probability": round(p, 6)} for name, p in self.top3],
                "reason": self.reason}


@dataclass
class SuspectReport:
    run: str
    run_path: str
    items: list[Suspect]  # every scored sequence: flagged first, then by score
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    flagged_total: int = 0  # flagged before --top cut the list
    scored_total: int = 0

    @property
    def flagged(self) -> list[Suspect]:
        return [s for s in self.items if s.flagged]

    def by_sequence(self) -> dict[int, Suspect]:
        return {s.sequence_id: s for s in self.items}


def resolve_run(session: Session, settings: Settings, run: str | None) -> tuple[str, Path]:
    """(run id, folder) for a run folder path or a run id; None means the active model."""
    if run:
        path = Path(run).expanduser()
        if path.is_dir() and (path / "config.json").is_file():
            config = _json(path / "config.json") or {}
            return str((config.get("run") or {}).get("id") or path.name), path.resolve()
        try:
            found = get_run(session, settings, run)
        except RunError:
            raise AssistError(f"no run {run!r}: give a run folder or the id of a run "
                              "listed under /runs") from None
        return found.id, Path(found.path)
    active = active_run(session)
    if active is None:
        raise AssistError("there is no active model: make a run active on /runs, or name "
                          "one with --run (a run folder or a run id)")
    return active.id, Path(active.path)


def find_suspects(session: Session, settings: Settings, *, run: str | None = None,
                  top: int | None = None) -> SuspectReport:
    run_id, path = resolve_run(session, settings, run)
    labels, predictions = _predictions(path, run_id)
    manifest = _manifest(session, settings, path, run_id)
    per_sequence, notes = _per_sequence(predictions, manifest, run_id)
    candidates, more_notes = _check_current(session, per_sequence, labels, run_id)
    notes += more_notes
    items = _rank(candidates, labels, run_id)
    flagged, scored = sum(s.flagged for s in items), len(items)
    if top is not None:
        items = items[:top]
    return SuspectReport(run=run_id, run_path=str(path), items=items, notes=notes,
                         flagged_total=flagged, scored_total=scored)


def _predictions(path: Path, run_id: str) -> tuple[list[str], list[dict[str, str]]]:
    file = path / "predictions.csv"
    if not file.is_file():
        raise AssistError(f"run {run_id} has no out-of-fold predictions ({file} is missing): "
                          "train it with cross-validation (onset train) to get suspects")
    labels, rows = _read_predictions(str(file), file.stat().st_mtime_ns)
    if not rows:
        raise AssistError(f"run {run_id}'s predictions.csv lists no predictions")
    return labels, rows


@lru_cache(maxsize=8)
def _read_predictions(file: str, _mtime: int) -> tuple[list[str], list[dict[str, str]]]:
    with open(file, newline="") as fh:
        reader = csv.DictReader(fh)
        labels = [c[5:] for c in reader.fieldnames or [] if c.startswith("prob_")]
        return labels, list(reader)


def _manifest(session: Session, settings: Settings, path: Path,
              run_id: str) -> dict[str, tuple[int, int]]:
    """{image path: (sequence id, source frame id)} from the run's export manifest."""
    config = _json(path / "config.json") or {}
    dataset_id = (config.get("dataset") or {}).get("id")
    candidates = [Path(str((config.get("run") or {}).get("dataset") or ""))]
    if dataset_id:
        snapshot = session.get(ExportSnapshot, str(dataset_id))
        if snapshot is not None:
            candidates.append(Path(snapshot.path))
        candidates.append(Path(settings.exports_dir) / str(dataset_id))
    for folder in candidates:
        manifest = folder / "manifest.csv" if folder.is_dir() else None
        if manifest is not None and manifest.is_file():
            return _read_manifest(str(manifest), manifest.stat().st_mtime_ns, run_id)
    raise AssistError(f"run {run_id}'s export (dataset {dataset_id or 'unknown'}) is not on "
                      "this machine, so its predictions cannot be matched to sequences; "
                      "export it again with the same options, or give a run of this dataset")


@lru_cache(maxsize=8)
def _read_manifest(file: str, _mtime: int, run_id: str) -> dict[str, tuple[int, int]]:
    with open(file, newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"sequence_id", "source_frame_id"} <= set(reader.fieldnames or []):
            raise AssistError(f"run {run_id}'s export manifest ({file}) has no sequence_id/"
                              "source_frame_id columns (an export older than suspects): "
                              "export and train again")
        return {row["path"]: (int(row["sequence_id"]), int(row["source_frame_id"]))
                for row in reader}


@dataclass
class _Seq:
    sequence_id: int
    subject: str
    sequence: str
    exported_label: str
    probs: np.ndarray
    frames: list[tuple[int, int]]  # (source frame id, frame number)


def _per_sequence(predictions: list[dict[str, str]], manifest: dict[str, tuple[int, int]],
                  run_id: str) -> tuple[list[_Seq], list[str]]:
    groups: dict[int, list[dict[str, str]]] = defaultdict(list)
    unmatched = 0
    for row in predictions:
        ids = manifest.get(row["path"])
        if ids is None:
            unmatched += 1
            continue
        groups[ids[0]].append({**row, "_frame_id": ids[1]})
    if not groups:
        raise AssistError(f"run {run_id}'s predictions match none of its export's manifest "
                          "rows: the run folder and the export do not belong together")
    notes = [f"{unmatched} prediction rows are not in the export's manifest and were "
             "ignored"] if unmatched else []
    out = []
    for seq_id, rows in groups.items():
        emotion = Counter(r["true_label"] for r in rows if r["true_label"] != "neutral")
        label = emotion.most_common(1)[0][0] if emotion else "neutral"
        kept = [r for r in rows if r["true_label"] == label]
        probs = np.array([[float(v) for k, v in r.items() if k.startswith("prob_")]
                          for r in kept]).mean(axis=0)
        out.append(_Seq(seq_id, kept[0]["subject"], kept[0]["sequence"], label,
                        probs / probs.sum(), [(r["_frame_id"], int(r["frame"])) for r in kept]))
    return out, notes


def _check_current(session: Session, seqs: list[_Seq], labels: list[str],
                   run_id: str) -> tuple[list[tuple[_Seq, str]], list[str]]:
    """Keep the sequences the run can still speak for, with their effective label now."""
    ids = [s.sequence_id for s in seqs]
    known = {row.id: (row.subject, row.code) for row in session.execute(
        select(Sequence.id, Subject.code.label("subject"), Sequence.code)
        .join(Subject, Subject.id == Sequence.subject_id).where(Sequence.id.in_(ids)))}
    frames = {row.id: (row.sequence_id, row.number) for row in session.execute(
        select(Frame.id, Frame.sequence_id, Frame.number).where(Frame.sequence_id.in_(ids)))}
    effective = effective_map(session, ids)
    left_out: dict[str, list[str]] = defaultdict(list)
    kept = []
    for s in seqs:
        name = f"{s.subject}/{s.sequence}"
        if known.get(s.sequence_id) != (s.subject, s.sequence):
            left_out["not in this database any more (another or a re-imported dataset)"
                     ].append(name)
            continue
        if any(frames.get(fid) != (s.sequence_id, number) for fid, number in s.frames):
            left_out["frames changed since the run's export (re-imported)"].append(name)
            continue
        eff = effective[s.sequence_id]
        now = EMOTIONS[eff.label] if eff.label is not None else None
        if eff.exclude:
            left_out["excluded since the run's export"].append(name)
        elif now is None:
            left_out["no effective label now (a reviewer tie or no label)"].append(name)
        elif now != s.exported_label:
            left_out["relabelled since the run's export (the run trained on the old "
                     "label)"].append(name)
        elif now not in labels:
            left_out[f"label {now} is not a class of run {run_id}"].append(name)
        else:
            kept.append((s, now))
    if len(known) == 0:
        raise AssistError(f"run {run_id}'s predictions are for another dataset: none of its "
                          "sequences is in this database")
    notes = [f"{len(names)} sequence{'s' if len(names) != 1 else ''} left out, "
             f"{why}: {_names(names)}" for why, names in left_out.items()]
    return kept, notes


def _names(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


def _rank(candidates: list[tuple[_Seq, str]], labels: list[str], run_id: str) -> list[Suspect]:
    if not candidates:
        return []
    given = np.array([labels.index(label) for _, label in candidates])
    probs = np.vstack([s.probs for s, _ in candidates])
    flagged, quality, thresholds = _confident_learning(given, probs)
    order = sorted(range(len(candidates)), key=lambda i: (not flagged[i], quality[i], i))
    items = []
    for rank, i in enumerate(order, start=1):
        s, label = candidates[i]
        predicted = int(probs[i].argmax())
        top = np.argsort(-probs[i])[:3]
        items.append(Suspect(
            sequence_id=s.sequence_id, subject=s.subject, sequence=s.sequence, label=label,
            predicted=labels[predicted], score=float(1.0 - quality[i]), flagged=bool(flagged[i]),
            top3=[(labels[j], float(probs[i][j])) for j in top],
            reason=_reason(labels, label, predicted, probs[i], thresholds, bool(flagged[i])),
            run=run_id, rank=rank))
    return items


def _confident_learning(given: np.ndarray, probs: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flagged mask, self-confidence per example, per-class thresholds) from cleanlab.
    Classes nobody holds get a threshold of 1 (nothing is confidently of that class)."""
    from cleanlab.count import get_confident_thresholds
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    quality = get_label_quality_scores(given, probs, method="self_confidence")
    present = np.unique(given)
    if len(present) < 2:  # one class: confident learning has nothing to compare against
        return np.zeros(len(given), dtype=bool), quality, np.ones(probs.shape[1])
    # Only the classes that occur take part; cleanlab wants labels 0..K-1 all present.
    remap = {int(c): i for i, c in enumerate(present)}
    sub_probs = probs[:, present]
    sub_probs = sub_probs / sub_probs.sum(axis=1, keepdims=True)
    sub_given = np.array([remap[int(g)] for g in given])
    flagged = find_label_issues(sub_given, sub_probs, filter_by="prune_by_noise_rate",
                                n_jobs=1)
    thresholds = np.ones(probs.shape[1])
    thresholds[present] = get_confident_thresholds(sub_given, sub_probs)
    return np.asarray(flagged, dtype=bool), quality, thresholds


def _reason(labels: list[str], label: str, predicted: int, probs: np.ndarray,
            thresholds: np.ndarray, flagged: bool) -> str:
    given = labels.index(label)
    p_label = f"{label} {probs[given]:.0%}"
    if not flagged:
        if predicted == given:
            return f"not flagged: the model agrees ({p_label})"
        return (f"not flagged: the model leans to {labels[predicted]} "
                f"{probs[predicted]:.0%} but not past its confident threshold "
                f"({thresholds[predicted]:.0%}); {p_label}")
    return (f"flagged: the model gives {labels[predicted]} {probs[predicted]:.0%}, past that "
            f"class's confident threshold ({thresholds[predicted]:.0%}, its mean on sequences "
            f"labelled {labels[predicted]}), and the label {p_label}")


_REPORTS: dict[tuple, SuspectReport] = {}


_LAST_CHANGE = select(func.max(AuditEntry.id))  # built once: asked on every page view


def suspect_scores(session: Session, settings: Settings) -> tuple[dict[int, Suspect], str | None]:
    """The active model's suspects by sequence id, and why there are none (a message).

    Pages ask for this on every view, so the report is kept per process until the run's
    predictions or any annotation/decision change (the audit log's newest id says so)."""
    active = active_run(session)
    if active is None:
        return {}, "there is no active model: make a run active on /runs"
    predictions = Path(active.path) / "predictions.csv"
    last_change = session.scalar(_LAST_CHANGE)
    mtime = predictions.stat().st_mtime_ns if predictions.is_file() else 0
    key = (settings.resolved_database_url, active.id, active.path, mtime, last_change)
    if key not in _REPORTS:
        try:
            report = find_suspects(session, settings)
        except AssistError as exc:
            return {}, str(exc)
        if len(_REPORTS) >= 4:
            _REPORTS.clear()
        _REPORTS[key] = report
    return _REPORTS[key].by_sequence(), None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def suspects_if_needed(session: Session, settings: Settings, filters) -> dict[int, Suspect] | None:
    """The active model's suspects when the list filters or sorts by them (else None)."""
    return suspect_scores(session, settings)[0] if filters.wants_suspects else None
