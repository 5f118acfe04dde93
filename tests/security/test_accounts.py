"""Account life cycle from the command line, and what each change does to a signed-in
browser and to a script's API token: `onset user passwd|disable|enable|role|tokens|revoke`."""

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import cli
from tests.support.web import PASSWORD, csrf_from, login


@pytest.fixture
def onset(settings):
    env = {"ONSET_DATA_DIR": str(settings.data_dir),
           "ONSET_DATABASE_URL": settings.resolved_database_url}

    def run(*args, input: str | None = None):
        return CliRunner().invoke(cli, list(args), env=env, input=input)

    return run


def _token(onset, name: str) -> str:
    result = onset("user", "token", name)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _can_log_in(app, name: str, password: str) -> bool:
    with TestClient(app) as client:
        token = csrf_from(client.get("/login").text)
        return client.post("/login", data={"name": name, "password": password,
                                           "csrf_token": token},
                           follow_redirects=False).status_code == 303


def test_passwd_changes_the_password_and_ends_sessions(app, client, make_user, onset):
    make_user("rev1")
    login(client, "rev1")
    result = onset("user", "passwd", "rev1", input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert client.get("/", follow_redirects=False).status_code == 303  # signed out
    assert not _can_log_in(app, "rev1", PASSWORD)
    assert _can_log_in(app, "rev1", "a brand new password")
    short = onset("user", "passwd", "rev1", input="short\n")
    assert short.exit_code == 2 and "error: password must have at least 8" in short.output
    nobody = onset("user", "passwd", "ghost", input="long enough pw\n")
    assert nobody.exit_code == 2 and "no user named 'ghost'" in nobody.output


def test_disable_locks_out_browser_and_token_at_once(app, client, make_user, onset):
    make_user("rev1")
    token = _token(onset, "rev1")
    login(client, "rev1")
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/stats").status_code == 200

    result = onset("user", "disable", "rev1")
    assert result.exit_code == 0 and "disabled" in result.stdout
    assert client.get("/api/stats").status_code == 401
    assert script.get("/api/stats").status_code == 401
    assert not _can_log_in(app, "rev1", PASSWORD)
    listed = json.loads(onset("user", "list", "--json").stdout)
    assert {"name": "rev1", "role": "reviewer", "active": False} in listed

    assert onset("user", "enable", "rev1").exit_code == 0
    assert _can_log_in(app, "rev1", PASSWORD)
    assert script.get("/api/stats").status_code == 200


def test_the_last_admin_cannot_be_disabled_or_demoted(app, make_user, onset):
    make_user("boss", "admin")
    for args in (("disable", "boss"), ("role", "boss", "reviewer")):
        result = onset("user", *args)
        assert result.exit_code == 2, args
        assert "'boss' is the last active admin" in result.output
    assert _can_log_in(app, "boss", PASSWORD)
    make_user("chief", "admin")
    assert onset("user", "role", "boss", "reviewer").exit_code == 0
    refused = onset("user", "disable", "chief")
    assert refused.exit_code == 2 and "last active admin" in refused.output
    assert onset("user", "role", "boss", "overlord").exit_code == 2


def test_a_disabled_admin_does_not_count_as_the_other_admin(make_user, onset):
    make_user("boss", "admin")
    make_user("chief", "admin")
    assert onset("user", "disable", "chief").exit_code == 0
    refused = onset("user", "role", "boss", "reviewer")
    assert refused.exit_code == 2 and "last active admin" in refused.output


def test_tokens_are_listed_without_their_secret_and_revoked(app, make_user, onset,
                                                              session_factory):
    make_user("rev1")
    make_user("bot")
    first, second = _token(onset, "rev1"), _token(onset, "bot")
    with session_factory() as session:
        stored = " ".join(str(v) for row in session.execute(text("SELECT * FROM api_tokens"))
                          for v in row)
    assert first not in stored and second not in stored  # only hashes are kept

    listed = json.loads(onset("user", "tokens", "--json").stdout)
    assert [(t["user"], t["ends_with"]) for t in listed] == [("rev1", first[-4:]),
                                                             ("bot", second[-4:])]
    assert all(t["last_used"] is None for t in listed)
    assert first not in onset("user", "tokens").stdout
    only_bot = json.loads(onset("user", "tokens", "bot", "--json").stdout)
    assert [t["user"] for t in only_bot] == ["bot"]

    with TestClient(app, headers={"Authorization": f"Bearer {first}"}) as script:
        assert script.get("/api/stats").status_code == 200
        used = json.loads(onset("user", "tokens", "rev1", "--json").stdout)[0]
        assert used["last_used"] is not None
        revoked = onset("user", "revoke", str(used["id"]))
        assert revoked.exit_code == 0 and "revoked token" in revoked.stdout
        assert script.get("/api/stats").status_code == 401
    with TestClient(app, headers={"Authorization": f"Bearer {second}"}) as other:
        assert other.get("/api/stats").status_code == 200  # the other token still works
    missing = onset("user", "revoke", "999")
    assert missing.exit_code == 2 and "no API token with id 999" in missing.output


def test_role_change_takes_effect_on_the_next_request(app, client, make_user, onset):
    make_user("rev1")
    make_user("boss", "admin")
    login(client, "rev1")
    assert client.get("/admin", headers={"Accept": "application/json"}).status_code == 403
    assert onset("user", "role", "rev1", "admin").exit_code == 0
    token = login(client, "rev1")  # the old session ended with the change
    assert token and client.get("/admin").status_code == 200


def test_new_commands_have_help(onset):
    for command in ("passwd", "disable", "enable", "role", "tokens", "revoke"):
        result = onset("user", command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output, command
