"""The sequence list: filters, sorting, pagination, counts and review progress.

The database does the work: each sequence's effective values come from its kept review
tally and the admin's decision (app/services/effective.py, `EffectiveSql`), so filters,
sorts, the per-status counts and the progress are SQL over one row per sequence, and only
the page's rows come back (two queries, whatever the dataset's size). The queue of the
review page (its position, the next sequence) reads the same SQL, as ids."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from math import ceil
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.models import EMOTIONS
from app.services import list_sql as sql
from app.services.effective import Effective
from app.services.faces.cache import SOURCES as FACE_SOURCES
from app.services.faces.cache import no_face_sequence_ids
from app.services.faces.view import FaceCoverage, face_coverage

# Order matters: it is the order of the filter pills and of the "status" sort.
STATUSES = sql.STATUSES
STATUS_TITLES = {"unreviewed": "Unreviewed", "mine": "Reviewed by me",
                 "others": "Reviewed by others", "disagreement": "Disagreement",
                 "excluded": "Excluded", "decided": "Decided by admin"}
SORTS: tuple[str, ...] = ("sequence", "label", "original", "status", "frames", "reviewers",
                          "onset", "suspect")
PER_PAGE_CHOICES: tuple[int, ...] = (24, 48, 96, 200)
DEFAULT_PER_PAGE = 48


class FilterError(ValueError):
    """A list filter that cannot be understood; `field` names the query parameter."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ListFilters:
    label: str | None = None  # effective label name, or "none" (no effective label)
    status: str | None = None
    subject: str = ""
    changed: bool = False  # effective label differs from the CK+ label
    nolabel: bool = False  # no CK+ emotion file
    no_face: str | None = None  # a face source: sequences with a frame it found no face in
    suspects: bool = False  # flagged by the active model as a suspected mislabel
    sort: str = "sequence"
    descending: bool = False
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def query(self, *, page: int | None = None, with_page: bool = True) -> str:
        """The URL query string for these filters (defaults left out, so URLs stay short)."""
        pairs: list[tuple[str, str]] = []
        if self.label:
            pairs.append(("label", self.label))
        if self.status:
            pairs.append(("status", self.status))
        if self.subject:
            pairs.append(("subject", self.subject))
        if self.changed:
            pairs.append(("changed", "1"))
        if self.nolabel:
            pairs.append(("nolabel", "1"))
        if self.no_face:
            pairs.append(("no_face", self.no_face))
        if self.suspects:
            pairs.append(("suspects", "1"))
        if self.sort != self.default_sort or self.descending:
            pairs.append(("sort", ("-" if self.descending else "") + self.sort))
        if self.per_page != DEFAULT_PER_PAGE:
            pairs.append(("per_page", str(self.per_page)))
        page = self.page if page is None else page
        if with_page and page != 1:
            pairs.append(("page", str(page)))
        return urlencode(pairs)

    @property
    def active(self) -> bool:
        return bool(self.label or self.status or self.subject or self.changed or self.nolabel
                    or self.no_face or self.suspects)

    @property
    def default_sort(self) -> str:
        return "suspect" if self.suspects else "sequence"

    @property
    def wants_suspects(self) -> bool:
        """Whether the active model's suspects must be computed for these filters."""
        return self.suspects or self.sort == "suspect"


def parse_filters(params: Mapping[str, str]) -> ListFilters:
    """Read filters from query parameters; raises FilterError naming the bad parameter."""
    label = (params.get("label") or "").strip().lower() or None
    if label is not None and label != "none":
        if label.isdigit() and int(label) < len(EMOTIONS):
            label = EMOTIONS[int(label)]
        elif label not in EMOTIONS:
            raise FilterError("label", f"{label!r} is not an emotion code 0-7, a name "
                                       f"({', '.join(EMOTIONS)}) or 'none'")
    status = (params.get("status") or "").strip().lower() or None
    if status is not None and status not in STATUSES:
        raise FilterError("status", f"{status!r} is not one of {', '.join(STATUSES)}")
    no_face = (params.get("no_face") or "").strip().lower() or None
    if no_face is not None and no_face not in FACE_SOURCES:
        raise FilterError("no_face", f"{no_face!r} is not a face source: "
                                     f"{' or '.join(FACE_SOURCES)}")
    suspects = _flag(params, "suspects")
    sort = (params.get("sort") or ("suspect" if suspects else "sequence")).strip().lower()
    descending = sort.startswith("-")
    sort = sort.lstrip("-")
    if sort not in SORTS:
        raise FilterError("sort", f"{sort!r} is not one of {', '.join(SORTS)} "
                                  "(prefix with '-' for descending)")
    return ListFilters(
        label=label, status=status, subject=(params.get("subject") or "").strip()[:16],
        changed=_flag(params, "changed"), nolabel=_flag(params, "nolabel"), no_face=no_face,
        suspects=suspects, sort=sort, descending=descending,
        page=_positive_int(params, "page", 1),
        per_page=min(_positive_int(params, "per_page", DEFAULT_PER_PAGE), max(PER_PAGE_CHOICES)),
    )


def _flag(params: Mapping[str, str], name: str) -> bool:
    return (params.get(name) or "").strip().lower() in ("1", "true", "on", "yes")


def _positive_int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise FilterError(name, f"{raw!r} is not a whole number of at least 1")
    return int(raw)


@dataclass
class SequenceRow:
    id: int
    subject: str
    code: str
    frame_count: int
    original_label: int | None
    apex_frame_id: int | None
    effective: Effective | None
    my_label: int | None = None
    my_onset: int | None = None
    reviewed_by_me: bool = False
    decided: bool = False
    suspect: Any = None  # the active model's Suspect (app.services.assist), when it has one
    statuses: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        return f"{self.subject}_{self.code}"

    @property
    def status(self) -> str:
        """The one status a badge shows: the most urgent that applies."""
        for status in ("excluded", "disagreement", "decided", "mine", "others"):
            if status in self.statuses:
                return status
        return "unreviewed"

    @property
    def label_changed(self) -> bool:
        eff = self.effective
        return eff.label_source in ("decision", "reviewers") and eff.label != self.original_label


@dataclass
class Progress:
    total: int
    reviewed: int  # at least one reviewer or an admin decision
    mine: int
    decided: int
    disagreements: int
    excluded: int

    @property
    def percent(self) -> float:
        return 100.0 * self.reviewed / self.total if self.total else 0.0


@dataclass
class SequencePage:
    filters: ListFilters
    items: list[SequenceRow]
    total: int  # rows matching every filter
    pages: int
    counts: dict[str, int]  # per status, among rows matching every filter but the status
    progress: Progress
    face_coverage: FaceCoverage | None = None  # with the no_face filter: what was located


def statuses_of(row: SequenceRow, *, others: int) -> frozenset[str]:
    found = set()
    if not row.reviewed_by_me and not others and not row.decided:
        found.add("unreviewed")
    if row.reviewed_by_me:
        found.add("mine")
    elif others:
        found.add("others")
    if row.effective is not None and row.effective.disagreement:
        found.add("disagreement")
    if row.effective is not None and row.effective.exclude:
        found.add("excluded")
    if row.decided:
        found.add("decided")
    return frozenset(found)


def progress_of(rows: list[SequenceRow]) -> Progress:
    return Progress(
        total=len(rows),
        reviewed=sum(r.effective.reviewers > 0 or r.decided for r in rows),
        mine=sum(r.reviewed_by_me for r in rows),
        decided=sum(r.decided for r in rows),
        disagreements=sum(r.effective.disagreement for r in rows),
        excluded=sum(r.effective.exclude for r in rows),
    )


def _by_suspect(items: list, filters: ListFilters, suspects: Mapping[int, Any] | None) -> list:
    """The suspect sort, most suspect first, sequences the model did not score after the
    scored ones (its ranks are not in the database); other sorts came ordered by SQL."""
    if filters.sort != "suspect":
        return items
    ranks = {i: s.rank for i, s in (suspects or {}).items()}

    def key(item):
        rank = ranks.get(item.id)
        return rank is None, rank or 0
    return sorted(items, key=key, reverse=filters.descending)


def _params(session: Session, filters: ListFilters, user_id: int | None,
            suspects: Mapping[int, Any] | None) -> dict[str, Any]:
    no_face = no_face_sequence_ids(session, filters.no_face) if filters.no_face else ()
    flagged = [i for i, s in (suspects or {}).items() if s.flagged] if filters.suspects else ()
    return sql.params(filters, viewer=user_id, no_face_ids=no_face, suspect_ids=flagged)


def _rows(session: Session, statement, params: dict[str, Any]) -> list[SequenceRow]:
    rows = []
    for (seq_id, subject, code, frames, original, apex_id, label, source, onset, apex,
         exclude, reviewers, decided, my_label, my_onset, is_mine) in (
            session.connection().execute(statement, params)):
        effective = Effective(label, source, onset, apex, bool(exclude), reviewers)
        row = SequenceRow(seq_id, subject, code, frames, original, apex_id, effective,
                          my_label=my_label, my_onset=my_onset, reviewed_by_me=bool(is_mine),
                          decided=bool(decided))
        row.statuses = statuses_of(row, others=reviewers - bool(is_mine))
        rows.append(row)
    return rows


def _counts(session: Session, facet: sql.Shape, params: dict[str, Any]
            ) -> tuple[int, dict[str, int], Progress]:
    """How many rows match the facet filters, per status too, and the whole progress."""
    found = session.connection().execute(sql.counts_statement(facet), params).one()
    counts = dict(zip(STATUSES, found[1:1 + len(STATUSES)], strict=True))
    return found[0], counts, Progress(*found[1 + len(STATUSES):])


def load_rows(session: Session, *, user_id: int | None) -> list[SequenceRow]:
    """Every sequence with its effective values and this user's view of it (one query)."""
    return _rows(session, sql.rows_statement(sql.Shape(), False),
                 sql.params(ListFilters(), viewer=user_id))


def list_sequences(session: Session, *, user_id: int | None, filters: ListFilters,
                   suspects: Mapping[int, Any] | None = None) -> SequencePage:
    """One page of the list, its per-status counts and the progress (two queries)."""
    shape, params = sql.shape_of(filters), _params(session, filters, user_id, suspects)
    faceted, counts, progress = _counts(session, shape.facet(), params)
    total = counts[filters.status] if filters.status else faceted
    pages = max(1, ceil(total / filters.per_page))
    page = min(filters.page, pages)
    start = (page - 1) * filters.per_page
    if filters.sort == "suspect":
        items = _by_suspect(_rows(session, sql.rows_statement(shape, False), params),
                            filters, suspects)[start:start + filters.per_page]
    else:
        items = _rows(session, sql.rows_statement(shape, True),
                      {**params, "offset": start, "limit": filters.per_page})
    for row in items:
        row.suspect = (suspects or {}).get(row.id)
    coverage = face_coverage(session, filters.no_face) if filters.no_face else None
    return SequencePage(replace(filters, page=page), items, total, pages, counts, progress,
                        coverage)


def review_progress(session: Session, *, user_id: int | None) -> Progress:
    return _counts(session, sql.Shape(), sql.params(ListFilters(), viewer=user_id))[2]


def queue_entries(session: Session, *, user_id: int, filters: ListFilters,
                  suspects: Mapping[int, Any] | None = None) -> list:
    """Every sequence in the list's order (one query), as rows of `id`, `matches` (it is in
    the list), `reviewed_by_me` and `decided`."""
    found = session.connection().execute(sql.queue_statement(sql.shape_of(filters)),
                                         _params(session, filters, user_id, suspects)).all()
    return _by_suspect(found, filters, suspects)


def queue_place(session: Session, *, user_id: int, sequence_id: int, filters: ListFilters,
                suspects: Mapping[int, Any] | None = None) -> tuple[int, int] | None:
    """(position, length) of this sequence among the list's matching rows, e.g. (3, 9);
    None when it is not among them. Counted by the database, except in the suspect sort,
    whose ranks live in Python."""
    if filters.sort == "suspect":
        ids = [e.id for e in queue_entries(session, user_id=user_id, filters=filters,
                                           suspects=suspects) if e.matches]
        return (ids.index(sequence_id) + 1, len(ids)) if sequence_id in ids else None
    found = session.connection().execute(
        sql.position_statement(sql.shape_of(filters)),
        {**_params(session, filters, user_id, suspects), "sequence_id": sequence_id}).first()
    return (found.position, found.length) if found else None


def next_in_queue(session: Session, *, user_id: int, after_id: int, filters: ListFilters,
                  deciding: bool = False, suspects: Mapping[int, Any] | None = None
                  ) -> int | None:
    """The reviewer's next sequence: in the list's order (with the list's filters), the first
    one after `after_id` that this user has not reviewed yet (when `deciding`, that has no
    admin decision yet), wrapping around to the start; None when the queue is empty. The
    database picks it, except in the suspect sort, whose ranks live in Python."""
    if filters.sort != "suspect":
        return session.connection().execute(
            sql.next_statement(sql.shape_of(filters), deciding),
            {**_params(session, filters, user_id, suspects), "after_id": after_id}).scalar()
    entries = queue_entries(session, user_id=user_id, filters=filters, suspects=suspects)
    start = next((i for i, e in enumerate(entries) if e.id == after_id), -1) + 1
    for entry in entries[start:] + entries[:start]:
        if entry.id == after_id or not entry.matches:
            continue
        if (entry.decided if deciding else entry.reviewed_by_me):
            continue
        return entry.id
    return None

