"""Expression-intensity curves and suggested onset frames.

A CK+ sequence starts neutral and ends at the apex, so the intensity of frame f is how far
the face has moved from frame 1, scaled so the last frames are 1. Three signals, measured
on the demo's answer key by `bench/onsets.py` (README, "Review assistance"):

- `landmarks`: CK+'s 68 points, each frame aligned to frame 1 on the rigid points (eye
  corners, nose) by a similarity transform, so head motion does not count; the mean
  displacement of all points, in units of the face's size;
- `crops`: the eye-aligned face crops' mean absolute pixel change from frame 1 (needs a face
  source: landmarks, else MTCNN; the crops come from the shared crop cache);
- `model`: a run's probability of not-neutral, 1 - p(neutral), where the run has a neutral
  class (`model_signal`). Normalised like the others (frame 1 -> 0, apex -> 1): a run's
  p(neutral) is not calibrated (balanced class weights and label smoothing pull it down;
  on the demo its neutral frames sat near 0.4), so its own 0.5 boundary put the onset at
  frame 2 on most sequences, while the change from frame 1 finds it (bench/onsets.py).

The suggested onset is the frame after the last one whose intensity is below the signal's
threshold (THRESHOLDS; so a noisy bump early on does not count). `auto` takes, sequence by
sequence, the first signal in AUTO_ORDER that can be made. Curves are cached per sequence in
`$ONSET_DATA_DIR/assist/curves-<method>.json` (the model's: `curves-model-<run>.json`),
keyed by the frames they were made from.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import DatasetSource, Frame, Sequence, Subject
from app.services.assist import AssistError

METHODS = ("landmarks", "crops", "model")
# Best first, as bench/onsets.py measured them on the demo's answer key (README, "Review
# assistance"): landmarks and crops exact, the model's probability 1.3 frames off with a
# run trained on another demo (only sequences without a usable face crop reach it).
AUTO_ORDER = ("landmarks", "crops", "model")
# The fraction of the apex intensity a frame must stay above, per signal; chosen on a demo
# of another seed than the one reported (bench/onsets.py --pick: both best at 0.2 once the
# noise floor is subtracted; the model's taken the same, its error flat from 0.1 to 0.25).
THRESHOLDS = {"landmarks": 0.2, "crops": 0.2, "model": 0.2}
THRESHOLD = THRESHOLDS["landmarks"]
RIGID = [27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45]  # nose, eye corners
CROP_SIZE = 64
_NO_SIGNAL = "no intensity signal for this sequence"
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


# Built once (the review page asks for one sequence's curve on every view).
_ALL_FRAMES = (select(Sequence.id, Subject.code, Sequence.code, Frame.id, Frame.path,
                      Frame.landmarks_path)
               .join(Subject, Subject.id == Sequence.subject_id)
               .join(Frame, Frame.sequence_id == Sequence.id)
               .order_by(Subject.code, Sequence.code, Frame.number))
_SOME_FRAMES = _ALL_FRAMES.where(Sequence.id.in_(bindparam("ids", expanding=True)))
# The page's one sequence: an expanding IN is rendered anew on every execution.
_ONE_FRAMES = _ALL_FRAMES.where(Sequence.id == bindparam("id"))
_SOURCE = select(DatasetSource.root).limit(1)


def _sequences(session: Session, sequence_ids: list[int] | None = None) -> list[_Frames]:
    # Plain columns, so Core rows: the ORM's result machinery only added time here. Core
    # does not autoflush, so flush first (free when nothing is pending).
    session.flush()
    run = session.connection().execute
    if sequence_ids is None:
        rows = run(_ALL_FRAMES)
    elif len(sequence_ids) == 1:
        rows = run(_ONE_FRAMES, {"id": sequence_ids[0]})
    else:
        rows = run(_SOME_FRAMES, {"ids": list(sequence_ids)})
    out: dict[int, _Frames] = {}
    for seq_id, subject, code, frame_id, path, landmarks in rows:
        item = out.setdefault(seq_id, _Frames(seq_id, subject, code, [], [], []))
        item.ids.append(frame_id)
        item.paths.append(path)
        item.landmarks.append(landmarks)
    return list(out.values())


def method_order(method: str = "auto") -> tuple[str, ...]:
    """The signals to try, best first: one for a named method, AUTO_ORDER for auto."""
    if method not in ("auto", *METHODS):
        raise AssistError(f"--method must be auto or one of {', '.join(METHODS)}, "
                          f"not {method!r}")
    return AUTO_ORDER if method == "auto" else (method,)


def _root(session: Session) -> Path:
    root = session.scalar(_SOURCE)
    if root is None:
        raise AssistError("no dataset imported yet; run `onset import PATH` (or `onset demo`)")
    return Path(root)


class _Root:
    """The dataset's folder, looked up the first time a curve is computed from its files:
    a page view whose curve is cached never needs it (one query fewer per view)."""

    def __init__(self, session: Session):
        self.session, self.path = session, None

    def get(self) -> Path:
        if self.path is None:
            self.path = _root(self.session)
        return self.path


def _landmark_curve(item: _Frames, root: Path) -> tuple[np.ndarray | None, str]:
    from training.faces import LandmarksError, read_landmarks

    if any(p is None for p in item.landmarks):
        return None, "some frames have no landmark file"
    try:
        return landmark_curve([read_landmarks(root / p) for p in item.landmarks]), ""
    except LandmarksError as exc:
        return None, str(exc)


def _crop_curve(session: Session, settings: Settings, item: _Frames
                ) -> tuple[np.ndarray | None, str]:
    from PIL import Image

    from app.services.faces.crops import CropError, ensure_crops

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


# The parsed cache files, by path, with the (mtime, size) they were read at: the review page
# asks for one sequence's curve on every view, and parsing the whole file each time was most
# of that page's time (bench/review_latency.py). Another process's write changes the mtime.
_PARSED: dict[Path, tuple[tuple[int, int], dict]] = {}
_PARSED_LOCK = threading.Lock()


def _read_cache(path: Path) -> dict:
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with _PARSED_LOCK:
            known = _PARSED.get(path)
        if known is None or known[0] != stamp:
            known = (stamp, json.loads(path.read_text()))
            with _PARSED_LOCK:
                _PARSED[path] = known
        return dict(known[1])  # entries are replaced by put(), never changed in place
    except (OSError, ValueError):
        return {}


class _Cache:
    """{sequence id: {key, curve, note}} in one JSON file per method, written atomically."""

    def __init__(self, settings: Settings | None, method: str):
        self.path = None if settings is None else (
            Path(settings.data_dir) / "assist" / f"curves-{method}.json")
        self.data = _read_cache(self.path) if self.path else {}
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
        # One temporary file per writer (process and thread): two first views of the same
        # cache at once must not rename each other's file away.
        tmp = self.path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)


def suggest(session: Session, settings: Settings | None, *,
            sequence_ids: list[int] | None = None, method: str = "auto",
            run: str | None = None, threshold: float | None = None,
            compute_crops: bool = True, progress: Progress | None = None
            ) -> list[OnsetSuggestion]:
    """Suggestions for these sequences (all when None), in subject/sequence order. `auto`
    takes, per sequence, the first signal of AUTO_ORDER that gives a curve; `method` in
    each suggestion says which. `run` (a run folder or id; default the active model) is
    the model signal's. Without `compute_crops` (a page view) crop and model curves come
    only from the cache: they may mean running MTCNN or TensorFlow. Without settings (the
    export's selection) nothing is cached, and only landmark curves are made."""
    order = method_order(method)
    compute_crops = compute_crops and settings is not None
    root = _Root(session)
    items = _sequences(session, sequence_ids)
    if not items:
        root.get()  # nothing imported: say so, rather than suggest nothing
    made: dict[int, tuple[str, np.ndarray | None, str]] = {}
    for name in order:
        todo = [i for i in items if made.get(i.sequence_id, ("", None, ""))[1] is None]
        if not todo:
            break
        found = _stage(session, settings, name, todo, root, run=run, compute=compute_crops,
                       named=len(order) == 1, progress=progress)
        made.update({seq_id: (name, *hit) for seq_id, hit in found.items()})
    out = []
    for item in items:
        name, curve, note = made.get(item.sequence_id, (order[0], None, _NO_SIGNAL))
        limit = THRESHOLDS[name] if threshold is None else threshold
        onset = onset_from_curve(curve, limit) if curve is not None else None
        shown = normalise(curve, limit) if curve is not None else ()
        if curve is not None and onset is None:
            note = "the face does not change over the sequence" if name != "model" else \
                "the model sees no change from frame 1 to the apex"
        out.append(OnsetSuggestion(item.sequence_id, item.subject, item.code, len(item.ids),
                                   onset, name, tuple(float(v) for v in shown), note))
    return out


def _stage(session: Session, settings: Settings | None, method: str, items: list[_Frames],
           root: _Root, *, run: str | None, compute: bool, named: bool,
           progress: Progress | None) -> dict[int, tuple[np.ndarray | None, str]]:
    """{sequence id: (raw curve or None, note)} from one signal, cached per sequence."""
    neutral = None
    if method == "model":
        neutral = _neutral_run(session, settings, run, named)
        if neutral is None:  # auto: no run with a neutral class, so no model signal
            return {}
    cache = _Cache(settings, neutral.cache_name if neutral else method)
    out, missing = {}, []
    for item in items:
        hit = cache.get(item)
        if hit is None and method == "landmarks":
            hit = _landmark_curve(item, root.get())
            cache.put(item, *hit)
        elif hit is None and not compute:
            hit = (None, f"not computed yet: run `onset onsets --method {method}`")
        elif hit is None:
            missing.append(item)
            continue
        out[item.sequence_id] = hit
    try:
        if neutral is not None and missing:
            computed = _model_curves(session, settings, neutral, missing, root.get(), named,
                                     progress)
        else:
            computed = {}
            for done, item in enumerate(missing, start=1):
                computed[item.sequence_id] = _crop_curve(session, settings, item)
                if progress and (done % 20 == 0 or done == len(missing)):
                    progress(done, len(missing))
        for item in missing:
            hit = computed[item.sequence_id]
            if neutral is None or hit[0] is not None:  # a model that failed to load may not
                cache.put(item, *hit)                   # fail next time
            out[item.sequence_id] = hit
    finally:
        cache.save()
    return out


def _model_curves(session: Session, settings: Settings, neutral, items: list[_Frames],
                  root: Path, named: bool, progress: Progress | None
                  ) -> dict[int, tuple[np.ndarray | None, str]]:
    """The model's curves; under auto a run whose model cannot be loaded leaves the
    sequences to the next signal, with the reason as their note."""
    from app.services.assist.model_signal import model_curves

    try:
        return model_curves(session, settings, neutral, items, root, progress)
    except AssistError as exc:
        if named:
            raise
        return {item.sequence_id: (None, str(exc)) for item in items}


def _neutral_run(session: Session, settings: Settings | None, run: str | None, named: bool):
    """The model signal's run; None under auto when there is none (AssistError if named)."""
    from app.services.assist.model_signal import neutral_run

    if settings is None:
        if named:
            raise AssistError("--method model needs the app's settings (the run folders)")
        return None
    try:
        return neutral_run(session, settings, run)
    except AssistError:
        if named:
            raise
        return None


def suggest_all(session: Session, settings: Settings, *, method: str = "auto",
                run: str | None = None, progress: Progress | None = None
                ) -> list[OnsetSuggestion]:
    return suggest(session, settings, method=method, run=run, progress=progress)


def suggest_one(session: Session, settings: Settings, *, sequence_id: int,
                method: str = "auto") -> OnsetSuggestion | None:
    """The review page's curve and ghost onset; None when it cannot be made (no dataset)."""
    try:
        found = suggest(session, settings, sequence_ids=[sequence_id], method=method,
                        compute_crops=False)
    except AssistError:
        return None
    return found[0] if found else None
