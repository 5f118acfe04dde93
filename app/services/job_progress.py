"""What a job has done so far, read from the progress files its command writes: the run
folder's progress.jsonl (train, tune) or the CLI's generic progress lines (export, crop)."""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import Settings
from app.models import Job, utcnow
from app.services.jobs import job_dir, read_progress

LOG_TAIL_BYTES = 16_000


@dataclass
class JobProgress:
    fraction: float | None = None  # 0..1, None when unknown
    stage: str = ""
    fold: int | None = None
    folds: int | None = None
    epoch: int | None = None
    epochs: int | None = None
    eta_s: float | None = None
    # fold -> list of {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    curves: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    curve: str = ""  # the curves key being trained now: "1", "2", ... or "final"
    fold_accuracy: list[float] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def eta_text(self) -> str:
        return duration_text(self.eta_s) if self.eta_s else ""

    def as_dict(self) -> dict[str, Any]:
        return {"fraction": self.fraction, "stage": self.stage, "fold": self.fold,
                "folds": self.folds, "epoch": self.epoch, "epochs": self.epochs,
                "eta_s": self.eta_s, "fold_accuracy": self.fold_accuracy,
                "result": self.result}


def duration_text(seconds: float) -> str:
    """42s, 3m 07s, 1h 05m: what a person reads at a glance."""
    seconds = int(max(0, seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds // 60 % 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def run_progress_file(settings: Settings, job: Job) -> Path | None:
    runs = job_dir(settings, job.id) / "runs"
    found = sorted(runs.glob("*/progress.jsonl")) if runs.is_dir() else []
    return found[-1] if found else None


def job_progress(settings: Settings, job: Job) -> JobProgress:
    if job.kind in ("train", "tune"):
        path = run_progress_file(settings, job)
        progress = _training_progress(read_progress(path) if path else [])
        if job.kind == "tune":
            _add_search_progress(progress, settings, job)
    else:
        progress = _cli_progress(read_progress(job_dir(settings, job.id) / "progress.jsonl"))
    if job.status == "succeeded":
        progress.fraction, progress.eta_s = 1.0, 0.0
    elif job.status != "running":
        progress.eta_s = None
    if not progress.stage:
        progress.stage = {"queued": "waiting for a free slot"}.get(job.status, job.status)
    return progress


def _training_progress(events: list[dict[str, Any]]) -> JobProgress:
    progress = JobProgress()
    final_epochs = 0
    started = None
    for event in events:
        kind = event.get("event")
        if kind == "start":
            progress.folds, progress.epochs = event.get("folds"), event.get("epochs")
            started = _timestamp(event.get("time"))
            progress.stage = "starting"
        elif kind == "epoch":
            fold = str(event.get("fold"))
            progress.fold = event.get("fold") if fold != "final" else progress.folds
            progress.epoch, progress.epochs = event.get("epoch"), event.get("epochs")
            metrics = event.get("metrics", {})
            progress.curves.setdefault(fold, []).append({"epoch": event.get("epoch"), **metrics})
            progress.curve = fold
            progress.stage = ("final model" if fold == "final"
                              else f"fold {fold}/{progress.folds}")
            if fold == "final":
                final_epochs = event.get("epoch") or 0
        elif kind == "fold_end":
            progress.fold_accuracy.append(float(event.get("accuracy", 0.0)))
        elif kind == "final_model":
            progress.stage = "final model on all data"
        elif kind == "trial":
            progress.stage = f"tuning: trial {event.get('trial')}"
        elif kind in ("done", "failed"):
            progress.stage = "finished" if kind == "done" else "failed"
            progress.result = {k: v for k, v in event.items() if k not in ("event", "time")}
    progress.fraction = _training_fraction(progress, final_epochs)
    if started and progress.fraction and 0 < progress.fraction < 1:
        elapsed = time.time() - started
        progress.eta_s = round(elapsed * (1 - progress.fraction) / progress.fraction, 1)
    return progress


def _training_fraction(progress: JobProgress, final_epochs: int) -> float | None:
    """Epochs done over epochs planned (folds + the final model). Early stopping ends folds
    sooner, so a finished fold counts in full."""
    if not progress.folds or not progress.epochs:
        return None
    per_fold = progress.epochs
    total = per_fold * (progress.folds + 1)
    done_folds = len(progress.fold_accuracy)
    in_fold = 0
    current = progress.curves.get(str(done_folds + 1))
    if current and done_folds < progress.folds:
        in_fold = current[-1].get("epoch", 0)
    done = done_folds * per_fold + in_fold + final_epochs
    return round(min(done / total, 0.99), 4)


def _add_search_progress(progress: JobProgress, settings: Settings, job: Job) -> None:
    """A tune job searches first (KerasTuner's trial folders), then cross-validates the best
    config like a train job: the search fills the first half of the bar, the CV the rest."""
    trials = sorted((job_dir(settings, job.id) / "runs").glob("tune-*/*/trial_*/trial.json"))
    planned = int(job.params.get("trials") or 0)
    finished = sum(1 for t in trials if _trial_status(t) in ("COMPLETED", "INVALID", "FAILED"))
    if progress.folds:  # the cross-validation of the winner has started
        progress.fraction = round(0.5 + (progress.fraction or 0) / 2, 4)
        if progress.stage and progress.stage not in ("finished", "failed"):
            progress.stage = f"best config: {progress.stage}"
        return
    progress.stage = (f"tuning: trial {min(len(trials), planned or len(trials))}"
                      f"{f' of {planned}' if planned else ''} ({finished} finished)"
                      if trials else "tuning: starting the search")
    budget_s = 60 * float(job.params.get("max_minutes") or 0)
    elapsed = ((utcnow() - _aware(job.started_at)).total_seconds()
               if job.started_at else 0.0)
    shares = [finished / planned if planned else 0.0, elapsed / budget_s if budget_s else 0.0]
    progress.fraction = round(min(max(shares), 1.0) / 2, 4)


def _trial_status(path: Path) -> str:
    import json

    try:
        return str(json.loads(path.read_text()).get("status", ""))
    except (OSError, ValueError):
        return ""


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cli_progress(events: list[dict[str, Any]]) -> JobProgress:
    progress = JobProgress()
    if not events:
        return progress
    last = events[-1]
    total, done = last.get("total") or 0, last.get("done") or 0
    progress.stage = str(last.get("stage", ""))
    if total:
        progress.fraction = round(done / total, 4)
        first = next((e for e in events if e.get("stage") == progress.stage), last)
        elapsed = float(last.get("time", 0)) - float(first.get("time", 0))
        if 0 < done < total and elapsed > 0:
            progress.eta_s = round(elapsed / done * (total - done), 1)
    return progress


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def log_tail(job: Job, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The end of the job's log, with progress-bar redraws collapsed to their last state."""
    if not job.log_path or not Path(job.log_path).is_file():
        return ""
    with open(job.log_path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        text = fh.read().decode(errors="replace")
    lines = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return "\n".join(lines)
