"""Expression-intensity curves and suggested onset frames.

A CK+ sequence starts neutral and ends at the apex, so the intensity of frame f is how far
the face has moved from frame 1, scaled so the last frames are 1. Two signals, measured on
the demo's answer key by `bench/onsets.py` (README, "Review assistance"):

- `landmarks`: CK+'s 68 points, each frame aligned to frame 1 on the rigid points (eye
  corners, nose) by a similarity transform, so head motion does not count; the mean
  displacement of all points, in units of the face's size;
- `crops`: the eye-aligned face crops' mean absolute pixel change from frame 1 (needs a face
  source: landmarks, else MTCNN; the crops come from the shared crop cache).

The suggested onset is the frame after the last one whose intensity is below the signal's
threshold (THRESHOLDS; so a noisy bump early on does not count). Curves are cached per sequence in
`$ONSET_DATA_DIR/assist/curves-<method>.json`, keyed by the frames they were made from.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import DatasetSource, Frame, Sequence, Subject
from app.services.assist import AssistError

METHODS = ("landmarks", "crops")
# The fraction of the apex intensity a frame must stay above, per signal; chosen on a demo
# of another seed than the one reported (bench/onsets.py --pick: both best at 0.2 once the
# noise floor is subtracted).
THRESHOLDS = {"landmarks": 0.2, "crops": 0.2}
THRESHOLD = THRESHOLDS["landmarks"]
RIGID = [27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45]  # nose, eye corners
CROP_SIZE = 64
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class OnsetSuggestion:
    sequence_id: int
    subject: str
    sequence: str
    frames: int
    suggested_onset: int | None  # 1-based; None when the curve could not be made
    method: str
    curve: tuple[float, ...] = ()
    note: str = ""

    def as_dict(self, *, curve: bool = True) -> dict[str, Any]:
        data = {"subject": self.subject, "sequence": self.sequence, "frames": self.frames,
                "suggested_onset": self.suggested_onset, "method": self.method,
                "sequence_id": self.sequence_id}
        if curve:
            data["curve"] = [round(v, 4) for v in self.curve]
        if self.note:
            data["note"] = self.note
        return data


# --- the maths (pure) ----------------------------------------------------------------------

def landmark_curve(points: list[np.ndarray]) -> np.ndarray:
    """Displacement of each frame's (68, 2) points from frame 1's after removing head
    motion, in units of frame 1's face size (RMS distance of its points from their centre)."""
    ref = points[0]
    size = float(np.sqrt(((ref - ref.mean(axis=0)) ** 2).sum(axis=1).mean())) or 1.0
    return np.array([float(np.linalg.norm(_align(p, ref) - ref, axis=1).mean()) / size
                     for p in points])


def _align(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """`points` moved by the similarity transform that best maps its rigid points onto
    `ref`'s (Umeyama, least squares)."""
    src, dst = points[RIGID], ref[RIGID]
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    u, sigma, vt = np.linalg.svd(d.T @ s)
    sign = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag([1.0, sign]) @ vt
    scale = (sigma * [1.0, sign]).sum() / ((s ** 2).sum() or 1.0)
    return (points - mu_s) @ rotation.T * scale + mu_d


def crop_curve(images: list[np.ndarray]) -> np.ndarray:
    """Mean absolute change of each gray crop from the first, 0..1."""
    ref = images[0].astype(np.float32)
    return np.array([float(np.abs(img.astype(np.float32) - ref).mean()) / 255.0
                     for img in images])


def normalise(curve: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """0 before the face moves, 1 at the apex (the mean of the last two frames: CK+ ends at
    the peak). Frame 1 is compared with itself, so its change is exactly 0 while every other
    frame carries the measurement's noise (landmark jitter, crop noise): frame 2's change (at
    most half the apex's) is taken as that noise floor and subtracted, so noise does not read
    as the expression starting. The price: an expression that starts at frame 2 (one neutral
    frame; rare in CK+) is suggested a frame late. `threshold` is unused (kept for callers)."""
    curve = np.asarray(curve, dtype=float)
    shifted = curve - curve[0]
    peak = float(shifted[-2:].mean()) if len(shifted) >= 2 else 0.0
    floor = min(float(shifted[1]), 0.5 * peak) if len(shifted) > 3 else 0.0
    if peak - floor <= 1e-9:
        return np.zeros_like(shifted)
    out = np.clip((shifted - floor) / (peak - floor), 0.0, 1.5)
    out[0] = 0.0
    return out


def onset_from_curve(curve: np.ndarray, threshold: float = THRESHOLD) -> int | None:
    """1-based onset: the frame after the last one below `threshold` of the normalised
    curve; None for a curve that never rises (or a one-frame sequence)."""
    n = normalise(curve, threshold)
    if len(n) < 2 or n[-1] < threshold:
        return None
    below = np.nonzero(n < threshold)[0]
    return int(below[-1]) + 2  # index of the last low frame, +1 for the next, +1 for 1-based


# --- sequences -----------------------------------------------------------------------------

@dataclass
class _Frames:
    sequence_id: int
    subject: str
    code: str
    ids: list[int]
    paths: list[str]
    landmarks: list[str | None]


def _sequences(session: Session, sequence_ids: list[int] | None = None) -> list[_Frames]:
    query = (select(Sequence.id, Subject.code, Sequence.code, Frame.id, Frame.path,
                    Frame.landmarks_path)
             .join(Subject, Subject.id == Sequence.subject_id)
             .join(Frame, Frame.sequence_id == Sequence.id)
             .order_by(Subject.code, Sequence.code, Frame.number))
    if sequence_ids is not None:
        query = query.where(Sequence.id.in_(sequence_ids))
    out: dict[int, _Frames] = {}
    for seq_id, subject, code, frame_id, path, landmarks in session.execute(query):
        item = out.setdefault(seq_id, _Frames(seq_id, subject, code, [], [], []))
        item.ids.append(frame_id)
        item.paths.append(path)
        item.landmarks.append(landmarks)
    return list(out.values())


def pick_method(session: Session, method: str = "auto") -> str:
    if method not in ("auto", *METHODS):
        raise AssistError(f"--method must be auto or one of {', '.join(METHODS)}, "
                          f"not {method!r}")
    if method != "auto":
        return method
    # Landmarks measured best (bench/onsets.py); crops need no landmark files.
    missing = session.scalar(select(Frame.id).where(Frame.landmarks_path.is_(None)).limit(1))
    return "landmarks" if missing is None else "crops"


def _root(session: Session) -> Path:
    source = session.scalars(select(DatasetSource)).first()
    if source is None:
        raise AssistError("no dataset imported yet; run `onset import PATH` (or `onset demo`)")
    return Path(source.root)


def _curve(session: Session, settings: Settings, item: _Frames, method: str,
           root: Path) -> tuple[np.ndarray | None, str]:
    if method == "landmarks":
        from training.faces import LandmarksError, read_landmarks

        if any(p is None for p in item.landmarks):
            return None, "some frames have no landmark file"
        try:
            return landmark_curve([read_landmarks(root / p) for p in item.landmarks]), ""
        except LandmarksError as exc:
            return None, str(exc)
    return _crop_curve(session, settings, item)


def _crop_curve(session: Session, settings: Settings, item: _Frames
                ) -> tuple[np.ndarray | None, str]:
    from PIL import Image

    from app.services.crops import CropError, ensure_crops

    source = "landmarks" if all(item.landmarks) else "mtcnn"
    try:
        paths = ensure_crops(session, settings, frame_ids=item.ids, source=source,
                             size=CROP_SIZE, color="gray")
    except CropError as exc:
        return None, str(exc)
    found = [paths.get(i) for i in item.ids]
    if found[0] is None:
        return None, f"no face found by {source} in frame 1"
    images, last = [], None
    for path in found:  # a frame without a face repeats the previous one's crop
        last = np.asarray(Image.open(path).convert("L")) if path is not None else last
        images.append(last)
    return crop_curve(images), ""


def _key(item: _Frames) -> str:
    text = json.dumps([item.ids, item.paths, item.landmarks])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class _Cache:
    """{sequence id: {key, curve, note}} in one JSON file per method, written atomically."""

    def __init__(self, settings: Settings | None, method: str):
        self.path = None if settings is None else (
            Path(settings.data_dir) / "assist" / f"curves-{method}.json")
        try:
            self.data = json.loads(self.path.read_text()) if self.path else {}
        except (OSError, ValueError):
            self.data = {}
        self.dirty = False

    def get(self, item: _Frames) -> tuple[np.ndarray | None, str] | None:
        hit = self.data.get(str(item.sequence_id))
        if hit is None or hit.get("key") != _key(item):
            return None
        return (np.array(hit["curve"]) if hit["curve"] is not None else None), hit["note"]

    def put(self, item: _Frames, curve: np.ndarray | None, note: str) -> None:
        self.data[str(item.sequence_id)] = {
            "key": _key(item), "note": note,
            "curve": None if curve is None else [round(float(v), 6) for v in curve]}
        self.dirty = True

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)


def suggest(session: Session, settings: Settings | None, *,
            sequence_ids: list[int] | None = None,
            method: str = "auto", threshold: float | None = None, compute_crops: bool = True,
            progress: Progress | None = None) -> list[OnsetSuggestion]:
    """Suggestions for these sequences (all when None), in subject/sequence order.
    Without `compute_crops` (a page view) crop curves come only from the cache: cutting
    crops may mean running MTCNN over the sequence. Without settings (the export's
    selection) nothing is cached and crop curves are not made."""
    method = pick_method(session, method)
    threshold = THRESHOLDS[method] if threshold is None else threshold
    compute_crops = compute_crops and settings is not None
    root = _root(session)
    cache = _Cache(settings, method)
    items = _sequences(session, sequence_ids)
    out = []
    try:
        for done, item in enumerate(items, start=1):
            hit = cache.get(item)
            if hit is None and method == "crops" and not compute_crops:
                hit = (None, "not computed yet: run `onset onsets --method crops`")
            elif hit is None:
                hit = _curve(session, settings, item, method, root)
                cache.put(item, *hit)
            curve, note = hit
            onset = onset_from_curve(curve, threshold) if curve is not None else None
            if curve is not None and onset is None:
                note = "the face does not change over the sequence"
            shown = (tuple(float(v) for v in normalise(curve, threshold))
                     if curve is not None else ())
            out.append(OnsetSuggestion(item.sequence_id, item.subject, item.code,
                                       len(item.ids), onset, method, shown, note))
            if progress and (done % 20 == 0 or done == len(items)):
                progress(done, len(items))
    finally:
        cache.save()
    return out


def suggest_all(session: Session, settings: Settings, *, method: str = "auto",
                progress: Progress | None = None) -> list[OnsetSuggestion]:
    return suggest(session, settings, method=method, progress=progress)


def suggest_one(session: Session, settings: Settings, *, sequence_id: int,
                method: str = "auto") -> OnsetSuggestion | None:
    """The review page's curve and ghost onset; None when it cannot be made (no dataset)."""
    try:
        found = suggest(session, settings, sequence_ids=[sequence_id], method=method,
                        compute_crops=False)
    except AssistError:
        return None
    return found[0] if found else None
