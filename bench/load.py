"""Load: many reviewers saving at once through the JSON API of a real `onset serve`-style
server (one uvicorn process, the app as shipped), for a fixed time, on SQLite or PostgreSQL.

Prints saves per second, the save latency (p50, p95) as a ratio against a static file
fetched from the same server under the same load, the errors, and the lost writes: after the
run every acknowledged save is looked up in the audit log and the stored rows (0 is the only
acceptable figure). Loopback only; every loop is bounded by the duration.

    .venv/bin/python bench/load.py [--reviewers 50] [--seconds 60] [--subjects 20]
    .venv/bin/python bench/load.py --postgres postgresql+psycopg://onset@127.0.0.1:55432/postgres
"""

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_OUT, full_scale_demo  # noqa: E402

STATIC_PATH = "/static/css/onset.css"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def prepare(url: str, subjects: int, reviewers: int) -> tuple[list[int], dict[str, str]]:
    """Migrate, import the demo, create the reviewers; (sequence ids, tokens by name)."""
    from sqlalchemy import select

    from app.config import Settings
    from app.db import make_engine, make_session_factory, session_scope
    from app.migrate import upgrade
    from app.models import Sequence
    from app.services.importer import import_ckplus
    from app.services.users import create_user, new_api_token

    upgrade(Settings(database_url=url))
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        import_ckplus(session, root=full_scale_demo(subjects=subjects))
    with session_scope(factory) as session:
        tokens = {f"load{i}": new_api_token(session, user=create_user(
            session, name=f"load{i}", password="bench password 123"))
            for i in range(reviewers)}
        ids = list(session.scalars(select(Sequence.id).order_by(Sequence.id)))
    engine.dispose()
    return ids, tokens


def start_server(url: str, data_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "ONSET_DATA_DIR": str(data_dir), "ONSET_DATABASE_URL": url,
           "ONSET_SECRET_KEY": "bench", "ONSET_JOB_RUNNER": "false"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(base + "/login", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not answer within 120 s")


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.save_ms: list[float] = []
        self.static_ms: list[float] = []
        self.acked: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
        self.conflicts = 0
        self.errors: list[str] = []


def reviewer(name: str, token: str, ids: list[int], base: str, until: float,
             results: Results, seed: int) -> None:
    rng = random.Random(seed)
    versions: dict[int, int] = {}
    with httpx.Client(base_url=base, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as api:
        n = 0
        while time.monotonic() < until:
            seq = rng.choice(ids)
            n += 1
            note = f"{name} #{n}"
            started = time.perf_counter()
            try:
                response = api.put(f"/api/sequences/{seq}/annotation", json={
                    "label": rng.randint(0, 7), "onset_frame": 1, "note": note,
                    "exclude": False, "version": versions.get(seq, 0)})
            except httpx.HTTPError as exc:
                with results.lock:
                    results.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with results.lock:
                if response.status_code == 200:
                    versions[seq] = response.json()["version"]
                    results.acked[(seq, name)].append((versions[seq], note))
                    results.save_ms.append(elapsed)
                elif response.status_code == 409:  # only another tab of ours could do that
                    results.conflicts += 1
                    versions[seq] = response.json()["current"]["version"]
                else:
                    results.errors.append(f"{response.status_code} {response.text[:120]}")


def static_probe(base: str, until: float, results: Results) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < until:
            started = time.perf_counter()
            response = client.get(STATIC_PATH)
            elapsed = (time.perf_counter() - started) * 1000
            with results.lock:
                if response.status_code == 200:
                    results.static_ms.append(elapsed)
                else:
                    results.errors.append(f"static {response.status_code}")
            time.sleep(0.05)


def lost_writes(url: str, results: Results) -> int:
    """Acknowledged saves missing from the audit log, or newer than the stored row."""
    from sqlalchemy import select

    from app.db import make_engine, make_session_factory
    from app.models import Annotation, AuditEntry, User

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        names = dict(session.execute(select(User.id, User.name)).all())
        stored = {(a.sequence_id, names[a.user_id]): a.version
                  for a in session.scalars(select(Annotation))}
        logged = {(e.sequence_id, names[e.user_id], e.after["version"]): e.after["note"]
                  for e in session.scalars(select(AuditEntry).where(
                      AuditEntry.action == "annotation.save"))}
    engine.dispose()
    lost = 0
    for (seq, name), acks in results.acked.items():
        for version, note in acks:
            if logged.get((seq, name, version)) != note or stored.get((seq, name), 0) < version:
                lost += 1
    return lost


def fresh_postgres(server: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"onset_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_postgres(server: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--subjects", type=int, default=20, help="demo size (123: CK+ scale)")
    parser.add_argument("--postgres", metavar="SERVER_URL", help="run on a new database on "
                        "this PostgreSQL server (dropped afterwards) instead of SQLite")
    args = parser.parse_args()

    folder = BENCH_OUT / "load"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "onset.db").unlink(missing_ok=True)
    url = fresh_postgres(args.postgres) if args.postgres else f"sqlite:///{folder / 'onset.db'}"
    database = "PostgreSQL" if args.postgres else "SQLite (WAL)"
    try:
        ids, tokens = prepare(url, args.subjects, args.reviewers)
        log = folder / f"server-{'postgresql' if args.postgres else 'sqlite'}.log"
        server, base = start_server(url, folder, log)
        results = Results()
        until = time.monotonic() + args.seconds
        threads = [threading.Thread(target=reviewer, args=(name, token, ids, base, until,
                                                           results, i))
                   for i, (name, token) in enumerate(tokens.items())]
        threads.append(threading.Thread(target=static_probe, args=(base, until, results)))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 120)
        wall = time.monotonic() - started
        server.terminate()
        server.wait(timeout=30)
        lost = lost_writes(url, results)
    finally:
        if args.postgres:
            drop_postgres(args.postgres, url)
    saves = len(results.save_ms)
    save50, save95 = percentile(results.save_ms, 0.5), percentile(results.save_ms, 0.95)
    static50, static95 = percentile(results.static_ms, 0.5), percentile(results.static_ms, 0.95)
    print(f"{database}: {args.reviewers} concurrent reviewers for {wall:.0f} s, "
          f"{len(ids)} sequences")
    print(f"  saves acknowledged   {saves} ({saves / wall:.1f} saves/s), "
          f"{results.conflicts} conflicts (409)")
    print(f"  save latency         p50 {save50:.0f} ms, p95 {save95:.0f} ms")
    print(f"  static file latency  p50 {static50:.1f} ms, p95 {static95:.1f} ms "
          f"({len(results.static_ms)} requests, same server, same load)")
    print(f"  save / static        p50 {save50 / static50:.1f}x, p95 {save95 / static95:.1f}x")
    print(f"  errors               {len(results.errors)}"
          + (f" (first: {results.errors[0]})" if results.errors else ""))
    print(f"  lost writes          {lost}")
    if results.errors:
        print(f"  server log: {log}")
    if lost:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
