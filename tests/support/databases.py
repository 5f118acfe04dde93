"""Which database the suite runs on. SQLite files by default; with
`ONSET_TEST_DATABASE=postgresql` (what `make test-pg` sets) every test that takes the
`settings` fixture gets a fresh PostgreSQL database instead, cloned from one migrated
template database on the server named by `ONSET_TEST_POSTGRES` (a URL such as
postgresql+psycopg://onset@127.0.0.1:55432/postgres, as printed by tests/pg/server.sh)."""

from __future__ import annotations

import os
import uuid
from functools import cache

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql+psycopg://onset@127.0.0.1:55432/postgres"
# One template per test session: several sessions (two engineers, or CI and a developer)
# may share one server, and each drops its own template when it ends.
TEMPLATE_NAME = f"onset_test_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def server_url() -> str:
    return os.environ.get("ONSET_TEST_POSTGRES") or DEFAULT_SERVER


def suite_on_postgres() -> bool:
    return os.environ.get("ONSET_TEST_DATABASE", "sqlite").lower().startswith("postgres")


@cache
def unreachable_reason() -> str | None:
    """None when the PostgreSQL server answers, else why not (for pytest.skip)."""
    try:
        engine = create_engine(server_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver or network error means: not reachable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"no PostgreSQL server reachable at {server_url()} ({first}); start one with "
                "`tests/pg/server.sh start` or set ONSET_TEST_POSTGRES (make test-pg does both)")
    return None


def url_for(database: str) -> str:
    return make_url(server_url()).set(database=database).render_as_string(hide_password=False)


def _admin(statement: str) -> None:
    engine = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


@cache
def template() -> str:
    """The migrated template database of this test session, made on first use and dropped
    when the session's process exits."""
    import atexit

    from app.config import Settings
    from app.migrate import upgrade

    _admin(f'CREATE DATABASE "{TEMPLATE_NAME}"')
    atexit.register(drop_database, TEMPLATE_NAME)
    upgrade(Settings(database_url=url_for(TEMPLATE_NAME)))
    return TEMPLATE_NAME


def create_database(template: str | None = None, prefix: str = "onset_t", *,
                    drop_at_exit: bool = False) -> str:
    """A fresh database (a copy of `template` when given); returns its URL."""
    import atexit

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    if drop_at_exit:
        atexit.register(drop_database, name)
    return url_for(name)


def drop_database(name_or_url: str) -> None:
    name = make_url(name_or_url).database if "://" in name_or_url else name_or_url
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_backend_url(request, tmp_path, migrated_template):
    """Body of the `backend_url` fixture (tests/pg, tests/faults): a factory of migrated
    databases, `make("sqlite")` or `make("postgresql")` (skipped, with the reason, when no
    PostgreSQL server answers); the PostgreSQL ones are dropped afterwards."""
    import shutil

    import pytest

    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite" and suite_on_postgres():
            pytest.skip("the SQLite variant runs in `make test`; this run is on PostgreSQL")
        if backend == "sqlite":
            data_dir = tmp_path / "var"
            data_dir.mkdir(exist_ok=True)
            shutil.copy(migrated_template, data_dir / "onset.db")
            return f"sqlite:///{data_dir / 'onset.db'}"
        if (reason := unreachable_reason()) is not None:
            pytest.skip(reason)
        url = create_database(request.getfixturevalue("postgres_template"))
        created.append(url)
        return url

    return make, created
