"""app.db.one_writer: on SQLite this process's write transactions run one after another (no
busy-handler backoff between them; on PostgreSQL row locks order the saves), and a failed
one is rolled back before the next goes, on both."""

import threading
import time

import pytest
from sqlalchemy import func, select

from app.db import one_writer
from app.models import User


def _add_user(session, name: str) -> None:
    session.add(User(name=name, role="reviewer", password_hash="!no-login"))
    session.flush()


def test_sqlite_writers_take_turns_and_all_commit(session_factory):
    inside, most, errors = [0], [0], []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            with session_factory() as session, one_writer(session):
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                _add_user(session, f"writer{n}")
                time.sleep(0.01)  # a transaction long enough for the others to arrive
                with lock:
                    inside[0] -= 1
                session.commit()
        except Exception as exc:  # noqa: BLE001 (reported below, with the thread's number)
            errors.append((n, repr(exc)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with session_factory() as session:
        assert session.scalar(select(func.count(User.id))) == 8
        sqlite = session.get_bind().dialect.name == "sqlite"
    # On SQLite one at a time; PostgreSQL lets them overlap (nothing to order here).
    assert most[0] == 1 if sqlite else most[0] >= 1


def test_a_failed_write_is_rolled_back_before_the_next(session):
    with pytest.raises(RuntimeError), one_writer(session):
        _add_user(session, "half-done")
        raise RuntimeError("a refusal after the first statement")
    # Nothing of it is pending or stored, and the session writes again at once.
    assert session.scalar(select(User).where(User.name == "half-done")) is None
    with one_writer(session):
        _add_user(session, "next")
        session.commit()
    assert session.scalar(select(func.count(User.id))) == 1
