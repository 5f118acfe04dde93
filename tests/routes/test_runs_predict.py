"""Run pages, promotion and prediction on a real (tiny) trained run and a real face."""

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.support.web import login

pytestmark = pytest.mark.slow


@pytest.fixture
def run_in_app(tiny_run, settings):
    """The tiny run copied where the app looks for runs made by `onset train`."""
    target = settings.runs_dir / tiny_run.run_dir.name
    shutil.copytree(tiny_run.run_dir, target)
    return target.name


def png_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_run_page_shows_metrics_matrix_and_mistakes(client, make_user, run_in_app):
    make_user("rev1")
    login(client, "rev1")
    listing = client.get("/runs")
    assert run_in_app in listing.text
    page = client.get(f"/runs/{run_in_app}")
    assert page.status_code == 200
    assert "Confusion matrix" in page.text and "macro F1" in page.text
    assert "Misclassified out-of-fold images" in page.text
    api = client.get(f"/api/runs/{run_in_app}").json()
    assert set(api["accuracy"]) >= {"mean", "std", "per_fold"}
    assert "Make active model" not in page.text  # reviewers can't promote
    download = client.get(f"/runs/{run_in_app}/download")
    assert download.headers["content-type"] == "application/zip"
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert {"model.keras", "metrics.json", "config.json"} <= set(names)
    assert client.get("/runs/nope").status_code == 404
    assert client.get(f"/runs/{run_in_app}/predictions/999999.png").status_code == 404


def test_promote_then_predict_the_astronaut(client, make_user, run_in_app):
    from skimage import data

    make_user("boss", "admin")
    token = login(client, "boss")
    photo = png_bytes(data.astronaut())
    before = client.post("/api/predict", files={"file": ("a.png", photo, "image/png")},
                         headers={"X-CSRF-Token": token})
    assert before.status_code == 409 and "no active model" in before.text

    promoted = client.post(f"/api/runs/{run_in_app}/promote", headers={"X-CSRF-Token": token})
    assert promoted.status_code == 200
    answer = client.post("/api/predict", files={"file": ("a.png", photo, "image/png")},
                         headers={"X-CSRF-Token": token})
    assert answer.status_code == 200, answer.text
    faces = answer.json()["faces"]
    assert len(faces) == 1
    assert sum(faces[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    x, y, w, h = faces[0]["box"]
    assert 150 < x + w / 2 < 290 and 50 < y + h / 2 < 200  # the astronaut's face

    page = client.post("/predict", data={"csrf_token": token, "labels": ["happy", ""]},
                       files=[("files", ("astronaut.png", photo, "image/png")),
                              ("files", ("blank.png", png_bytes(np.full((200, 200, 3), 200,
                                                                        np.uint8)),
                                         "image/png"))],
                       headers={"HX-Request": "true"})
    assert page.status_code == 200
    assert "No face found in this photo" in page.text
    assert "Accuracy on your labelled photos" in page.text


def test_uploads_are_checked(client, make_user, run_in_app, settings):
    make_user("boss", "admin")
    token = login(client, "boss")
    client.post(f"/api/runs/{run_in_app}/promote", headers={"X-CSRF-Token": token})
    headers = {"X-CSRF-Token": token}

    def send(name, content):
        return client.post("/api/predict", files={"file": (name, content, "image/png")},
                           headers=headers)

    not_image = send("photo.png", b"this is not an image at all")
    assert not_image.status_code == 422 and "photo.png" in not_image.text

    oversized = send("big.png", b"\0" * (settings.upload_max_bytes + 10))
    assert oversized.status_code == 413 and "upload limit" in oversized.text

    # A decompression bomb: a tiny file that claims a huge number of pixels.
    bomb = png_bytes(np.zeros((8000, 8000), np.uint8))
    assert len(bomb) < settings.upload_max_bytes
    refused = send("bomb.png", bomb)
    assert refused.status_code == 422 and "pixel" in refused.text.lower()
