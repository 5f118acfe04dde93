"""Engine and sessions. SQLite runs in WAL mode with foreign keys and a busy timeout so
that the web server, the CLI and background jobs can share one database file safely."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000
# At least as many connections as the server's worker threads (Settings.worker_threads):
# a request waiting for a pooled connection must never wait on another request that can't
# finish. SQLite connections are cheap; WAL lets them all read at once.
POOL_SIZE, POOL_OVERFLOW = 16, 48


def make_engine(url: str) -> Engine:
    is_sqlite = url.startswith("sqlite")
    if is_sqlite and ":memory:" not in url:
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if is_sqlite
        else {},
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
    )
    if is_sqlite:
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # WAL makes NORMAL durable against application crashes; only power loss can lose the
    # last transactions, which is the usual trade for a local workbench.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# SQLite lets one connection write at a time; a writer that finds the lock taken sleeps in
# SQLite's busy handler (1, 2, 5 ... up to 100 ms between tries) however soon the lock is
# free. This process's writers queue here instead, woken the moment the one before
# commits; other processes (the CLI, jobs) still meet the busy timeout. Its effect was not
# measured alone: with 8 worker threads and this lock a save's p95 under 20 reviewers was
# 195-249 ms (bench/review_latency.py); with AnyIO's 40 threads it was 460 ms with the lock
# and 614 ms without, in runs on a busier machine.
_SQLITE_WRITER = threading.Lock()


@contextmanager
def one_writer(session: Session) -> Iterator[None]:
    """Around a write transaction and its commit: on SQLite, this process's writes run one
    after another (on PostgreSQL row locks order concurrent saves); a failure is rolled
    back before the next writer goes."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    with _SQLITE_WRITER if sqlite else nullcontext():
        try:
            yield
        except BaseException:
            session.rollback()  # never leave SQLite's write lock to the next writer's wait
            raise


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --- which server holds a SQLite database -------------------------------------------------
# Every `onset serve` holds a shared flock on "<database>.server-lock" while it runs (the
# kernel drops it when the process dies, even by SIGKILL), so `onset db restore` can tell
# that a server is using the file, and which one, instead of replacing it under its feet.

def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite") or ":memory:" in url or "///" not in url:
        return None
    return Path(url.split("///", 1)[1].split("?", 1)[0])


def _lock_file(database: Path) -> Path:
    return database.with_name(database.name + ".server-lock")


def hold_server_lock(url: str):
    """Take the shared server lock of a SQLite database; returns the open file (keep it
    open while serving, close it to release) or None for other databases. Raises
    RuntimeError while `onset db restore` holds the database."""
    import fcntl

    database = sqlite_path(url)
    if database is None:
        return None
    database.parent.mkdir(parents=True, exist_ok=True)
    handle = _lock_file(database).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(f"{database} is being restored (`onset db restore`); "
                           "start the server when it has finished") from None
    return handle


def lock_exclusively(database: Path):
    """The exclusive lock `onset db restore` holds while it works; the open file, or a
    list of the pids of the servers holding the database."""
    import fcntl

    handle = _lock_file(database).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return _lock_holders(_lock_file(database))
    return handle


def _lock_holders(lock_file: Path) -> list[int]:
    """Pids holding flocks on `lock_file`, from /proc/locks (Linux); empty elsewhere."""
    try:
        inode = lock_file.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = set()
    for line in lines:
        fields = line.split()
        if "->" in fields:
            fields.remove("->")  # a waiting lock
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(f":{inode}"):
            pids.add(int(fields[4]))
    return sorted(pids)
