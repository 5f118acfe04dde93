"""Every preset trains end to end (2 folds, 2 epochs, tiny data) into a complete run folder
that predicts on its own; an ensemble's folder records each member beside the ensemble."""

import json
import shutil

import numpy as np
import pytest

from tests.support.web import login
from training.config import PRESETS, preset

pytestmark = pytest.mark.slow

RUN_FILES = ("config.json", "labels.json", "model.keras", "metrics.json", "history.csv",
             "progress.jsonl", "predictions.csv")


@pytest.fixture(scope="module")
def preset_runs(tiny_export, tmp_path_factory):
    from training.train import train

    out = tmp_path_factory.mktemp("preset-runs")
    return {name: train(tiny_export, preset(name), folds=2, epochs=2, out_dir=out, seed=0,
                        verbose=0, log=lambda msg: None)
            for name in PRESETS}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_writes_a_run_folder_that_predicts_on_its_own(preset_runs, name,
                                                                  tmp_path):
    from training.predict import load_predictor

    run = preset_runs[name]
    moved = shutil.copytree(run.run_dir, tmp_path / "elsewhere")  # the folder alone suffices
    assert all((moved / f).is_file() for f in RUN_FILES)
    metrics = json.loads((moved / "metrics.json").read_text())
    assert set(metrics["sequence_accuracy"]) >= {"mean", "std", "per_fold", "sequences"}
    assert 0 <= metrics["sequence_accuracy"]["mean"] <= 1
    predictor = load_predictor(moved)
    face = np.random.default_rng(0).integers(0, 256, (40, 40)).astype(np.uint8)
    probs = predictor.probabilities([face, face])
    assert probs.shape == (2, len(predictor.labels))
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_an_ensemble_run_scores_its_members_and_predicts_their_average(preset_runs, tiny_export):
    import keras

    from training.data import load_export, make_dataset
    from training.model import custom_objects
    from training.predict import load_predictor

    run = preset_runs["default"]
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert sorted(metrics["members"]) == ["pretrained", "scratch", "zero-shot"]
    for scores in metrics["members"].values():
        assert {"accuracy", "macro_f1", "sequence_accuracy", "recall"} <= set(scores)
    history = (run.run_dir / "history.csv").read_text()
    assert ",scratch" in history and ",pretrained" in history
    # model.keras is one model averaging its members: check against the members inside it.
    model = keras.saving.load_model(run.run_dir / "model.keras",
                                    custom_objects=custom_objects(), compile=False)
    members = [layer for layer in model.layers if layer.name.startswith("member")]
    assert len(members) == 3
    config = load_predictor(run.run_dir).config
    export = load_export(tiny_export)
    images = np.concatenate([x for x, _ in make_dataset(export, range(6), config,
                                                        training=False)])
    import tensorflow as tf

    from training.backbones import average_members, known_labels
    from training.train import plan_members

    inputs = [tf.image.resize(images, m.input_shape[1:3], antialias=True) for m in members]
    masks = [known_labels(p.config.head, export.labels) for p in plan_members(preset("default"))]
    expected = average_members([m.predict(x, verbose=0) for m, x in zip(members, inputs,
                                                                         strict=True)], masks)
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-5)


def test_the_run_page_shows_members_and_per_sequence_scores(preset_runs, client, make_user,
                                                            settings):
    run = preset_runs["default"]
    shutil.copytree(run.run_dir, settings.runs_dir / run.run_dir.name)
    make_user("rev1")
    login(client, "rev1")
    page = client.get(f"/runs/{run.run_dir.name}")
    assert page.status_code == 200
    assert "Ensemble members" in page.text and "per sequence" in page.text
    assert "pretrained" in page.text and "scratch" in page.text
