"""Facial action units (FACS) as landmark displacements, and the seven CK+ emotions as AU sets.

Each AU moves named groups of the 68 points by (outward, down) offsets in face units; outward
is away from the face midline, so one table entry moves both sides symmetrically. The
emotion recipes follow the prototypes CK+ used to validate its labels (happy 6+12, surprise
1+2+5+26/27, ...). Displacements are larger than on real faces on purpose: the demo must be
learnable from a 48x48 crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Canonical names by CK+ code (0 neutral ... 7 surprise), as everywhere in Onset.
EMOTIONS: tuple[str, ...] = (
    "neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise",
)
EMOTION_CODE = {name: code for code, name in enumerate(EMOTIONS)}

# How often each emotion is the true one: CK+'s own label counts (anger 45, contempt 18,
# disgust 59, fear 25, happy 69, sadness 28, surprise 83), so class imbalance is realistic.
EMOTION_WEIGHTS = {"anger": 45, "contempt": 18, "disgust": 59, "fear": 25, "happy": 69,
                   "sadness": 28, "surprise": 83}

# Labels that get confused for each other; a deliberately wrong demo label picks from these.
CONFUSABLE = {
    "anger": ("disgust", "sadness", "contempt"),
    "contempt": ("happy", "anger", "disgust"),
    "disgust": ("anger", "contempt", "sadness"),
    "fear": ("surprise", "sadness"),
    "happy": ("contempt", "surprise"),
    "sadness": ("fear", "anger", "disgust"),
    "surprise": ("fear", "happy"),
}

_GROUPS: dict[str, tuple[int, ...]] = {
    "brow_inner": (21, 22), "brow_mid_in": (20, 23), "brow_mid": (19, 24),
    "brow_mid_out": (18, 25), "brow_outer": (17, 26),
    "upper_lid": (37, 38, 43, 44), "lower_lid": (40, 41, 46, 47),
    "corner": (48, 54), "inner_corner": (60, 64),
    "upper_lip_side": (49, 53), "upper_lip_mid": (50, 52), "upper_lip_center": (51,),
    "lower_lip_side": (55, 59), "lower_lip_mid": (56, 58), "lower_lip_center": (57,),
    "inner_upper_side": (61, 63), "inner_upper_center": (62,),
    "inner_lower_side": (65, 67), "inner_lower_center": (66,),
    "nostril_wing": (31, 35), "nostril": (32, 34), "nose_base": (33,), "nose_tip": (30,),
    "nose_lower_bridge": (29,),
    "chin": (8,), "chin_near": (7, 9), "jaw_low": (6, 10), "jaw_mid": (5, 11),
    "jaw_up": (4, 12), "jaw_top": (3, 13),
}

Move = tuple[str, float, float]  # (group, outward, down) in face units at full intensity

_JAW_DROP: tuple[Move, ...] = (
    ("lower_lip_center", 0, 0.26), ("lower_lip_mid", 0, 0.24), ("lower_lip_side", -0.02, 0.17),
    ("inner_lower_center", 0, 0.26), ("inner_lower_side", -0.02, 0.22),
    ("corner", -0.04, 0.07), ("inner_corner", -0.04, 0.07),
    ("inner_upper_center", 0, -0.01), ("inner_upper_side", 0, -0.01),
    ("chin", 0, 0.24), ("chin_near", 0, 0.22), ("jaw_low", 0, 0.17), ("jaw_mid", 0, 0.11),
    ("jaw_up", 0, 0.06), ("jaw_top", 0, 0.02),
)

AU_MOVES: dict[int, tuple[Move, ...]] = {
    1: (("brow_inner", 0, -0.16), ("brow_mid_in", 0, -0.12), ("brow_mid", 0, -0.07),
        ("brow_mid_out", 0, -0.03)),
    2: (("brow_inner", 0, -0.03), ("brow_mid_in", 0, -0.07), ("brow_mid", 0, -0.11),
        ("brow_mid_out", 0, -0.14), ("brow_outer", 0, -0.13)),
    4: (("brow_inner", -0.06, 0.10), ("brow_mid_in", -0.05, 0.09), ("brow_mid", -0.03, 0.07),
        ("brow_mid_out", -0.01, 0.05), ("brow_outer", 0, 0.03), ("upper_lid", 0, 0.012)),
    5: (("upper_lid", 0, -0.055),),
    6: (("lower_lid", 0, -0.035), ("corner", 0, -0.01)),
    7: (("lower_lid", 0, -0.04), ("upper_lid", 0, 0.018)),
    9: (("nostril_wing", 0.02, -0.06), ("nostril", 0, -0.055), ("nose_base", 0, -0.045),
        ("nose_tip", 0, -0.03), ("nose_lower_bridge", 0, -0.015),
        ("brow_inner", -0.02, 0.05), ("brow_mid_in", -0.01, 0.04), ("lower_lid", 0, -0.025),
        ("upper_lip_side", 0, -0.045), ("upper_lip_mid", 0, -0.05), ("upper_lip_center", 0, -0.05),
        ("inner_upper_side", 0, -0.045), ("inner_upper_center", 0, -0.045)),
    10: (("upper_lip_side", 0, -0.05), ("upper_lip_mid", 0, -0.075), ("upper_lip_center", 0, -0.06),
         ("inner_upper_side", 0, -0.075), ("inner_upper_center", 0, -0.065),
         ("corner", 0, -0.012), ("nostril_wing", 0, -0.015)),
    12: (("corner", 0.08, -0.12), ("inner_corner", 0.08, -0.12),
         ("upper_lip_side", 0.04, -0.05), ("lower_lip_side", 0.04, -0.065),
         ("inner_upper_side", 0.035, -0.04), ("inner_lower_side", 0.035, -0.045),
         ("lower_lip_mid", 0.01, -0.015), ("lower_lid", 0, -0.01)),
    14: (("corner", 0.06, -0.09), ("inner_corner", 0.06, -0.09),
         ("upper_lip_side", 0.03, -0.04), ("lower_lip_side", 0.03, -0.035),
         ("inner_upper_side", 0.02, -0.03), ("inner_lower_side", 0.02, -0.03)),
    15: (("corner", -0.01, 0.10), ("inner_corner", -0.01, 0.10),
         ("upper_lip_side", 0, 0.035), ("lower_lip_side", 0, 0.05), ("lower_lip_mid", 0, 0.015),
         ("inner_upper_side", 0, 0.03), ("inner_lower_side", 0, 0.03)),
    16: (("lower_lip_center", 0, 0.10), ("lower_lip_mid", 0, 0.09), ("lower_lip_side", 0, 0.05),
         ("inner_lower_center", 0, 0.10), ("inner_lower_side", 0, 0.08)),
    17: (("lower_lip_center", 0, -0.035), ("lower_lip_mid", 0, -0.035),
         ("lower_lip_side", 0, -0.02),
         ("inner_lower_center", 0, -0.01), ("inner_lower_side", 0, -0.01),
         ("upper_lip_center", 0, -0.015), ("chin", 0, -0.05), ("chin_near", 0, -0.04),
         ("jaw_low", 0, -0.02)),
    20: (("corner", 0.10, 0.035), ("inner_corner", 0.10, 0.035),
         ("upper_lip_side", 0.06, 0.015), ("lower_lip_side", 0.06, 0.0),
         ("inner_upper_side", 0.05, 0.02), ("inner_lower_side", 0.05, 0.02),
         ("upper_lip_mid", 0.02, 0.012), ("lower_lip_mid", 0.02, -0.012)),
    23: (("corner", -0.06, 0), ("inner_corner", -0.06, 0),
         ("upper_lip_side", -0.035, 0.025), ("upper_lip_mid", -0.01, 0.03),
         ("upper_lip_center", 0, 0.03), ("lower_lip_side", -0.035, -0.025),
         ("lower_lip_mid", -0.01, -0.035), ("lower_lip_center", 0, -0.035),
         ("inner_upper_side", -0.03, 0), ("inner_lower_side", -0.03, 0)),
    25: (("inner_upper_side", 0, -0.02), ("inner_upper_center", 0, -0.02),
         ("inner_lower_side", 0, 0.035), ("inner_lower_center", 0, 0.04),
         ("lower_lip_side", 0, 0.025), ("lower_lip_mid", 0, 0.035), ("lower_lip_center", 0, 0.035)),
    26: _JAW_DROP,
    27: tuple((g, dx * 1.5 - 0.02 * (g in ("corner", "inner_corner")), dy * 1.6)
              for g, dx, dy in _JAW_DROP),
}

# AUs that act on one side of the face only when drawn for contempt (R14 / L14).
UNILATERAL_AUS = frozenset({14})


@dataclass(frozen=True)
class Recipe:
    """AUs of one emotion: always-present (AU, strength) and optional ones with a probability."""

    core: tuple[tuple[int, float], ...]
    optional: tuple[tuple[int, float, float], ...] = ()  # (AU, strength, probability)


RECIPES: dict[str, Recipe] = {
    "happy": Recipe(core=((6, 1.0), (12, 1.0)), optional=((25, 0.9, 0.7),)),
    # 26 (jaw drop) or, a third of the time, 27 (mouth stretch) which replaces it.
    "surprise": Recipe(core=((1, 1.0), (2, 1.0), (5, 1.0), (25, 1.0), (26, 1.0)),
                       optional=((27, 0.8, 0.35),)),
    "anger": Recipe(core=((4, 1.0), (5, 0.8), (7, 1.0), (23, 1.0)), optional=((17, 0.7, 0.5),)),
    "disgust": Recipe(core=((9, 1.0), (15, 0.8), (16, 0.9)), optional=((10, 0.8, 0.6),
                                                                       (4, 0.5, 0.5))),
    "fear": Recipe(core=((1, 1.0), (2, 0.8), (4, 0.8), (5, 1.0), (20, 1.0), (25, 1.0),
                         (26, 0.5))),
    "sadness": Recipe(core=((1, 1.0), (4, 0.7), (15, 1.0)), optional=((17, 0.8, 0.6),)),
    "contempt": Recipe(core=((14, 1.4),)),
}


@dataclass(frozen=True)
class Expression:
    """One sequence's apex: AU strengths (1.0 = the table above) and the contempt side."""

    emotion: str
    aus: tuple[tuple[int, float], ...]
    side: int  # -1: image-left (subject's right, CK+'s "R14"), +1: image-right

    def strength(self, au: int) -> float:
        return sum(s for a, s in self.aus if a == au)


def sample_expression(emotion: str, rng: np.random.Generator, expressiveness: float) -> Expression:
    """Draw this sequence's version of an emotion: which optional AUs, how strong each is."""
    recipe = RECIPES[emotion]
    chosen = list(recipe.core)
    for au, strength, prob in recipe.optional:
        if rng.random() < prob:
            chosen.append((au, strength))
    if 26 in [a for a, _ in chosen] and 27 in [a for a, _ in chosen]:
        chosen = [(a, s) for a, s in chosen if a != 26]  # 27 already includes the jaw drop
    overall = expressiveness * rng.uniform(0.85, 1.12)
    aus = tuple((au, round(s * overall * rng.uniform(0.88, 1.12), 4)) for au, s in sorted(chosen))
    side = -1 if rng.random() < 0.6 else 1
    return Expression(emotion=emotion, aus=aus, side=side)


def displacement(neutral: np.ndarray, expr: Expression, t: float) -> np.ndarray:
    """(68, 2) offsets in face units for the expression at intensity t in [0, 1]."""
    out = np.zeros_like(neutral)
    if t <= 0.0:
        return out
    outward = np.sign(neutral[:, 0])
    outward[np.abs(neutral[:, 0]) < 1e-6] = 0.0
    for au, strength in expr.aus:
        k = t * strength
        for group, dx, dy in AU_MOVES.get(au, ()):
            for i in _GROUPS[group]:
                if au in UNILATERAL_AUS and outward[i] not in (0.0, expr.side):
                    continue
                out[i, 0] += k * dx * outward[i]
                out[i, 1] += k * dy
    return out


def facs_lines(expr: Expression, rng: np.random.Generator) -> list[tuple[int, int]]:
    """(AU, intensity) pairs for the FACS file; intensity 1-5 (A-E) or 0 when not coded."""
    lines = []
    for au, strength in expr.aus:
        if rng.random() < 0.35:
            lines.append((au, 0))
        else:
            lines.append((au, int(np.clip(round((strength - 0.45) / 0.16), 1, 5))))
    return lines


def intensity_curve(frames: int, onset: int) -> np.ndarray:
    """Expression intensity per frame (index 0 = frame 1): 0 before the onset, then an
    ease-out rise that is already visible at the onset frame and reaches 1 at the last frame
    (CK+ sequences end at the apex)."""
    t = np.zeros(frames)
    span = max(1, frames - onset)
    for f in range(onset, frames + 1):
        u = (f - onset) / span
        t[f - 1] = 0.3 + 0.7 * (1.0 - (1.0 - u) ** 2)
    return t
