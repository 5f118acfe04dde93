"""The effective label, onset and apex of a sequence (DESIGN.md, Semantics).

Label: an admin's decision if any; else the label most reviewers gave (a tie is a
*disagreement*: no effective label, left out of exports until an admin decides); else the
original CK+ label. Onset and apex: the admin's, else the lower median of the reviewers'
(a real frame number, never a half frame). Exclude: the admin's decision if any, else any
reviewer's flag: one person seeing a broken sequence is reason enough to hold it back.

The reviewers' side of these rules is kept per sequence in `review_tallies` (`keep_tally`,
in the transaction of every annotation save); `EffectiveSql` states the same rules as SQL
over a tally and a decision, so lists filter, count and sort in the database."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from statistics import median_low

from sqlalchemy import ColumnElement, and_, bindparam, case, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import Annotation, Decision, ReviewTally, Sequence


@dataclass(frozen=True)
class Effective:
    label: int | None
    label_source: str  # decision | reviewers | original | disagreement | none
    onset: int | None
    apex: int | None
    exclude: bool
    reviewers: int  # how many reviewers annotated the sequence

    @property
    def disagreement(self) -> bool:
        return self.label_source == "disagreement"


def effective_for(original_label: int | None, annotations: Iterable[Annotation],
                  decision: Decision | None) -> Effective:
    annotations = list(annotations)
    label, source = _label(original_label, annotations, decision)
    onset = _frame(decision.onset_frame if decision else None,
                   [a.onset_frame for a in annotations])
    apex = _frame(decision.apex_frame if decision else None,
                  [a.apex_frame for a in annotations])
    exclude = decision.exclude if decision else any(a.exclude for a in annotations)
    return Effective(label, source, onset, apex, exclude, len(annotations))


def _label(original: int | None, annotations: list[Annotation],
           decision: Decision | None) -> tuple[int | None, str]:
    if decision is not None and decision.label is not None:
        return decision.label, "decision"
    votes = Counter(a.label for a in annotations if a.label is not None)
    if votes:
        (top, top_count), *rest = votes.most_common()
        if rest and rest[0][1] == top_count:
            return None, "disagreement"
        return top, "reviewers"
    if original is not None:
        return original, "original"
    return None, "none"


def _frame(decided: int | None, given: list[int | None]) -> int | None:
    if decided is not None:
        return decided
    values = [v for v in given if v is not None]
    return median_low(values) if values else None


def effective_map(session: Session, sequence_ids: Iterable[int] | None = None
                  ) -> dict[int, Effective]:
    """Effective values for many sequences in three queries (all when ids is None)."""
    seq_query = select(Sequence.id, Sequence.original_label)
    ann_query = select(Annotation)
    dec_query = select(Decision)
    if sequence_ids is not None:
        ids = list(sequence_ids)
        seq_query = seq_query.where(Sequence.id.in_(ids))
        ann_query = ann_query.where(Annotation.sequence_id.in_(ids))
        dec_query = dec_query.where(Decision.sequence_id.in_(ids))
    by_sequence: dict[int, list[Annotation]] = {}
    for annotation in session.scalars(ann_query):
        by_sequence.setdefault(annotation.sequence_id, []).append(annotation)
    decisions = {d.sequence_id: d for d in session.scalars(dec_query)}
    return {
        seq_id: effective_for(original, by_sequence.get(seq_id, []), decisions.get(seq_id))
        for seq_id, original in session.execute(seq_query)
    }


_TALLIED = ("reviewers", "label", "tied", "onset_frame", "apex_frame", "exclude")
# Built once: building these statements costs more than running them.
_ANNOTATIONS = (select(Annotation.label, Annotation.onset_frame, Annotation.apex_frame,
                       Annotation.exclude).where(Annotation.sequence_id == bindparam("seq")))
_LOCK = (select(Sequence.id).where(Sequence.id == bindparam("seq"))
         .with_for_update(key_share=True))


@cache
def _upsert(dialect_name: str):
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert(ReviewTally)
    return insert.on_conflict_do_update(index_elements=["sequence_id"],
                                        set_={name: insert.excluded[name] for name in _TALLIED})


def keep_tally(session: Session, sequence_id: int) -> None:
    """Recount the reviewers' annotations of one sequence into its tally row, in the
    transaction that just changed one of them. SQLite runs one writer at a time; on
    PostgreSQL the sequence's row is locked first (FOR NO KEY UPDATE, which leaves
    foreign-key checks alone) so that concurrent saves of one sequence recount one after the
    other, each seeing the other's committed annotation."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK, {"seq": sequence_id})
    counted = effective_for(None, connection.execute(_ANNOTATIONS, {"seq": sequence_id}), None)
    connection.execute(_upsert(connection.dialect.name), {
        "sequence_id": sequence_id, "reviewers": counted.reviewers,
        "label": counted.label if counted.label_source == "reviewers" else None,
        "tied": counted.disagreement, "onset_frame": counted.onset, "apex_frame": counted.apex,
        "exclude": counted.exclude})


class EffectiveSql:
    """The effective values as SQL expressions over `sequences` outer-joined with
    `review_tallies` and `decisions` (the rules of `effective_for`, in the same order)."""

    decided: ColumnElement = Decision.sequence_id.is_not(None)
    reviewers: ColumnElement = func.coalesce(ReviewTally.reviewers, 0)
    _decision_label = Decision.label.is_not(None)
    _tied = ReviewTally.tied.is_(True)
    label: ColumnElement = case((_decision_label, Decision.label), (_tied, None),
                                (ReviewTally.label.is_not(None), ReviewTally.label),
                                else_=Sequence.original_label)
    label_source: ColumnElement = case(
        (_decision_label, "decision"), (_tied, "disagreement"),
        (ReviewTally.label.is_not(None), "reviewers"),
        (Sequence.original_label.is_not(None), "original"), else_="none")
    onset: ColumnElement = func.coalesce(Decision.onset_frame, ReviewTally.onset_frame)
    apex: ColumnElement = func.coalesce(Decision.apex_frame, ReviewTally.apex_frame)
    exclude: ColumnElement = case((decided, Decision.exclude),
                                  else_=func.coalesce(ReviewTally.exclude, false()))
    disagreement: ColumnElement = and_(Decision.label.is_(None), _tied)
    changed: ColumnElement = and_(
        or_(_decision_label, and_(ReviewTally.tied.is_not(True),
                                  ReviewTally.label.is_not(None))),
        or_(Sequence.original_label.is_(None), label != Sequence.original_label))

    @classmethod
    def joined(cls, statement):
        """`statement` (selecting from sequences) with the tally and the decision joined."""
        return (statement.outerjoin(ReviewTally, ReviewTally.sequence_id == Sequence.id)
                .outerjoin(Decision, Decision.sequence_id == Sequence.id))
