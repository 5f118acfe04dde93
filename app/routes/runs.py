"""Run pages: results of a training or tuning run, comparison, download, promotion."""

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse

from app.auth import Admin, CurrentUser
from app.db import session_scope
from app.deps import SessionDep
from app.htmx import render
from app.services import charts
from app.services.export.writer import stream_zip
from app.services.runs import (
    get_run,
    list_runs,
    prediction_image,
    promote,
    register_runs,
    run_details,
    sequence_ids,
)

router = APIRouter(prefix="/runs", include_in_schema=False)
NAV = [("Runs", "/runs", "reviewer")]
MISCLASSIFIED_SHOWN = 120


def on_startup(app: FastAPI) -> None:
    """Register the run folders made while the server was down (`onset train --out`)."""
    with session_scope(app.state.session_factory) as session:
        register_runs(session, app.state.settings)


@router.get("")
def runs_page(request: Request, session: SessionDep, _user: CurrentUser):
    return render(request, "runs.html", {"runs": list_runs(session, request.app.state.settings)})


def _view(details, loss_max: float | None = None) -> dict:
    cm = details.metrics.get("confusion_matrix") or {}
    return {
        "details": details,
        "heatmap": charts.heatmap(cm["matrix"], cm["labels"]) if cm.get("matrix") else None,
        "val_chart": charts.line_chart(details.curves("val_accuracy"), y_min=0, y_max=1,
                                       y_label="validation accuracy",
                                       empty="No validation history: this run trained "
                                             "fixed epochs on every training subject."),
        "loss_chart": charts.line_chart(details.curves("loss"), y_min=0, y_max=loss_max,
                                        y_label="loss", empty="No loss history in this run."),
    }


def _highest_loss(details) -> float:
    return max((y for points in details.curves("loss").values() for _, y in points),
               default=0.0)


@router.get("/compare")
def compare_runs(request: Request, a: str, b: str, session: SessionDep, _user: CurrentUser):
    settings = request.app.state.settings
    left, right = (run_details(get_run(session, settings, rid)) for rid in (a, b))
    # One loss scale for both, so the curves can be compared by eye.
    loss_max = charts.nice_ceiling(max(_highest_loss(left), _highest_loss(right)))
    return render(request, "run_compare.html", {"left": _view(left, loss_max),
                                                "right": _view(right, loss_max)})


@router.get("/{run_id}")
def run_page(request: Request, run_id: str, session: SessionDep, _user: CurrentUser):
    settings = request.app.state.settings
    details = run_details(get_run(session, settings, run_id))
    return render(request, "run.html", {
        **_view(details), "run": details.run,
        "misclassified": details.misclassified[:MISCLASSIFIED_SHOWN],
        "misclassified_total": len(details.misclassified),
        "sequence_ids": sequence_ids(session),
        "other_runs": [r for r in list_runs(session, settings) if r.id != run_id],
    })


@router.get("/{run_id}/predictions/{index}.png")
def prediction_png(request: Request, run_id: str, index: int, session: SessionDep,
                   _user: CurrentUser):
    run = get_run(session, request.app.state.settings, run_id)
    return FileResponse(prediction_image(run, run_details(run), index), media_type="image/png",
                        headers={"Cache-Control": "private, max-age=86400"})


@router.get("/{run_id}/download")
def download_run(request: Request, run_id: str, session: SessionDep, _user: CurrentUser):
    run = get_run(session, request.app.state.settings, run_id)
    return StreamingResponse(stream_zip(Path(run.path)), media_type="application/zip",
                             headers={"Content-Disposition":
                                      f'attachment; filename="onset-run-{run.id}.zip"'})


@router.post("/{run_id}/promote")
def promote_run(request: Request, run_id: str, session: SessionDep, user: Admin):
    promote(session, request.app.state.settings, run_id=run_id, user_id=user.id)
    session.commit()  # before the browser follows the redirect
    return RedirectResponse(f"/runs/{run_id}", status_code=303)
