"""Predict emotions on new photos with a run folder, and evaluate on labelled photo folders.

Faces are found by MTCNN and cropped by `training.faces` with the framing the run's dataset
used (config.json "face_crop", `training.framing`; pre-cropped datasets that declare none get
the default, which reproduces CK+48's crops), then fed through the same resize/colour ops as
the training pipeline, so the model sees photos the way it saw its training images. A photo
that is itself a face crop (small, roughly square, no face found) is taken whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import config as config_module
from training import contract
from training.metrics import confusion_matrix, macro_f1, per_class

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class PredictError(ValueError):
    """The run folder or the photo folder is unusable; the message names what is wrong."""


@dataclass
class Predictor:
    run_dir: Path
    model: object
    labels: list[str]
    config: config_module.Config
    face_crop: dict

    @property
    def crop_params(self):
        # Old runs: their margin; a run whose dataset declared no framing: the default.
        return contract.read_image(self.face_crop).crop_params(
            size=self.config.input_size, color="gray" if self.config.channels == 1 else "rgb")

    def faces(self, image) -> list[tuple[object, np.ndarray]]:
        """(Face, crop) for every face in the image, left to right. A photo that is itself
        a face crop comes back whole, as a face with ``method == "whole_frame"`` and
        confidence 0 (`taken_whole`)."""
        from dataclasses import replace

        from training.faces import crop_from_face, detect_faces, whole_frame_face
        from training.framing import looks_like_face_crop
        from training.images import load_image

        array = load_image(image, mode="RGB")
        if self.face_crop.get("face") == "none":  # the dataset kept whole frames
            found = [whole_frame_face(array.shape)]
        else:
            # CK+ landmark files do not exist for new photos: MTCNN finds the faces, and the
            # framing (training.framing), size and colour are the dataset's.
            found = sorted(detect_faces([array])[0], key=lambda f: f.box[0])
            if not found and looks_like_face_crop(array.shape):
                found = [replace(whole_frame_face(array.shape), confidence=0.0)]
        params = self.crop_params
        return [(face, crop_from_face(array, face, params)) for face in found]

    def taken_whole(self, face) -> bool:
        """True for a photo taken whole as a face crop (not a whole-frame dataset)."""
        return face.method == "whole_frame" and self.face_crop.get("face") != "none"

    def probabilities(self, crops: list[np.ndarray]) -> np.ndarray:
        """Class probabilities for face crops (any size; gray HxW or RGB HxWx3, 0-255)."""
        import tensorflow as tf

        size, channels = self.config.input_size, self.config.channels
        batch = []
        for crop in crops:
            x = tf.convert_to_tensor(np.asarray(crop, dtype=np.float32))
            if x.shape.rank == 2:
                x = x[..., None]
            if x.shape[-1] == 3 and channels == 1:
                x = tf.image.rgb_to_grayscale(x)
            elif x.shape[-1] == 1 and channels == 3:
                x = tf.image.grayscale_to_rgb(x)
            # The same resize as training's tf.data pipeline (data.make_dataset).
            batch.append(tf.image.resize(x, (size, size), antialias=True))
        if not batch:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.asarray(self.model.predict(tf.stack(batch), verbose=0))

    def predict_photo(self, image) -> dict:
        """{image, faces: [{box, confidence, label, probabilities}], error} for one photo."""
        from training.images import ImageError

        result = {"image": str(image), "faces": [], "error": None}
        try:
            found = self.faces(image)
        except ImageError as exc:
            result["error"] = str(exc)
            return result
        probs = self.probabilities([crop for _, crop in found])
        for (face, _), p in zip(found, probs, strict=True):
            result["faces"].append({
                "box": [round(v, 1) for v in face.box],
                "confidence": round(float(face.confidence), 4),
                "label": self.labels[int(np.argmax(p))],
                "probabilities": {label: float(v)
                                  for label, v in zip(self.labels, p, strict=True)},
            })
            if self.taken_whole(face):
                from training.framing import FACE_CROP_NOTE

                result["faces"][-1]["note"] = FACE_CROP_NOTE
        return result


def load_predictor(run_dir: str | Path) -> Predictor:
    """Load a run folder's model, labels and crop parameters (a run folder is enough)."""
    import keras

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PredictError(f"run folder not found: {run_dir}")
    for name in (contract.MODEL_FILE, contract.LABELS_FILE, contract.CONFIG_FILE):
        if not (run_dir / name).is_file():
            raise PredictError(f"{run_dir}: {name} is missing (not a finished run folder?)")
    try:
        labels = json.loads((run_dir / contract.LABELS_FILE).read_text())
        run_config = json.loads((run_dir / contract.CONFIG_FILE).read_text())
        config = config_module.from_dict(run_config["config"])
    except (json.JSONDecodeError, KeyError, config_module.ConfigError) as exc:
        raise PredictError(f"{run_dir}: unreadable labels.json/config.json ({exc})") from None
    from training.model import custom_objects

    model = keras.saving.load_model(run_dir / contract.MODEL_FILE, custom_objects=custom_objects(),
                                    compile=False)
    outputs = model.output_shape[-1]
    if outputs != len(labels):
        raise PredictError(f"{run_dir}: model.keras has {outputs} outputs but labels.json "
                           f"lists {len(labels)} labels")
    return Predictor(run_dir, model, labels, config, run_config.get("face_crop") or {})


def evaluate_folder(run_dir: str | Path, folder: str | Path) -> dict:
    """Accuracy and confusion matrix on photos in <folder>/<label name>/; one face a photo.

    The face scored is the photo's subject (`faces.pick_face`: large and central); photos
    that are themselves face crops are taken whole (listed under `taken_whole`, and their
    prediction rows carry a `note`); photos where no face is found are listed under
    `no_face` and left out of the scores.
    """
    from training.faces import pick_face
    from training.framing import FACE_CROP_NOTE
    from training.images import ImageError, load_image

    predictor = load_predictor(run_dir)
    photos = _labelled_photos(Path(folder), predictor.labels)
    true, pred, no_face, unreadable, rows, taken_whole = [], [], [], [], [], []
    for photo, label in photos:
        try:
            array = load_image(photo, mode="RGB")
            found = predictor.faces(array)
        except ImageError as exc:
            unreadable.append(str(exc))
            continue
        subject = pick_face([face for face, _ in found], array.shape)
        if subject is None:
            no_face.append(str(photo))
            continue
        crop = next(c for f, c in found if f is subject)
        p = predictor.probabilities([crop])[0]
        true.append(label)
        pred.append(int(np.argmax(p)))
        rows.append({"image": str(photo), "true_label": predictor.labels[label],
                     "predicted_label": predictor.labels[pred[-1]],
                     "probability": float(p.max())})
        if predictor.taken_whole(subject):
            rows[-1]["note"] = FACE_CROP_NOTE
            taken_whole.append(str(photo))
    matrix = confusion_matrix(np.array(true, dtype=int), np.array(pred, dtype=int),
                              len(predictor.labels))
    classes = per_class(matrix, predictor.labels)
    return {
        "run": str(predictor.run_dir),
        "accuracy": float(np.mean(np.array(true) == np.array(pred))) if true else 0.0,
        "evaluated": len(true),
        "macro_f1": macro_f1(classes),
        "per_class": classes,
        "confusion_matrix": {"labels": predictor.labels, "matrix": matrix.tolist()},
        "no_face": no_face,
        "taken_whole": taken_whole,
        "unreadable": unreadable,
        "predictions": rows,
    }


def _labelled_photos(folder: Path, labels: list[str]) -> list[tuple[Path, int]]:
    """(photo, label index) for the photos in <folder>/<label name>/."""
    if not folder.is_dir():
        raise PredictError(f"photo folder not found: {folder}")
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir())
    unknown = [p.name for p in subfolders if p.name not in labels]
    if unknown:
        raise PredictError(f"{folder}: subfolder(s) {unknown} are not labels of this run "
                           f"({labels})")
    photos = [(photo, labels.index(sub.name)) for sub in subfolders
              for photo in sorted(sub.iterdir()) if photo.suffix.lower() in IMAGE_SUFFIXES]
    if not photos:
        raise PredictError(f"{folder}: no photos found in label subfolders "
                           f"(expected e.g. {folder}/{labels[0]}/photo.jpg)")
    return photos
