"""Store a scanned CK+ copy. Idempotent: re-running updates CK+ facts (labels, FACS, frame
headers) and never touches reviewers' annotations or decisions. A frame whose file changed
in place (another size or modification time) loses its cached face detections and crops,
which were computed from the old pixels."""

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
    utcnow,
)
from app.services import audit
from app.services.ckplus_scan import (
    FrameRecord,
    Issue,
    ScanError,
    ScanResult,
    SequenceRecord,
    scan,
)

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
    frames_changed: int = 0
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
                  progress=None, crops_dir: Path | None = None) -> ImportSummary:
    """Scan `root` and store what is good in it. Raises ScanError when `root` is not a CK+
    copy and ImportRefused when replacing the stored dataset would drop reviewers' work.
    `crops_dir` (settings.crops_dir) is where crops of changed frames are deleted; without
    it the whole crop cache is marked stale instead."""
    started = time.perf_counter()
    result = scan(root, progress=progress)
    summary = ImportSummary(str(result.layout.root), result.is_demo, len(result.sequences),
                            issues=result.issues, ignored_files=result.ignored_files)
    _switch_source(session, result)

    subjects = {s.code: s for s in session.scalars(select(Subject))}
    stored = {(s.subject.code, s.code): s for s in session.scalars(select(Sequence))}
    new: list[tuple[Sequence, SequenceRecord]] = []
    changed_frames: list[int] = []
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
            outcome = _update_sequence(session, sequence, record, summary, changed_frames)
            if outcome == "updated":
                summary.updated += 1
            elif outcome == "unchanged":
                summary.unchanged += 1
            else:
                summary.skipped += 1
    _insert_frames(session, new)
    _forget_changed(session, changed_frames, crops_dir)
    summary.frames_changed = len(changed_frames)
    summary.skipped += result.skipped_sequences
    summary.seconds = round(time.perf_counter() - started, 3)
    audit.record(session, action="import", user_id=user_id, after={
        "root": summary.root, "added": summary.added, "updated": summary.updated,
        "skipped": summary.skipped, "frames_changed": summary.frames_changed})
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
        _frame_row(sequence.id, f) for sequence, record in new for f in record.frames])


FRAME_FACTS = ("path", "width", "height", "mode", "landmarks_path", "file_size",
               "file_mtime_ns")


def _frame_row(sequence_id: int, frame: FrameRecord) -> dict:
    return {"sequence_id": sequence_id, "number": frame.number,
            **{name: getattr(frame, name) for name in FRAME_FACTS}}


def _file_changed(frame: Frame, record: FrameRecord) -> bool:
    """Another size or mtime than at the last import (unknown before migration 0002: then
    only recorded, since nothing says the file changed)."""
    if frame.file_size is None or frame.file_mtime_ns is None:
        return False
    return (frame.file_size, frame.file_mtime_ns) != (record.file_size, record.file_mtime_ns)


def _forget_changed(session: Session, frame_ids: list[int], crops_dir: Path | None) -> None:
    if not frame_ids:
        return
    from app.services.faces.cache import forget_frames

    forget_frames(session, frame_ids, crops_dir)
    if crops_dir is None:
        # Crop files are named by frame id: with no folder to delete them from, mark the
        # whole cache stale (its dataset identity includes the import time).
        source = session.scalars(select(DatasetSource)).first()
        source.imported_at = utcnow()


def _update_sequence(session: Session, sequence: Sequence, record: SequenceRecord,
                     summary: ImportSummary, changed_frames: list[int]) -> str:
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
    label = record.label
    if label is None and record.label_file is not None and sequence.original_label is not None:
        # The label file is there but unreadable now (its problem is already reported):
        # a damaged copy must not erase the label stored from a good one.
        label = sequence.original_label
        summary.issues.append(Issue(record.label_file, "kept the stored label "
                                    f"({sequence.original_label})", "warning"))
    for attr, value in (("original_label", label), ("label_file", record.label_file),
                        ("facs", record.facs), ("frame_count", len(record.frames))):
        if getattr(sequence, attr) != value:
            setattr(sequence, attr, value)
            changed = True
    existing = {f.number: f for f in sequence.frames}
    new_rows = []
    for f in record.frames:
        frame = existing.get(f.number)
        if frame is None:
            new_rows.append(_frame_row(sequence.id, f))
            continue
        if _file_changed(frame, f):
            changed_frames.append(frame.id)
        for attr in FRAME_FACTS:
            if getattr(frame, attr) != getattr(f, attr):
                setattr(frame, attr, getattr(f, attr))
                changed = True
    if new_rows:
        session.execute(insert(Frame), new_rows)
        summary.frames_added += len(new_rows)
        changed = True
    return "updated" if changed else "unchanged"
