"""`onset job run ID`: what every background job's process runs.

The web server queues a job with its checked spec; the job runner starts this command in
a process of its own. It reads the spec back from the database, checks it again (a snapshot
may have gone since), and runs the same code as `onset export|crop|train|tune|experiment`."""

from pathlib import Path

import typer

from app.cli.common import db_session, fail, settings
from app.cli.root import cli

job_app = typer.Typer(help="Background jobs (the admin page starts them; this runs one).",
                      no_args_is_help=True)
cli.add_typer(job_app, name="job")


@job_app.command("run")
def run_job_command(job_id: int = typer.Argument(..., help="The job's id (see /admin).")) -> None:
    """Run job ID's stored spec in this process, writing into the job's folder.

    The job runner starts this for each queued job; run it by hand only to debug a job.
    """
    from app.models import Job
    from app.services.jobs import job_dir
    from app.services.jobs.commands import JobParamError, check_job, snapshot_for

    config = settings()
    with db_session(config) as session:
        job = session.get(Job, job_id)
        if job is None:
            fail(f"no job {job_id}")
        try:
            spec = check_job(session, kind=job.kind, params=job.params)
            dataset = (Path(snapshot_for(session, spec.dataset).path)
                       if job.kind in ("train", "tune") else None)
        except JobParamError as exc:
            fail(f"job {job_id}: {exc}")
        kind = job.kind
    _run(kind, spec, job_dir(config, job_id), dataset)


def _run(kind: str, spec, folder: Path, dataset: Path | None) -> None:
    from app.cli.crop_cmds import run_crop
    from app.cli.experiment_cmds import run_experiment_spec
    from app.cli.export_cmds import run_export_spec
    from app.cli.training_cmds import run_train, run_tune

    if kind == "export":
        run_export_spec(spec, out=folder / "export", as_zip=False, as_json=True)
    elif kind == "crop":
        run_crop(spec, as_json=True)
    elif kind == "experiment":
        run_experiment_spec(spec, as_json=True)
    elif kind == "train":
        run_train(spec, dataset=dataset, out=folder / "runs", as_json=False)
    else:
        run_tune(spec, dataset=dataset, out=folder / "runs", as_json=False)
