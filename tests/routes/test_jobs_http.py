"""Background jobs over HTTP against a real uvicorn server with its job runner: a real (tiny)
training job runs to a run while the server keeps answering; cancel, a dying process and a
server restart each leave the job in the state an admin would expect."""

import os
import shutil
import signal
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope
from app.models import Job
from app.services.users import create_user, new_api_token
from tests.support import databases, tiny_training
from tests.support.live_server import LiveServer, children_of, living_group_members, wait_for
from tests.support.tiny_jobs import SNAPSHOT_ID as SNAPSHOT
from tests.support.tiny_jobs import add_tiny_snapshot, write_fast_config

pytestmark = pytest.mark.slow
FINAL = ("succeeded", "failed", "cancelled", "interrupted")


@dataclass
class Site:
    server: LiveServer
    settings: Settings
    session_factory: object
    api: httpx.Client
    config_file: Path

    def job(self, job_id: int) -> dict:
        response = self.api.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def db_job(self, job_id: int) -> Job:
        with self.session_factory() as session:
            return session.get(Job, job_id)

    def start_train(self, **params) -> int:
        body = {"kind": "train", "params": {"dataset": SNAPSHOT, "config": str(self.config_file),
                                            "folds": 2, "epochs": 1, **params}}
        response = self.api.post("/api/jobs", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def log(self, job_id: int) -> str:
        path = Path(self.db_job(job_id).log_path)
        return path.read_text(errors="replace") if path.is_file() else ""


def make_site(folder: Path, template: Path, export: Path) -> Site:
    """A fresh database with an admin, a token and one snapshot: the tiny export."""
    data_dir = folder / "var"
    data_dir.mkdir(parents=True)
    shutil.copy(template, data_dir / "onset.db")
    url = f"sqlite:///{data_dir / 'onset.db'}"
    if databases.suite_on_postgres():  # make test-pg: the jobs run on PostgreSQL too
        url = databases.create_database(databases.template(), drop_at_exit=True)
    settings = Settings(data_dir=data_dir, database_url=url)
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    with session_scope(factory) as session:
        boss = create_user(session, name="boss", password="not used here", role="admin")
        token = new_api_token(session, user=boss)
        add_tiny_snapshot(session, export)
    config_file = write_fast_config(folder / "tiny-config.json")
    server = LiveServer(settings, folder / "server.log").start()
    api = httpx.Client(base_url=server.base_url, timeout=30,
                       headers={"Authorization": f"Bearer {token}"})
    return Site(server, settings, factory, api, config_file)


@pytest.fixture(scope="module")
def site(tmp_path_factory, migrated_template, tiny_export):
    site = make_site(tmp_path_factory.mktemp("jobs-http"), migrated_template, tiny_export)
    yield site
    site.api.close()
    site.server.stop()


def test_training_job_runs_to_a_run_while_the_server_keeps_answering(site):
    job_id = site.start_train(epochs=2)
    seen, latencies = [], []
    deadline = time.monotonic() + 240
    while (job := site.job(job_id))["status"] not in FINAL:
        assert time.monotonic() < deadline, f"job still {job['status']}: {site.log(job_id)}"
        seen.append((job["status"], job["progress"]["fraction"], job["progress"]["stage"]))
        if job["status"] == "running":
            for path in ("/api/stats", "/"):
                started = time.perf_counter()
                assert site.api.get(path).status_code == 200
                latencies.append(time.perf_counter() - started)
        time.sleep(0.15)

    assert job["status"] == "succeeded", (job["note"], site.log(job_id))
    running = [(fraction, stage) for status, fraction, stage in seen if status == "running"]
    fractions = [f for f, _ in running if f is not None]
    assert len(set(fractions)) >= 2 and fractions == sorted(fractions), fractions
    assert any(0 < f < 1 for f in fractions)
    assert any(stage.startswith("fold ") for _, stage in running)
    assert job["progress"]["fraction"] == 1.0 and len(job["progress"]["fold_accuracy"]) == 2
    # The web server never ran the training itself: it answered throughout, promptly.
    # (A server blocked by the job would answer only after it, many seconds later.)
    print(f"{len(latencies)} requests during the job: median "
          f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    assert len(latencies) >= 6
    assert statistics.median(latencies) < 1.0 and max(latencies) < 5.0

    run_id = job["run"]
    assert run_id and job["output"].startswith(str(site.settings.jobs_dir / str(job_id)))
    run = site.api.get(f"/api/runs/{run_id}").json()
    assert run["kind"] == "train" and run["labels"] == tiny_training.LABELS
    assert len(run["accuracy"]["per_fold"]) == 2 and 0 <= run["accuracy"]["mean"] <= 1
    assert run["confusion_matrix"]["labels"] == tiny_training.LABELS
    assert set(run["per_class"]) == set(tiny_training.LABELS)
    assert run_id in site.api.get("/api/runs").text
    page = site.api.get(f"/admin/jobs/{job_id}")
    assert f'href="/runs/{run_id}"' in page.text and "succeeded" in page.text


def _command_pid(site: Site, job_id: int) -> tuple[int, int]:
    """(the job's process group = its shell's pid, the `python -m app train` under it)."""
    shell = wait_for(lambda: site.db_job(job_id).pid, timeout=30, what="the job starting")
    child = wait_for(lambda: children_of(shell), timeout=10, what="the command starting")
    return shell, child[0]


def test_cancel_stops_a_running_job_and_its_process_group(site):
    job_id = site.start_train(epochs=30)
    group, _ = _command_pid(site, job_id)
    wait_for(lambda: "» fold 1/" in site.log(job_id), timeout=60, what="training starting")

    cancelled = site.api.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    wait_for(lambda: not living_group_members(group), timeout=20,
             what=f"process group {group} ending")
    time.sleep(1.2)  # a couple of runner ticks after the process ended
    job = site.job(job_id)
    assert job["status"] == "cancelled" and job["note"] == "cancelled by an admin"
    assert job["run"] is None


def test_a_job_whose_process_dies_fails_and_keeps_its_log(site):
    job_id = site.start_train(epochs=30)
    group, command = _command_pid(site, job_id)
    wait_for(lambda: "» fold 1/" in site.log(job_id), timeout=60, what="training starting")
    os.kill(command, signal.SIGKILL)  # what the OOM killer would do

    job = wait_for(lambda: (j := site.job(job_id))["status"] in FINAL and j, timeout=20,
                   what="the runner noticing the dead process")
    assert job["status"] == "failed" and "signal 9 (SIGKILL)" in job["note"]
    assert not living_group_members(group)
    page = site.api.get(f"/admin/jobs/{job_id}").text
    assert "» fold 1/" in page and "signal 9 (SIGKILL)" in page  # the log is still there


def test_a_restart_marks_a_job_whose_process_is_gone_interrupted(tmp_path, migrated_template,
                                                                 tiny_export):
    site = make_site(tmp_path, migrated_template, tiny_export)
    try:
        job_id = site.start_train(epochs=30)
        group, _ = _command_pid(site, job_id)
        # The machine goes down: the server and the job's processes die together, before
        # the job could write its exit code.
        site.server.kill()
        os.killpg(group, signal.SIGKILL)
        wait_for(lambda: not living_group_members(group), timeout=10, what="the job dying")
        assert site.db_job(job_id).status == "running"  # as the dead server left it

        site.server.start()
        site.api.base_url = site.server.base_url
        job = site.job(job_id)
        assert job["status"] == "interrupted" and "server stopped" in job["note"]
        assert job["finished"] is not None
    finally:
        site.api.close()
        site.server.stop()
