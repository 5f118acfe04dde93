"""Run folders on disk: the runs page lists them without writing (a GET registers nothing);
the server registers them at start-up, and a promotion registers the one it promotes."""

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.models import Run
from tests.support.web import login


def _run_folder(settings, name: str) -> None:
    folder = settings.runs_dir / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"accuracy": {"mean": 0.5, "std": 0.1,
                                                                  "per_fold": [0.4, 0.6]},
                                                     "macro_f1": 0.45}))
    (folder / "config.json").write_text(json.dumps({"config": {"name": "baseline"}}))


def _rows(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Run))


def test_a_get_lists_runs_on_disk_without_writing(client, make_user, settings, session_factory):
    make_user("boss", "admin")
    token = login(client, "boss")
    _run_folder(settings, "20250101-run-a")  # made after the server started
    assert "20250101-run-a" in client.get("/runs").text
    assert client.get("/api/runs/20250101-run-a").json()["id"] == "20250101-run-a"
    assert "20250101-run-a" in client.get("/api/runs").text
    assert _rows(session_factory) == 0
    refused = client.post("/runs/20250101-run-a/promote", data={"csrf_token": token})
    assert refused.status_code == 422 and "no model.keras" in refused.text
    (settings.runs_dir / "20250101-run-a" / "model.keras").write_bytes(b"stand-in")
    promoted = client.post("/runs/20250101-run-a/promote", data={"csrf_token": token},
                           follow_redirects=False)
    assert promoted.status_code == 303 and _rows(session_factory) == 1
    with session_factory() as session:
        assert session.get(Run, "20250101-run-a").active


def test_the_server_registers_run_folders_at_start_up(app, settings, session_factory):
    _run_folder(settings, "20250102-run-b")
    assert _rows(session_factory) == 0
    with TestClient(app):
        assert _rows(session_factory) == 1
