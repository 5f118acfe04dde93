"""Logging in and out, CSRF, API tokens, and that every route demands a user."""

import re

from fastapi.testclient import TestClient

from tests.support.web import PASSWORD, csrf_from, login, route_table


def test_pages_redirect_to_login_and_back(client, make_user):
    make_user("rev1")
    response = client.get("/?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fx%3D1"
    login(client, "rev1")
    page = client.get("/")
    assert page.status_code == 200 and "rev1" in page.text


def test_wrong_password_is_refused(client, make_user):
    make_user("rev1")
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"name": "rev1", "password": "nope nope",
                                           "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_needs_the_csrf_token_and_refuses_open_redirects(client, make_user):
    make_user("rev1")
    client.get("/login")
    refused = client.post("/login", data={"name": "rev1", "password": PASSWORD})
    assert refused.status_code == 403
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"name": "rev1", "password": PASSWORD,
                                           "csrf_token": token, "next": "//evil.example/"},
                           follow_redirects=False)
    assert response.headers["location"] == "/"


def test_logout_needs_csrf(client, make_user):
    make_user("rev1")
    token = login(client, "rev1")
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/").status_code == 200  # still logged in
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_bearer_tokens_authenticate_scripts(app, session_factory, make_user):
    from app.services.users import new_api_token

    user = make_user("bot")
    with session_factory() as session:
        token = new_api_token(session, user=session.merge(user))
        session.commit()
    with TestClient(app) as client:
        assert client.get("/", headers={"Authorization": "Bearer wrong"},
                          follow_redirects=False).status_code == 303
        ok = client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and "bot" in ok.text


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_but_login_requires_a_user(app):
    """Walks the route table, so routes added later are covered too."""
    public = {"/login", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    checked = 0
    with TestClient(app) as client:
        for method, path in route_table(app):
            if path in public:
                continue
            response = client.request(method, _fill(path), follow_redirects=False)
            assert response.status_code in (303, 401), (method, path, response.status_code)
            checked += 1
    assert checked >= 2


def test_a_reviewer_opening_an_admin_page_gets_a_403_page(client, make_user):
    """Regression: the error page used to read the user after the session rolled back (500)."""
    make_user("rev1")
    login(client, "rev1")
    page = client.get("/admin", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "Only admins can do that." in page.text and "rev1" in page.text
