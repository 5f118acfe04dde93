"""The predict page and API take a photo that is itself a face crop whole, and say so."""

import io
import shutil

import pytest
from PIL import Image

from tests.support.web import login
from training.framing import FACE_CROP_NOTE

pytestmark = pytest.mark.slow


def test_a_small_face_crop_is_predicted_whole_with_a_note(client, make_user, tiny_run,
                                                          settings):
    from skimage import data

    from training.face_track import detect_each
    from training.faces import CropParams, crop_from_face

    shutil.copytree(tiny_run.run_dir, settings.runs_dir / tiny_run.run_dir.name)
    make_user("boss", "admin")
    token = login(client, "boss")
    headers = {"X-CSRF-Token": token}
    assert client.post(f"/api/runs/{tiny_run.run_dir.name}/promote",
                       headers=headers).status_code == 200
    astronaut = data.astronaut()
    crop = crop_from_face(astronaut, detect_each([astronaut])[0], CropParams(size=64))
    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, format="PNG")

    answer = client.post("/api/predict", files={"file": ("crop.png", buffer.getvalue(),
                                                         "image/png")}, headers=headers)
    assert answer.status_code == 200, answer.text
    [face] = answer.json()["faces"]
    assert face["note"] == FACE_CROP_NOTE and face["box"] == [0.0, 0.0, 64.0, 64.0]
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)

    page = client.post("/predict", data={"csrf_token": token, "labels": [""]},
                       files=[("files", ("crop.png", buffer.getvalue(), "image/png"))],
                       headers={"HX-Request": "true"})
    assert page.status_code == 200
    assert FACE_CROP_NOTE.capitalize() in page.text and "No face found" not in page.text
