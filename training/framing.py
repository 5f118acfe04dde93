"""Where a face's square crop sits: one definition for export, `onset crop` and predict.

A framing turns a located face (eyes, mouth, box) into a square in source pixels:

- ``method="eyes"`` (the default): the face scale ``u`` is the mean of the inter-ocular
  distance and the eyes-to-mouth distance (the inter-ocular distance alone when a source
  gives no mouth). The square has side ``side * u`` and its centre lies ``down * side`` below
  the eyes' midpoint, perpendicular to the eye line. Averaging the two distances keeps the
  crop's size steady when a head turns (turning shrinks the eye distance, not the mouth's)
  and when it nods (the opposite). A face without eyes is framed by its box: a square of
  ``box_side`` box sides around the box centre.
- ``method="box"``: the pre-1.x framing: a square of ``side`` box sides around the box
  centre (``side = 1 + 2 * margin``), kept so old exports and runs predict as they trained.

``align`` rotates the crop so the eyes are level. The defaults reproduce the CK+48 crops
from MTCNN on the full CK+ frames (bench/framing.py measures it). The block written into
dataset.json's ``image`` and a run's config.json ``face_crop`` is ``Framing.to_dict()``
(`training.contract` writes and reads those blocks).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

METHODS = ("eyes", "box")
# A photo that is itself a face crop: MTCNN needs some context around a face and finds none
# in a tight 45-74 px crop, so a small, roughly square image is taken whole instead.
FACE_CROP_MAX_SIDE = 160
FACE_CROP_ASPECT = (0.75, 1.33)
FACE_CROP_NOTE = "no face detected; the image was taken whole as a face crop"


class FramingError(ValueError):
    """A framing block is unusable; the message names the field."""


@dataclass(frozen=True)
class Framing:
    """How the crop square is placed around a face (see the module docstring)."""

    method: str = "eyes"
    side: float = 2.65       # eyes: in face scales u; box: in box sides
    down: float = 0.11       # centre below the eyes' midpoint (box: the box centre), in sides
    box_side: float = 0.96   # eyes method, face without eyes: side in box sides
    align: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise FramingError(f"framing method must be one of {METHODS}, not {self.method!r}")
        for name, low, high in (("side", 0.2, 10.0), ("box_side", 0.2, 10.0),
                                ("down", -1.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    low <= value <= high):
                raise FramingError(f"framing {name} must be a number in {low}..{high}, "
                                   f"not {value!r}")
            object.__setattr__(self, name, float(value))
        if not isinstance(self.align, bool):
            raise FramingError(f"framing align must be true or false, not {self.align!r}")

    @classmethod
    def from_margin(cls, margin: float, align: bool = True) -> Framing:
        """The legacy framing: the face box plus ``margin`` box sides on each side."""
        return cls(method="box", side=1 + 2 * float(margin), down=0.0, box_side=1 + 2 * margin,
                   align=align)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Framing:
        """Read a ``to_dict()`` block; unknown keys or wrong values raise ``FramingError``."""
        if not isinstance(data, dict):
            raise FramingError(f"framing must be an object, not {data!r}")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise FramingError(f"unknown framing field(s) {unknown}")
        return cls(**data)


DEFAULT_FRAMING = Framing()


def _distance(p: tuple[float, float], q: tuple[float, float]) -> float:
    return math.hypot(q[0] - p[0], q[1] - p[1])


def placement(face, framing: Framing = DEFAULT_FRAMING) -> tuple[float, float, float, float]:
    """(centre x, centre y, side, angle in radians) of the crop square in source pixels.

    ``face`` is a ``training.faces.Face``; the angle is the eye line's tilt when
    ``framing.align`` (0 otherwise), and the output is rotated by it so the eyes are level.
    """
    x, y, w, h = face.box
    eyes = face.left_eye is not None and face.right_eye is not None
    angle = 0.0
    if eyes:
        dx, dy = face.right_eye[0] - face.left_eye[0], face.right_eye[1] - face.left_eye[1]
        angle = math.atan2(dy, dx)
    if framing.method == "eyes" and eyes and _distance(face.left_eye, face.right_eye) >= 1:
        mid = ((face.left_eye[0] + face.right_eye[0]) / 2,
               (face.left_eye[1] + face.right_eye[1]) / 2)
        scale = _distance(face.left_eye, face.right_eye)
        mouth = getattr(face, "mouth", None)
        if mouth is not None:
            scale = (scale + _distance(mid, mouth)) / 2
        side = framing.side * scale
        # Down in the face's own frame: perpendicular to the eye line, towards the mouth.
        offset = framing.down * side
        cx, cy = mid[0] - math.sin(angle) * offset, mid[1] + math.cos(angle) * offset
    elif framing.method == "eyes":  # no eyes to go by: the measured box-only square
        side, cx, cy = framing.box_side * max(w, h), x + w / 2, y + h / 2
    else:
        side = framing.side * max(w, h)
        cx, cy = x + w / 2, y + h / 2 + framing.down * side
    return cx, cy, side, angle if framing.align else 0.0


def looks_like_face_crop(shape: tuple[int, ...]) -> bool:
    """True for an image that is itself a face crop: small and roughly square."""
    height, width = shape[:2]
    if not height or not width or max(height, width) > FACE_CROP_MAX_SIDE:
        return False
    return FACE_CROP_ASPECT[0] <= width / height <= FACE_CROP_ASPECT[1]
