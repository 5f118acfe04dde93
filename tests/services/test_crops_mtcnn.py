"""The crop cache with the real MTCNN on a real face (scikit-image's astronaut).

A tiny imported dataset: S900/001 holds four frames of the astronaut shifted a few pixels
from frame to frame (a CK+ subject barely moves), S900/002 one blank frame. A counting spy
wraps (never replaces) the detector function the sequence fast path calls, so the tests see
how many frames MTCNN really looked at.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from app.models import FaceDetection, Frame
from app.services.faces import crops
from app.services.importer import import_ckplus
from training import face_track
from training.faces import DetectionParams, detect_faces

pytestmark = pytest.mark.slow

SHIFTS = (0, 2, 4, 6)  # pixels right and down per frame (boxes overlap: IoU ~0.8)
# Where the astronaut's face is in skimage.data.astronaut() (512x512), found by eye and
# agreeing with MTCNN: centre x, y and side, in pixels.
FACE_CENTRE = (222.0, 117.0)
FACE_SIDE = 105.0


def write_astronaut_ckplus(root: Path) -> Path:
    """CK+ layout: S900/001 = the astronaut in 4 shifted frames, S900/002 = a blank frame."""
    from skimage import data

    astronaut = data.astronaut()
    sequence = root / "cohn-kanade-images" / "S900" / "001"
    sequence.mkdir(parents=True)
    for number, shift in enumerate(SHIFTS, start=1):
        frame = np.roll(astronaut, (shift, shift), axis=(0, 1))
        Image.fromarray(frame).save(sequence / f"S900_001_{number:08d}.png")
    blank = root / "cohn-kanade-images" / "S900" / "002"
    blank.mkdir(parents=True)
    Image.new("RGB", (512, 512), (128, 128, 128)).save(blank / "S900_002_00000001.png")
    return root


@pytest.fixture
def astronaut_db(session, tmp_path):
    root = write_astronaut_ckplus(tmp_path / "ck")
    summary = import_ckplus(session, root=root)
    session.commit()
    assert summary.imported == 2, summary.as_dict()
    ids = list(session.scalars(select(Frame.id).order_by(Frame.sequence_id, Frame.number)))
    return ids[:4], ids[4]


@pytest.fixture
def detector_images(monkeypatch) -> list[int]:
    """How many images each MTCNN call of the fast path got."""
    calls: list[int] = []
    real = face_track.detect_faces

    def counting(images, *args, **kwargs):
        calls.append(len(images))
        return real(images, *args, **kwargs)

    monkeypatch.setattr(face_track, "detect_faces", counting)
    return calls


def _rows(session, key: str | None = None) -> int:
    query = select(func.count(FaceDetection.id))
    if key is not None:
        query = query.where(FaceDetection.params_key == key)
    return session.scalar(query)


def test_mtcnn_cache_reuse_invalidation_and_no_face(session, settings, astronaut_db,
                                                    detector_images):
    face_ids, blank_id = astronaut_db
    everything = [*face_ids, blank_id]

    paths = crops.ensure_crops(session, settings, frame_ids=everything, source="mtcnn",
                               size=64, color="rgb")

    # Fast path: the first and last face frames are detected, the two between interpolated.
    assert sum(detector_images) == 3  # 2 key frames + the blank frame
    methods = [crops.detection_for_frame(session, i, "mtcnn").method for i in face_ids]
    assert methods == ["detected", "interpolated", "interpolated", "detected"]
    for frame_id, shift in zip(face_ids, SHIFTS, strict=True):
        x, y, w, h = crops.detection_for_frame(session, frame_id, "mtcnn").box
        assert abs(x + w / 2 - (FACE_CENTRE[0] + shift)) < 12
        assert abs(y + h / 2 - (FACE_CENTRE[1] + shift)) < 12
        assert 0.7 < max(w, h) / FACE_SIDE < 1.4
        assert Image.open(paths[frame_id]).size == (64, 64)
    # The blank frame: recorded as no face, listed, and no crop file at all.
    assert paths[blank_id] is None
    row = crops.detection_for_frame(session, blank_id, "mtcnn")
    assert row.found is False and "no face found by mtcnn" in row.keypoints["reason"]
    assert crops.no_face_frames(session, "mtcnn") == [blank_id]
    blank_sequence = session.get(Frame, blank_id).sequence_id
    assert crops.no_face_sequence_ids(session, "mtcnn") == [blank_sequence]
    crop_dir = paths[face_ids[0]].parent
    assert sorted(p.name for p in crop_dir.glob("*.png")) == sorted(f"{i}.png"
                                                                   for i in face_ids)

    # Cached: a second run runs MTCNN on nothing and returns the same files.
    detector_images.clear()
    assert crops.ensure_crops(session, settings, frame_ids=everything, source="mtcnn",
                              size=64, color="rgb") == paths
    assert detector_images == []

    # A crop setting changes the crops only: same boxes, new files, no detection.
    bigger = crops.ensure_crops(session, settings, frame_ids=everything, source="mtcnn",
                                size=80, color="gray")
    assert detector_images == [] and _rows(session) == 5
    assert Image.open(bigger[face_ids[0]]).size == (80, 80)
    assert bigger[face_ids[0]].parent != crop_dir

    # A detection setting re-detects (under a key of its own; the old boxes stay cached).
    stricter = DetectionParams(min_face_size=80)
    summary = crops.detect_frames(session, settings, frame_ids=face_ids, source="mtcnn",
                                  detection=stricter)
    assert sum(detector_images) == 2 and summary.detected == 4 and summary.cached == 0
    assert _rows(session, crops.params_key_for("mtcnn", stricter)) == 4
    assert _rows(session, crops.default_params_key("mtcnn")) == 5


def test_without_fast_path_every_frame_is_detected(session, settings, astronaut_db,
                                                   detector_images):
    face_ids, _ = astronaut_db
    summary = crops.detect_frames(session, settings, frame_ids=face_ids, source="mtcnn",
                                  fast_path=False)
    assert summary.faces == 4 and sum(detector_images) == 4
    key = crops.params_key_for("mtcnn", fast_path=False)
    assert key != crops.default_params_key("mtcnn")
    methods = {crops.detection_for_frame(session, i, "mtcnn", key).method for i in face_ids}
    assert methods == {"detected"}


def test_mtcnn_crop_shows_the_face_in_the_middle(session, settings, astronaut_db):
    face_ids, _ = astronaut_db
    paths = crops.ensure_crops(session, settings, frame_ids=face_ids[:1], source="mtcnn",
                               size=160, color="rgb", margin=0.3)
    crop = np.asarray(Image.open(paths[face_ids[0]]))
    # MTCNN itself, run on the crop, finds one face filling the middle of it.
    [faces] = detect_faces([crop], DetectionParams(min_face_size=40))
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert abs(x + w / 2 - 80) < 12 and abs(y + h / 2 - 80) < 16
    assert 0.6 < max(w, h) / (160 / 1.6) < 1.4  # face side = crop side / (1 + 2 * margin)
