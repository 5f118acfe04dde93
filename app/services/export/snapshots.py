"""Every export is recorded (the `exports` table) so it can be listed, downloaded again and
compared with another: which sequences changed label or onset, which came or went, and the
counts per class side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.models import ExportSnapshot, utcnow
from app.services.errors import Gone, NotFound
from app.services.export.selection import ExportError, class_order
from app.services.export.writer import is_export_folder


class SnapshotNotFound(NotFound, ExportError):
    """No export with that id is recorded."""


class SnapshotGone(Gone, ExportError):
    """The snapshot is recorded but its folder is missing or now holds another export."""


def record_snapshot(session: Session, *, dataset_id: str, user_id: int | None,
                    params: dict, counts: dict, selection: dict, path: Path) -> ExportSnapshot:
    """Insert, or refresh the row of an earlier export of the same curation (same id)."""
    snapshot = session.get(ExportSnapshot, dataset_id)
    if snapshot is None:
        snapshot = ExportSnapshot(id=dataset_id)
        session.add(snapshot)
    snapshot.user_id = user_id
    snapshot.created_at = utcnow()
    snapshot.params = params
    snapshot.counts = counts
    snapshot.selection = selection
    snapshot.path = str(path)
    session.flush()
    return snapshot


def list_snapshots(session: Session) -> list[ExportSnapshot]:
    return list(session.scalars(select(ExportSnapshot).options(joinedload(ExportSnapshot.user))
                                .order_by(ExportSnapshot.created_at.desc(),
                                          ExportSnapshot.id)))


def snapshot_summary(snapshot: ExportSnapshot) -> dict[str, Any]:
    """What `GET /api/exports` lists for each export."""
    return {"id": snapshot.id, "params": snapshot.params, "counts": snapshot.counts,
            "created": snapshot.created_at.isoformat() if snapshot.created_at else None,
            "by": snapshot.user.name if snapshot.user else None, "path": snapshot.path,
            "on_disk": export_folder_ok(snapshot)}


def get_snapshot(session: Session, snapshot_id: str) -> ExportSnapshot:
    snapshot = session.get(ExportSnapshot, snapshot_id)
    if snapshot is None:
        raise SnapshotNotFound(f"no export with id {snapshot_id!r}; `GET /api/exports` or "
                               "the Export page lists them")
    return snapshot


def export_folder_ok(snapshot: ExportSnapshot) -> bool:
    """Does the recorded folder still hold this very export (not gone, not replaced)?"""
    folder = Path(snapshot.path)
    if not is_export_folder(folder):
        return False
    try:
        return json.loads((folder / "dataset.json").read_text()).get("id") == snapshot.id
    except (OSError, ValueError):
        return False


def snapshot_folder(session: Session, snapshot_id: str) -> Path:
    """The folder of a recorded export, checked to still hold that very export."""
    snapshot = get_snapshot(session, snapshot_id)
    if not export_folder_ok(snapshot):
        raise SnapshotGone(f"export {snapshot_id} was written to {snapshot.path}, which is "
                           "gone or now holds a different export; export again with the "
                           "same options to recreate it (it gets the same id)")
    return Path(snapshot.path)


def compare_snapshots(older: ExportSnapshot, newer: ExportSnapshot) -> dict[str, Any]:
    """Differences from `older` to `newer`, sequence by sequence and class by class."""
    a, b = older.selection or {}, newer.selection or {}
    changed, frames_changed = [], []
    for key in sorted(set(a) & set(b), key=lambda k: _name(b, k)):
        before, after = a[key], b[key]
        what = [field for field in ("label", "onset", "apex")
                if before.get(field) != after.get(field)]
        row = {"sequence_id": int(key), "name": _name(b, key),
               **{f"{field}_before": before.get(field) for field in ("label", "onset", "apex")},
               **{f"{field}_after": after.get(field) for field in ("label", "onset", "apex")},
               "frames_before": len(before.get("frames", [])),
               "frames_after": len(after.get("frames", [])), "changed": what}
        if what:
            changed.append(row)
        elif (before.get("frames"), before.get("neutral")) != (after.get("frames"),
                                                               after.get("neutral")):
            frames_changed.append(row)
    added = [{"sequence_id": int(k), "name": _name(b, k), "label": b[k].get("label"),
              "frames": len(b[k].get("frames", []))}
             for k in sorted(set(b) - set(a), key=lambda k: _name(b, k))]
    removed = [{"sequence_id": int(k), "name": _name(a, k), "label": a[k].get("label"),
                "frames": len(a[k].get("frames", []))}
               for k in sorted(set(a) - set(b), key=lambda k: _name(a, k))]
    classes_a = (older.counts or {}).get("classes", {})
    classes_b = (newer.counts or {}).get("classes", {})
    names = class_order(set(classes_a) | set(classes_b))
    return {
        "a": older.id, "b": newer.id,
        "changed": changed, "frames_changed": frames_changed,
        "added": added, "removed": removed,
        "classes": [{"label": n, "a": classes_a.get(n, 0), "b": classes_b.get(n, 0),
                     "diff": classes_b.get(n, 0) - classes_a.get(n, 0)} for n in names],
        "totals": {"a": (older.counts or {}).get("images", 0),
                   "b": (newer.counts or {}).get("images", 0)},
        "params_changed": {k: [older.params.get(k), newer.params.get(k)]
                           for k in sorted(set(older.params or {}) | set(newer.params or {}))
                           if (older.params or {}).get(k) != (newer.params or {}).get(k)},
    }


def _name(selection: dict, key: str) -> str:
    return selection[key].get("name", key)
