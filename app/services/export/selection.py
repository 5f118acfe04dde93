"""Labels + policies -> the exact list of frames to export, each with its class.

Rules (README.md "Exporting" documents them for users):
- Label: the effective label (app/services/effective.py) or the original CK+ label. The
  exclude flag, onset and apex always come from the review (effective), whichever labels
  are used: a broken sequence is broken for both, and the onset is a fact about the frames.
- Left out, counted by reason: `excluded` (flagged), `disagreement` (reviewers tie, no
  decision), `no_label`, `class_excluded` (its class is left out), `no_frames`.
- Policies pick the emotion frames of an N-frame sequence:
  `onset`: onset..apex (apex defaults to N; an apex before the onset is ignored); without
  an onset (or with one outside 1..N) the `percent` rule applies (counted `onset_fallback`).
  `percent`: keep frame numbers > floor(N * p / 100), exactly (p is read as a decimal, so
  30 means 3/10; no float rounding). p < 100, so the last frame always stays.
  `peak`: the last k frames (all of them when N <= k).
- Neutral samples: the first n frames, but never a frame that is already an emotion frame
  (so frames 1..min(n, first emotion frame - 1)): no frame is ever in two classes.
- Merge then exclude: `contempt=disgust` relabels contempt frames before classes are left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import EMOTIONS, DatasetSource, Frame, Sequence, Subject
from app.services.effective import Effective, effective_map
from app.services.export.params import ExportSpec

LEFT_OUT_REASONS = ("excluded", "disagreement", "no_label", "class_excluded", "no_frames")


class ExportError(RuntimeError):
    """The export cannot be made (nothing imported, nothing selected, a missing frame...)."""


@dataclass(frozen=True)
class FrameRow:
    """One image of the export."""

    frame_id: int
    sequence_id: int
    subject: str
    sequence: str  # the CK+ sequence code, "001"
    number: int  # 1-based CK+ frame number
    label: str
    source: Path  # the CK+ frame on disk
    mode: str  # the source frame's PIL mode

    @property
    def file_name(self) -> str:
        return f"{self.subject}_{self.sequence}_{self.number:08d}.png"

    @property
    def path(self) -> str:
        """Where the image goes inside the export (relative, forward slashes)."""
        return f"images/{self.label}/{self.file_name}"


@dataclass
class SequencePick:
    """How one sequence was cut: kept for the snapshot and its comparison."""

    sequence_id: int
    name: str
    label: str
    onset: int | None
    apex: int | None
    trim: str  # onset | percent | peak | percent (no onset)
    frames: list[int]
    neutral: list[int]

    def as_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "onset": self.onset,
                "apex": self.apex, "trim": self.trim, "frames": self.frames,
                "neutral": self.neutral}


@dataclass
class Selection:
    rows: list[FrameRow]
    sequences: dict[int, SequencePick]
    labels: list[str]  # class names in model output order
    left_out: dict[str, int]  # sequences per reason
    left_out_names: dict[str, list[str]]
    onset_fallback: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        return sorted({row.subject for row in self.rows})


# --- the policies, as pure functions of the frame count -------------------------------------

def percent_cut(n_frames: int, percent: float) -> int:
    """How many leading frames the percentage trim drops: floor(N * p / 100), exactly."""
    return int(Fraction(n_frames) * Fraction(str(percent)) / 100)


def emotion_frames(n_frames: int, params: ExportSpec, onset: int | None,
                   apex: int | None, suggested: int | None = None) -> tuple[list[int], str]:
    """The 1-based frame numbers that show the emotion, and the rule that chose them.
    `suggested`: the suggested onset, used by the onset policy with `fallback="suggested"`
    when no onset is marked."""
    if params.policy == "peak":
        return list(range(max(1, n_frames - params.peak_frames + 1), n_frames + 1)), "peak"
    if params.policy == "onset" and onset is not None and 1 <= onset <= n_frames:
        last = apex if apex is not None and onset <= apex <= n_frames else n_frames
        return list(range(onset, last + 1)), "onset"
    if (params.policy == "onset" and params.fallback == "suggested" and suggested is not None
            and 1 <= suggested <= n_frames):
        last = apex if apex is not None and suggested <= apex <= n_frames else n_frames
        return list(range(suggested, last + 1)), "suggested onset"
    keep_after = percent_cut(n_frames, params.percent)
    rule = "percent" if params.policy == "percent" else "percent (no onset)"
    return list(range(keep_after + 1, n_frames + 1)), rule


def neutral_frames(count: int, emotion: list[int]) -> list[int]:
    first_emotion = min(emotion) if emotion else count + 1
    return list(range(1, min(count, first_emotion - 1) + 1))


def class_order(names: set[str]) -> list[str]:
    """CK+ code order (neutral, code 0, comes first): the model's output order."""
    return [name for name in EMOTIONS if name in names]


# --- the database side ----------------------------------------------------------------------

def dataset_root(session: Session) -> Path:
    source = session.scalars(select(DatasetSource).order_by(DatasetSource.id.desc())).first()
    if source is None:
        raise ExportError("nothing is imported yet: run `onset import CKPLUS_FOLDER` (or "
                          "`onset demo`) first")
    return Path(source.root)


def select_frames(session: Session, params: ExportSpec) -> Selection:
    """Apply the label source, exclusions and trimming policy to every imported sequence."""
    root = dataset_root(session)
    effective = effective_map(session)
    suggested = _suggested_onsets(session, params)
    frames_by_sequence: dict[int, list[tuple[int, int, str, str]]] = {}
    for frame_id, seq_id, number, path, mode in session.execute(
            select(Frame.id, Frame.sequence_id, Frame.number, Frame.path, Frame.mode)
            .order_by(Frame.sequence_id, Frame.number)):
        frames_by_sequence.setdefault(seq_id, []).append((frame_id, number, path, mode))
    merge = params.merge_map()
    neutral_label = merge.get("neutral", "neutral")
    rows: list[FrameRow] = []
    picks: dict[int, SequencePick] = {}
    left_out: dict[str, list[str]] = {reason: [] for reason in LEFT_OUT_REASONS}
    fallback = 0
    for seq_id, subject, code, original in session.execute(
            select(Sequence.id, Subject.code, Sequence.code, Sequence.original_label)
            .join(Subject, Sequence.subject_id == Subject.id)
            .order_by(Subject.code, Sequence.code)):
        name = f"{subject}_{code}"
        eff = effective.get(seq_id)
        frames = frames_by_sequence.get(seq_id, [])
        reason, label = _label_or_reason(params, eff, original, merge)
        if reason is None and not frames:
            reason = "no_frames"
        if reason is not None:
            left_out[reason].append(name)
            continue
        numbers = [number for _, number, _, _ in frames]
        emotion, rule = emotion_frames(max(numbers), params, eff.onset if eff else None,
                                       eff.apex if eff else None, suggested.get(seq_id))
        fallback += rule == "percent (no onset)"
        neutral = neutral_frames(params.neutral_frames, emotion)
        wanted = {n: label for n in emotion} | {n: neutral_label for n in neutral}
        kept = [n for n in numbers if n in wanted]
        if not kept:
            left_out["no_frames"].append(name)
            continue
        picks[seq_id] = SequencePick(seq_id, name, label, eff.onset if eff else None,
                                     eff.apex if eff else None, rule,
                                     [n for n in emotion if n in numbers],
                                     [n for n in neutral if n in numbers])
        for frame_id, number, path, mode in frames:
            if number in wanted:
                rows.append(FrameRow(frame_id, seq_id, subject, code, number, wanted[number],
                                     root / path, mode))
    return Selection(rows=rows, sequences=picks,
                     labels=class_order({row.label for row in rows}),
                     left_out={k: len(v) for k, v in left_out.items()},
                     left_out_names=left_out, onset_fallback=fallback)


def _suggested_onsets(session: Session, params: ExportSpec) -> dict[int, int]:
    """{sequence id: suggested onset} when the onset policy falls back to suggestions."""
    if params.policy != "onset" or params.fallback != "suggested":
        return {}
    from app.services.assist import AssistError
    from app.services.assist.onsets import suggest

    try:
        found = suggest(session, None, method="auto")
    except AssistError as exc:
        raise ExportError(f"fallback suggested: {exc}") from None
    return {s.sequence_id: s.suggested_onset for s in found if s.suggested_onset is not None}


def _label_or_reason(params: ExportSpec, eff: Effective | None, original: int | None,
                     merge: dict[str, str]) -> tuple[str | None, str]:
    """(reason it is left out, None) or (None, class name)."""
    if eff is not None and eff.exclude:
        return "excluded", ""
    if params.labels == "original":
        code = original
        if code is None:
            return "no_label", ""
    else:
        if eff is None or eff.label is None:
            return ("disagreement" if eff is not None and eff.disagreement else "no_label"), ""
        code = eff.label
    name = EMOTIONS[code]
    name = merge.get(name, name)
    if name in params.exclude:
        return "class_excluded", ""
    return None, name


def class_counts(rows: list[FrameRow], labels: list[str]) -> dict[str, int]:
    counts = Counter(row.label for row in rows)
    return {label: counts.get(label, 0) for label in labels}
