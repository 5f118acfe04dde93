"""What a job has done so far, read from the progress files its command writes, all in
`training.contract`'s one event schema: a run folder's progress.jsonl (train, and tune's
cross-validation of the best config), a tuning folder's (tune's search: its `trial` events)
or the job folder's (export, crop: the CLI progress bar's `progress` events)."""

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.config import Settings
from app.models import Job
from app.services.jobs.runner import job_dir, read_progress
from training.contract import PROGRESS_FILE, TUNING_PREFIX

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
    """The progress file of the job's (latest) run folder; tuning folders are not runs."""
    found = [p for p in _progress_files(settings, job) if not p.parent.name.startswith(
        TUNING_PREFIX)]
    return found[-1] if found else None


def _progress_files(settings: Settings, job: Job) -> list[Path]:
    runs = job_dir(settings, job.id) / "runs"
    return sorted(runs.glob(f"*/{PROGRESS_FILE}")) if runs.is_dir() else []


def job_progress(settings: Settings, job: Job) -> JobProgress:
    if job.kind in ("train", "tune"):
        path = run_progress_file(settings, job)
        progress = _training_progress(read_progress(path) if path else [])
        if job.kind == "tune":
            tuning = [p for p in _progress_files(settings, job)
                      if p.parent.name.startswith(TUNING_PREFIX)]
            _add_search_progress(progress, read_progress(tuning[-1]) if tuning else [])
    else:
        progress = _cli_progress(read_progress(job_dir(settings, job.id) / PROGRESS_FILE))
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


def _add_search_progress(progress: JobProgress, events: list[dict[str, Any]]) -> None:
    """A tune job searches first (its `trial` events), then cross-validates the best config
    like a train job: the search fills the first half of the bar, the CV the rest."""
    if progress.folds:  # the cross-validation of the winner has started
        progress.fraction = round(0.5 + (progress.fraction or 0) / 2, 4)
        if progress.stage and progress.stage not in ("finished", "failed"):
            progress.stage = f"best config: {progress.stage}"
        return
    starts = [i for i, e in enumerate(events) if e.get("event") == "search_start"]
    if not starts:
        progress.stage = "tuning: starting the search"
        return
    start, events = events[starts[-1]], events[starts[-1]:]  # a resumed search starts again
    planned = int(start.get("trials") or 0)
    trials = [e for e in events if e.get("event") == "trial"]
    finished = int(trials[-1]["trial"] if trials else start.get("finished") or 0)
    best = trials[-1].get("best") if trials else start.get("best")
    best_text = f", best val. accuracy {best:.1%}" if isinstance(best, (int, float)) else ""
    if events[-1].get("event") == "search_end":
        progress.stage = f"tuning: search done, {finished} trials{best_text}"
    else:
        progress.stage = (f"tuning: trial {min(finished + 1, planned or finished + 1)}"
                          f"{f' of {planned}' if planned else ''} ({finished} finished"
                          f"{best_text})")
    budget_s = 60 * float(start.get("max_minutes") or 0)
    begun = _timestamp(start.get("time"))
    elapsed = time.time() - begun if begun else 0.0
    shares = [finished / planned if planned else 0.0, elapsed / budget_s if budget_s else 0.0]
    progress.fraction = round(min(max(shares), 1.0) / 2, 4)


def _cli_progress(events: list[dict[str, Any]]) -> JobProgress:
    progress = JobProgress()
    if not events:
        return progress
    last = events[-1]
    total, done = last.get("total") or 0, last.get("done") or 0
    progress.stage = str(last.get("stage", ""))
    if total:
        progress.fraction = round(done / total, 4)
        # The rate since the stage's first line (counted from there, not from zero).
        first = next((e for e in events if e.get("stage") == progress.stage), last)
        elapsed = _number(last.get("elapsed_s")) - _number(first.get("elapsed_s"))
        gained = done - _number(first.get("done"))
        if 0 < done < total and elapsed > 0 and gained > 0:
            progress.eta_s = round(elapsed / gained * (total - done), 1)
    return progress


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


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
