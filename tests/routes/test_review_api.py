"""The JSON API: shapes and label convention, 200/409/422 on writes, bearer tokens without
CSRF, session cookies with CSRF, admin-only decisions, stats, and the OpenAPI document."""

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.services.users import new_api_token
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.web import login

SPECS = [SeqSpec("S005", "001", frames=6, label=5.0, facs=[(12, 3)]),
         SeqSpec("S005", "002", frames=5), SeqSpec("S010", "001", frames=4, label=3.0)]


@pytest.fixture
def ids(session_factory, tmp_path) -> dict[str, int]:
    return import_specs(session_factory, tmp_path / "ck", SPECS)


@pytest.fixture
def token_for(session_factory, make_user):
    def make(name: str, role: str = "reviewer") -> dict[str, str]:
        user = make_user(name, role)
        with session_factory() as session:
            token = new_api_token(session, user=session.get(type(user), user.id))
            session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


def body(label=5, version=0, **extra) -> dict:
    return {"label": label, "onset_frame": None, "apex_frame": None, "note": "",
            "exclude": False, "version": version, **extra}


def test_list_answers_items_and_total_with_both_label_forms(client, ids, token_for):
    auth = token_for("bot")
    data = client.get("/api/sequences", headers=auth).json()
    assert data["total"] == 3 and len(data["items"]) == 3
    first = data["items"][0]
    assert first["name"] == "S005_001" and first["original_label"] == "happy"
    assert first["original_label_code"] == 5 and first["effective_label"] == "happy"
    assert first["label_source"] == "original" and first["status"] == "unreviewed"
    assert first["thumb_url"].endswith("/thumb.jpg")
    unlabeled = client.get("/api/sequences?nolabel=true", headers=auth).json()
    assert [i["name"] for i in unlabeled["items"]] == ["S005_002"]
    assert client.get("/api/sequences?label=3", headers=auth).json()["total"] == 1
    bad = client.get("/api/sequences?status=finished", headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "status"]


def test_detail_then_put_then_stale_put(client, ids, token_for):
    auth = token_for("bot")
    seq = ids["S005_001"]
    detail = client.get(f"/api/sequences/{seq}", headers=auth).json()
    assert detail["my_annotation"] is None and detail["annotations"] == []
    assert [f["number"] for f in detail["frames"]] == [1, 2, 3, 4, 5, 6]
    frame = detail["frames"][0]
    assert frame["url"] == f"/frames/{frame['id']}.png"
    assert frame["thumb_url"] == f"/frames/{frame['id']}/thumb.jpg"
    assert detail["facs"] == [[12.0, 3.0]]

    saved = client.put(f"/api/sequences/{seq}/annotation", headers=auth,
                       json=body(label=7, onset_frame=3, apex_frame=6, note="wide eyes"))
    assert saved.status_code == 200, saved.text
    assert saved.json()["label"] == "surprise" and saved.json()["label_code"] == 7
    assert saved.json()["version"] == 1
    assert datetime.fromisoformat(saved.json()["updated_at"]).utcoffset() == timedelta(0)
    detail = client.get(f"/api/sequences/{seq}", headers=auth).json()
    mine = detail["my_annotation"]
    assert (mine["label_code"], mine["onset_frame"], mine["apex_frame"], mine["version"]) == (
        7, 3, 6, 1)
    assert datetime.fromisoformat(mine["updated_at"]).utcoffset() == timedelta(0)
    assert detail["effective_label"] == "surprise" and detail["onset_frame"] == 3

    stale = client.put(f"/api/sequences/{seq}/annotation", headers=auth, json=body(label=1))
    assert stale.status_code == 409
    assert stale.json()["changed_by"] == "bot" and "Reload" in stale.json()["detail"]
    assert stale.json()["current"]["label"] == "surprise"
    assert stale.json()["current"]["version"] == 1
    again = client.put(f"/api/sequences/{seq}/annotation", headers=auth,
                       json=body(label=1, version=1))
    assert again.status_code == 200 and again.json()["version"] == 2


@pytest.mark.parametrize(("payload", "field"), [
    (body(label=8), "label"),
    (body(label=None), "label"),
    (body(onset_frame=7), "onset_frame"),
    (body(onset_frame=0), "onset_frame"),
    (body(apex_frame=99), "apex_frame"),
    (body(onset_frame=4, apex_frame=2), "apex_frame"),
    (body(note="n" * 2001), "note"),
    ({"label": 5}, "version"),
    (body(colour="red"), "colour"),
])
def test_invalid_puts_are_422_naming_the_field(client, ids, token_for, payload, field):
    auth = token_for("bot")
    response = client.put(f"/api/sequences/{ids['S005_001']}/annotation", headers=auth,
                          json=payload)
    assert response.status_code == 422
    assert any(err["loc"][-1] == field for err in response.json()["detail"]), response.json()


def test_unknown_sequence_is_404(client, ids, token_for):
    auth = token_for("bot")
    assert client.get("/api/sequences/99999", headers=auth).status_code == 404
    assert client.put("/api/sequences/99999/annotation", headers=auth,
                      json=body()).status_code == 404


def test_browser_session_writes_need_the_csrf_header(client, ids, make_user):
    make_user("rev1")
    token = login(client, "rev1")
    url = f"/api/sequences/{ids['S005_002']}/annotation"
    assert client.put(url, json=body()).status_code == 403
    assert client.put(url, json=body(), headers={"X-CSRF-Token": token}).status_code == 200


def test_decisions_are_for_admins(client, ids, token_for):
    url = f"/api/sequences/{ids['S010_001']}/decision"
    assert client.put(url, headers=token_for("rev1"), json=body(label=4)).status_code == 403
    boss = token_for("boss", "admin")
    decided = client.put(url, headers=boss, json=body(label=4))
    assert decided.status_code == 200 and decided.json()["reviewer"] == "boss"
    detail = client.get(f"/api/sequences/{ids['S010_001']}", headers=boss).json()
    assert detail["effective_label"] == "fear" and detail["label_source"] == "decision"
    assert detail["decision"]["version"] == 1 and detail["status"] == "decided"
    assert client.put(url, headers=boss, json=body(label=5)).status_code == 409


def test_stats_and_unauthenticated_calls(app, client, ids, token_for):
    auth = token_for("bot")
    client.put(f"/api/sequences/{ids['S005_001']}/annotation", headers=auth, json=body())
    stats = client.get("/api/stats", headers=auth).json()
    assert stats["dataset"]["sequences"] == 3
    assert stats["review"]["reviewed"] == 1 and stats["review"]["mine"] == 1
    assert round(stats["review"]["percent"], 1) == 33.3
    with TestClient(app) as anonymous:
        assert anonymous.get("/api/sequences").status_code == 401
        assert anonymous.put(f"/api/sequences/{ids['S005_001']}/annotation",
                             json=body()).status_code == 401


def test_openapi_documents_the_review_api(client, make_user):
    make_user("rev1")
    login(client, "rev1")  # the schema is for signed-in users, like every page
    schema = client.get("/openapi.json").json()
    for path in ("/api/sequences", "/api/sequences/{sequence_id}",
                 "/api/sequences/{sequence_id}/annotation", "/api/stats"):
        assert path in schema["paths"]
    put = schema["paths"]["/api/sequences/{sequence_id}/annotation"]["put"]
    assert {"200", "409", "422"} <= set(put["responses"])
    assert "SequenceDetail" in schema["components"]["schemas"]
