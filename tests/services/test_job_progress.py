"""What the admin page says about a job in flight, read from the files its command writes."""

import json
from datetime import timedelta

from app.models import Job, utcnow
from app.services.job_progress import duration_text, job_progress
from app.services.jobs import job_dir


def _job(session, settings, kind: str, params: dict, **fields) -> Job:
    job = Job(kind=kind, params=params, status="running", **fields)
    session.add(job)
    session.flush()
    return job


def _events(path, *events):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_training_progress_counts_folds_and_the_final_model(session, settings):
    job = _job(session, settings, "train", {"folds": 2, "epochs": 2})
    run = job_dir(settings, job.id) / "runs" / "20250101-000000-abcdef"
    epoch = {"event": "epoch", "epochs": 2, "folds": 2, "metrics": {"accuracy": 0.5}}
    _events(run / "progress.jsonl",
            {"event": "start", "folds": 2, "epochs": 2, "time": utcnow().isoformat()},
            {**epoch, "fold": 1, "epoch": 1}, {**epoch, "fold": 1, "epoch": 2},
            {"event": "fold_end", "fold": 1, "accuracy": 0.75},
            {**epoch, "fold": 2, "epoch": 1})
    progress = job_progress(settings, job)
    assert progress.fraction == 0.5  # 3 of 6 epochs: 2 folds and the final model
    assert progress.stage == "fold 2/2" and progress.curve == "2"
    assert progress.fold_accuracy == [0.75] and progress.eta_s is not None


def test_a_tune_job_shows_its_search_before_any_run_folder(session, settings):
    job = _job(session, settings, "tune", {"trials": 4, "max_minutes": 60},
               started_at=utcnow() - timedelta(minutes=1))
    search = job_dir(settings, job.id) / "runs" / "tune-0123456789-random" / "search"
    for trial, status in (("0", "COMPLETED"), ("1", "RUNNING")):
        (search / f"trial_{trial}").mkdir(parents=True)
        (search / f"trial_{trial}" / "trial.json").write_text(json.dumps({"status": status}))
    progress = job_progress(settings, job)
    assert progress.stage == "tuning: trial 2 of 4 (1 finished)"
    assert progress.fraction == 0.125  # a quarter of the trials: half of the search half

    best = job_dir(settings, job.id) / "runs" / "20250101-000000-abcdef"
    _events(best / "progress.jsonl", {"event": "start", "folds": 2, "epochs": 1},
            {"event": "epoch", "fold": 1, "epoch": 1, "epochs": 1, "folds": 2, "metrics": {}})
    progress = job_progress(settings, job)
    assert progress.stage == "best config: fold 1/2"
    assert 0.5 < progress.fraction < 1


def test_durations_read_at_a_glance():
    assert [duration_text(s) for s in (0, 42.6, 187, 3900)] == ["0s", "42s", "3m 07s",
                                                                "1h 05m"]
