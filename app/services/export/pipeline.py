"""From parameters to a finished, recorded export: select, crop, split, write, record.

The dataset id is a hash of what decides the content (the selected rows, the image and the
split parameters), never of the time, so the same curation always gets the same id, the
same manifest and the same folder name; exporting it again overwrites it safely.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.services.export.params import ExportSpec
from app.services.export.selection import (
    ExportError,
    FrameRow,
    Selection,
    class_counts,
    class_order,
    select_frames,
)
from app.services.export.snapshots import record_snapshot
from app.services.export.splits import assign_folds, assign_split, subject_label_counts
from app.services.export.writer import ImageJob, Progress, check_destination, write_export
from training.contract import DATASET_FORMAT, framing_for, image_block, manifest_columns

ID_LENGTH = 16


@dataclass
class ExportResult:
    id: str
    path: Path
    labels: list[str]
    counts: dict[str, Any]
    left_out: dict[str, int]
    no_face: list[str] = field(default_factory=list)
    created: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": str(self.path), "labels": self.labels,
                "counts": self.counts, "left_out": self.left_out, "no_face": self.no_face,
                "created": self.created}


def image_spec(params: ExportSpec) -> dict[str, Any]:
    """dataset.json's `image` (`training.contract.image_block`): how training's predict
    must crop a photo to match; the framing is the one the crops are cut with (none for
    whole frames)."""
    framing = None if params.face == "none" else framing_for(params.margin)
    return image_block(face=params.face, size=params.size, color=params.color,
                       framing=framing)


def dataset_id(rows: list[FrameRow], params: ExportSpec) -> str:
    """Content hash: rows (never database ids, which a re-import may change), image and
    split parameters. Not the time."""
    payload = {"format": DATASET_FORMAT,
               "rows": [[r.subject, r.sequence, r.number, r.label] for r in rows],
               "image": image_spec(params), "split": params.split_dict()}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def assign_groups(rows: list[FrameRow], params: ExportSpec
                  ) -> tuple[dict[str, int], dict[str, str] | None]:
    counts = subject_label_counts((r.subject, r.label) for r in rows)
    folds = assign_folds(counts, params.folds, params.seed)
    split = assign_split(counts, params.split, params.seed) if params.split else None
    return folds, split


def count_rows(rows: list[FrameRow], labels: list[str], folds: dict[str, int],
               split: dict[str, str] | None) -> dict[str, Any]:
    def group(members: list[FrameRow]) -> dict[str, Any]:
        return {"images": len(members), "subjects": len({r.subject for r in members}),
                "classes": class_counts(members, labels)}

    by_fold: dict[int, list[FrameRow]] = {}
    for row in rows:
        by_fold.setdefault(folds[row.subject], []).append(row)
    counts: dict[str, Any] = {
        "images": len(rows), "subjects": len({r.subject for r in rows}),
        "sequences": len({r.sequence_id for r in rows}),
        "classes": class_counts(rows, labels),
        "folds": {str(f): group(by_fold.get(f, [])) for f in sorted(set(folds.values()))},
    }
    if split is not None:
        by_split: dict[str, list[FrameRow]] = {}
        for row in rows:
            by_split.setdefault(split[row.subject], []).append(row)
        counts["splits"] = {name: group(members) for name, members in sorted(
            by_split.items(), key=lambda kv: ("train", "val", "test").index(kv[0]))}
    return counts


def preview(session: Session, params: ExportSpec) -> dict[str, Any]:
    """Counts per class, fold and split for these options, without writing anything.
    Faces are not located here, so frames without a face are still counted."""
    selection = select_frames(session, params)
    result: dict[str, Any] = {"labels": selection.labels, "left_out": selection.left_out,
                              "onset_fallback": selection.onset_fallback}
    if not selection.rows:
        result["counts"] = {"images": 0, "classes": {}, "folds": {}}
        return result
    folds, split = assign_groups(selection.rows, params)
    result["counts"] = count_rows(selection.rows, selection.labels, folds, split)
    result["id"] = dataset_id(selection.rows, params)
    return result


def run_export(session: Session, settings: Settings, *, params: ExportSpec,
               out: Path | None = None, user_id: int | None = None,
               progress: Progress | None = None) -> ExportResult:
    """Export to `out` (default settings.exports_dir/<id>/) and record the snapshot in the
    session (the caller commits). On any failure nothing is left behind: no folder, and the
    snapshot row is only added after the folder is complete."""
    selection = select_frames(session, params)
    if not selection.rows:
        raise ExportError("these options select no frames at all (left out: "
                          + ", ".join(f"{k} {v}" for k, v in selection.left_out.items() if v)
                          + ")")
    assign_groups(selection.rows, params)  # refuse impossible folds/splits before any work
    export_id = dataset_id(selection.rows, params)
    dest = Path(out) if out is not None else settings.exports_dir / export_id
    dest = dest.expanduser().absolute()
    check_destination(dest)  # before creating anything: a file or a user's folder is refused
    dest.parent.mkdir(parents=True, exist_ok=True)

    jobs, no_face = image_jobs(session, settings, selection, params, progress)
    rows = [job.row for job in jobs]
    if not rows:
        raise ExportError(f"no face was found in any of the {len(no_face)} selected frames "
                          f"(face source {params.face}); nothing to export")
    labels = class_order({r.label for r in rows})
    folds, split = assign_groups(rows, params)
    counts = count_rows(rows, labels, folds, split)
    counts.update(left_out=selection.left_out, no_face=len(no_face),
                  onset_fallback=selection.onset_fallback)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    columns = manifest_columns(split=split is not None)
    manifest = [_manifest_row(r, folds, split) for r in rows]
    info = {
        "format": DATASET_FORMAT, "id": export_id, "labels": labels,
        "selection": {**params.selection_dict(),
                      "percent_rule": "keep frames whose number > floor(N * percent / 100)"},
        "split": {**params.split_dict(), "method": "subject-grouped, greedy label balance"},
        "image": image_spec(params), "counts": counts,
        "left_out_sequences": {k: v for k, v in selection.left_out_names.items() if v},
        "no_face": no_face, "created": created,
    }
    write_export(dest, jobs, manifest, columns, info, progress=progress)
    try:
        record_snapshot(session, dataset_id=export_id, user_id=user_id,
                        params=params.as_dict(), counts=counts,
                        selection=_snapshot_selection(selection, rows), path=dest)
    except BaseException:
        import shutil

        shutil.rmtree(dest, ignore_errors=True)  # no row, so no folder either
        raise
    return ExportResult(id=export_id, path=dest, labels=labels, counts=counts,
                        left_out=selection.left_out, no_face=no_face, created=created)


def image_jobs(session: Session, settings: Settings, selection: Selection,
               params: ExportSpec, progress: Progress | None
               ) -> tuple[list[ImageJob], list[str]]:
    """How each image is made; frames where the face source finds no face are dropped and
    listed (file names), never replaced by a centre crop."""
    if params.face == "none":
        if params.size == 0:  # the original frames, untouched
            return [ImageJob(row, copy_from=row.source) for row in selection.rows], []
        return [ImageJob(row, size=params.size, color=params.color)
                for row in selection.rows], []
    from app.services.faces.crops import CropError, ensure_crops

    try:
        crops = ensure_crops(session, settings, frame_ids=[r.frame_id for r in selection.rows],
                             source=params.face, size=params.size, color=params.color,
                             margin=params.margin, progress=progress)
    except CropError as exc:
        raise ExportError(f"face crops ({params.face}): {exc}") from exc
    jobs, no_face = [], []
    for row in selection.rows:
        path = crops.get(row.frame_id)
        if path is None:
            no_face.append(row.file_name)
        else:
            jobs.append(ImageJob(row, copy_from=path))  # the cached crop PNG, as it is
    return jobs, no_face


def _manifest_row(row: FrameRow, folds: dict[str, int], split: dict[str, str] | None) -> dict:
    data = {"path": row.path, "label": row.label, "subject": row.subject,
            "sequence": row.sequence, "frame": row.number, "fold": folds[row.subject],
            "sequence_id": row.sequence_id, "source_frame_id": row.frame_id}
    if split is not None:
        data["split"] = split[row.subject]
    return data


def _snapshot_selection(selection: Selection, rows: list[FrameRow]) -> dict[str, Any]:
    """{sequence_id: {name, label, onset, apex, trim, frames, neutral}} of what was written."""
    written = Counter(r.sequence_id for r in rows)
    kept = {(r.sequence_id, r.number) for r in rows}
    out = {}
    for seq_id, pick in selection.sequences.items():
        if not written[seq_id]:
            continue
        data = pick.as_dict()
        data["frames"] = [n for n in pick.frames if (seq_id, n) in kept]
        data["neutral"] = [n for n in pick.neutral if (seq_id, n) in kept]
        out[str(seq_id)] = data
    return out
