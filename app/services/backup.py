"""Backups of a SQLite database with SQLite's online backup API, and restoring one.

A backup copies the database in one step of the backup API: that is one read transaction,
so the copy is the database as of one instant (a consistent snapshot, never half a save)
even while the server runs and reviewers save; in WAL mode readers never block writers, so
nobody waits for it either. The copy is written under a temporary name, checked with
`PRAGMA integrity_check`, and only then renamed into place.

A restore refuses while a server holds the database (see app/db.py's server lock), keeps
the current database beside it as `<name>.before-restore-<time>`, and copies the backup in
through the same API, so the result is whole or the old database stays."""

import os
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.db import lock_exclusively, sqlite_path

COUNTED = (("annotations", "annotations"), ("decisions", "decisions"),
           ("audit_entries", "audit_log"), ("users", "users"), ("sequences", "sequences"))


class BackupError(Exception):
    """Why a backup or restore cannot be done; the message says what to do instead."""


@dataclass
class BackupSummary:
    path: str
    bytes: int
    seconds: float
    revision: str | None
    integrity: str
    counts: dict[str, int]
    kept_previous: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def database_file(url: str) -> Path:
    path = sqlite_path(url)
    if path is None:
        raise BackupError(
            "`onset db backup` and `onset db restore` work on SQLite databases; for "
            "PostgreSQL use its own tools: `pg_dump -Fc -f FILE DATABASE` and "
            "`pg_restore --clean -d DATABASE FILE`")
    return path


def _inspect(connection: sqlite3.Connection) -> tuple[str, str | None, dict[str, int]]:
    integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
    tables = {row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    revision = (connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
                if "alembic_version" in tables else None)
    counts = {name: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
              for name, table in COUNTED if table in tables}
    return integrity, revision, counts


def backup(url: str, destination: Path) -> BackupSummary:
    source_path = database_file(url)
    if not source_path.is_file():
        raise BackupError(f"there is no database at {source_path} to back up")
    destination = destination.expanduser().absolute()
    if destination.resolve() == source_path.resolve():
        raise BackupError(f"{destination} is the database itself; name another file")
    if destination.is_dir():
        raise BackupError(f"{destination} is a folder; name the backup file, e.g. "
                          f"{destination / 'onset-backup.db'}")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent}: no such folder")
    started = time.perf_counter()
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(source_path, timeout=30)
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # pages=-1: the whole database in one consistent step
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            integrity, revision, counts = _inspect(target)
        finally:
            target.close()
            source.close()
        if integrity != "ok":
            raise BackupError(f"the copy failed its integrity check ({integrity}); the "
                              "database may be damaged: keep your older backups")
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return BackupSummary(str(destination), destination.stat().st_size,
                         round(time.perf_counter() - started, 3), revision, integrity, counts)


def _check_backup_file(path: Path) -> tuple[str | None, dict[str, int]]:
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with path.open("rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{path} is not a SQLite database (not an `onset db backup` "
                              "file); nothing was changed")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity, revision, counts = _inspect(connection)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a database ({exc}); nothing was "
                          "changed") from None
    finally:
        connection.close()
    if integrity != "ok":
        raise BackupError(f"{path} fails SQLite's integrity check ({integrity}); nothing "
                          "was changed")
    if revision is None:
        raise BackupError(f"{path} is a SQLite database but not Onset's (no schema "
                          "revision); nothing was changed")
    return revision, counts


def restore(url: str, backup_file: Path, *, known_revisions: set[str]) -> BackupSummary:
    """Replace the database with `backup_file`. Raises BackupError (nothing changed) for a
    file that is not a sound Onset backup, or while a server holds the database."""
    target_path = database_file(url)
    backup_file = backup_file.expanduser().absolute()
    revision, _counts = _check_backup_file(backup_file)
    if revision not in known_revisions:
        raise BackupError(f"{backup_file} is at schema revision {revision}, which this version "
                          "of Onset does not know (a newer Onset made it); nothing was changed")
    target_path.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_exclusively(target_path)
    if isinstance(lock, list):
        who = f" (pid {', '.join(map(str, lock))})" if lock else ""
        raise BackupError(
            f"a running `onset serve`{who} holds {target_path}; stop it first (Ctrl+C in its "
            f"terminal{', or kill -TERM ' + ' '.join(map(str, lock)) if lock else ''}), "
            "then run `onset db restore` again. Nothing was changed")
    started = time.perf_counter()
    try:
        kept = None
        if target_path.is_file():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            kept = target_path.with_name(f"{target_path.name}.before-restore-{stamp}")
            backup(f"sqlite:///{target_path}", kept)
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        target = sqlite3.connect(target_path, timeout=30)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
            integrity, revision, counts = _inspect(target)
        finally:
            target.close()
            source.close()
    finally:
        lock.close()
    return BackupSummary(str(target_path), target_path.stat().st_size,
                         round(time.perf_counter() - started, 3), revision, integrity, counts,
                         kept_previous=str(kept) if kept else None)
