"""Typed SQLAlchemy 2 models. Schema changes only through Alembic migrations (migrations/)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.utc import UTCDateTime

EMOTIONS: tuple[str, ...] = (
    "neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise",
)
ROLES: tuple[str, ...] = ("reviewer", "admin")
# Row ids are INTEGER columns: PostgreSQL's hold up to 2**31 - 1 (SQLite's 2**63 - 1).
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class DatasetSource(Base):
    """Where the CK+ copy lives; frame paths are relative to `root` so a moved copy only
    needs a re-import from its new place."""

    __tablename__ = "dataset_sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    root: Mapped[str] = mapped_column(String(1024))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    layout: Mapped[dict[str, Any]] = mapped_column(default=dict)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subject(Base):
    __tablename__ = "subjects"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    sequences: Mapped[list["Sequence"]] = relationship(
        back_populates="subject", order_by="Sequence.code"
    )


class Sequence(Base):
    __tablename__ = "sequences"
    __table_args__ = (UniqueConstraint("subject_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    original_label: Mapped[int | None] = mapped_column(Integer, index=True)
    label_file: Mapped[str | None] = mapped_column(String(1024))
    facs: Mapped[list[Any]] = mapped_column(default=list)  # [[au, intensity], ...]
    frame_count: Mapped[int] = mapped_column(Integer)
    subject: Mapped[Subject] = relationship(back_populates="sequences")
    frames: Mapped[list["Frame"]] = relationship(
        back_populates="sequence", order_by="Frame.number"
    )

    @property
    def name(self) -> str:
        return f"{self.subject.code}_{self.code}"


class Frame(Base):
    __tablename__ = "frames"
    __table_args__ = (UniqueConstraint("sequence_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1-based CK+ frame number
    path: Mapped[str] = mapped_column(String(1024))  # relative to the dataset source root
    landmarks_path: Mapped[str | None] = mapped_column(String(1024))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(8))  # PIL mode: "L", "RGB", ...
    # The file as last imported: a re-import that sees another size or mtime knows the
    # frame changed in place and drops its cached detections and crops.
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    sequence: Mapped[Sequence] = relationship(back_populates="frames")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="reviewer")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Sessions carry the generation they were issued under; bumping it (logout, new
    # password, disable) ends every one of them on the server side.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)  # sha256 hex
    hint: Mapped[str | None] = mapped_column(String(16))  # last characters, to tell apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship()


class Annotation(Base):
    """One reviewer's view of one sequence. `version` drives optimistic locking."""

    __tablename__ = "annotations"
    __table_args__ = (UniqueConstraint("sequence_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[int | None] = mapped_column(Integer)
    onset_frame: Mapped[int | None] = mapped_column(Integer)
    apex_frame: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    exclude: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[User] = relationship()


class Decision(Base):
    """An admin's final word on a sequence; it overrides the reviewers' majority."""

    __tablename__ = "decisions"
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    label: Mapped[int | None] = mapped_column(Integer)
    onset_frame: Mapped[int | None] = mapped_column(Integer)
    apex_frame: Mapped[int | None] = mapped_column(Integer)
    exclude: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[User] = relationship()


class ReviewTally(Base):
    """What the reviewers' annotations of one sequence add up to (no row: no annotation yet).
    Kept, in the transaction of every annotation save (app/services/effective.py,
    `keep_tally`), so that the list reads one row per sequence instead of recounting every
    annotation on every request; the admin's decision is joined in as it is."""

    __tablename__ = "review_tallies"
    sequence_id: Mapped[int] = mapped_column(
        ForeignKey("sequences.id", ondelete="CASCADE"), primary_key=True)
    reviewers: Mapped[int] = mapped_column(Integer)  # annotations of the sequence
    label: Mapped[int | None] = mapped_column(Integer)  # the majority; None on a tie
    tied: Mapped[bool] = mapped_column(Boolean)  # the top labels tie: a disagreement
    onset_frame: Mapped[int | None] = mapped_column(Integer)  # lower median of the onsets
    apex_frame: Mapped[int | None] = mapped_column(Integer)
    exclude: Mapped[bool] = mapped_column(Boolean)  # any reviewer's flag


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))  # e.g. annotation.save, import, export
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("sequences.id"), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    user: Mapped[User | None] = relationship()


class FaceDetection(Base):
    """Cached face box per frame, keyed by box source and the detection parameters that
    produced it, so a parameter change invalidates only what it affects."""

    __tablename__ = "face_detections"
    __table_args__ = (UniqueConstraint("frame_id", "source", "params_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    frame_id: Mapped[int] = mapped_column(ForeignKey("frames.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # mtcnn | landmarks
    params_key: Mapped[str] = mapped_column(String(64))
    found: Mapped[bool] = mapped_column(Boolean)
    box: Mapped[list[Any] | None] = mapped_column(JSON)  # [x, y, w, h]
    left_eye: Mapped[list[Any] | None] = mapped_column(JSON)
    right_eye: Mapped[list[Any] | None] = mapped_column(JSON)
    keypoints: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16), default="detected")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExportSnapshot(Base):
    """Every export, from the page or the CLI; `id` is the dataset's content hash."""

    __tablename__ = "exports"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)  # per-sequence label/onset
    path: Mapped[str] = mapped_column(String(1024))
    user: Mapped[User | None] = relationship()


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # export | crop | train | tune
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    note: Mapped[str] = mapped_column(Text, default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    log_path: Mapped[str | None] = mapped_column(String(1024))
    run_dir: Mapped[str | None] = mapped_column(String(1024))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User | None] = relationship()


class Run(Base):
    """A training or tuning run folder known to the app; one may be the active model."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # train | tune
    path: Mapped[str] = mapped_column(String(1024))
    dataset_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
