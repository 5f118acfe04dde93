"""The review page's face view over HTTP: /frames/{id}/face.json and /frames/{id}/crop.png.

A one-subject generated demo (real landmark files, faces MTCNN finds) plus S999/001, three
blank 640x490 frames without landmark files, imported together. The landmark box is checked
against the landmark file read independently with numpy, and the served crop against one
cut here with `training.faces`; MTCNN runs for real. Counting spies wrap, never replace.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from app.models import FaceDetection, Frame, Sequence, Subject
from app.services.importer import import_ckplus
from tests.support.ckplus import SeqSpec, write_ckplus
from tests.support.web import login
from training import face_track
from training import faces as face_lib

BLANK = SeqSpec("S999", "001", frames=3, size=(640, 490))


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    """Generated once per module and only read by the tests (each imports it afresh)."""
    from app.demo import generate_demo

    root = tmp_path_factory.mktemp("faces") / "demo"
    generate_demo(root, subjects=1, seed=3, workers=1)
    return write_ckplus(root, [BLANK], landmarks=False)


@pytest.fixture
def frames(session_factory, demo_root) -> dict[str, int]:
    """Frame ids by "S005_001_3" (subject_sequence_number)."""
    with session_factory() as session:
        import_ckplus(session, root=demo_root)
        session.commit()
        rows = session.execute(select(Subject.code, Sequence.code, Frame.number, Frame.id)
                               .join(Sequence, Frame.sequence_id == Sequence.id)
                               .join(Subject, Sequence.subject_id == Subject.id))
        return {f"{s}_{q}_{n}": fid for s, q, n, fid in rows}


@pytest.fixture
def signed_in(client, make_user):
    make_user("rev1")
    login(client, "rev1")
    return client


def _landmarks(demo_root: Path, key: str) -> np.ndarray:
    subject, sequence, number = key.split("_")
    return np.loadtxt(demo_root / "Landmarks" / subject / sequence /
                      f"{subject}_{sequence}_{int(number):08d}_landmarks.txt")


def _inside(point, box) -> bool:
    x, y, w, h = box
    return x < point[0] < x + w and y < point[1] < y + h


def _iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)


def _detections(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count(FaceDetection.id)))


def test_landmarks_box_the_face_with_the_eyes_inside(signed_in, frames, demo_root,
                                                     landmark_reads, session_factory):
    client, frame_id = signed_in, frames["S005_001_5"]
    response = client.get(f"/frames/{frame_id}/face.json")
    assert response.status_code == 200
    face = response.json()
    points = _landmarks(demo_root, "S005_001_5")
    (x1, y1), (x2, y2) = points.min(axis=0), points.max(axis=0)
    assert face["source"] == face["default_source"] == "landmarks"  # the frame has a file
    assert face["found"] and face["method"] == "landmarks"
    assert np.allclose(face["box"], [x1, y1, x2 - x1, y2 - y1], atol=0.01)
    assert (face["width"], face["height"]) == (640, 490)
    for eye, rows in (("left_eye", slice(36, 42)), ("right_eye", slice(42, 48))):
        assert _inside(face[eye], face["box"])
        assert np.allclose(face[eye], points[rows].mean(axis=0), atol=0.01)
    assert face["left_eye"][0] < face["right_eye"][0]  # as seen in the image
    # Eyes sit in the upper half of a face box (brows to chin).
    assert all(face[eye][1] < y1 + (y2 - y1) / 2 for eye in ("left_eye", "right_eye"))
    # Located once, for this frame only; the next request is the cache.
    assert len(landmark_reads) == 1 and _detections(session_factory) == 1
    again = client.get(f"/frames/{frame_id}/face.json?source=landmarks")
    assert again.json() == face and len(landmark_reads) == 1
    assert response.headers["cache-control"].startswith("private")
    etag = response.headers["etag"]
    assert client.get(f"/frames/{frame_id}/face.json",
                      headers={"If-None-Match": etag}).status_code == 304


def test_the_crop_is_the_aligned_face_and_is_cached(signed_in, frames, demo_root, tmp_path):
    client, frame_id = signed_in, frames["S005_002_4"]
    url = client.get(f"/frames/{frame_id}/face.json").json()["crop_url"]
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "private, max-age=3600"
    (tmp_path / "crop.png").write_bytes(response.content)
    served = np.asarray(Image.open(tmp_path / "crop.png"))
    assert served.shape == (160, 160)
    # Cut independently from the frame and its landmark file: the same pixels, so the page
    # shows exactly what an export/training with landmarks gets (no centre crop).
    frame = demo_root / "cohn-kanade-images/S005/002/S005_002_00000004.png"
    face = face_lib.face_from_landmarks(_landmarks(demo_root, "S005_002_4"))
    expected = face_lib.crop_from_face(frame, face, face_lib.CropParams(size=160))
    assert np.abs(served.astype(int) - expected.astype(int)).max() <= 1
    assert client.get(url, headers={"If-None-Match": response.headers["etag"]}
                      ).status_code == 304
    small = client.get(f"/frames/{frame_id}/crop.png?source=landmarks&size=48&color=rgb")
    (tmp_path / "small.png").write_bytes(small.content)
    assert np.asarray(Image.open(tmp_path / "small.png")).shape == (48, 48, 3)


def test_a_frame_without_a_landmark_file(signed_in, frames):
    client, frame_id = signed_in, frames["S999_001_1"]
    face = client.get(f"/frames/{frame_id}/face.json?source=landmarks").json()
    assert face["found"] is False and face["box"] is None and face["crop_url"] is None
    assert face["default_source"] == "mtcnn"  # what the page asks for without a choice
    assert "no landmarks file" in face["reason"]
    crop = client.get(f"/frames/{frame_id}/crop.png?source=landmarks")
    assert crop.status_code == 404 and "no face found by landmarks" in crop.json()["detail"]


@pytest.mark.slow
def test_mtcnn_locates_a_sequence_once_and_finds_no_face_in_a_blank_frame(
        signed_in, frames, demo_root, session_factory, monkeypatch):
    tracked: list[int] = []
    real = face_track.track_sequence

    def counting(paths, *args, **kwargs):
        tracked.append(len(paths))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(face_track, "track_sequence", counting)
    client = signed_in
    face = client.get(f"/frames/{frames['S005_001_5']}/face.json?source=mtcnn").json()
    assert face["found"] and face["method"] in ("detected", "interpolated")
    points = _landmarks(demo_root, "S005_001_5")
    (x1, y1), (x2, y2) = points.min(axis=0), points.max(axis=0)
    assert _iou(face["box"], [x1, y1, x2 - x1, y2 - y1]) > 0.4
    assert _inside(face["left_eye"], face["box"]) and _inside(face["right_eye"], face["box"])
    with session_factory() as session:
        count = session.scalar(select(Sequence.frame_count).join(Subject).where(
            Subject.code == "S005", Sequence.code == "001"))
    assert tracked == [count]  # the whole sequence, in one fast-path run
    # Its neighbours (what the page prefetches) are now cache hits, crops included.
    neighbour = frames["S005_001_6"]
    assert client.get(f"/frames/{neighbour}/face.json?source=mtcnn").json()["found"]
    assert client.get(f"/frames/{neighbour}/crop.png?source=mtcnn").status_code == 200
    assert tracked == [count] and _detections(session_factory) == count

    blank = client.get(f"/frames/{frames['S999_001_2']}/face.json")  # default: mtcnn
    body = blank.json()
    assert blank.status_code == 200 and body["source"] == "mtcnn"
    assert body["found"] is False and body["box"] is None
    assert "no face found by mtcnn" in body["reason"]
    crop = client.get(f"/frames/{frames['S999_001_2']}/crop.png")
    assert crop.status_code == 404 and "no face found by mtcnn" in crop.json()["detail"]


@pytest.mark.parametrize("url", [
    "/frames/..%2f..%2fetc%2fpasswd/face.json",
    "/frames/%2e%2e/%2e%2e/etc/passwd/crop.png",
    "/frames/1/../../etc/passwd/face.json",
    "/frames/-1/face.json",
    "/frames/etc/passwd/crop.png",
    "/frames/1/face.json%00.png",
])
def test_path_traversal_urls_find_nothing(signed_in, frames, url):
    response = signed_in.get(url)
    assert response.status_code == 404 and b"root:" not in response.content


def test_bad_parameters_are_named(signed_in, frames):
    frame_id = frames["S005_001_1"]
    for query, field in (("source=../../etc/passwd", "source"), ("source=none", "source"),
                         ("size=4", "size"), ("size=big", "size"), ("color=cmyk", "color")):
        response = signed_in.get(f"/frames/{frame_id}/crop.png?{query}")
        assert response.status_code == 422, query
        assert response.json()["detail"][0]["loc"] == ["query", field]
    assert signed_in.get("/frames/424242/face.json").status_code == 404
    assert "no frame with id 424242" in signed_in.get("/frames/424242/crop.png").text


def test_a_poisoned_landmark_path_is_not_read(signed_in, frames, session_factory, tmp_path,
                                              demo_root, landmark_reads):
    secret = tmp_path / "secret.txt"
    secret.write_text("".join(f"{i} {i}\n" for i in range(68)))
    frame_id = frames["S005_001_2"]
    with session_factory() as session:
        session.get(Frame, frame_id).landmarks_path = os.path.relpath(secret, demo_root)
        session.commit()
    for suffix in ("face.json", "crop.png"):
        response = signed_in.get(f"/frames/{frame_id}/{suffix}?source=landmarks")
        assert response.status_code == 404
        assert "outside the dataset folder" in response.json()["detail"]
    assert landmark_reads == [] and _detections(session_factory) == 0


def test_face_routes_need_a_user(client, frames):
    for suffix in ("face.json", "crop.png"):
        response = client.get(f"/frames/{frames['S005_001_1']}/{suffix}",
                              follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/login")
