"""A real 2-fold run on tiny data: the run folder is complete and agrees with itself."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from training.config import ConfigError
from training.data import DatasetError

pytestmark = pytest.mark.slow


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_run_folder_is_complete(tiny_run, tiny_export):
    run = tiny_run.run_dir
    for name in ("config.json", "labels.json", "model.keras", "metrics.json", "history.csv",
                 "progress.jsonl", "predictions.csv"):
        assert (run / name).is_file(), name
    labels = json.loads((run / "labels.json").read_text())
    assert labels == ["happy", "sadness", "surprise"]
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["name"] == "tiny" and config["run"]["folds"] == 2
    assert config["face_crop"]["face"] == "landmarks" and config["face_crop"]["size"] == 32
    assert config["dataset"]["id"] == "tiny-0"

    history = _rows(run / "history.csv")
    assert list(history[0]) == ["fold", "epoch", "loss", "accuracy", "val_loss",
                                "val_accuracy", "lr", "member"]
    assert [r["fold"] for r in history] == ["1", "1", "2", "2"] + ["final"] * (
        tiny_run.final_epochs)
    assert all(float(r["lr"]) > 0 for r in history)


def test_progress_events_tell_the_whole_story(tiny_run):
    events = [json.loads(line) for line in
              (tiny_run.run_dir / "progress.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert kinds.count("fold_end") == 2 and kinds.count("final_model") == 1
    epoch = next(e for e in events if e["event"] == "epoch")
    assert {"fold", "folds", "epoch", "epochs", "metrics", "elapsed_s"} <= set(epoch)
    assert epoch["folds"] == 2 and epoch["epochs"] == 2 and "val_accuracy" in epoch["metrics"]
    elapsed = [e["elapsed_s"] for e in events]
    assert elapsed == sorted(elapsed)


def test_metrics_agree_with_out_of_fold_predictions(tiny_run, tiny_export):
    run = tiny_run.run_dir
    metrics = json.loads((run / "metrics.json").read_text())
    rows = _rows(run / "predictions.csv")
    labels = metrics["confusion_matrix"]["labels"]
    assert len(rows) == 96  # every image predicted exactly once, out of fold

    # No subject is ever tested in two folds.
    folds_of = {}
    for r in rows:
        folds_of.setdefault(r["subject"], set()).add(r["fold"])
    assert all(len(f) == 1 for f in folds_of.values())

    for r in rows:
        probs = [float(r[f"prob_{label}"]) for label in labels]
        assert sum(probs) == pytest.approx(1, abs=1e-4)
        assert r["predicted_label"] == labels[int(np.argmax(probs))]
    per_fold = []
    for fold in sorted({r["fold"] for r in rows}):
        mine = [r for r in rows if r["fold"] == fold]
        per_fold.append(np.mean([r["true_label"] == r["predicted_label"] for r in mine]))
    assert metrics["accuracy"]["per_fold"] == pytest.approx(per_fold)
    assert metrics["accuracy"]["mean"] == pytest.approx(np.mean(per_fold))
    matrix = np.zeros((3, 3), int)
    for r in rows:
        matrix[labels.index(r["true_label"]), labels.index(r["predicted_label"])] += 1
    assert metrics["confusion_matrix"]["matrix"] == matrix.tolist()
    for i, label in enumerate(labels):
        assert metrics["per_class"][label]["support"] == int(matrix[i].sum())
        if matrix[:, i].sum():
            assert metrics["per_class"][label]["precision"] == pytest.approx(
                matrix[i, i] / matrix[:, i].sum())
    assert 0 <= metrics["macro_f1"] <= 1


def test_saved_model_predicts_from_raw_pixels_in_a_fresh_process(tiny_run):
    # A new process (like the web app's) has not built any model: the custom
    # per-image standardisation layer must still load.
    code = ("import sys, numpy as np; from training.predict import load_predictor; "
            "p = load_predictor(sys.argv[1]); "
            "x = np.random.default_rng(0).integers(0, 256, (2, 40, 40)).astype('uint8'); "
            "print(p.probabilities([x[0], x[1]]).sum(axis=1).tolist())")
    out = subprocess.run([sys.executable, "-c", code, str(tiny_run.run_dir)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == pytest.approx([1, 1], abs=1e-5)


def test_training_learns_the_tiny_classes(tiny_export, tiny_config, tmp_path):
    from training.train import train

    config = tiny_config.replace(training=tiny_config.training.replace(epochs=8, patience=8))
    result = train(tiny_export, config, folds=2, out_dir=tmp_path, seed=7, verbose=0,
                   log=lambda m: None)
    # Chance is 1/3: clearly above it means real learning on subjects never seen.
    assert result.metrics["accuracy"]["mean"] > 0.6, result.metrics["accuracy"]


def test_same_seed_same_run(tiny_run, tiny_export, tiny_config, tmp_path):
    from training.train import train

    again = train(tiny_export, tiny_config, folds=2, out_dir=tmp_path, seed=0, verbose=0,
                  log=lambda m: None)
    assert again.run_dir != tiny_run.run_dir
    assert (again.run_dir / "predictions.csv").read_text() == \
        (tiny_run.run_dir / "predictions.csv").read_text()
    assert (again.run_dir / "history.csv").read_text() == \
        (tiny_run.run_dir / "history.csv").read_text()


def test_bad_requests_fail_before_writing_anything(tiny_export, tiny_config, tmp_path):
    from training.train import train

    with pytest.raises(DatasetError, match="--folds 9 asks for more folds"):
        train(tiny_export, tiny_config, folds=9, out_dir=tmp_path / "a", verbose=0)
    with pytest.raises(ConfigError, match="learning_rate"):
        bad = tiny_config.replace(
            optimizer=tiny_config.optimizer.replace(learning_rate=5))
        train(tiny_export, bad, out_dir=tmp_path / "b", verbose=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
