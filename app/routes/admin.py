"""Admin pages: start jobs, watch them live, job history, runs."""

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import require_admin
from app.deps import get_session
from app.htmx import is_htmx, render
from app.models import ExportSnapshot, Job, Run, User
from app.services import charts
from app.services.job_progress import job_progress, log_tail
from app.services.jobs import ACTIVE, JobParamError, JobRunner, cancel_job, submit_job
from app.services.runs import active_run, list_runs

router = APIRouter(prefix="/admin", include_in_schema=False)
NAV = [("Admin", "/admin", "admin")]
JOB_HISTORY = 30


def on_startup(app) -> None:
    """Start the job runner in the server process (jobs themselves run as subprocesses)."""
    settings = app.state.settings
    if not settings.job_runner:
        return
    runner = JobRunner(settings, app.state.session_factory)
    runner.start()
    app.state.job_runner = runner
    app.state.shutdown_hooks.append(lambda app: runner.stop())


def _admin_context(session: Session, request: Request) -> dict:
    settings = request.app.state.settings
    jobs = session.scalars(select(Job).order_by(Job.id.desc()).limit(JOB_HISTORY)).all()
    return {
        "active_jobs": [(j, job_progress(settings, j)) for j in jobs if j.status in ACTIVE],
        "jobs": jobs,
        "snapshots": session.scalars(select(ExportSnapshot)
                                     .order_by(ExportSnapshot.created_at.desc())).all(),
        "runs": list_runs(session, settings)[:20],
        "active_run": active_run(session),
    }


@router.get("")
def admin_page(request: Request, session: Session = Depends(get_session),
               _user: User = Depends(require_admin)):
    return render(request, "admin.html", {**_admin_context(session, request), "error": None},
                  block="live")


async def _form(request: Request):
    return await request.form()


@router.post("/jobs")
def start_job(request: Request, form=Depends(_form), session: Session = Depends(get_session),
              user: User = Depends(require_admin)):
    kind = str(form.get("kind", ""))
    params = {k: v for k, v in form.multi_items() if k not in ("kind", "csrf_token")}
    if "exclude" in form:
        params["exclude"] = form.getlist("exclude")
    try:
        job = submit_job(session, request.app.state.settings, kind=kind, params=params,
                         user_id=user.id)
    except JobParamError as exc:
        session.rollback()
        return render(request, "admin.html", {**_admin_context(session, request),
                                              "error": f"Could not start the {kind} job: {exc}"},
                      block="live", status_code=422)
    session.commit()
    if is_htmx(request):
        return render(request, "admin.html", {**_admin_context(session, request),
                                              "error": None}, block="live")
    return RedirectResponse(f"/admin/jobs/{job.id}", status_code=303)


def _job_or_404(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: int, session: Session = Depends(get_session),
             _user: User = Depends(require_admin)):
    job = _job_or_404(session, job_id)
    progress = job_progress(request.app.state.settings, job)
    current = progress.curves.get(str(progress.fold)) or progress.curves.get("final") or []
    accuracy = {name: [(p["epoch"], p.get(name)) for p in current]
                for name in ("accuracy", "val_accuracy")}
    loss = {name: [(p["epoch"], p.get(name)) for p in current] for name in ("loss", "val_loss")}
    return render(request, "job.html", {
        "job": job, "progress": progress, "log": log_tail(job),
        "accuracy_chart": charts.line_chart(accuracy, y_min=0, y_max=1, y_label="accuracy",
                                            dashed=("val_accuracy",)),
        "loss_chart": charts.line_chart(loss, y_min=0, y_label="loss", dashed=("val_loss",)),
        "run": _run_of(session, request, job),
    }, block="live")


def _run_of(session: Session, request: Request, job: Job) -> Run | None:
    if not job.run_dir or job.kind not in ("train", "tune"):
        return None
    list_runs(session, request.app.state.settings)  # registers the job's run folder
    return session.scalar(select(Run).where(Run.path == job.run_dir))


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: int, session: Session = Depends(get_session),
           _user: User = Depends(require_admin)):
    cancel_job(session, _job_or_404(session, job_id))
    session.commit()
    return RedirectResponse(f"/admin/jobs/{job_id}", status_code=303)
