"""The model's intensity signal: each frame's probability of not-neutral, 1 - p(neutral).

A run whose classes include `neutral` (an export with `--neutral-frames N`) has learnt what
a CK+ sequence's first frames look like, so its p(neutral) falls as the expression starts.
The run is resolved as `onset suspects --run` resolves it (a run folder or a run id; the
active model by default). Frames are cut the way the run's dataset was (config.json's
`face_crop`: face source, size, colour, framing; `training.predict.Predictor.crop_params`),
through the shared crop cache, and go through the model in chunks of `CHUNK` images, one
predict call each.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.orm import Session

from app.config import Settings
from app.services.assist import AssistError
from app.services.assist.suspects import resolve_run

if TYPE_CHECKING:
    from app.services.assist.onsets import _Frames

NEUTRAL = "neutral"
CHUNK = 512  # images per predict call: big enough to keep 2 cores busy, small in memory
Progress = Callable[[int, int], None]
Curves = dict[int, tuple[np.ndarray | None, str]]  # {sequence id: (curve, note)}


@dataclass(frozen=True)
class NeutralRun:
    """A run folder whose model has a neutral class."""

    id: str
    path: Path
    labels: tuple[str, ...]
    face: str  # the face source its dataset was cut with: landmarks, mtcnn or none

    @property
    def cache_name(self) -> str:
        """Names this run's curve cache (run ids and folders may hold any characters)."""
        digest = hashlib.sha1(f"{self.id}\0{self.path}".encode()).hexdigest()[:12]
        return f"model-{digest}"


def neutral_run(session: Session, settings: Settings, run: str | None) -> NeutralRun:
    """The run to take p(neutral) from; AssistError says why there is none. Reads only the
    run's JSON files: TensorFlow is loaded when curves are computed."""
    try:
        run_id, path = resolve_run(session, settings, run)
    except AssistError as exc:
        raise AssistError(f"--method model needs a run with a neutral class: {exc}") from None
    labels = _read_json(path / "labels.json")
    if not isinstance(labels, list) or not labels:
        raise AssistError(f"run {run_id} has no readable labels.json ({path}): not a "
                          "finished run folder")
    if NEUTRAL not in labels:
        raise AssistError(
            f"run {run_id} has no neutral class (its classes: {', '.join(map(str, labels))}), "
            "so it cannot say when a face stops being neutral: export with --neutral-frames N, "
            "train on that export, and name the run with --run or make it active")
    face_crop = (_read_json(path / "config.json") or {}).get("face_crop") or {}
    return NeutralRun(run_id, path, tuple(labels), str(face_crop.get("face") or "landmarks"))


def model_curves(session: Session, settings: Settings, run: NeutralRun,
                 items: Sequence[_Frames], root: Path,
                 progress: Progress | None = None) -> Curves:
    """1 - p(neutral) for every frame of these sequences. A frame without a face repeats
    the previous frame's crop; a sequence without a face in frame 1 gets a note instead."""
    from app.services.predict import predictor_for
    from training.predict import PredictError

    if not items:
        return {}
    try:
        predictor = predictor_for(_transient_run(run))
    except PredictError as exc:
        raise AssistError(f"run {run.id}: {exc}") from None
    crops, out = _crops(session, settings, run, predictor, items, root)
    todo = [item for item in items if item.sequence_id not in out]
    images = [crops[item.sequence_id][i] for item in todo for i in range(len(item.ids))]
    p_neutral = _p_neutral(predictor, images, progress)
    start = 0
    for item in todo:
        curve = 1.0 - p_neutral[start:start + len(item.ids)]
        start += len(item.ids)
        out[item.sequence_id] = (curve.astype(float), "")
    return out


def _transient_run(run: NeutralRun):
    """A Run row that is never added to a session: `predictor_for` keys its loaded model by
    (id, path), so the active model is shared with the predict page's."""
    from app.models import Run

    return Run(id=run.id, path=str(run.path), kind="train")


def _p_neutral(predictor, images: list[np.ndarray], progress: Progress | None) -> np.ndarray:
    index = predictor.labels.index(NEUTRAL)
    parts = []
    for start in range(0, len(images), CHUNK):
        parts.append(predictor.probabilities(images[start:start + CHUNK])[:, index])
        if progress is not None:
            progress(min(start + CHUNK, len(images)), len(images))
    return np.concatenate(parts) if parts else np.zeros(0)


def _crops(session: Session, settings: Settings, run: NeutralRun, predictor,
           items: Sequence[_Frames], root: Path) -> tuple[dict[int, list[np.ndarray]], Curves]:
    """({sequence id: one crop per frame}, {sequence id: (None, note)} for the ones that
    cannot be cut)."""
    params = predictor.crop_params
    mode = "L" if params.color == "gray" else "RGB"
    paths: dict[int, Path | None] = {}
    failed: dict[int, str] = {}
    if run.face == "none":  # the run's dataset kept whole frames
        paths = {fid: root / p for item in items for fid, p in zip(item.ids, item.paths,
                                                                   strict=True)}
    else:
        by_source: dict[str, list[int]] = {}
        for item in items:
            by_source.setdefault(_source(run, item), []).extend(item.ids)
        for source, ids in by_source.items():
            found, errors = _cut(session, settings, ids, source, params)
            paths.update(found)
            failed.update(errors)
    crops, notes = {}, {}
    for item in items:
        found = _sequence_crops(item, paths, failed, mode, _source(run, item))
        if isinstance(found, str):
            notes[item.sequence_id] = (None, found)
        else:
            crops[item.sequence_id] = found
    return crops, notes


def _source(run: NeutralRun, item: _Frames) -> str:
    """Where this sequence's faces come from: the run's source, MTCNN for a sequence without
    landmark files (the run's framing is the same from either source)."""
    if run.face == "none":
        return "none"
    return "landmarks" if run.face == "landmarks" and all(item.landmarks) else "mtcnn"


def _cut(session: Session, settings: Settings, ids: list[int], source: str, params
         ) -> tuple[dict[int, Path | None], dict[int, str]]:
    """Crop files of these frames at the run's crop parameters (the shared crop cache), and
    {frame id: why} for frames whose files could not be read."""
    from app.services.faces.crops import CropError, run_crops

    try:
        summary, paths = run_crops(session, settings, frame_ids=ids, source=source,
                                   crop=params)
    except CropError as exc:
        return {}, {fid: str(exc) for fid in ids}
    missing = {fid: "its files could not be read" for fid in ids if fid not in paths}
    return paths, missing


def _sequence_crops(item: _Frames, paths: dict[int, Path | None], failed: dict[int, str],
                    mode: str, source: str) -> list[np.ndarray] | str:
    """One crop per frame (a frame without a face repeats the previous one), or a note."""
    from PIL import Image

    for number, fid in enumerate(item.ids, start=1):
        if fid in failed:
            return f"frame {number}: {failed[fid]}"
    if paths.get(item.ids[0]) is None:
        return f"no face found by {source} in frame 1"
    images, last = [], None
    for number, fid in enumerate(item.ids, start=1):
        path = paths.get(fid)
        if path is not None:
            try:
                with Image.open(path) as image:
                    last = np.asarray(image.convert(mode))
            except OSError as exc:
                return f"frame {number}: {exc}"
        images.append(last)
    return images


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
