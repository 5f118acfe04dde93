"""`onset suspects`, `onset onsets`, `onset agreement` as a user runs them."""

import json

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.support.assist_runs import SPECS, write_run
from tests.support.ckplus import import_specs


@pytest.fixture
def env(settings):
    return {"ONSET_DATA_DIR": str(settings.data_dir),
            "ONSET_DATABASE_URL": settings.resolved_database_url}


@pytest.fixture
def ids(session_factory, tmp_path):
    return import_specs(session_factory, tmp_path / "ck", SPECS)


def run(env, *args):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def test_suspects_json_text_and_errors(env, ids, session, tmp_path):
    missing = run(env, "suspects")
    assert missing.exit_code == 1 and "error:" in missing.output
    assert "no active model" in missing.output
    run_dir = write_run(tmp_path, session)
    result = run(env, "suspects", "--json", "--top", "3")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) == 3 and (items[0]["subject"], items[0]["sequence"]) == ("S007", "002")
    assert {"subject", "sequence", "label", "predicted", "score", "run"} <= set(items[0])
    assert items[0]["score"] >= items[1]["score"]
    by_folder = run(env, "suspects", "--run", run_dir)
    assert by_folder.exit_code == 0 and "S007/002" in by_folder.stdout.splitlines()[0]
    assert run(env, "suspects", "--top", "0").exit_code == 2
    assert "--top" in run(env, "suspects", "--help").stdout


def test_onsets_json(env, ids):
    result = run(env, "onsets", "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) == len(SPECS)
    assert set(items[0]) >= {"subject", "sequence", "frames", "suggested_onset", "method"}
    assert items[0]["method"] == "landmarks" and items[0]["frames"] == 4
    bad = run(env, "onsets", "--method", "psychic")
    assert bad.exit_code == 2 and "--method must be" in bad.output


def test_agreement_json_shape_with_not_enough_data(env, ids):
    result = run(env, "agreement", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["labels"]["fleiss_kappa"] is None and data["labels"]["pairs"] == []
    assert set(data["onsets"]) >= {"alpha", "mean_abs_diff", "pairs"}
    text = run(env, "agreement")
    assert "not enough data" in text.stdout
