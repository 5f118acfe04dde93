"""The export's onset policy can fall back to suggested onsets for unmarked sequences, and
says so in dataset.json; the manifest carries the database ids suspects map back through."""

import csv
import json

import pytest

from app.services.export import ExportParamsError, parse_params, run_export, select_frames
from tests.services.test_assist_onsets import sequence_points, write_landmarks
from tests.support.ckplus import SeqSpec, import_specs


@pytest.fixture
def ids(session_factory, tmp_path):
    specs = [SeqSpec("S005", "001", frames=12, label=5.0), SeqSpec("S006", "001", frames=10,
                                                                     label=7.0)]
    found = import_specs(session_factory, tmp_path / "ck", specs)
    write_landmarks(tmp_path / "ck", "S005", "001", sequence_points(12, 4))
    write_landmarks(tmp_path / "ck", "S006", "001", sequence_points(10, 8))
    return found


def test_unmarked_sequences_take_the_suggested_onset(session, ids):
    percent = select_frames(session, parse_params({"policy": "onset"}))
    suggested = select_frames(session, parse_params({"policy": "onset",
                                                     "fallback": "suggested"}))
    assert percent.sequences[ids["S005_001"]].frames == list(range(7, 13))  # 50% trim
    assert suggested.sequences[ids["S005_001"]].frames == list(range(4, 13))
    assert suggested.sequences[ids["S006_001"]].frames == list(range(8, 11))
    assert suggested.sequences[ids["S005_001"]].trim == "suggested onset"
    assert suggested.onset_fallback == 0 and percent.onset_fallback == 2


def test_fallback_is_checked_and_recorded(session, settings, ids, tmp_path):
    with pytest.raises(ExportParamsError, match="fallback"):
        parse_params({"policy": "peak", "fallback": "suggested"})
    with pytest.raises(ExportParamsError, match="fallback"):
        parse_params({"fallback": "guess"})
    params = parse_params({"policy": "onset", "fallback": "suggested", "face": "none",
                           "size": 16, "folds": 2})
    result = run_export(session, settings, params=params, out=tmp_path / "out")
    info = json.loads((result.path / "dataset.json").read_text())
    assert info["selection"]["fallback"] == "suggested"
    with open(result.path / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"sequence_id", "source_frame_id"} <= set(rows[0])
    assert {int(r["sequence_id"]) for r in rows} == set(ids.values())
