"""A real tiny experiment: snapshots, runs on the base's folds, reuse, resume (TensorFlow)."""

import json
from pathlib import Path

import pytest

from app.services.experiments import ExperimentSpec, run_experiment
from app.services.experiments.cells import read_predictions
from app.services.export import list_snapshots
from app.specs import parse_spec
from tests.experiments.conftest import SUBJECTS

pytestmark = pytest.mark.slow


def spec(tiny_config: Path, vary: list[str]) -> ExperimentSpec:
    return parse_spec(ExperimentSpec, {"vary": vary, "folds": 3, "epochs": 1,
                                       "config": str(tiny_config),
                                       "base": {"face": "none", "size": 32}})


def runs(settings) -> set[str]:
    return {p.name for p in settings.runs_dir.iterdir()} if settings.runs_dir.is_dir() else set()


def subject_partition(run_dir: Path) -> set[frozenset]:
    folds: dict[str, set] = {}
    for row in read_predictions(run_dir):
        folds.setdefault(row["fold"], set()).add(row["subject"])
    return {frozenset(members) for members in folds.values()}


def test_experiment_trains_on_shared_folds_reuses_runs_and_resumes(ck_db, session,
                                                                   tiny_config):
    first = spec(tiny_config, ["policy=onset,peak:2"])
    result = run_experiment(session, ck_db, first)
    folder = ck_db.data_dir / "experiments" / result["id"]
    assert json.loads((folder / "experiment.json").read_text()) == result
    assert result["status"] == "done" and list(result["factors"]) == ["policy"]
    snapshots = {s.id for s in list_snapshots(session)}
    expected = {s: f for s, f in result["folds"]["subjects"].items()}
    base = {frozenset(s for s in SUBJECTS if expected[s] == f) for f in (1, 2, 3)}
    for variant in result["variants"]:
        assert variant["dataset"] in snapshots  # a normal, recorded snapshot
        run_dir = ck_db.runs_dir / variant["run"]
        assert (run_dir / "model.keras").is_file()  # a normal run folder
        assert subject_partition(run_dir) == base  # no subject moved between folds
        acc = variant["accuracy"]
        assert len(acc["per_fold"]) == 3 and acc["mean"] == pytest.approx(
            sum(acc["per_fold"]) / 3)
        assert set(variant["per_class"]) <= {"happy", "sadness", "surprise"}
    (pair,) = result["comparisons"]
    assert (pair["a"], pair["b"]) == ("policy=onset", "policy=peak:2")
    assert set(pair) >= {"mean_diff", "p_value", "test"}

    trained = runs(ck_db)
    again = run_experiment(session, ck_db, first)  # a rerun trains nothing
    assert runs(ck_db) == trained
    assert again["variants"] == result["variants"]

    wider = run_experiment(session, ck_db, spec(tiny_config, ["policy=onset,peak:2,peak:3"]))
    assert len(runs(ck_db) - trained) == 1  # only the new cell was trained
    assert [v["run"] for v in wider["variants"][:2]] == [v["run"] for v in result["variants"]]
    assert len(wider["comparisons"]) == 3
