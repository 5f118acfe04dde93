"""Storage and read side of the face-crop cache: keys, detection rows, crop files, and the
queries pages use (no detection happens here; `app.services.faces.crops` does the work).

Detections are rows of `face_detections` keyed by (frame, source, params_key), params_key
being `training.faces.detection_key(...)`. A row with ``found=False`` keeps the reason in
``keypoints["reason"]``; a landmarks row keeps the 68 points in ``keypoints["landmarks68"]``.

Crops are PNG files ``<crops_dir>/<crop key>/<frame id>.png``. Frame ids are only meaningful
within one imported dataset (SQLite reuses ids after the importer swaps the demo for a real
copy), so ``<crops_dir>/dataset.json`` records which dataset the files were cut from and the
crop folders are emptied when that changes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import DatasetSource, FaceDetection, Frame
from training import faces as face_lib
from training.contract import framing_for
from training.face_track import TrackParams
from training.faces import CropParams, DetectionParams, Face

SOURCES = ("mtcnn", "landmarks")  # what can be cached; "none" (whole frame) needs no cache
MARKER_NAME = "dataset.json"
_KEY_DIR = re.compile(r"^[0-9a-f]{16}$")  # the folders we own: stable_key() hashes


@dataclass(frozen=True)
class Located:
    """What locating one frame gave: a face, or no face and why."""

    face: Face | None
    reason: str = ""
    keypoints: dict | None = None

    @property
    def found(self) -> bool:
        return self.face is not None


class CropError(ValueError):
    """The request cannot be served (no dataset, unknown frame/subject/sequence, bad source)."""


# --- keys ----------------------------------------------------------------------------------

def check_source(source: str) -> None:
    if source not in SOURCES:
        raise CropError(f"face source must be one of {', '.join(SOURCES)}, not {source!r}")


def track_params(source: str, fast_path: bool) -> TrackParams | None:
    return TrackParams() if source == "mtcnn" and fast_path else None


def params_key_for(source: str, detection: DetectionParams | None = None,
                   fast_path: bool = True) -> str:
    """The `face_detections.params_key` of a source with these settings."""
    check_source(source)
    return face_lib.detection_key(source, detection, track_params(source, fast_path))


def default_params_key(source: str) -> str:
    """The key `onset crop` and the export use unless told otherwise."""
    return params_key_for(source)


def crop_params(*, size: int, color: str, margin: float | None = None) -> CropParams:
    """Validated crop settings (``CropError`` naming the bad one). The framing is
    `training.contract.framing_for(margin)`: the default (measured on CK+48) unless a legacy
    ``margin`` asks for the face box plus that fraction of its side on each side; the export
    writes the same framing into dataset.json."""
    if margin is not None and not (isinstance(margin, (int, float)) and 0 <= margin <= 2):
        raise CropError(f"crop margin must be 0..2 (a fraction of the face box), not {margin!r}")
    try:
        return CropParams(size=size, color=color, framing=framing_for(margin))
    except ValueError as exc:
        raise CropError(str(exc)) from exc


# --- detection rows ------------------------------------------------------------------------

# Only the reason is read out of `keypoints`: parsing 68 landmark points per cached row
# would be most of the cost of a fully cached run.
_ROW_COLUMNS = (FaceDetection.frame_id, FaceDetection.found, FaceDetection.box,
                FaceDetection.left_eye, FaceDetection.right_eye, FaceDetection.confidence,
                FaceDetection.method,
                FaceDetection.keypoints["reason"].as_string().label("reason"),
                FaceDetection.keypoints["mouth"].label("mouth"))
# Well under SQLite's bound-parameter limit (32766 on 3.32+, 999 before).
_IN_CHUNK = 900


def load_located(session: Session, frame_ids: list[int], *, source: str,
                 params_key: str) -> dict[int, Located]:
    """Cached detections for these frames under one key (frames without a row are absent)."""
    found: dict[int, Located] = {}
    for start in range(0, len(frame_ids), _IN_CHUNK):
        chunk = frame_ids[start:start + _IN_CHUNK]
        rows = session.execute(select(*_ROW_COLUMNS).where(
            FaceDetection.frame_id.in_(chunk), FaceDetection.source == source,
            FaceDetection.params_key == params_key))
        for row in rows:
            found[row.frame_id] = located_from_row(row, source)
    return found


def located_from_row(row, source: str) -> Located:
    """A `face_detections` row (or a row of `_ROW_COLUMNS`) as a `Located`."""
    if not row.found:
        reason = getattr(row, "reason", None)
        if reason is None and isinstance(getattr(row, "keypoints", None), dict):
            reason = row.keypoints.get("reason")
        return Located(None, str(reason or "no face found"))
    mouth = getattr(row, "mouth", None)
    if mouth is None and isinstance(getattr(row, "keypoints", None), dict):
        mouth = row.keypoints.get("mouth")
    face = Face.from_dict({"box": row.box, "left_eye": row.left_eye,
                           "right_eye": row.right_eye, "confidence": row.confidence,
                           "source": source, "method": row.method,
                           "mouth": mouth if isinstance(mouth, list) else None})
    return Located(face)


def store_located(session: Session, results: dict[int, Located], *, source: str,
                  params_key: str) -> None:
    """Insert detection rows; a row another process stored meanwhile wins (same key, same
    inputs, so the same answer), which keeps concurrent `onset crop` runs from failing."""
    if not results:
        return
    values = []
    for frame_id, located in results.items():
        face = located.face
        keypoints = dict(located.keypoints or {})
        if face is None:
            keypoints["reason"] = located.reason
        elif face.mouth is not None:
            keypoints["mouth"] = list(face.mouth)  # unrounded, like the eyes: same crop
        values.append({
            "frame_id": frame_id, "source": source, "params_key": params_key,
            "found": face is not None,
            # Unrounded: a crop re-cut from the cache must equal the one cut on detection.
            "box": None if face is None else list(face.box),
            "left_eye": None if face is None or face.left_eye is None else list(face.left_eye),
            "right_eye": None if face is None or face.right_eye is None
            else list(face.right_eye),
            "keypoints": keypoints or None,
            "confidence": None if face is None else face.confidence,
            "method": face.method if face is not None else _failed_method(source),
        })
    session.execute(_insert_ignoring_duplicates(session), values)


def _failed_method(source: str) -> str:
    return "detected" if source == "mtcnn" else source


def _insert_ignoring_duplicates(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        return insert(FaceDetection)
    return dialect_insert(FaceDetection).on_conflict_do_nothing(
        index_elements=["frame_id", "source", "params_key"])


# --- crop files ----------------------------------------------------------------------------

def dataset_identity(session: Session) -> dict:
    source = session.scalars(select(DatasetSource)).first()
    if source is None:
        return {}
    stamp = source.imported_at
    if stamp.tzinfo is not None:  # fresh objects are aware; SQLite hands back naive UTC
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return {"source_id": source.id, "imported_at": stamp.isoformat()}


def crops_match_dataset(crops_dir: Path, identity: dict) -> bool:
    try:
        return json.loads((crops_dir / MARKER_NAME).read_text()) == identity
    except (OSError, ValueError):
        return False


def prepare_crops_dir(crops_dir: Path, identity: dict) -> None:
    """Empty the crop folders if they were cut from another imported dataset."""
    if crops_match_dataset(crops_dir, identity):
        return
    if crops_dir.is_dir():
        for child in crops_dir.iterdir():
            if child.is_dir() and _KEY_DIR.match(child.name):
                shutil.rmtree(child, ignore_errors=True)
    crops_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(crops_dir / MARKER_NAME, json.dumps(identity).encode())


def existing_crops(folder: Path) -> set[int]:
    """Frame ids with a crop file in `folder` (one directory listing, not a stat per frame)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return set()
    return {int(name[:-4]) for name in names if name.endswith(".png") and name[:-4].isdigit()}


def crop_file(folder: Path, frame_id: int) -> Path:
    return folder / f"{frame_id}.png"


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Write a crop so readers never see half a file (temp file + rename in the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            # compress_level 1: crops are small and rewritten on every parameter change;
            # level 6 takes ~2x as long for ~12% fewer bytes (measured on 96 px crops).
            Image.fromarray(pixels).save(stream, format="PNG", compress_level=1)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# --- reading the cache (review page, sequence list) ----------------------------------------

def detection_for_frame(session: Session, frame_id: int, source: str,
                        params_key: str | None = None) -> FaceDetection | None:
    """The cached detection of a frame: under `params_key`, else the default key, else the
    newest one of that source (so a run with custom settings still shows a box)."""
    check_source(source)
    query = select(FaceDetection).where(FaceDetection.frame_id == frame_id,
                                        FaceDetection.source == source)
    key = params_key if params_key is not None else default_params_key(source)
    row = session.scalars(query.where(FaceDetection.params_key == key)).first()
    if row is None and params_key is None:
        row = session.scalars(query.order_by(FaceDetection.id.desc())).first()
    return row


def face_of(row: FaceDetection | None) -> Face | None:
    """A detection row as a `training.faces.Face` (None when no face was found)."""
    if row is None or not row.found:
        return None
    return located_from_row(row, row.source).face


def no_face_frames(session: Session, source: str, params_key: str | None = None) -> list[int]:
    """Frame ids where the source found no face (under the default key unless given)."""
    check_source(source)
    key = params_key or default_params_key(source)
    return list(session.scalars(select(FaceDetection.frame_id).where(
        FaceDetection.source == source, FaceDetection.params_key == key,
        FaceDetection.found.is_(False)).order_by(FaceDetection.frame_id)))


def no_face_sequence_ids(session: Session, source: str,
                         params_key: str | None = None) -> list[int]:
    """Sequences with at least one frame where the source found no face."""
    check_source(source)
    key = params_key or default_params_key(source)
    return list(session.scalars(
        select(Frame.sequence_id).distinct()
        .join(FaceDetection, FaceDetection.frame_id == Frame.id)
        .where(FaceDetection.source == source, FaceDetection.params_key == key,
               FaceDetection.found.is_(False)).order_by(Frame.sequence_id)))


def cached_crop_path(session: Session, settings: Settings, *, frame_id: int, source: str,
                     size: int, color: str, margin: float | None = None,
                     params_key: str | None = None) -> Path | None:
    """The crop file of a frame if it is already cut (never detects; cheap for a page)."""
    check_source(source)
    crop = crop_params(size=size, color=color, margin=margin)
    if not crops_match_dataset(settings.crops_dir, dataset_identity(session)):
        return None  # cut from a dataset imported before this one
    key = face_lib.crop_key(params_key or default_params_key(source), crop)
    path = crop_file(settings.crops_dir / key, frame_id)
    return path if path.is_file() else None


def forget_frames(session: Session, frame_ids: list[int], crops_dir: Path | None) -> None:
    """A frame file changed in place (re-imported): drop its cached detections and every crop
    cut from it, so both are made again from the new pixels."""
    if not frame_ids:
        return
    from sqlalchemy import delete

    session.execute(delete(FaceDetection).where(FaceDetection.frame_id.in_(frame_ids)))
    if crops_dir is None or not crops_dir.is_dir():
        return
    for folder in crops_dir.iterdir():
        if folder.is_dir() and _KEY_DIR.match(folder.name):
            for frame_id in frame_ids:
                crop_file(folder, frame_id).unlink(missing_ok=True)
