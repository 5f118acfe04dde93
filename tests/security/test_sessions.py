"""Logging in and out as an attacker would try it: forged and replayed cookies, guessed
passwords, and the headers and cookie flags every response carries."""

from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support.web import PASSWORD, csrf_from, login

COOKIE = "onset_session"


def _cookie(client: TestClient) -> str:
    return client.cookies[COOKIE]


def _try_login(client: TestClient, name: str, password: str):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": token}, follow_redirects=False)


def test_login_renews_the_session_and_its_csrf_token(app, client, make_user):
    make_user("rev1")
    anonymous_token = csrf_from(client.get("/login").text)
    anonymous_cookie = _cookie(client)
    signed_in_token = login(client, "rev1")
    assert signed_in_token != anonymous_token and _cookie(client) != anonymous_cookie
    # The cookie from before login (an attacker may have planted it) signs nobody in.
    with TestClient(app, cookies={COOKIE: anonymous_cookie}) as planted:
        assert planted.get("/", follow_redirects=False).status_code == 303
    # Two logins, two different sessions.
    with TestClient(app) as other:
        login(other, "rev1")
        assert _cookie(other) != _cookie(client)


def test_logout_really_ends_the_session(app, client, make_user):
    make_user("rev1")
    token = login(client, "rev1")
    stolen = _cookie(client)  # what a thief copied before the user logged out
    with TestClient(app) as second_device:
        login(second_device, "rev1")
        assert client.post("/logout", data={"csrf_token": token},
                           follow_redirects=False).status_code == 303
        with TestClient(app, cookies={COOKIE: stolen}) as thief:
            assert thief.get("/", follow_redirects=False).status_code == 303
            assert thief.get("/api/stats").status_code == 401
        # Logging out ends every session of the account, on every device.
        assert second_device.get("/", follow_redirects=False).status_code == 303
    login(client, "rev1")  # and a new login works again
    assert client.get("/").status_code == 200


def test_login_csrf_check_is_constant_time(client, make_user, monkeypatch):
    import app.auth as auth

    make_user("rev1")
    calls = []
    real = auth.secrets.compare_digest
    monkeypatch.setattr(auth.secrets, "compare_digest",
                        lambda a, b: calls.append((a, b)) or real(a, b))
    token = csrf_from(client.get("/login").text)
    forged = client.post("/login", data={"name": "rev1", "password": PASSWORD,
                                         "csrf_token": token[:-1] + "x"})
    assert forged.status_code == 403
    assert calls and calls[-1][0] == token[:-1] + "x"
    assert _try_login(client, "rev1", PASSWORD).status_code == 303


def test_failed_logins_are_limited_per_account(settings, make_user):
    make_user("rev1")
    app = create_app(settings.model_copy(update={"login_limit_account": "3 per minute"}))
    with TestClient(app) as attacker:
        for _ in range(3):
            assert _try_login(attacker, "rev1", "guess guess").status_code == 401
        refused = _try_login(attacker, "rev1", PASSWORD)  # even the right password now
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Too many failed logins" in refused.text
        # Case and spaces don't make a new account name.
        assert _try_login(attacker, " REV1 ", "guess guess").status_code == 429
    # The limit is the account's, from any address.
    with TestClient(app, client=("203.0.113.9", 50000)) as elsewhere:
        assert _try_login(elsewhere, "rev1", PASSWORD).status_code == 429


def test_failed_logins_are_limited_per_address(settings, make_user):
    for name in ("rev1", "rev2", "rev3"):
        make_user(name)
    app = create_app(settings.model_copy(update={"login_limit_address": "3 per minute"}))
    with TestClient(app, client=("198.51.100.7", 50000)) as sprayer:
        for name in ("rev1", "rev2", "rev3"):
            assert _try_login(sprayer, name, "guess guess").status_code == 401
        refused = _try_login(sprayer, "admin", "guess guess")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    with TestClient(app, client=("198.51.100.8", 50000)) as neighbour:
        assert _try_login(neighbour, "rev1", PASSWORD).status_code == 303


def test_successful_logins_do_not_count(settings, make_user):
    make_user("rev1")
    app = create_app(settings.model_copy(update={"login_limit_account": "2 per minute"}))
    with TestClient(app) as client:
        for _ in range(4):
            assert _try_login(client, "rev1", PASSWORD).status_code == 303


def test_a_bad_rate_limit_setting_is_named():
    from pydantic import ValidationError

    from app.config import Settings

    with pytest.raises(ValidationError, match="is not a rate limit"):
        Settings(login_limit_account="lots")


def _set_cookie_flags(response) -> set[str]:
    header = response.headers["set-cookie"]
    parsed = SimpleCookie()
    parsed.load(header)
    assert COOKIE in parsed
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]} | {
        f"samesite={parsed[COOKIE]['samesite'].lower()}"}


def test_session_cookie_flags(settings, make_user):
    make_user("rev1")
    with TestClient(create_app(settings)) as plain:
        flags = _set_cookie_flags(plain.get("/login"))
        assert {"httponly", "samesite=lax"} <= flags and "secure" not in flags
        assert "strict-transport-security" not in plain.get("/login").headers
    https = settings.model_copy(update={"secure_cookies": True})
    with TestClient(create_app(https), base_url="https://testserver") as secure:
        response = secure.get("/login")
        assert {"httponly", "samesite=lax", "secure"} <= _set_cookie_flags(response)
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_every_page_carries_the_security_headers(client, make_user):
    make_user("boss", "admin")
    login(client, "boss")
    for path in ("/login", "/", "/sequences", "/admin", "/runs", "/exports", "/predict",
                 "/api/stats", "/static/css/onset.css", "/openapi.json", "/nowhere"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-eval" not in csp and "object-src 'none'" in csp, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
    docs = client.get("/docs")
    policy = docs.headers["content-security-policy"]
    assert docs.status_code == 200 and "'sha256-" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in policy and "unsafe-inline' " not in policy.split("style-src")[0]
