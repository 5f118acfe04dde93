"""The review page of one sequence, and saving a reviewer's annotation or an admin's decision
from it. htmx saves answer with the re-rendered side panel (or HX-Redirect to the next
sequence); plain form posts answer with a redirect (convention 4)."""

from typing import Annotated, NamedTuple
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2.utils import htmlsafe_json_dumps
from sqlalchemy.orm import Session

from app.auth import Reviewer
from app.db import one_writer
from app.deps import DbId, SessionDep
from app.errors import status_for
from app.htmx import is_htmx, render
from app.models import EMOTIONS, MAX_ID, User
from app.services.review import (
    MAX_NOTE_CHARS,
    ReviewData,
    ReviewError,
    ReviewInput,
    StaleVersion,
    describe_change,
    format_time,
    input_from_strings,
    load_review,
    save_annotation,
    save_decision,
    sequence_name,
)
from app.services.sequence_list import (
    FilterError,
    ListFilters,
    next_in_queue,
    parse_filters,
    queue_place,
)

router = APIRouter()


def _queue_filters(queue: str) -> ListFilters:
    from urllib.parse import parse_qsl

    try:
        return parse_filters(dict(parse_qsl(queue)))
    except FilterError:
        return ListFilters()


def review_url(sequence_id: int, *, queue: str = "", deciding: bool = False,
               prev: int | None = None) -> str:
    params = {k: v for k, v in (("queue", queue), ("decide", "1" if deciding else ""),
                                ("prev", str(prev) if prev else "")) if v}
    return f"/sequences/{sequence_id}" + (f"?{urlencode(params)}" if params else "")


def _form_values(data: ReviewData, *, deciding: bool) -> dict:
    """What the form starts with: the saved row, else a suggestion (flagged `prefilled`)."""
    row = data.decision if deciding else data.mine
    if row is not None:
        return {"label": row.label, "onset_frame": row.onset_frame,
                "apex_frame": row.apex_frame, "note": row.note, "exclude": row.exclude,
                "version": row.version, "prefilled": False}
    # A new decision starts from what the reviewers said; a new annotation from CK+'s label,
    # so agreeing with CK+ costs one key (Enter) and disagreeing one more.
    eff = data.effective
    if deciding:
        return {"label": eff.label, "onset_frame": eff.onset, "apex_frame": eff.apex,
                "note": "", "exclude": eff.exclude, "version": 0, "prefilled": True}
    return {"label": data.sequence.original_label, "onset_frame": None, "apex_frame": None,
            "note": "", "exclude": False, "version": 0,
            "prefilled": data.sequence.original_label is not None}


def _assist(request: Request, session: Session, data: ReviewData, user: User,
            queue: str) -> dict:
    """What the model and the onset curve add to the page: the active model's view of this
    sequence (top-3, why flagged), the suggested onset (ghost marker) and the intensity curve,
    and where the sequence sits in its queue."""
    from app.services.assist.onsets import suggest_one
    from app.services.assist.suspects import suspect_scores

    settings = request.app.state.settings
    filters = _queue_filters(queue)
    suspects, suspects_note = suspect_scores(session, settings)
    suggestion = suggest_one(session, settings, sequence_id=data.sequence.id)
    position = queue_place(session, user_id=user.id, sequence_id=data.sequence.id,
                           filters=filters, suspects=suspects)
    return {"suspect": suspects.get(data.sequence.id), "suspects_note": suspects_note,
            "suggestion": suggestion, "queue_pos": position,
            "queue_is_suspects": filters.suspects}


class StripFrame(NamedTuple):
    """One frame of the filmstrip, worked out here so the template's loop only prints: that
    loop runs once per frame, and Jinja's filters in it alone were a fifth of the render."""

    number: int
    thumb: str
    level: str  # the intensity bar's height (the curve capped at 1), "" without a curve
    intensity: str
    ghost: bool  # the suggested onset
    onset_of: str  # the other reviewers whose onset this is
    onset_count: str  # how many, shown when more than one


def _filmstrip(frames: list[tuple[int, int]], others: list, suggestion) -> list[StripFrame]:
    curve, suggested = (suggestion.curve, suggestion.suggested_onset) if suggestion else ((), None)
    onsets: dict[int, list[str]] = {}
    for a in others:
        if a.onset_frame is not None:
            onsets.setdefault(a.onset_frame, []).append(a.user.name)
    strip = []
    for index, (fid, number) in enumerate(frames):
        value = curve[index] if index < len(curve) else None
        names = onsets.get(number, ())
        strip.append(StripFrame(
            number, f"/frames/{fid}/thumb.jpg",
            f"{min(value, 1.0):.3f}" if value is not None else "",
            f"{value:.2f}" if value is not None else "", number == suggested,
            ", ".join(names), str(len(names)) if len(names) > 1 else ""))
    return strip


def _context(data: ReviewData, user: User, *, queue: str, deciding: bool,
             form: dict | None = None, suggestion=None, **extra) -> dict:
    seq = data.sequence
    # For review.js (playback, the face view), as JSON in the page.
    frames = [{"id": fid, "number": number, "view": f"/frames/{fid}/view.jpg",
               "original": f"/frames/{fid}.png"} for fid, number in data.frames]
    others = data.annotations if deciding else data.others
    strip = _filmstrip(data.frames, others, suggestion)
    curve = suggestion.curve if suggestion else ()
    history = [{"who": e.who, "at": format_time(e.at),
                "action": e.action, "changes": describe_change(e)} for e in data.history]
    return {
        "seq": seq, "name": f"{seq.subject.code} / {seq.code}",
        "frames_json": htmlsafe_json_dumps({"frames": frames}, sort_keys=True),
        "strip": strip,
        # The intensity curve under the strip (capped at 1), formatted here like the strip.
        "curve_points": " ".join(f"{i},{1.05 - min(v, 1.0):.4f}" for i, v in enumerate(curve)),
        "last_frame": frames[-1] if frames else None, "suggestion": suggestion,
        "has_other_onsets": any(f.onset_of for f in strip),
        "emotions": EMOTIONS, "effective": data.effective, "data": data,
        "original": EMOTIONS[seq.original_label] if seq.original_label is not None else None,
        "facs": [_facs_text(au, intensity) for au, intensity in seq.facs or []],
        "others": others, "mine": data.mine,
        "decision": data.decision, "history": history, "deciding": deciding,
        "form": form or _form_values(data, deciding=deciding), "queue": queue,
        "back_url": "/sequences" + (f"?{queue}" if queue else ""),
        "self_url": review_url(seq.id, queue=queue, deciding=deciding),
        "toggle_url": review_url(seq.id, queue=queue, deciding=not deciding),
        "queue_no_face": _queue_filters(queue).no_face if queue else None,
        "max_note": MAX_NOTE_CHARS, "format_time": format_time,
        "message": None, "error": None, "conflict": None, **extra,
    }


def _facs_text(au: float, intensity: float) -> str:
    # CK+ intensities 1-5 are FACS letters A-E; 0 means "not coded".
    letter = "ABCDE"[int(intensity) - 1] if 1 <= int(intensity) <= 5 else ""
    return f"{int(au)}{letter}"


@router.get("/sequences/{sequence_id:int}", include_in_schema=False)
def review_page(request: Request, sequence_id: DbId, session: SessionDep, user: Reviewer,
                queue: str = "", decide: bool = False, saved: str = "",
                prev: Annotated[int, Query(le=MAX_ID)] = 0):
    data = load_review(session, sequence_id=sequence_id, user_id=user.id)
    deciding = decide and user.is_admin
    message = "Saved. That was the last sequence in your queue." if saved == "last" else (
        "Saved." if saved else None)
    previous = sequence_name(session, prev) if prev else None
    if previous is not None:  # Save & next landed here: say the one before is safe
        message = f"Saved {previous}; this is the next in your queue."
    return render(request, "review.html",
                  _context(data, user, queue=queue, deciding=deciding, message=message,
                           **_assist(request, session, data, user, queue)))


async def _form_fields(request: Request) -> dict[str, str]:
    """The posted form, read on the event loop (it is async) so that the handler itself can
    be a plain function: its database work then runs in the thread pool, not on the loop."""
    return {key: str(value) for key, value in (await request.form()).items()}


@router.post("/sequences/{sequence_id:int}/review", include_in_schema=False)
def save_review(request: Request, sequence_id: DbId, session: SessionDep, user: Reviewer,
                form: dict[str, str] = Depends(_form_fields)):
    queue = str(form.get("queue") or "")
    deciding = form.get("mode") == "decision"
    go_next = (form.get("intent") or form.get("action")) == "next"
    status, extra, data_in = 200, {}, None
    try:
        data_in = input_from_strings(form)
        saver = save_decision if deciding else save_annotation
        with one_writer(session):
            saver(session, sequence_id=sequence_id, user=user, data=data_in)
            session.commit()  # visible before the browser follows us to the next page
    # Other refusals (no such sequence, not allowed) go to the error table; these two
    # re-render the panel with what the user typed, so they can fix it or reload.
    except ReviewError as exc:
        status, extra = status_for(exc), {"error": {"field": exc.field, "message": exc.message}}
    except StaleVersion as exc:
        status, extra = status_for(exc), {"conflict": exc, "error": {
            "field": "version", "message": str(exc)}}
    if status == 200 and go_next:
        next_id = next_in_queue(session, user_id=user.id, after_id=sequence_id,
                                filters=_queue_filters(queue), deciding=deciding,
                                suspects=_suspects_for(request, session, queue))
        if next_id is not None:
            target = review_url(next_id, queue=queue, deciding=deciding, prev=sequence_id)
            if is_htmx(request):
                return HTMLResponse("", headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        extra = {"message": "Saved. That was the last sequence in your queue — "
                            "nothing left to review there."}
    elif status == 200:
        extra = {"message": "Saved."}
    if status == 200 and not is_htmx(request):
        saved = "last" if go_next else "1"
        url = review_url(sequence_id, queue=queue, deciding=deciding)
        return RedirectResponse(url + ("&" if "?" in url else "?") + f"saved={saved}",
                                status_code=303)
    # A bad form for a sequence that does not exist: 404 (from the table), not a crash.
    data = load_review(session, sequence_id=sequence_id, user_id=user.id)
    form_values = None
    if status != 200 and data_in is not None:
        # Keep what the user typed; keep the version they read, so a stale form stays stale.
        form_values = {**_values(data_in), "prefilled": False}
    elif status != 200:
        form_values = {**_form_values(data, deciding=deciding), **_raw(form)}
    context = _context(data, user, queue=queue, deciding=deciding, form=form_values, **extra,
                       **_assist(request, session, data, user, queue))
    return render(request, "review.html", context, block="panel", status_code=status)


def _suspects_for(request: Request, session: Session, queue: str):
    """The active model's suspects when the queue filters or sorts by them, else None."""
    if not queue or not _queue_filters(queue).wants_suspects:
        return None
    from app.services.assist.suspects import suspect_scores

    return suspect_scores(session, request.app.state.settings)[0]


def _values(data: ReviewInput) -> dict:
    return {"label": data.label, "onset_frame": data.onset_frame,
            "apex_frame": data.apex_frame, "note": data.note, "exclude": data.exclude,
            "version": data.version}


def _raw(form) -> dict:
    """Unparsable input, echoed back as typed so the user can fix it."""
    names = ("label", "onset_frame", "apex_frame", "note", "version")
    return {name: form.get(name) for name in names if form.get(name) is not None}


@router.get("/sequences/{sequence_id:int}/next", include_in_schema=False)
def skip_to_next(request: Request, sequence_id: DbId, session: SessionDep, user: Reviewer,
                 queue: str = "", decide: bool = False):
    """The next sequence in the queue without saving this one; the list when none is left."""
    deciding = decide and user.is_admin
    next_id = next_in_queue(session, user_id=user.id, after_id=sequence_id,
                            filters=_queue_filters(queue), deciding=deciding,
                            suspects=_suspects_for(request, session, queue))
    if next_id is None:
        return RedirectResponse("/sequences" + (f"?{queue}" if queue else ""), status_code=303)
    return RedirectResponse(review_url(next_id, queue=queue, deciding=deciding),
                            status_code=303)
