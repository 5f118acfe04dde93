"""Job left-overs that hid or kept work running: a job adopted after a restart that ignores
SIGTERM is SIGKILLed like any other; a job claimed by another server is not an orphan; the
jobs API answers in UTC."""

import os
import re
import signal
import sys
import time
from datetime import UTC, datetime, timedelta

from app.models import Job
from app.services.jobs import JobRunner, cancel_job, job_dir, recover_orphans
from app.services.jobs import runner as jobs_service
from tests.support.live_server import living_group_members, wait_for
from tests.support.web import login

STUBBORN = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('SIGTERM' + ' ignored', flush=True); time.sleep(120)")


def stand_in(job):
    """The small command a test job holds, run instead of `python -m app job run ID`."""
    return job.params["argv"]


def _queue(session_factory, settings, code: str) -> int:
    with session_factory() as session:
        job = Job(kind="crop", params={"argv": [sys.executable, "-c", code]}, status="queued")
        session.add(job)
        session.flush()
        job.log_path = str(job_dir(settings, job.id) / "log.txt")
        session.commit()
        return job.id


def _tick_until(runner, session_factory, job_id, predicate, timeout=20.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        runner.tick()
        with session_factory() as session:
            job = session.get(Job, job_id)
        if predicate(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id}: {job.status}, pid {job.pid}"
        time.sleep(0.1)


def test_cancelling_an_adopted_job_escalates_to_sigkill(settings, session_factory,
                                                        monkeypatch):
    monkeypatch.setattr(jobs_service, "KILL_GRACE_S", 1.0)
    first = JobRunner(settings, session_factory, command=stand_in)
    job_id = _queue(session_factory, settings, STUBBORN)
    job = _tick_until(first, session_factory, job_id, lambda j: j.pid is not None)
    pgid = job.pid
    log = job_dir(settings, job_id) / "log.txt"
    try:
        wait_for(lambda: "SIGTERM ignored" in log.read_text(), timeout=15,
                 what="the job installing its SIGTERM handler")
        # The server "restarts": a new runner adopts the still-running job.
        first.processes.clear()
        second = JobRunner(settings, session_factory, command=stand_in)
        with session_factory() as session:
            assert recover_orphans(session, settings) == []  # alive: adopted, not orphaned
            cancel_job(session, session.get(Job, job_id))
            session.commit()
        time.sleep(0.5)
        assert living_group_members(pgid), "SIGTERM alone should not stop this job"
        started = time.monotonic()
        deadline = started + 15
        while living_group_members(pgid):
            assert time.monotonic() < deadline, "the adopted job was never SIGKILLed"
            second.tick()
            time.sleep(0.1)
        assert time.monotonic() - started >= 0.4  # after the grace period, not at once
        with session_factory() as session:
            assert session.get(Job, job_id).status == "cancelled"
    finally:
        if living_group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


def test_a_job_being_started_by_another_server_is_not_an_orphan(settings, session_factory):
    with session_factory() as session:
        claimed = Job(kind="crop", params={"argv": ["true"]}, status="running", pid=None,
                      started_at=datetime.now(UTC))
        stale = Job(kind="crop", params={"argv": ["true"]}, status="running", pid=None,
                    started_at=datetime.now(UTC) - timedelta(minutes=5))
        session.add_all([claimed, stale])
        session.commit()
        changed = recover_orphans(session, settings)
        session.commit()
        assert [j.id for j in changed] == [stale.id]
        assert session.get(Job, claimed.id).status == "running"
        assert session.get(Job, stale.id).status == "interrupted"


UTC_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


def test_the_jobs_api_answers_in_utc(client, make_user, session_factory, settings):
    make_user("boss", "admin")
    with session_factory() as session:
        session.add(Job(kind="crop", params={}, status="succeeded",
                        started_at=datetime.now(UTC), finished_at=datetime.now(UTC)))
        session.commit()
    login(client, "boss")
    for job in [*client.get("/api/jobs").json(), client.get("/api/jobs/1").json()]:
        for key in ("created", "started", "finished"):
            assert UTC_ISO.match(job[key]), (key, job[key])
