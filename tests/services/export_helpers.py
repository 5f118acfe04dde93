"""Shared by the export tests: a small imported CK+ tree with reviews whose export is known.

Sequences (frames, CK+ label) and what the review says:
  S005/001  10 frames, disgust   reviewer rev1: disgust, onset 5          -> frames 5..10
  S005/002  10 frames, happy     nobody reviewed (no onset)               -> percent fallback
  S010/001   8 frames, contempt  rev1 flags "exclude"                     -> left out: excluded
  S010/002   6 frames, no label                                           -> left out: no_label
  S011/001   6 frames, happy     rev1 anger, rev2 sadness: a tie          -> disagreement
  S011/002   7 frames, surprise  admin decision: surprise, onset 2, apex 5 -> frames 2..5
  S014/001   9 frames, contempt  rev1: contempt, onset 7                  -> frames 7..9
  S022/001   5 frames, fear, RGB nobody reviewed                          -> percent fallback
"""

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Annotation, Decision, Sequence, Subject, User
from app.services.importer import import_ckplus
from tests.support.ckplus import SeqSpec, write_ckplus

SPECS = [
    SeqSpec("S005", "001", frames=10, label=3.0),
    SeqSpec("S005", "002", frames=10, label=5.0),
    SeqSpec("S010", "001", frames=8, label=2.0),
    SeqSpec("S010", "002", frames=6),
    SeqSpec("S011", "001", frames=6, label=5.0),
    SeqSpec("S011", "002", frames=7, label=7.0),
    SeqSpec("S014", "001", frames=9, label=2.0),
    SeqSpec("S022", "001", frames=5, label=4.0, mode="RGB", size=(72, 48)),
]


def build_dataset(session: Session, root: Path, specs: list[SeqSpec] | None = None,
                  *, reviews: bool = True) -> dict[str, int]:
    """Write, import and review the tree above; {"S005_001": sequence id, ...}."""
    write_ckplus(root, specs or SPECS)
    import_ckplus(session, root=root)
    ids = sequence_ids(session)
    if reviews:
        rev1 = user(session, "rev1")
        rev2 = user(session, "rev2")
        admin = user(session, "boss", "admin")
        annotate(session, rev1, ids["S005_001"], label=3, onset=5)
        annotate(session, rev1, ids["S010_001"], label=2, exclude=True)
        annotate(session, rev1, ids["S011_001"], label=1)
        annotate(session, rev2, ids["S011_001"], label=6)
        session.add(Decision(sequence_id=ids["S011_002"], user_id=admin.id, label=7,
                             onset_frame=2, apex_frame=5))
        annotate(session, rev1, ids["S014_001"], label=2, onset=7)
    session.commit()
    return ids


def sequence_ids(session: Session) -> dict[str, int]:
    rows = session.execute(select(Sequence.id, Subject.code, Sequence.code)
                           .join(Subject, Sequence.subject_id == Subject.id))
    return {f"{subject}_{code}": seq_id for seq_id, subject, code in rows}


def user(session: Session, name: str, role: str = "reviewer") -> User:
    found = session.scalars(select(User).where(User.name == name)).first()
    if found is None:
        # Nobody logs in with these (route tests use make_user): skip the argon2 hash,
        # which costs about half a second per user on a shared CPU.
        found = User(name=name, role=role, password_hash="!no-login")
        session.add(found)
        session.flush()
    return found


def annotate(session: Session, reviewer: User, sequence_id: int, *, label=None, onset=None,
             apex=None, exclude=False) -> Annotation:
    """Create or change a reviewer's annotation, as the review page would store it."""
    row = session.scalars(select(Annotation).where(Annotation.sequence_id == sequence_id,
                                                   Annotation.user_id == reviewer.id)).first()
    if row is None:
        row = Annotation(sequence_id=sequence_id, user_id=reviewer.id)
        session.add(row)
    else:
        row.version += 1
    row.label, row.onset_frame, row.apex_frame, row.exclude = label, onset, apex, exclude
    session.flush()
    return row


def manifest_frames(manifest_text: str) -> dict[str, list[tuple[int, str]]]:
    """{"S005_001": [(frame, label), ...]} from manifest.csv text."""
    import csv
    import io

    out: dict[str, list[tuple[int, str]]] = {}
    for row in csv.DictReader(io.StringIO(manifest_text)):
        out.setdefault(f"{row['subject']}_{row['sequence']}", []).append(
            (int(row["frame"]), row["label"]))
    return {k: sorted(v) for k, v in out.items()}
