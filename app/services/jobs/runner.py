"""Background jobs: recorded in the database, each run as `python -m app job run ID` in a process
group of its own, one heavy job at a time by default.

The web server owns a `JobRunner` thread that starts queued jobs and notices finished ones.
A job's folder (settings.jobs_dir/<id>/) holds `log.txt` (all output), `exit_code` (written
by the shell wrapper when the command ends, so a finished job is recognised even after a
server restart) and whatever the command writes (a run folder, an export).

Several servers may share one database (PostgreSQL behind a proxy, or a restart that
overlaps the old process). A queued job is claimed with one conditional UPDATE (`WHERE
status = 'queued'` and a free heavy-job slot), committed before its process starts, so each
job runs exactly once whichever server gets there first; on PostgreSQL a transaction-scoped
advisory lock also serialises the slot count between servers."""

import json
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from app.config import Settings
from app.models import Job, utcnow
from app.services.errors import NotFound
from app.services.jobs.commands import check_job, job_argv, spec_dump
from app.services.runs import register_runs

ACTIVE = ("queued", "running")
FINAL = ("succeeded", "failed", "cancelled", "interrupted")
KILL_GRACE_S = 10.0
# A job claimed by a server but not yet given a pid is starting, not orphaned, for this long.
STARTING_GRACE_S = 60.0
# Cancelled jobs whose process group may still live are watched (for SIGKILL) this long.
CANCEL_WATCH_S = 600.0
CLAIM_LOCK_KEY = 0x6F6E736574  # "onset": the advisory lock that serialises job claims

def job_dir(settings: Settings, job_id: int) -> Path:
    return Path(settings.jobs_dir) / str(job_id)


def submit_job(session: Session, settings: Settings, *, kind: str,
               params: dict[str, Any] | BaseModel, user_id: int | None) -> Job:
    """Check and queue a job; raises JobParamError naming a bad parameter. The job stores
    its spec; its process (`python -m app job run ID`) reads it back."""
    spec = check_job(session, kind=kind, params=params)
    job = Job(kind=kind, params=spec_dump(spec), status="queued", user_id=user_id)
    session.add(job)
    session.flush()  # the id names the job's folder
    folder = job_dir(settings, job.id)
    folder.mkdir(parents=True, exist_ok=True)
    job.log_path = str(folder / "log.txt")
    return job


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def recent_jobs(session: Session, limit: int) -> list[Job]:
    """Newest first."""
    return list(session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))


def cancel_job(session: Session, job: Job) -> Job:
    """Queued jobs never start; running ones get SIGTERM on their whole process group."""
    if job.status not in ACTIVE:
        return job
    if job.status == "running" and job.pid:
        _signal_group(job.pid, signal.SIGTERM)
    job.status, job.finished_at = "cancelled", utcnow()
    job.note = "cancelled by an admin"
    return job


def recover_orphans(session: Session, settings: Settings) -> list[Job]:
    """At server start: a job left `running` whose process is gone is finished if it wrote
    its exit code, else `interrupted`. A still-living process is left to run and adopted."""
    changed = []
    for job in session.scalars(select(Job).where(Job.status == "running")):
        if job.pid and _alive(job.pid):
            continue
        if job.pid is None and _age_s(job.started_at) < STARTING_GRACE_S:
            continue  # another server claimed it a moment ago and is starting its process
        code = _exit_code(settings, job.id)
        if code is None:
            job.status = "interrupted"
            job.note = ("the server stopped while this job ran and its process is gone; "
                        "start it again")
        else:
            _finish(job, code)
        job.finished_at = job.finished_at or utcnow()
        changed.append(job)
    return changed


def _finish(job: Job, code: int) -> None:
    # The shell reports a command killed by signal N as 128+N; Popen reports -N.
    died_from = -code if code < 0 else code - 128 if 128 < code < 128 + 65 else 0
    if code == 0:
        job.status, job.note = "succeeded", ""
    elif died_from:
        job.status = "failed"
        job.note = (f"the process died from signal {died_from} ({_signal_name(died_from)}); "
                    "see the log")
    else:
        reason = _error_line(job.log_path)
        job.status = "failed"
        job.note = f"exited with code {code}" + (f": {reason}" if reason else "; see the log")


def _error_line(log_path: str | None, tail_bytes: int = 16_000) -> str:
    """The command's own last word on why it failed: the CLI's `error: ...` line, else a
    Python exception line, so the job list says what went wrong without opening the log."""
    if not log_path:
        return ""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - tail_bytes))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.startswith("error: "):
            return line[len("error: "):].strip()[:500]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if ":" in line and head.isidentifier() and head.endswith(("Error", "Exception")):
            return line.strip()[:500]
    return ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def _exit_code(settings: Settings, job_id: int) -> int | None:
    path = job_dir(settings, job_id) / "exit_code"
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (ended, not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether any process of the job's group still runs (the command may outlive its shell)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _age_s(at: datetime | None) -> float:
    return float("inf") if at is None else (utcnow() - at).total_seconds()


def claim_job(session: Session, *, job_id: int, max_running: int) -> bool:
    """Move one queued job to `running` if it is still queued and a heavy-job slot is free,
    in a single conditional UPDATE; True when this caller got it. Commit right after."""
    if session.get_bind().dialect.name == "postgresql":
        # READ COMMITTED would let two servers count the same free slot; the lock makes
        # the second claim wait for the first commit and then see it.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY})
    others = aliased(Job)  # an alias, so the count is not correlated to the updated row
    running = (select(func.count(others.id)).where(others.status == "running")
               .scalar_subquery())
    result = session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued", running < max_running)
        .values(status="running", pid=None, started_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


class JobRunner:
    """Starts queued jobs (at most `settings.max_heavy_jobs` at once) and finalises the ones
    whose process ended. Runs in a daemon thread of the web server."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session],
                 interval_s: float = 0.5, command: Callable[[Job], list[str]] | None = None):
        self.settings = settings
        self.session_factory = session_factory
        # What a job's process runs: settings.job_command (`python -m app job run ID`).
        # Tests of the process handling pass small stand-in commands instead of trainings.
        self.command = command or (lambda job: job_argv(settings.job_command, job.id))
        self.interval_s = interval_s
        self.processes: dict[int, subprocess.Popen] = {}
        self._cancelled_at: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self.session_factory() as session:
            recover_orphans(session, self.settings)
            session.commit()
        self._thread = threading.Thread(target=self._loop, name="onset-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception as exc:  # keep the runner alive; the next tick retries
                print(f"onset job runner: {exc!r}", flush=True)

    def tick(self) -> None:
        with self.session_factory() as session:
            self._reap(session)
            self._launch(session)
            session.commit()

    def _reap(self, session: Session) -> None:
        for job_id, process in list(self.processes.items()):
            job = session.get(Job, job_id)
            code = process.poll()
            if job is not None and job.status == "cancelled" and code is None:
                self._escalate(job_id, process.pid)
                continue
            if code is None:
                continue
            del self.processes[job_id]
            self._cancelled_at.pop(job_id, None)
            # The shell wrapper may have died alone (kill -9 on it, OOM killer): end the
            # command it started too, or it would train on unwatched. The group id stays
            # reserved while any member lives, so this cannot hit another process.
            _signal_group(process.pid, signal.SIGKILL)
            if job is None or job.status != "running":
                continue  # cancelled meanwhile: keep that status
            written = _exit_code(self.settings, job_id)
            _finish(job, written if written is not None else code)
            job.finished_at = utcnow()
            if job.status == "succeeded":
                self._record_output(session, job)
        self._reap_adopted(session)

    def _reap_adopted(self, session: Session) -> None:
        """Jobs this process did not start (adopted after a restart, or another server's)
        are checked by pid; a cancelled one that ignores SIGTERM gets SIGKILL like any."""
        since = utcnow() - timedelta(seconds=CANCEL_WATCH_S)
        for job in session.scalars(select(Job).where(
                Job.status == "cancelled", Job.pid.is_not(None), Job.finished_at >= since)):
            # cancel_job sent SIGTERM already; what still lives after the grace period dies.
            if (job.id not in self.processes and _age_s(job.finished_at) > KILL_GRACE_S
                    and _group_alive(job.pid)):
                _signal_group(job.pid, signal.SIGKILL)
        for job in session.scalars(select(Job).where(Job.status == "running")):
            if job.id not in self.processes and job.pid and not _alive(job.pid):
                code = _exit_code(self.settings, job.id)
                if code is None:
                    job.status, job.note = "interrupted", "its process ended without a result"
                else:
                    _finish(job, code)
                    if job.status == "succeeded":
                        self._record_output(session, job)
                job.finished_at = utcnow()

    def _record_output(self, session: Session, job: Job) -> None:
        """Where a succeeded job wrote; a run folder is registered at once (stable run ids)."""
        job.run_dir = _find_output(job_dir(self.settings, job.id))
        if job.run_dir and job.kind in ("train", "tune"):
            register_runs(session, self.settings)

    def _escalate(self, job_id: int, pid: int) -> None:
        """SIGTERM when the cancel is first seen here (it may have come while the job was
        starting, before it had a pid), SIGKILL once the grace period is over."""
        if job_id not in self._cancelled_at:
            self._cancelled_at[job_id] = time.monotonic()
            _signal_group(pid, signal.SIGTERM)
        elif time.monotonic() - self._cancelled_at[job_id] > KILL_GRACE_S:
            _signal_group(pid, signal.SIGKILL)

    def _launch(self, session: Session) -> None:
        limit = self.settings.max_heavy_jobs
        running = session.scalar(select(func.count(Job.id)).where(Job.status == "running"))
        if running >= limit:
            return
        queued = session.scalars(select(Job.id).where(Job.status == "queued")
                                 .order_by(Job.created_at, Job.id).limit(20)).all()
        for job_id in queued:
            claimed = claim_job(session, job_id=job_id, max_running=limit)
            session.commit()  # every server sees the claim before the process starts
            if not claimed:
                continue  # another server took it, or the slots are full
            job = session.get(Job, job_id)
            session.refresh(job)
            if job.status != "running":
                continue  # cancelled between the claim and now: never started
            self._spawn(job)
            session.commit()

    def _spawn(self, job: Job) -> None:
        folder = job_dir(self.settings, job.id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "exit_code").unlink(missing_ok=True)
        argv = self.command(job)
        # The shell records the exit status in a file, so a finished job is recognised even
        # if the server restarted meanwhile; `exec`-less so the shell outlives the command.
        script = f'{shlex.join(argv)}; echo $? > {shlex.quote(str(folder / "exit_code"))}'
        # Wide, unbuffered output without TensorFlow's start-up chatter: the log is read
        # by people on the job page.
        env = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ, **self._settings_env(),
               "ONSET_PROGRESS_FILE": str(folder / "progress.jsonl"),
               "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
        log = open(folder / "log.txt", "ab")  # noqa: SIM115 (the child owns it from here)
        log.write(f"$ {shlex.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(["/bin/sh", "-c", script], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True, cwd=str(folder))
        log.close()
        self.processes[job.id] = process
        job.pid = process.pid  # claimed (status, started_at) already

    def _settings_env(self) -> dict[str, str]:
        s = self.settings
        return {"ONSET_DATA_DIR": str(s.data_dir), "ONSET_DATABASE_URL": s.resolved_database_url}


def _find_output(folder: Path) -> str | None:
    """The run folder (train/tune) or export folder a job produced, if any.

    A run folder holds config.json and metrics.json. `onset tune --out runs` also leaves
    its tuning folder (runs/tune-<dataset>-<algorithm>/: trials, best_config.json) beside
    the best config's run folder, so a folder without both files is not a run."""
    runs = [p.parent for p in (folder / "runs").glob("*/metrics.json")
            if (p.parent / "config.json").is_file()]
    if runs:
        return str(max(runs, key=lambda p: ((p / "metrics.json").stat().st_mtime, p.name)))
    if (folder / "export" / "dataset.json").is_file():
        return str(folder / "export")
    return None


def read_progress(path: Path, limit: int = 2000) -> list[dict[str, Any]]:
    """The JSON lines of a progress file; a half-written last line is skipped."""
    if not path.is_file():
        return []
    events = []
    with path.open() as fh:
        for line in fh.readlines()[-limit:]:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events
