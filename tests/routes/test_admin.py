"""Admin pages and the jobs API: roles, validation, pages that render."""

import re

from app.models import ExportSnapshot, Job
from tests.support.web import admin_only_routes, login


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_reviewers_get_403_on_every_admin_action(client, app, make_user):
    make_user("rev1")
    token = login(client, "rev1")
    routes = admin_only_routes(app)
    assert ("POST", "/api/jobs") in routes and ("GET", "/admin") in routes
    for method, path in routes:
        response = client.request(method, _fill(path), headers={"X-CSRF-Token": token,
                                                                "Accept": "application/json"},
                                  json={"kind": "train", "params": {}})
        assert response.status_code == 403, (method, path, response.status_code)
        assert "Only admins" in response.text


def test_job_api_validates_and_queues(client, make_user, session_factory, settings, tmp_path):
    make_user("boss", "admin")
    token = login(client, "boss")
    headers = {"X-CSRF-Token": token}
    bad = client.post("/api/jobs", json={"kind": "train", "params": {"dataset": "nope"}},
                      headers=headers)
    assert bad.status_code == 422 and "no export snapshot with id 'nope'" in bad.text
    assert client.post("/api/jobs", json={"kind": "dance"}, headers=headers).status_code == 422

    folder = tmp_path / "export"
    folder.mkdir()
    with session_factory() as session:
        session.add(ExportSnapshot(id="snap1", path=str(folder), params={}, counts={},
                                   selection={}))
        session.commit()
    created = client.post("/api/jobs", json={"kind": "train", "params": {
        "dataset": "snap1", "preset": "baseline", "folds": 2, "epochs": 1}}, headers=headers)
    assert created.status_code == 201
    job_id = created.json()["id"]
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "queued"  # no runner thread in this test
    assert job["params"] == {"dataset": "snap1", "preset": "baseline", "config": None,
                             "folds": 2, "epochs": 1, "seed": 0}

    cancelled = client.post(f"/api/jobs/{job_id}/cancel", headers=headers).json()
    assert cancelled["status"] == "cancelled"
    assert client.get("/api/jobs/999").status_code == 404


def test_admin_pages_render(client, make_user, session_factory):
    make_user("boss", "admin")
    login(client, "boss")
    with session_factory() as session:
        session.add(Job(kind="crop", params={"source": "landmarks", "argv": ["x"]},
                        status="failed", note="exited with code 2; see the log"))
        session.commit()
    page = client.get("/admin")
    assert page.status_code == 200
    assert "Start training" in page.text and "Job history" in page.text
    job_page = client.get("/admin/jobs/1")
    assert "exited with code 2" in job_page.text and "<dt>source</dt>" in job_page.text
    assert "argv" not in job_page.text  # the command line is in the log, not the facts
    # The live part's update also carries the history (out of band), so a job that just
    # finished shows there without a reload.
    live = client.get("/admin", headers={"HX-Request": "true"})
    assert live.text.lstrip().startswith('<section id="live"')
    assert 'id="history" hx-swap-oob="true"' in live.text and "exited with code 2" in live.text
    assert client.get("/admin/jobs/77").status_code == 404
    form_error = client.post("/admin/jobs", data={"kind": "crop", "source": "opencv",
                                                  "csrf_token": login(client, "boss")},
                             headers={"HX-Request": "true"})
    assert form_error.status_code == 422
    assert "source: &#39;opencv&#39; is not one of" in form_error.text


def test_the_train_form_offers_every_preset(client, make_user):
    from tests.support.web import login
    from training.config import PRESETS

    make_user("boss", role="admin")
    login(client, "boss")
    page = client.get("/admin").text
    for name in PRESETS:
        assert f'<option value="{name}"' in page
    assert '<option value="default" selected>' in page
