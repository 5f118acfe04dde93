"""UTCDateTime on a real SQLite file: what is written comes back as the same moment, aware
and in UTC; a naive datetime is refused when written (app/utc.py says why)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from app.models import Job


def _job(session, **times) -> int:
    job = Job(kind="export", params={}, **times)
    session.add(job)
    session.commit()
    return job.id


def test_a_moment_round_trips_as_aware_utc(session_factory):
    paris_summer = datetime(2025, 7, 1, 14, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    with session_factory() as session:
        job_id = _job(session, created_at=paris_summer, started_at=None)
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job.created_at == paris_summer  # the same moment
        assert job.created_at.tzinfo is UTC and job.created_at.hour == 12
        assert job.started_at is None
        # defaults (utcnow) come back aware too, and compare with aware values
        assert datetime.now(UTC) - job.created_at > timedelta(days=1)


@pytest.mark.sqlite_only
def test_sqlite_keeps_the_naive_utc_text_it_always_held(session_factory):
    with session_factory() as session:
        job_id = _job(session, created_at=datetime(2025, 7, 1, 14, 30, tzinfo=timezone(
            timedelta(hours=2))))
        stored = session.execute(text("SELECT created_at FROM jobs WHERE id = :i"),
                                 {"i": job_id}).scalar_one()
    assert stored.startswith("2025-07-01 12:30:00")  # rows written before read the same


def test_a_naive_datetime_is_refused_naming_the_type(session_factory):
    with session_factory() as session:
        with pytest.raises(StatementError, match="UTCDateTime takes an aware datetime"):
            _job(session, created_at=datetime(2025, 7, 1, 12, 0))
