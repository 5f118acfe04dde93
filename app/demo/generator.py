"""`generate_demo`: plan the dataset, write CK+ metadata, render subjects in parallel."""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.demo import ckplus_files as ck
from app.demo.drawing import SubjectRenderer
from app.demo.expressions import displacement, intensity_curve
from app.demo.landmarks import Pose, neutral_landmarks
from app.demo.plan import SequencePlan, SubjectPlan, plan_dataset

Progress = Callable[[int, int], None]  # (subjects done, subjects total)

# Below this many subjects, starting worker processes costs more than it saves.
_PARALLEL_FROM = 3


class DemoOutputError(ValueError):
    """The output folder cannot be used (not empty and not a previous demo, or a file)."""


@dataclass(frozen=True)
class DemoSummary:
    out: Path
    subjects: int
    sequences: int
    frames: int
    labeled: int
    wrong_labels: int
    empty_emotion_folders: int
    seconds: float

    def as_dict(self) -> dict:
        return {"out": str(self.out), "subjects": self.subjects, "sequences": self.sequences,
                "frames": self.frames, "labeled": self.labeled,
                "wrong_labels": self.wrong_labels,
                "empty_emotion_folders": self.empty_emotion_folders,
                "seconds": round(self.seconds, 2)}


def generate_demo(out: Path, *, subjects: int = 20, seed: int = 0,
                  progress: Progress | None = None, workers: int | None = None) -> DemoSummary:
    """Write a synthetic dataset in CK+'s layout to `out`, plus `demo_truth.csv`.

    Same seed, same bytes. `out` must be missing, empty, or an earlier demo output (which is
    replaced). `workers` defaults to the CPU count; 1 renders in this process.
    """
    started = time.perf_counter()
    out = Path(out)
    plans = plan_dataset(subjects, seed)  # validates `subjects` before anything is touched
    prepare_output(out)

    ck.write_readme(out, subjects=subjects, seed=seed)  # first: marks the folder as demo output
    for plan in plans:
        for seq in plan.sequences:
            ck.write_sequence_metadata(out, plan, seq)
    ck.write_truth(out, plans)
    _render_all(out, plans, progress, workers)
    ck.write_junk(out, plans, seed)

    sequences = [seq for plan in plans for seq in plan.sequences]
    return DemoSummary(
        out=out, subjects=len(plans), sequences=len(sequences),
        frames=sum(seq.frames for seq in sequences),
        labeled=sum(seq.ck_label is not None for seq in sequences),
        wrong_labels=sum(seq.label_is_wrong for seq in sequences),
        empty_emotion_folders=sum(seq.empty_emotion_folder for seq in sequences),
        seconds=time.perf_counter() - started,
    )


def is_demo_output(folder: Path) -> bool:
    readme = folder / ck.README
    if not readme.is_file():
        return False
    with readme.open("r", encoding="ascii", errors="replace") as fh:
        return fh.readline().startswith(ck.README_MARKER)


def prepare_output(out: Path) -> None:
    """Create `out`, or clear an earlier demo there; refuse anything else that is not empty."""
    if out.exists() and not out.is_dir():
        raise DemoOutputError(f"demo output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not is_demo_output(out):
            raise DemoOutputError(
                f"demo output folder {out} is not empty and is not an earlier Onset demo "
                f"(no {ck.README} starting with '{ck.README_MARKER}'); "
                "choose a new or empty folder")
        for name in ck.DEMO_ENTRIES:
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _render_all(out: Path, plans: list[SubjectPlan], progress: Progress | None,
                workers: int | None) -> None:
    workers = max(1, min(workers or os.cpu_count() or 1, len(plans)))
    # Biggest subjects first, so no worker is left with a long one at the end.
    jobs = sorted(((plan, str(out)) for plan in plans),
                  key=lambda job: -sum(s.frames for s in job[0].sequences))
    done = 0
    if workers == 1 or len(plans) < _PARALLEL_FROM:
        for job in jobs:
            render_subject(job)
            done += 1
            if progress:
                progress(done, len(plans))
        return
    # spawn, not fork: the caller may be a threaded web server or hold TensorFlow state.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for _ in pool.imap_unordered(render_subject, jobs, chunksize=1):
            done += 1
            if progress:
                progress(done, len(plans))


def render_subject(job: tuple[SubjectPlan, str]) -> str:
    """Draw and save every frame (PNG + landmarks) of one subject. Runs in a worker."""
    plan, out = job
    root = Path(out)
    neutral = neutral_landmarks(plan.shape)
    renderer = SubjectRenderer(plan, neutral)
    for seq in plan.sequences:
        _render_sequence(root, plan, seq, neutral, renderer)
    return plan.code


def _render_sequence(root: Path, plan: SubjectPlan, seq: SequencePlan, neutral: np.ndarray,
                     renderer: SubjectRenderer) -> None:
    image_dir = ck.image_path(root, plan.code, seq.code, 1).parent
    landmark_dir = ck.landmarks_path(root, plan.code, seq.code, 1).parent
    image_dir.mkdir(parents=True, exist_ok=True)
    landmark_dir.mkdir(parents=True, exist_ok=True)
    intensity = intensity_curve(seq.frames, seq.onset)
    poses = sequence_poses(plan, seq, intensity)
    noise_rng = np.random.default_rng([seq.motion_seed, 1])
    for f in range(1, seq.frames + 1):
        t = float(intensity[f - 1])
        points = neutral + displacement(neutral, seq.expression, t)
        pose = poses[f - 1]
        au_level = {au: strength * t for au, strength in seq.expression.aus}
        image = renderer.render(pose, points, au_level, timecode(seq.timecode_start + f - 1),
                                noise_rng)
        # Fastest deflate level with run-length matching: a third of the time of the default
        # level and, on these grainy frames, a smaller file than plain level 1.
        image.save(ck.image_path(root, plan.code, seq.code, f), format="PNG", compress_level=1,
                   compress_type=zlib.Z_RLE)
        ck.landmarks_path(root, plan.code, seq.code, f).write_text(
            ck.landmarks_text(pose.to_image(points)), encoding="ascii")


def sequence_poses(plan: SubjectPlan, seq: SequencePlan, intensity: np.ndarray) -> list[Pose]:
    """Where the head is in each frame: the subject sits a little differently in each
    sequence, drifts by a pixel or so between frames, and surprise/fear pull the head back."""
    rng = np.random.default_rng([seq.motion_seed, 0])
    n = seq.frames
    base_x = plan.center[0] + rng.normal(0, 4)
    base_y = plan.center[1] + rng.normal(0, 3)
    base_roll = plan.roll_deg + rng.normal(0, 0.8)
    drift = np.cumsum(rng.normal(0, 0.35, size=(n, 3)), axis=0) * (1.0, 1.0, 0.12)
    phase = rng.uniform(0, 2 * math.pi)
    sway = np.sin(np.arange(n) * 0.35 + phase)
    pull = -0.05 * plan.scale if seq.emotion in ("surprise", "fear") else 0.0
    return [Pose(cx=float(base_x + drift[i, 0] + 0.6 * sway[i]),
                 cy=float(base_y + drift[i, 1] + pull * intensity[i]),
                 scale=float(plan.scale * (1.0 + 0.002 * sway[i])),
                 roll_deg=float(base_roll + drift[i, 2]))
            for i in range(n)]


def timecode(frame_count: int, fps: int = 30) -> str:
    """Video timecode HH:MM:SS:FF for a frame count since midnight."""
    seconds, frames = divmod(frame_count, fps)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours % 24:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"
