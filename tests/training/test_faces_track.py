"""training/face_track.py: key frames detected, frames between interpolated, and a fallback
to per-frame detection where key frames disagree or lose the face. Real MTCNN on the real
astronaut face moved like a CK+ subject (a few 640x490 frames, kept small for speed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from training.face_track import (
    TrackParams,
    box_iou,
    detect_each,
    interpolate_face,
    key_frame_indices,
    track_sequence,
)
from training.faces import (
    CropParams,
    DetectionParams,
    Face,
    crop_from_face,
    detection_key,
    get_detector,
)

pytestmark = pytest.mark.slow
FACE_CENTER = (222.0, 117.0)  # the astronaut's face in skimage's 512x512 image


@pytest.fixture(scope="module")
def gray_astronaut():
    from skimage import data

    get_detector()  # once per process; later tests reuse it
    return np.asarray(Image.fromarray(data.astronaut()).convert("L"))


def frame(source: np.ndarray, x: float, y: float, scale: float = 2.0, angle: float = 0.0
          ) -> np.ndarray:
    """A 640x490 frame with the face centre at (x, y)."""
    a = math.radians(angle)
    cos, sin = math.cos(a) / scale, math.sin(a) / scale
    coeffs = (cos, sin, FACE_CENTER[0] - cos * x - sin * y,
              -sin, cos, FACE_CENTER[1] + sin * x - cos * y)
    return np.asarray(Image.fromarray(source).transform((640, 490), Image.AFFINE, coeffs,
                                                        resample=Image.BILINEAR,
                                                        fillcolor=110))


class CountingFrames(list):
    """A frame list that remembers which frames were read (to see what was loaded)."""

    def __init__(self, frames):
        super().__init__(frames)
        self.read: set[int] = set()

    def __getitem__(self, index):
        self.read.add(index)
        return super().__getitem__(index)


def test_key_frames_cover_first_last_and_bounded_gaps():
    for count in (1, 2, 9, 10, 17, 18, 25, 71):
        keys = key_frame_indices(count, 8)
        assert keys[0] == 0 and keys[-1] == count - 1
        assert all(0 < b - a <= 8 for a, b in zip(keys, keys[1:], strict=False))
    assert key_frame_indices(18, 8) == [0, 6, 11, 17]  # evenly spread, not 0, 8, 16, 17
    assert key_frame_indices(0, 8) == []


def test_box_iou_and_interpolation():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    a = Face((0, 0, 10, 10), (2, 3), (8, 3), 0.99, "mtcnn", "detected")
    b = Face((10, 20, 20, 10), (12, 23), (28, 25), 0.95, "mtcnn", "detected")
    mid = interpolate_face(a, b, 0.25)
    assert mid.box == pytest.approx((2.5, 5, 12.5, 10))
    assert mid.right_eye == pytest.approx((13, 8.5))
    assert (mid.method, mid.confidence) == ("interpolated", 0.95)


def test_smooth_sequence_interpolates_between_key_frames(gray_astronaut):
    positions = [(300 + 2 * i, 240 + i, 2.0 + 0.01 * i, 0.3 * i) for i in range(10)]
    frames = CountingFrames([frame(gray_astronaut, *p) for p in positions])
    faces = track_sequence(frames, DetectionParams(), TrackParams(key_step=4))
    keys = key_frame_indices(10, 4)
    assert keys == [0, 3, 6, 9]
    assert [f.method for f in faces] == ["detected" if i in keys else "interpolated"
                                        for i in range(10)]
    assert frames.read == set(keys)  # frames between agreeing key frames are never loaded
    # Interpolated boxes match what MTCNN finds on those very frames.
    between = [i for i in range(10) if i not in keys]
    reference = detect_each([frames[i] for i in between], batch_size=len(between))
    for i, ref in zip(between, reference, strict=True):
        assert box_iou(faces[i].box, ref.box) > 0.85
        assert math.dist(faces[i].left_eye, ref.left_eye) < 6


def test_key_frame_without_face_falls_back_to_per_frame(gray_astronaut):
    # The subject leaves after frame 4, so key frame 6 (of 0, 3, 6, 9) has no face.
    frames = [frame(gray_astronaut, 320, 245)] * 5 + [np.full((490, 640), 110, np.uint8)] * 5
    faces = track_sequence(frames, DetectionParams(), TrackParams(key_step=4))
    methods = [None if f is None else f.method for f in faces]
    assert methods == ["detected", "interpolated", "interpolated", "detected",
                       "detected", None, None, None, None, None]  # no face is never invented


def test_jump_between_key_frames_is_detected_not_smoothed(gray_astronaut):
    frames = [frame(gray_astronaut, 200, 245)] * 3 + [frame(gray_astronaut, 450, 245)] * 4
    faces = track_sequence(frames, DetectionParams(), TrackParams(key_step=6, min_iou=0.7))
    assert all(f.method == "detected" for f in faces)
    centers = [f.center[0] for f in faces]
    assert all(abs(c - 200) < 15 for c in centers[:3])
    assert all(abs(c - 450) < 15 for c in centers[3:])


def test_track_params_are_part_of_the_detection_key():
    params = DetectionParams()
    assert detection_key("mtcnn", params, TrackParams()) != detection_key("mtcnn", params)
    assert (detection_key("mtcnn", params, TrackParams(key_step=4))
            != detection_key("mtcnn", params, TrackParams(key_step=8)))
    with pytest.raises(ValueError, match="min_iou"):
        TrackParams(min_iou=0)


def test_tracked_faces_crop_and_a_lost_face_stays_none(gray_astronaut):
    # What `onset crop` does per sequence: track, then crop only the frames with a face.
    frames = [frame(gray_astronaut, 320, 245)] * 3 + [np.full((490, 640), 110, np.uint8)]
    faces = track_sequence(frames, DetectionParams(), TrackParams(key_step=2))
    assert [f is not None for f in faces] == [True, True, True, False]
    crops = [crop_from_face(image, face, CropParams(size=48))
             for image, face in zip(frames[:3], faces[:3], strict=True)]
    assert all(c.shape == (48, 48) for c in crops)
    # The face is in the middle of each crop: bright skin, not the flat background.
    assert all(abs(float(c[16:32, 16:32].mean()) - 110) > 5 for c in crops)
