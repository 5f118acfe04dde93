"""The crop cache with the landmark source: reuse, invalidation, no-face frames, unreadable
files, resuming an interrupted run, a dataset swap, and crops that sit on the face.

Real SQLite file, real CK+-shaped trees and real landmark files throughout; nothing mocked.
Counting spies wrap (never replace) `training.faces.read_landmarks`.
"""

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from app.models import FaceDetection, Frame, Sequence, Subject
from app.services.faces import crops
from app.services.importer import import_ckplus
from tests.support.ckplus import SeqSpec, frame_path, write_ckplus
from training.faces import DetectionParams

WITH_LANDMARKS = [SeqSpec("S005", "001", frames=4), SeqSpec("S010", "002", frames=3)]
WITHOUT_LANDMARKS = [SeqSpec("S005", "002", frames=2)]


def _import(session, root: Path) -> None:
    import_ckplus(session, root=root)
    session.commit()


def _frame_ids(session, subject: str | None = None, code: str | None = None) -> list[int]:
    query = select(Frame.id).join(Sequence).join(Subject).order_by(Frame.id)
    if subject:
        query = query.where(Subject.code == subject)
    if code:
        query = query.where(Sequence.code == code)
    return list(session.scalars(query))


@pytest.fixture
def ck_tree(session, tmp_path) -> Path:
    root = write_ckplus(tmp_path / "ck", WITH_LANDMARKS)
    write_ckplus(root, WITHOUT_LANDMARKS, landmarks=False)
    _import(session, root)
    return root


def _detection_rows(session) -> int:
    return session.scalar(select(func.count(FaceDetection.id)))


def test_second_run_reuses_detections_and_crop_files(session, settings, ck_tree,
                                                     landmark_reads):
    ids = _frame_ids(session, "S005", "001") + _frame_ids(session, "S010")
    first = crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks",
                               size=32, color="gray")
    assert len(landmark_reads) == 7
    assert set(first) == set(ids) and all(path.is_file() for path in first.values())
    assert all(Image.open(p).size == (32, 32) and Image.open(p).mode == "L"
               for p in first.values())
    stamps = {p: p.stat().st_mtime_ns for p in first.values()}

    summary, again = crops.run_crops(session, settings, frame_ids=ids, source="landmarks",
                                     crop=crops.crop_params(size=32, color="gray"))

    assert len(landmark_reads) == 7  # nothing read again
    assert again == first
    assert (summary.cached, summary.detected, summary.crops_cached, summary.crops_written) == (
        7, 0, 7, 0)
    assert {p: p.stat().st_mtime_ns for p in again.values()} == stamps  # not rewritten
    assert _detection_rows(session) == 7


def test_crop_settings_recrop_from_cached_boxes(session, settings, ck_tree, landmark_reads):
    ids = _frame_ids(session, "S005", "001")
    small = crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks",
                               size=32, color="gray")
    for size, color, margin in ((48, "gray", None), (48, "rgb", None), (48, "rgb", 0.5)):
        paths = crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks",
                                   size=size, color=color, margin=margin)
        first = Image.open(paths[ids[0]])
        assert first.size == (48, 48) and first.mode == ("L" if color == "gray" else "RGB")
        assert set(paths.values()).isdisjoint(small.values())
    assert len(landmark_reads) == 4 and _detection_rows(session) == 4
    assert all(p.is_file() for p in small.values())  # other settings' crops are kept


def test_landmark_source_ignores_mtcnn_settings(session, settings, ck_tree, landmark_reads):
    ids = _frame_ids(session, "S010")
    crops.detect_frames(session, settings, frame_ids=ids, source="landmarks")
    summary = crops.detect_frames(session, settings, frame_ids=ids, source="landmarks",
                                  detection=DetectionParams(min_face_size=90),
                                  fast_path=False)
    assert summary.cached == 3 and summary.detected == 0 and len(landmark_reads) == 3


def test_frames_without_landmarks_are_no_face_never_a_centre_crop(session, settings, ck_tree):
    ids = _frame_ids(session)
    no_landmarks = _frame_ids(session, "S005", "002")
    summary, paths = crops.run_crops(session, settings, frame_ids=ids, source="landmarks",
                                     crop=crops.crop_params(size=32, color="gray"))

    assert summary.no_face == no_landmarks and summary.faces == len(ids) - 2
    assert all("no landmarks file" in summary.no_face_reasons[i] for i in no_landmarks)
    assert [paths[i] for i in no_landmarks] == [None, None]
    assert sorted(p.name for p in Path(summary.crops_dir).iterdir()) == sorted(
        f"{i}.png" for i in ids if i not in no_landmarks)
    assert crops.no_face_frames(session, "landmarks") == no_landmarks
    sequence_id = session.scalar(select(Frame.sequence_id).where(Frame.id == no_landmarks[0]))
    assert crops.no_face_sequence_ids(session, "landmarks") == [sequence_id]
    assert crops.no_face_frames(session, "mtcnn") == []  # another source: nothing known yet
    row = crops.detection_for_frame(session, no_landmarks[0], "landmarks")
    assert row is not None and row.found is False and crops.face_of(row) is None


def test_unparsable_landmark_file_is_no_face_naming_the_file(session, settings, tmp_path):
    spec = SeqSpec("S005", "001", frames=2)
    root = write_ckplus(tmp_path / "ck", [spec])
    bad = root / "Landmarks/S005/001/S005_001_00000002_landmarks.txt"
    bad.write_text("   1.0   2.0\nnot numbers\n")
    _import(session, root)
    ids = _frame_ids(session)

    paths = crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks",
                               size=16, color="gray")

    assert paths[ids[0]] is not None and paths[ids[1]] is None
    reason = crops.detection_for_frame(session, ids[1], "landmarks").keypoints["reason"]
    assert "S005_001_00000002_landmarks.txt" in reason and "line 2" in reason


def test_files_gone_since_import_are_errors_not_cached(session, settings, ck_tree):
    ids = _frame_ids(session, "S005", "001")
    landmark = ck_tree / "Landmarks/S005/001/S005_001_00000002_landmarks.txt"
    saved = landmark.read_bytes()
    landmark.unlink()
    frame_path(ck_tree, WITH_LANDMARKS[0], 3).unlink()

    with pytest.raises(crops.FrameFilesError) as caught:
        crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks", size=16,
                           color="gray")

    message = str(caught.value)
    assert "S005_001_00000002_landmarks.txt" in message and "moved" in message
    assert "S005_001_00000003.png" in message
    stored = set(session.scalars(select(FaceDetection.frame_id)))
    assert ids[1] not in stored and stored == set(ids) - {ids[1]}  # the rest is cached

    landmark.write_bytes(saved)  # the user restores the file: the next run completes it
    summary = crops.detect_frames(session, settings, frame_ids=ids, source="landmarks")
    assert (summary.detected, summary.cached, summary.errors) == (1, 3, [])


def test_an_interrupted_run_keeps_finished_sequences(session_factory, settings, ck_tree,
                                                     landmark_reads):
    class Interrupted(Exception):
        pass

    def stop_after_first_sequence(done, total):
        raise Interrupted  # like Ctrl-C after the first sequence's commit

    with session_factory() as session, pytest.raises(Interrupted):
        crops.detect_frames(session, settings, source="landmarks",
                            progress=stop_after_first_sequence)
    with session_factory() as session:  # a new process would see only what was committed
        assert _detection_rows(session) == 4
        summary = crops.detect_frames(session, settings, source="landmarks")
    assert (summary.cached, summary.detected, summary.frames) == (4, 5, 9)
    assert len(landmark_reads) == 4 + 3  # the second sequence of S005 has no landmark files


def test_bad_requests_are_clear_errors(session, settings, ck_tree):
    with pytest.raises(crops.CropError, match="unknown frame id.*999999"):
        crops.ensure_crops(session, settings, frame_ids=[999999], source="landmarks",
                           size=32, color="gray")
    with pytest.raises(crops.CropError, match="face source must be one of mtcnn, landmarks"):
        crops.detect_frames(session, settings, source="none")
    with pytest.raises(crops.CropError, match="crop size"):
        crops.ensure_crops(session, settings, frame_ids=[], source="landmarks", size=4,
                           color="gray")
    with pytest.raises(crops.CropError, match="crop color"):
        crops.crop_params(size=32, color="sepia")
    with pytest.raises(crops.CropError, match="unknown sequence S005/009"):
        crops.frame_ids_for(session, sequence="S005/009")
    with pytest.raises(crops.CropError, match="unknown subject S404"):
        crops.frame_ids_for(session, subject="S404")
    assert crops.frame_ids_for(session, sequence="S005/001") == _frame_ids(session, "S005",
                                                                           "001")


def test_no_dataset_is_a_clear_error(session, settings):
    with pytest.raises(crops.CropError, match="no dataset imported"):
        crops.detect_frames(session, settings, source="landmarks")


@pytest.mark.sqlite_only
def test_swapping_the_dataset_never_serves_old_crops(session, settings, tmp_path):
    from app.demo import generate_demo

    old = write_ckplus(tmp_path / "ck", [SeqSpec("S005", "001", frames=3, size=(640, 490))])
    _import(session, old)
    ids = _frame_ids(session)
    before = crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks",
                                size=32, color="gray")
    old_pixels = np.asarray(Image.open(before[ids[0]]))

    demo = tmp_path / "demo"
    generate_demo(demo, subjects=1, seed=5, workers=1)
    _import(session, demo)  # nothing reviewed: the demo replaces the old tree
    new_ids = _frame_ids(session)
    assert ids[0] in new_ids  # SQLite hands out the same frame ids again

    after = crops.cached_crop_path(session, settings, frame_id=ids[0], source="landmarks",
                                   size=32, color="gray")
    assert after is None  # the old file is not offered for the new frame
    summary, paths = crops.run_crops(session, settings, frame_ids=ids, source="landmarks",
                                     crop=crops.crop_params(size=32, color="gray"))
    assert summary.crops_written == len(ids) and summary.crops_cached == 0
    assert not np.array_equal(np.asarray(Image.open(paths[ids[0]])), old_pixels)


# --- crops that really sit on the face ----------------------------------------------------

def _demo_points(root: Path) -> np.ndarray:
    """68 landmark points from a demo file, read with NumPy (not the code under test)."""
    landmark = sorted((root / "Landmarks").rglob("*_landmarks.txt"))[0]
    return np.loadtxt(landmark)


def _rotated(points: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    angle = math.radians(degrees)
    rotation = np.array([[math.cos(angle), -math.sin(angle)],
                         [math.sin(angle), math.cos(angle)]])
    return (points - centre) @ rotation.T + centre


def test_crop_is_centred_and_eye_levelled_from_landmarks(session, settings, tmp_path):
    from app.demo import generate_demo

    demo = generate_demo(tmp_path / "demo", subjects=1, seed=3, workers=1).out
    # A head tilted by 14 degrees: the demo's own face shape, rotated, with a bright marker
    # painted at each eye centre of an otherwise dark frame.
    points = _rotated(_demo_points(demo), 14.0, (320.0, 245.0))
    root = write_ckplus(tmp_path / "ck", [SeqSpec("S077", "001", frames=1, size=(640, 490))])
    frame = np.full((490, 640), 30, dtype=np.uint8)
    for eye in (points[36:42].mean(axis=0), points[42:48].mean(axis=0)):
        x, y = np.round(eye).astype(int)
        frame[y - 3:y + 4, x - 3:x + 4] = 255
    Image.fromarray(frame).save(frame_path(root, SeqSpec("S077", "001"), 1))
    landmarks = root / "Landmarks/S077/001/S077_001_00000001_landmarks.txt"
    landmarks.write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points))
    _import(session, root)
    [frame_id] = _frame_ids(session)

    paths = crops.ensure_crops(session, settings, frame_ids=[frame_id], source="landmarks",
                               size=96, color="gray")

    crop = np.asarray(Image.open(paths[frame_id]))
    bright_rows, bright_cols = np.nonzero(crop > 128)
    left = bright_cols < 48
    assert left.any() and (~left).any(), "both eye markers are inside the crop"
    left_eye = (bright_cols[left].mean(), bright_rows[left].mean())
    right_eye = (bright_cols[~left].mean(), bright_rows[~left].mean())
    assert abs(left_eye[1] - right_eye[1]) < 1.5  # levelled: the 14 degree tilt is undone
    assert abs((left_eye[0] + right_eye[0]) / 2 - 48) < 3  # centred between the eyes
    assert right_eye[0] - left_eye[0] > 20  # the face fills the crop, not a tiny patch


def test_demo_frames_crop_to_faces(session, settings, tmp_path):
    from app.demo import generate_demo

    demo = generate_demo(tmp_path / "demo", subjects=1, seed=9, workers=1).out
    _import(session, demo)
    ids = _frame_ids(session)[:6]
    paths = crops.ensure_crops(session, settings, frame_ids=ids, source="landmarks",
                               size=64, color="rgb")
    for frame_id in ids:
        frame = session.get(Frame, frame_id)
        image = Image.open(demo / frame.path).convert("L")
        # An independent, plain crop of the default framing, no rotation (the demo's heads
        # tilt a few degrees at most): 2.65 x the mean of the eye distance and the
        # eyes-to-mouth distance, centred 0.11 of that side below the eyes.
        points = np.loadtxt(demo / frame.landmarks_path)
        eyes = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
        mid, mouth = (eyes[0] + eyes[1]) / 2, points[[48, 54]].mean(axis=0)
        side = 2.65 * (np.linalg.norm(eyes[1] - eyes[0]) + np.linalg.norm(mouth - mid)) / 2
        half, cx, cy = side / 2, mid[0], mid[1] + 0.11 * side
        expected = np.asarray(image.resize((64, 64), Image.BILINEAR, box=(
            cx - half, cy - half, cx + half, cy + half)), dtype=float)
        elsewhere = np.asarray(image.resize((64, 64), Image.BILINEAR, box=(
            0, 0, 2 * half, 2 * half)), dtype=float)
        crop = np.asarray(Image.open(paths[frame_id]).convert("L"), dtype=float)
        on_face = np.corrcoef(crop.ravel(), expected.ravel())[0, 1]
        off_face = np.corrcoef(crop.ravel(), elsewhere.ravel())[0, 1]
        assert on_face > 0.8 and on_face > off_face + 0.4, (frame_id, on_face, off_face)


def test_two_runs_storing_the_same_frames_keep_one_row_each(session_factory, settings,
                                                            ck_tree):
    """`onset crop` and an export job may locate the same frames at the same time; the
    second one to store must neither fail nor duplicate (unique frame/source/key)."""
    from app.services.faces import cache as crop_cache

    with session_factory() as first, session_factory() as second:
        ids = _frame_ids(first, "S010")
        key = crops.default_params_key("landmarks")
        assert crop_cache.load_located(second, ids, source="landmarks", params_key=key) == {}
        crops.detect_frames(first, settings, frame_ids=ids, source="landmarks")
        located = {i: crop_cache.Located(None, "stale answer") for i in ids}
        crop_cache.store_located(second, located, source="landmarks", params_key=key)
        second.commit()
    with session_factory() as check:
        assert _detection_rows(check) == 3
        assert all(check.get(FaceDetection, r).found
                   for r in check.scalars(select(FaceDetection.id)))
