"""Drawing one demo frame: a per-subject backdrop with the body, the head drawn at 2x on a
crop around it and reduced (anti-aliased edges for a fraction of the cost of a 2x frame),
lighting, a burned-in timecode and video grain.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from app.demo.landmarks import Pose
from app.demo.painter import RGB, SS, Painter, StaticParts
from app.demo.plan import SubjectPlan

__all__ = ["SubjectRenderer"]


class SubjectRenderer:
    """Draws frames of one subject; holds what is the same for all of them."""

    # Face-unit box around everything that moves with the head (hair, ears, a dropped jaw).
    _HEAD_BOX = np.array([(-1.4, -1.75), (1.4, -1.75), (1.4, 2.15), (-1.4, 2.15)])

    def __init__(self, plan: SubjectPlan, neutral: np.ndarray):
        self.plan = plan
        self.look = plan.look
        self.neutral = neutral
        w, h = plan.width, plan.height
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        light = 1.0 + plan.look.light_dx * (xs - plan.center[0]) / (w / 2)
        light -= 0.10 * (((xs - w / 2) / w) ** 2 + ((ys - h / 2) / h) ** 2)  # mild vignette
        self.light = light[..., None] if plan.mode == "RGB" else light
        self.static = StaticParts(self)
        # The body stays put while the head moves a pixel or two, so it is drawn once.
        backdrop = self._backdrop().resize((w * SS, h * SS), Image.NEAREST)
        base = Pose(plan.center[0], plan.center[1], plan.scale, plan.roll_deg)
        Painter(self, backdrop, base, (0, 0)).replay(self.static.body)
        self.background = backdrop.reduce(SS).filter(_BLUR)
        # Each frame's head is drawn on a 2x crop of this; NEAREST makes reduce() exact.
        self.background_2x = self.background.resize((w * SS, h * SS), Image.NEAREST)
        self.background_lit = self._lit(self.background, 0, 0)

    def ink(self, rgb: RGB):
        """A colour in this subject's image mode (grayscale subjects get the luma)."""
        if self.plan.mode == "RGB":
            return rgb
        return int(round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]))

    def _backdrop(self) -> Image.Image:
        p, look = self.plan, self.look
        t = np.linspace(0.0, 1.0, p.height, dtype=np.float32)[:, None, None]
        top = np.array(look.background_top, np.float32)
        bottom = np.array(look.background_bottom, np.float32)
        rgb = np.broadcast_to(top + (bottom - top) * t, (p.height, p.width, 3))
        img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
        return img if p.mode == "RGB" else img.convert("L")

    def _lit(self, img: Image.Image, x0: int, y0: int) -> np.ndarray:
        arr = np.asarray(img, dtype=np.float32)
        arr *= self.light[y0:y0 + arr.shape[0], x0:x0 + arr.shape[1]]
        np.clip(arr, 0, 255, out=arr)
        return arr.astype(np.uint8)

    def render(self, pose: Pose, points: np.ndarray, au_level: dict[int, float],
               timecode: str, noise_rng: np.random.Generator) -> Image.Image:
        """One frame. `points` are the 68 landmarks in face units (expression applied),
        `au_level` the AU strengths at this frame (they drive the wrinkle lines)."""
        p = self.plan
        box = pose.to_image(self._HEAD_BOX)
        x0, y0 = (max(0, int(math.floor(v))) for v in box.min(axis=0))
        x1, y1 = int(math.ceil(box[:, 0].max())), int(math.ceil(box[:, 1].max()))
        x1, y1 = min(p.width, x1), min(p.height, y1)
        canvas = self.background_2x.crop((x0 * SS, y0 * SS, x1 * SS, y1 * SS))
        Painter(self, canvas, pose, (x0, y0)).head(points, au_level)
        frame = self.background_lit.copy()
        frame[y0:y1, x0:x1] = self._lit(canvas.reduce(SS).filter(_BLUR), x0, y0)
        self._timecode(frame, timecode)
        return self._grain(frame, noise_rng)

    def _timecode(self, frame: np.ndarray, text: str) -> None:
        """A burned-in video timecode: white digits in a black box near the bottom."""
        font = _font(max(12, round(frame.shape[0] / 30)))
        left, top, right, bottom = font.getbbox(text)
        box = Image.new(self.plan.mode, (right - left + 12, bottom - top + 10),
                        self.ink((12, 12, 12)))
        ImageDraw.Draw(box).text((6 - left, 5 - top), text, font=font,
                                 fill=self.ink((245, 245, 245)))
        x = round(self.look.timecode_x * frame.shape[1])
        y = frame.shape[0] - box.height - 13
        frame[y:y + box.height, x:x + box.width] = np.asarray(box)

    def _grain(self, frame: np.ndarray, rng: np.random.Generator) -> Image.Image:
        h, w = frame.shape[:2]
        # Grain in 2x2 blocks, like digitised analogue video; also keeps PNGs quick to write.
        grain_shape = ((h + 1) // 2, (w + 1) // 2) + frame.shape[2:]
        grain = rng.standard_normal(grain_shape, dtype=np.float32) * self.look.noise_sigma
        grain = np.rint(grain).astype(np.int16).repeat(2, axis=0).repeat(2, axis=1)[:h, :w]
        grain += frame
        np.clip(grain, 0, 255, out=grain)
        return Image.fromarray(grain.astype(np.uint8), self.plan.mode)


# Analogue video is soft; crisp cartoon edges also fool face detectors (MTCNN found 74% of
# the faces without this blur, 84% with it).
_BLUR = ImageFilter.GaussianBlur(1.2)


@lru_cache(maxsize=8)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()
