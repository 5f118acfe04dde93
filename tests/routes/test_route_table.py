"""The route table, walked whole (so routes added later are covered): every route but the
login form and static files wants a signed-in user; every mutating route refuses a browser
write without the CSRF token, and refuses a reviewer unless reviewers are meant to do it."""

import re

import pytest
from fastapi.testclient import TestClient

from tests.support.web import login, route_table

PUBLIC = {("GET", "/login"), ("POST", "/login")}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# The writes a reviewer may make. Every other mutating route is for admins only: a new route
# that is neither admin-only nor listed here fails this test until someone decides.
REVIEWER_WRITES = {
    ("POST", "/logout"),
    ("POST", "/sequences/{sequence_id:int}/review"),
    ("PUT", "/api/sequences/{sequence_id}/annotation"),
    ("POST", "/predict"),
    ("POST", "/api/predict"),
}


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _routes(app) -> list[tuple[str, str]]:
    return [(m, p) for m, p in route_table(app) if not p.startswith("/static")]


def _writes(app) -> list[tuple[str, str]]:
    return [(m, p) for m, p in _routes(app) if m in MUTATING and (m, p) not in PUBLIC]


@pytest.fixture
def reviewer(client, make_user):
    make_user("rev1")
    return login(client, "rev1")


def test_every_route_but_login_and_static_needs_a_user(app):
    routes = [r for r in _routes(app) if r not in PUBLIC]
    assert ("GET", "/openapi.json") in routes and ("GET", "/docs") in routes
    with TestClient(app) as anonymous:
        for method, path in routes:
            for accept in ("text/html", "application/json"):
                response = anonymous.request(method, _fill(path), follow_redirects=False,
                                             headers={"Accept": accept})
                assert response.status_code in (303, 401), (method, path, accept,
                                                            response.status_code)
                if response.status_code == 303:
                    assert response.headers["location"].startswith("/login?next=")
        assert anonymous.get("/static/css/onset.css").status_code == 200
        assert anonymous.get("/login").status_code == 200


def test_every_browser_write_needs_the_csrf_token(app, client, reviewer):
    writes = _writes(app)
    assert len(writes) >= 10
    for method, path in writes:
        for kind, extra in (("none", {}), ("wrong", {"headers": {"X-CSRF-Token": "forged"}}),
                            ("wrong form", {"data": {"csrf_token": "forged"}})):
            response = client.request(method, _fill(path), follow_redirects=False, **extra)
            assert response.status_code == 403, (method, path, kind, response.status_code)
            assert "security token" in response.text, (method, path, kind)
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_every_write_not_meant_for_reviewers_refuses_them(app, client, reviewer):
    refused, allowed = 0, 0
    for method, path in _writes(app):
        if (method, path) == ("POST", "/logout"):
            continue
        response = client.request(method, _fill(path), follow_redirects=False,
                                  headers={"X-CSRF-Token": reviewer,
                                           "Accept": "application/json"})
        if (method, path) in REVIEWER_WRITES:
            assert response.status_code not in (401, 403), (method, path, response.text)
            allowed += 1
        else:
            assert response.status_code == 403, (method, path, response.status_code)
            assert "Only admins" in response.text, (method, path, response.text)
            refused += 1
    assert allowed == len(REVIEWER_WRITES) - 1 and refused >= 6


def test_a_reviewer_token_gets_the_same_refusals(app, make_user, session_factory):
    """Bearer requests skip CSRF (they carry no cookies) but never the role check."""
    from app.services.users import new_api_token

    user = make_user("bot")
    with session_factory() as session:
        token = new_api_token(session, user=session.merge(user))
        session.commit()
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as bot:
        for method, path in _writes(app):
            if (method, path) in REVIEWER_WRITES:
                continue
            response = bot.request(method, _fill(path), follow_redirects=False)
            assert response.status_code == 403, (method, path, response.status_code)


def test_an_admin_passes_the_role_and_csrf_checks(app, client, make_user):
    make_user("boss", "admin")
    token = login(client, "boss")
    for method, path in _writes(app):
        if (method, path) == ("POST", "/logout"):
            continue
        response = client.request(method, _fill(path), follow_redirects=False,
                                  headers={"X-CSRF-Token": token, "Accept": "application/json"})
        assert response.status_code not in (401, 403), (method, path, response.text[:300])
