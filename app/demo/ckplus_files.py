"""Writing files in CK+'s own layout and number format, plus the demo's answer key.

CK+ writes every number as a float in C's `%e` style with 7 decimals, three spaces before
each value: `   3.0000000e+00`. Emotion files hold one such value, FACS files one
`AU intensity` pair per line, landmark files one `x y` pair per line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from app.demo.expressions import EMOTION_CODE
from app.demo.plan import SequencePlan, SubjectPlan

IMAGES_DIR = "cohn-kanade-images"
EMOTION_DIR = "Emotion"
FACS_DIR = "FACS"
LANDMARKS_DIR = "Landmarks"
README = "ReadMe.txt"
TRUTH_CSV = "demo_truth.csv"
TRUTH_COLUMNS = ("subject", "sequence", "true_label", "true_onset", "frames", "ck_label",
                 "label_is_wrong")
# The first line of the readme marks a folder as Onset demo output (safe to overwrite).
README_MARKER = "Onset synthetic CK+ demo dataset"
DEMO_ENTRIES = (IMAGES_DIR, EMOTION_DIR, FACS_DIR, LANDMARKS_DIR, README, TRUTH_CSV,
                ".DS_Store")


def ck_number(value: float) -> str:
    return f"   {value:.7e}"


def frame_stem(subject: str, sequence: str, frame: int) -> str:
    return f"{subject}_{sequence}_{frame:08d}"


def image_path(root: Path, subject: str, sequence: str, frame: int) -> Path:
    return root / IMAGES_DIR / subject / sequence / f"{frame_stem(subject, sequence, frame)}.png"


def landmarks_path(root: Path, subject: str, sequence: str, frame: int) -> Path:
    name = f"{frame_stem(subject, sequence, frame)}_landmarks.txt"
    return root / LANDMARKS_DIR / subject / sequence / name


def landmarks_text(points: np.ndarray) -> str:
    """68 lines of `   x   y` (image pixels, rounded like an AAM fit written with %e)."""
    return "".join(f"{ck_number(round(float(x), 4))}{ck_number(round(float(y), 4))}\n"
                   for x, y in points)


def emotion_text(label: str) -> str:
    return ck_number(float(EMOTION_CODE[label])) + "\n"


def facs_text(lines: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"{ck_number(float(au))}{ck_number(float(level))}\n" for au, level in lines)


def write_sequence_metadata(root: Path, subject: SubjectPlan, seq: SequencePlan) -> None:
    """Emotion (if labeled, or an empty folder where CK+ has one) and FACS files."""
    last = frame_stem(subject.code, seq.code, seq.frames)
    emotion_dir = root / EMOTION_DIR / subject.code / seq.code
    if seq.ck_label is not None:
        emotion_dir.mkdir(parents=True, exist_ok=True)
        (emotion_dir / f"{last}_emotion.txt").write_text(emotion_text(seq.ck_label),
                                                         encoding="ascii")
    elif seq.empty_emotion_folder:
        emotion_dir.mkdir(parents=True, exist_ok=True)
    facs_dir = root / FACS_DIR / subject.code / seq.code
    facs_dir.mkdir(parents=True, exist_ok=True)
    (facs_dir / f"{last}_facs.txt").write_text(facs_text(seq.facs), encoding="ascii")


def write_truth(root: Path, plans: list[SubjectPlan]) -> None:
    with (root / TRUTH_CSV).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(TRUTH_COLUMNS)
        for subject in plans:
            for seq in subject.sequences:
                writer.writerow([subject.code, seq.code, seq.emotion, seq.onset, seq.frames,
                                 seq.ck_label or "", int(seq.label_is_wrong)])


def write_readme(root: Path, *, subjects: int, seed: int) -> None:
    (root / README).write_text(
        f"{README_MARKER} (seed {seed}, {subjects} subjects)\n"
        "\n"
        "Laid out like the Extended Cohn-Kanade (CK+) distribution so Onset can be tried\n"
        "without the real data. Every face here is drawn by a program; none is a person.\n"
        "\n"
        "cohn-kanade-images/  Sxxx/yyy/Sxxx_yyy_0000000n.png, last frame = peak expression\n"
        "Emotion/             one code per labeled sequence: 0=neutral, 1=anger, 2=contempt,\n"
        "                     3=disgust, 4=fear, 5=happy, 6=sadness, 7=surprise\n"
        "FACS/                action units coded at the peak frame (AU, intensity)\n"
        "Landmarks/           68 AAM-style points (x y) per frame\n"
        "\n"
        "Not every sequence has an emotion label; a missing file means 'not labeled'.\n"
        "demo_truth.csv is the answer key for the synthetic data and is not part of CK+.\n",
        encoding="ascii",
    )


# Bytes that look like the real thing to anything that sniffs them (macOS Finder's Bud1
# store, an OLE compound file for Windows thumbnails); nothing should ever parse them.
_DS_STORE = b"\x00\x00\x00\x01Bud1" + bytes(range(32)) * 4
_THUMBS_DB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def write_junk(root: Path, plans: list[SubjectPlan], seed: int) -> list[Path]:
    """The clutter real copies of CK+ carry: .DS_Store and Thumbs.db in a few folders."""
    rng = np.random.default_rng([seed, 7_000_003])
    targets = [(root / ".DS_Store", _DS_STORE)]
    if plans and plans[0].sequences:
        first = plans[0]
        targets.append((root / IMAGES_DIR / first.code / first.sequences[0].code / "Thumbs.db",
                        _THUMBS_DB))
        targets.append((root / EMOTION_DIR / ".DS_Store", _DS_STORE))
    for plan in plans[1:]:
        if rng.random() < 0.15:
            targets.append((root / IMAGES_DIR / plan.code / ".DS_Store", _DS_STORE))
        if plan.sequences and rng.random() < 0.1:
            seq = plan.sequences[int(rng.integers(len(plan.sequences)))]
            targets.append((root / IMAGES_DIR / plan.code / seq.code / "Thumbs.db", _THUMBS_DB))
    for path, data in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return [path for path, _ in targets]
