"""The onset-curve cache is parsed once per file version, and a write by another process
(a new mtime or size) is read again, not served stale."""

import json
import os

from app.services.assist.onsets import _read_cache


def test_a_changed_file_is_read_again_and_copies_are_independent(tmp_path):
    path = tmp_path / "curves-crops.json"
    path.write_text(json.dumps({"1": {"key": "a", "curve": [0.0, 1.0], "note": ""}}))
    first = _read_cache(path)
    first["2"] = {"key": "mine", "curve": None, "note": ""}  # a caller's own copy
    assert set(_read_cache(path)) == {"1"}

    path.write_text(json.dumps({"3": {"key": "b", "curve": None, "note": "x"}}))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert set(_read_cache(path)) == {"3"}
    assert _read_cache(tmp_path / "missing.json") == {}
