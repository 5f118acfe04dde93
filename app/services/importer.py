"""Store a scanned CK+ copy. Idempotent: re-running updates CK+ facts (labels, FACS, frame
headers) and never touches reviewers' annotations or decisions."""

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.models import (
    Annotation,
    DatasetSource,
    Decision,
    FaceDetection,
    Frame,
    Sequence,
    Subject,
)
from app.services import audit
from app.services.ckplus_scan import Issue, ScanError, ScanResult, SequenceRecord, scan

__all__ = ["ImportRefused", "ImportSummary", "ScanError", "import_ckplus"]


class ImportRefused(Exception):
    """The import would put reviewers' work at risk; nothing was changed."""


@dataclass
class ImportSummary:
    root: str
    is_demo: bool
    sequences_found: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    frames_added: int = 0
    skipped: int = 0
    ignored_files: int = 0
    issues: list[Issue] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        return self.added + self.updated + self.unchanged

    def as_dict(self) -> dict:
        data = asdict(self)
        data["imported"] = self.imported
        data["errors"] = [str(i) for i in self.issues if i.severity == "error"]
        data["warnings"] = [str(i) for i in self.issues if i.severity == "warning"]
        del data["issues"]
        return data


def import_ckplus(session: Session, *, root: Path, user_id: int | None = None,
                  progress=None) -> ImportSummary:
    """Scan `root` and store what is good in it. Raises ScanError when `root` is not a CK+
    copy and ImportRefused when replacing the stored dataset would drop reviewers' work."""
    started = time.perf_counter()
    result = scan(root, progress=progress)
    summary = ImportSummary(str(result.layout.root), result.is_demo, len(result.sequences),
                            issues=result.issues, ignored_files=result.ignored_files)
    _switch_source(session, result)

    subjects = {s.code: s for s in session.scalars(select(Subject))}
    stored = {(s.subject.code, s.code): s for s in session.scalars(select(Sequence))}
    new: list[tuple[Sequence, SequenceRecord]] = []
    for record in result.sequences:
        subject = subjects.get(record.subject)
        if subject is None:
            subject = subjects[record.subject] = Subject(code=record.subject)
            session.add(subject)
        sequence = stored.get((record.subject, record.code))
        if sequence is None:
            new.append((_new_sequence(session, subject, record), record))
            summary.added += 1
            summary.frames_added += len(record.frames)
        else:
            outcome = _update_sequence(session, sequence, record, summary)
            if outcome == "updated":
                summary.updated += 1
            elif outcome == "unchanged":
                summary.unchanged += 1
            else:
                summary.skipped += 1
    _insert_frames(session, new)
    summary.skipped += result.skipped_sequences
    summary.seconds = round(time.perf_counter() - started, 3)
    audit.record(session, action="import", user_id=user_id, after={
        "root": summary.root, "added": summary.added, "updated": summary.updated,
        "skipped": summary.skipped})
    session.flush()
    return summary


def _switch_source(session: Session, result: ScanResult) -> None:
    """One database holds one dataset. A moved copy (same kind) only updates the root;
    swapping the demo for a real copy (or back) replaces the old data, but only while
    nobody has reviewed anything in it."""
    source = session.scalars(select(DatasetSource)).first()
    root = str(result.layout.root)
    if source is not None and source.is_demo != result.is_demo:
        reviewed = (session.scalar(select(func.count(Annotation.id))) or 0) + (
            session.scalar(select(func.count(Decision.sequence_id))) or 0)
        old = "demo dataset" if source.is_demo else f"CK+ copy at {source.root}"
        if reviewed:
            raise ImportRefused(
                f"this database holds the {old} with {reviewed} review(s); importing "
                f"{root} would mix or drop that work. Use a fresh database "
                "(set ONSET_DATABASE_URL or ONSET_DATA_DIR) for the new dataset.")
        _drop_dataset(session)
        source = None
    if source is None:
        source = DatasetSource(root=root)
        session.add(source)
    source.root, source.is_demo = root, result.is_demo
    source.layout = result.layout.as_dict()


def _drop_dataset(session: Session) -> None:
    frame_ids = select(Frame.id)
    session.execute(delete(FaceDetection).where(FaceDetection.frame_id.in_(frame_ids)))
    session.execute(delete(Frame))
    session.execute(delete(Sequence))
    session.execute(delete(Subject))
    session.execute(delete(DatasetSource))
    session.flush()


def _new_sequence(session: Session, subject: Subject, record: SequenceRecord) -> Sequence:
    sequence = Sequence(subject=subject, code=record.code, original_label=record.label,
                        label_file=record.label_file, facs=record.facs,
                        frame_count=len(record.frames))
    session.add(sequence)
    return sequence


def _insert_frames(session: Session, new: list[tuple[Sequence, SequenceRecord]]) -> None:
    """One flush for every new sequence (ids come back in one batched INSERT), then one
    executemany for all their frames: a full CK+ is a handful of statements."""
    if not new:
        return
    session.flush()
    session.execute(insert(Frame), [
        {"sequence_id": sequence.id, "number": f.number, "path": f.path, "width": f.width,
         "height": f.height, "mode": f.mode, "landmarks_path": f.landmarks_path}
        for sequence, record in new for f in record.frames
    ])


def _update_sequence(session: Session, sequence: Sequence, record: SequenceRecord,
                     summary: ImportSummary) -> str:
    """Refresh CK+ facts of a stored sequence: "updated", "unchanged", or "kept" when the
    copy on disk lost frames (the stored sequence is then left as it was)."""
    if len(record.frames) < sequence.frame_count:
        # Frames that reviewers may have marked as onset would vanish: keep what is stored.
        summary.issues.append(Issue(
            record.frames[0].path.rsplit("/", 1)[0] + "/",
            f"now has {len(record.frames)} frames but {sequence.frame_count} are stored; "
            "kept the stored sequence unchanged"))
        return "kept"
    changed = False
    for attr, value in (("original_label", record.label), ("label_file", record.label_file),
                        ("facs", record.facs), ("frame_count", len(record.frames))):
        if getattr(sequence, attr) != value:
            setattr(sequence, attr, value)
            changed = True
    existing = {f.number: f for f in sequence.frames}
    new_rows = []
    for f in record.frames:
        frame = existing.get(f.number)
        if frame is None:
            new_rows.append({"sequence_id": sequence.id, "number": f.number, "path": f.path,
                             "width": f.width, "height": f.height, "mode": f.mode,
                             "landmarks_path": f.landmarks_path})
            continue
        for attr in ("path", "width", "height", "mode", "landmarks_path"):
            if getattr(frame, attr) != getattr(f, attr):
                setattr(frame, attr, getattr(f, attr))
                changed = True
    if new_rows:
        session.execute(insert(Frame), new_rows)
        summary.frames_added += len(new_rows)
        changed = True
    return "updated" if changed else "unchanged"
