"""training/faces.py with the real MTCNN on real faces (scikit-image's astronaut), through the
calls the app makes: `face_track.detect_each` (MTCNN, as `onset crop` without the fast path),
`read_landmarks`/`face_from_landmarks`, `whole_frame_face`, then `crop_from_face`.

The astronaut's face was located by eye (crop saved and viewed): the box spans about
x 180-262, y 64-170 and the pupils sit near (202, 99) and (245, 102). Assertions allow
a few pixels either way, so they check "it is the face" and not MTCNN's exact numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from training.face_track import detect_each
from training.faces import (
    CropParams,
    DetectionParams,
    Face,
    LandmarksError,
    crop_from_face,
    crop_key,
    detect_faces,
    detection_key,
    face_from_landmarks,
    get_detector,
    pick_face,
    read_landmarks,
    whole_frame_face,
)
from training.framing import Framing

pytestmark = pytest.mark.slow
ASTRONAUT_LEFT_EYE = (202, 99)
ASTRONAUT_RIGHT_EYE = (245, 102)
SMALL_IMAGES = DetectionParams(min_face_size=20)  # for crops of ~100-200 px


@pytest.fixture(scope="module")
def detector():
    """Built once per process (get_detector caches it); the fixture just makes it explicit."""
    return get_detector()


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """Counter-clockwise about the face, as a tilted head would look."""
    return np.asarray(Image.fromarray(image).rotate(degrees, resample=Image.BICUBIC,
                                                    center=(222, 117)))


def near(point, expected, tolerance=6.0) -> bool:
    return math.dist(point, expected) <= tolerance


def mtcnn_face(image, detection: DetectionParams = DetectionParams()) -> Face | None:
    """The subject's face by MTCNN, or None: what `onset crop` stores for one frame."""
    return detect_each([image], detection)[0]


def test_mtcnn_finds_the_astronaut_face_where_it_is(detector, astronaut):
    face = mtcnn_face(astronaut)
    x, y, w, h = face.box
    assert 170 <= x <= 195 and 50 <= y <= 80, face.box
    assert 70 <= w <= 100 and 90 <= h <= 125, face.box
    assert near(face.left_eye, ASTRONAUT_LEFT_EYE) and near(face.right_eye, ASTRONAUT_RIGHT_EYE)
    assert face.confidence > 0.95
    assert (face.source, face.method) == ("mtcnn", "detected")


def test_crop_is_eye_levelled_on_a_tilted_head(detector, astronaut):
    upright = mtcnn_face(astronaut).eye_angle
    tilted_image = rotated(astronaut, 12)
    tilted = mtcnn_face(tilted_image)
    assert tilted.eye_angle == pytest.approx(upright - 12, abs=2.5)

    params = CropParams(size=160, color="rgb", framing=Framing.from_margin(0.25))
    aligned = crop_from_face(tilted_image, tilted, params)
    again = mtcnn_face(aligned, SMALL_IMAGES)
    assert abs(again.eye_angle) < 2.0, again.eye_angle
    # Eyes end up symmetric about the vertical centre line of the crop.
    mid_x = (again.left_eye[0] + again.right_eye[0]) / 2
    assert abs(mid_x - params.size / 2) < params.size * 0.08

    unaligned = crop_from_face(tilted_image, tilted, CropParams(
        size=160, color="rgb", framing=Framing.from_margin(0.25, align=False)))
    assert abs(mtcnn_face(unaligned, SMALL_IMAGES).eye_angle) > 6


def test_crop_geometry_margin_and_rotation_without_a_detector():
    # A white 60x60 square is the "face"; two dots on a 20-degree line are the "eyes".
    image = np.zeros((300, 400), np.uint8)
    image[80:140, 100:160] = 255
    face = Face(box=(100, 80, 60, 60), left_eye=(110, 100), right_eye=(150, 100),
                confidence=1.0, source="landmarks", method="landmarks")
    tight = crop_from_face(image, face, CropParams(size=60, framing=Framing.from_margin(0)))
    assert tight.shape == (60, 60) and tight[2:-2, 2:-2].min() == 255
    loose = crop_from_face(image, face, CropParams(size=120,
                                                   framing=Framing.from_margin(0.5)))
    white = np.argwhere(loose > 128)
    # margin 0.5 on each side: the 60 px face fills the middle half of the crop.
    assert white.min(axis=0).tolist() == pytest.approx([30, 30], abs=2)
    assert white.max(axis=0).tolist() == pytest.approx([89, 89], abs=2)

    dots = np.zeros((300, 400), np.uint8)
    angle = math.radians(20)
    eyes = [(200 + s * 40 * math.cos(angle), 150 + s * 40 * math.sin(angle)) for s in (-1, 1)]
    for ex, ey in eyes:
        dots[round(ey) - 2:round(ey) + 3, round(ex) - 2:round(ex) + 3] = 255
    tilted = Face(box=(140, 90, 120, 120), left_eye=eyes[0], right_eye=eyes[1],
                  confidence=1.0, source="landmarks", method="landmarks")
    crop = crop_from_face(dots, tilted, CropParams(size=120, framing=Framing.from_margin(0)))
    left, right = crop[:, :60], crop[:, 60:]
    rows = [np.average(np.arange(120), weights=half.sum(axis=1)) for half in (left, right)]
    assert rows[0] == pytest.approx(rows[1], abs=1.0)  # the dots are level after alignment


def test_crop_size_and_color(detector, astronaut):
    face = mtcnn_face(astronaut)
    gray = crop_from_face(astronaut, face, CropParams(size=48, color="gray"))
    rgb = crop_from_face(astronaut, face, CropParams(size=64, color="rgb"))
    assert gray.shape == (48, 48) and gray.dtype == np.uint8
    assert rgb.shape == (64, 64, 3)
    # The astronaut's skin is warm: a real colour crop, not gray copied to three channels.
    assert rgb[..., 0].mean() > rgb[..., 2].mean() + 10


def write_ck_landmarks(path, center=(224, 100)):
    """68 points laid out in iBUG order around the astronaut's face, CK+ number format."""
    cx, cy = center
    t = np.linspace(0, math.pi, 17)
    jaw = np.stack([cx - 41 * np.cos(t), cy + 72 * np.sin(t)], axis=1)
    brows = np.stack([np.r_[np.linspace(188, 213, 5), np.linspace(234, 258, 5)],
                      np.r_[np.full(5, 87.0), np.full(5, 89.0)]], axis=1)
    nose = np.r_[np.stack([np.full(4, 224.0), np.linspace(100, 125, 4)], axis=1),
                 np.stack([np.linspace(214, 234, 5), np.full(5, 128.0)], axis=1)]
    ring = np.linspace(0, 2 * math.pi, 6, endpoint=False)
    eyes = [np.stack([ex + 7 * np.cos(ring), ey + 3 * np.sin(ring)], axis=1)
            for ex, ey in (ASTRONAUT_LEFT_EYE, ASTRONAUT_RIGHT_EYE)]
    outer, inner = (np.linspace(0, 2 * math.pi, n, endpoint=False) for n in (12, 8))
    mouth = np.r_[np.stack([223 + 18 * np.cos(outer), 140 + 7 * np.sin(outer)], axis=1),
                  np.stack([223 + 10 * np.cos(inner), 140 + 3 * np.sin(inner)], axis=1)]
    points = np.concatenate([jaw, brows, nose, eyes[0], eyes[1], mouth])
    assert points.shape == (68, 2)
    path.write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points))
    return points


def test_landmarks_source_needs_no_detector(tmp_path, astronaut):
    path = tmp_path / "S005_001_00000001_landmarks.txt"
    points = write_ck_landmarks(path)
    assert np.allclose(read_landmarks(path), points)
    face = face_from_landmarks(read_landmarks(path), str(path))
    crop = crop_from_face(astronaut, face, CropParams(size=128, color="rgb"))
    assert (face.source, face.method) == ("landmarks", "landmarks")
    assert face.box == pytest.approx((points[:, 0].min(), points[:, 1].min(),
                                      np.ptp(points[:, 0]), np.ptp(points[:, 1])))
    assert near(face.left_eye, ASTRONAUT_LEFT_EYE, 0.5)
    assert near(face.right_eye, ASTRONAUT_RIGHT_EYE, 0.5)
    # The crop really is the astronaut's face: MTCNN finds level eyes in it.
    check = mtcnn_face(crop, SMALL_IMAGES)
    assert check is not None and abs(check.eye_angle) < 3


def test_bad_landmark_files_are_refused_naming_the_file(tmp_path):
    short = tmp_path / "short_landmarks.txt"
    short.write_text("1.0 2.0\n" * 67)
    with pytest.raises(LandmarksError, match="short_landmarks.txt.*68 points"):
        read_landmarks(short)
    junk = tmp_path / "junk_landmarks.txt"
    junk.write_text("1.0 2.0\n" * 10 + "1.0 abc\n" + "1.0 2.0\n" * 57)
    with pytest.raises(LandmarksError, match="junk_landmarks.txt: line 11"):
        read_landmarks(junk)
    with pytest.raises(LandmarksError, match="missing_landmarks.txt"):
        read_landmarks(tmp_path / "missing_landmarks.txt")
    with pytest.raises(LandmarksError, match="flat: landmarks span no area"):
        face_from_landmarks(np.zeros((68, 2)), "flat")


def test_none_source_keeps_the_whole_frame(astronaut):
    frame = astronaut[:490, :]  # not square: the whole frame is squeezed, not centre-cropped
    face = whole_frame_face(frame.shape)
    crop = crop_from_face(frame, face, CropParams(size=64, color="rgb"))
    expected = np.asarray(Image.fromarray(frame).resize((64, 64), Image.BILINEAR))
    assert face.method == "whole_frame" and face.box == (0.0, 0.0, 512.0, 490.0)
    assert np.array_equal(crop, expected)


@pytest.mark.parametrize("kind", ["blank", "coffee", "checkerboard"])
def test_no_face_is_a_clear_outcome_not_a_centre_crop(detector, kind):
    from skimage import data

    image = {"blank": np.zeros((490, 640), np.uint8), "coffee": data.coffee(),
             "checkerboard": data.checkerboard()}[kind]
    # No box at all (so nothing to crop), never the middle of the image passed off as a face.
    assert detect_faces([image])[0] == []
    assert mtcnn_face(image) is None


def test_picks_the_large_central_face_over_a_small_one(detector, astronaut):
    canvas = np.full((700, 900, 3), 120, np.uint8)
    canvas[100:612, 200:712] = astronaut
    small = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    canvas[440:696, 0:256] = small
    faces = detect_faces([canvas])[0]
    assert len(faces) == 2
    chosen = pick_face(faces, canvas.shape)
    assert near(chosen.left_eye, (200 + 202, 100 + 99), 8)


def test_large_photo_is_detected_downscaled_and_mapped_back(detector, astronaut):
    photo = np.full((2200, 2600, 3), 90, np.uint8)
    photo[500:500 + 1536, 700:700 + 1536] = np.asarray(
        Image.fromarray(astronaut).resize((1536, 1536), Image.BICUBIC))
    face = mtcnn_face(photo, DetectionParams(min_face_size=20, max_side=600))
    expected_left = (700 + 3 * ASTRONAUT_LEFT_EYE[0], 500 + 3 * ASTRONAUT_LEFT_EYE[1])
    assert near(face.left_eye, expected_left, 20), face
    assert 200 <= face.box[2] <= 300 and 270 <= face.box[3] <= 375, face.box


def test_face_round_trips_through_json(detector, astronaut):
    face = mtcnn_face(astronaut)
    assert Face.from_dict(json.loads(json.dumps(face.to_dict()))) == face


def test_cache_keys_change_only_with_what_affects_the_result():
    base = DetectionParams()
    assert base.key() == DetectionParams().key()
    assert base.key() != DetectionParams(min_face_size=80).key()
    assert detection_key("mtcnn", base) != detection_key("mtcnn", DetectionParams(max_side=512))
    # Landmark and whole-frame boxes do not depend on MTCNN settings.
    assert detection_key("landmarks", base) == detection_key("landmarks",
                                                             DetectionParams(min_face_size=90))
    assert detection_key("landmarks") != detection_key("none")
    face = detection_key("mtcnn", base)
    assert crop_key(face, CropParams()) != crop_key(face, CropParams(size=48))
    assert crop_key(face, CropParams()) != crop_key(face, CropParams(
        framing=Framing(side=2.5)))
    assert crop_key(face, CropParams()) != crop_key(detection_key("landmarks"), CropParams())


def test_keys_are_stable_across_processes():
    # Python's hash() changes per process; a cache key must not.
    code = ("from training.faces import *; print(crop_key(detection_key('mtcnn', "
            "DetectionParams()), CropParams()))")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert keys == {crop_key(detection_key("mtcnn", DetectionParams()), CropParams()) + "\n"}


def test_importing_faces_does_not_load_tensorflow():
    code = ("import sys, training.faces, training.face_track, training.images; "
            "print(sorted(m for m in ('tensorflow', 'mtcnn', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_bad_parameters_name_the_field():
    with pytest.raises(ValueError, match="min_face_size"):
        DetectionParams(min_face_size=10)
    with pytest.raises(ValueError, match="scale_factor"):
        DetectionParams(scale_factor=0.8)  # mtcnn 1.0 crashes on some image sizes above 0.709
    with pytest.raises(ValueError, match="crop color"):
        CropParams(color="blue")
    with pytest.raises(ValueError, match="face source"):
        detection_key("dlib")


def test_downscaled_crop_does_not_alias():
    # One-pixel stripes shrunk ~8.6x must average to gray, not turn into coarse moire bands.
    stripes = np.zeros((600, 600), np.uint8)
    stripes[:, ::2] = 255
    face = Face(box=(0, 0, 600, 600), left_eye=None, right_eye=None, confidence=1.0,
                source="landmarks", method="landmarks")
    crop = crop_from_face(stripes, face, CropParams(
        size=70, framing=Framing.from_margin(0, align=False)))
    assert abs(crop[5:-5, 5:-5].mean() - 127.5) < 10 and crop[5:-5, 5:-5].std() < 20


@pytest.mark.parametrize("shape", [(10, 12), (31, 40), (25, 300)])
def test_tiny_images_give_no_face_instead_of_crashing(detector, shape):
    params = DetectionParams(min_face_size=20, scale_factor=0.6)
    assert mtcnn_face(np.full(shape, 128, np.uint8), params) is None
