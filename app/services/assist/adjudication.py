"""The adjudication queue: sequences where reviewers disagree and no admin has decided yet.

A sequence is disputed when its reviewers' labels tie (DESIGN.md: a *disagreement*, kept
out of exports), or when their onsets lie further apart than `adjudication_onset_gap`
frames. An admin settles it by taking one reviewer's answer: it is saved as the admin
decision (app/services/review.save_decision: validated, version-locked, in the audit log),
which makes it the effective value.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.models import Annotation, Decision, Sequence, User
from app.services.effective import effective_for
from app.services.review import ReviewInput, SequenceMissing, save_decision


@dataclass(frozen=True)
class Answer:
    user_id: int
    reviewer: str
    label: int | None
    onset: int | None
    apex: int | None
    exclude: bool
    note: str


@dataclass(frozen=True)
class Dispute:
    sequence_id: int
    subject: str
    sequence: str
    frames: int
    reasons: tuple[str, ...]  # "label tie", "onsets N frames apart"
    answers: tuple[Answer, ...]

    @property
    def name(self) -> str:
        return f"{self.subject}/{self.sequence}"


class AdjudicationError(ValueError):
    pass


def disputes(session: Session, *, onset_gap: int) -> list[Dispute]:
    """Every undecided disputed sequence, in subject/sequence order."""
    decided = set(session.scalars(select(Decision.sequence_id)))
    by_sequence: dict[int, list[Annotation]] = {}
    for a in session.scalars(select(Annotation).options(joinedload(Annotation.user))):
        if a.sequence_id not in decided:
            by_sequence.setdefault(a.sequence_id, []).append(a)
    candidates = {k: v for k, v in by_sequence.items() if len(v) >= 2}
    if not candidates:
        return []
    sequences = session.scalars(select(Sequence).options(joinedload(Sequence.subject))
                                .where(Sequence.id.in_(list(candidates)))).all()
    out = []
    for seq in sequences:
        reasons = _reasons(seq, candidates[seq.id], onset_gap)
        if reasons:
            out.append(_dispute(seq, candidates[seq.id], reasons))
    return sorted(out, key=lambda d: (d.subject, d.sequence))


def _reasons(seq: Sequence, annotations: list[Annotation], onset_gap: int) -> tuple[str, ...]:
    reasons = []
    if effective_for(seq.original_label, annotations, None).disagreement:
        reasons.append("label tie")
    onsets = [a.onset_frame for a in annotations if a.onset_frame is not None]
    if len(onsets) >= 2 and max(onsets) - min(onsets) > onset_gap:
        reasons.append(f"onsets {max(onsets) - min(onsets)} frames apart")
    return tuple(reasons)


def _dispute(seq: Sequence, annotations: list[Annotation], reasons: tuple[str, ...]) -> Dispute:
    answers = tuple(Answer(a.user_id, a.user.name, a.label, a.onset_frame, a.apex_frame,
                           a.exclude, a.note)
                    for a in sorted(annotations, key=lambda a: a.user.name))
    return Dispute(seq.id, seq.subject.code, seq.code, seq.frame_count, reasons, answers)


def dispute_for(session: Session, *, sequence_id: int, onset_gap: int) -> Dispute:
    """This sequence's answers side by side (disputed or not: a link may be stale)."""
    seq = session.get(Sequence, sequence_id)
    if seq is None:
        raise SequenceMissing(f"no sequence with id {sequence_id}")
    annotations = list(session.scalars(select(Annotation).options(joinedload(Annotation.user))
                                       .where(Annotation.sequence_id == sequence_id)))
    return _dispute(seq, annotations, _reasons(seq, annotations, onset_gap))


def decide(session: Session, *, sequence_id: int, admin: User, take_from: int,
           version: int) -> Decision:
    """Save reviewer `take_from`'s answer (a user id) as the admin decision. Raises
    AdjudicationError when that reviewer has no answer here, and what save_decision raises
    (NotAllowed, StaleVersion, ReviewError)."""
    answer = session.scalar(select(Annotation).options(joinedload(Annotation.user)).where(
        Annotation.sequence_id == sequence_id, Annotation.user_id == take_from))
    if answer is None:
        raise AdjudicationError(f"reviewer {take_from} has no answer for sequence "
                                f"{sequence_id} to take")
    note = f"adjudicated: took {answer.user.name}'s answer"
    if answer.note:
        note += f" ({answer.note})"
    data = ReviewInput(label=answer.label, onset_frame=answer.onset_frame,
                       apex_frame=answer.apex_frame, note=note[:2000], exclude=answer.exclude,
                       version=version)
    return save_decision(session, sequence_id=sequence_id, user=admin, data=data)


def decision_for(session: Session, sequence_id: int) -> Decision | None:
    """The admin's standing decision on a sequence, if any."""
    return session.get(Decision, sequence_id)


def next_dispute(session: Session, *, after_id: int, onset_gap: int) -> int | None:
    queue = disputes(session, onset_gap=onset_gap)
    ids = [d.sequence_id for d in queue if d.sequence_id != after_id]
    return ids[0] if ids else None
