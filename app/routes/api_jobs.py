"""JSON API for scripts: jobs and runs (same rules as the pages: admins start and cancel)."""

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.auth import Admin, CurrentUser
from app.deps import DbId, SessionDep
from app.models import Job
from app.schemas import RunDetail, RunPromoted, RunSummary
from app.services.export.params import ExportSpec
from app.services.faces.spec import CropSpec
from app.services.jobs import cancel_job, get_job, recent_jobs, submit_job
from app.services.jobs.progress import job_progress
from app.services.runs import get_run, list_runs, promote, run_details, run_of_job
from app.services.training_specs import TrainSpec, TuneSpec

router = APIRouter(prefix="/api", tags=["jobs and runs"])


class ExportJob(BaseModel):
    kind: Literal["export"]
    params: ExportSpec = Field(default_factory=ExportSpec)


class CropJob(BaseModel):
    kind: Literal["crop"]
    params: CropSpec = Field(default_factory=CropSpec)


class TrainJob(BaseModel):
    kind: Literal["train"]
    params: TrainSpec = Field(examples=[{"dataset": "<export snapshot id>",
                                         "preset": "default", "folds": 10}])


class TuneJob(BaseModel):
    kind: Literal["tune"]
    params: TuneSpec


# One body per kind, told apart by `kind`: its `params` are that operation's spec, the same
# one `onset export|crop|train|tune` and the admin page's forms read.
JobRequest = Annotated[ExportJob | CropJob | TrainJob | TuneJob, Field(discriminator="kind")]


class JobCreated(BaseModel):
    id: int


class JobOut(BaseModel):
    id: int
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
    params: dict[str, Any]
    note: str
    progress: dict[str, Any]
    run: str | None = None
    output: str | None = None
    created: str
    started: str | None
    finished: str | None


def _job_out(request: Request, session: Session, job: Job) -> JobOut:
    run = run_of_job(session, request.app.state.settings, job)
    run_id = run.id if run else None
    return JobOut(
        id=job.id, kind=job.kind, status=job.status, note=job.note,
        params={k: v for k, v in job.params.items() if k != "argv"},
        progress=job_progress(request.app.state.settings, job).as_dict(), run=run_id,
        output=job.run_dir, created=_utc(job.created_at),
        started=_utc(job.started_at), finished=_utc(job.finished_at))


def _utc(at) -> str | None:
    """ISO 8601 with its offset, like the rest of the API (UTCDateTime columns are aware)."""
    return at.isoformat() if at is not None else None


@router.post("/jobs", response_model=JobCreated, status_code=201)
def create_job(body: JobRequest, request: Request, session: SessionDep,
               user: Admin):
    """Queue an export, crop, train or tune job; 422 names a bad parameter (`loc`)."""
    job = submit_job(session, request.app.state.settings, kind=body.kind, params=body.params,
                     user_id=user.id)
    session.commit()
    return JobCreated(id=job.id)


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(request: Request, session: SessionDep, _user: CurrentUser, limit: int = 50):
    """Background jobs, newest first (`limit`, at most 500), with status and progress."""
    jobs = recent_jobs(session, min(limit, 500))
    return [_job_out(request, session, job) for job in jobs]


@router.get("/jobs/{job_id}", response_model=JobOut)
def read_job(job_id: DbId, request: Request, session: SessionDep,
             _user: CurrentUser):
    """One job: kind, parameters, status, progress, and its run once it has succeeded."""
    return _job_out(request, session, get_job(session, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut)
def cancel(job_id: DbId, request: Request, session: SessionDep,
           _user: Admin):
    """Cancel a queued or running job (a running one gets SIGTERM); others come back as they are."""
    job = cancel_job(session, get_job(session, job_id))
    session.commit()
    return _job_out(request, session, job)


@router.get("/runs", response_model=list[RunSummary])
def runs(request: Request, session: SessionDep,
         _user: CurrentUser) -> list[dict[str, Any]]:
    """Every training or tuning run, newest first, with its headline metrics."""
    return [{"id": r.id, "kind": r.kind, "active": r.active, "dataset": r.dataset_id,
             "created": _utc(r.created_at), **r.summary}
            for r in list_runs(session, request.app.state.settings)]


@router.get("/runs/{run_id}", response_model=RunDetail)
def read_run(run_id: str, request: Request, session: SessionDep,
             _user: CurrentUser) -> dict[str, Any]:
    """The run's metrics.json (DESIGN.md contract) plus its id, kind and active flag."""
    run = get_run(session, request.app.state.settings, run_id)
    details = run_details(run)
    return {"id": run.id, "kind": run.kind, "active": run.active, "path": str(Path(run.path)),
            "labels": details.labels, "metrics": details.metrics, **details.metrics}


@router.post("/runs/{run_id}/promote", response_model=RunPromoted)
def promote_run(run_id: str, request: Request, session: SessionDep,
                user: Admin) -> dict[str, Any]:
    """Make this run the active model used by predictions."""
    run = promote(session, request.app.state.settings, run_id=run_id, user_id=user.id)
    session.commit()
    return {"id": run.id, "active": True}
