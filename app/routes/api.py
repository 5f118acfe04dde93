"""The JSON API: the same services as the pages, for scripts (Bearer token) and the browser.

Labels: `*label` fields hold the canonical name, `*label_code` the CK+ code; writes take codes.
Errors: 401 not signed in, 403 not allowed, 404 no such sequence, 409 stale version (the body
says who changed it when, and holds the current row), 422 invalid value (`detail[].loc` names
the field, as in FastAPI's own validation errors)."""

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from app.auth import Admin, Reviewer
from app.db import one_writer
from app.deps import DbId, SessionDep
from app.models import EMOTIONS, Annotation, Decision, User
from app.schemas import (
    AnnotationIn,
    AnnotationOut,
    DecisionOut,
    FrameOut,
    ReviewProgressOut,
    SequenceDetail,
    SequenceList,
    StatsOut,
)
from app.services.review import (
    ReviewData,
    ReviewInput,
    SavedReview,
    load_review,
    save_annotation,
    save_decision,
)
from app.services.sequence_list import (
    SequenceRow,
    list_sequences,
    parse_filters,
    review_progress,
    statuses_of,
)
from app.services.stats import dataset_stats

router = APIRouter(prefix="/api", tags=["review"])

ERRORS = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}}


def _name(code: int | None) -> str | None:
    return EMOTIONS[code] if code is not None else None


def _summary(row: SequenceRow) -> dict:
    eff = row.effective
    return {
        "id": row.id, "name": row.name, "subject": row.subject, "sequence": row.code,
        "frame_count": row.frame_count, "original_label": _name(row.original_label),
        "original_label_code": row.original_label, "effective_label": _name(eff.label),
        "effective_label_code": eff.label, "label_source": eff.label_source,
        "onset_frame": eff.onset, "apex_frame": eff.apex, "exclude": eff.exclude,
        "reviewers": eff.reviewers, "status": row.status,
        "statuses": sorted(row.statuses),
        "thumb_url": f"/frames/{row.apex_frame_id}/thumb.jpg" if row.apex_frame_id else None,
        "page_url": f"/sequences/{row.id}",
    }


def _annotation(row: Annotation | Decision | SavedReview | None) -> dict | None:
    if row is None:
        return None
    return {"reviewer": row.user.name, "label": _name(row.label), "label_code": row.label,
            "onset_frame": row.onset_frame, "apex_frame": row.apex_frame, "note": row.note,
            "exclude": row.exclude, "version": row.version, "updated_at": row.updated_at}


@router.get("/sequences", response_model=SequenceList, responses={**ERRORS, 422: {}})
def api_sequences(
    request: Request, session: SessionDep, user: Reviewer,
    label: str | None = Query(None, description="effective label: name, code or 'none'"),
    status: str | None = Query(None, description="unreviewed, mine, others, disagreement, "
                                                 "excluded or decided"),
    subject: str | None = Query(None, description="part of the subject code, e.g. S05"),
    changed: bool = Query(False, description="effective label differs from CK+'s"),
    nolabel: bool = Query(False, description="no CK+ emotion file"),
    no_face: str | None = Query(None, description="landmarks or mtcnn: only sequences with a "
                                "frame where that face source found no face; "
                                "`face_detection` then says how much it has located"),
    sort: str = Query("sequence", description="sequence, label, original, status, frames, "
                                              "reviewers or onset; '-' prefix: descending"),
    page: int = Query(1, ge=1), per_page: int = Query(48, ge=1, le=200),
):
    """Sequences matching the filters, one page at a time, in list order."""
    filters = parse_filters(request.query_params)
    from app.services.assist.suspects import suspects_if_needed

    result = list_sequences(session, user_id=user.id, filters=filters, suspects=suspects_if_needed(
        session, request.app.state.settings, filters))
    return {"items": [_summary(r) for r in result.items], "total": result.total,
            "page": result.filters.page, "pages": result.pages,
            "per_page": result.filters.per_page, "counts": result.counts,
            "face_detection": result.face_coverage.as_json() if result.face_coverage else None}


def _detail(data: ReviewData, user: User) -> dict:
    seq, eff = data.sequence, data.effective
    apex_id = data.frames[-1][0] if data.frames else None
    row = SequenceRow(seq.id, seq.subject.code, seq.code, seq.frame_count,
                      seq.original_label, apex_id, eff, reviewed_by_me=data.mine is not None,
                      decided=data.decision is not None)
    row.statuses = statuses_of(row, others=len(data.others))
    return {
        **_summary(row), "facs": seq.facs or [],
        "frames": [FrameOut(id=fid, number=n, url=f"/frames/{fid}.png",
                            thumb_url=f"/frames/{fid}/thumb.jpg",
                            view_url=f"/frames/{fid}/view.jpg") for fid, n in data.frames],
        "annotations": [_annotation(a) for a in data.annotations],
        "my_annotation": _annotation(data.mine), "decision": _annotation(data.decision),
    }


@router.get("/sequences/{sequence_id}", response_model=SequenceDetail,
            responses={**ERRORS, 404: {"description": "No such sequence"}})
def api_sequence(sequence_id: DbId, session: SessionDep, user: Reviewer):
    """One sequence with its frames, everyone's annotations, yours and the decision."""
    data = load_review(session, sequence_id=sequence_id, user_id=user.id)
    return _detail(data, user)


def _write(session: Session, sequence_id: int, user: User, body: AnnotationIn, saver):
    data = ReviewInput(label=body.label, onset_frame=body.onset_frame,
                       apex_frame=body.apex_frame, note=body.note, exclude=body.exclude,
                       version=body.version)
    with one_writer(session):
        row = saver(session, sequence_id=sequence_id, user=user, data=data)
        session.commit()
    return _annotation(row)


WRITE_RESPONSES = {**ERRORS, 404: {"description": "No such sequence"},
                   409: {"description": "Stale: someone saved since you read `version`"},
                   422: {"description": "Invalid value; `detail[].loc` names the field"}}


@router.put("/sequences/{sequence_id}/annotation", response_model=AnnotationOut,
            responses=WRITE_RESPONSES)
def api_save_annotation(sequence_id: DbId, body: AnnotationIn, session: SessionDep,
                        user: Reviewer):
    """Save your annotation, naming the `version` you read (0 when you had none)."""
    return _write(session, sequence_id, user, body, save_annotation)


@router.put("/sequences/{sequence_id}/decision", response_model=DecisionOut,
            responses=WRITE_RESPONSES)
def api_save_decision(sequence_id: DbId, body: AnnotationIn, session: SessionDep,
                      user: Admin):
    """Admins only: record the final decision, which overrides the reviewers' majority."""
    return _write(session, sequence_id, user, body, save_decision)


@router.get("/stats", response_model=StatsOut, responses=ERRORS)
def api_stats(session: SessionDep, user: Reviewer):
    """What is imported, and how far the review is."""
    progress = review_progress(session, user_id=user.id)
    return {"dataset": dataset_stats(session),
            "review": ReviewProgressOut(total=progress.total, reviewed=progress.reviewed,
                                        mine=progress.mine, decided=progress.decided,
                                        disagreements=progress.disagreements,
                                        excluded=progress.excluded,
                                        percent=round(progress.percent, 1))}

