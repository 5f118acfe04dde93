"""The importer on CK+-shaped trees with every quirk of real copies, and on bad input."""

from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.models import Annotation, Frame, Sequence, User
from app.services.importer import ImportRefused, ScanError, import_ckplus
from app.services.stats import dataset_stats
from tests.support.ckplus import SeqSpec, frame_path, write_ckplus

QUIRKY = [
    SeqSpec("S005", "001", frames=5, label=3.0, facs=[(6, 4), (12, 0)]),
    SeqSpec("S005", "002", frames=3),  # no emotion file: unlabeled, not neutral
    SeqSpec("S010", "001", frames=4, label=5.0, size=(64, 48)),  # the 640x480 subjects
    SeqSpec("S010", "004", frames=6, empty_label_folder=True),  # empty Emotion folder
    SeqSpec("S011", "001", frames=3, label=7.0, size=(72, 48), mode="RGB"),  # colour 720x480
]


def _import(session, root: Path):
    summary = import_ckplus(session, root=root)
    session.commit()
    return summary


def test_counts_cover_every_quirk(session, tmp_path):
    root = write_ckplus(tmp_path / "ck", QUIRKY)
    (root / "ReadMe.txt").write_text("CK+ readme")
    (root / "cohn-kanade-images" / ".DS_Store").write_bytes(b"\0junk")
    (root / "cohn-kanade-images" / "S005" / "001" / "Thumbs.db").write_bytes(b"junk")
    (root / "Emotion" / "S005" / ".DS_Store").write_bytes(b"junk")

    summary = _import(session, root)

    assert summary.added == 5 and summary.skipped == 0
    assert [i for i in summary.issues if i.severity == "error"] == []
    stats = dataset_stats(session)
    assert stats["subjects"] == 3 and stats["sequences"] == 5 and stats["frames"] == 21
    assert stats["labeled_sequences"] == 3
    assert stats["labels"] == {"disgust": 1, "happy": 1, "surprise": 1}
    assert stats["frame_modes"] == {"L": 18, "RGB": 3}
    assert stats["frame_sizes"] == {"64x49": 14, "64x48": 4, "72x48": 3}
    seq = session.scalars(select(Sequence).where(Sequence.code == "001")
                          .join(Sequence.subject).where(Sequence.subject.has(code="S005"))).one()
    assert seq.facs == [[6, 4], [12, 0]]
    assert seq.label_file == "Emotion/S005/001/S005_001_00000005_emotion.txt"
    first = seq.frames[0]
    assert (first.number, first.path) == (1, "cohn-kanade-images/S005/001/S005_001_00000001.png")
    assert first.landmarks_path == "Landmarks/S005/001/S005_001_00000001_landmarks.txt"


def test_renamed_roots_and_nested_folder(session, tmp_path):
    write_ckplus(tmp_path / "download" / "CK+", QUIRKY[:2], images_dir="Images",
                 emotion_dir="Emotions")
    summary = _import(session, tmp_path / "download")  # one level above the real root
    assert summary.added == 2
    assert dataset_stats(session)["labels"] == {"disgust": 1}


@pytest.mark.parametrize("label_text, why", [
    ("   abc\n", "not a number"),
    ("   9.0000000e+00\n", "not an emotion code 0-7"),
    ("   2.5000000e+00\n", "not an emotion code 0-7"),
    ("", "label file is empty"),
    ("   nan\n", "not an emotion code 0-7"),
])
def test_bad_label_is_named_and_sequence_kept_unlabeled(session, tmp_path, label_text, why):
    root = write_ckplus(tmp_path / "ck", [SeqSpec("S005", "001", label=label_text),
                                          SeqSpec("S005", "002", label=1.0)])
    summary = _import(session, root)
    errors = [str(i) for i in summary.issues if i.severity == "error"]
    assert len(errors) == 1
    assert "Emotion/S005/001/S005_001_00000004_emotion.txt" in errors[0] and why in errors[0]
    assert summary.added == 2
    assert dataset_stats(session)["labels"] == {"anger": 1}


def test_corrupt_and_non_image_frames_skip_only_their_sequence(session, tmp_path):
    specs = [SeqSpec("S005", "001"), SeqSpec("S005", "002"), SeqSpec("S010", "001", label=1.0)]
    root = write_ckplus(tmp_path / "ck", specs)
    frame_path(root, specs[0], 2).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    frame_path(root, specs[1], 3).write_text("this is a text file named like a frame")
    summary = _import(session, root)
    errors = [str(i) for i in summary.issues if i.severity == "error"]
    assert any("S005_001_00000002.png" in e and "not a readable image" in e for e in errors)
    assert any("S005_002_00000003.png" in e for e in errors)
    assert (summary.added, summary.skipped) == (1, 2)


def test_frame_gap_and_orphan_label_file_are_reported(session, tmp_path):
    specs = [SeqSpec("S005", "001", frames=5), SeqSpec("S005", "002", label=4.0)]
    root = write_ckplus(tmp_path / "ck", specs)
    frame_path(root, specs[0], 3).unlink()
    orphan = root / "Emotion" / "S099" / "001"
    orphan.mkdir(parents=True)
    (orphan / "S099_001_00000010_emotion.txt").write_text("   1.0000000e+00\n")
    summary = _import(session, root)
    errors = [str(i) for i in summary.issues if i.severity == "error"]
    assert any("S005/001" in e and "gap in frame numbers" in e and "3" in e for e in errors)
    assert any("S099_001_00000010_emotion.txt" in e and "no image sequence" in e for e in errors)
    assert summary.added == 1


def test_not_a_ckplus_folder(session, tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(ScanError, match="no CK\\+ image folder"):
        import_ckplus(session, root=tmp_path / "photos")
    with pytest.raises(ScanError, match="no such folder"):
        import_ckplus(session, root=tmp_path / "missing")


def _annotate(session, sequence: Sequence) -> Annotation:
    user = User(name="rev1", role="reviewer", password_hash="x")
    session.add(user)
    session.flush()
    annotation = Annotation(sequence_id=sequence.id, user_id=user.id, label=5, onset_frame=2,
                            note="smile starts at 2")
    session.add(annotation)
    session.commit()
    return annotation


def test_reimport_is_idempotent_and_keeps_reviews(session, tmp_path):
    root = write_ckplus(tmp_path / "ck", QUIRKY)
    _import(session, root)
    frame_ids = sorted(session.scalars(select(Frame.id)))
    sequence = session.scalars(select(Sequence).order_by(Sequence.id)).first()
    annotation = _annotate(session, sequence)

    again = _import(session, root)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5)
    assert sorted(session.scalars(select(Frame.id))) == frame_ids

    # The CK+ label file changes: the original label follows it, the review stays.
    label = root / "Emotion" / "S005" / "001" / "S005_001_00000005_emotion.txt"
    label.write_text("   6.0000000e+00\n")
    changed = _import(session, root)
    assert changed.updated == 1
    session.refresh(sequence)
    session.refresh(annotation)
    assert sequence.original_label == 6
    assert (annotation.label, annotation.onset_frame, annotation.note) == (5, 2,
                                                                          "smile starts at 2")


def test_reimport_of_a_damaged_copy_loses_nothing(session, tmp_path):
    specs = [SeqSpec("S005", "001", frames=5, label=3.0)]
    root = write_ckplus(tmp_path / "ck", specs)
    _import(session, root)
    frame_path(root, specs[0], 5).unlink()  # the copy lost its last frame
    summary = _import(session, root)
    assert summary.skipped == 1 and summary.imported == 0
    sequence = session.scalars(select(Sequence)).one()
    assert sequence.frame_count == 5 and len(sequence.frames) == 5
    assert sequence.original_label == 3


def test_switching_from_demo_needs_an_unreviewed_database(session, tmp_path):
    demo = write_ckplus(tmp_path / "demo", [SeqSpec("S900", "001", label=1.0)])
    (demo / "demo_truth.csv").write_text("subject,sequence\n")
    real = write_ckplus(tmp_path / "real", [SeqSpec("S005", "001", label=2.0)])
    _import(session, demo)
    _import(session, real)  # nothing reviewed yet: the demo is replaced
    assert dataset_stats(session)["labels"] == {"contempt": 1}
    assert dataset_stats(session)["source"] == {"root": str(real.resolve()), "is_demo": False}

    _annotate(session, session.scalars(select(Sequence)).one())
    with pytest.raises(ImportRefused, match="1 review"):
        import_ckplus(session, root=demo)


@pytest.mark.sqlite_only
def test_database_runs_in_wal_mode_with_foreign_keys(session):
    assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA", "I;16"])
def test_png_header_reader_agrees_with_pillow(tmp_path, mode):
    from PIL import Image

    from app.services.ckplus_scan import read_image_header

    path = tmp_path / "frame.png"
    Image.new(mode, (37, 21)).save(path)
    with Image.open(path) as image:
        assert read_image_header(str(path)) == (image.width, image.height, image.mode)


def test_a_png_with_a_damaged_header_is_refused(session, tmp_path):
    spec = SeqSpec("S005", "001")
    root = write_ckplus(tmp_path / "ck", [spec])
    path = frame_path(root, spec, 1)
    data = bytearray(path.read_bytes())
    data[18] ^= 0xFF  # flip a byte of the width: the IHDR CRC no longer matches
    path.write_bytes(bytes(data))
    summary = _import(session, root)
    assert summary.imported == 0
    assert "S005_001_00000001.png" in str(summary.issues[0])
