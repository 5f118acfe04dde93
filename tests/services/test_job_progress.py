"""What the admin page says about a job in flight, read from the files its command writes."""

import json

from app.models import Job, utcnow
from app.services.jobs import job_dir
from app.services.jobs.progress import duration_text, job_progress
from training.contract import ProgressWriter


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


def test_a_tune_job_shows_its_trial_events_before_any_run_folder(session, settings):
    job = _job(session, settings, "tune", {})
    tuning = job_dir(settings, job.id) / "runs" / "tune-0123456789-random"
    tuning.mkdir(parents=True)
    writer = ProgressWriter(tuning / "progress.jsonl")  # what training.tune writes
    writer.emit("search_start", algorithm="random", trials=4, max_minutes=60, finished=0,
                best=None)
    assert job_progress(settings, job).stage == "tuning: trial 1 of 4 (0 finished)"
    writer.emit("trial", trial=1, trials=4, trial_id="0", status="COMPLETED", score=0.75,
                best=0.75)
    progress = job_progress(settings, job)
    assert progress.stage == "tuning: trial 2 of 4 (1 finished, best val. accuracy 75.0%)"
    assert progress.fraction == 0.125  # a quarter of the trials: half of the search half
    # The run folder list is not fooled by the tuning folder's progress file.
    assert progress.folds is None and progress.curves == {}

    best = job_dir(settings, job.id) / "runs" / "20250101-000000-abcdef"
    _events(best / "progress.jsonl", {"event": "start", "folds": 2, "epochs": 1},
            {"event": "epoch", "fold": 1, "epoch": 1, "epochs": 1, "folds": 2, "metrics": {}})
    progress = job_progress(settings, job)
    assert progress.stage == "best config: fold 1/2"
    assert 0.5 < progress.fraction < 1


def test_a_resumed_search_counts_from_its_last_start(session, settings):
    job = _job(session, settings, "tune", {})
    tuning = job_dir(settings, job.id) / "runs" / "tune-0123456789-bayesian"
    tuning.mkdir(parents=True)
    writer = ProgressWriter(tuning / "progress.jsonl")
    writer.emit("search_start", trials=2, finished=0, best=None)
    writer.emit("trial", trial=1, trials=2, score=0.5, best=0.5)
    writer.emit("failed", error="KeyboardInterrupt: ")
    writer.emit("search_start", trials=3, finished=1, best=0.5, max_minutes=None)
    assert job_progress(settings, job).stage == (
        "tuning: trial 2 of 3 (1 finished, best val. accuracy 50.0%)")
    writer.emit("trial", trial=2, trials=3, score=0.6, best=0.6)
    writer.emit("trial", trial=3, trials=3, score=0.4, best=0.6)
    writer.emit("search_end", finished=3, best=0.6)
    progress = job_progress(settings, job)
    assert progress.stage == "tuning: search done, 3 trials, best val. accuracy 60.0%"
    assert progress.fraction == 0.5


def test_cli_progress_events_give_a_fraction_and_an_eta(session, settings):
    job = _job(session, settings, "export", {})
    path = job_dir(settings, job.id) / "progress.jsonl"
    path.parent.mkdir(parents=True)
    writer = ProgressWriter(path)  # what the CLI progress bar writes under a job
    writer.step("crops", 10, 40)
    writer.step("crops", 11, 40)  # within half a second of the last line: not written
    writer.step("crops", 40, 40)  # the last one always is
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["event"], e["stage"], e["done"], e["total"]) for e in events] == [
        ("progress", "crops", 10, 40), ("progress", "crops", 40, 40)]
    assert all(isinstance(e["elapsed_s"], float) and "T" in e["time"] for e in events)

    _events(path, {"event": "progress", "stage": "crops", "done": 10, "total": 40,
                   "elapsed_s": 3.0},
            {"event": "progress", "stage": "crops", "done": 20, "total": 40,
             "elapsed_s": 4.0})
    progress = job_progress(settings, job)
    assert progress.stage == "crops" and progress.fraction == 0.5
    assert progress.eta_s == 2.0  # 10 frames in the second since the stage's first line


def test_durations_read_at_a_glance():
    assert [duration_text(s) for s in (0, 42.6, 187, 3900)] == ["0s", "42s", "3m 07s",
                                                                "1h 05m"]
