"""Run pages: results of a training or tuning run, comparison, download, promotion."""

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import current_user, require_admin
from app.deps import get_session
from app.htmx import render
from app.models import Sequence, Subject, User
from app.services import charts
from app.services.export.writer import stream_zip
from app.services.runs import (
    RunError,
    get_run,
    list_runs,
    prediction_image,
    promote,
    run_details,
)

router = APIRouter(prefix="/runs", include_in_schema=False)
NAV = [("Runs", "/runs", "reviewer")]
MISCLASSIFIED_SHOWN = 120


def run_or_404(session: Session, request: Request, run_id: str):
    """The run, or a 404 naming it (the pages and the API share this)."""
    try:
        return get_run(session, request.app.state.settings, run_id)
    except RunError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("")
def runs_page(request: Request, session: Session = Depends(get_session),
              _user: User = Depends(current_user)):
    return render(request, "runs.html", {"runs": list_runs(session, request.app.state.settings)})


def _sequence_ids(session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(select(Subject.code, Sequence.code, Sequence.id).join(Sequence))
    return {(subject, code): seq_id for subject, code, seq_id in rows}


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
def compare_runs(request: Request, a: str, b: str, session: Session = Depends(get_session),
                 _user: User = Depends(current_user)):
    left, right = (run_details(run_or_404(session, request, rid)) for rid in (a, b))
    # One loss scale for both, so the curves can be compared by eye.
    loss_max = charts.nice_ceiling(max(_highest_loss(left), _highest_loss(right)))
    return render(request, "run_compare.html", {"left": _view(left, loss_max),
                                                "right": _view(right, loss_max)})


@router.get("/{run_id}")
def run_page(request: Request, run_id: str, session: Session = Depends(get_session),
             _user: User = Depends(current_user)):
    details = run_details(run_or_404(session, request, run_id))
    return render(request, "run.html", {
        **_view(details), "run": details.run,
        "misclassified": details.misclassified[:MISCLASSIFIED_SHOWN],
        "misclassified_total": len(details.misclassified),
        "sequence_ids": _sequence_ids(session),
        "other_runs": [r for r in list_runs(session, request.app.state.settings)
                       if r.id != run_id],
    })


@router.get("/{run_id}/predictions/{index}.png")
def prediction_png(request: Request, run_id: str, index: int,
                   session: Session = Depends(get_session), _user: User = Depends(current_user)):
    run = run_or_404(session, request, run_id)
    try:
        path = prediction_image(run, run_details(run), index)
    except RunError as exc:
        raise HTTPException(404, str(exc)) from None
    return FileResponse(path, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=86400"})


@router.get("/{run_id}/download")
def download_run(request: Request, run_id: str, session: Session = Depends(get_session),
                 _user: User = Depends(current_user)):
    run = run_or_404(session, request, run_id)
    return StreamingResponse(stream_zip(Path(run.path)), media_type="application/zip",
                             headers={"Content-Disposition":
                                      f'attachment; filename="onset-run-{run.id}.zip"'})


def promote_or_422(session: Session, request: Request, run_id: str, user: User):
    """Make the run the active model (the page and the API share this)."""
    run = run_or_404(session, request, run_id)
    try:
        promote(session, run=run, user_id=user.id)
    except RunError as exc:
        raise HTTPException(422, str(exc)) from None
    session.commit()
    return run


@router.post("/{run_id}/promote")
def promote_run(request: Request, run_id: str, session: Session = Depends(get_session),
                user: User = Depends(require_admin)):
    promote_or_422(session, request, run_id, user)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)
