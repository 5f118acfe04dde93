"""`onset import`, `onset stats` and `onset db` as a user runs them."""

import json

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.support.ckplus import SeqSpec, frame_path, write_ckplus


@pytest.fixture
def env(settings):
    return {"ONSET_DATA_DIR": str(settings.data_dir),
            "ONSET_DATABASE_URL": settings.resolved_database_url}


def run(env, *args):
    return CliRunner().invoke(cli, list(args), env=env)


def test_import_then_stats_json(env, tmp_path):
    root = write_ckplus(tmp_path / "ck", [SeqSpec("S005", "001", label=3.0),
                                          SeqSpec("S005", "002"),
                                          SeqSpec("S011", "001", label=5.0, mode="RGB")])
    result = run(env, "import", str(root), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["imported"] == 3 and summary["errors"] == []

    stats = json.loads(run(env, "stats", "--json").stdout)
    assert {k: stats[k] for k in ("subjects", "sequences", "frames", "labeled_sequences",
                                  "labels")} == {
        "subjects": 2, "sequences": 3, "frames": 12, "labeled_sequences": 2,
        "labels": {"disgust": 1, "happy": 1}}


def test_import_exits_non_zero_when_nothing_imports(env, tmp_path):
    spec = SeqSpec("S005", "001")
    root = write_ckplus(tmp_path / "ck", [spec])
    frame_path(root, spec, 1).write_bytes(b"not a png")
    result = run(env, "import", str(root), "--json")
    assert result.exit_code == 1
    assert "S005_001_00000001.png" in json.loads(result.stdout)["errors"][0]


def test_import_of_a_wrong_folder_is_a_clear_error(env, tmp_path):
    result = run(env, "import", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_commands_refuse_an_unmigrated_database(tmp_path):
    env = {"ONSET_DATA_DIR": str(tmp_path), "ONSET_DATABASE_URL": ""}
    result = run(env, "stats")
    assert result.exit_code == 2 and "onset db upgrade" in result.output
    assert run(env, "db", "upgrade").exit_code == 0
    assert json.loads(run(env, "stats", "--json").stdout)["sequences"] == 0


def test_every_command_has_help():
    for command in cli.registered_commands:
        result = CliRunner().invoke(cli, [command.name or command.callback.__name__, "--help"])
        assert result.exit_code == 0, command.name
        assert "Usage" in result.output
