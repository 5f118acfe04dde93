"""Fast face boxes for a CK+ sequence: detect on key frames, interpolate in between.

Within a CK+ sequence the head barely moves, so running MTCNN on every frame mostly
re-finds the same box. We detect on the first and last frame and on frames spaced at most
``key_step`` apart, and interpolate box and eye points linearly for the frames between
two key frames that agree. Where they do not agree (box IoU below ``min_iou``, or either
key frame has no face) every frame of that segment is detected on its own, so a real jump
or a lost face is never smoothed over. Only the frames that are detected are loaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise

import numpy as np

from training.faces import DetectionParams, Face, detect_faces, pick_face, stable_key
from training.images import ImageSource, load_image


@dataclass(frozen=True)
class TrackParams:
    """Fast-path settings; part of the detection cache key when the fast path is used."""

    key_step: int = 8        # at most this many frames from one key frame to the next
    min_iou: float = 0.7     # key frames overlapping less than this are not interpolated

    def __post_init__(self) -> None:
        if self.key_step < 1:
            raise ValueError(f"key_step must be >= 1, not {self.key_step}")
        if not 0 < self.min_iou <= 1:
            raise ValueError(f"min_iou must be in (0, 1], not {self.min_iou}")

    def key(self) -> str:
        return stable_key("track/1", asdict(self))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two x, y, width, height boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def key_frame_indices(count: int, key_step: int) -> list[int]:
    """First, last and evenly spaced frames so no gap exceeds ``key_step``."""
    if count <= 0:
        return []
    if count == 1:
        return [0]
    segments = math.ceil((count - 1) / key_step)
    return sorted({round(i * (count - 1) / segments) for i in range(segments + 1)})


def interpolate_face(a: Face, b: Face, t: float) -> Face:
    """The face a fraction ``t`` of the way from ``a`` to ``b`` (boxes and eyes linear)."""
    def lerp(p, q):
        return tuple(float(x + (y - x) * t) for x, y in zip(p, q, strict=True))

    both_eyes = None not in (a.left_eye, a.right_eye, b.left_eye, b.right_eye)
    return Face(box=lerp(a.box, b.box),
                left_eye=lerp(a.left_eye, b.left_eye) if both_eyes else None,
                right_eye=lerp(a.right_eye, b.right_eye) if both_eyes else None,
                confidence=min(a.confidence, b.confidence), source=a.source,
                method="interpolated",
                mouth=lerp(a.mouth, b.mouth) if None not in (a.mouth, b.mouth) else None)


class _FrameLoader:
    """Loads a frame at most once, only when it has to be detected."""

    def __init__(self, frames: Sequence[ImageSource]):
        self.frames = frames
        self.arrays: dict[int, np.ndarray] = {}

    def __call__(self, index: int) -> np.ndarray:
        if index not in self.arrays:
            self.arrays[index] = load_image(self.frames[index], mode="RGB")
        return self.arrays[index]


def _detect(indices: list[int], load: _FrameLoader, detection: DetectionParams,
            batch_size: int) -> dict[int, Face | None]:
    arrays = [load(i) for i in indices]
    found = detect_faces(arrays, detection, batch_size=batch_size)
    pairs = zip(indices, found, arrays, strict=True)
    return {i: pick_face(faces, array.shape) for i, faces, array in pairs}


def detect_each(frames: Sequence[ImageSource], detection: DetectionParams = DetectionParams(),
                *, batch_size: int = 1) -> list[Face | None]:
    """Reference path: MTCNN on every frame (``batch_size`` frames per MTCNN call)."""
    load = _FrameLoader(frames)
    faces = _detect(list(range(len(frames))), load, detection, batch_size)
    return [faces[i] for i in range(len(frames))]


def track_sequence(frames: Sequence[ImageSource], detection: DetectionParams = DetectionParams(),
                   track: TrackParams = TrackParams(), *, batch_size: int = 16
                   ) -> list[Face | None]:
    """One ``Face`` (or ``None``: no face) per frame, ``method`` "detected" or "interpolated".

    ``frames`` are anything ``load_image`` takes (paths, bytes, arrays), all the same size
    as in a CK+ sequence. Frames between agreeing key frames are never loaded.
    """
    count = len(frames)
    load = _FrameLoader(frames)
    keys = key_frame_indices(count, track.key_step)
    faces: dict[int, Face | None] = _detect(keys, load, detection, batch_size)
    interpolate: list[tuple[int, int]] = []
    redetect: list[int] = []
    for start, end in pairwise(keys):
        inner = list(range(start + 1, end))
        if not inner:
            continue
        a, b = faces[start], faces[end]
        if a is not None and b is not None and box_iou(a.box, b.box) >= track.min_iou:
            interpolate.append((start, end))
        else:
            redetect.extend(inner)
    if redetect:
        faces.update(_detect(redetect, load, detection, batch_size))
    for start, end in interpolate:
        for index in range(start + 1, end):
            t = (index - start) / (end - start)
            faces[index] = interpolate_face(faces[start], faces[end], t)
    return [faces[i] for i in range(count)]

