"""Two `onset serve` processes on one database (a team's server behind a proxy, or a restart
that overlaps the old process): each queued job runs exactly once, never more at a time than
ONSET_MAX_HEAVY_JOBS, and both serve reviewers with the same optimistic locking. Runs on
SQLite and on PostgreSQL (skipped, with the reason, when no PostgreSQL server answers)."""

import shlex
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope
from app.models import Job
from app.services.jobs import FINAL, JobRunner, job_dir
from app.services.users import create_user, new_api_token
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.live_server import LiveServer, wait_for

JOBS = 16
MAX_AT_ONCE = 2
# Each job appends "<job id> <server pid> start|end <time>" to one file: the server is the
# parent of the job's shell, read from /proc while the shell waits for us.
JOB_CODE = """
import os, sys, time
job_id = os.path.basename(os.getcwd())
shell = os.getppid()
server = open(f"/proc/{shell}/stat").read().rsplit(")", 1)[1].split()[1]
with open(sys.argv[1], "a") as out:
    out.write(f"{job_id} {server} start {time.time()}\\n"); out.flush()
    time.sleep(0.25)
    out.write(f"{job_id} {server} end {time.time()}\\n")
"""


def stand_in(job):
    """The small command a test job holds, run instead of `python -m app job run ID`."""
    return job.params["argv"]


def _queue_jobs(factory, settings: Settings, ledger: Path, count: int = JOBS) -> list[int]:
    ids = []
    with session_scope(factory) as session:
        for _ in range(count):
            job = Job(kind="crop", params={}, status="queued")
            session.add(job)
            session.flush()
            job.params = {"argv": [sys.executable, "-c", JOB_CODE, str(ledger)]}  # stand_in
            job.log_path = str(job_dir(settings, job.id) / "log.txt")
            ids.append(job.id)
    return ids


def _max_overlap(lines: list[list[str]]) -> int:
    events = sorted((float(t), 1 if kind == "start" else -1) for _, _, kind, t in lines)
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_servers_run_each_job_once_and_share_the_reviewers(backend, backend_url, tmp_path,
                                                               monkeypatch):
    url = backend_url(backend)
    settings = Settings(data_dir=tmp_path / "var", database_url=url)
    factory = make_session_factory(make_engine(url))
    ids = import_specs(factory, tmp_path / "ck", [SeqSpec("S005", "001", label=5.0)])
    sequence_id = next(iter(ids.values()))
    with session_scope(factory) as session:
        tokens = {name: new_api_token(session, user=create_user(
            session, name=name, password="not used here", role=role))
            for name, role in (("boss", "admin"), ("rev1", "reviewer"))}
    ledger = tmp_path / "ledger.txt"
    job_ids = _queue_jobs(factory, settings, ledger)

    monkeypatch.setenv("ONSET_MAX_HEAVY_JOBS", str(MAX_AT_ONCE))
    # The servers run the ledger script as every job's process (a real setting: sites wrap
    # the job command in nice, srun, a container...).
    monkeypatch.setenv("ONSET_JOB_COMMAND", shlex.join(
        ["{python}", "-c", JOB_CODE.replace("{", "{{").replace("}", "}}"), str(ledger)]))
    servers = [LiveServer(settings, tmp_path / f"server{i}.log") for i in (1, 2)]
    try:
        for server in servers:
            server.start()

        def all_final() -> bool:
            with factory() as session:
                return all(session.get(Job, i).status in FINAL for i in job_ids)

        wait_for(all_final, timeout=90, interval=0.2, what=f"{JOBS} jobs finishing")
        lines = [line.split() for line in ledger.read_text().splitlines()]
        starts = [job for job, _, kind, _ in lines if kind == "start"]
        assert sorted(map(int, starts)) == sorted(job_ids), "a job ran twice or never"
        with factory() as session:
            assert {session.get(Job, i).status for i in job_ids} == {"succeeded"}
        assert _max_overlap(lines) <= MAX_AT_ONCE
        by_server = {pid: sum(1 for _, p, kind, _ in lines if p == pid and kind == "start")
                     for pid in {p for _, p, _, _ in lines}}
        assert set(by_server) <= {str(s.process.pid) for s in servers}
        print(f"{backend}: jobs per server {sorted(by_server.values())}")

        # Both serve the same reviewers, with the same locking: a save through one server
        # makes the version read through the other stale.
        a, b = (httpx.Client(base_url=s.base_url, timeout=30,
                             headers={"Authorization": f"Bearer {tokens['rev1']}"})
                for s in servers)
        path = f"/api/sequences/{sequence_id}/annotation"
        body = {"label": 5, "onset_frame": 2, "note": "", "exclude": False}
        assert a.put(path, json={**body, "version": 0}).status_code == 200
        stale = b.put(path, json={**body, "note": "from b", "version": 0})
        assert stale.status_code == 409 and stale.json()["current"]["version"] == 1
        assert b.put(path, json={**body, "note": "from b", "version": 1}).status_code == 200
        mine = a.get(f"/api/sequences/{sequence_id}").json()["my_annotation"]
        assert (mine["note"], mine["version"]) == ("from b", 2)
    finally:
        for server in servers:
            server.stop()
        factory.kw["bind"].dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_server_ticking_while_another_starts_a_job_does_not_start_it_too(
        backend, backend_url, tmp_path):
    """The race, forced: server B's runner ticks exactly while server A's is starting a job.
    (Before claims were committed first, B saw the job still queued and ran it as well.)"""
    url = backend_url(backend)
    settings = Settings(data_dir=tmp_path / "var", database_url=url, max_heavy_jobs=1)
    engines = [make_engine(url) for _ in range(2)]
    a, b = (JobRunner(settings, make_session_factory(engine), command=stand_in)
            for engine in engines)
    ledger = tmp_path / "ledger.txt"
    job_ids = _queue_jobs(a.session_factory, settings, ledger, count=2)
    real_spawn = a._spawn

    def spawn_while_b_ticks(job):
        b.tick()
        real_spawn(job)

    a._spawn = spawn_while_b_ticks
    try:
        deadline = time.monotonic() + 60
        while True:
            a.tick()
            b.tick()
            with a.session_factory() as session:
                if all(session.get(Job, i).status in FINAL for i in job_ids):
                    break
            assert time.monotonic() < deadline, "jobs did not finish"
            time.sleep(0.05)
    finally:
        for runner in (a, b):
            for process in runner.processes.values():
                process.kill()
        for engine in engines:
            engine.dispose()
    lines = [line.split() for line in ledger.read_text().splitlines()]
    starts = sorted(int(job) for job, _, kind, _ in lines if kind == "start")
    assert starts == sorted(job_ids), "a job ran twice or never"
    assert _max_overlap(lines) == 1  # ONSET_MAX_HEAVY_JOBS=1 across both servers
