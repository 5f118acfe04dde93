"""The job runner's process handling, with small real commands standing in for the long
CLI ones (the runner runs whatever argv a job holds; the kinds' argv are tested apart)."""

import os
import signal
import sys
import time

import pytest
from sqlalchemy import select

from app.models import Job
from app.services.jobs import JobRunner, cancel_job, job_dir, recover_orphans
from tests.support.live_server import living_group_members


def stand_in(job):
    """The small command a test job holds, run instead of `python -m app job run ID`."""
    return job.params["argv"]


def add_job(session_factory, settings, code: str) -> int:
    with session_factory() as session:
        job = Job(kind="crop", params={"argv": [sys.executable, "-c", code]}, status="queued")
        session.add(job)
        session.commit()
        job.log_path = str(job_dir(settings, job.id) / "log.txt")
        session.commit()
        return job.id


def run_until(runner: JobRunner, session_factory, job_id: int, statuses: tuple[str, ...],
              timeout: float = 20.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runner.tick()
        with session_factory() as session:
            job = session.get(Job, job_id)
            if job.status in statuses:
                return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout} s")


@pytest.fixture
def runner(settings, session_factory):
    runner = JobRunner(settings, session_factory, command=stand_in)
    yield runner
    for process in runner.processes.values():
        os.killpg(process.pid, signal.SIGKILL)


def test_a_job_runs_to_success_with_its_output_logged(runner, settings, session_factory):
    job_id = add_job(session_factory, settings, "print('hello from the job')")
    job = run_until(runner, session_factory, job_id, ("succeeded", "failed"))
    assert job.status == "succeeded" and job.started_at and job.finished_at
    assert "hello from the job" in (job_dir(settings, job_id) / "log.txt").read_text()


def test_a_failing_command_fails_with_its_exit_code(runner, settings, session_factory):
    job_id = add_job(session_factory, settings, "import sys; print('boom'); sys.exit(3)")
    job = run_until(runner, session_factory, job_id, ("succeeded", "failed"))
    assert job.status == "failed" and "exited with code 3" in job.note


def test_a_process_that_dies_fails_and_keeps_its_log(runner, settings, session_factory):
    job_id = add_job(session_factory, settings,
                     "import os; print('about to die', flush=True); os.kill(os.getpid(), 9)")
    job = run_until(runner, session_factory, job_id, ("succeeded", "failed"))
    assert job.status == "failed" and "signal 9 (SIGKILL)" in job.note
    assert "about to die" in (job_dir(settings, job_id) / "log.txt").read_text()


def test_cancel_stops_the_whole_process_group(runner, settings, session_factory):
    job_id = add_job(session_factory, settings, "import time; time.sleep(60)")
    job = run_until(runner, session_factory, job_id, ("running",))
    with session_factory() as session:
        cancel_job(session, session.get(Job, job_id))
        session.commit()
    deadline = time.monotonic() + 10
    while runner.processes and time.monotonic() < deadline:
        runner.tick()
        time.sleep(0.05)
    assert not runner.processes, "the cancelled process is still running"
    assert living_group_members(job.pid) == []
    with session_factory() as session:
        assert session.get(Job, job_id).status == "cancelled"


def test_one_heavy_job_at_a_time(runner, settings, session_factory):
    first = add_job(session_factory, settings, "import time; time.sleep(0.5)")
    second = add_job(session_factory, settings, "print('second')")
    runner.tick()
    with session_factory() as session:
        assert [j.status for j in session.scalars(select(Job).order_by(Job.id))] == [
            "running", "queued"]
    run_until(runner, session_factory, second, ("succeeded",))
    with session_factory() as session:
        assert session.get(Job, first).status == "succeeded"


def test_restart_marks_orphaned_jobs_interrupted(settings, session_factory):
    dead_pid = _dead_pid()
    with session_factory() as session:
        orphan = Job(kind="train", params={}, status="running", pid=dead_pid)
        finished = Job(kind="crop", params={}, status="running", pid=dead_pid)
        session.add_all([orphan, finished])
        session.commit()
        folder = job_dir(settings, finished.id)
        folder.mkdir(parents=True)
        (folder / "exit_code").write_text("0\n")
        recover_orphans(session, settings)
        session.commit()
        assert orphan.status == "interrupted" and "server stopped" in orphan.note
        assert finished.status == "succeeded"


def _dead_pid() -> int:
    import subprocess

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_dead_shell_wrapper_takes_its_command_with_it(runner, settings, session_factory):
    """Killing the job's recorded pid (its shell) must not leave the command running
    unwatched; before the fix, the command went on in the background."""
    job_id = add_job(session_factory, settings, "import time; time.sleep(60)")
    job = run_until(runner, session_factory, job_id, ("running",))
    command = _wait_for_child(job.pid)
    os.kill(job.pid, signal.SIGKILL)
    job = run_until(runner, session_factory, job_id, ("failed",))
    assert "signal 9 (SIGKILL)" in job.note
    deadline = time.monotonic() + 5
    while living_group_members(job.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert living_group_members(job.pid) == [], f"the command {command} outlived its job"


def test_a_failed_job_says_why_in_its_note(runner, settings, session_factory):
    code = ("import sys; print('working...'); "
            "print('error: dataset: no manifest.csv in /x', file=sys.stderr); sys.exit(2)")
    job_id = add_job(session_factory, settings, code)
    job = run_until(runner, session_factory, job_id, ("succeeded", "failed"))
    assert job.note == "exited with code 2: dataset: no manifest.csv in /x"
    crash = add_job(session_factory, settings, "raise KeyError('fold')")
    job = run_until(runner, session_factory, crash, ("succeeded", "failed"))
    assert job.note == "exited with code 1: KeyError: 'fold'"


def test_a_restarted_server_adopts_a_living_job_and_finishes_it(settings, session_factory):
    first = JobRunner(settings, session_factory, command=stand_in)
    job_id = add_job(session_factory, settings, "import time; time.sleep(1.5); print('done')")
    run_until(first, session_factory, job_id, ("running",))
    # A new server process: its runner never started this job, only finds it in the DB.
    second = JobRunner(settings, session_factory, command=stand_in)
    with session_factory() as session:
        assert recover_orphans(session, settings) == []  # still alive: adopted, not touched
        session.commit()
    job = run_until(second, session_factory, job_id, ("succeeded", "failed", "interrupted"))
    assert job.status == "succeeded"
    first.processes.clear()  # the old runner's handle: reaped by nobody, like a dead server's


def test_the_run_folder_of_a_tune_job_is_found_beside_its_tuning_folder(tmp_path):
    from app.services.jobs.runner import _find_output

    runs = tmp_path / "runs"
    tuning = runs / "tune-0123456789-hyperband"
    tuning.mkdir(parents=True)
    (tuning / "best_config.json").write_text("{}")
    (tuning / "trials.csv").write_text("trial_id\n")
    half = runs / "20250101-000000-aaaaaa"  # a run that died before its metrics
    half.mkdir()
    (half / "config.json").write_text("{}")
    assert _find_output(tmp_path) is None
    run = runs / "20240101-000000-bbbbbb"
    run.mkdir()
    for name in ("config.json", "metrics.json"):
        (run / name).write_text("{}")
    assert _find_output(tmp_path) == str(run)


def _wait_for_child(pid: int) -> int:
    from tests.support.live_server import children_of

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if found := children_of(pid):
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no child of {pid} started")
