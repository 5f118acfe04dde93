"""The short write path on SQLite: every connection runs in WAL mode with
synchronous=NORMAL (no fsync per commit; README, "Review latency"), and a committed save is
in the database file's WAL for a connection that opens it afterwards."""

import sqlite3

import pytest
from sqlalchemy import select

from app.db import make_engine, sqlite_path
from app.models import Sequence
from app.services.importer import import_ckplus
from app.services.review import ReviewInput, save_annotation
from tests.support.ckplus import SeqSpec, write_ckplus


@pytest.fixture
def sqlite_url(database_url) -> str:
    if sqlite_path(database_url) is None:
        pytest.skip("SQLite pragmas: this run's database is PostgreSQL")
    return database_url


def test_connections_run_wal_with_synchronous_normal(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_a_committed_save_is_seen_by_a_new_connection(sqlite_url, session, tmp_path,
                                                      make_user):
    import_ckplus(session, root=write_ckplus(tmp_path / "ck", [SeqSpec("S005", "001")]))
    session.commit()
    seq_id = session.scalar(select(Sequence.id))
    save_annotation(session, sequence_id=seq_id, user=make_user("rev1"), data=ReviewInput(
        label=5, onset_frame=2, apex_frame=None, note="", exclude=False, version=0))
    session.commit()
    other = sqlite3.connect(sqlite_path(sqlite_url))  # not through the app's pool
    try:
        assert other.execute("SELECT label, version FROM annotations").fetchall() == [(5, 1)]
        assert other.execute("SELECT reviewers, label FROM review_tallies").fetchall() == [
            (1, 5)]
    finally:
        other.close()
