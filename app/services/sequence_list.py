"""The sequence list: filters, sorting, pagination, counts and review progress.

Everything is computed from three flat queries (sequences with their apex frame, every
annotation's label/onset columns, decisions), then filtered and sorted in Python: CK+ has
about 600 sequences, and the effective label (app/services/effective.py) decides most filters,
so one pass over all rows is both simpler and faster than N per-row queries."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from math import ceil
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.models import EMOTIONS, Annotation, Decision, Frame, Sequence, Subject
from app.services.faces.cache import SOURCES as FACE_SOURCES
from app.services.faces.cache import no_face_sequence_ids
from app.services.effective import Effective, effective_for
from app.services.faces.view import FaceCoverage, face_coverage

# Order matters: it is the order of the filter pills and of the "status" sort.
STATUSES: tuple[str, ...] = ("unreviewed", "mine", "others", "disagreement", "excluded",
                             "decided")
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
    effective: Effective | None  # None only when loaded without effective values
    my_label: int | None = None
    my_onset: int | None = None
    reviewed_by_me: bool = False
    decided: bool = False
    no_face: bool = False  # set by `mark_no_face` for the source of the filter
    suspect: Any = None  # the active model's Suspect (app.services.assist), by `mark_suspects`
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

    @property
    def mine_percent(self) -> float:
        return 100.0 * self.mine / self.total if self.total else 0.0


@dataclass
class SequencePage:
    filters: ListFilters
    items: list[SequenceRow]
    total: int  # rows matching every filter
    pages: int
    counts: dict[str, int]  # per status, among rows matching every filter but the status
    progress: Progress
    face_coverage: FaceCoverage | None = None  # with the no_face filter: what was located


def load_rows(session: Session, *, user_id: int | None,
              with_effective: bool = True) -> list[SequenceRow]:
    """Every sequence with its effective values and this user's view of it (3 queries).

    Without `with_effective` (enough for the queue when no filter or sort looks at labels,
    disagreements or exclusions) only who annotated what is read: `effective` stays None
    and `statuses` holds only unreviewed/mine/others/decided."""
    apex = Frame.__table__.alias("apex")
    # Core statements on the session's connection, not ORM queries: these are plain column
    # rows, and skipping the ORM's result machinery halves the time for ~600 + ~2000 rows.
    connection = session.connection()
    seq_rows = connection.execute(
        select(Sequence.id, Subject.code, Sequence.code, Sequence.frame_count,
               Sequence.original_label, apex.c.id)
        .join(Subject, Subject.id == Sequence.subject_id)
        .outerjoin(apex, and_(apex.c.sequence_id == Sequence.id,
                              apex.c.number == Sequence.frame_count))
    ).all()
    annotation_query = select(
        Annotation.sequence_id, Annotation.user_id, Annotation.label,
        Annotation.onset_frame, Annotation.apex_frame, Annotation.exclude)
    if not with_effective:
        annotation_query = select(Annotation.sequence_id, Annotation.user_id,
                                  Annotation.label, Annotation.onset_frame)
    by_sequence: dict[int, list] = {}
    for ann in connection.execute(annotation_query):
        by_sequence.setdefault(ann.sequence_id, []).append(ann)
    decisions = {d.sequence_id: d for d in connection.execute(select(
        Decision.sequence_id, Decision.label, Decision.onset_frame, Decision.apex_frame,
        Decision.exclude))}
    unreviewed: dict[int | None, Effective] = {}  # one shared answer per CK+ label
    rows = []
    for seq_id, subject, code, frame_count, original, apex_id in seq_rows:
        annotations = by_sequence.get(seq_id, ())
        decision = decisions.get(seq_id)
        mine = next((a for a in annotations if a.user_id == user_id), None)
        row = SequenceRow(seq_id, subject, code, frame_count, original, apex_id, None,
                          my_label=mine.label if mine else None,
                          my_onset=mine.onset_frame if mine else None,
                          reviewed_by_me=mine is not None, decided=decision is not None)
        if with_effective:
            if annotations or decision:
                row.effective = effective_for(original, annotations, decision)
            else:  # Effective is frozen, so sequences with the same inputs can share it
                if original not in unreviewed:
                    unreviewed[original] = effective_for(original, (), None)
                row.effective = unreviewed[original]
        row.statuses = statuses_of(row, others=len(annotations) - (mine is not None))
        rows.append(row)
    return rows


def needs_effective(filters: ListFilters) -> bool:
    """Whether these filters or this sort look at effective labels, disagreements or
    exclusions (otherwise `load_rows(with_effective=False)` is enough)."""
    return (bool(filters.label or filters.changed)
            or filters.status in ("disagreement", "excluded")
            or filters.sort in ("label", "status", "reviewers", "onset"))


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


def matches(row: SequenceRow, filters: ListFilters, *, ignore_status: bool = False) -> bool:
    eff = row.effective
    if filters.label == "none" and eff.label is not None:
        return False
    if filters.label not in (None, "none") and (
            eff.label is None or EMOTIONS[eff.label] != filters.label):
        return False
    if filters.subject and filters.subject.lower() not in row.subject.lower():
        return False
    if filters.changed and not row.label_changed:
        return False
    if filters.nolabel and row.original_label is not None:
        return False
    if filters.no_face and not row.no_face:
        return False
    if filters.suspects and (row.suspect is None or not row.suspect.flagged):
        return False
    if not ignore_status and filters.status and filters.status not in row.statuses:
        return False
    return True


def mark_no_face(session: Session, rows: list[SequenceRow], filters: ListFilters) -> None:
    """Flag the rows with a frame where the filter's face source found no face (one query,
    and only when the filter asks for it)."""
    if not filters.no_face:
        return
    ids = set(no_face_sequence_ids(session, filters.no_face))
    for row in rows:
        row.no_face = row.id in ids


def mark_suspects(rows: list[SequenceRow], suspects: Mapping[int, Any] | None) -> None:
    """Attach the active model's suspects ({sequence id: Suspect}) to the rows."""
    if suspects:
        for row in rows:
            row.suspect = suspects.get(row.id)


def _label_key(code: int | None) -> str:
    return EMOTIONS[code] if code is not None else "~"  # unlabeled last


def sort_rows(rows: list[SequenceRow], filters: ListFilters) -> list[SequenceRow]:
    keys = {
        "sequence": lambda r: (),
        "label": lambda r: (_label_key(r.effective.label),),
        "original": lambda r: (_label_key(r.original_label),),
        "status": lambda r: (STATUSES.index(r.status),),
        "frames": lambda r: (r.frame_count,),
        "reviewers": lambda r: (r.effective.reviewers,),
        "onset": lambda r: (r.effective.onset is None, r.effective.onset or 0),
        # Most suspect first; sequences the model did not score after the scored ones.
        "suspect": lambda r: (r.suspect is None, r.suspect.rank if r.suspect else 0),
    }
    primary = keys[filters.sort]
    # Ties always fall back to subject/sequence order, so the queue is stable.
    ordered = sorted(rows, key=lambda r: (r.subject, r.code, r.id))
    return sorted(ordered, key=primary, reverse=filters.descending)


def progress_of(rows: list[SequenceRow]) -> Progress:
    return Progress(
        total=len(rows),
        reviewed=sum(r.effective.reviewers > 0 or r.decided for r in rows),
        mine=sum(r.reviewed_by_me for r in rows),
        decided=sum(r.decided for r in rows),
        disagreements=sum(r.effective.disagreement for r in rows),
        excluded=sum(r.effective.exclude for r in rows),
    )


def list_sequences(session: Session, *, user_id: int | None, filters: ListFilters,
                   suspects: Mapping[int, Any] | None = None) -> SequencePage:
    rows = load_rows(session, user_id=user_id)
    mark_no_face(session, rows, filters)
    mark_suspects(rows, suspects)
    faceted = [r for r in rows if matches(r, filters, ignore_status=True)]
    counts = {status: sum(status in r.statuses for r in faceted) for status in STATUSES}
    selected = sort_rows([r for r in faceted if matches(r, filters)], filters)
    pages = max(1, ceil(len(selected) / filters.per_page))
    page = min(filters.page, pages)
    start = (page - 1) * filters.per_page
    coverage = face_coverage(session, filters.no_face) if filters.no_face else None
    return SequencePage(replace(filters, page=page), selected[start:start + filters.per_page],
                        len(selected), pages, counts, progress_of(rows), coverage)


def review_progress(session: Session, *, user_id: int | None) -> Progress:
    return progress_of(load_rows(session, user_id=user_id))
