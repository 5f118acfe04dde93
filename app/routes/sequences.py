"""The sequence list: a filterable grid; htmx swaps only the results when a filter changes."""

from typing import NamedTuple

from fastapi import APIRouter, Request

from app.auth import Reviewer
from app.deps import SessionDep
from app.htmx import render
from app.models import EMOTIONS
from app.services.sequence_list import (
    PER_PAGE_CHOICES,
    SORTS,
    STATUS_TITLES,
    STATUSES,
    FilterError,
    ListFilters,
    SequenceRow,
    list_sequences,
    parse_filters,
)

router = APIRouter()
NAV = [("Sequences", "/sequences", "reviewer")]

SORT_TITLES = {"sequence": "Subject / sequence", "label": "Effective label",
               "original": "CK+ label", "status": "Review status", "frames": "Frame count",
               "reviewers": "Reviewers", "onset": "Onset frame",
               "suspect": "Most suspect first"}


class Suspicion(NamedTuple):
    reason: str
    rank: int
    predicted: str


class Card(NamedTuple):
    """What one card of the grid prints, and its cache key (app/fragments.py): the card's
    template (partials/seq_card.html) reads nothing but this, so two rows that give the same
    Card give the same HTML."""

    id: int
    queue: str  # the list's filters, carried to the review page's Save & next
    name: str
    status: str
    status_title: str
    subject: str
    code: str
    frame_count: int
    apex_frame_id: int | None
    original: str | None  # CK+'s label
    label: str | None  # the effective label now
    label_changed: bool
    disagreement: bool
    label_source: str  # "admin", "reviewers", or "" (CK+'s own)
    onset: int | None
    reviewers: int
    suspect: Suspicion | None  # only when the active model flags it


def card_of(row: SequenceRow, queue: str) -> Card:
    eff = row.effective
    suspect = row.suspect
    return Card(
        row.id, queue, row.name, row.status, STATUS_TITLES[row.status], row.subject, row.code,
        row.frame_count, row.apex_frame_id,
        EMOTIONS[row.original_label] if row.original_label is not None else None,
        EMOTIONS[eff.label] if eff.label is not None else None, row.label_changed,
        eff.disagreement,
        {"decision": "admin", "reviewers": "reviewers"}.get(eff.label_source, ""),
        eff.onset, eff.reviewers,
        Suspicion(suspect.reason, suspect.rank, suspect.predicted)
        if suspect is not None and suspect.flagged else None)


@router.get("/sequences", include_in_schema=False)
def sequence_list(request: Request, session: SessionDep, user: Reviewer):
    error = None
    try:
        filters = parse_filters(request.query_params)
    except FilterError as exc:
        error, filters = f"Ignored the filter {exc.field}: {exc.message}", ListFilters()
    from app.services.assist.suspects import suspect_scores

    suspects, suspects_note = (suspect_scores(session, request.app.state.settings)
                               if filters.wants_suspects else (None, None))
    page = list_sequences(session, user_id=user.id, filters=filters, suspects=suspects)
    queue = page.filters.query(with_page=False)
    context = {"page": page, "filters": page.filters, "error": error, "emotions": EMOTIONS,
               "statuses": STATUSES, "status_titles": STATUS_TITLES, "sorts": SORTS,
               "sort_titles": SORT_TITLES, "per_page_choices": PER_PAGE_CHOICES,
               "suspects_note": suspects_note,
               "cards": [card_of(row, queue) for row in page.items]}
    # The canonical URL (no empty parameters) goes into the address bar on htmx swaps.
    query = page.filters.query()
    headers = {"HX-Push-Url": "/sequences" + (f"?{query}" if query else "")}
    return render(request, "sequences.html", context, block="results", headers=headers)
