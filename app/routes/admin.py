"""Admin pages: start jobs, watch them live, job history, runs."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from app.auth import Admin
from app.deps import DbId, SessionDep
from app.htmx import is_htmx, render
from app.models import Job, Run, utcnow
from app.services import charts
from app.services.experiments import experiment_of_job
from app.services.export import list_snapshots
from app.services.export.params import COLOR_NAMES
from app.services.jobs import ACTIVE, JobParamError, cancel_job, get_job, recent_jobs, submit_job
from app.services.jobs.commands import SPECS
from app.services.jobs.progress import duration_text, job_progress, log_tail
from app.services.runs import active_run, list_runs, run_of_job
from app.specs import fields

router = APIRouter(prefix="/admin", include_in_schema=False)
NAV = [("Admin", "/admin", "admin")]
JOB_HISTORY = 30


def _admin_context(session: Session, request: Request) -> dict:
    settings = request.app.state.settings
    jobs = recent_jobs(session, JOB_HISTORY)
    runs = list_runs(session, settings)
    return {
        "active_jobs": [(j, job_progress(settings, j)) for j in jobs if j.status in ACTIVE],
        "jobs": jobs,
        "snapshots": list_snapshots(session),
        "runs": runs[:20],
        "runs_by_job": {r.job_id: r for r in runs if r.job_id is not None},
        "active_run": active_run(session),
        "specs": {kind: fields(spec) for kind, spec in SPECS.items()},
        "color_names": COLOR_NAMES,
        "htmx": is_htmx(request),  # live updates carry the history out of band
    }


@router.get("")
def admin_page(request: Request, session: SessionDep,
               _user: Admin):
    return render(request, "admin.html", {**_admin_context(session, request), "error": None},
                  block="live")


async def _form(request: Request):
    return await request.form()


@router.post("/jobs")
def start_job(request: Request, session: SessionDep, user: Admin, form=Depends(_form)):
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


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: DbId, session: SessionDep,
             _user: Admin):
    job = get_job(session, job_id)
    progress = job_progress(request.app.state.settings, job)
    return render(request, "job.html", {
        "job": job, "progress": progress, "log": log_tail(job),
        **_job_charts(progress, live=job.status in ACTIVE),
        "run": _run_of(session, request, job),
        "experiment": (experiment_of_job(request.app.state.settings, job.params)
                       if job.kind == "experiment" else None),
        "params": {k: v for k, v in job.params.items()
                   if k != "argv" and v not in (None, "", [])},
        "duration": _duration(job),
    }, block="live")


def _job_charts(progress, *, live: bool) -> dict:
    """While a job trains: the current fold, train against validation (is it overfitting?).
    Once it ended: every fold at once, as the run page shows them."""
    if live or not progress.curves:
        points = progress.curves.get(progress.curve, [])
        title = ("final model" if progress.curve == "final"
                 else f"fold {progress.curve}" if progress.curve else "")

        def pair(metric: str) -> dict:
            return {"train": [(p["epoch"], p.get(metric)) for p in points],
                    "validation": [(p["epoch"], p.get(f"val_{metric}")) for p in points]}

        accuracy, loss, dashed = pair("accuracy"), pair("loss"), ("validation",)
        titles = ("Accuracy", "Loss")
    else:
        title, dashed, titles = "", (), ("Validation accuracy per fold", "Training loss per fold")
        accuracy = {f"fold {k}": [(p["epoch"], p.get("val_accuracy")) for p in points]
                    for k, points in progress.curves.items() if k != "final"}
        loss = {("final model" if k == "final" else f"fold {k}"):
                [(p["epoch"], p.get("loss")) for p in points]
                for k, points in progress.curves.items()}
    empty = "Curves appear after the first epoch." if live else "No epochs were recorded."
    return {"chart_title": title, "chart_titles": titles,
            "accuracy_chart": charts.line_chart(accuracy, y_min=0, y_max=1, dashed=dashed,
                                                y_label="accuracy", empty=empty),
            "loss_chart": charts.line_chart(loss, y_min=0, y_label="loss", dashed=dashed,
                                            empty=empty)}


def _duration(job: Job) -> str:
    if not job.started_at:
        return ""
    end = job.finished_at or utcnow()
    start = job.started_at
    return duration_text((end - start).total_seconds())


def _run_of(session: Session, request: Request, job: Job) -> Run | None:
    return run_of_job(session, request.app.state.settings, job)


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: DbId, session: SessionDep,
           _user: Admin):
    cancel_job(session, get_job(session, job_id))
    session.commit()
    return RedirectResponse(f"/admin/jobs/{job_id}", status_code=303)
