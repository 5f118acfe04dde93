"""`onset onsets --method model` refuses, in one line and exit 2, when there is no run with
a neutral class; auto falls back to the other signals without a word."""

import json

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.support.assist_runs import LABELS, SPECS, write_run
from tests.support.ckplus import import_specs


@pytest.fixture
def env(settings, session_factory, tmp_path):
    import_specs(session_factory, tmp_path / "ck", SPECS)
    return {"ONSET_DATA_DIR": str(settings.data_dir),
            "ONSET_DATABASE_URL": settings.resolved_database_url}


def run(env, *args):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_no_active_model(env):
    result = run(env, "onsets", "--method", "model")
    assert result.exit_code == 2
    assert "--method model needs a run with a neutral class: there is no active model" in \
        error_line(result)


def test_a_run_without_a_neutral_class(env, session, tmp_path):
    folder = write_run(tmp_path, session)  # the active model, classes anger/happy/surprise
    (folder / "labels.json").write_text(json.dumps(LABELS))
    for args in (("--run", folder), ("--run", "run-1"), ()):
        result = run(env, "onsets", "--method", "model", *args)
        assert result.exit_code == 2, result.output
        assert ("run run-1 has no neutral class (its classes: anger, happy, surprise)"
                in error_line(result))
    unknown = run(env, "onsets", "--method", "model", "--run", "nope")
    assert unknown.exit_code == 2 and "no run 'nope'" in error_line(unknown)
    auto = run(env, "onsets", "--json")
    assert auto.exit_code == 0, auto.output
    assert {item["method"] for item in json.loads(auto.stdout)} == {"landmarks"}
