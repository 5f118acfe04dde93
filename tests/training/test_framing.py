"""training/framing.py: one framing for export, crop and predict, and how it is recorded.

Geometry tests draw dots where a face's eyes and mouth are and look for them in the crop;
the MTCNN tests use scikit-image's astronaut and an lfw_subset face; the CK+ test reads the
licensed slice in ../shared/data/ckplus-dev and skips where it is absent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.contract import ImageSpecError, read_dataset_image, read_image
from training.data import DatasetError, load_export
from training.face_track import detect_each
from training.faces import CropParams, DetectionParams, Face, crop_from_face
from training.framing import (
    DEFAULT_FRAMING,
    FACE_CROP_NOTE,
    Framing,
    looks_like_face_crop,
    placement,
)

CKPLUS_DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "ckplus-dev"


def dotted_face(eyes, mouth, shape=(400, 500)) -> np.ndarray:
    """A black image with 5x5 white dots at the eyes and the mouth."""
    image = np.zeros(shape, np.uint8)
    for x, y in (*eyes, mouth):
        image[round(y) - 2:round(y) + 3, round(x) - 2:round(x) + 3] = 255
    return image


def dot_centres(crop: np.ndarray) -> list[tuple[float, float]]:
    """Centres (x, y) of the bright blobs, left to right then top to bottom."""
    from scipy import ndimage

    labels, count = ndimage.label(crop > 60)
    centres = ndimage.center_of_mass(crop, labels, range(1, count + 1))
    return sorted(((x, y) for y, x in centres), key=lambda p: (round(p[1] / 10), p[0]))


def face_of(eyes, mouth, box=(150, 80, 120, 160)) -> Face:
    return Face(box=box, left_eye=eyes[0], right_eye=eyes[1], confidence=1.0,
                source="landmarks", method="landmarks", mouth=mouth)


def test_default_framing_puts_eyes_and_mouth_where_ck48_has_them():
    eyes, mouth = ((200.0, 150.0), (240.0, 150.0)), (220.0, 192.0)
    crop = crop_from_face(dotted_face(eyes, mouth), face_of(eyes, mouth), CropParams(size=120))
    left, right, low = dot_centres(crop)
    scale = (40 + 42) / 2  # mean of the eye distance and the eyes-to-mouth distance
    pixels = 120 / (DEFAULT_FRAMING.side * scale)  # output pixels per source pixel
    eye_row = 60 - DEFAULT_FRAMING.down * 120
    assert left == pytest.approx((60 - 20 * pixels, eye_row), abs=1.0)
    assert right == pytest.approx((60 + 20 * pixels, eye_row), abs=1.0)
    assert low == pytest.approx((60, eye_row + 42 * pixels), abs=1.0)


def test_a_tilted_or_larger_face_gives_the_same_crop():
    eyes, mouth = ((200.0, 150.0), (240.0, 150.0)), (220.0, 192.0)
    upright = crop_from_face(dotted_face(eyes, mouth), face_of(eyes, mouth), CropParams(size=96))

    angle = math.radians(15)  # the same face, 1.5x larger and tilted 15 degrees about (250, 200)

    def moved(p):
        x, y = (p[0] - 220) * 1.5, (p[1] - 150) * 1.5
        return (250 + x * math.cos(angle) - y * math.sin(angle),
                200 + x * math.sin(angle) + y * math.cos(angle))

    eyes2, mouth2 = (moved(eyes[0]), moved(eyes[1])), moved(mouth)
    tilted = crop_from_face(dotted_face(eyes2, mouth2), face_of(eyes2, mouth2),
                            CropParams(size=96))
    for a, b in zip(dot_centres(upright), dot_centres(tilted), strict=True):
        assert a == pytest.approx(b, abs=1.0)


def test_turning_the_head_shrinks_the_crop_less_than_the_eye_distance():
    frontal = face_of(((200.0, 150.0), (240.0, 150.0)), (220.0, 192.0))
    turned = face_of(((206.0, 150.0), (234.0, 150.0)), (220.0, 192.0))  # eyes 0.7x closer
    ratio = placement(turned)[2] / placement(frontal)[2]
    assert 0.8 < ratio < 0.9  # the eyes alone would give 0.7


def test_sources_without_mouth_or_eyes_fall_back():
    eyes = ((200.0, 150.0), (240.0, 150.0))
    no_mouth = face_of(eyes, None)
    cx, cy, side, _ = placement(no_mouth)
    assert side == pytest.approx(DEFAULT_FRAMING.side * 40)  # the eye distance alone
    assert (cx, cy) == pytest.approx((220, 150 + DEFAULT_FRAMING.down * side))
    no_eyes = Face(box=(100, 50, 80, 100), left_eye=None, right_eye=None, confidence=1.0,
                   source="landmarks", method="landmarks")
    assert placement(no_eyes) == pytest.approx((140, 100, DEFAULT_FRAMING.box_side * 100, 0))


def test_the_legacy_margin_is_the_box_plus_margin_around_its_centre():
    face = face_of(((200.0, 150.0), (240.0, 160.0)), (220.0, 192.0), box=(100, 50, 80, 100))
    cx, cy, side, angle = placement(face, Framing.from_margin(0.2))
    assert (cx, cy, side) == pytest.approx((140, 100, 140))
    assert angle == pytest.approx(math.atan2(10, 40))
    assert placement(face, Framing.from_margin(0.2, align=False))[3] == 0.0


def test_framing_block_round_trips_and_old_or_absent_blocks_are_read():
    block = {"face": "mtcnn", "size": 48, "color": "gray",
             "framing": Framing(side=2.5, down=0.1).to_dict()}
    assert read_image(block).framing == Framing(side=2.5, down=0.1)
    assert read_image(json.loads(json.dumps(block))).framing == Framing(side=2.5, down=0.1)
    # An export made before framings: its margin and align, as it cut its crops.
    old = read_image({"face": "landmarks", "size": 96, "margin": 0.3, "align": False}).framing
    assert old == Framing.from_margin(0.3, align=False)
    # Pre-cropped (CK+48's dataset.json) or nothing said: the framing that reproduces CK+48.
    ck48 = {"format": "onset-dataset/1", "labels": ["anger", "happy"],
            "policy": {"policy": "peak", "peak_frames": 3, "face": "precropped"}}
    read = read_dataset_image(ck48)
    assert read.face == "precropped" and read.framing == DEFAULT_FRAMING
    assert read_image(None).framing == DEFAULT_FRAMING
    assert read_dataset_image({"image": block}).to_dict()["framing"] == block["framing"]


@pytest.mark.parametrize(("framing", "field"), [
    ({"method": "ellipse"}, "framing method"), ({"side": 0}, "framing side"),
    ({"down": "low"}, "framing down"), ({"align": "yes"}, "framing align"),
    ({"zoom": 2}, "unknown framing field"), ("tight", "framing must be an object")])
def test_a_bad_framing_block_names_the_field(framing, field):
    with pytest.raises(ImageSpecError, match=f"image.framing: {field}"):
        read_image({"framing": framing})


def test_an_export_with_a_bad_framing_fails_on_load(tmp_path):
    (tmp_path / "images" / "happy").mkdir(parents=True)
    Image.new("L", (8, 8)).save(tmp_path / "images" / "happy" / "a.png")
    (tmp_path / "manifest.csv").write_text("path,label,subject,sequence,frame,fold\n"
                                           "images/happy/a.png,happy,S1,S1_001,1,0\n")
    (tmp_path / "dataset.json").write_text(json.dumps({
        "format": "onset-dataset/1", "labels": ["happy", "sad"],
        "image": {"face": "mtcnn", "framing": {"side": -1}}}))
    with pytest.raises(DatasetError, match="image.framing: framing side"):
        load_export(tmp_path)


@pytest.mark.parametrize(("shape", "crop"), [
    ((48, 48), True), ((74, 60), True), ((160, 130), True), ((161, 161), False),
    ((48, 100), False), ((490, 640), False)])
def test_small_square_images_count_as_face_crops(shape, crop):
    assert looks_like_face_crop(shape) is crop


# --- with the real MTCNN --------------------------------------------------------------------

class _Model:
    """Stands in for a trained Keras model: remembers its input, answers fixed odds."""

    def __init__(self, labels: int):
        self.labels, self.seen = labels, []

    def predict(self, batch, verbose=0):
        self.seen.append(np.asarray(batch))
        return np.full((len(batch), self.labels), 1 / self.labels, np.float32)


def predictor_for(face_crop: dict, labels=("anger", "happy")):
    from training.config import preset
    from training.predict import Predictor

    return Predictor(Path("run"), _Model(len(labels)), list(labels), preset("scratch"), face_crop)


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


@pytest.mark.slow
def test_mtcnn_crop_of_the_astronaut_is_framed_like_ck48(astronaut):
    face = detect_each([astronaut])[0]
    assert face.mouth is not None and face.mouth[1] > face.left_eye[1] + 20
    crop = crop_from_face(astronaut, face, CropParams(size=160, color="rgb"))
    again = detect_each([crop], DetectionParams(min_face_size=20))[0]
    mid_x = (again.left_eye[0] + again.right_eye[0]) / 2
    mid_y = (again.left_eye[1] + again.right_eye[1]) / 2
    assert mid_x == pytest.approx(80, abs=4)
    assert mid_y == pytest.approx(80 - DEFAULT_FRAMING.down * 160, abs=5)
    scale = (math.dist(again.left_eye, again.right_eye)
             + math.dist((mid_x, mid_y), again.mouth)) / 2
    assert DEFAULT_FRAMING.side * scale == pytest.approx(160, rel=0.08)


@pytest.mark.slow
def test_a_small_square_face_crop_is_taken_whole_with_a_note(astronaut, tmp_path):
    from skimage import data

    predictor = predictor_for({"face": "precropped", "size": 48, "color": "gray"})
    tight = crop_from_face(astronaut, detect_each([astronaut])[0], CropParams(size=64))
    lfw = Image.fromarray((data.lfw_subset()[0] * 255).astype(np.uint8)).resize((56, 56))
    for name, image in (("astronaut.png", Image.fromarray(tight)), ("lfw.png", lfw)):
        image.save(tmp_path / name)
        result = predictor.predict_photo(tmp_path / name)
        assert result["error"] is None and len(result["faces"]) == 1, result
        face = result["faces"][0]
        assert face["note"] == FACE_CROP_NOTE and face["confidence"] == 0.0
        assert face["box"] == [0.0, 0.0, float(image.width), float(image.height)]
    # The model saw the whole photo, resized: the same pixels as the photo itself.
    expected = np.asarray(lfw.resize((48, 48), Image.BILINEAR), dtype=np.float32)
    assert np.abs(predictor.model.seen[-1][0, ..., 0] - expected).max() <= 1.0
    # A full photo with a face is framed as usual (no note); a large blank has no face.
    assert "note" not in predictor.predict_photo(astronaut)["faces"][0]
    assert predictor.predict_photo(np.full((300, 400, 3), 128, np.uint8))["faces"] == []


@pytest.mark.slow
def test_evaluate_takes_face_crop_photos_whole(astronaut, tmp_path, monkeypatch):
    from training import predict

    folder = tmp_path / "photos"
    for label in ("anger", "happy"):
        (folder / label).mkdir(parents=True)
    Image.fromarray(crop_from_face(astronaut, detect_each([astronaut])[0], CropParams(size=60))
                    ).save(folder / "happy" / "crop.png")
    Image.fromarray(astronaut).save(folder / "happy" / "photo.png")
    Image.new("RGB", (400, 300), (128, 128, 128)).save(folder / "anger" / "blank.png")
    monkeypatch.setattr(predict, "load_predictor", lambda run_dir: predictor_for({}))
    result = predict.evaluate_folder("run", folder)
    assert result["evaluated"] == 2 and result["taken_whole"] == [str(folder / "happy" /
                                                                      "crop.png")]
    assert result["no_face"] == [str(folder / "anger" / "blank.png")]
    notes = {Path(row["image"]).name: row.get("note") for row in result["predictions"]}
    assert notes == {"crop.png": FACE_CROP_NOTE, "photo.png": None}


@pytest.mark.slow
@pytest.mark.skipif(not (CKPLUS_DEV / "ck48").is_dir(),
                    reason=f"the licensed CK+ slice is not at {CKPLUS_DEV} (ckplus/ and ck48/)")
def test_default_framing_reproduces_ck48_crops_from_full_frames():
    """Nine peak frames (three sequences): MTCNN + the default framing against CK+48."""
    from bench.framing import ncc, peak_pairs
    from training.faces import detect_faces, pick_face
    from training.images import load_image

    pairs = peak_pairs(CKPLUS_DEV)[:9]
    assert len(pairs) == 9
    frames = [load_image(frame, mode="L") for frame, _ in pairs]
    faces = [pick_face(found, frame.shape)
             for found, frame in zip(detect_faces([f for f, _ in pairs]), frames, strict=True)]
    shipped, old = [], []
    for (_, ck48), frame, face in zip(pairs, frames, faces, strict=True):
        reference = load_image(ck48, mode="L")
        shipped.append(ncc(crop_from_face(frame, face, CropParams(size=48)), reference))
        old.append(ncc(crop_from_face(frame, face, CropParams(
            size=48, framing=Framing.from_margin(0.2))), reference))
    assert np.mean(shipped) > 0.85 and np.mean(shipped) > np.mean(old) + 0.3, (shipped, old)
