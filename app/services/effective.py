"""The effective label, onset and apex of a sequence (DESIGN.md, Semantics).

Label: an admin's decision if any; else the label most reviewers gave (a tie is a
*disagreement*: no effective label, left out of exports until an admin decides); else the
original CK+ label. Onset and apex: the admin's, else the lower median of the reviewers'
(a real frame number, never a half frame). Exclude: the admin's decision if any, else any
reviewer's flag: one person seeing a broken sequence is reason enough to hold it back."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median_low

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Annotation, Decision, Sequence


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
