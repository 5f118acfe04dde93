"""The review page's face overlay: one frame's face box, eyes and aligned crop, by frame id.

Reads the crop cache (`app.services.faces.crops`) and fills it only for what is asked:
- ``landmarks``: locating a frame is one small text file, so only the requested frame is
  located when it is not cached yet.
- ``mtcnn``: the detector's fast path tracks a face through a sequence (MTCNN on key
  frames, interpolation between), and loading the networks costs seconds, so the first
  request of a sequence locates and crops the whole sequence once; its neighbours (which the
  page prefetches while scrubbing) are then cache hits. A lock per (sequence, source) makes
  those concurrent prefetches wait for that one run instead of starting their own.

Only the default detection settings are shown (the key `onset crop` and the export use), so
the overlay, the "no face found" list filter and a default export always agree. A frame
without a face is reported as such with its reason; it never gets a centre crop.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import DatasetSource, FaceDetection, Frame
from app.services.errors import BadInput, NotFound, Unprocessable
from app.services.faces import crops

SOURCES = crops.SOURCES
# The crop beside the viewer; also what the first MTCNN request of a sequence cuts, so
# that the crops the page asks for next are already on disk.
VIEW_CROP_SIZE = 160
VIEW_CROP_COLOR = "gray"  # what training sees by default (CropParams.color)
CROP_SIZE_RANGE = (16, 512)


@dataclass(frozen=True)
class FrameInfo:
    id: int
    sequence_id: int
    number: int
    width: int
    height: int
    has_landmarks: bool


@dataclass(frozen=True)
class FaceView:
    """What the overlay draws for one frame and one source."""

    frame: FrameInfo
    source: str
    found: bool
    box: tuple[float, float, float, float] | None = None  # x, y, w, h in frame pixels
    left_eye: tuple[float, float] | None = None
    right_eye: tuple[float, float] | None = None
    method: str | None = None  # detected | interpolated | landmarks
    confidence: float | None = None
    reason: str = ""
    detection_id: int = 0
    params_key: str = ""

    @property
    def etag(self) -> str:
        key = f"face:{self.frame.id}:{self.source}:{self.detection_id}:{self.params_key}"
        return '"' + hashlib.sha1(key.encode()).hexdigest()[:20] + '"'

    def crop_url(self, size: int = VIEW_CROP_SIZE) -> str | None:
        if not self.found:
            return None
        return f"/frames/{self.frame.id}/crop.png?source={self.source}&size={size}"

    def as_json(self) -> dict:
        def point(value):
            return None if value is None else [round(value[0], 2), round(value[1], 2)]

        return {
            "frame_id": self.frame.id, "frame_number": self.frame.number,
            "source": self.source, "default_source": default_source(self.frame),
            "found": self.found,
            "box": None if self.box is None else [round(v, 2) for v in self.box],
            "left_eye": point(self.left_eye), "right_eye": point(self.right_eye),
            "method": self.method,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "reason": self.reason or None,
            "width": self.frame.width, "height": self.frame.height,
            "crop_url": self.crop_url(),
        }


def default_source(frame: FrameInfo) -> str:
    """CK+'s own landmarks where the frame has a file (exact and free), else the detector."""
    return "landmarks" if frame.has_landmarks else "mtcnn"


def frame_info(session: Session, frame_id: int) -> FrameInfo:
    """The frame, with its stored paths checked to stay inside the dataset folder (the crop
    service reads them; a poisoned row must not make it read another file)."""
    row = session.execute(
        select(Frame.id, Frame.sequence_id, Frame.number, Frame.width, Frame.height,
               Frame.path, Frame.landmarks_path, DatasetSource.root)
        .join(DatasetSource, true()).where(Frame.id == frame_id).limit(1)).first()
    if row is None:
        raise NotFound(f"no frame with id {frame_id}")
    root = Path(row.root).resolve()
    for name, relative in (("image", row.path), ("landmark file", row.landmarks_path)):
        if relative is not None and not (root / relative).resolve().is_relative_to(root):
            raise NotFound(f"frame {frame_id}'s stored {name} path {relative!r} "
                           "points outside the dataset folder; refusing to read it")
    return FrameInfo(row.id, row.sequence_id, row.number, row.width, row.height,
                     row.landmarks_path is not None)


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise BadInput("source", f"must be one of {', '.join(SOURCES)}, not {source!r}",
                       location="query")


def frame_face(session: Session, settings: Settings, *, frame_id: int,
               source: str | None = None) -> FaceView:
    """The face of one frame by one source (the frame's default source when None),
    located now if the cache does not have it yet."""
    frame = frame_info(session, frame_id)
    source = source or default_source(frame)
    _check_source(source)
    key = crops.default_params_key(source)
    row = crops.detection_for_frame(session, frame_id, source, params_key=key)
    if row is None:
        with _lock_for(frame.sequence_id, source):
            # Another request may have located it while this one waited for the lock.
            row = crops.detection_for_frame(session, frame_id, source, params_key=key)
            if row is None:
                errors = _locate(session, settings, frame, source)
                row = crops.detection_for_frame(session, frame_id, source, params_key=key)
                if row is None:
                    mine = [e for e in errors if e.startswith(f"frame {frame_id}:")]
                    raise Unprocessable("; ".join(mine or errors)
                                        or f"frame {frame_id} could not be located")
    face = crops.face_of(row)
    if face is None:
        reason = (row.keypoints or {}).get("reason") or f"no face found by {source}"
        return FaceView(frame, source, False, reason=str(reason), detection_id=row.id,
                        params_key=row.params_key)
    return FaceView(frame, source, True, box=face.box, left_eye=face.left_eye,
                    right_eye=face.right_eye, method=face.method,
                    confidence=face.confidence, detection_id=row.id,
                    params_key=row.params_key)


def _locate(session: Session, settings: Settings, frame: FrameInfo, source: str) -> list[str]:
    """Fill the cache for this frame (landmarks) or its whole sequence (mtcnn); the error
    lines of frames that could not be read."""
    try:
        if source == "landmarks":
            summary = crops.detect_frames(session, settings, frame_ids=[frame.id],
                                          source=source)
            return summary.errors
        frame_ids = list(session.scalars(select(Frame.id).where(
            Frame.sequence_id == frame.sequence_id).order_by(Frame.number)))
        crops.ensure_crops(session, settings, frame_ids=frame_ids, source=source,
                           size=VIEW_CROP_SIZE, color=VIEW_CROP_COLOR)
    except crops.FrameFilesError as exc:  # the readable frames are cached all the same
        return exc.errors
    except crops.CropError as exc:
        raise Unprocessable(str(exc)) from exc
    return []


@dataclass(frozen=True)
class CropFile:
    path: Path
    etag: str


def face_crop(session: Session, settings: Settings, *, frame_id: int, source: str | None,
              size: int = VIEW_CROP_SIZE, color: str = VIEW_CROP_COLOR) -> CropFile:
    """The aligned crop of one frame's face (cut now if not cached); `NotFound` naming
    the source when it found no face there."""
    low, high = CROP_SIZE_RANGE
    if not low <= size <= high:
        raise BadInput("size", f"must be {low}..{high} px, not {size}", location="query")
    view = frame_face(session, settings, frame_id=frame_id, source=source)
    if not view.found:
        raise NotFound(f"no face found by {view.source} in frame "
                       f"{view.frame.number}: {view.reason}")
    try:
        path = crops.cached_crop_path(session, settings, frame_id=frame_id,
                                      source=view.source, size=size, color=color)
        if path is None:  # the box is cached, so this cuts one crop and detects nothing
            path = crops.ensure_crops(session, settings, frame_ids=[frame_id],
                                      source=view.source, size=size, color=color)[frame_id]
    except crops.FrameFilesError as exc:
        raise Unprocessable("; ".join(exc.errors)) from exc
    except crops.CropError as exc:
        raise Unprocessable(str(exc)) from exc
    if path is None:  # cannot happen with a found face; say so rather than crash
        raise NotFound(f"no crop for frame {frame_id}")
    stat = path.stat()
    key = f"crop:{path}:{stat.st_size}:{stat.st_mtime_ns}"
    return CropFile(path, '"' + hashlib.sha1(key.encode()).hexdigest()[:20] + '"')


# --- the sequence list ---------------------------------------------------------------------

@dataclass(frozen=True)
class FaceCoverage:
    """How much of the dataset a source has located (under the default settings)."""

    source: str
    frames_located: int
    frames_total: int
    no_face_frames: int

    @property
    def complete(self) -> bool:
        return self.frames_total > 0 and self.frames_located >= self.frames_total

    def as_json(self) -> dict:
        return {"source": self.source, "frames_located": self.frames_located,
                "frames_total": self.frames_total, "no_face_frames": self.no_face_frames,
                "complete": self.complete}


def face_coverage(session: Session, source: str) -> FaceCoverage:
    _check_source(source)
    key = crops.default_params_key(source)
    located, missing = session.execute(
        select(func.count(FaceDetection.id),
               func.count(FaceDetection.id).filter(FaceDetection.found.is_(False)))
        .where(FaceDetection.source == source, FaceDetection.params_key == key)).one()
    total = session.scalar(select(func.count(Frame.id)))
    return FaceCoverage(source, located, total or 0, missing)


# --- one lock per (sequence, source) -------------------------------------------------------

_locks: dict[tuple[int, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(sequence_id: int, source: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((sequence_id, source), threading.Lock())
