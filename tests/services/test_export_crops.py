"""Exports of face crops (app/services/faces/crops.py, used for real): landmarks on the tiny test
tree, and one MTCNN export of real faces from scikit-image next to a frame with no face."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from app.services.export import parse_params, run_export
from app.services.faces.crops import cached_crop_path
from tests.services.export_helpers import build_dataset
from tests.support.ckplus import SeqSpec, write_ckplus


def test_landmark_crops_are_copied_from_the_crop_cache(session, settings, tmp_path):
    root = tmp_path / "ck"
    write_ckplus(root, [SeqSpec("S005", "001", frames=6, label=3.0)])
    # One frame lost its landmark file: it has no face box, so it must be left out.
    (root / "Landmarks/S005/001/S005_001_00000005_landmarks.txt").unlink()
    build_dataset(session, root, [SeqSpec("S099", "001", frames=4, label=5.0),
                                  SeqSpec("S098", "001", frames=4, label=5.0)], reviews=False)
    params = parse_params({"face": "landmarks", "size": 32, "policy": "percent",
                           "percent": 50, "folds": 2})
    result = run_export(session, settings, params=params)
    session.commit()

    rows = list(csv.DictReader(open(result.path / "manifest.csv")))
    s005 = [int(r["frame"]) for r in rows if r["subject"] == "S005"]
    assert s005 == [4, 6]  # 4..6 selected, frame 5 has no face
    assert result.no_face == ["S005_001_00000005.png"] and result.counts["no_face"] == 1
    info = json.loads((result.path / "dataset.json").read_text())
    # The framing the crops were cut with (the default, as no --margin was given).
    from training.framing import DEFAULT_FRAMING

    assert info["image"] == {"face": "landmarks", "size": 32, "color": "gray",
                             "framing": DEFAULT_FRAMING.to_dict()}
    assert info["no_face"] == ["S005_001_00000005.png"]
    for row in rows:
        cached = cached_crop_path(session, settings, frame_id=int(row["source_frame_id"]),
                                  source="landmarks", size=32, color="gray")
        assert (result.path / row["path"]).read_bytes() == cached.read_bytes()  # no re-encode
        assert Image.open(result.path / row["path"]).size == (32, 32)


@pytest.mark.slow
def test_mtcnn_export_leaves_out_a_frame_without_a_face(session, settings, tmp_path):
    from skimage import data

    root = tmp_path / "ck"
    write_ckplus(root, [SeqSpec("S005", "001", frames=3, label=5.0, size=(200, 200)),
                        SeqSpec("S010", "001", frames=2, label=5.0, size=(200, 200))])
    folder = root / "cohn-kanade-images"
    astronaut = Image.fromarray(data.astronaut()).convert("L").crop((100, 0, 300, 200))
    faces = data.lfw_subset()  # 25x25 float faces in 0..1
    for n in (1, 2):
        astronaut.save(folder / f"S005/001/S005_001_{n:08d}.png")
    big_face = Image.fromarray((faces[0] * 255).astype(np.uint8)).resize((200, 200))
    big_face.save(folder / "S010/001/S010_001_00000001.png")
    big_face.save(folder / "S010/001/S010_001_00000002.png")
    # Frame 3 of S005/001 stays a flat grey square from write_ckplus: no face in it.
    build_dataset(session, root, [SeqSpec("S099", "001", frames=1)], reviews=False)
    params = parse_params({"face": "mtcnn", "size": 48, "policy": "percent", "percent": 0,
                           "folds": 2})
    result = run_export(session, settings, params=params)
    session.commit()
    assert result.no_face == ["S005_001_00000003.png"]
    names = {r["path"] for r in csv.DictReader(open(result.path / "manifest.csv"))}
    assert "images/happy/S005_001_00000001.png" in names
    assert len(names) == 4
