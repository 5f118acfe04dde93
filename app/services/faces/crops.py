"""Face detections and crops for imported frames, cached so each frame is located once.

- ``detect_frames`` locates faces (MTCNN or CK+ landmark files) for frames that have no
  cached detection under the current parameters; ``ensure_crops`` also writes the crop PNGs
  (the export and training use it). Both skip what is cached and commit the session after
  every sequence, so an interrupted run keeps its work and a re-run resumes.
- What a change invalidates: detection parameters (or the fast path on/off) change the
  detection key and so re-detect; size, colour and framing (`training.framing`; a legacy
  margin) change only the crop key, so the cached boxes are re-cropped. The landmark source
  ignores MTCNN settings.
- A frame without a face is stored as ``found=False`` with its reason and listed; it never
  gets a centre crop. A frame whose files cannot be read (dataset moved?) is not cached: it
  is reported in ``errors`` and ``ensure_crops`` raises ``FrameFilesError``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby, repeat
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import DatasetSource, Frame, Sequence, Subject
from app.services.faces import cache as crop_cache
from app.services.faces.cache import (  # noqa: F401  (re-exported: the read side of the cache)
    SOURCES,
    CropError,
    Located,
    cached_crop_path,
    check_source,
    crop_params,
    default_params_key,
    detection_for_frame,
    face_of,
    no_face_frames,
    no_face_sequence_ids,
    params_key_for,
    track_params,
)
from training import face_track
from training import faces as face_lib
from training.faces import CropParams, DetectionParams, Face
from training.images import ImageError, load_image, open_image

Progress = Callable[[int, int], None]  # (frames done, frames total)
# Pillow decodes and encodes PNGs with the GIL released, so cutting crops on a few threads
# scales with cores (PNG decoding is most of the cost of a crop).
_CROP_WORKERS = min(4, os.cpu_count() or 1)

__all__ = ["SOURCES", "CropError", "CropSummary", "FrameFilesError", "cached_crop_path",
           "crop_params", "default_params_key",
           "detect_frames", "detection_for_frame", "ensure_crops", "face_of", "frame_ids_for",
           "no_face_frames", "no_face_sequence_ids", "params_key_for", "run_crops"]


class FrameFilesError(CropError):
    """Some frames' image or landmark files could not be read; nothing about them is cached."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = "; ".join(errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5
                                         else "")
        super().__init__(f"{len(errors)} frame(s) could not be read: {shown}")


@dataclass
class CropSummary:
    source: str
    params_key: str
    crop_key: str | None = None
    crops_dir: str | None = None
    frames: int = 0            # frames asked for
    faces: int = 0             # of those, frames with a face
    no_face: list[int] = field(default_factory=list)
    no_face_reasons: dict[int, str] = field(default_factory=dict)
    cached: int = 0            # detections reused from the cache
    detected: int = 0          # frames located now (MTCNN run or landmark file read)
    crops_written: int = 0
    crops_cached: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"frames": self.frames, "faces": self.faces, "no_face": self.no_face,
                "seconds": round(self.seconds, 3), "cached": self.cached,
                "detected": self.detected, "crops_written": self.crops_written,
                "crops_cached": self.crops_cached,
                "no_face_reasons": {str(k): v for k, v in self.no_face_reasons.items()},
                "errors": self.errors, "source": self.source, "params_key": self.params_key,
                "crop_key": self.crop_key, "crops_dir": self.crops_dir}


@dataclass(frozen=True)
class _FrameRow:
    id: int
    sequence_id: int
    number: int
    path: str
    landmarks_path: str | None


# --- the work ------------------------------------------------------------------------------

def detect_frames(session: Session, settings: Settings, *, frame_ids: list[int] | None = None,
                  source: str, detection: DetectionParams | None = None,
                  fast_path: bool = True, progress: Progress | None = None) -> CropSummary:
    """Locate faces in these frames (all imported frames when None), skipping cached ones."""
    summary, _ = run_crops(session, settings, frame_ids=frame_ids, source=source,
                           detection=detection, fast_path=fast_path, crop=None,
                           progress=progress)
    return summary


def ensure_crops(session: Session, settings: Settings, *, frame_ids: list[int], source: str,
                 size: int, color: str, margin: float | None = None,
                 detection: DetectionParams | None = None, fast_path: bool = True,
                 progress: Progress | None = None) -> dict[int, Path | None]:
    """Crop PNGs for these frames, detecting (cached in face_detections) and cropping (cached
    under settings.crops_dir) only what isn't cached yet; None for frames with no face.

    Raises ``CropError`` for a bad request and ``FrameFilesError`` (after caching everything
    else) when some frames' files cannot be read. Commits the session after each sequence.
    """
    crop = crop_params(size=size, color=color, margin=margin)
    summary, paths = run_crops(session, settings, frame_ids=frame_ids, source=source,
                               detection=detection, fast_path=fast_path, crop=crop,
                               progress=progress)
    if summary.errors:
        raise FrameFilesError(summary.errors)
    return paths


def run_crops(session: Session, settings: Settings, *, frame_ids: list[int] | None,
              source: str, detection: DetectionParams | None = None, fast_path: bool = True,
              crop: CropParams | None = None, progress: Progress | None = None
              ) -> tuple[CropSummary, dict[int, Path | None]]:
    """The engine behind `detect_frames`, `ensure_crops` and `onset crop`: per sequence,
    locate what is not cached, store it, commit, then write the missing crops (if `crop`)."""
    started = time.perf_counter()
    check_source(source)
    detection = detection or DetectionParams()
    track = track_params(source, fast_path)
    params_key = face_lib.detection_key(source, detection, track)
    root = _dataset_root(session)
    frames = _frame_rows(session, frame_ids)
    summary = CropSummary(source=source, params_key=params_key, frames=len(frames))
    cached = crop_cache.load_located(session, [f.id for f in frames], source=source,
                                     params_key=params_key)
    summary.cached = len(cached)
    folder, have_crop = None, set()
    if crop is not None:
        crop_cache.prepare_crops_dir(settings.crops_dir, crop_cache.dataset_identity(session))
        summary.crop_key = face_lib.crop_key(params_key, crop)
        folder = settings.crops_dir / summary.crop_key
        summary.crops_dir = str(folder)
        have_crop = crop_cache.existing_crops(folder)

    paths: dict[int, Path | None] = {}
    done = 0
    with ThreadPoolExecutor(max_workers=_CROP_WORKERS) as pool:
        for _, group in groupby(frames, key=lambda f: f.sequence_id):
            sequence_frames = list(group)
            missing = [f for f in sequence_frames if f.id not in cached]
            if missing:
                located = _locate(missing, root, source, detection, track, summary.errors)
                crop_cache.store_located(session, located, source=source,
                                         params_key=params_key)
                session.commit()
                cached.update(located)
                summary.detected += len(located)
            to_cut = _sort_out(sequence_frames, cached, summary, paths, folder, have_crop)
            cuts = pool.map(_cut, [f for f, _ in to_cut], [face for _, face in to_cut],
                            repeat(root), repeat(crop), repeat(folder))
            for frame_id, error in cuts:
                if error:
                    summary.errors.append(error)
                    del paths[frame_id]
                else:
                    summary.crops_written += 1
            done += len(sequence_frames)
            if progress is not None:
                progress(done, len(frames))
    summary.seconds = time.perf_counter() - started
    return summary, paths


def _sort_out(frames: list[_FrameRow], cached: dict[int, Located], summary: CropSummary,
              paths: dict[int, Path | None], folder: Path | None, have_crop: set[int]
              ) -> list[tuple[_FrameRow, Face]]:
    """Count a sequence's located frames into `summary` and `paths`; the (frame, face) pairs
    whose crop is still to cut."""
    to_cut = []
    for frame in frames:
        result = cached.get(frame.id)
        if result is None:  # unreadable: reported in errors, not cached
            continue
        if not result.found:
            summary.no_face.append(frame.id)
            summary.no_face_reasons[frame.id] = result.reason
            paths[frame.id] = None
            continue
        summary.faces += 1
        if folder is None:
            continue
        paths[frame.id] = crop_cache.crop_file(folder, frame.id)
        if frame.id in have_crop:
            summary.crops_cached += 1
        else:
            to_cut.append((frame, result.face))
    return to_cut


def _cut(frame: _FrameRow, face: Face, root: Path, crop: CropParams, folder: Path
         ) -> tuple[int, str]:
    """Cut and write one crop; (frame id, error text or "")."""
    try:
        image = load_image(root / frame.path, mode="L" if crop.color == "gray" else "RGB")
    except ImageError as exc:
        return frame.id, f"frame {frame.id}: {exc}"
    crop_cache.write_png(crop_cache.crop_file(folder, frame.id),
                         face_lib.crop_from_face(image, face, crop))
    return frame.id, ""


# --- locating ------------------------------------------------------------------------------

def _locate(frames: list[_FrameRow], root: Path, source: str, detection: DetectionParams,
            track: face_track.TrackParams | None, errors: list[str]) -> dict[int, Located]:
    if source == "landmarks":
        return _from_landmarks(frames, root, errors)
    readable = frames
    try:
        faces = _run_mtcnn([root / f.path for f in frames], detection, track)
    except ImageError:
        # One unreadable frame sinks the whole batch; set it aside and detect the rest.
        readable = []
        for frame in frames:
            try:
                open_image(root / frame.path)
                readable.append(frame)
            except ImageError as exc:
                errors.append(f"frame {frame.id}: {exc}")
        faces = _run_mtcnn([root / f.path for f in readable], detection, track)
    reason = f"no face found by mtcnn (min_face_size={detection.min_face_size}px)"
    return {frame.id: Located(face) if face is not None else Located(None, reason)
            for frame, face in zip(readable, faces, strict=True)}


def _run_mtcnn(paths: list[Path], detection: DetectionParams,
               track: face_track.TrackParams | None) -> list[Face | None]:
    if not paths:
        return []
    if track is not None:
        return face_track.track_sequence(paths, detection, track)
    # Batched: same boxes as one frame per call, at a fraction of MTCNN's per-call overhead.
    return face_track.detect_each(paths, detection, batch_size=16)


def _from_landmarks(frames: list[_FrameRow], root: Path, errors: list[str]
                    ) -> dict[int, Located]:
    results: dict[int, Located] = {}
    for frame in frames:
        if frame.landmarks_path is None:
            results[frame.id] = Located(None, "no landmarks file for this frame in the CK+ "
                                              "copy (Landmarks/)")
            continue
        path = root / frame.landmarks_path
        if not path.is_file():
            # The import saw this file, so the copy has moved or changed: not a fact about
            # the frame, hence not cached.
            errors.append(f"frame {frame.id}: {path}: landmark file missing (was the dataset "
                          "moved? re-import it from its new place)")
            continue
        try:
            points = face_lib.read_landmarks(path)
            face = face_lib.face_from_landmarks(points, str(path))
        except face_lib.LandmarksError as exc:
            results[frame.id] = Located(None, str(exc))
            continue
        results[frame.id] = Located(face, keypoints={
            "landmarks68": [[round(x, 2), round(y, 2)] for x, y in points.tolist()]})
    return results


# --- selecting frames ----------------------------------------------------------------------

def _dataset_root(session: Session) -> Path:
    source = session.scalars(select(DatasetSource)).first()
    if source is None:
        raise CropError("no dataset imported yet; run `onset import PATH` (or `onset demo`)")
    return Path(source.root)


def _frame_rows(session: Session, frame_ids: list[int] | None) -> list[_FrameRow]:
    columns = (Frame.id, Frame.sequence_id, Frame.number, Frame.path, Frame.landmarks_path)
    order = (Frame.sequence_id, Frame.number)
    if frame_ids is None:
        rows = session.execute(select(*columns).order_by(*order)).all()
    else:
        wanted = list(dict.fromkeys(int(i) for i in frame_ids))
        rows = []
        for start in range(0, len(wanted), 900):
            chunk = wanted[start:start + 900]
            rows += session.execute(select(*columns).where(Frame.id.in_(chunk))).all()
        unknown = sorted(set(wanted) - {row.id for row in rows})
        if unknown:
            raise CropError(f"unknown frame id(s): {', '.join(map(str, unknown[:10]))}"
                            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""))
        rows.sort(key=lambda row: (row.sequence_id, row.number))
    return [_FrameRow(*row) for row in rows]


def frame_ids_for(session: Session, *, subject: str | None = None,
                  sequence: str | None = None) -> list[int] | None:
    """Frame ids of a subject ("S005") or a sequence ("S005/001"); None (all) for neither."""
    query = select(Frame.id).join(Sequence, Frame.sequence_id == Sequence.id).join(
        Subject, Sequence.subject_id == Subject.id)
    if sequence is not None:
        subject_code, _, sequence_code = sequence.strip().replace("_", "/").partition("/")
        if not sequence_code:
            raise CropError(f"sequence must look like S005/001, not {sequence!r}")
        if subject is not None and subject.strip().upper() != subject_code.upper():
            raise CropError(f"sequence {sequence} is not in subject {subject}")
        query = query.where(Subject.code == subject_code.upper(),
                            Sequence.code == sequence_code)
        what = f"sequence {subject_code.upper()}/{sequence_code}"
    elif subject is not None:
        query = query.where(Subject.code == subject.strip().upper())
        what = f"subject {subject.strip().upper()}"
    else:
        return None
    ids = list(session.scalars(query.order_by(Frame.id)))
    if not ids:
        raise CropError(f"unknown {what} (not in the imported dataset)")
    return ids
