"""The sequence list's SQL, built once per *shape* of the filters (which filters are on,
the sort) and cached: building these statements costs more than running them over a
CK+-sized table, so each request only binds its values (the viewer, a label code, a subject
pattern, id lists, the page).

Each sequence is one row: sequences joined with the subject, the kept review tally and the
admin's decision (effective values: app/services/effective.py, `EffectiveSql`) and the
viewer's own annotation (`mine`). Statuses are conditions (`STATUS_SQL`, the SQL of
`sequence_list.statuses_of`)."""

from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    func,
    not_,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import aliased

from app.models import EMOTIONS, Annotation, Frame, Sequence, Subject
from app.services.effective import EffectiveSql as Eff

STATUSES: tuple[str, ...] = ("unreviewed", "mine", "others", "disagreement", "excluded",
                             "decided")
mine = aliased(Annotation, name="mine")
IS_MINE = mine.id.is_not(None)
STATUS_SQL: dict[str, ColumnElement] = {
    "unreviewed": and_(Eff.reviewers == 0, not_(Eff.decided)), "mine": IS_MINE,
    "others": and_(not_(IS_MINE), Eff.reviewers > 0), "disagreement": Eff.disagreement,
    "excluded": Eff.exclude, "decided": Eff.decided}
# The badge's status (SequenceRow.status: the most urgent that applies), as its place in
# STATUSES, for the status sort.
_STATUS_RANK = case(*((STATUS_SQL[s], STATUSES.index(s)) for s in (
    "excluded", "disagreement", "decided", "mine", "others")), else_=0)
# Label sorts go by name (anger, contempt, ...), unlabeled last.
_LABEL_RANK = {code: rank for rank, code in
               enumerate(sorted(range(len(EMOTIONS)), key=EMOTIONS.__getitem__))}
_apex = Frame.__table__.alias("apex")
ROW_COLUMNS = (Sequence.id, Subject.code, Sequence.code, Sequence.frame_count,
               Sequence.original_label, _apex.c.id, Eff.label, Eff.label_source, Eff.onset,
               Eff.apex, Eff.exclude, Eff.reviewers, Eff.decided, mine.label, mine.onset_frame,
               IS_MINE)


class Shape(NamedTuple):
    """What decides a statement's SQL text; the values travel as parameters (`params`)."""

    label: str | None = None  # None, "none" (no effective label) or "code" (a label)
    subject: bool = False
    changed: bool = False
    nolabel: bool = False
    no_face: bool = False
    suspects: bool = False
    status: str | None = None
    sort: str = "sequence"
    descending: bool = False

    def facet(self) -> "Shape":
        """The shape of the filters the per-status counts honour: all but status and sort."""
        return self._replace(status=None, sort="sequence", descending=False)


def shape_of(filters) -> Shape:
    label = None if not filters.label else "none" if filters.label == "none" else "code"
    return Shape(label, bool(filters.subject), filters.changed, filters.nolabel,
                 bool(filters.no_face), filters.suspects, filters.status, filters.sort,
                 filters.descending)


def params(filters, *, viewer: int | None, no_face_ids=(), suspect_ids=()) -> dict[str, Any]:
    subject = filters.subject.lower()
    for char in "/%_":  # LIKE wildcards match themselves (ESCAPE '/')
        subject = subject.replace(char, "/" + char)
    return {"viewer": viewer, "subject": f"%{subject}%", "no_face_ids": list(no_face_ids),
            "suspect_ids": list(suspect_ids),
            "label": EMOTIONS.index(filters.label) if filters.label not in (None, "none")
            else None}


def _from(*columns) -> Select:
    statement = Eff.joined(select(*columns).select_from(Sequence)
                           .join(Subject, Subject.id == Sequence.subject_id))
    return statement.outerjoin(mine, and_(mine.sequence_id == Sequence.id,
                                          mine.user_id == bindparam("viewer")))


@lru_cache(maxsize=512)
def conditions(shape: Shape) -> tuple[ColumnElement, ...]:
    """Every filter of the shape as a condition (the status too, when it has one)."""
    found = []
    if shape.label == "none":
        found.append(Eff.label.is_(None))
    elif shape.label:
        found.append(Eff.label == bindparam("label"))
    if shape.subject:
        found.append(func.lower(Subject.code).like(bindparam("subject"), escape="/"))
    if shape.changed:
        found.append(Eff.changed)
    if shape.nolabel:
        found.append(Sequence.original_label.is_(None))
    if shape.no_face:
        found.append(Sequence.id.in_(bindparam("no_face_ids", expanding=True)))
    if shape.suspects:
        found.append(Sequence.id.in_(bindparam("suspect_ids", expanding=True)))
    if shape.status:
        found.append(STATUS_SQL[shape.status])
    return tuple(found)


def _primary_keys(shape: Shape) -> list:
    """The sort's own keys, ascending (every one a non-NULL number)."""
    by_name = len(EMOTIONS)
    keys = {"sequence": [], "suspect": [], "frames": [Sequence.frame_count],
            "label": [case(_LABEL_RANK, value=Eff.label, else_=by_name)],
            "original": [case(_LABEL_RANK, value=Sequence.original_label, else_=by_name)],
            "status": [_STATUS_RANK], "reviewers": [Eff.reviewers],
            "onset": [case((Eff.onset.is_(None), 1), else_=0), func.coalesce(Eff.onset, 0)]}
    return keys[shape.sort]


_TIES = (Subject.code, Sequence.code, Sequence.id)


def _order(shape: Shape) -> list:
    """ORDER BY for the sort; ties in subject/sequence order, so the queue is stable. The
    suspect sort is left to Python (sequence_list): its ranks are not in the database."""
    primary = [key.desc() if shape.descending else key for key in _primary_keys(shape)]
    return [*primary, *_TIES]


def _ascending_keys(shape: Shape) -> list:
    """The same order as keys that all sort ascending (a descending sort negates its
    numbers), so "comes before this row" is one row-value comparison."""
    primary = [-key if shape.descending else key for key in _primary_keys(shape)]
    return [*primary, *_TIES]


@lru_cache(maxsize=512)
def rows_statement(shape: Shape, paged: bool) -> Select:
    """The rows matching the shape, in its order (ROW_COLUMNS); paged: LIMIT :limit OFFSET
    :offset."""
    statement = (_from(*ROW_COLUMNS)
                 .outerjoin(_apex, and_(_apex.c.sequence_id == Sequence.id,
                                        _apex.c.number == Sequence.frame_count))
                 .where(*conditions(shape)).order_by(*_order(shape)))
    if paged:
        statement = statement.limit(bindparam("limit")).offset(bindparam("offset"))
    return statement


# Shapes (filters on subject, nolabel, no-face and suspects aside: those read sequences and
# subjects only) whose conditions and order need no effective value.
_PLAIN_SHAPES = {Shape(sort=sort) for sort in ("sequence", "frames", "original")}


def _labelled(keys: list) -> tuple:
    """The sort keys as columns k0, k1, ... (what `_key_row` reads back)."""
    return tuple(k.label(f"k{i}") for i, k in enumerate(keys))


def _key_row(table, keys: list) -> ColumnElement:
    """A row's sort keys (labelled k0, k1, ... in `table`) as one row value."""
    return tuple_(*(table.c[f"k{i}"] for i in range(len(keys))))


@lru_cache(maxsize=256)
def position_statement(shape: Shape) -> Select:
    """One row, or none when :sequence_id is not in the list: its 1-based place in the
    shape's order and the list's length. Counted, not sorted: the place is how many
    matching rows have sort keys up to this row's (a window function's sort of the whole
    list cost about 4 times more), so the review page does not fetch the queue to say "3 of
    9"."""
    keys = _ascending_keys(shape)
    columns = (Sequence.id.label("id"), *_labelled(keys))
    if shape._replace(subject=False, nolabel=False, no_face=False, suspects=False,
                      descending=False) in _PLAIN_SHAPES:
        # Nothing here reads the tally, the decision or the viewer's annotation, and each
        # joins at most one row per sequence: leave them out (the common case, a queue
        # opened from the list's default view, then reads two small tables).
        statement = select(*columns).select_from(Sequence).join(
            Subject, Subject.id == Sequence.subject_id)
    else:
        statement = _from(*columns)
    queue = statement.where(*conditions(shape)).cte("queue")
    me = select(queue).where(queue.c.id == bindparam("sequence_id")).subquery("me")
    position = select(func.count()).select_from(queue).where(
        _key_row(queue, keys) <= _key_row(me, keys))
    length = select(func.count()).select_from(queue)
    return select(position.scalar_subquery().label("position"),
                  length.scalar_subquery().label("length")).select_from(me)


@lru_cache(maxsize=256)
def next_statement(shape: Shape, deciding: bool) -> Select:
    """One row, or none: the queue's next sequence after :after_id (the list's order and
    filters, wrapping around to the start) that the viewer has not reviewed yet (when
    deciding: that has no decision yet). Only its id is fetched, not the queue: the rows
    after this one's sort keys come first, then the rest, and LIMIT 1 keeps the first."""
    keys = _ascending_keys(shape)
    in_list = case((and_(true(), *conditions(shape)), True), else_=False)
    done = Eff.decided if deciding else IS_MINE
    queue = _from(Sequence.id.label("id"), in_list.label("matches"), done.label("done"),
                  *_labelled(keys)).cte("queue")
    here = select(queue).where(queue.c.id == bindparam("after_id")).subquery("here")
    # No such row (`after_id` -1, or gone): `here` is NULL, every row ranks 1, plain order.
    wrapped = case((_key_row(queue, keys) > _key_row(here, keys), 0), else_=1)
    return (select(queue.c.id).select_from(queue.outerjoin(here, true()))
            .where(queue.c.matches, not_(queue.c.done), queue.c.id != bindparam("after_id"))
            .order_by(wrapped, *(queue.c[f"k{i}"] for i in range(len(keys)))).limit(1))


def _counted(condition) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@lru_cache(maxsize=128)
def counts_statement(facet: Shape) -> Select:
    """One row: how many sequences match the facet, how many of those have each status
    (STATUSES order), then the progress over all sequences (Progress's fields)."""
    matching = and_(true(), *conditions(facet))
    return _from(
        _counted(matching), *(_counted(and_(matching, STATUS_SQL[s])) for s in STATUSES),
        func.count(), _counted(or_(Eff.reviewers > 0, Eff.decided)), _counted(IS_MINE),
        _counted(Eff.decided), _counted(Eff.disagreement), _counted(Eff.exclude))


@lru_cache(maxsize=512)
def queue_statement(shape: Shape) -> Select:
    """Every sequence in the shape's order: id, matches (in the list), mine, decided."""
    in_list = case((and_(true(), *conditions(shape)), True), else_=False)
    return _from(Sequence.id, in_list.label("matches"), IS_MINE.label("reviewed_by_me"),
                 Eff.decided.label("decided")).order_by(*_order(shape))
