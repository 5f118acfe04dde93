"""Export and predict frame a face the same way: same image, same face, same pixels.

A tiny CK+ tree whose frames are scikit-image's astronaut (two subjects, two frames each,
moved a little): exported with MTCNN crops through the app's pipeline, then each exported
frame's source image is given to `training.predict.Predictor` with the run's framing block
(what `onset train` copies from dataset.json into config.json) and the real MTCNN.
"""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from app.services.export import parse_params, run_export
from app.services.faces import crops
from app.services.importer import import_ckplus
from tests.support.ckplus import SeqSpec, frame_path, write_ckplus
from training.contract import read_dataset_image
from training.data import load_export
from training.framing import DEFAULT_FRAMING, Framing

pytestmark = pytest.mark.slow
SPECS = [SeqSpec("S900", "001", frames=2, label=5.0), SeqSpec("S901", "001", frames=2,
                                                              label=7.0)]


@pytest.fixture
def astronaut_tree(session, tmp_path):
    from skimage import data

    root = write_ckplus(tmp_path / "ck", SPECS, landmarks=False)
    astronaut = data.astronaut()
    for index, spec in enumerate(SPECS):
        for number in (1, 2):
            shift = 3 * index + number
            Image.fromarray(np.roll(astronaut, (shift, 2 * shift), axis=(0, 1))).save(
                frame_path(root, spec, number))
    import_ckplus(session, root=root)
    session.commit()
    return root


def predictor_for(export_path):
    from training.config import preset
    from training.predict import Predictor

    info = load_export(export_path).info
    return Predictor(export_path, None, ["happy", "surprise"], preset("scratch"),
                     read_dataset_image(info).to_dict())


@pytest.mark.parametrize("margin", [None, 0.3])
def test_export_and_predict_cut_the_same_pixels(session, settings, astronaut_tree, margin,
                                                monkeypatch):
    from app.models import Frame
    from training import faces as face_lib

    params = parse_params({"face": "mtcnn", "size": 48, "policy": "peak", "peak_frames": 2,
                           "folds": 2, "margin": margin})
    result = run_export(session, settings, params=params)
    session.commit()
    framing = DEFAULT_FRAMING if margin is None else Framing.from_margin(margin)
    info = json.loads((result.path / "dataset.json").read_text())
    assert info["image"] == {"face": "mtcnn", "size": 48, "color": "gray",
                             "framing": framing.to_dict()}
    predictor = predictor_for(result.path)
    rows = list(csv.DictReader(open(result.path / "manifest.csv")))
    assert len(rows) == 4
    detect = face_lib.detect_faces
    for row in rows:
        exported = np.asarray(Image.open(result.path / row["path"]))
        frame = session.get(Frame, int(row["source_frame_id"]))
        photo = astronaut_tree / frame.path
        # The real MTCNN, run again by predict: the same face up to float noise (batched
        # and single calls differ in the 8th digit), so at most one grey level apart.
        [(face, crop)] = predictor.faces(photo)
        assert face.method == "detected" and face.mouth is not None
        assert crop.shape == exported.shape == (48, 48)
        assert np.abs(crop.astype(int) - exported).max() <= 1, row["path"]
        # The very face export cut (from the detection cache): the very same pixels.
        cached = crops.face_of(crops.detection_for_frame(session, frame.id, "mtcnn"))
        monkeypatch.setattr(face_lib, "detect_faces", lambda images, *a, face=cached, **k: [[face]])
        [(_, crop)] = predictor.faces(photo)
        monkeypatch.setattr(face_lib, "detect_faces", detect)
        assert np.array_equal(crop, exported), row["path"]


def test_cached_detections_keep_the_mouth(session, settings, astronaut_tree):
    from sqlalchemy import select

    from app.models import Frame

    frame_id = session.scalars(select(Frame.id).order_by(Frame.id)).first()
    crops.detect_frames(session, settings, frame_ids=[frame_id], source="mtcnn")
    session.commit()
    session.expunge_all()
    [located] = crops.crop_cache.load_located(
        session, [frame_id], source="mtcnn",
        params_key=crops.default_params_key("mtcnn")).values()
    face = crops.face_of(crops.detection_for_frame(session, frame_id, "mtcnn"))
    assert located.face.mouth is not None and face.mouth == pytest.approx(located.face.mouth)
    assert face.mouth[1] > max(face.left_eye[1], face.right_eye[1]) + 20
