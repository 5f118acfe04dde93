"""`onset db backup` while a real server runs and reviewers save, and `onset db restore`:
every backup is one consistent instant (each save's annotation version matches its audit
entries), restore refuses while the server holds the database, keeps what it replaces, and
refuses files that are not sound Onset backups without changing anything."""

import json
import random
import shutil
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope
from app.services.users import create_user, new_api_token
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.live_server import LiveServer, wait_for

REVIEWERS = ("rev1", "rev2", "rev3", "rev4")


def onset(settings: Settings, *args: str):
    """The command in this process (the server it runs beside is a process of its own)."""
    env = {"ONSET_DATA_DIR": str(settings.data_dir),
           "ONSET_DATABASE_URL": settings.resolved_database_url}
    return CliRunner().invoke(cli, list(args), env=env)


def consistency(path: Path) -> dict[str, int]:
    """Integrity, and the invariant every committed save keeps: an annotation at version v
    has exactly v audit entries (one per save, written in the same transaction)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("""SELECT a.version, (SELECT count(*) FROM audit_log e WHERE
            e.action = 'annotation.save' AND e.sequence_id = a.sequence_id AND
            e.user_id = a.user_id) FROM annotations a""").fetchall()
        assert all(version == saves for version, saves in rows), rows
        return {"annotations": len(rows), "saves": sum(v for v, _ in rows)}
    finally:
        db.close()


@pytest.fixture
def sqlite_site(tmp_path, migrated_template):
    """A SQLite database (backups are SQLite's; PostgreSQL has pg_dump) with sequences and
    reviewers who hold API tokens."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    shutil.copy(migrated_template, data_dir / "onset.db")
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'onset.db'}")
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    ids = import_specs(factory, tmp_path / "ck",
                       [SeqSpec("S005", f"00{i}", frames=6, label=5.0) for i in range(1, 4)])
    with session_scope(factory) as session:
        tokens = {name: new_api_token(session, user=create_user(
            session, name=name, password="not used here")) for name in REVIEWERS}
    yield settings, sorted(ids.values()), tokens
    factory.kw["bind"].dispose()


class Reviewers:
    """Reviewers saving as fast as they can through the JSON API, each with the versions
    it was answered (so no save is stale unless another tab of the same user wrote)."""

    def __init__(self, base_url: str, tokens: dict[str, str], sequence_ids: list[int]):
        self.base_url, self.tokens, self.sequence_ids = base_url, tokens, sequence_ids
        self.stop = threading.Event()
        self.acknowledged = 0
        self._lock = threading.Lock()
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._work, args=(name,)) for name in tokens]

    def _work(self, name: str) -> None:
        versions = dict.fromkeys(self.sequence_ids, 0)
        rng = random.Random(name)
        with httpx.Client(base_url=self.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {self.tokens[name]}"}) as api:
            for n in range(1_000_000):
                if self.stop.is_set():
                    break
                seq = rng.choice(self.sequence_ids)
                response = api.put(f"/api/sequences/{seq}/annotation", json={
                    "label": rng.randint(0, 7), "onset_frame": rng.randint(1, 6),
                    "note": f"{name} save {n}", "version": versions[seq]})
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
                    return
                versions[seq] = response.json()["version"]
                with self._lock:
                    self.acknowledged += 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def test_backups_are_consistent_while_reviewers_save_and_restore_keeps_everything(
        sqlite_site, tmp_path):
    settings, sequence_ids, tokens = sqlite_site
    server = LiveServer(settings, tmp_path / "server.log").start()
    backups: list[tuple[Path, dict]] = []
    try:
        with Reviewers(server.base_url, tokens, sequence_ids) as reviewers:
            for n in range(3):
                wait_for(lambda n=n: reviewers.acknowledged >= 15 * (n + 1), timeout=30,
                         what="reviewers saving")  # backups *while* saves go on
                target = tmp_path / f"backup-{n}.db"
                result = onset(settings, "db", "backup", str(target), "--json")
                assert result.exit_code == 0, result.stderr
                summary = json.loads(result.stdout)
                assert summary["integrity"] == "ok" and summary["revision"]
                backups.append((target, consistency(target)))
            refused = onset(settings, "db", "restore", str(backups[0][0]))
        acknowledged = reviewers.acknowledged
        assert reviewers.failures == [], reviewers.failures[:3]
        assert acknowledged > 20, "the reviewers hardly saved: the test proved little"
        print(f"{acknowledged} saves acknowledged around 3 backups: "
              f"{[b['saves'] for _, b in backups]} in the backups")
        assert [b["saves"] for _, b in backups] == sorted(b["saves"] for _, b in backups)
        assert refused.exit_code == 2
        assert f"pid {server.process.pid}" in refused.stderr and "stop it first" in refused.stderr
        assert "Nothing was changed" in refused.stderr
        live = consistency(Path(settings.data_dir / "onset.db"))
        assert live["saves"] == acknowledged  # every acknowledged save is stored
    finally:
        server.stop()

    restored = onset(settings, "db", "restore", str(backups[1][0]), "--json")
    assert restored.exit_code == 0, restored.stderr
    summary = json.loads(restored.stdout)
    assert consistency(Path(summary["path"])) == backups[1][1]
    kept = Path(summary["kept_previous"])
    assert consistency(kept)["saves"] == acknowledged  # what the restore replaced is kept

    again = LiveServer(settings, tmp_path / "server2.log").start()
    try:
        stats = httpx.get(f"{again.base_url}/api/stats", timeout=10,
                          headers={"Authorization": f"Bearer {tokens['rev1']}"})
        assert stats.status_code == 200
    finally:
        again.stop()


def _fingerprint(path: Path) -> bytes:
    db = sqlite3.connect(path)
    try:
        return repr(db.execute("SELECT * FROM annotations ORDER BY id").fetchall()
                    + db.execute("SELECT count(*) FROM users").fetchall()).encode()
    finally:
        db.close()


def test_restore_refuses_what_is_not_a_sound_onset_backup(sqlite_site, tmp_path):
    settings, _, _ = sqlite_site
    live = settings.data_dir / "onset.db"
    before = _fingerprint(live)
    good = tmp_path / "good.db"
    assert onset(settings, "db", "backup", str(good)).exit_code == 0

    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database\n")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    cases = {text_file: "is not a SQLite database", other: "not Onset's",
             truncated: "", tmp_path / "missing.db": "no such file"}
    for path, message in cases.items():
        result = onset(settings, "db", "restore", str(path))
        assert result.exit_code == 2, (path, result.stdout)
        assert "error:" in result.stderr and message in result.stderr, (path, result.stderr)
        assert str(path.name) in result.stderr
    assert _fingerprint(live) == before
    assert not list(settings.data_dir.glob("onset.db.before-restore-*"))


def test_backup_names_what_is_wrong(sqlite_site, tmp_path):
    settings, _, _ = sqlite_site
    to_self = onset(settings, "db", "backup", str(settings.data_dir / "onset.db"))
    assert to_self.exit_code == 2 and "is the database itself" in to_self.stderr
    to_folder = onset(settings, "db", "backup", str(tmp_path))
    assert to_folder.exit_code == 2 and "is a folder" in to_folder.stderr
    nowhere = onset(settings, "db", "backup", str(tmp_path / "no" / "such" / "b.db"))
    assert nowhere.exit_code == 2 and "no such folder" in nowhere.stderr
    postgres = settings.model_copy(update={
        "database_url": "postgresql+psycopg://onset@127.0.0.1:1/onset"})
    for command in ("backup", "restore"):
        result = onset(postgres, "db", command, str(tmp_path / "x.db"))
        assert result.exit_code == 2 and "pg_dump" in result.stderr, result.stderr
    assert "online backup API" in onset(settings, "db", "backup", "--help").stdout
