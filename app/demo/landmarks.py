"""The 68-point face shape of a demo subject, in face units and in image pixels.

Everything about a synthetic face is decided in *face units*: x to the image right, y down,
origin midway between the eye centres, 1 unit = half the face width at the temples. The
landmarks written to disk and the shapes drawn on the frame both go through the same
`Pose.to_image`, which is what makes crops taken from the landmark files land on the face.

Point order is iBUG-68, as in CK+: 0-16 jaw (image left to image right), 17-21 the subject's
right brow (image left), 22-26 left brow, 27-30 nose bridge, 31-35 nostrils, 36-41 right eye
(image left), 42-47 left eye, 48-59 outer lips, 60-67 inner lips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

JAW = range(0, 17)
RIGHT_BROW = range(17, 22)
LEFT_BROW = range(22, 27)
NOSE_BRIDGE = range(27, 31)
NOSTRILS = range(31, 36)
RIGHT_EYE = range(36, 42)
LEFT_EYE = range(42, 48)
OUTER_LIPS = range(48, 60)
INNER_LIPS = range(60, 68)


@dataclass(frozen=True)
class FaceShape:
    """Per-subject proportions in face units (see module docstring)."""

    chin_y: float  # how far below the eyes the chin is
    jaw_top_y: float  # where the jaw line starts at the temples
    jaw_squareness: float  # superellipse exponent: 2 = oval, ~3 = square jaw
    forehead_top: float  # top of the skull (negative: above the eyes)
    eye_dx: float  # half the distance between the eye centres
    eye_w: float  # half the eye width
    eye_h_up: float  # upper lid height above the corner line
    eye_h_low: float  # lower lid depth below it
    eye_tilt: float  # outer corners up (negative) or down (positive)
    brow_y: float
    brow_arch: float
    brow_thick: float
    nose_len: float  # y of the nose tip
    nose_w: float  # half width of the nostril wings
    mouth_y: float
    mouth_w: float  # half width of the mouth
    lip_up: float  # upper lip thickness
    lip_low: float  # lower lip thickness


def neutral_landmarks(shape: FaceShape) -> np.ndarray:
    """The 68 neutral points of one subject, in face units, shape (68, 2)."""
    pts = np.zeros((68, 2), dtype=np.float64)
    pts[0:17] = jaw_curve(shape, 17)

    # Brows: outer end a little low, peak about a third of the way in, inner end at brow_y.
    for side, idx in ((-1, list(RIGHT_BROW)), (1, list(reversed(LEFT_BROW)))):
        outer_x = shape.eye_dx + shape.eye_w + 0.10
        inner_x = max(0.09, shape.eye_dx - shape.eye_w - 0.04)
        for k, i in enumerate(idx):  # k = 0 outer ... 4 inner
            u = k / 4
            x = outer_x + (inner_x - outer_x) * u
            y = shape.brow_y - shape.brow_arch * math.sin(math.pi * (0.2 + 0.8 * u))
            pts[i] = (side * x, y)

    nl, nw = shape.nose_len, shape.nose_w
    pts[27:31] = [(0, -0.02), (0, nl * 0.32), (0, nl * 0.64), (0, nl)]
    pts[31:36] = [(-nw, nl + 0.05), (-nw * 0.5, nl + 0.09), (0, nl + 0.10),
                  (nw * 0.5, nl + 0.09), (nw, nl + 0.05)]

    ex, ew, tilt = shape.eye_dx, shape.eye_w, shape.eye_tilt
    up, low = shape.eye_h_up, shape.eye_h_low
    pts[36:42] = [(-ex - ew, tilt), (-ex - ew * 0.35, -up), (-ex + ew * 0.35, -up * 0.95),
                  (-ex + ew, 0.01), (-ex + ew * 0.35, low), (-ex - ew * 0.35, low)]
    pts[42:48] = [(ex - ew, 0.01), (ex - ew * 0.35, -up * 0.95), (ex + ew * 0.35, -up),
                  (ex + ew, tilt), (ex + ew * 0.35, low), (ex - ew * 0.35, low)]

    my, mw, lu, ll = shape.mouth_y, shape.mouth_w, shape.lip_up, shape.lip_low
    pts[48:60] = [(-mw, my), (-mw * 0.6, my - lu * 0.85), (-mw * 0.25, my - lu),
                  (0, my - lu * 0.86), (mw * 0.25, my - lu), (mw * 0.6, my - lu * 0.85),
                  (mw, my), (mw * 0.6, my + ll * 0.8), (mw * 0.25, my + ll),
                  (0, my + ll * 1.02), (-mw * 0.25, my + ll), (-mw * 0.6, my + ll * 0.8)]
    # Closed lips: the inner contour is almost a line (upper and lower nearly touch).
    pts[60:68] = [(-mw * 0.86, my), (-mw * 0.35, my - 0.004), (0, my - 0.002),
                  (mw * 0.35, my - 0.004), (mw * 0.86, my), (mw * 0.35, my + 0.004),
                  (0, my + 0.002), (-mw * 0.35, my + 0.004)]
    return pts


def jaw_curve(shape: FaceShape, n: int) -> np.ndarray:
    """n points along the jaw from the image-left temple, round the chin, to the right."""
    phi = np.linspace(0.0, math.pi, n)
    p = 2.0 / shape.jaw_squareness
    c, s = np.cos(phi), np.sin(phi)
    x = -np.sign(c) * np.abs(c) ** p
    y = shape.jaw_top_y + (shape.chin_y - shape.jaw_top_y) * np.abs(s) ** p
    # Faces narrow towards the chin more than a superellipse does.
    x *= 1.0 - 0.22 * np.abs(s) ** 3
    return np.stack([x, y], axis=1)


def forehead_arc(shape: FaceShape, n: int, grow: float = 0.0) -> np.ndarray:
    """The top of the head from the image-right temple over to the image-left one."""
    theta = np.linspace(0.0, math.pi, n)
    x = np.cos(theta) * (1.0 + grow)
    y = shape.jaw_top_y - (shape.jaw_top_y - shape.forehead_top + grow) * np.sin(theta) ** 0.8
    return np.stack([x, y], axis=1)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 24) -> np.ndarray:
    """Points of an ellipse in face units (so it rotates with the head once posed)."""
    t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


@dataclass(frozen=True)
class Pose:
    """Where the face is in the image for one frame: eye midpoint, scale, in-plane roll."""

    cx: float
    cy: float
    scale: float  # pixels per face unit
    roll_deg: float

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        """Face units -> image pixels (float)."""
        a = math.radians(self.roll_deg)
        ca, sa = math.cos(a), math.sin(a)
        x, y = pts[..., 0], pts[..., 1]
        out = np.empty_like(pts, dtype=np.float64)
        out[..., 0] = self.cx + self.scale * (ca * x - sa * y)
        out[..., 1] = self.cy + self.scale * (sa * x + ca * y)
        return out
