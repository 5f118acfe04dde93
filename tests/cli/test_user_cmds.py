"""`onset user add|token|list`."""

import json

from typer.testing import CliRunner

from app.cli import cli


def test_add_user_from_stdin_then_token_and_list(settings):
    env = {"ONSET_DATA_DIR": str(settings.data_dir),
           "ONSET_DATABASE_URL": settings.resolved_database_url}
    runner = CliRunner()
    added = runner.invoke(cli, ["user", "add", "alice", "--role", "admin"],
                          input="s3cret-password\n", env=env)
    assert added.exit_code == 0, added.output
    again = runner.invoke(cli, ["user", "add", "alice"], input="s3cret-password\n", env=env)
    assert again.exit_code == 2 and "already exists" in again.output
    short = runner.invoke(cli, ["user", "add", "bob"], input="short\n", env=env)
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    bad_role = runner.invoke(cli, ["user", "add", "bob", "--role", "boss"],
                             input="long-enough-pw\n", env=env)
    assert "role 'boss' is not one of" in bad_role.output

    token = runner.invoke(cli, ["user", "token", "alice"], env=env)
    assert token.exit_code == 0 and token.stdout.strip().startswith("onset_")
    assert runner.invoke(cli, ["user", "token", "nobody"], env=env).exit_code == 2
    users = json.loads(runner.invoke(cli, ["user", "list", "--json"], env=env).stdout)
    assert users == [{"name": "alice", "role": "admin", "active": True}]
