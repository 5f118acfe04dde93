"""`make run` (`onset serve --setup`) creates the first admin: its password is shown on a
terminal only, never written where output is kept, and `onset user passwd admin` sets one."""

import re

import uvicorn
from typer.testing import CliRunner

from app.cli import cli
from app.db import make_engine, make_session_factory, session_scope
from app.services.setup import ensure_ready
from app.services.users import authenticate
from tests.support.ckplus import SeqSpec, import_specs


def _can_log_in(settings, password: str) -> bool:
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return authenticate(session, name="admin", password=password) is not None
    finally:
        engine.dispose()


def test_on_a_terminal_the_password_is_shown_once_and_works(settings):
    said: list[str] = []
    ensure_ready(settings, load_demo=False, say=said.append, show_password=True)
    password = re.search(r"password: (\S+)", "\n".join(said)).group(1)
    assert _can_log_in(settings, password)
    said.clear()
    ensure_ready(settings, load_demo=False, say=said.append, show_password=True)
    assert "password" not in "\n".join(said)  # an admin exists: nothing new to show


def test_redirected_output_never_holds_the_password(settings, session_factory, tmp_path,
                                                    monkeypatch):
    """CliRunner's stdout is not a terminal, like `make run > server.log`."""
    import_specs(session_factory, tmp_path / "ck", [SeqSpec("S005", "001")])  # not empty: no demo
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: served.append(k))  # no real server
    env = {"ONSET_DATA_DIR": str(settings.data_dir),
           "ONSET_DATABASE_URL": settings.resolved_database_url}
    runner = CliRunner()
    setup = runner.invoke(cli, ["serve", "--setup"], env=env)
    assert setup.exit_code == 0, setup.output
    assert served and "onset user passwd admin" in setup.output
    assert not re.search(r"password: \S", setup.output)

    reset = runner.invoke(cli, ["user", "passwd", "admin"], input="a-new-long-password\n",
                          env=env)
    assert reset.exit_code == 0, reset.output
    assert _can_log_in(settings, "a-new-long-password")
