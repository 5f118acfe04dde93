"""Review assistance pages and API: suspects, onset suggestions, agreement, adjudication."""

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.orm import Session

from app.auth import Admin, CurrentUser, Reviewer
from app.db import one_writer
from app.deps import DbId, SessionDep
from app.errors import status_for
from app.htmx import is_htmx, render
from app.models import EMOTIONS, User
from app.schemas import AgreementOut, OnsetSuggestionOut, SuspectOut
from app.services.assist.adjudication import (
    AdjudicationError,
    decide,
    decision_for,
    dispute_for,
    disputes,
    next_dispute,
)
from app.services.assist.agreement import agreement
from app.services.assist.onsets import suggest_one
from app.services.assist.suspects import find_suspects
from app.services.errors import NotFound
from app.services.review import (
    NotAllowed,
    ReviewError,
    StaleVersion,
    load_review,
    sequence_name,
)

router = APIRouter()
NAV = [("Agreement", "/agreement", "reviewer"), ("Adjudicate", "/adjudicate", "admin")]


@router.get("/api/suspects", tags=["review assistance"], response_model=list[SuspectOut])
def api_suspects(request: Request, session: SessionDep, _user: Reviewer, run: str | None = Query(
                     None, description="A run id or run folder; default: the active model"),
                 top: int | None = Query(None, ge=1, description="Only the K most suspect")):
    """Labelled sequences ranked by how confidently the run's out-of-fold predictions doubt
    their effective label (flagged ones first). 409 when the run cannot be used; what it
    left out (relabelled, excluded, re-imported since its export) is in `X-Onset-Notes`."""
    report = find_suspects(session, request.app.state.settings, run=run, top=top)
    headers = {"X-Onset-Notes": " | ".join(report.notes)[:4000]} if report.notes else {}
    return JSONResponse([s.as_dict() for s in report.items], headers=headers)


@router.get("/api/sequences/{sequence_id:int}/onset-suggestion", tags=["review assistance"],
            response_model=OnsetSuggestionOut, response_model_exclude_unset=True)
def api_onset(request: Request, sequence_id: DbId, session: SessionDep, _user: Reviewer):
    """The sequence's intensity curve (0 = frame 1, 1 = apex) and suggested onset."""
    found = suggest_one(session, request.app.state.settings, sequence_id=sequence_id)
    if found is None:
        raise NotFound(f"no sequence with id {sequence_id}")
    return found.as_dict()


@router.get("/api/agreement", tags=["review assistance"], response_model=AgreementOut)
def api_agreement(session: SessionDep, _user: Reviewer):
    """Cohen's/Fleiss' kappa on labels, Krippendorff's alpha and mean |difference| on onsets,
    each with `n`; null with a `note` where there is not enough data."""
    return agreement(session)


@router.get("/agreement", include_in_schema=False)
def agreement_page(request: Request, session: SessionDep, _user: CurrentUser):
    return render(request, "agreement.html", {"report": agreement(session)})


def _gap(request: Request) -> int:
    return request.app.state.settings.adjudication_onset_gap


@router.get("/adjudicate", include_in_schema=False)
def adjudication_queue(request: Request, session: SessionDep, _user: Admin):
    return render(request, "adjudicate.html", {
        "disputes": disputes(session, onset_gap=_gap(request)), "gap": _gap(request),
        "emotions": EMOTIONS,
        "decided_name": _decided_name(session, request.query_params.get("decided", ""))})


def _decided_name(session: Session, raw: str) -> str | None:
    """'S005 / 001' for the ?decided= sequence id (the confirmation after a decision)."""
    return sequence_name(session, int(raw)) if raw.isdigit() else None


@router.get("/adjudicate/{sequence_id:int}", include_in_schema=False)
def adjudication_page(request: Request, sequence_id: DbId, session: SessionDep, user: Admin):
    return _page(request, session, user, sequence_id)


def _page(request: Request, session: Session, user: User, sequence_id: int, *,
          error: str | None = None, status_code: int = 200):
    dispute = dispute_for(session, sequence_id=sequence_id, onset_gap=_gap(request))
    data = load_review(session, sequence_id=sequence_id, user_id=user.id)
    frames = [{"id": fid, "number": n} for fid, n in data.frames]
    decision = decision_for(session, sequence_id)
    decided = _decided_name(session, request.query_params.get("decided", ""))
    return render(request, "adjudicate_one.html", {
        "dispute": dispute, "frames": frames, "emotions": EMOTIONS, "decision": decision,
        "version": decision.version if decision else 0, "error": error,
        "original": EMOTIONS[data.sequence.original_label]
        if data.sequence.original_label is not None else None,
        "next_id": next_dispute(session, after_id=sequence_id, onset_gap=_gap(request)),
        "decided_name": decided},
        status_code=status_code)


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


@router.post("/adjudicate/{sequence_id:int}", include_in_schema=False)
def adjudicate(request: Request, sequence_id: DbId, session: SessionDep, user: Admin,
               form: dict[str, str] = Depends(_form)):
    """Take one reviewer's answer as the admin decision, then open the next dispute."""
    try:
        take_from, version = int(form.get("take_from", "")), int(form.get("version", ""))
    except ValueError:
        return _page(request, session, user, sequence_id, status_code=422,
                     error="take_from and version must be whole numbers")
    try:
        with one_writer(session):  # rolls a refused decision back
            decide(session, sequence_id=sequence_id, admin=user, take_from=take_from,
                   version=version)
            session.commit()
    except (AdjudicationError, ReviewError, NotAllowed, StaleVersion) as exc:
        # The page again, with the refusal over its form (status from the one table).
        return _page(request, session, user, sequence_id, status_code=status_for(exc),
                     error=str(exc))
    nxt = next_dispute(session, after_id=sequence_id, onset_gap=_gap(request))
    target = f"/adjudicate/{nxt}?decided={sequence_id}" if nxt else \
        f"/adjudicate?decided={sequence_id}"
    if is_htmx(request):
        return HTMLResponse("", headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
