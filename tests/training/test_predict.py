"""Predict and evaluate on real photos: scikit-image's astronaut through real MTCNN."""

import json

import numpy as np
import pytest
from PIL import Image

from training.predict import PredictError, evaluate_folder, load_predictor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()  # 512x512 RGB, one face


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return load_predictor(tiny_run.run_dir)


def _check_face(face, labels):
    assert set(face["probabilities"]) == set(labels)
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)


def test_astronaut_has_one_face_with_probabilities(predictor, astronaut, tmp_path):
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    result = predictor.predict_photo(path)
    assert result["error"] is None and len(result["faces"]) == 1
    face = result["faces"][0]
    _check_face(face, predictor.labels)
    x, y, w, h = face["box"]
    assert 150 < x + w / 2 < 260 and 60 < y + h / 2 < 180  # her face, not the flag or suit


def test_crops_follow_the_runs_dataset(predictor, astronaut):
    (face, crop), = predictor.faces(astronaut)
    # The tiny export was 32 px grayscale: new photos are cropped the same way.
    assert crop.shape == (32, 32) and crop.dtype == np.uint8


def test_awkward_photos(predictor, astronaut, tmp_path):
    """EXIF rotation, RGBA, grayscale, a large photo, two faces and no face."""
    upright = Image.fromarray(astronaut)
    rotated = tmp_path / "exif.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": pixels stored lying on their side
    upright.transpose(Image.Transpose.ROTATE_90).save(rotated, exif=exif, quality=95)
    rgba = tmp_path / "rgba.png"
    upright.convert("RGBA").save(rgba)
    gray = tmp_path / "gray.png"
    upright.convert("L").save(gray)
    large = tmp_path / "large.jpg"
    upright.resize((2400, 2400)).save(large, quality=90)
    pair = tmp_path / "pair.png"
    canvas = Image.new("RGB", (1024, 512))
    canvas.paste(upright, (0, 0))
    canvas.paste(upright, (512, 0))
    canvas.save(pair)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(blank)

    results = {r["image"]: r for r in
               (predictor.predict_photo(p) for p in (rotated, rgba, gray, large, pair, blank))}
    for path in (rotated, rgba, gray, large):
        assert len(results[str(path)]["faces"]) == 1, path
        _check_face(results[str(path)]["faces"][0], predictor.labels)
    two = results[str(pair)]["faces"]
    assert len(two) == 2 and two[0]["box"][0] < 512 <= two[1]["box"][0]  # left to right
    assert results[str(blank)]["faces"] == [] and results[str(blank)]["error"] is None


def test_unreadable_photo_is_reported_not_fatal(predictor, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    result = predictor.predict_photo(bad)
    assert result["faces"] == [] and "broken.jpg" in result["error"]


def test_evaluate_folder_scores_photos_and_lists_faceless_ones(tiny_run, astronaut, tmp_path):
    (tmp_path / "photos" / "happy").mkdir(parents=True)
    (tmp_path / "photos" / "surprise").mkdir()
    Image.fromarray(astronaut).save(tmp_path / "photos" / "happy" / "a.png")
    Image.fromarray(astronaut[:, ::-1]).save(tmp_path / "photos" / "surprise" / "b.png")
    Image.new("RGB", (200, 200), "white").save(tmp_path / "photos" / "surprise" / "wall.png")
    report = evaluate_folder(tiny_run.run_dir, tmp_path / "photos")
    assert report["evaluated"] == 2
    assert report["no_face"] == [str(tmp_path / "photos" / "surprise" / "wall.png")]
    matrix = np.array(report["confusion_matrix"]["matrix"])
    assert matrix.sum() == 2 and matrix[0].sum() == 1 and matrix[2].sum() == 1
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / 2)
    assert report["per_class"]["happy"]["support"] == 1
    json.dumps(report)  # the CLI prints it as JSON


def test_evaluate_refuses_folders_that_are_not_labels(tiny_run, tmp_path):
    (tmp_path / "joy").mkdir()
    with pytest.raises(PredictError, match=r"subfolder\(s\) \['joy'\] are not labels"):
        evaluate_folder(tiny_run.run_dir, tmp_path)


def test_incomplete_run_folder_is_named(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(PredictError, match="model.keras is missing"):
        load_predictor(tmp_path / "run")
