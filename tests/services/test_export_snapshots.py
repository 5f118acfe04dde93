"""Snapshots: recorded per export, reused for the same curation, compared after a review."""

from app.models import Annotation, ExportSnapshot
from app.services.export import (
    compare_snapshots,
    get_snapshot,
    list_snapshots,
    parse_params,
    run_export,
    snapshot_summary,
)
from app.services.review import ReviewInput, save_annotation
from tests.services.export_helpers import build_dataset, manifest_frames, user

OPTIONS = {"face": "none", "size": 16, "percent": 30, "folds": 2}


def export(session, settings, options=OPTIONS, user_id=None):
    result = run_export(session, settings, params=parse_params(options), user_id=user_id)
    session.commit()
    return result


def review(session, reviewer, sequence_id, *, label, onset=None, exclude=False):
    """Save through the review service, as the review page does."""
    current = session.query(Annotation).filter_by(sequence_id=sequence_id,
                                                  user_id=reviewer.id).one_or_none()
    save_annotation(session, sequence_id=sequence_id, user=reviewer, data=ReviewInput(
        label=label, onset_frame=onset, apex_frame=None, note="", exclude=exclude,
        version=current.version if current else 0))
    session.commit()


def test_each_export_is_recorded_with_counts_and_selection(session, settings, tmp_path):
    ids = build_dataset(session, tmp_path / "ck")
    admin = user(session, "boss")
    result = export(session, settings, user_id=admin.id)
    snapshot = get_snapshot(session, result.id)
    assert snapshot.path == str(result.path) and snapshot.user_id == admin.id
    assert snapshot.counts["classes"] == result.counts["classes"]
    assert snapshot.params["percent"] == 30 and snapshot.params["face"] == "none"
    assert snapshot.selection[str(ids["S005_001"])] == {
        "name": "S005_001", "label": "disgust", "onset": 5, "apex": None, "trim": "onset",
        "frames": [5, 6, 7, 8, 9, 10], "neutral": []}
    listed = snapshot_summary(list_snapshots(session)[0])
    assert (listed["id"], listed["by"], listed["on_disk"]) == (result.id, "boss", True)


def test_exporting_the_same_curation_again_reuses_the_snapshot(session, settings, tmp_path):
    build_dataset(session, tmp_path / "ck")
    first = export(session, settings)
    second = export(session, settings)
    assert first.id == second.id and first.path == second.path
    assert session.query(ExportSnapshot).count() == 1
    assert [p.name for p in settings.exports_dir.iterdir()] == [first.id]  # no leftovers


def test_a_reviewers_change_shows_in_the_next_export_and_the_comparison(session, settings,
                                                                         tmp_path):
    ids = build_dataset(session, tmp_path / "ck")
    before = export(session, settings)
    rev1, rev3 = user(session, "rev1"), user(session, "rev3")
    # rev1 changes S005/001 from disgust (onset 5) to anger with onset 7 ...
    review(session, rev1, ids["S005_001"], label=1, onset=7)
    # ... a third reviewer breaks the S011/001 tie (anger wins), and S014/001 is excluded.
    review(session, rev3, ids["S011_001"], label=1)
    review(session, rev1, ids["S014_001"], label=2, onset=7, exclude=True)
    after = export(session, settings)
    assert after.id != before.id

    frames = manifest_frames((after.path / "manifest.csv").read_text())
    assert frames["S005_001"] == [(n, "anger") for n in range(7, 11)]
    assert "S014_001" not in frames and "S011_001" in frames

    diff = compare_snapshots(get_snapshot(session, before.id), get_snapshot(session, after.id))
    changed = {row["name"]: row for row in diff["changed"]}
    assert set(changed) == {"S005_001"}
    assert (changed["S005_001"]["label_before"], changed["S005_001"]["label_after"]) == (
        "disgust", "anger")
    assert (changed["S005_001"]["onset_before"], changed["S005_001"]["onset_after"]) == (5, 7)
    assert [row["name"] for row in diff["added"]] == ["S011_001"]
    assert [row["name"] for row in diff["removed"]] == ["S014_001"]
    by_class = {row["label"]: row for row in diff["classes"]}
    assert (by_class["disgust"]["a"], by_class["disgust"]["b"]) == (6, 0)
    assert by_class["contempt"]["diff"] == -3
    assert by_class["anger"]["b"] == 4 + 5  # S005/001 frames 7-10, S011/001 frames 2-6
    assert diff["params_changed"] == {}


def test_comparing_two_policies_lists_the_parameter_change(session, settings, tmp_path):
    build_dataset(session, tmp_path / "ck")
    onset = export(session, settings)
    peak = export(session, settings, {**OPTIONS, "policy": "peak"})
    diff = compare_snapshots(get_snapshot(session, onset.id), get_snapshot(session, peak.id))
    assert diff["params_changed"]["policy"] == ["onset", "peak"]
    assert {row["name"] for row in diff["frames_changed"]} >= {"S005_001", "S005_002"}
    assert diff["changed"] == [] and diff["added"] == [] and diff["removed"] == []
