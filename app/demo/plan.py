"""What the demo dataset will contain, decided before any pixel is drawn.

Per-subject choices (face, look, sequences, emotions, onsets) come from a random generator
seeded with (seed, subject code), so a subject's frames do not depend on how many other
subjects are generated or in which order workers run. Dataset-wide choices (which
sequences lose their label, which labels are wrong) are made afterwards from one generator
seeded with the seed alone, so their proportions are exact rather than left to chance.

Counts follow real CK+: 123 subjects gave 593 sequences (~4.8 per subject) of ~10,700 frames
(~18 per sequence). The demo keeps that per-subject distribution rather than the issue's
"20 subjects, 150 sequences", so `subjects=123` is CK+-sized (seed 0: 595 sequences, 10,603
frames) and the default 20 subjects gives about 95 sequences (seed 0: 89, 1,549 frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from app.demo.expressions import (
    CONFUSABLE,
    EMOTION_WEIGHTS,
    Expression,
    facs_lines,
    sample_expression,
)
from app.demo.landmarks import FaceShape

MAX_SUBJECTS = 995  # subject codes are S005..S999
UNLABELED_FRACTION = 0.40  # sequences without an Emotion file
EMPTY_FOLDER_FRACTION = 0.35  # of the unlabeled: an empty Emotion/Sxxx/yyy/ folder exists
WRONG_LABEL_FRACTION = 0.05  # of the labeled: the Emotion file names the wrong emotion

# (width, height, mode) by subject position: most CK+ subjects are 640x490 grayscale, a few
# are 640x480 grayscale, a few 720x480 colour. Position-based, so even a 3-subject demo has
# one of each.
_FORMAT_CYCLE = ((640, 490, "L"), (720, 480, "RGB"), (640, 480, "L"), (640, 490, "L"),
                 (640, 490, "L"), (640, 490, "L"), (640, 490, "L"))

_SKIN_TONES = ((236, 200, 178), (224, 182, 150), (198, 152, 118), (170, 122, 90),
               (141, 96, 68), (110, 74, 54), (232, 190, 160))
_HAIR_COLOURS = ((28, 22, 20), (58, 40, 30), (96, 66, 42), (150, 112, 70), (200, 170, 120),
                 (120, 120, 118), (40, 34, 32))
_HAIR_STYLES = ("short", "short", "long", "bangs", "bald", "long", "bun")


@dataclass(frozen=True)
class Look:
    """How a subject is drawn: colours (RGB; grayscale subjects use their luma) and accessories."""

    skin: tuple[int, int, int]
    lips: tuple[int, int, int]
    hair: tuple[int, int, int]
    brows: tuple[int, int, int]
    iris: tuple[int, int, int]
    shirt: tuple[int, int, int]
    background_top: tuple[int, int, int]
    background_bottom: tuple[int, int, int]
    hair_style: str
    hairline: float  # y of the hairline at the centre of the forehead, face units
    glasses: bool
    mole: tuple[float, float] | None  # face-unit position of a mole, if any
    light_dx: float  # light from image-left (<0) or right (>0): brightness slope
    noise_sigma: float
    timecode_x: float  # left edge of the timecode box as a fraction of the width


@dataclass(frozen=True)
class SequencePlan:
    code: str  # "001"
    frames: int
    onset: int  # 1-based first frame that shows the emotion
    emotion: str  # the truth
    expression: Expression
    facs: tuple[tuple[int, int], ...]
    timecode_start: int  # frame count of the first frame since 00:00:00:00 (30 fps)
    motion_seed: int
    # Filled by the dataset-wide pass:
    ck_label: str | None = None  # what the Emotion file says (None: no file)
    empty_emotion_folder: bool = False
    label_is_wrong: bool = False


@dataclass(frozen=True)
class SubjectPlan:
    code: str  # "S005"
    width: int
    height: int
    mode: str  # "L" or "RGB"
    shape: FaceShape
    look: Look
    center: tuple[float, float]  # neutral eye midpoint, pixels
    scale: float  # pixels per face unit
    roll_deg: float
    expressiveness: float
    sequences: tuple[SequencePlan, ...] = field(default_factory=tuple)


def subject_codes(count: int, seed: int) -> list[str]:
    """CK+-like codes: S005 first, then increasing with gaps (S010, S011, S014, ...)."""
    if not 1 <= count <= MAX_SUBJECTS:
        raise ValueError(f"subjects must be between 1 and {MAX_SUBJECTS}, got {count}")
    rng = np.random.default_rng([seed, 7_000_001])
    codes, number = [], 5
    for i in range(count):
        if i:
            step = 1 + int(rng.choice((0, 0, 1, 1, 2, 3, 4, 5, 7)))
            number = min(number + step, 999 - (count - 1 - i))  # always leave room for the rest
        codes.append(f"S{number:03d}")
    return codes


def plan_dataset(subjects: int, seed: int) -> list[SubjectPlan]:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    plans = [plan_subject(code, i, seed) for i, code in enumerate(subject_codes(subjects, seed))]
    return assign_labels(plans, seed)


def plan_subject(code: str, index: int, seed: int) -> SubjectPlan:
    rng = np.random.default_rng([seed, int(code[1:])])
    width, height, mode = _FORMAT_CYCLE[index % len(_FORMAT_CYCLE)]
    shape = _sample_shape(rng)
    look = _sample_look(rng, mode)
    scale = rng.uniform(108, 132) * height / 490
    center = (width / 2 + rng.normal(0, 18), height * 0.40 + rng.normal(0, 10))
    plan = SubjectPlan(code=code, width=width, height=height, mode=mode, shape=shape, look=look,
                       center=center, scale=scale, roll_deg=float(rng.normal(0, 2.5)),
                       expressiveness=float(rng.uniform(0.9, 1.12)))
    return replace(plan, sequences=tuple(_sample_sequences(rng, plan)))


def _sample_shape(rng: np.random.Generator) -> FaceShape:
    u = rng.uniform
    return FaceShape(
        chin_y=u(1.38, 1.58), jaw_top_y=u(0.0, 0.08), jaw_squareness=u(2.0, 3.0),
        forehead_top=u(-1.25, -1.05), eye_dx=u(0.38, 0.45), eye_w=u(0.16, 0.2),
        eye_h_up=u(0.075, 0.1), eye_h_low=u(0.055, 0.075), eye_tilt=u(-0.03, 0.02),
        brow_y=u(-0.31, -0.24), brow_arch=u(0.03, 0.08), brow_thick=u(0.06, 0.1),
        nose_len=u(0.5, 0.6), nose_w=u(0.16, 0.22), mouth_y=u(0.9, 1.0),
        mouth_w=u(0.3, 0.38), lip_up=u(0.05, 0.075), lip_low=u(0.065, 0.095),
    )


def _sample_look(rng: np.random.Generator, mode: str) -> Look:
    def jitter(rgb, amount):
        # Mostly brightness, a little hue: grey hair must not turn purple.
        light = int(rng.integers(-amount, amount + 1))
        return tuple(int(np.clip(c + light + rng.integers(-2, 3), 0, 255)) for c in rgb)

    skin = jitter(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], 10)
    hair = jitter(_HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))], 8)
    lips = tuple(int(c) for c in
                 np.clip(np.array(skin) * (0.72, 0.52, 0.55) + (30, 10, 10), 0, 255))
    # Brows darker than the skin whatever the hair colour: a face detector keys on them.
    brows = tuple(int(min(h * 0.8, s * 0.45)) for h, s in zip(hair, skin, strict=True))
    # A backdrop that stands out from both hair and skin, even once converted to grayscale.
    def luma(rgb):
        return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]

    allowed = [g for g in range(50, 200, 5)
               if abs(g - luma(hair)) > 50 and abs(g - luma(skin)) > 30] or [50, 195]
    gray = int(allowed[rng.integers(len(allowed))])
    tint = rng.integers(-12, 13, size=3) if mode == "RGB" else np.zeros(3, dtype=int)
    top = tuple(int(np.clip(gray + 25 + t, 0, 255)) for t in tint)
    bottom = tuple(int(np.clip(gray - 20 + t, 0, 255)) for t in tint)
    style = _HAIR_STYLES[rng.integers(len(_HAIR_STYLES))]
    return Look(
        skin=skin, lips=lips, hair=hair, brows=brows,
        iris=jitter(((60, 40, 25), (70, 90, 110), (50, 70, 40), (30, 22, 18))[rng.integers(4)], 6),
        shirt=jitter(((40, 50, 90), (150, 40, 40), (30, 30, 30), (200, 200, 195),
                      (60, 100, 60))[rng.integers(5)], 15),
        background_top=top, background_bottom=bottom, hair_style=style,
        hairline=float(rng.uniform(-0.95, -0.7) if style != "bangs" else rng.uniform(-0.55, -0.45)),
        glasses=bool(rng.random() < 0.22),
        mole=(float(rng.uniform(-0.7, 0.7)), float(rng.uniform(0.2, 1.2))) if rng.random() < 0.35
        else None,
        light_dx=float(rng.uniform(-0.18, 0.18)), noise_sigma=float(rng.uniform(1.2, 2.6)),
        timecode_x=float(rng.choice((0.04, 0.38, 0.72))),
    )


def _sample_sequences(rng: np.random.Generator, plan: SubjectPlan) -> list[SequencePlan]:
    count = int(min(1 + rng.poisson(3.82), 11))
    emotions = _sample_emotions(rng, count)
    sequences, number = [], 0
    session_clock = int(rng.integers(30 * 60, 30 * 3600))
    for emotion in emotions:
        # Real sequence numbers have gaps (001, 002, 004).
        number += 1 if number == 0 else 1 + int(rng.random() < 0.15)
        frames = int(min(10 + round(rng.gamma(2.0, 4.0)), 40))
        neutral_frames = max(1, round(frames * rng.uniform(0.15, 0.6)))
        onset = min(1 + neutral_frames, frames - 3)  # at least 4 frames of rising expression
        expression = sample_expression(emotion, rng, plan.expressiveness)
        session_clock += int(rng.integers(30 * 20, 30 * 240))
        sequences.append(SequencePlan(
            code=f"{number:03d}", frames=frames, onset=onset, emotion=emotion,
            expression=expression, facs=tuple(facs_lines(expression, rng)),
            timecode_start=session_clock, motion_seed=int(rng.integers(2**31)),
        ))
        session_clock += frames
    return sequences


def _sample_emotions(rng: np.random.Generator, count: int) -> list[str]:
    """Like a CK+ session: a subject mostly performs different emotions, then some repeats."""
    names = list(EMOTION_WEIGHTS)
    weights = np.array([EMOTION_WEIGHTS[n] for n in names], dtype=float)
    first = rng.choice(len(names), size=min(count, len(names)), replace=False,
                       p=weights / weights.sum())
    rest = rng.choice(len(names), size=count - len(first), p=weights / weights.sum())
    return [names[i] for i in (*first, *rest)]


def assign_labels(plans: list[SubjectPlan], seed: int) -> list[SubjectPlan]:
    """Decide, dataset-wide, which sequences have an Emotion file, which of those are wrong,
    and which unlabeled ones keep an empty Emotion folder."""
    rng = np.random.default_rng([seed, 7_000_002])
    keys = [(s, q) for s, plan in enumerate(plans) for q in range(len(plan.sequences))]
    order = rng.permutation(len(keys))
    n_unlabeled = round(UNLABELED_FRACTION * len(keys))
    unlabeled = {keys[i] for i in order[:n_unlabeled]}
    labeled = [keys[i] for i in order[n_unlabeled:]]
    # At least one wrong label whenever anything is labeled, so every demo has one to find.
    n_wrong = max(1, round(WRONG_LABEL_FRACTION * len(labeled))) if labeled else 0
    wrong = {labeled[i] for i in rng.permutation(len(labeled))[:n_wrong]}
    unlabeled_sorted = sorted(unlabeled)
    n_empty = math.ceil(EMPTY_FOLDER_FRACTION * len(unlabeled_sorted))
    empty = {unlabeled_sorted[i] for i in rng.permutation(len(unlabeled_sorted))[:n_empty]}

    out = []
    for s, plan in enumerate(plans):
        sequences = []
        for q, seq in enumerate(plan.sequences):
            key = (s, q)
            if key in unlabeled:
                seq = replace(seq, empty_emotion_folder=key in empty)
            elif key in wrong:
                choices = CONFUSABLE[seq.emotion]
                seq = replace(seq, ck_label=choices[int(rng.integers(len(choices)))],
                              label_is_wrong=True)
            else:
                seq = replace(seq, ck_label=seq.emotion)
            sequences.append(seq)
        out.append(replace(plan, sequences=tuple(sequences)))
    return out
