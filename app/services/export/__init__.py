"""Curated dataset export (DESIGN.md "Export folder"): selection, subject splits, an atomic
folder writer with a streamed zip, and recorded snapshots that can be compared.

    params = parse_params({"policy": "onset", "neutral_frames": 2, "split": "70/15/15"})
    preview(session, params)                       # counts, nothing written
    result = run_export(session, settings, params=params, out=None, user_id=admin.id)
    stream_zip(result.path)                        # bytes for a download
"""

from app.services.export.params import (
    COLORS,
    FACES,
    LABEL_SOURCES,
    POLICIES,
    ExportParamsError,
    ExportSpec,
    parse_params,
)
from app.services.export.pipeline import ExportResult, dataset_id, preview, run_export
from app.services.export.selection import (
    ExportError,
    FrameRow,
    Selection,
    emotion_frames,
    percent_cut,
    select_frames,
)
from app.services.export.snapshots import (
    SnapshotGone,
    SnapshotNotFound,
    compare_snapshots,
    get_snapshot,
    list_snapshots,
    snapshot_folder,
    snapshot_summary,
)
from app.services.export.writer import stream_zip, write_zip

__all__ = [
    "COLORS", "FACES", "LABEL_SOURCES", "POLICIES", "ExportError", "ExportSpec",
    "ExportParamsError", "ExportResult", "FrameRow", "Selection", "SnapshotGone",
    "SnapshotNotFound", "compare_snapshots", "dataset_id", "emotion_frames", "get_snapshot",
    "list_snapshots", "parse_params", "percent_cut", "preview", "run_export",
    "select_frames", "snapshot_folder", "snapshot_summary", "stream_zip", "write_zip",
]
