"""Cells on a two-worker Dask cluster on loopback give the experiment.json of the local path."""

import shutil

import pytest

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.services.experiments import ExperimentSpec, run_experiment
from app.specs import parse_spec
from tests.experiments.conftest import build

pytestmark = pytest.mark.slow
VARYING = ("id", "created", "finished", "scheduler", "run", "runs")


def comparable(value):
    """experiment.json without what names this machine's runs and times."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def second_database(tmp_path, migrated_template) -> Settings:
    data_dir = tmp_path / "var-dask"
    data_dir.mkdir()
    shutil.copy(migrated_template, data_dir / "onset.db")
    return Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'onset.db'}",
                    secret_key="test-secret", job_runner=False)


def test_a_local_cluster_of_two_workers_gives_the_same_experiment(
        ck_db, session, tiny_config, tmp_path, migrated_template):
    from distributed import LocalCluster

    spec = parse_spec(ExperimentSpec, {"vary": ["policy=onset,peak:2"], "folds": 3,
                                       "epochs": 1, "config": str(tiny_config),
                                       "base": {"face": "none", "size": 32}})
    local = run_experiment(session, ck_db, spec)

    other = second_database(tmp_path, migrated_template)
    engine = make_engine(other.resolved_database_url)
    factory = make_session_factory(engine)
    build(factory, tmp_path / "ck2")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, factory() as dask_session:
        distributed = run_experiment(dask_session, other, spec,
                                     scheduler=cluster.scheduler_address)
    engine.dispose()
    assert distributed["scheduler"].startswith("tcp://127.0.0.1:")
    runs = [other.runs_dir / v["run"] for v in distributed["variants"]]
    assert all((run / "metrics.json").is_file() for run in runs)  # in the same run folders
    assert comparable(distributed) == comparable(local)
