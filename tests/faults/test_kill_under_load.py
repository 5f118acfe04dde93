"""Many reviewer clients save through the JSON API at once (several tabs on the same
annotation, stale versions mixed in) while the server is killed with SIGKILL and restarted.
Afterwards: every acknowledged save is in the audit log and is the stored row or was
superseded by a later save, no two acknowledgements share a version, every knowingly stale
save got 409, nothing got a 5xx, and SQLite's integrity check is ok.

Bounded: 24 clients, 3 kills, 40 acknowledged saves before each kill and after the last
restart (each phase at most 90 s), loopback only."""

import random
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope, sqlite_path
from app.models import Annotation, AuditEntry, User
from app.services.users import create_user, new_api_token
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.live_server import LiveServer, wait_for

USERS = 6
TABS = 4  # clients per user: each user's tabs race on the same annotations
SEQUENCES = 3
KILLS = 3
PHASE_SAVES = 40  # acknowledged saves before each kill, and after the last restart
PHASE_TIMEOUT_S = 90.0
STALE_SHARE = 0.2


@dataclass
class Ledger:
    """What the clients were told, per annotation (sequence id, user name)."""

    acked: dict = field(default_factory=lambda: defaultdict(list))  # -> [(version, note)]
    stale_answers: list[int] = field(default_factory=list)  # status codes of stale saves
    server_errors: list[str] = field(default_factory=list)
    conflicts: int = 0
    unknown: int = 0  # connection lost: the save may or may not have landed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return sum(len(a) for a in self.acked.values())


class Target:
    def __init__(self, url: str):
        self.url = url
        self.lock = threading.Lock()

    def get(self) -> str:
        with self.lock:
            return self.url

    def set(self, url: str) -> None:
        with self.lock:
            self.url = url


def _client_loop(client_id: int, user: str, token: str, sequence_ids: list[int],
                 target: Target, ledger: Ledger, stop: threading.Event) -> None:
    rng = random.Random(client_id)
    known: dict[int, int] = {}  # highest version this client has seen, per sequence
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while not stop.is_set():
        seq = rng.choice(sequence_ids)
        try:
            with httpx.Client(base_url=target.get(), headers=headers, timeout=10) as api:
                if seq not in known or rng.random() < 0.3:
                    mine = api.get(f"/api/sequences/{seq}").json()["my_annotation"]
                    known[seq] = max(known.get(seq, 0), mine["version"] if mine else 0)
                stale = known[seq] >= 1 and rng.random() < STALE_SHARE
                version = rng.randrange(known[seq]) if stale else known[seq]
                n += 1
                note = f"c{client_id}-{n}"
                response = api.put(f"/api/sequences/{seq}/annotation", json={
                    "label": rng.randint(0, 7), "onset_frame": rng.randint(1, 5),
                    "note": note, "exclude": False, "version": version})
        except (httpx.TransportError, ValueError):
            with ledger.lock:
                ledger.unknown += 1
            known.pop(seq, None)  # reload before the next save, as a browser would
            time.sleep(0.5)
            continue
        with ledger.lock:
            if response.status_code >= 500:
                ledger.server_errors.append(f"{response.status_code} {response.text[:200]}")
            if stale:
                ledger.stale_answers.append(response.status_code)
            if response.status_code == 200:
                saved = response.json()["version"]
                ledger.acked[(seq, user)].append((saved, note))
                known[seq] = saved
            elif response.status_code == 409:
                ledger.conflicts += 1
                known[seq] = max(known[seq], response.json()["current"]["version"])


def _site(url: str, tmp_path) -> tuple[Settings, list[int], dict[str, str]]:
    settings = Settings(data_dir=tmp_path / "var", database_url=url)
    factory = make_session_factory(make_engine(url))
    ids = import_specs(factory, tmp_path / "ck",
                       [SeqSpec("S005", f"00{i}", frames=5) for i in range(1, SEQUENCES + 1)])
    with session_scope(factory) as session:
        tokens = {f"rev{i}": new_api_token(session, user=create_user(
            session, name=f"rev{i}", password="not used here")) for i in range(USERS)}
    factory.kw["bind"].dispose()
    return settings, sorted(ids.values()), tokens


def _check_stored(url: str, ledger: Ledger) -> int:
    """Every acknowledged save against the database; returns the saves stored."""
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        names = dict(session.execute(select(User.id, User.name)).all())
        stored = {(a.sequence_id, names[a.user_id]): a for a in session.scalars(
            select(Annotation))}
        history = defaultdict(dict)
        for entry in session.scalars(select(AuditEntry).where(
                AuditEntry.action == "annotation.save")):
            key = (entry.sequence_id, names[entry.user_id])
            assert entry.after["version"] not in history[key], f"version saved twice: {key}"
            history[key][entry.after["version"]] = entry.after["note"]
    factory.kw["bind"].dispose()
    for key, acks in ledger.acked.items():
        versions = [v for v, _ in acks]
        assert len(versions) == len(set(versions)), f"two saves acknowledged as one: {key}"
        row = stored[key]
        assert sorted(history[key]) == list(range(1, row.version + 1)), key  # no gap
        assert history[key][row.version] == row.note, key  # the stored row is the last save
        for version, note in acks:
            assert history[key].get(version) == note, f"acknowledged save lost: {key} v{version}"
            assert version <= row.version  # the stored one, or superseded by a later save
    return sum(len(h) for h in history.values())


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_acknowledged_save_is_lost_when_the_server_is_killed(backend, backend_url,
                                                                tmp_path):
    url = backend_url(backend)
    settings, sequence_ids, tokens = _site(url, tmp_path)
    server = LiveServer(settings, tmp_path / "server.log").start(timeout=90)
    target, ledger, stop = Target(server.base_url), Ledger(), threading.Event()
    clients = [threading.Thread(target=_client_loop, args=(
        i, user, tokens[user], sequence_ids, target, ledger, stop))
        for i, user in enumerate(u for u in tokens for _ in range(TABS))]
    kills, restarts = 0, []
    try:
        for client in clients:
            client.start()
        for phase in range(KILLS + 1):
            # Bounded by count, then by time: a busy machine takes longer, not less load.
            wait_for(lambda goal=PHASE_SAVES * (phase + 1): ledger.count() >= goal,
                     timeout=PHASE_TIMEOUT_S, interval=0.05,
                     what=f"{PHASE_SAVES} more acknowledged saves (phase {phase + 1})")
            if phase < KILLS:
                server.kill()  # SIGKILL mid-load: no shutdown, requests in flight
                kills += 1
                started = time.monotonic()
                server.start(timeout=90)  # generous: CI machines are shared and busy
                restarts.append(time.monotonic() - started)
                target.set(server.base_url)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)
        server.stop()

    acked = sum(len(a) for a in ledger.acked.values())
    print(f"{backend}: {len(clients)} clients, {kills} kills, {acked} saves acknowledged, "
          f"{ledger.conflicts} conflicts (409), {len(ledger.stale_answers)} stale saves, "
          f"{ledger.unknown} lost connections, {len(ledger.server_errors)} server errors; "
          f"restarts took {', '.join(f'{r:.1f}' for r in restarts)} s")
    assert ledger.server_errors == []
    assert acked >= PHASE_SAVES * (KILLS + 1)
    assert ledger.stale_answers and set(ledger.stale_answers) == {409}
    stored = _check_stored(url, ledger)
    assert stored >= acked  # plus saves that landed while their answer was cut off
    if (database := sqlite_path(url)) is not None:
        db = sqlite3.connect(database)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
