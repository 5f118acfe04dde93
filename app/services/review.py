"""Reviewing one sequence: load it, save a reviewer's annotation or an admin's decision
(validated, optimistically locked, audited and, for an annotation, the sequence's kept
review tally recounted: all in the caller's one transaction), and find the next sequence in
a reviewer's queue.

Locking: every Annotation/Decision row carries a `version`; one that does not exist yet is
version 0. A save names the version it was read at and succeeds only if that is still the
stored version, checked in the UPDATE itself (`WHERE version = :read`), so two tabs, two
devices or two admins can never overwrite each other silently."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from app.models import (
    EMOTIONS,
    MAX_ID,
    Annotation,
    AuditEntry,
    Decision,
    Frame,
    Sequence,
    Subject,
    User,
    utcnow,
)
from app.services import audit
from app.services.effective import Effective, effective_for, keep_tally

MAX_NOTE_CHARS = 2000
FIELDS = ("label", "onset_frame", "apex_frame", "note", "exclude")


class ReviewError(ValueError):
    """An invalid value; `field` names it (label, onset_frame, apex_frame, note, version)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SequenceMissing(LookupError):
    pass


class NotAllowed(PermissionError):
    pass


class StaleVersion(Exception):
    """The row changed since the client read it."""

    def __init__(self, *, what: str, read_version: int, current: dict[str, Any] | None,
                 by: str | None, at: datetime | None):
        self.what, self.read_version, self.current, self.by, self.at = (
            what, read_version, current, by, at)
        if current is None:
            message = (f"This {what} does not exist yet (version 0), but the save was made "
                       f"from version {read_version}. Reload the page, then save again.")
        else:
            when = f" at {format_time(at)}" if at else ""
            message = (f"This {what} was changed by {by}{when} (now version "
                       f"{current['version']}, you read version {read_version}). Reload the "
                       "page to see the change, then save again.")
        super().__init__(message)


@dataclass(frozen=True)
class ReviewInput:
    label: int | None
    onset_frame: int | None
    apex_frame: int | None
    note: str
    exclude: bool
    version: int


def as_utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are stored as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def format_time(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def input_from_strings(form: Mapping[str, Any]) -> ReviewInput:
    """A ReviewInput from form fields (all strings); raises ReviewError naming the field."""

    def number(name: str, *, required: bool = False) -> int | None:
        raw = str(form.get(name) or "").strip()
        if not raw:
            if required:
                raise ReviewError(name, "is missing")
            return None
        if not raw.lstrip("-").isdigit():
            raise ReviewError(name, f"{raw!r} is not a whole number")
        return int(raw)

    exclude = str(form.get("exclude") or "").strip().lower() in ("1", "on", "true", "yes")
    return ReviewInput(label=number("label"), onset_frame=number("onset_frame"),
                       apex_frame=number("apex_frame"), note=str(form.get("note") or ""),
                       exclude=exclude, version=number("version", required=True) or 0)


def validate(data: ReviewInput, *, frame_count: int) -> None:
    if data.label is not None and not 0 <= data.label < len(EMOTIONS):
        raise ReviewError("label", f"{data.label} is not a CK+ emotion code (0-7)")
    if data.label is None and not data.exclude:
        raise ReviewError("label", "choose an emotion (0-7) or mark the sequence excluded")
    for name in ("onset_frame", "apex_frame"):
        value = getattr(data, name)
        if value is not None and not 1 <= value <= frame_count:
            raise ReviewError(name, f"frame {value} is outside this sequence's frames "
                                    f"1..{frame_count}")
    if (data.onset_frame is not None and data.apex_frame is not None
            and data.apex_frame < data.onset_frame):
        raise ReviewError("apex_frame", f"apex frame {data.apex_frame} comes before the "
                                        f"onset frame {data.onset_frame}")
    if len(data.note) > MAX_NOTE_CHARS:
        raise ReviewError("note", f"is {len(data.note)} characters long; at most "
                                  f"{MAX_NOTE_CHARS} are allowed")
    if data.version < 0:
        raise ReviewError("version", "must be 0 or more")


def snapshot(row: Annotation | Decision | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"label": row.label, "onset_frame": row.onset_frame, "apex_frame": row.apex_frame,
            "note": row.note, "exclude": row.exclude, "version": row.version}


# The save's statements, built once like the review page's (below): building a statement
# and its cache key cost more than SQLite took to run it.
_FRAME_COUNT = select(Sequence.frame_count).where(Sequence.id == bindparam("seq"))
_MY_ANNOTATION = select(Annotation).where(Annotation.sequence_id == bindparam("seq"),
                                          Annotation.user_id == bindparam("uid"))


def _versioned_update(model, key: tuple[str, ...]) -> Update:
    """UPDATE ... SET <the execution's values> WHERE <the row's key> AND version = :read:
    the optimistic lock's check is the statement's own condition."""
    table = model.__table__
    return update(table).where(*(table.c[k] == bindparam(f"key_{k}") for k in key),
                               table.c.version == bindparam("read"))


# The same keys `save_annotation` and `save_decision` pass to `_save`.
_UPDATE = {Annotation: _versioned_update(Annotation, ("sequence_id", "user_id")),
           Decision: _versioned_update(Decision, ("sequence_id",))}


def _frame_count(session: Session, sequence_id: int) -> int:
    frame_count = session.scalar(_FRAME_COUNT, {"seq": sequence_id})
    if frame_count is None:
        raise SequenceMissing(f"no sequence with id {sequence_id}")
    return frame_count


def save_annotation(session: Session, *, sequence_id: int, user: User,
                    data: ReviewInput) -> Annotation:
    """Store `user`'s own annotation and recount the sequence's review tally, in the
    caller's transaction; raises ReviewError, StaleVersion or SequenceMissing."""
    validate(data, frame_count=_frame_count(session, sequence_id))
    existing = session.scalar(_MY_ANNOTATION, {"seq": sequence_id, "uid": user.id})
    return _save(session, Annotation, existing, data, user=user, sequence_id=sequence_id,
                 what="annotation", key={"sequence_id": sequence_id, "user_id": user.id})


def save_decision(session: Session, *, sequence_id: int, user: User,
                  data: ReviewInput) -> Decision:
    """Store the admin's final decision; same validation, locking and audit as annotations."""
    if not user.is_admin:
        raise NotAllowed("Only admins can record a final decision.")
    validate(data, frame_count=_frame_count(session, sequence_id))
    existing = session.get(Decision, sequence_id)
    return _save(session, Decision, existing, data, user=user, sequence_id=sequence_id,
                 what="admin decision", key={"sequence_id": sequence_id})


def _save(session: Session, model, existing, data: ReviewInput, *, user: User,
          sequence_id: int, what: str, key: dict[str, int]):
    read = data.version
    if (existing.version if existing else 0) != read:
        raise _stale(what, read, existing)
    values = {name: getattr(data, name) for name in FIELDS}
    before = snapshot(existing)
    if existing is not None and all(getattr(existing, n) == v for n, v in values.items()):
        return existing  # nothing changed: no new version, no audit entry
    now = utcnow()
    if existing is None:
        row = model(**{**key, **values, "user_id": user.id, "version": 1, "updated_at": now})
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            # Someone saved a first version between our read and our insert (the unique
            # key caught it). Nothing else was written in this unit of work yet.
            session.rollback()
            raise _stale(what, read, session.scalar(select(model).filter_by(**key))) from None
    else:
        stored = {**values, "version": read + 1, "updated_at": now, "user_id": user.id}
        result = session.connection().execute(_UPDATE[model], {
            **stored, "read": read, **{f"key_{k}": v for k, v in key.items()}})
        if result.rowcount != 1:
            session.expire(existing)  # someone else's save: reload it to say whose
            raise _stale(what, read, existing)
        # The row now holds exactly `stored` (the UPDATE matched it by key and version):
        # set that as loaded rather than expire it and read it back (a query per save).
        if existing.user_id != user.id:
            session.expire(existing, ["user"])  # another admin's decision until now
        for name, value in stored.items():
            set_committed_value(existing, name, value)
        row = existing
    if model is Annotation:  # the decision is read as it is; the reviewers' side is kept
        keep_tally(session, sequence_id)
    action = "annotation.save" if model is Annotation else "decision.save"
    audit.record(session, action=action, user_id=user.id, sequence_id=sequence_id,
                 before=before, after=snapshot(row))
    return row


def _stale(what: str, read: int, row) -> StaleVersion:
    return StaleVersion(what=what, read_version=read, current=snapshot(row),
                        by=row.user.name if row is not None else None,
                        at=row.updated_at if row is not None else None)


class HistoryEntry(NamedTuple):
    """One entry of a sequence's history, as the review page lists it."""

    at: datetime
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    who: str  # the user's name; "system" for entries without one (imports)


class Author(NamedTuple):
    """Who saved a row, named as the pages and the API name them (`row.user.name`)."""

    name: str


class SubjectCode(NamedTuple):
    code: str


class SequenceView(NamedTuple):
    """The reviewed sequence as the page reads it (`seq.subject.code` as on the model)."""

    id: int
    code: str
    subject: SubjectCode
    original_label: int | None
    frame_count: int
    facs: list | None


class SavedReview(NamedTuple):
    """An annotation or the admin decision as stored, read-only, with the same attribute
    names as the models (`label`, `version`, `user.name` ...), so pages and the API read
    either. Saving works on the models; this is what the review page shows."""

    user_id: int
    label: int | None
    onset_frame: int | None
    apex_frame: int | None
    note: str
    exclude: bool
    version: int
    updated_at: datetime
    user: Author  # last: the columns before it are the stored ones (_SAVED)


@dataclass
class ReviewData:
    sequence: SequenceView
    frames: list[tuple[int, int]]  # (frame id, number)
    annotations: list[SavedReview]  # everyone's
    mine: SavedReview | None
    decision: SavedReview | None
    effective: Effective
    history: list[HistoryEntry]  # newest first

    @property
    def others(self) -> list[SavedReview]:
        return [a for a in self.annotations if a is not self.mine]


# The review page's queries, built once: building a statement (and its cache key) cost more
# than SQLite took to run it. Each binds :seq, the history also :limit. All are Core rows:
# each ORM query cost about 0.25 ms of its own, however few its rows (a review page
# averages three annotations and two history rows), and these are only read.
_SAVED = SavedReview._fields[:-1]
_DECIDER = aliased(User)
_SEQUENCE = (select(Sequence.id, Sequence.code, Subject.code, Sequence.original_label,
                    Sequence.frame_count, Sequence.facs,
                    *(getattr(Decision, c) for c in _SAVED), _DECIDER.name)
             .join(Subject, Subject.id == Sequence.subject_id)
             .outerjoin(Decision, Decision.sequence_id == Sequence.id)
             .outerjoin(_DECIDER, _DECIDER.id == Decision.user_id)
             .where(Sequence.id == bindparam("seq")))
_FRAMES = (select(Frame.id, Frame.number).where(Frame.sequence_id == bindparam("seq"))
           .order_by(Frame.number))
_ANNOTATIONS = (select(*(getattr(Annotation, c) for c in _SAVED), User.name)
                .join(User, User.id == Annotation.user_id)
                .where(Annotation.sequence_id == bindparam("seq"))
                .order_by(Annotation.updated_at))


def _saved(row) -> SavedReview:
    """A SavedReview from the columns of _SAVED followed by the author's name."""
    *values, name = row
    return SavedReview(*values, Author(name))


_HISTORY = (select(AuditEntry.at, AuditEntry.action, AuditEntry.before, AuditEntry.after,
                   User.name)
            .outerjoin(User, User.id == AuditEntry.user_id)
            .where(AuditEntry.sequence_id == bindparam("seq"))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(bindparam("limit")))


_NAME = (select(Subject.code, Sequence.code).join(Subject, Subject.id == Sequence.subject_id)
         .where(Sequence.id == bindparam("seq")))


def sequence_name(session: Session, sequence_id: int) -> str | None:
    """'S005 / 001', or None for an unknown id (one small query: pages that only name a
    sequence, such as Save & next's confirmation, need nothing else of it). An id no row can
    have is unknown too, not a driver error: callers pass ids from query strings."""
    if not 0 < sequence_id <= MAX_ID:
        return None
    row = session.connection().execute(_NAME, {"seq": sequence_id}).first()
    return f"{row[0]} / {row[1]}" if row else None


def load_review(session: Session, *, sequence_id: int, user_id: int,
                history_limit: int = 30) -> ReviewData:
    """One sequence with its frames, everyone's annotations, the decision and the history,
    in four small queries (the review page and the API both use this; only the page shows
    the history)."""
    session.flush()  # Core does not autoflush: pending changes first (free when none)
    run = session.connection().execute
    found = run(_SEQUENCE, {"seq": sequence_id}).first()
    if found is None:
        raise SequenceMissing(f"no sequence with id {sequence_id}")
    sequence = SequenceView(found[0], found[1], SubjectCode(found[2]), *found[3:6])
    decision = _saved(found[6:]) if found[6] is not None else None
    annotations = [_saved(row) for row in run(_ANNOTATIONS, {"seq": sequence_id})]
    frames = [tuple(r) for r in run(_FRAMES, {"seq": sequence_id})]
    history = [HistoryEntry(at, action, before, after, who or "system")
               for at, action, before, after, who in run(
                   _HISTORY, {"seq": sequence_id, "limit": history_limit})]
    mine = next((a for a in annotations if a.user_id == user_id), None)
    return ReviewData(sequence, frames, annotations, mine, decision,
                      effective_for(sequence.original_label, annotations, decision), history)


def describe_change(entry: HistoryEntry) -> list[str]:
    """Readable lines for a history entry: what changed from `before` to `after`."""
    before, after = entry.before or {}, entry.after or {}
    lines = []
    for name in FIELDS:
        old, new = before.get(name), after.get(name)
        empty = new is None or new == "" or new is False  # not 0: that is "neutral"
        if old == new or (entry.before is None and empty):
            continue  # unchanged, or an empty field of a first save
        lines.append(f"{_field_title(name)}: {_show(name, old)} → {_show(name, new)}")
    return lines


def _field_title(name: str) -> str:
    return {"onset_frame": "onset", "apex_frame": "apex"}.get(name, name)


def _show(name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if name == "label":
        return EMOTIONS[value] if isinstance(value, int) and 0 <= value < 8 else str(value)
    if name == "exclude":
        return "yes" if value else "no"
    if name == "note":
        text = str(value)
        return f"“{text[:60]}…”" if len(text) > 60 else f"“{text}”"
    return str(value)
