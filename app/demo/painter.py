"""Drawing a face with Pillow from its (posed) landmarks: skin, eyes, brows, nose, mouth,
wrinkles that follow the action units, and the parts that only move with the head (hair,
ears, glasses, body), which are recorded once per subject and replayed every frame.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from app.demo.landmarks import Pose, ellipse, forehead_arc

if TYPE_CHECKING:
    from app.demo.drawing import SubjectRenderer

SS = 2  # supersampling factor of the head crop
RGB = tuple[int, int, int]


def shade(rgb: RGB, factor: float) -> RGB:
    return tuple(min(255, max(0, int(c * factor))) for c in rgb)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, float(t)))
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


@lru_cache(maxsize=8)
def _catmull_rom_basis(k: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, k, endpoint=False)
    return 0.5 * np.stack([-t + 2 * t**2 - t**3, 2 - 5 * t**2 + 3 * t**3,
                           t + 4 * t**2 - 3 * t**3, -t**2 + t**3], axis=1)


def catmull_rom(pts: np.ndarray, closed: bool = False, k: int = 4) -> np.ndarray:
    """A smooth curve through the points (k samples per segment), so 68 landmarks draw as
    round eyes and lips rather than polygons."""
    p = np.asarray(pts, dtype=np.float64)
    if closed:
        ext = np.vstack([p[-1:], p, p[:2]])
    else:
        ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    segments = len(p) if closed else len(p) - 1
    controls = np.stack([ext[i:i + segments] for i in range(4)], axis=1)  # (segments, 4, 2)
    curve = np.einsum("kj,sjd->skd", _catmull_rom_basis(k), controls).reshape(-1, 2)
    return curve if closed else np.vstack([curve, p[-1:]])


class _Recorder:
    """Stands in for a Painter's canvas: keeps the shapes instead of drawing them."""

    def __init__(self, renderer: SubjectRenderer):
        self.r = renderer
        self.look = renderer.look
        self.shape = renderer.plan.shape
        self.ops: list[tuple] = []

    def poly(self, pts, rgb: RGB) -> None:
        self.ops.append(("poly", np.asarray(pts, dtype=np.float64), rgb, 0.0))

    def line(self, pts, rgb: RGB, width: float) -> None:
        self.ops.append(("line", np.asarray(pts, dtype=np.float64), rgb, width))

    def take(self, *steps) -> list[tuple]:
        self.ops = []
        for step in steps:
            step(self)
        return self.ops


class StaticParts:
    """One subject's head parts that never change shape, in face units."""

    def __init__(self, renderer: SubjectRenderer):
        rec = _Recorder(renderer)
        self.forehead = forehead_arc(renderer.plan.shape, 30)
        self.body = rec.take(Painter._body)
        self.behind_face = rec.take(Painter._hair_back, Painter._ears)
        self.on_face = rec.take(Painter._hair_front, Painter._mole)
        self.on_top = rec.take(Painter._glasses)


class Painter:
    """Draws face-unit shapes onto the supersampled head crop."""

    def __init__(self, renderer: SubjectRenderer, canvas: Image.Image, pose: Pose,
                 origin: tuple[int, int]):
        self.r = renderer
        self.look = renderer.look
        self.shape = renderer.plan.shape
        self.canvas = canvas
        self.draw = ImageDraw.Draw(canvas)
        self.pose = pose
        self.origin = np.array(origin, dtype=np.float64)
        self.px = pose.scale * SS  # canvas pixels per face unit

    def xy(self, pts) -> list[tuple[float, float]]:
        c = (self.pose.to_image(np.asarray(pts, dtype=np.float64)) - self.origin) * SS
        return [(x, y) for x, y in c.reshape(-1, 2).tolist()]

    def poly(self, pts, rgb: RGB) -> None:
        self.draw.polygon(self.xy(pts), fill=self.r.ink(rgb))

    def line(self, pts, rgb: RGB, width: float) -> None:
        self.draw.line(self.xy(pts), fill=self.r.ink(rgb), width=max(1, round(width * self.px)),
                       joint="curve")

    def crease(self, pts, level: float, width: float) -> None:
        """A wrinkle line whose darkness follows an AU's strength; absent when relaxed."""
        if level > 0.02:
            self.line(pts, mix(self.look.skin, shade(self.look.skin, 0.55), level), width)

    def clipped(self, clip_pts, shapes) -> None:
        """Draw filled shapes only inside the clip polygon (irises inside eyes, teeth inside
        the mouth), using a small mask the size of the clip's bounding box."""
        clip = self.xy(clip_pts)
        xs, ys = [c[0] for c in clip], [c[1] for c in clip]
        bx0, by0 = int(math.floor(min(xs))) - 1, int(math.floor(min(ys))) - 1
        bx1, by1 = int(math.ceil(max(xs))) + 2, int(math.ceil(max(ys))) + 2
        if bx1 - bx0 < 2 or by1 - by0 < 2:
            return
        size = (bx1 - bx0, by1 - by0)
        clip_mask = Image.new("L", size, 0)
        ImageDraw.Draw(clip_mask).polygon([(x - bx0, y - by0) for x, y in clip], fill=255)
        for pts, rgb in shapes:
            mask = Image.new("L", size, 0)
            ImageDraw.Draw(mask).polygon([(x - bx0, y - by0) for x, y in self.xy(pts)], fill=255)
            self.canvas.paste(self.r.ink(rgb), (bx0, by0, bx1, by1),
                              ImageChops.darker(mask, clip_mask))

    # --- the head, back to front -------------------------------------------------------

    def head(self, pts: np.ndarray, au: dict[int, float]) -> None:
        parts = self.r.static
        self.replay(parts.behind_face)
        outline = np.vstack([catmull_rom(pts[0:17]), parts.forehead])
        self._modelled_face(outline, pts)
        self.replay(parts.on_face)
        self._wrinkles(pts, au)
        for idx in (range(36, 42), range(42, 48)):
            self._eye(pts[list(idx)])
        self._brows(pts)
        self._nose(pts)
        self._mouth(pts)
        self.replay(parts.on_top)

    def _modelled_face(self, outline: np.ndarray, pts: np.ndarray) -> None:
        """Skin with a darker rim and eye sockets: flat cartoon faces are not faces to a
        face detector (MTCNN), shaded ones are."""
        skin = self.look.skin
        self.poly(outline, shade(skin, 0.8))
        centre = np.array([self.look.light_dx * 0.4, 0.35])
        for k, f in ((0.95, 0.88), (0.9, 0.95), (0.84, 1.0)):
            self.poly(centre + (outline - centre) * k, shade(skin, f))
        for eye in (pts[36:42], pts[42:48]):
            c = eye.mean(0)
            for k, f in ((1.0, 0.92), (0.8, 0.85)):
                self.poly(ellipse(c[0], c[1] - 0.03, (self.shape.eye_w + 0.12) * k,
                                  0.16 * k, 20), shade(skin, f))
        nose = pts[33]
        self.poly(ellipse(nose[0], nose[1] + 0.04, 0.16, 0.05, 16), shade(skin, 0.88))

    def replay(self, ops: list[tuple]) -> None:
        for kind, pts, rgb, width in ops:
            if kind == "poly":
                self.poly(pts, rgb)
            else:
                self.line(pts, rgb, width)

    # Parts that only move with the head (body, ears, hair, glasses): drawn once into a
    # _Recorder per subject and replayed each frame, which halves the drawing time.

    def _ears(self) -> None:
        skin = self.look.skin
        for side in (-1, 1):
            self.poly(ellipse(side * 1.0, 0.3, 0.12, 0.22), shade(skin, 0.9))
            self.line(ellipse(side * 1.01, 0.3, 0.06, 0.13, 12)[3:10], shade(skin, 0.7), 0.012)

    def _mole(self) -> None:
        if self.look.mole:
            self.poly(ellipse(*self.look.mole, 0.018, 0.016, 10), shade(self.look.skin, 0.5))

    def _body(self) -> None:
        skin, shirt = self.look.skin, self.look.shirt
        self.poly([(-0.44, 0.9), (0.44, 0.9), (0.5, 2.5), (-0.5, 2.5)], shade(skin, 0.8))
        self.poly([(-0.5, 2.0), (-1.3, 2.25), (-2.3, 2.6), (-2.6, 4.5), (2.6, 4.5), (2.3, 2.6),
                   (1.3, 2.25), (0.5, 2.0), (0.0, 2.35)], shirt)
        self.line([(-0.52, 2.0), (0.0, 2.37), (0.52, 2.0)], shade(shirt, 0.7), 0.03)

    def _hair_back(self) -> None:
        style, hair = self.look.hair_style, self.look.hair
        if style == "long":
            arc = forehead_arc(self.shape, 30, grow=0.16)
            # Shoulder length, with a notch so the (static) neck stays in front.
            ends = [(-1.17, 0.6), (-1.28, 1.45), (-1.0, 1.68), (-0.5, 1.55), (-0.46, 1.0),
                    (0.46, 1.0), (0.5, 1.55), (1.0, 1.68), (1.28, 1.45), (1.17, 0.6)]
            self.poly(np.vstack([arc, ends]), shade(hair, 0.85))
        elif style == "bun":
            self.poly(ellipse(0.0, self.shape.forehead_top - 0.12, 0.38, 0.26), hair)

    def _hair_front(self) -> None:
        style, hair, shape = self.look.hair_style, self.look.hair, self.shape
        if style == "bald":
            for side in (-1, 1):  # a fringe of short hair above the ears
                self.poly([(side * 1.01, -0.45), (side * 1.07, 0.05), (side * 0.95, 0.2),
                           (side * 0.93, -0.3)], shade(hair, 1.1))
            return
        arc = forehead_arc(shape, 30, grow=0.1)
        xs = np.linspace(-1.03, 1.03, 25)
        temple_y = shape.jaw_top_y - 0.12
        if style == "bangs":
            ys = self.look.hairline + (temple_y - self.look.hairline) * np.abs(xs) ** 6
            ys = ys + 0.025 * np.sin(xs * 40)  # a ragged fringe edge
        else:
            ys = self.look.hairline + (temple_y - self.look.hairline) * np.abs(xs) ** 2.4
        self.poly(np.vstack([arc, np.stack([xs, ys], axis=1)]), hair)
        # Strands: curves from the crown down to the hairline, so hair is not a flat cap.
        crown = np.array([0.15, shape.forehead_top - 0.02])
        for x in np.linspace(-0.8, 0.8, 9):
            end = np.array([x, np.interp(x, xs, ys) - 0.04])
            mid = (crown + end) / 2 + (x * 0.25, -0.12)
            self.line(catmull_rom(np.array([crown + (x * 0.3, 0.0), mid, end]), k=5),
                      shade(hair, 0.72 if sum(hair) > 150 else 1.6), 0.01)

    def _brows(self, pts: np.ndarray) -> None:
        th = self.shape.brow_thick
        for idx in ((17, 18, 19, 20, 21), (26, 25, 24, 23, 22)):  # outer -> inner
            curve = catmull_rom(pts[list(idx)], k=4)
            weight = np.linspace(0.55, 1.0, len(curve))[:, None]
            top = curve - np.array([0.0, th * 0.5]) * weight
            bottom = curve + np.array([0.0, th * 0.5]) * weight
            self.poly(np.vstack([top, bottom[::-1]]), self.look.brows)

    def _eye(self, e: np.ndarray) -> None:
        skin = self.look.skin
        upper = catmull_rom(e[[0, 1, 2, 3]], k=4)
        lower = catmull_rom(e[[3, 4, 5, 0]], k=4)
        self.poly(np.vstack([upper, lower[1:-1]]), (232, 230, 226))
        center = np.array([(e[0, 0] + e[3, 0]) / 2, (e[1:3, 1].mean() + e[4:6, 1].mean()) / 2])
        r = 0.085
        self.poly(ellipse(center[0], center[1], r, r, 20), self.look.iris)
        self.poly(ellipse(center[0], center[1], r * 0.45, r * 0.45, 14), (15, 12, 12))
        self.poly(ellipse(center[0] + 0.025, center[1] - 0.03, 0.014, 0.014, 8), (250, 250, 250))
        # Lids: socket-shaded skin over whatever of the iris lies outside the eye opening
        # (cheaper than clipping; the iris never reaches past the eye corners).
        lid = shade(skin, 0.85)
        top = np.minimum(upper[:, 1], center[1] - r - 0.012)
        self.poly(np.vstack([upper, np.stack([upper[:, 0], top], 1)[::-1]]), lid)
        bottom = np.maximum(lower[:, 1], center[1] + r + 0.012)
        self.poly(np.vstack([lower, np.stack([lower[:, 0], bottom], 1)[::-1]]), lid)
        self.line(upper - (0, 0.05), shade(skin, 0.8), 0.01)  # lid crease
        self.line(lower, shade(skin, 0.55), 0.014)
        self.line(upper, (25, 20, 20), 0.026)  # upper lid and lashes

    def _nose(self, pts: np.ndarray) -> None:
        skin = self.look.skin
        for wing, near in ((31, 32), (35, 34)):
            side = np.sign(pts[wing, 0])
            ridge = [(side * 0.07, pts[28, 1]), (side * 0.1, pts[29, 1]),
                     tuple(pts[wing] + (-side * 0.01, -0.05))]
            self.line(catmull_rom(np.array(ridge), k=4), shade(skin, 0.84), 0.014)
            c = (pts[wing] + pts[near]) / 2 + (0.0, -0.005)
            self.poly(ellipse(c[0], c[1], 0.05, 0.022, 12), shade(skin, 0.35))
        self.line(catmull_rom(pts[31:36], k=4), shade(skin, 0.7), 0.012)
        self.poly(ellipse(pts[30, 0], pts[30, 1] - 0.05, 0.05, 0.035, 12), shade(skin, 1.07))

    def _mouth(self, pts: np.ndarray) -> None:
        outer = catmull_rom(pts[48:60], closed=True, k=4)
        inner = catmull_rom(pts[60:68], closed=True, k=4)
        self.poly(outer, self.look.lips)
        self.poly(inner, (45, 22, 24))
        upper = catmull_rom(pts[[60, 61, 62, 63, 64]], k=4)
        lower = catmull_rom(pts[[64, 65, 66, 67, 60]], k=4)
        teeth_up = np.vstack([upper, (upper + (0, 0.075))[::-1]])
        teeth_low = np.vstack([lower, (lower - (0, 0.05))[::-1]])
        self.clipped(inner, [(teeth_low, (190, 186, 176)), (teeth_up, (238, 236, 228))])
        self.line(inner, shade(self.look.lips, 0.45), 0.01)

    def _wrinkles(self, pts: np.ndarray, au: dict[int, float]) -> None:
        brow_y = float(pts[17:27, 1].mean())
        forehead = (au.get(1, 0.0) + au.get(2, 0.0)) * 0.5
        for k, dy in enumerate((0.12, 0.21, 0.30)):
            xs = np.linspace(-0.45 + 0.08 * k, 0.45 - 0.08 * k, 7)
            ys = brow_y - dy - 0.05 * (1 - (xs / 0.5) ** 2)
            if ys.min() > self.look.hairline + 0.04 or self.look.hair_style == "bald":
                self.crease(np.stack([xs, ys], 1), forehead, 0.012)
        frown = au.get(4, 0.0) + au.get(9, 0.0) * 0.4
        for side in (-1, 1):
            self.crease([(side * 0.06, brow_y - 0.02), (side * 0.05, brow_y + 0.14)], frown, 0.013)
        for dy in (0.1, 0.16, 0.22):
            self.crease([(-0.11, dy + 0.02), (0.0, dy - 0.01), (0.11, dy + 0.02)],
                        au.get(9, 0.0), 0.012)
        contempt_side = self._contempt_side(pts)
        for side, corner, wing in ((-1, 48, 31), (1, 54, 35)):
            smile = au.get(12, 0.0) + au.get(10, 0.0) * 0.5 + au.get(9, 0.0) * 0.5
            if side == contempt_side:
                smile += au.get(14, 0.0) * 0.8
            fold = np.array([pts[wing] + (side * 0.05, -0.03),
                             pts[wing] + (side * 0.14, 0.12),
                             pts[corner] + (side * 0.07, 0.06)])
            self.crease(catmull_rom(fold, k=5), smile * 0.8, 0.014)
            eye_corner = pts[36] if side < 0 else pts[45]
            for dy in (-0.04, 0.0, 0.04):
                self.crease([eye_corner + (side * 0.05, dy * 0.5), eye_corner + (side * 0.13, dy)],
                            au.get(6, 0.0) * 0.7, 0.009)
        y = pts[57, 1] + 0.13
        self.crease([(-0.12, y + 0.02), (0.0, y - 0.01), (0.12, y + 0.02)],
                    au.get(17, 0.0) * 0.8, 0.012)

    def _contempt_side(self, pts: np.ndarray) -> int:
        """Which mouth corner AU14 pulled: the one that rose more above the mouth line."""
        return -1 if pts[48, 1] < pts[54, 1] else 1

    def _glasses(self) -> None:
        if not self.look.glasses:
            return
        n = self.r.neutral
        frame = (30, 30, 34)
        for eye, temple_x in ((n[36:42], -1.0), (n[42:48], 1.0)):
            cx, cy = eye[:, 0].mean(), eye[:, 1].mean() + 0.01
            rim = ellipse(cx, cy, self.shape.eye_w + 0.1, 0.16, 28)
            self.line(np.vstack([rim, rim[:1]]), frame, 0.024)
            outer_x = cx + np.sign(temple_x) * (self.shape.eye_w + 0.1)
            self.line([(outer_x, cy - 0.04), (temple_x * 1.0, cy - 0.06)], frame, 0.022)
        y = n[27, 1] + 0.01
        self.line([(n[39, 0] + 0.08, y), (0.0, y - 0.03), (n[42, 0] - 0.08, y)], frame, 0.022)
