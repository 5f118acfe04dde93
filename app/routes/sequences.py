"""The sequence list: a filterable grid; htmx swaps only the results when a filter changes."""

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
    list_sequences,
    parse_filters,
)

router = APIRouter()
NAV = [("Sequences", "/sequences", "reviewer")]

SORT_TITLES = {"sequence": "Subject / sequence", "label": "Effective label",
               "original": "CK+ label", "status": "Review status", "frames": "Frame count",
               "reviewers": "Reviewers", "onset": "Onset frame",
               "suspect": "Most suspect first"}


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
    context = {"page": page, "filters": page.filters, "error": error, "emotions": EMOTIONS,
               "statuses": STATUSES, "status_titles": STATUS_TITLES, "sorts": SORTS,
               "sort_titles": SORT_TITLES, "per_page_choices": PER_PAGE_CHOICES,
               "queue": page.filters.query(with_page=False), "suspects_note": suspects_note}
    # The canonical URL (no empty parameters) goes into the address bar on htmx swaps.
    query = page.filters.query()
    headers = {"HX-Push-Url": "/sequences" + (f"?{query}" if query else "")}
    return render(request, "sequences.html", context, block="results", headers=headers)
