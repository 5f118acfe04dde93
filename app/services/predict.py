"""Predictions on uploaded photos with the active model, for the predict page and the API.

Uploads are checked before anything else: a byte limit, real decoding (never the file's
extension), and a pixel limit against decompression bombs. The model is loaded once per
server process and reloaded when another run is promoted."""

import base64
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.config import Settings
from app.models import Run
from app.services.errors import BadInput, Conflict, TooLarge


class UploadRejected(BadInput):
    """The upload is not an acceptable photo; the message names the file."""

    def __init__(self, message: str):
        super().__init__("file", message)


class UploadTooLarge(UploadRejected, TooLarge):
    pass


class NoActiveModel(Conflict):
    pass


def decode_upload(data: bytes, *, name: str, settings: Settings) -> np.ndarray:
    """The photo as an RGB array, EXIF orientation applied; UploadRejected names the file."""
    from training.images import ImageError, load_image

    if len(data) > settings.upload_max_bytes:
        raise UploadTooLarge(f"{name}: {len(data) / 1e6:.1f} MB is over the "
                             f"{settings.upload_max_bytes / 1e6:.0f} MB upload limit")
    if not data:
        raise UploadRejected(f"{name}: the file is empty")
    try:
        return load_image(io.BytesIO(data), mode="RGB", max_pixels=settings.upload_max_pixels,
                          name=name)
    except ImageError as exc:
        raise UploadRejected(str(exc)) from None


@dataclass
class _Loaded:
    run_id: str
    path: str
    predictor: Any


_lock = threading.Lock()
_loaded: _Loaded | None = None


def predictor_for(run: Run | None):
    """The active run's predictor, loaded once (TensorFlow is imported here, lazily)."""
    global _loaded
    if run is None:
        raise NoActiveModel("no active model yet: an admin promotes a finished run on its "
                            "run page (or POST /api/runs/{id}/promote)")
    with _lock:
        if _loaded is None or (_loaded.run_id, _loaded.path) != (run.id, run.path):
            from training.predict import load_predictor

            _loaded = _Loaded(run.id, run.path, load_predictor(Path(run.path)))
        return _loaded.predictor


def predict_array(predictor, array: np.ndarray, *, with_crops: bool = False) -> list[dict]:
    """Every face in the photo: box, confidence, most likely label and probabilities."""
    found = predictor.faces(array)
    probabilities = predictor.probabilities([crop for _, crop in found])
    faces = []
    for (face, crop), probs in zip(found, probabilities, strict=True):
        entry: dict[str, Any] = {
            "box": [round(float(v), 1) for v in face.box],
            "confidence": round(float(face.confidence), 4),
            "label": predictor.labels[int(np.argmax(probs))],
            "probabilities": {label: float(p) for label, p in zip(predictor.labels, probs,
                                                                   strict=True)},
        }
        if predictor.taken_whole(face):  # a photo that is itself a face crop
            from training.framing import FACE_CROP_NOTE

            entry["note"] = FACE_CROP_NOTE
        if with_crops:
            entry["crop_data_url"] = _png_data_url(crop)
        faces.append(entry)
    return faces


def _png_data_url(array: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def preview_data_url(array: np.ndarray, max_side: int = 360) -> str:
    """A small JPEG of the photo for the results page."""
    from PIL import Image

    image = Image.fromarray(array)
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def score(results: list[dict], labels: list[str]) -> dict | None:
    """Accuracy and confusion matrix over photos that came with a true label and a face:
    the friends-and-family experiment. None when no photo had a label."""
    pairs = [(r["true_label"], r["faces"][0]["label"]) for r in results
             if r.get("true_label") and r.get("faces")]
    if not pairs:
        return None
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for true, predicted in pairs:
        if true in index:
            matrix[index[true]][index[predicted]] += 1
    correct = sum(1 for true, predicted in pairs if true == predicted)
    return {"accuracy": correct / len(pairs), "evaluated": len(pairs),
            "no_face": sum(1 for r in results if r.get("true_label") and not r.get("faces")),
            "confusion_matrix": {"labels": labels, "matrix": matrix}}
