"""Face boxes, eye-aligned crops and the parameters that decide them.

Box sources, chosen by name everywhere: ``mtcnn`` (the detector; weights ship in the
``mtcnn`` wheel), ``landmarks`` (CK+'s 68-point files, no detector), ``none`` (whole frame).
Locating and cropping are separate steps so a cache can keep boxes and re-crop when only
crop settings change: ``detect_faces``/``pick_face`` (or ``face_from_landmarks``,
``whole_frame_face``) -> ``Face``, ``crop_from_face`` -> pixels (`training.face_track` runs
the detector over a sequence); ``detection_key``/``crop_key`` say what a parameter change
invalidates. TensorFlow/MTCNN load on first detection only (importing this is cheap).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.contract import COLORS
from training.framing import DEFAULT_FRAMING, Framing, placement
from training.images import ImageSource, load_image

SOURCES = ("mtcnn", "landmarks", "none")
# mtcnn 1.0 sizes its image pyramid for min_face_size=20 only: larger values make the last
# pyramid level smaller than PNet's 12x12 window and Keras raises. We therefore always ask
# MTCNN for 20 px faces and shrink the image by 20/min_face_size instead (same effect,
# and much cheaper: a 640x490 CK+ frame is searched at 213x163 for min_face_size=60).
MTCNN_NATIVE_MIN_FACE = 20


class LandmarksError(ValueError):
    """A landmark file or array is unusable; the message names the file."""


def _require(ok: bool, field_name: str, value: object, rule: str) -> None:
    if not ok:
        raise ValueError(f"{field_name} must be {rule}, not {value!r}")


def _check_source(source: str) -> None:
    _require(source in SOURCES, "face source", source, f"one of {SOURCES}")


def stable_key(kind: str, values: dict) -> str:
    """Short hash of a parameter set: same values, same key, across runs and machines."""
    payload = json.dumps({"kind": kind, **values}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DetectionParams:
    """Everything that changes which box MTCNN returns (and so the cached detections)."""

    min_face_size: int = 60          # smallest face searched for, in original-image pixels
    max_side: int = 1024             # bigger images are shrunk for detection, boxes mapped back
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8)  # PNet, RNet, ONet confidence
    scale_factor: float = 0.709      # image pyramid step (0.6..0.709)

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        _require(self.min_face_size >= MTCNN_NATIVE_MIN_FACE, "min_face_size",
                 self.min_face_size, f">= {MTCNN_NATIVE_MIN_FACE} px")
        _require(self.max_side >= 64, "max_side", self.max_side, ">= 64 px")
        _require(len(self.thresholds) == 3 and all(0 < t < 1 for t in self.thresholds),
                 "thresholds", self.thresholds, "three values in (0, 1)")
        # Outside this range mtcnn 1.0's pyramid can shrink below PNet's window and crash.
        _require(0.6 <= self.scale_factor <= 0.709, "scale_factor", self.scale_factor,
                 "in [0.6, 0.709]")

    def key(self) -> str:
        return stable_key("detection/1", asdict(self))


@dataclass(frozen=True)
class CropParams:
    """Everything that changes the crop pixels once the face is located: the output size and
    colour, and the framing (where the square sits around the face; `training.framing`)."""

    size: int = 96                   # output is size x size
    color: str = "gray"              # "gray" (HxW uint8) or "rgb" (HxWx3 uint8)
    framing: Framing = DEFAULT_FRAMING

    def __post_init__(self) -> None:
        _require(8 <= self.size <= 1024, "crop size", self.size, "8..1024 px")
        _require(self.color in COLORS, "crop color", self.color, f"one of {COLORS}")
        _require(isinstance(self.framing, Framing), "crop framing", self.framing,
                 "a training.framing.Framing")

    def key(self) -> str:
        return stable_key("crop/2", asdict(self))


def detection_key(source: str, detection: DetectionParams | None = None,
                  track: object | None = None) -> str:
    """Cache key of a face box: only what the source depends on (landmarks ignore MTCNN
    settings; ``track`` is the ``TrackParams`` of the sequence fast path, if used)."""
    _check_source(source)
    values: dict = {"source": source, "points": "eyes+mouth"}  # faces carry the mouth now
    if source == "mtcnn":
        values["detection"] = (detection or DetectionParams()).key()
        if track is not None:
            values["track"] = track.key()
    return stable_key("face/1", values)


def crop_key(face_key: str, crop: CropParams) -> str:
    """Cache key of a crop: the face box's key plus the crop settings."""
    return stable_key("cropped/1", {"face": face_key, "crop": crop.key()})


@dataclass(frozen=True)
class Face:
    """One face in original-image pixel coordinates.

    ``left_eye`` / ``right_eye`` are as seen in the image (left = smaller x for an upright
    face; MTCNN's and iBUG's order), ``None`` for the ``none`` source; ``mouth`` is the
    midpoint of the mouth corners (``None`` where a source has no mouth). ``method`` says how
    the box was obtained: detected, interpolated, landmarks or whole_frame.
    """

    box: tuple[float, float, float, float]      # x, y, width, height
    left_eye: tuple[float, float] | None
    right_eye: tuple[float, float] | None
    confidence: float
    source: str
    method: str
    mouth: tuple[float, float] | None = None

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2, y + h / 2)

    @property
    def eye_angle(self) -> float | None:
        """Degrees the eye line is tilted (positive: right eye lower in the image)."""
        if self.left_eye is None or self.right_eye is None:
            return None
        dx = self.right_eye[0] - self.left_eye[0]
        dy = self.right_eye[1] - self.left_eye[1]
        return math.degrees(math.atan2(dy, dx))

    def to_dict(self) -> dict:
        """JSON-ready (for a cache column); ``Face.from_dict`` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Face:
        def point(value):
            return None if value is None else (float(value[0]), float(value[1]))

        return cls(box=tuple(float(v) for v in data["box"]), left_eye=point(data["left_eye"]),
                   right_eye=point(data["right_eye"]), confidence=float(data["confidence"]),
                   source=str(data["source"]), method=str(data["method"]),
                   mouth=point(data.get("mouth")))


# --- MTCNN -------------------------------------------------------------------------------

_detector = None
_detector_lock = threading.Lock()


def get_detector():
    """The process-wide MTCNN instance (built once: loading three networks takes a while)."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TF start-up chatter
                from mtcnn import MTCNN

                _detector = MTCNN()
    return _detector


def detect_faces(images: Sequence[ImageSource], params: DetectionParams = DetectionParams(),
                 *, batch_size: int = 16) -> list[list[Face]]:
    """All faces in each image (any order), ``batch_size`` images per MTCNN call: MTCNN's
    per-call overhead dominates, so 16 CK+ frames per call run ~5x faster than one by one."""
    arrays = [load_image(image, mode="RGB") for image in images]
    results: list[list[Face]] = [[] for _ in arrays]
    # mtcnn 1.0 maps padding offsets back per *found* image id, which is only right when
    # nothing was padded, so only equally sized detection images share a batch.
    groups: dict[tuple[int, int], list[int]] = {}
    scaled: list[tuple[np.ndarray, float]] = []
    for index, array in enumerate(arrays):
        small, scale = _detection_image(array, params)
        scaled.append((small, scale))
        groups.setdefault(small.shape[:2], []).append(index)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            rows = _run_mtcnn([scaled[i][0] for i in chunk], params)
            for row in rows:
                index = chunk[int(row[0])]
                results[index].append(_face_from_row(row, scaled[index][1]))
    return results


def _detection_image(array: np.ndarray, params: DetectionParams) -> tuple[np.ndarray, float]:
    height, width = array.shape[:2]
    scale = min(1.0, MTCNN_NATIVE_MIN_FACE / params.min_face_size,
                params.max_side / max(height, width))
    if scale >= 1.0:
        return array, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR))
    # Map back with the scale actually applied per axis (rounding), averaged.
    return small, (size[0] / width + size[1] / height) / 2


def _run_mtcnn(batch: list[np.ndarray], params: DetectionParams) -> np.ndarray:
    if min(batch[0].shape[:2]) < 32:  # too small for a 20 px face (and mtcnn's pyramid)
        return np.empty((0, 16))
    pnet, rnet, onet = params.thresholds
    rows = get_detector().detect_faces(
        batch, output_type="numpy", box_format="xyxy",
        min_face_size=MTCNN_NATIVE_MIN_FACE, scale_factor=params.scale_factor,
        threshold_pnet=pnet, threshold_rnet=rnet, threshold_onet=onet)
    rows = np.asarray(rows, dtype=np.float64)  # (0, 6) when nothing found, else (n, 16)
    return rows if rows.ndim == 2 and rows.shape[1] == 16 else np.empty((0, 16))


def _face_from_row(row: np.ndarray, scale: float) -> Face:
    # Row layout (mtcnn 1.0, numpy output): image id, x1, y1, x2, y2, confidence,
    # five x's then five y's for left_eye, right_eye, nose, mouth_left, mouth_right.
    x1, y1, x2, y2 = (float(v) / scale for v in row[1:5])
    left_eye = (float(row[6]) / scale, float(row[11]) / scale)
    right_eye = (float(row[7]) / scale, float(row[12]) / scale)
    mouth = (float(row[9] + row[10]) / 2 / scale, float(row[14] + row[15]) / 2 / scale)
    return Face(box=(x1, y1, x2 - x1, y2 - y1), left_eye=left_eye, right_eye=right_eye,
                confidence=float(row[5]), source="mtcnn", method="detected", mouth=mouth)


def pick_face(faces: Sequence[Face], image_shape: tuple[int, ...]) -> Face | None:
    """The subject: the largest face, with a penalty for being far from the image centre
    (a centred face beats an off-centre one up to ~1.5x its size)."""
    if not faces:
        return None
    height, width = image_shape[:2]
    half_diagonal = math.hypot(width, height) / 2

    def score(face: Face) -> float:
        cx, cy = face.center
        offset = math.hypot(cx - width / 2, cy - height / 2) / half_diagonal
        return math.sqrt(max(face.box[2], 0) * max(face.box[3], 0)) * (1 - 0.5 * offset)

    return max(faces, key=score)


# --- CK+ landmarks -----------------------------------------------------------------------

def read_landmarks(path: str | os.PathLike) -> np.ndarray:
    """A CK+ ``*_landmarks.txt`` file -> (68, 2) float array of x, y."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise LandmarksError(f"{path}: cannot read landmark file ({exc})") from exc
    points = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                x, y = (float(value) for value in line.split())  # also fails on 1 or 3 values
            except ValueError as exc:
                raise LandmarksError(f"{path}: line {number}: expected two numbers 'x y', "
                                     f"got {line.strip()!r}") from exc
            points.append((x, y))
    return check_landmarks(np.asarray(points, dtype=np.float64), str(path))


def check_landmarks(points: np.ndarray, name: str = "landmarks") -> np.ndarray:
    """(68, 2) finite float array, or ``LandmarksError`` naming the source."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2):
        raise LandmarksError(f"{name}: expected 68 points of x y, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise LandmarksError(f"{name}: landmark coordinates must be finite numbers")
    return points


def face_from_landmarks(points: np.ndarray, name: str = "landmarks") -> Face:
    """Box, eye centres and mouth from iBUG 68 points (36-41 image-left eye, 42-47 the other,
    48 and 54 the mouth corners, as MTCNN's five points)."""
    points = check_landmarks(points, name)
    x1, y1 = points.min(axis=0)
    x2, y2 = points.max(axis=0)
    if x2 - x1 < 1 or y2 - y1 < 1:
        raise LandmarksError(f"{name}: landmarks span no area ({x1:.1f},{y1:.1f})")
    left_eye = points[36:42].mean(axis=0)
    right_eye = points[42:48].mean(axis=0)
    mouth = points[[48, 54]].mean(axis=0)
    return Face(box=(float(x1), float(y1), float(x2 - x1), float(y2 - y1)),
                left_eye=(float(left_eye[0]), float(left_eye[1])),
                right_eye=(float(right_eye[0]), float(right_eye[1])),
                confidence=1.0, source="landmarks", method="landmarks",
                mouth=(float(mouth[0]), float(mouth[1])))


# --- locating and cropping ---------------------------------------------------------------

def whole_frame_face(image_shape: tuple[int, ...]) -> Face:
    """The ``none`` source: the whole frame is the "face"."""
    box = (0.0, 0.0, float(image_shape[1]), float(image_shape[0]))
    return Face(box, None, None, confidence=1.0, source="none", method="whole_frame")


def crop_from_face(image: ImageSource, face: Face, params: CropParams = CropParams()
                   ) -> np.ndarray:
    """Crop a known face: the square ``params.framing`` places (`training.framing`),
    eye-levelled when the framing aligns, resampled once to ``params.size``."""
    array = load_image(image, mode="L" if params.color == "gray" else "RGB")
    pil = Image.fromarray(array)
    if face.method == "whole_frame":  # kept whole (stretched), never centre-cropped
        return np.asarray(pil.resize((params.size, params.size), Image.BILINEAR))
    cx, cy, side, angle = placement(face, params.framing)
    step = side / params.size  # source pixels per output pixel
    if step >= 2:
        # A bilinear transform reads 2x2 pixels per output pixel, so shrinking a 300 px
        # face to 96 px would alias; box-average by the whole factor first.
        factor = int(step)
        pil, cx, cy, step = pil.reduce(factor), cx / factor, cy / factor, step / factor
    # Affine map from output pixel (u, v) to source pixel: scale, rotate by the eye angle
    # about the box centre. One resampling step, so no blur from rotate-then-resize.
    cos, sin = math.cos(angle) * step, math.sin(angle) * step
    half = params.size / 2
    coeffs = (cos, -sin, cx - cos * half + sin * half,
              sin, cos, cy - sin * half - cos * half)
    out = pil.transform((params.size, params.size), Image.AFFINE, coeffs,
                        resample=Image.BILINEAR, fillcolor=0 if array.ndim == 2 else (0, 0, 0))
    return np.asarray(out)

