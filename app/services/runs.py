"""Training and tuning runs the app knows: found in job folders and settings.runs_dir,
read from their run folders (docs/design.md: the run folder), one of them the *active model*."""

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import Job, Run, Sequence, Subject
from app.services import audit
from app.services.errors import BadInput, NotFound
from training.contract import (
    CONFIG_FILE,
    HISTORY_FILE,
    LABELS_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PREDICTIONS_FILE,
    TRIALS_FILE,
)


class RunError(NotFound):
    """No such run, or no such file in it."""


def register_runs(session: Session, settings: Settings) -> None:
    """Record the run folders found on disk (made by jobs or by `onset train --out
    <runs_dir>`) as Run rows. Called at start-up, when a job finishes and before a promotion;
    pages only read (`list_runs` shows folders not registered yet as well)."""
    session.add_all(_found_runs(session, settings))
    session.flush()


def _found_runs(session: Session, settings: Settings) -> list[Run]:
    """Run folders on disk without a Run row, as new (unsaved) rows."""
    known = {r.path for r in session.scalars(select(Run))}
    taken = set(session.scalars(select(Run.id)))
    found: list[Run] = []
    for path, job_id in _candidates(session, settings):
        if str(path) in known or not (path / METRICS_FILE).is_file():
            continue
        known.add(str(path))
        run_id = path.name if path.name not in taken else f"{path.name}-{job_id}"
        taken.add(run_id)
        summary = _summary(path)
        found.append(Run(id=run_id, kind="tune" if (path / TRIALS_FILE).is_file() else "train",
                         path=str(path), job_id=job_id, dataset_id=summary.get("dataset_id"),
                         summary=summary, active=False, created_at=_created(path)))
    return found


def _candidates(session: Session, settings: Settings) -> list[tuple[Path, int | None]]:
    candidates: list[tuple[Path, int | None]] = []
    for job in session.scalars(select(Job).where(Job.kind.in_(("train", "tune")),
                                                 Job.status == "succeeded")):
        if job.run_dir:
            candidates.append((Path(job.run_dir), job.id))
    runs_dir = Path(settings.runs_dir)
    if runs_dir.is_dir():
        candidates += [(p.parent, None) for p in sorted(runs_dir.glob(f"*/{METRICS_FILE}"))]
    return candidates


def _summary(path: Path) -> dict[str, Any]:
    metrics = _json(path / METRICS_FILE) or {}
    config = _json(path / CONFIG_FILE) or {}
    accuracy = metrics.get("accuracy", {})
    return {"accuracy": accuracy.get("mean"), "accuracy_std": accuracy.get("std"),
            "folds": len(accuracy.get("per_fold", [])), "macro_f1": metrics.get("macro_f1"),
            "sequence_accuracy": (metrics.get("sequence_accuracy") or {}).get("mean"),
            "members": sorted(metrics.get("members") or {}),
            "dataset_id": (config.get("dataset") or {}).get("id"),
            "preset": (config.get("config") or {}).get("name"),
            "labels": (config.get("dataset") or {}).get("labels")}


def _created(path: Path) -> datetime:
    return datetime.fromtimestamp((path / METRICS_FILE).stat().st_mtime, UTC)


def list_runs(session: Session, settings: Settings) -> list[Run]:
    """Every run, newest first: the registered ones and those found on disk since."""
    runs = list(session.scalars(select(Run))) + _found_runs(session, settings)
    return sorted(runs, key=lambda r: r.created_at, reverse=True)


def get_run(session: Session, settings: Settings, run_id: str) -> Run:
    run = session.get(Run, run_id) or next(
        (r for r in _found_runs(session, settings) if r.id == run_id), None)
    if run is None or not Path(run.path).is_dir():
        raise RunError(f"no run {run_id!r}")
    return run


def run_of_job(session: Session, settings: Settings, job: Job) -> Run | None:
    """The run a finished train or tune job made, if its folder holds one."""
    if not job.run_dir or job.kind not in ("train", "tune") or job.status != "succeeded":
        return None
    return next((r for r in list_runs(session, settings) if r.path == job.run_dir), None)


_ACTIVE = select(Run).where(Run.active.is_(True))  # built once: pages ask on every view


def active_run(session: Session) -> Run | None:
    return session.scalar(_ACTIVE)


def promote(session: Session, settings: Settings, *, run_id: str, user_id: int | None) -> Run:
    """Make the run the active model (registering the runs found on disk first)."""
    register_runs(session, settings)
    run = get_run(session, settings, run_id)
    if not (Path(run.path) / MODEL_FILE).is_file():
        raise BadInput("run", f"run {run.id} has no {MODEL_FILE} to predict with",
                       location="path")
    before = active_run(session)
    session.execute(update(Run).values(active=False))
    run.active = True
    audit.record(session, action="run.promote", user_id=user_id,
                 before={"active": before.id if before else None}, after={"active": run.id})
    return run


@dataclass
class RunDetails:
    run: Run
    metrics: dict[str, Any]
    config: dict[str, Any]
    labels: list[str]
    history: list[dict[str, str]]
    predictions: list[dict[str, str]]
    trials: list[dict[str, str]]

    @property
    def misclassified(self) -> list[tuple[int, dict[str, str]]]:
        return [(i, row) for i, row in enumerate(self.predictions)
                if row.get("true_label") != row.get("predicted_label")]

    def curves(self, metric: str) -> dict[str, list[tuple[float, float]]]:
        series: dict[str, list[tuple[float, float]]] = {}
        for row in self.history:
            value = row.get(metric)
            if value not in (None, ""):
                name = "final model" if row["fold"] == "final" else f"fold {row['fold']}"
                series.setdefault(name, []).append((float(row["epoch"]), float(value)))
        return series


def run_details(run: Run) -> RunDetails:
    path = Path(run.path)
    config = _json(path / CONFIG_FILE) or {}
    return RunDetails(run=run, metrics=_json(path / METRICS_FILE) or {}, config=config,
                      labels=_json(path / LABELS_FILE) or [],
                      history=_csv(path / HISTORY_FILE),
                      predictions=_csv(path / PREDICTIONS_FILE),
                      trials=_csv(path / TRIALS_FILE))


def prediction_image(run: Run, details: RunDetails, index: int) -> Path:
    """The image of out-of-fold prediction `index`, resolved inside the run's dataset."""
    if not 0 <= index < len(details.predictions):
        raise RunError(f"no prediction {index} in run {run.id}")
    dataset = Path(str((details.config.get("run") or {}).get("dataset", "")))
    if not dataset.is_dir():
        raise RunError(f"the run's dataset folder {dataset} is not on this machine")
    target = (dataset / details.predictions[index]["path"]).resolve()
    if not target.is_relative_to(dataset.resolve()) or not target.is_file():
        raise RunError(f"prediction {index}'s image is not inside the dataset folder")
    return target


def sequence_ids(session: Session) -> dict[tuple[str, str], int]:
    """(subject code, sequence code) -> sequence id: links a prediction to its review page."""
    rows = session.execute(select(Subject.code, Sequence.code, Sequence.id).join(Sequence))
    return {(subject, code): seq_id for subject, code, seq_id in rows}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))
