"""The importer against a corpus of bad input, re-importing over a good, reviewed copy:
each bad thing is reported naming its file, the rest is imported, and nothing stored is lost
(sequences, frames, labels, reviewers' work). And a frame changed in place loses its cached
face detections and crops, which were made from the old pixels."""

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.models import Annotation, Decision, FaceDetection, Frame, Sequence, Subject
from app.services.review import ReviewInput, save_annotation, save_decision
from tests.support.ckplus import SeqSpec, frame_path, write_ckplus

SPECS = [SeqSpec("S005", f"00{i}", frames=4, label=5.0) for i in range(1, 4)] + [
    SeqSpec("S006", f"00{i}", frames=4, label=3.0) for i in range(1, 4)] + [
    SeqSpec("S007", "001", frames=4, label=7.0)]


def _huge_png(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A well-formed PNG (valid chunk CRCs, IEND at the end) that claims a giant size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _label_file(root: Path, spec: SeqSpec) -> Path:
    return (root / "Emotion" / spec.subject / spec.code
            / f"{spec.subject}_{spec.code}_{spec.frames:08d}_emotion.txt")


def _break(root: Path, outside: Path) -> dict[str, str]:
    """Damage the copy in every way on the list; {bad input: what must be reported}."""
    s = {f"{x.subject}/{x.code}": x for x in SPECS}
    truncated = frame_path(root, s["S005/001"], 2)
    truncated.write_bytes(truncated.read_bytes()[:-20])
    _huge_png(frame_path(root, s["S005/002"], 1))
    _label_file(root, s["S005/003"]).write_text("happy\n")
    negative = frame_path(root, s["S006/001"], 1).with_name("S006_001_-0000001.png")
    Image.new("L", (64, 49), 90).save(negative)
    linked = frame_path(root, s["S006/002"], 3)
    linked.unlink()
    Image.new("L", (64, 49), 10).save(outside)
    linked.symlink_to(outside)
    odd_name = os.fsencode(frame_path(root, s["S006/003"], 1).parent) + b"/S006_003_caf\xe9.png"
    with open(odd_name, "wb") as fh:
        fh.write(b"not really")
    _label_file(root, s["S007/001"]).write_bytes(b"")
    return {
        "truncated PNG": "S005_001_00000002.png: not a readable image (truncated PNG",
        "PNG with a huge declared size": "S005_002_00000001.png: declares 100000x100000 pixels",
        "label as text": "S005_003_00000004_emotion.txt: label is not a number ('happy')",
        "negative frame number": "S006_001_-0000001.png: not a CK+ frame name; ignored",
        "symlink out of the folder": "S006_002_00000003.png: is a symbolic link to",
        "non-UTF-8 file name": "S006_003_caf\ufffd.png: not a CK+ frame name; ignored",
        "0-byte label file": "S007_001_00000004_emotion.txt: label file is empty",
    }


def _stored(session) -> dict:
    """Everything a re-import must not lose."""
    return {
        "sequences": session.execute(select(Subject.code, Sequence.code, Sequence.frame_count,
                                            Sequence.original_label).join(Subject)
                                     .order_by(Subject.code, Sequence.code)).all(),
        "frames": session.execute(select(Frame.id, Frame.sequence_id, Frame.number, Frame.path)
                                  .order_by(Frame.id)).all(),
        "annotations": session.execute(select(Annotation.sequence_id, Annotation.label,
                                              Annotation.note, Annotation.version)).all(),
        "decisions": session.execute(select(Decision.sequence_id, Decision.label)).all(),
    }


def _onset(env, *args):
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def env(settings):
    return {"ONSET_DATA_DIR": str(settings.data_dir),
            "ONSET_DATABASE_URL": settings.resolved_database_url}


def test_bad_input_corpus_is_reported_by_name_and_loses_nothing(env, session_factory,
                                                                 make_user, tmp_path):
    root = write_ckplus(tmp_path / "ck", SPECS)
    assert _onset(env, "import", str(root), "--json").exit_code == 0
    rev, boss = make_user("rev1"), make_user("boss", "admin")
    with session_factory() as session:
        for sequence in session.scalars(select(Sequence)):
            save_annotation(session, sequence_id=sequence.id, user=rev, data=ReviewInput(
                label=4, onset_frame=2, apex_frame=None, note="mine", exclude=False,
                version=0))
        first = session.scalar(select(Sequence.id).order_by(Sequence.id))
        save_decision(session, sequence_id=first, user=boss, data=ReviewInput(
            label=6, onset_frame=3, apex_frame=None, note="", exclude=False, version=0))
        session.commit()
        before = _stored(session)

    expected = _break(root, tmp_path / "elsewhere.png")
    result = _onset(env, "import", str(root), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    reported = summary["errors"] + summary["warnings"]
    for bad_input, message in expected.items():
        assert any(message in line for line in reported), (bad_input, reported)
    assert summary["skipped"] == 3  # the truncated, the huge and the linked frame's sequences
    assert summary["imported"] == len(SPECS) - 3

    with session_factory() as session:
        assert _stored(session) == before  # labels too: a damaged label file kept the label
    human = _onset(env, "import", str(root))  # the console takes the odd name as well
    assert human.exit_code == 0 and "caf\ufffd.png" in human.output


def test_a_frame_changed_in_place_loses_its_cached_detection_and_crops(
        session_factory, settings, env, tmp_path):
    from app.services.faces import crops

    spec = SeqSpec("S005", "001", frames=4, label=5.0, size=(640, 490))
    root = write_ckplus(tmp_path / "ck", [spec])
    assert _onset(env, "import", str(root)).exit_code == 0
    with session_factory() as session:
        ids = list(session.scalars(select(Frame.id).order_by(Frame.number)))
        paths = crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks",
                                   size=32, color="gray")
        session.commit()
        old_crop = np.asarray(Image.open(paths[ids[1]]))
        assert session.scalar(select(func.count(FaceDetection.id))) == len(ids)

    changed = frame_path(root, spec, 2)
    Image.new("L", (640, 490), 250).save(changed)  # same size and mode: only pixels differ
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    result = _onset(env, "import", str(root), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["frames_changed"] == 1

    with session_factory() as session:
        kept = set(session.scalars(select(FaceDetection.frame_id)))
        assert kept == set(ids) - {ids[1]}  # only the changed frame's detection went
        assert not paths[ids[1]].exists() and paths[ids[0]].exists()
        again = crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks",
                                   size=32, color="gray")
        new_crop = np.asarray(Image.open(again[ids[1]]))
    assert not np.array_equal(new_crop, old_crop)
    assert new_crop.mean() > old_crop.mean() + 50  # cut from the new, brighter pixels

    unchanged = _onset(env, "import", str(root), "--json")
    assert json.loads(unchanged.stdout)["frames_changed"] == 0
