"""Frame files by id: the root check, the rendition cache (made once, atomically, keyed by the
source file), grayscale and colour, and clear errors for missing or broken files."""

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from app.models import Frame
from app.services.errors import NotFound, Unprocessable
from app.services.importer import import_ckplus
from app.services.thumbs import check_original, locate, rendition
from tests.support.ckplus import SeqSpec, frame_path, write_ckplus

GRAY = SeqSpec("S005", "001", frames=3, size=(640, 490), mode="L")
COLOUR = SeqSpec("S006", "001", frames=3, size=(720, 480), mode="RGB")


@pytest.fixture
def dataset(session, tmp_path) -> Path:
    root = write_ckplus(tmp_path / "ck", [GRAY, COLOUR])
    import_ckplus(session, root=root)
    session.commit()
    return root


def frame_id(session, spec: SeqSpec, number: int) -> int:
    name = f"{spec.subject}_{spec.code}_{number:08d}.png"
    return session.scalar(select(Frame.id).where(Frame.path.endswith(name)))


def test_renditions_are_made_once_and_keep_grayscale_small(session, dataset, tmp_path):
    thumbs = tmp_path / "thumbs"
    frame = locate(session, frame_id(session, GRAY, 2), variant="thumb")
    made = rendition(frame, variant="thumb", thumbs_dir=thumbs)
    with Image.open(made) as image:
        assert image.format == "JPEG" and image.mode == "L" and max(image.size) == 176
    first_mtime = made.stat().st_mtime_ns
    again = rendition(locate(session, frame.frame_id, variant="thumb"), variant="thumb",
                      thumbs_dir=thumbs)
    assert again == made and again.stat().st_mtime_ns == first_mtime  # served from the cache
    assert not [p for p in thumbs.rglob(".tmp-*")]  # the temp file was renamed, not left


def test_colour_frames_stay_colour(session, dataset, tmp_path):
    frame = locate(session, frame_id(session, COLOUR, 1), variant="view")
    with Image.open(rendition(frame, variant="view", thumbs_dir=tmp_path / "t")) as image:
        assert image.mode == "RGB" and image.size == (720, 480)


def test_sixteen_bit_frames_become_8_bit(session, dataset, tmp_path):
    path = frame_path(dataset, GRAY, 3)
    Image.new("I;16", (64, 48), 40000).save(path)
    frame = locate(session, frame_id(session, GRAY, 3), variant="thumb")
    with Image.open(rendition(frame, variant="thumb", thumbs_dir=tmp_path / "t")) as image:
        assert image.mode == "L" and 150 <= image.getpixel((5, 5)) <= 160  # 40000 / 256


def test_a_changed_source_file_gets_a_new_etag_and_rendition(session, dataset, tmp_path):
    fid = frame_id(session, GRAY, 1)
    before = locate(session, fid, variant="thumb")
    old = rendition(before, variant="thumb", thumbs_dir=tmp_path / "t")
    Image.new("L", (320, 245), 200).save(frame_path(dataset, GRAY, 1))
    after = locate(session, fid, variant="thumb")
    assert after.etag != before.etag
    assert rendition(after, variant="thumb", thumbs_dir=tmp_path / "t") != old


def test_poisoned_paths_never_leave_the_root(session, dataset, tmp_path):
    secret = tmp_path / "secret.png"
    Image.new("L", (8, 8)).save(secret)
    fid = frame_id(session, GRAY, 1)
    row = session.get(Frame, fid)
    for poisoned in ("../secret.png", str(secret), "cohn-kanade-images/../../secret.png"):
        row.path = poisoned
        session.flush()
        with pytest.raises(NotFound, match="outside the dataset folder"):
            locate(session, fid)


def test_missing_and_corrupt_files_get_clear_errors(session, dataset, tmp_path):
    missing = frame_id(session, GRAY, 1)
    frame_path(dataset, GRAY, 1).unlink()
    with pytest.raises(NotFound, match="missing"):
        locate(session, missing)
    with pytest.raises(NotFound, match="no frame with id 99999"):
        locate(session, 99999)

    broken = frame_id(session, GRAY, 2)
    frame_path(dataset, GRAY, 2).write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    frame = locate(session, broken, variant="thumb")
    with pytest.raises(Unprocessable, match="S005_001_00000002.png cannot be decoded"):
        rendition(frame, variant="thumb", thumbs_dir=tmp_path / "t")
    with pytest.raises(Unprocessable, match="S005_001_00000002.png is not a readable image"):
        check_original(locate(session, broken))
    assert not list((tmp_path / "t").rglob("*.jpg"))  # nothing half-written was cached
